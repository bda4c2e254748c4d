"""Lion student fine-tuning on a tiny random Llama with a byte-level tokenizer (no pad token):
the Lion template with response-only labels, counted bad rows, the saved student and its record.
The shared loop itself (kernel loss, LoRA, accumulation, pad token) is tested in test_sft.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from alignkit.lion.prompts import instruction_prompt  # noqa: E402
from alignkit.lion.train import (  # noqa: E402
    RECORD_FILE,
    StudentTrainOptions,
    encode_rows,
    train_student,
)
from alignkit.sft import IGNORE_INDEX, SFTOptions  # noqa: E402

from tiny_models import byte_tokenizer, save_tiny_llama  # noqa: E402

ROWS = [
    {"instruction": "Name a primary colour.", "input": "", "response": "Red."},
    {"instruction": "Add the numbers.", "input": "2 and 3", "response": "2 + 3 = 5."},
    {"instruction": "Say hello in French.", "response": "Bonjour."},
    {"instruction": "What do bees make?", "input": "", "response": "Bees make honey."},
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-student"), max_positions=256)


ONE_STEP = StudentTrainOptions(
    max_steps=1, learning_rate=3e-3, warmup_ratio=0, batch_size=4, micro_batch_size=2, device="cpu"
)


def test_labels_cover_only_response_and_eos() -> None:
    tok = byte_tokenizer()
    examples, counts = encode_rows(ROWS, tok, max_length=512)
    assert counts["rows"] == 4 and len(examples) == 4 and counts["truncated"] == 0
    for row, example in zip(ROWS, examples, strict=True):
        prompt = instruction_prompt(row["instruction"], row.get("input", ""))
        n_prompt = len(tok(prompt)["input_ids"])
        assert example.labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
        response = example.labels[n_prompt:]
        assert IGNORE_INDEX not in response
        assert response == example.input_ids[n_prompt:]
        assert response[-1] == tok.eos_token_id
        assert tok.decode(response[:-1]) == row["response"]
        assert tok.decode(example.input_ids[:n_prompt]) == prompt
    assert "### Input:\n2 and 3\n\n" in tok.decode(examples[1].input_ids)


def test_truncation_and_bad_rows_counted() -> None:
    tok = byte_tokenizer()
    short_prompt = len(tok(instruction_prompt("Hi."))["input_ids"])
    rows = [
        {"instruction": "Hi.", "response": "A long answer " * 5},  # truncated
        {"instruction": "Hi.", "response": "   "},  # empty response
        {"instruction": "Hi.", "input": None, "response": "Yes."},  # None input = no input
        {"instruction": "", "response": "Yes."},
        {"response": "Yes."},
        {"instruction": "Hi.", "input": 3, "response": "Yes."},
        {"instruction": "x" * 200, "response": "Yes."},  # the prompt alone is too long
        "not a row",
    ]
    examples, counts = encode_rows(rows, tok, max_length=short_prompt + 10)
    assert len(examples) == 2
    assert [e.truncated for e in examples] == [True, False]
    assert len(examples[0].input_ids) == short_prompt + 10
    assert examples[0].labels[-1] != tok.eos_token_id  # cut before the end
    assert dict(counts) == {
        "rows": 8,
        "truncated": 1,
        "empty_response": 1,
        "no_instruction": 2,
        "bad_input": 1,
        "prompt_too_long": 1,
        "not_an_object": 1,
    }


def test_options_keep_the_paper_defaults() -> None:
    options = StudentTrainOptions()
    assert isinstance(options, SFTOptions) and options.gradient_accumulation_steps == 64
    assert (options.epochs, options.learning_rate, options.max_length) == (3.0, 2e-5, 1024)
    with pytest.raises(ValueError, match="multiple of micro_batch_size"):
        StudentTrainOptions(batch_size=10, micro_batch_size=4)


def test_all_rows_bad_is_a_clear_error(tiny_model: Path, tmp_path: Path) -> None:
    rows = [{"instruction": "Hi.", "response": ""}, {"instruction": "", "response": "x"}]
    with pytest.raises(ValueError, match="no usable training rows.*empty_response"):
        train_student(rows, tiny_model, tmp_path / "out", ONE_STEP)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # loads the student through the LLM layer and samples
def test_student_loads_in_the_llm_layer(tiny_model: Path, tmp_path: Path) -> None:
    from alignkit.llm import ChatRequest, make_backend

    out = tmp_path / "student"
    stats = train_student(ROWS + ["not a row"], tiny_model, out, ONE_STEP)
    assert stats["steps"] == 1 and stats["rows"] == 5
    assert stats["skipped"] == {"not_an_object": 1} and stats["pad_token"] == "added"
    record = json.loads((out / RECORD_FILE).read_text())
    assert record["template"] == "lion-plain" and record["stats"]["examples"] == 4
    backend = make_backend(f"transformers:{out}", device="cpu", prompt_format="plain")
    [result] = backend.generate(
        [ChatRequest.from_prompt(instruction_prompt("Name a colour."), max_tokens=4)]
    )
    assert result.ok, result.error
