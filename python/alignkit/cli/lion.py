"""`alignkit lion run | seed | imitate | train | discriminate | generate`: the Lion command group
(the command-line face of `alignkit.lion`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from alignkit.cli.options import (
    add_chained_run_flags,
    add_stage_command,
    config_sections,
    executor_from_args,
    stage_progress,
)

# The opt-in teacher/referee/generator of `--demo` (fetched once with `alignkit llm fetch-model`):
# the embedded 135M model cannot judge or teach itself.
DEMO_TEACHER = "transformers:qwen2.5-coder-1.5b-instruct"
# `--demo`: sized so one iteration finishes on two idle CPU cores in about 12 minutes.
# Values given on the command line or in --config win.
DEMO_RUN: dict[str, Any] = {
    "max_seeds": 6,
    "iterations": 1,
    "per_kind": 2,
    "teacher": DEMO_TEACHER,
    "final_training": False,
    "evaluate_iterations": True,
}
DEMO_SECTIONS: dict[str, dict[str, Any]] = {
    "imitate": {"max_tokens": 128},
    "train": {"epochs": 2.0, "batch_size": 2, "micro_batch_size": 2, "max_length": 384},
    "discriminate": {
        "referee_mode": "logprob",
        "student_max_tokens": 128,
        "teacher_max_tokens": 128,
    },
    "generate": {"prefill": True, "batch_size": 4, "max_rounds": 6},
    "evaluate": {"max_questions": 4, "answer_max_tokens": 128, "referee_mode": "logprob"},
}
STAGE_COMMANDS = ("seed", "imitate", "train", "discriminate", "generate", "evaluate")


def _config_classes() -> dict[str, type[Any]]:
    from alignkit.lion import stages

    return {
        "seed": stages.SeedConfig,
        "imitate": stages.ImitateConfig,
        "train": stages.TrainConfig,
        "discriminate": stages.DiscriminateConfig,
        "generate": stages.GenerateConfig,
        "evaluate": stages.EvaluateConfig,
    }


_STAGE_HELP = {
    "seed": (
        "seed instructions -> Lion instruction rows",
        ("inputs", "SEEDS", "seed files (none: the set shipped with alignkit)"),
    ),
    "imitate": (
        "the teacher answers instructions (Train-Pool responses)",
        ("inputs", "INSTRUCTIONS", "instruction row files"),
    ),
    "train": (
        "fine-tune the student on teacher answers (loss on response tokens)",
        ("inputs", "TRAIN_POOL", "files of answered instructions"),
    ),
    "discriminate": (
        "student vs teacher on the Cache Pool, swap-averaged referee, hard/easy",
        ("inputs", "CACHE_POOL", "instruction row files"),
    ),
    "generate": (
        "new hard and easy instructions, filtered and novel (ROUGE-L)",
        ("inputs", "HARD_EASY", "the discriminate stage's hard.jsonl.gz and easy.jsonl.gz"),
    ),
    "evaluate": ("relative quality vs the teacher on held-out questions; MCQ accuracy", None),
}


def add_parsers(
    commands: argparse._SubParsersAction, only: str | None = None
) -> dict[str, argparse.ArgumentParser]:
    lion = commands.add_parser(
        "lion",
        help="Lion: adversarial distillation (teacher, student, referee, generator)",
        description="Distil a teacher into a student by focusing on the instructions the student "
        "gets wrong: imitation, discrimination, generation, repeated.",
    )
    sub = lion.add_subparsers(dest="lion_command", metavar="ACTION")
    sub.required = True
    leaves = {}
    if only in (None, "run"):
        leaves["lion run"] = _add_run(sub)
    classes = _config_classes() if only is None or only in STAGE_COMMANDS else {}
    for name in STAGE_COMMANDS:
        if only not in (None, name):
            continue
        help_text, inputs = _STAGE_HELP[name]
        p = add_stage_command(
            sub,
            name,
            classes[name],
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}. One stage of `alignkit lion "
            "run`, for users who drive the loop themselves; resumable like every stage (markers "
            "and LLM caches in OUT/.alignkit/).",
            inputs=inputs,
            executor=True,
        )
        p.add_argument(
            "--retry-failed",
            action="store_true",
            help="re-send requests that failed in an earlier run",
        )
        p.set_defaults(handler=_cmd_stage, stage_name=name)
        leaves[f"lion {name}"] = p
    return leaves


def _add_run(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from alignkit.lion.loop import SECTIONS, LionRunConfig

    p = sub.add_parser(
        "run",
        help="the whole Lion loop: imitate, train, discriminate, generate, repeat",
        description=(
            "Run Lion's adversarial loop into OUT (per iteration: OUT/iter-K/imitate, train, "
            "discriminate, generate, evaluate; then OUT/final; OUT/lion_summary.json and "
            "OUT/report.html). Re-running resumes at the last finished task and sends no LLM "
            "request twice. Every stage option can be set in --config FILE in sections named "
            "after the stages (`imitate:`, `train:`, `discriminate:`, `generate:`, `evaluate:`; "
            "keys as in `alignkit lion STAGE --help`). --demo runs one small iteration on the "
            "shipped seeds with the opt-in Qwen2.5-Coder-1.5B-Instruct as teacher, referee and "
            "generator (`alignkit llm fetch-model qwen2.5-coder-1.5b-instruct` first) and "
            "SmolLM2-135M-Instruct as student; values given as flags or in --config win."
        ),
    )
    add_chained_run_flags(p, LionRunConfig, SECTIONS)
    p.set_defaults(handler=_cmd_run)
    return p


def _cmd_run(args: argparse.Namespace) -> int:
    from alignkit.lion.loop import SECTIONS, LionRunConfig, LionRunOptions, run_lion
    from alignkit.stage import config_from_args

    sections = config_sections(args, SECTIONS)
    defaults: dict[str, Any] = {}
    if args.demo:
        defaults = dict(DEMO_RUN)
        for section, values in DEMO_SECTIONS.items():
            sections[section] = {**values, **sections.get(section, {})}
    config = config_from_args(LionRunConfig, args, defaults=defaults)
    summary = run_lion(
        args.out,
        LionRunOptions(run=config, sections=sections),
        overwrite=args.overwrite,
        progress=stage_progress(args),
        executor=executor_from_args(args),
    )
    for entry in summary["iterations"]:
        print(
            f"iteration {entry['iteration']}: train pool {entry['train_pool']}, cache pool "
            f"{entry['cache_pool']}, hard {entry['hard']} / easy {entry['easy']}, teacher "
            f"{_num(entry['teacher_mean'])} vs student {_num(entry['student_mean'])}, generated "
            + ", ".join(f"{k} {v}" for k, v in entry["generated"].items())
        )
    print(f"student: {summary['student']}\noutput: {args.out} (lion_summary.json, report.html)")
    return 0


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def _cmd_stage(args: argparse.Namespace) -> int:
    from alignkit.lion import stages
    from alignkit.stage import config_from_args, run_stage

    name = args.stage_name
    cls = _config_classes()[name]
    config = config_from_args(cls, args)
    stage = {
        "seed": stages.SeedStage,
        "imitate": stages.ImitateStage,
        "train": stages.TrainStage,
        "discriminate": stages.DiscriminateStage,
        "generate": stages.GenerateStage,
        "evaluate": stages.EvaluateStage,
    }[name](config)
    inputs = [str(Path(p)) for p in getattr(args, "inputs", None) or []]
    report = run_stage(
        stage,
        inputs,
        args.out,
        overwrite=args.overwrite,
        progress=stage_progress(args),
        retry_failed=args.retry_failed,
        executor=executor_from_args(args),
    )
    print(json.dumps(report.to_dict(), indent=2, default=str))
    for task, why in sorted(report.failures.items()):
        print(f"FAILED {task}: {why}", file=sys.stderr)
    return 1 if report.failures or report.stats.get("failures") else 0
