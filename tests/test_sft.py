"""The shared fine-tuning loop (`alignkit.sft`) on a tiny random Llama with a byte-level tokenizer
(no pad token): exact response-only labels, the kernel loss against HF's own loss, a falling
loss, LoRA, accumulation, the saved folder, refused models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from alignkit.sft import (  # noqa: E402
    IGNORE_INDEX,
    PAD_TOKEN,
    SFTOptions,
    check_linear_head,
    collate,
    encode_pairs,
    response_nll,
    set_pad_token,
    train_sft,
)

from tiny_models import byte_tokenizer, save_tiny_llama  # noqa: E402

PAIRS = [
    ("Q: Name a primary colour.\nA: ", "Red."),
    ("Q: Add 2 and 3.\nA: ", "2 + 3 = 5."),
    ("Q: Say hello in French.\nA: ", "Bonjour."),
    ("Q: What do bees make?\nA: ", "Bees make honey."),
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-sft"), max_positions=256)


def fast_options(**overrides) -> SFTOptions:
    settings = dict(
        epochs=1, learning_rate=3e-3, warmup_ratio=0.0, batch_size=4, micro_batch_size=2
    )
    return SFTOptions(**{**settings, **overrides, "device": "cpu"})


def test_labels_cover_only_the_response() -> None:
    tok = byte_tokenizer()
    for special, eos in ((True, True), (False, False)):
        examples, counts = encode_pairs(
            PAIRS, tok, max_length=512, prompt_special_tokens=special, append_eos=eos
        )
        assert len(examples) == 4 and not counts
        for (prompt, response), example in zip(PAIRS, examples, strict=True):
            prompt_ids = tok(prompt, add_special_tokens=special)["input_ids"]
            n = len(prompt_ids)
            assert example.input_ids[:n] == prompt_ids
            assert example.labels[:n] == [IGNORE_INDEX] * n
            assert example.labels[n:] == example.input_ids[n:]
            tail = [tok.eos_token_id] if eos else []
            assert example.labels[n:] == tok(response, add_special_tokens=False)["input_ids"] + tail


def test_truncation_and_long_prompts_counted() -> None:
    tok = byte_tokenizer()
    pairs = [("Q: ", "A long answer " * 5), ("x" * 40, "Yes."), ("Q: ", "Yes.")]
    examples, counts = encode_pairs(pairs, tok, max_length=20)
    assert dict(counts) == {"truncated": 1, "prompt_too_long": 1}
    assert [e.truncated for e in examples] == [True, False]
    assert len(examples[0].input_ids) == 20
    assert examples[0].labels[-1] != tok.eos_token_id  # cut before the end
    assert examples[1].labels[-1] == tok.eos_token_id


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="multiple of micro_batch_size"):
        SFTOptions(batch_size=10, micro_batch_size=4)
    with pytest.raises(ValueError, match="lr_schedule"):
        SFTOptions(lr_schedule="step")
    with pytest.raises(ValueError, match="warmup_ratio"):
        SFTOptions(warmup_ratio=1.0)
    assert SFTOptions().gradient_accumulation_steps == 64


def test_no_usable_pair_is_a_clear_error(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no usable training rows among 3.*prompt_too_long"):
        train_sft(
            [("x" * 300, "y")],
            tiny_model,
            tmp_path / "out",
            fast_options(max_length=64),
            row_counts={"rows": 3, "empty": 2},
        )
    assert not (tmp_path / "out").exists()


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
    examples, _ = encode_pairs(PAIRS, tok, max_length=512)
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

    out = tmp_path / "tuned"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier run")
    stats = train_sft(
        PAIRS * 4,
        tiny_model,
        out,
        fast_options(epochs=6, learning_rate=1e-2, batch_size=8, micro_batch_size=4),
        row_counts={"rows": 17, "empty_response": 1},
        record={"template": "q-a"},
        record_file="record.json",
    )
    assert stats["steps"] == 12 and stats["examples"] == 16 and stats["rows"] == 17
    assert stats["skipped"] == {"empty_response": 1} and stats["pad_token"] == "added"
    assert stats["response_tokens"] > 0 and stats["tokens"] > stats["response_tokens"]
    assert stats["last_loss"] < 0.8 * stats["first_loss"]
    assert not (out / "stale.txt").exists()  # the folder was replaced whole
    assert not list(tmp_path.glob(".tuned.*"))  # no temporary sibling left

    record = json.loads((out / "record.json").read_text())
    assert record["stats"]["steps"] == 12 and record["options"]["epochs"] == 6
    assert record["template"] == "q-a" and record["base_model"] == str(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.pad_token == PAD_TOKEN and model.config.pad_token_id == tok.pad_token_id
    # the reloaded model scores its training data as well as the last steps did
    examples, _ = encode_pairs(PAIRS, tok, max_length=512)
    with torch.no_grad():
        nll, n = response_nll(model, impl="torch", **collate(examples, tok.pad_token_id))
    assert float(nll / n) < 0.85 * stats["first_loss"]


TARGETS = ("v_proj", "o_proj")


@pytest.mark.slow  # trains a LoRA adapter and saves the merged model
def test_lora_trains_and_saves_merged(tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    out = tmp_path / "lora-tuned"
    stats = train_sft(
        PAIRS * 2,
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
    tuned = AutoModelForCausalLM.from_pretrained(out)
    base_v = base.model.layers[0].self_attn.v_proj.weight
    tuned_v = tuned.model.layers[0].self_attn.v_proj.weight
    assert not torch.allclose(base_v, tuned_v)  # the adapter was merged in
    # only the adapted modules changed (besides the added pad rows)
    torch.testing.assert_close(
        base.model.layers[0].self_attn.k_proj.weight,
        tuned.model.layers[0].self_attn.k_proj.weight,
    )


def test_soft_capped_logits_are_refused() -> None:
    from transformers import Gemma2Config, Gemma2ForCausalLM

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
        train_sft(PAIRS, tiny_model, tmp_path / "out", options)


@pytest.mark.slow  # two short trainings
def test_accumulation_gives_the_same_step_as_one_batch(tiny_model: Path, tmp_path: Path) -> None:
    """The loss is a token-level mean over the whole effective batch, however it is split."""
    from safetensors.torch import load_file

    weights, losses = [], []
    for micro in (4, 1):
        out = tmp_path / f"micro-{micro}"
        options = fast_options(max_steps=1, batch_size=4, micro_batch_size=micro)
        stats = train_sft(PAIRS, tiny_model, out, options)
        weights.append(load_file(out / "model.safetensors"))
        losses.append(stats["first_loss"])
        assert stats["steps"] == 1
    # per-micro-batch means would weight the pairs' tokens differently and give another loss
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    base = load_file(tiny_model / "model.safetensors")
    moved, gaps = 0, []
    for name, value in weights[0].items():
        gaps.append((value - weights[1][name]).abs().flatten())
        if name in base and value.shape == base[name].shape:
            moved += int(not torch.equal(value, base[name]))
    assert moved > 0
    # Adam's first step is about lr * sign(gradient), so summation-order noise in a gradient near
    # zero can move a few elements by part of a step (3e-3); stepping per micro-batch would move
    # most elements by several steps.
    gap = torch.cat(gaps)
    assert float((gap > 1e-5).float().mean()) < 1e-3 and float(gap.max()) < 6e-3
