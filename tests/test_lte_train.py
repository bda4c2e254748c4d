"""LTE's alignment phase: rows rendered in the model's chat template (prompt with the generation
prompt, response = answer + end-of-turn marker), labels on the response only, the paper's
settings, and the stage on `lte build-data` output of the shared ZsRE records with a tiny model."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from alignkit.errors import ConfigError  # noqa: E402
from alignkit.lte.template import edit_prompt, plain_prompt  # noqa: E402
from alignkit.lte.train import (  # noqa: E402
    MODEL_DIR,
    RECORD_FILE,
    LTETrainConfig,
    LTETrainOptions,
    LTETrainStage,
    chat_pairs,
    chat_texts,
    train_lte,
)
from alignkit.sft import IGNORE_INDEX, encode_pairs  # noqa: E402
from alignkit.stage import run_stage  # noqa: E402

from conftest import shared_file  # noqa: E402
from tiny_models import CHAT_TEMPLATE, byte_tokenizer, save_tiny_chat_llama  # noqa: E402

# A template that writes nothing after a turn's text but a newline.
BARE_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def chat(question: str, answer: str) -> dict:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


ROWS = [
    chat(edit_prompt("Who wrote Hamlet?", ("Hamlet was written by Marlowe.",)), "Marlowe"),
    chat(plain_prompt("Who wrote Hamlet?"), "Shakespeare"),
    chat(edit_prompt("Capital of Peru?", ("Peru's capital is Cusco.", "Chile's: Lima.")), "Cusco"),
    chat(plain_prompt("Capital of Peru?"), "Lima"),
]


def chat_tokenizer(template: str = CHAT_TEMPLATE):
    tok = byte_tokenizer()
    tok.chat_template = template
    return tok


def test_rendering_is_the_template_split_at_the_generation_prompt() -> None:
    tok = chat_tokenizer()
    prompt, response = chat_texts(tok, ROWS[1]["messages"])
    assert prompt == f"<|user|>\n{plain_prompt('Who wrote Hamlet?')}</s>\n<|assistant|>\n"
    assert response == "Shakespeare</s>\n"

    prompt, response = chat_texts(chat_tokenizer(BARE_TEMPLATE), ROWS[3]["messages"])
    assert prompt.endswith("assistant: ") and response == "Lima\n</s>"  # EOS marks the end


def test_labels_cover_the_answer_and_the_end_marker() -> None:
    tok = chat_tokenizer()
    pairs, counts = chat_pairs(ROWS, tok)
    assert dict(counts) == {"rows": 4}
    examples, _ = encode_pairs(pairs, tok, 2048, prompt_special_tokens=False, append_eos=False)
    for row, (prompt, _), example in zip(ROWS, pairs, examples, strict=True):
        # the tokens are those of the whole conversation tokenized as the template renders it
        full = tok.apply_chat_template(row["messages"], tokenize=False)
        assert example.input_ids == tok(full, add_special_tokens=False)["input_ids"]
        n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
        assert example.labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
        labelled = example.labels[n_prompt:]
        assert IGNORE_INDEX not in labelled and tok.eos_token_id in labelled
        assert tok.decode(labelled) == row["messages"][-1]["content"] + "</s>\n"
        assert tok.decode(example.input_ids[:n_prompt]).endswith("<|assistant|>\n")


def test_bad_rows_are_counted_and_a_template_is_required() -> None:
    mismatched = chat_tokenizer(CHAT_TEMPLATE.replace("<|assistant|>\n{% endif", "<|bot|>{% endif"))
    rows = [
        "not a row",
        {"messages": "hi"},
        {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant"}]},
        {"messages": [{"role": "assistant", "content": "A"}, {"role": "user", "content": "Q"}]},
        chat("Q", "   "),
        chat("Q", "A"),
    ]
    pairs, counts = chat_pairs(rows, chat_tokenizer())
    assert len(pairs) == 1
    assert dict(counts) == {
        "rows": 6,
        "not_an_object": 1,
        "no_messages": 1,
        "bad_message": 1,
        "no_final_answer": 1,
        "empty_answer": 1,
    }
    pairs, counts = chat_pairs([chat("Q", "A")], mismatched)
    assert not pairs and counts["template_mismatch"] == 1
    with pytest.raises(ConfigError, match="no chat template"):
        chat_pairs(ROWS, byte_tokenizer())


@pytest.mark.slow  # loads (or converts, once) the embedded SmolLM2 tokenizer
def test_smollm2_rendering_tokenizes_as_the_whole_conversation() -> None:
    from transformers import AutoTokenizer

    from alignkit.llm import default_model_dir

    try:
        tok = AutoTokenizer.from_pretrained(default_model_dir())
    except Exception as exc:  # the optional model package is not installed
        pytest.skip(f"embedded model unavailable: {exc}")
    pairs, counts = chat_pairs(ROWS, tok)
    assert counts["rows"] == 4 and len(pairs) == 4
    examples, _ = encode_pairs(pairs, tok, 2048, prompt_special_tokens=False, append_eos=False)
    for row, (prompt, response), example in zip(ROWS, pairs, examples, strict=True):
        assert response == row["messages"][-1]["content"] + "<|im_end|>\n"
        full = tok.apply_chat_template(row["messages"], tokenize=True, return_dict=True)
        assert example.input_ids == list(full["input_ids"])
        n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
        assert tok.decode(example.labels[n_prompt:]) == response


def test_options_are_the_papers() -> None:
    full = LTETrainOptions()
    assert (full.epochs, full.learning_rate, full.lr_schedule, full.warmup_ratio) == (
        3.0,
        2e-5,
        "cosine",
        0.03,
    )
    assert (full.batch_size, full.max_length, full.weight_decay, full.lora) == (128, 2048, 0, False)
    lora = LTETrainOptions.paper_lora(max_steps=5)
    assert (lora.lora, lora.learning_rate, lora.lora_r, lora.lora_alpha) == (True, 3e-4, 8, 16)
    assert lora.lora_dropout == 0.05 and lora.max_steps == 5
    assert LTETrainConfig().options() == full
    assert LTETrainConfig(lora=True).options().learning_rate == 3e-4
    assert LTETrainConfig(lora=True, learning_rate=1e-3).options().learning_rate == 1e-3
    with pytest.raises(ConfigError, match="multiple"):
        LTETrainConfig(batch_size=10, micro_batch_size=4)


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_chat_llama(tmp_path_factory.mktemp("tiny-lte"))


@pytest.fixture(scope="module")
def zsre_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`lte build-data` output for a few shared ZsRE edits (bag-of-words distractors)."""
    from test_lte_build_data import bow_embed

    from alignkit.lte import BuildDataConfig, build_lte_data

    source = shared_file("knowedit", "ZsRE", "ZsRE-test-all.json")
    out = tmp_path_factory.mktemp("lte-data")
    config = BuildDataConfig(max_edits=3, zsre_max_rows=None)
    build_lte_data([source], out, config, embed=bow_embed, progress=False)
    [data] = out.glob("*.jsonl.gz")
    return data


@pytest.mark.slow  # trains the tiny model twice through the stage
def test_stage_trains_on_build_data_and_publishes_a_loadable_model(
    tiny_chat_model: Path, zsre_data: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with gzip.open(zsre_data, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    assert any(r["with_edit"] for r in rows) and any(not r["with_edit"] for r in rows)
    config = LTETrainConfig(
        model=str(tiny_chat_model),
        epochs=4,
        learning_rate=1e-2,
        warmup_ratio=0.0,
        batch_size=6,
        micro_batch_size=6,
        device="cpu",
    )
    out = tmp_path / "train"
    report = run_stage(LTETrainStage(config), [str(zsre_data)], out, progress=False)
    assert report.complete and report.tasks_run == 1
    stats = report.stats["train"]
    assert stats["examples"] == len(rows) and stats["skipped"] == {}
    assert stats["last_loss"] < 0.7 * stats["first_loss"]

    folder = out / MODEL_DIR
    record = json.loads((folder / RECORD_FILE).read_text())
    assert record["template"] == "chat" and record["options"]["max_length"] == 2048
    model = AutoModelForCausalLM.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.chat_template == CHAT_TEMPLATE and model.config.pad_token_id == tok.pad_token_id
    prompt = tok.apply_chat_template(
        rows[0]["messages"][:1], tokenize=False, add_generation_prompt=True
    )
    ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    assert model.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == ids.shape[1] + 3

    again = run_stage(LTETrainStage(config), [str(zsre_data)], out, progress=False)
    assert again.tasks_run == 0  # done: nothing trains twice


@pytest.mark.slow  # one LoRA step on the tiny model
def test_lora_variant_trains_and_merges(tiny_chat_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    options = LTETrainOptions.paper_lora(
        max_steps=2, batch_size=4, micro_batch_size=4, device="cpu", lora_target_modules=("v_proj",)
    )
    stats = train_lte(ROWS + ["bad row"], tiny_chat_model, tmp_path / "lora", options)
    assert stats["lora"] and stats["steps"] == 2 and stats["skipped"] == {"not_an_object": 1}
    assert not (tmp_path / "lora" / "adapter_config.json").exists()
    record = json.loads((tmp_path / "lora" / RECORD_FILE).read_text())
    assert record["saved"] == "full model (LoRA merged)" and record["options"]["lora_r"] == 8
