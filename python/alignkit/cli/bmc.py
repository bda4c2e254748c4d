"""`alignkit bmc bridge | train`: the BMC command group (the command-line face of alignkit.bmc)."""

from __future__ import annotations

import argparse

from alignkit.cli.options import add_stage_command


def add_parsers(
    commands: argparse._SubParsersAction, only: str | None = None
) -> dict[str, argparse.ArgumentParser]:
    """Register `bmc` and its stages; returns {"bmc bridge": parser, "bmc train": parser}."""
    bmc = commands.add_parser(
        "bmc",
        help="BMC preference optimisation: bridging and token-weighted DPO training",
        description="Bridging and Modeling Correlations (BMC) for preference optimisation.",
    )
    sub = bmc.add_subparsers(dest="bmc_command", metavar="STAGE")
    sub.required = True
    return {"bmc bridge": _add_bridge(sub), "bmc train": _add_train(sub)}


def _add_bridge(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from alignkit.bmc.bridge import BridgeConfig

    p = add_stage_command(
        sub,
        "bridge",
        BridgeConfig,
        help="revise losing responses minimally into pseudo-winning ones with an LLM",
        description=(
            "BMC bridging: for every preference pair, ask the LLM to revise the losing response "
            "minimally, with the winning one as reference. PAIRS is TRL prompt/chosen/rejected "
            "data (.jsonl, .jsonl.gz, .json, .parquet or a datasets.save_to_disk directory). "
            "Writes OUT/bridged-NNNNN.jsonl shards (chosen = revision, rejected = original "
            "losing response, original_chosen kept); statistics in OUT/.alignkit/stats.json. "
            "LLM answers are cached per task under OUT/.alignkit/, so re-running resumes "
            "without re-sending."
        ),
        inputs=("pairs", "PAIRS", "preference data"),
        inputs_nargs="?",
        workers=True,
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the first bridging prompt, call no LLM"
    )
    p.set_defaults(handler=_cmd_bridge)
    return p


def _cmd_bridge(args: argparse.Namespace) -> int:
    from alignkit.bmc.bridge import BridgeConfig, bridge
    from alignkit.errors import InputError
    from alignkit.stage import config_from_args

    if not args.pairs:
        raise InputError("no input: give PAIRS (prompt/chosen/rejected data)")
    config = config_from_args(BridgeConfig, args)
    stats = bridge(
        args.pairs,
        args.out,
        config=config,
        workers=args.workers,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        dry_run=args.dry_run,
    )
    if args.dry_run:
        return 0
    dropped = ", ".join(f"{k}={v}" for k, v in sorted(stats["dropped"].items())) or "none"
    bad = ", ".join(f"{k}={v}" for k, v in sorted(stats["bad_rows"].items())) or "none"
    llm = stats["llm"]
    print(
        f"{stats['written']} of {stats['pairs']} pairs bridged; dropped: {dropped}; "
        f"bad rows: {bad}\nLLM: {llm['requests']} requests ({llm['sent']} sent, "
        f"{llm['cached']} cached), {llm['failures']} failed\n"
        f"output: {args.out} ({', '.join(stats['outputs'])}; .alignkit/stats.json)"
    )
    return 1 if stats["failures"] else 0


# TRL `trl dpo` options that change the loss away from BMC's: refused unless neutral, and
# the neutral value each may keep.
REFUSED_TRL_OPTIONS = {
    "loss_type": ("sigmoid", ["sigmoid"]),
    "label_smoothing": (0, 0.0),
    "rpo_alpha": (None,),
    "reference_free": (False, None),
    "use_weighting": (False,),
    "ld_alpha": (None,),
    "loss_weights": (None,),
    "f_divergence_type": ("reverse_kl",),
    "precompute_ref_log_probs": (False,),
    "sync_ref_model": (False,),
    "use_liger_loss": (False, None),
    "max_prompt_length": (None,),
    "max_completion_length": (None,),
}


def _add_train(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from alignkit.bmc.presets import DEFAULTS, PRESETS

    p = sub.add_parser(
        "train",
        help="train a causal LM with BMC's token-weighted DPO loss",
        description=(
            "Train MODEL (a local Hugging Face causal LM folder) on prompt/chosen/rejected pairs "
            "(e.g. the output of `bmc bridge`) with BMC: DPO on sequence scores whose varied "
            "tokens are weighted by the policy's confidence, against a frozen reference model. "
            "Saves the trained model and tokenizer to OUT/model and the logs to "
            "OUT/train_metrics.json. Every flag can come from --config (keys = flag names); "
            "the YAML of `trl dpo` works too (model_name_or_path, dataset_name as a local path, "
            "per_device_train_batch_size, num_train_epochs, use_peft, lora_*, ...), and TRL "
            "options that change the loss away from BMC's (loss_type other than sigmoid, "
            "label_smoothing, rpo_alpha, ...) are refused. Defaults are BMCConfig's; --preset "
            "sets a paper setup, flags win over it."
        ),
    )

    def shared(name: str) -> str:
        return f"(default: {DEFAULTS[name]}, or the preset's)"

    p.add_argument("--model", "--model-name-or-path", help="policy model folder (required)")
    p.add_argument("--ref-model", default=None, help="reference model folder (default: --model)")
    p.add_argument(
        "--data",
        "--dataset-name",
        help="preference pairs (.jsonl, .parquet, saved dataset folder; required)",
    )
    p.add_argument("--out", "--output-dir", dest="out", help="output directory (required)")
    p.add_argument(
        "--preset", choices=list(PRESETS), default=None, help="the paper's settings for a setup"
    )
    p.add_argument("--beta", type=float, default=None, help=f"DPO beta {shared('beta')}")
    p.add_argument(
        "--delta", "--bmc-delta", type=float, default=None, help=f"weight cap {shared('bmc_delta')}"
    )
    p.add_argument(
        "--ref-weighting",
        choices=["reference", "policy"],
        default="reference",
        help="whose confidence weights the reference scores (default: %(default)s)",
    )
    p.add_argument(
        "--loss-impl", choices=["auto", "triton", "torch"], default="auto", help="BMC loss kernel"
    )
    p.add_argument(
        "--learning-rate",
        "--lr",
        type=float,
        default=None,
        help=f"peak learning rate {shared('learning_rate')}",
    )
    p.add_argument(
        "--lr-scheduler-type", default=None, help=f"schedule {shared('lr_scheduler_type')}"
    )
    p.add_argument(
        "--warmup-ratio", type=float, default=None, help=f"warmup {shared('warmup_ratio')}"
    )
    p.add_argument(
        "--epochs",
        "--num-train-epochs",
        type=float,
        default=None,
        help=f"training epochs {shared('num_train_epochs')}",
    )
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps")
    p.add_argument(
        "--batch-size",
        "--per-device-train-batch-size",
        type=int,
        default=None,
        help=f"pairs per device and step {shared('per_device_train_batch_size')}",
    )
    p.add_argument(
        "--gradient-accumulation-steps",
        type=int,
        default=None,
        help=f"steps per optimiser update {shared('gradient_accumulation_steps')}",
    )
    p.add_argument(
        "--max-length",
        type=int,
        default=None,
        help=f"max prompt+response tokens {shared('max_length')}",
    )
    p.add_argument("--max-pairs", type=int, default=None, help="train on at most this many")
    p.add_argument("--seed", type=int, default=None, help=f"random seed {shared('seed')}")
    p.add_argument("--logging-steps", type=int, default=None, help=shared("logging_steps"))
    p.add_argument(
        "--keep-stop-words",
        dest="exclude_stop_words",
        action="store_false",
        help="count stop-word tokens as varied too",
    )
    p.add_argument(
        "--stop-word-rule",
        choices=["nltk", "alignkit"],
        default="nltk",
        help="stop-word selection: the authors' NLTK rule or alignkit's list (default: nltk)",
    )
    p.add_argument("--bf16", action="store_true", default=None, help=f"bfloat16 {shared('bf16')}")
    p.add_argument("--cpu", dest="use_cpu", action="store_true", help="train on the CPU")
    p.add_argument(
        "--report-to", nargs="*", default=[], help="trackers (wandb, tensorboard; none: off)"
    )
    p.add_argument("--use-peft", action="store_true", help="train a LoRA adapter (needs peft)")
    p.add_argument("--lora-r", type=int, default=16, help="LoRA rank (default: %(default)s)")
    p.add_argument("--lora-alpha", type=int, default=32, help="LoRA alpha (default: %(default)s)")
    p.add_argument(
        "--lora-dropout", type=float, default=0.05, help="LoRA dropout (default: %(default)s)"
    )
    p.add_argument(
        "--lora-target-modules", nargs="+", default=None, help="LoRA modules (default: peft's)"
    )
    # Accepted as keys so that a TRL config gets a refusal that says why, not "unknown option".
    for key in REFUSED_TRL_OPTIONS:
        p.add_argument(
            "--" + key.replace("_", "-"), dest=f"trl_{key}", default=None, help=argparse.SUPPRESS
        )
    p.set_defaults(handler=_cmd_train)
    return p


def _refused_trl_options(args: argparse.Namespace) -> list[str]:
    refused = []
    for key, neutral in REFUSED_TRL_OPTIONS.items():
        value = getattr(args, f"trl_{key}")
        if value is not None and value not in neutral:
            refused.append(f"{key}={value!r}")
    return refused


def _report_to(values: list[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    listed = [values] if isinstance(values, str) else list(values)
    return tuple(v for v in listed if v not in ("none", "None"))


def _cmd_train(args: argparse.Namespace) -> int:
    from alignkit.bmc.train import TrainOptions, train_bmc
    from alignkit.errors import ConfigError

    refused = _refused_trl_options(args)
    if refused:
        raise ConfigError(
            f"bmc train does not use {', '.join(refused)}: BMC trains with the DPO sigmoid loss "
            "on token-weighted scores against a reference model; remove these options"
        )
    if not args.model or not args.data:
        raise ValueError("--model and --data are required (here or in --config)")
    fields = TrainOptions.__dataclass_fields__
    values = {k: getattr(args, k) for k in fields}
    values["report_to"] = _report_to(values["report_to"])
    if values["lora_target_modules"] is not None:
        values["lora_target_modules"] = tuple(values["lora_target_modules"])
    summary = train_bmc(TrainOptions(**values))
    last = next((h for h in reversed(summary["log_history"]) if "rewards/margins" in h), {})
    print(
        f"{summary['steps']} steps on {summary['pairs']} pairs, train loss "
        f"{summary['train_loss']:.4f}, last reward margin {last.get('rewards/margins', 'n/a')}, "
        f"accuracy {last.get('rewards/accuracies', 'n/a')}\nmodel: {summary['model_dir']}"
    )
    return 0
