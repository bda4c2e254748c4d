"""Lion student fine-tuning on a tiny random Llama with a byte-level tokenizer (no pad token):
exact response-only labels, the kernel loss against HF's own loss, a falling loss, LoRA, the
saved folder, counted bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from alignkit.lion.prompts import instruction_prompt  # noqa: E402
from alignkit.lion.train import (  # noqa: E402
    IGNORE_INDEX,
    PAD_TOKEN,
    RECORD_FILE,
    StudentTrainOptions,
    collate,
    encode_rows,
    response_nll,
    set_pad_token,
    train_student,
)

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


def fast_options(**overrides) -> StudentTrainOptions:
    settings = dict(
        epochs=1, learning_rate=3e-3, warmup_ratio=0.0, batch_size=4, micro_batch_size=2
    )
    return StudentTrainOptions(**{**settings, **overrides, "device": "cpu"})


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


def test_all_rows_bad_is_a_clear_error(tiny_model: Path, tmp_path: Path) -> None:
    rows = [{"instruction": "Hi.", "response": ""}, {"instruction": "", "response": "x"}]
    with pytest.raises(ValueError, match="no usable training rows.*empty_response"):
        train_student(rows, tiny_model, tmp_path / "out", fast_options())
    assert not (tmp_path / "out").exists()


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="multiple of micro_batch_size"):
        StudentTrainOptions(batch_size=10, micro_batch_size=4)
    with pytest.raises(ValueError, match="lr_schedule"):
        StudentTrainOptions(lr_schedule="step")
    assert StudentTrainOptions().gradient_accumulation_steps == 64


def test_pad_token_added_with_mean_embeddings(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    before_in = model.get_input_embeddings().weight.detach().clone()
    before_out = model.get_output_embeddings().weight.detach().clone()
    assert tok.pad_token is None
    assert set_pad_token(tok, model, add=True) == "added"
    assert tok.pad_token == PAD_TOKEN and tok.pad_token_id == before_in.shape[0]
    after_in = model.get_input_embeddings().weight
    after_out = model.get_output_embeddings().weight
    assert after_in.shape[0] == before_in.shape[0] + 1
    torch.testing.assert_close(after_in[-1], before_in.mean(dim=0))
    torch.testing.assert_close(after_out[-1], before_out.mean(dim=0))
    torch.testing.assert_close(after_in[:-1], before_in)
    assert model.config.pad_token_id == tok.pad_token_id

    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert set_pad_token(tok, model, add=False) == "eos"
    assert tok.pad_token_id == tok.eos_token_id


def test_pad_token_uses_a_spare_embedding_row(tiny_model: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_model)
    config = AutoConfig.from_pretrained(tiny_model)
    config.vocab_size = len(tok) + 6  # padded vocabularies leave rows no token uses
    model = LlamaForCausalLM(config)
    assert set_pad_token(tok, model, add=True) == "added"
    weight = model.get_input_embeddings().weight
    assert weight.shape[0] == len(tok) + 5  # nothing resized (the pad took a spare row)
    torch.testing.assert_close(weight[tok.pad_token_id], weight[: tok.pad_token_id].mean(dim=0))


def test_kernel_loss_equals_hf_causal_lm_loss(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    set_pad_token(tok, model, add=True)
    examples, _ = encode_rows(ROWS, tok, max_length=512)
    batch = collate(examples, tok.pad_token_id)
    assert bool((batch["attention_mask"] == 0).any())  # padding is exercised
    nll, n_tokens = response_nll(model, impl="torch", **batch)
    expected = model(**batch).loss
    assert n_tokens == int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    torch.testing.assert_close(nll / n_tokens, expected, rtol=1e-5, atol=1e-5)
    # and the gradients agree too
    (nll / n_tokens).backward()
    ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model(**batch).loss.backward()
    for mine, theirs in zip(ours, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.slow  # trains for a few seconds and saves a model
def test_loss_falls_and_saved_folder_reloads(tiny_model: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "student"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier run")
    stats = train_student(
        ROWS * 4 + [{"instruction": "Skip me.", "response": ""}],
        tiny_model,
        out,
        fast_options(epochs=6, learning_rate=1e-2, batch_size=8, micro_batch_size=4),
    )
    assert stats["steps"] == 12 and stats["examples"] == 16
    assert stats["skipped"] == {"empty_response": 1} and stats["pad_token"] == "added"
    assert stats["response_tokens"] > 0 and stats["tokens"] > stats["response_tokens"]
    assert stats["last_loss"] < 0.8 * stats["first_loss"]
    assert not (out / "stale.txt").exists()  # the folder was replaced whole
    assert not list(tmp_path.glob(".student.*"))  # no temporary sibling left

    record = json.loads((out / RECORD_FILE).read_text())
    assert record["stats"]["steps"] == 12 and record["options"]["epochs"] == 6
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.pad_token == PAD_TOKEN and model.config.pad_token_id == tok.pad_token_id
    # the reloaded student scores its training data as well as the last steps did
    examples, _ = encode_rows(ROWS, tok, max_length=512)
    with torch.no_grad():
        nll, n = response_nll(model, impl="torch", **collate(examples, tok.pad_token_id))
    assert float(nll / n) < 0.85 * stats["first_loss"]


TARGETS = ("v_proj", "o_proj")


@pytest.mark.slow  # trains a LoRA adapter and saves the merged model
def test_lora_trains_and_saves_merged(tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    out = tmp_path / "lora-student"
    stats = train_student(
        ROWS * 2,
        tiny_model,
        out,
        fast_options(
            epochs=8,
            learning_rate=5e-2,
            lora=True,
            lora_r=8,
            lora_target_modules=TARGETS,
            gradient_checkpointing=True,
        ),
    )
    # a random model with its embeddings and head frozen learns little, but it does learn
    history = stats["loss_history"]
    assert stats["lora"] and sum(history[-4:]) < sum(history[:4]) - 0.2
    assert not (out / "adapter_config.json").exists()
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    student = AutoModelForCausalLM.from_pretrained(out)
    base_v = base.model.layers[0].self_attn.v_proj.weight
    student_v = student.model.layers[0].self_attn.v_proj.weight
    assert not torch.allclose(base_v, student_v)  # the adapter was merged in
    # only the adapted modules changed (besides the added pad rows)
    torch.testing.assert_close(
        base.model.layers[0].self_attn.k_proj.weight,
        student.model.layers[0].self_attn.k_proj.weight,
    )


@pytest.mark.slow  # loads the student through the LLM layer and samples
def test_student_loads_in_the_llm_layer(tiny_model: Path, tmp_path: Path) -> None:
    from alignkit.llm import ChatRequest, make_backend

    out = tmp_path / "student"
    assert train_student(ROWS, tiny_model, out, fast_options(max_steps=1))["steps"] == 1
    backend = make_backend(f"transformers:{out}", device="cpu", prompt_format="plain")
    [result] = backend.generate(
        [ChatRequest.from_prompt(instruction_prompt("Name a colour."), max_tokens=4)]
    )
    assert result.ok, result.error


def test_soft_capped_logits_are_refused() -> None:
    from transformers import Gemma2Config, Gemma2ForCausalLM

    from alignkit.lion.train import check_linear_head

    config = Gemma2Config(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        final_logit_softcapping=0.5,
    )
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(config)
    ids = torch.tensor([[1, 5, 9, 12, 30]])
    with pytest.raises(ValueError, match="soft-capping"):
        check_linear_head(model, ids)
    config.final_logit_softcapping = None
    check_linear_head(Gemma2ForCausalLM(config), ids)


@pytest.mark.slow  # loads the tiny model
def test_lora_on_the_head_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    options = fast_options(max_steps=1, lora=True, lora_target_modules=("lm_head",))
    with pytest.raises(ValueError, match="LM head"):
        train_student(ROWS, tiny_model, tmp_path / "out", options)


@pytest.mark.slow  # two short trainings
def test_accumulation_gives_the_same_step_as_one_batch(tiny_model: Path, tmp_path: Path) -> None:
    """The loss is a token-level mean over the whole effective batch, however it is split."""
    from safetensors.torch import load_file

    weights = []
    for micro in (4, 1):
        out = tmp_path / f"micro-{micro}"
        options = fast_options(max_steps=1, batch_size=4, micro_batch_size=micro)
        stats = train_student(ROWS, tiny_model, out, options)
        weights.append(load_file(out / "model.safetensors"))
        assert stats["steps"] == 1
    base = load_file(tiny_model / "model.safetensors")
    moved = 0
    for name, value in weights[0].items():
        torch.testing.assert_close(value, weights[1][name], rtol=1e-5, atol=1e-6)
        if name in base and value.shape == base[name].shape:
            moved += int(not torch.equal(value, base[name]))
    assert moved > 0
