"""`alignkit lte build-data | train`: the LTE command group (the command-line face of
`alignkit.lte`). Each command is one stage: resumable, its settings recorded in OUT/.alignkit/."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from alignkit.cli.options import add_stage_command, stage_progress

COMMANDS = ("build-data", "train")

_HELP: dict[str, tuple[str, str, tuple[str, str, str]]] = {
    "build-data": (
        "parallel alignment data (every question with and without the edit) from KnowEdit files",
        "Build LTE's alignment data: per edit, in-scope questions answered with the new target "
        "when the edit is in the template and with the old answer without it, out-of-scope "
        "questions answered alike on both sides; 1-2 distractor facts from the nearest facts "
        "of the same file. Answers a record lacks come from --llm (cached in OUT/.alignkit/). "
        "Writes OUT/<input stem>.jsonl.gz of chat rows.",
        ("inputs", "KNOWEDIT", "KnowEdit-format JSON files (ZsRE, counterfact, recent, WikiBio)"),
    ),
    "train": (
        "the alignment phase: fine-tune a model on build-data rows in its chat template",
        "Fine-tune the base model on LTE alignment rows, rendered with the model's chat "
        "template, loss on the answer and the end-of-turn marker only; defaults are the "
        "paper's full fine-tuning (3 epochs, lr 2e-5 cosine, batch 128, max length 2048), "
        "--lora its LoRA variant (r 8, alpha 16, lr 3e-4, merged). Writes the model folder "
        "OUT/model (loads with transformers:OUT/model).",
        ("inputs", "DATA", "alignment data files of `alignkit lte build-data`"),
    ),
}


def _stages() -> dict[str, tuple[type[Any], type[Any]]]:
    """Config and stage class per command, imported only when a command runs or is built."""
    from alignkit.lte.build_data import BuildDataConfig, BuildDataStage
    from alignkit.lte.train import LTETrainConfig, LTETrainStage

    return {
        "build-data": (BuildDataConfig, BuildDataStage),
        "train": (LTETrainConfig, LTETrainStage),
    }


def add_parsers(
    commands: argparse._SubParsersAction, only: str | None = None
) -> dict[str, argparse.ArgumentParser]:
    """Register `lte` and its subcommands; returns {"lte train": parser, ...}."""
    lte = commands.add_parser(
        "lte",
        help="LTE: learning to edit (alignment data, alignment training)",
        description="Teach a model to apply new knowledge given in its context and to ignore it "
        "when it does not apply (Learning to Edit, ACL 2024).",
    )
    sub = lte.add_subparsers(dest="lte_command", metavar="ACTION")
    sub.required = True
    stages = _stages() if only is None or only in COMMANDS else {}
    leaves = {}
    for name in COMMANDS:
        if only not in (None, name):
            continue
        help_text, description, inputs = _HELP[name]
        p = add_stage_command(
            sub,
            name,
            stages[name][0],
            help=help_text,
            description=description,
            inputs=inputs,
            workers=name == "build-data",
        )
        p.set_defaults(handler=_cmd_stage, stage_name=name)
        leaves[f"lte {name}"] = p
    return leaves


def _cmd_stage(args: argparse.Namespace) -> int:
    from alignkit.stage import LocalExecutor, config_from_args, run_stage

    config_class, stage_class = _stages()[args.stage_name]
    config = config_from_args(config_class, args)
    report = run_stage(
        stage_class(config),
        [str(Path(p)) for p in args.inputs or []],
        args.out,
        executor=LocalExecutor(getattr(args, "workers", 1)),
        overwrite=args.overwrite,
        progress=stage_progress(args),
        retry_failed=bool(getattr(config, "retry_failed", False)),
    )
    stats = report.stats
    done = f"{report.tasks_run} run, {report.tasks_done_before} done before"
    if args.stage_name == "train" and "train" in stats:
        train = stats["train"]
        print(
            f"lte train: {train['steps']} steps on {train['examples']} examples ({done}), "
            f"loss {train['first_loss']:.4f} -> {train['last_loss']:.4f}, "
            f"skipped {json.dumps(train['skipped'])}"
        )
        print(f"model: {Path(args.out) / 'model'}")
    elif args.stage_name == "build-data":
        print(f"lte build-data: {stats.get('rows', 0)} rows ({done})")
        for source, counts in sorted(stats.get("sources", {}).items()):
            print(f"  {source}: {json.dumps(counts, sort_keys=True)}")
    print(f"output: {args.out} (statistics in .alignkit/stats.json)")
    for task, why in sorted(report.failures.items()):
        print(f"FAILED {task}: {why}", file=sys.stderr)
    if args.stage_name == "build-data" and not report.failures and not stats.get("rows"):
        print("no rows written (without --llm, pairs that need an LLM answer are left out)",
              file=sys.stderr)  # fmt: skip
        return 1
    return 1 if report.failures or stats.get("failures") else 0
