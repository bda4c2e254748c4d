"""`alignkit bmc bridge | train`: the BMC command group (the command-line face of alignkit.bmc)."""

from __future__ import annotations

import argparse

from alignkit.cli.options import add_stage_command


def add_parsers(commands: argparse._SubParsersAction) -> dict[str, argparse.ArgumentParser]:
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


def _add_train(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train a causal LM with BMC's token-weighted DPO loss",
        description=(
            "Train MODEL (a local Hugging Face causal LM folder) on prompt/chosen/rejected pairs "
            "(e.g. the output of `bmc bridge`) with BMC: DPO on sequence scores whose varied "
            "tokens are weighted by the policy's confidence, against a frozen reference model. "
            "Saves the trained model and tokenizer to OUT/model and the logs to "
            "OUT/train_metrics.json. Every flag can come from --config (keys = flag names)."
        ),
    )
    p.add_argument("--model", help="policy model folder (required)")
    p.add_argument("--ref-model", default=None, help="reference model folder (default: --model)")
    p.add_argument("--data", help="preference pairs (.jsonl, .parquet, saved dataset; required)")
    p.add_argument("--out", "--output-dir", dest="out", help="output directory (required)")
    p.add_argument("--beta", type=float, default=0.05, help="DPO beta (default: %(default)s)")
    p.add_argument("--delta", type=float, default=2.0, help="weight cap (default: %(default)s)")
    p.add_argument(
        "--ref-weighting",
        choices=["reference", "policy"],
        default="reference",
        help="whose confidence weights the reference scores (default: %(default)s)",
    )
    p.add_argument(
        "--loss-impl", choices=["auto", "triton", "torch"], default="auto", help="BMC loss kernel"
    )
    p.add_argument("--learning-rate", "--lr", type=float, default=5e-7, help="learning rate")
    p.add_argument("--epochs", type=float, default=1.0, help="training epochs")
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps")
    p.add_argument("--batch-size", type=int, default=2, help="pairs per device and step")
    p.add_argument("--gradient-accumulation-steps", type=int, default=1)
    p.add_argument("--max-length", type=int, default=1024, help="max prompt+response tokens")
    p.add_argument("--max-pairs", type=int, default=None, help="train on at most this many")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument(
        "--keep-stop-words",
        dest="exclude_stop_words",
        action="store_false",
        help="count stop-word tokens as varied too",
    )
    p.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision")
    p.add_argument("--cpu", dest="use_cpu", action="store_true", help="train on the CPU")
    p.set_defaults(handler=_cmd_train)
    return p


def _cmd_train(args: argparse.Namespace) -> int:
    from alignkit.bmc.train import TrainOptions, train_bmc

    if not args.model or not args.data:
        raise ValueError("--model and --data are required (here or in --config)")
    fields = TrainOptions.__dataclass_fields__
    options = TrainOptions(**{k: getattr(args, k) for k in fields})
    summary = train_bmc(options)
    last = next((h for h in reversed(summary["log_history"]) if "rewards/margins" in h), {})
    print(
        f"{summary['steps']} steps on {summary['pairs']} pairs, train loss "
        f"{summary['train_loss']:.4f}, last reward margin {last.get('rewards/margins', 'n/a')}, "
        f"accuracy {last.get('rewards/accuracies', 'n/a')}\nmodel: {summary['model_dir']}"
    )
    return 0
