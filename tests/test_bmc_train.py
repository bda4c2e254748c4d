"""BMCTrainer on a tiny random Llama with GPT-2's tokenizer: its loss equals BMC computed from
full logits, and a few steps on bridged pairs (CLI, config file) raise the reward margin."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from alignkit.bmc import bridge  # noqa: E402
from alignkit.cli.main import main  # noqa: E402
from alignkit.llm.testing import FakeChatServer, last_user_content  # noqa: E402

from conftest import gpt2_bpe_tokenizer  # noqa: E402

pytestmark = pytest.mark.slow  # real models, training or whole scripts

PAIRS = [
    ("What is the capital of France?", "Paris is the capital.", "Berlin is the capital."),
    ("How many legs does a spider have?", "A spider has eight legs.", "A spider has six legs."),
    ("What colour is the sky on a clear day?", "It is blue.", "It is green."),
    ("Which planet is closest to the sun?", "Mercury is closest.", "Venus is closest."),
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=gpt2_bpe_tokenizer(),
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _trainer(model_dir: Path, out: Path, **overrides: Any):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignkit.bmc.trainer import BMCConfig, BMCTrainer

    tok = AutoTokenizer.from_pretrained(model_dir)
    policy = AutoModelForCausalLM.from_pretrained(model_dir)
    ref = copy.deepcopy(policy)
    with torch.no_grad():  # a reference that differs from the policy
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    rows = [{"prompt": p, "chosen": " " + c, "rejected": " " + r} for p, c, r in PAIRS]
    args = BMCConfig(
        output_dir=str(out),
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        max_length=64,
        per_device_train_batch_size=4,
        **overrides,
    )
    trainer = BMCTrainer(
        model=policy,
        ref_model=ref,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
    )
    return trainer, tok, policy, ref


def authors_stop_ids(tok) -> set[int]:
    """NLTK's words and their capitalised forms that `tok.tokenize` keeps as one token."""
    from alignkit.bmc import NLTK_STOP_WORDS

    words = list(NLTK_STOP_WORDS) + [w.capitalize() for w in NLTK_STOP_WORDS if len(w) > 1]
    return {
        tok.convert_tokens_to_ids(tok.tokenize(w))[0] for w in words if len(tok.tokenize(w)) == 1
    }


def difflib_varied_mask(batch, tok) -> torch.Tensor:
    """The varied tokens of each pair computed here from difflib's opcodes on the batch's
    response tokens, independently of the trainer's masks."""
    import difflib

    stop = authors_stop_ids(tok)
    completion = batch["completion_mask"].bool()
    mask = torch.zeros_like(completion)
    n = completion.shape[0] // 2
    for i in range(n):
        where_c = completion[i].nonzero().flatten().tolist()
        where_r = completion[n + i].nonzero().flatten().tolist()
        chosen = batch["input_ids"][i, where_c].tolist()
        rejected = batch["input_ids"][n + i, where_r].tolist()
        opcodes = difflib.SequenceMatcher(None, rejected, chosen).get_opcodes()
        for tag, i1, i2, j1, j2 in opcodes:
            if tag in ("replace", "delete"):
                for k in range(i1, i2):
                    mask[n + i, where_r[k]] = rejected[k] not in stop
            if tag in ("replace", "insert"):
                for k in range(j1, j2):
                    mask[i, where_c[k]] = chosen[k] not in stop
    return mask


def _full_logits_bmc(policy, ref, batch, varied_mask, beta: float, delta: float, weighting: str):
    """BMC the naive way: full logits, log_softmax, gather; `varied_mask` given by the caller."""
    targets = batch["input_ids"][:, 1:]
    keep = batch["completion_mask"][:, 1:].bool()
    varied = varied_mask[:, 1:] & keep

    def token_logps(model):
        # The class's own forward: the trainer's patches and accelerate's wrappers stay out.
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        logits = type(model).forward(model, **inputs).logits[:, :-1]
        logps = torch.log_softmax(logits.float(), -1).gather(-1, targets.unsqueeze(-1))
        return logps.squeeze(-1) * keep

    def weights(logps):
        return 1 + varied * torch.exp(-logps.detach()).clamp(max=delta)

    pol = token_logps(policy)
    with torch.no_grad():
        ref_lp = token_logps(ref)
    pol_scores = (weights(pol) * pol).sum(-1)
    ref_scores = (weights(ref_lp if weighting == "reference" else pol) * ref_lp).sum(-1)
    n = pol_scores.shape[0] // 2
    margin = (pol_scores[:n] - ref_scores[:n]) - (pol_scores[n:] - ref_scores[n:])
    return -torch.nn.functional.logsigmoid(beta * margin).mean()


@pytest.mark.parametrize("ref_weighting", ["reference", "policy"])
def test_loss_equals_bmc_from_full_logits(
    tiny_model: Path, tmp_path: Path, ref_weighting: str
) -> None:
    trainer, tok, policy, ref = _trainer(
        tiny_model, tmp_path, beta=0.5, bmc_delta=3.0, ref_weighting=ref_weighting
    )
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(PAIRS))])
    # The varied tokens are exactly the words that differ (stop words and shared words not).
    first_chosen = batch["input_ids"][0][batch["varied_mask"][0]]
    first_rejected = batch["input_ids"][len(PAIRS)][batch["varied_mask"][len(PAIRS)]]
    assert tok.decode(first_chosen).strip() == "Paris"
    assert tok.decode(first_rejected).strip() == "Berlin"
    assert not (batch["varied_mask"] & (batch["completion_mask"] == 0)).any()

    independent = difflib_varied_mask(batch, tok)
    assert torch.equal(batch["varied_mask"], independent)
    loss = trainer.compute_loss(policy, batch)
    expected = _full_logits_bmc(policy, ref, batch, independent, 0.5, 3.0, ref_weighting)
    assert torch.allclose(loss, expected, atol=1e-5, rtol=1e-5), (loss, expected)
    loss.backward()
    assert policy.lm_head.weight.grad is not None
    assert policy.lm_head.weight.grad.abs().sum() > 0
    if ref_weighting == "reference":  # evaluation reports the loss and reward metrics
        from datasets import Dataset

        rows = [{"prompt": p, "chosen": " " + c, "rejected": " " + r} for p, c, r in PAIRS]
        metrics = trainer.evaluate(eval_dataset=Dataset.from_list(rows))
        assert metrics["eval_loss"] == pytest.approx(expected.item(), rel=1e-4)
        assert "eval_rewards/margins" in metrics and "eval_bmc/varied_fraction" in metrics


def test_reference_and_policy_weighting_differ_when_unclamped(
    tiny_model: Path, tmp_path: Path
) -> None:
    """A cap far above 1/p (the random model gives p ~ 1/50k) leaves every weight unclamped,
    so weighting the reference scores by the reference's or the policy's confidence differs."""
    losses = {}
    for weighting in ("reference", "policy"):
        torch.manual_seed(1)  # the same perturbed reference for both
        trainer, tok, policy, ref = _trainer(
            tiny_model, tmp_path / weighting, beta=1e-5, bmc_delta=1e9, ref_weighting=weighting
        )
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(PAIRS))])
        independent = difflib_varied_mask(batch, tok)
        loss = trainer.compute_loss(policy, batch)
        expected = _full_logits_bmc(policy, ref, batch, independent, 1e-5, 1e9, weighting)
        assert torch.allclose(loss, expected, rtol=1e-4), (weighting, loss, expected)
        losses[weighting] = loss.item()
    assert abs(losses["reference"] - losses["policy"]) > 1e-3, losses


def test_config_refuses_what_bmc_cannot_do(tmp_path: Path) -> None:
    from alignkit.bmc.trainer import BMCConfig

    with pytest.raises(ValueError, match="ref_weighting"):
        BMCConfig(output_dir=str(tmp_path), ref_weighting="both", report_to=[], use_cpu=True)
    with pytest.raises(ValueError, match="precompute_ref_log_probs"):
        BMCConfig(
            output_dir=str(tmp_path), precompute_ref_log_probs=True, report_to=[], use_cpu=True
        )
    assert BMCConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True).beta == 0.05


def test_hidden_forward_patch(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM

    from alignkit.bmc.trainer import add_hidden_forward

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    ids = torch.tensor([[5, 6, 7, 8]])
    before = model(input_ids=ids).logits
    add_hidden_forward(model)
    add_hidden_forward(model)  # idempotent
    hidden = model(input_ids=ids, bmc_hidden=True)
    assert torch.allclose(model.lm_head(hidden), before, atol=1e-6)
    assert torch.equal(model(input_ids=ids).logits, before)  # the plain forward is unchanged
    capped = AutoModelForCausalLM.from_pretrained(tiny_model)
    capped.config.final_logit_softcapping = 30.0
    with pytest.raises(ValueError, match="soft-caps"):
        add_hidden_forward(capped)


def _bridged_pairs(tmp_path: Path) -> Path:
    """A few pairs bridged through the loopback server: the revision fixes the wrong word."""
    source = tmp_path / "pairs.jsonl"
    source.write_text(
        "".join(
            json.dumps({"prompt": p, "chosen": " " + c, "rejected": " " + r}) + "\n"
            for p, c, r in PAIRS
        )
    )
    corrections = {r: c for _, c, r in PAIRS}

    def reply(body: dict[str, Any]) -> str:
        draft = last_user_content(body).split("### Draft answer\n", 1)[1]
        draft = draft.rsplit("\n\nWrite only", 1)[0]
        return corrections[draft.strip()]

    with FakeChatServer(reply=reply) as server:
        stats = bridge(
            source, tmp_path / "bridged", f"openai:fake@{server.base_url}", progress=False
        )
    assert stats["written"] == len(PAIRS)
    return tmp_path / "bridged" / "bridged-00000.jsonl"


def test_train_cli_raises_reward_margin_and_saves_atomically(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _bridged_pairs(tmp_path)
    out = tmp_path / "run"
    config = tmp_path / "train.yaml"
    config.write_text(
        f"model: {tiny_model}\ndata: {data}\noutput_dir: {out}\nmax_steps: 8\nlr: 0.005\n"
        "batch_size: 4\nmax_length: 64\nlogging_steps: 1\ncpu: true\nbeta: 0.1\n"
    )
    assert main(["bmc", "train", "--config", str(config)]) == 0
    assert "8 steps on 4 pairs" in capsys.readouterr().out
    metrics = json.loads((out / "train_metrics.json").read_text())
    margins = [h["rewards/margins"] for h in metrics["log_history"] if "rewards/margins" in h]
    assert len(margins) == 8
    assert margins[0] == pytest.approx(0.0, abs=1e-6)  # policy == reference at step 1
    assert margins[-1] > 0.05 and margins[-1] > max(margins[:4])
    assert metrics["log_history"][-2]["rewards/accuracies"] == 1.0
    assert 0 < metrics["log_history"][0]["bmc/varied_fraction"] < 0.5

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = out / "model"
    assert (model_dir / "config.json").is_file() and (model_dir / "tokenizer.json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp folders left
    trained = AutoModelForCausalLM.from_pretrained(model_dir)
    before = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert not torch.equal(trained.lm_head.weight, before.lm_head.weight)
    assert AutoTokenizer.from_pretrained(model_dir).eos_token == "<|endoftext|>"


def test_trl_dpo_yaml_trains(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The YAML a TRL user writes for `trl dpo` (dataset_name a local file) trains."""
    data = tmp_path / "pairs.jsonl"
    data.write_text(
        "".join(
            json.dumps({"prompt": p, "chosen": " " + c, "rejected": " " + r}) + "\n"
            for p, c, r in PAIRS
        )
    )
    out = tmp_path / "run"
    config = tmp_path / "dpo.yaml"
    config.write_text(
        f"model_name_or_path: {tiny_model}\ndataset_name: {data}\noutput_dir: {out}\n"
        "per_device_train_batch_size: 2\ngradient_accumulation_steps: 2\nlearning_rate: 5.0e-3\n"
        "lr_scheduler_type: cosine\nwarmup_ratio: 0.1\nnum_train_epochs: 1\nmax_steps: 2\n"
        "report_to: none\nbf16: false\nbeta: 0.1\nmax_length: 64\nloss_type: sigmoid\n"
        "label_smoothing: 0.0\nlogging_steps: 1\nuse_cpu: true\n"
    )
    assert main(["bmc", "train", "--config", str(config)]) == 0
    assert "2 steps on 4 pairs" in capsys.readouterr().out
    metrics = json.loads((out / "train_metrics.json").read_text())
    options = metrics["options"]
    assert options["batch_size"] == 2 and options["gradient_accumulation_steps"] == 2
    assert options["lr_scheduler_type"] == "cosine" and options["report_to"] == []
    assert (out / "model" / "config.json").is_file()


def test_trl_options_bmc_does_not_use_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "dpo.yaml"
    config.write_text(
        "model_name_or_path: m\ndataset_name: d.jsonl\noutput_dir: o\n"
        "loss_type: ipo\nlabel_smoothing: 0.1\nrpo_alpha: 1.0\n"
    )
    assert main(["bmc", "train", "--config", str(config)]) != 0
    err = capsys.readouterr().err
    assert "loss_type='ipo'" in err and "label_smoothing=0.1" in err and "rpo_alpha=1.0" in err
    config.write_text("model: m\ndata: d.jsonl\noutput_dir: o\nnot_an_option: 1\n")
    assert main(["bmc", "train", "--config", str(config)]) != 0
    assert "not_an_option" in capsys.readouterr().err


def test_presets_and_shared_defaults(tmp_path: Path) -> None:
    from alignkit.bmc.presets import DEFAULTS, PRESETS
    from alignkit.bmc.train import PRESET_FIELDS, TrainOptions
    from alignkit.bmc.trainer import BMCConfig

    common = {"output_dir": str(tmp_path), "report_to": [], "use_cpu": True}
    default = BMCConfig(**common)
    # The CLI's options left unset resolve to BMCConfig's own defaults.
    cli = TrainOptions(model="m", data="d", out="o").trainer_settings()
    assert set(cli) == set(PRESET_FIELDS.values())
    for name, value in cli.items():
        assert getattr(default, name) == value, name
    assert default.learning_rate == 5e-7 and default.warmup_ratio == 0.1
    assert default.lr_scheduler_type == "cosine" and default.seed == 42 == DEFAULTS["seed"]
    paper = {
        "qa": (0.05, 3.0),
        "math": (0.05, 2.5),
        "ultrafeedback-llama3": (0.01, 1.5),
        "ultrafeedback-mistral": (0.01, 2.0),
    }
    assert set(PRESETS) == set(paper)
    for name, (beta, delta) in paper.items():
        config = BMCConfig.from_preset(name, **common, bf16=False)
        assert (config.beta, config.bmc_delta, config.learning_rate) == (beta, delta, 5e-7)
        batch = config.per_device_train_batch_size * config.gradient_accumulation_steps
        assert batch == 128 and config.lr_scheduler_type == "cosine"
    # A flag wins over the preset, the preset over the shared default.
    chosen = TrainOptions(model="m", data="d", out="o", preset="math", beta=0.2)
    settings = chosen.trainer_settings()
    assert settings["beta"] == 0.2 and settings["bmc_delta"] == 2.5 and settings["bf16"] is True
    with pytest.raises(ValueError, match="unknown BMC preset"):
        BMCConfig.from_preset("gsm8k", **common)


def test_trl_dpo_yaml_with_lora_trains_adapters_only(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`use_peft` + `lora_*` keys of a `trl dpo` YAML train a LoRA adapter with the BMC loss."""
    pytest.importorskip("peft")
    data = tmp_path / "pairs.jsonl"
    data.write_text(
        "".join(
            json.dumps({"prompt": p, "chosen": " " + c, "rejected": " " + r}) + "\n"
            for p, c, r in PAIRS
        )
    )
    out = tmp_path / "run"
    config = tmp_path / "dpo.yaml"
    config.write_text(
        f"model_name_or_path: {tiny_model}\ndataset_name: {data}\noutput_dir: {out}\n"
        "per_device_train_batch_size: 2\nlearning_rate: 1.0e-2\nmax_steps: 3\nreport_to: none\n"
        "beta: 0.1\nmax_length: 64\nlogging_steps: 1\nuse_cpu: true\nuse_peft: true\n"
        "lora_r: 4\nlora_alpha: 8\nlora_dropout: 0.0\nlora_target_modules: [q_proj, v_proj]\n"
    )
    assert main(["bmc", "train", "--config", str(config)]) == 0
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["options"]["use_peft"] is True
    losses = [h["loss"] for h in metrics["log_history"] if "loss" in h]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    saved = {p.name for p in (out / "model").iterdir()}
    assert "adapter_config.json" in saved, saved
