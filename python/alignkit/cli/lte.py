"""`alignkit lte run | build-data | train | edit | eval`: the LTE command group (the command-line
face of `alignkit.lte`). Each command is one stage: resumable, its settings recorded in
OUT/.alignkit/; `run` chains them (`alignkit.lte.run`) with the untrained model as baseline.

`edit` and `eval` are the two inference phases the authors run, on one stage
(`alignkit.lte.evaluate`): `edit` is the single-edit evaluation (each edit given with its own
fact, no retrieval: EasyEdit's `run_lte`), `eval` the mass editing through the retrieval memory
(sequential or batch: SeqEdit). Both write OUT/results.json and OUT/report.html."""

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

COMMANDS = ("build-data", "train", "edit", "eval")
# `lte edit` is the gold-fact mode of the evaluation stage: the retrieval settings do not apply.
EDIT_FIXED = {"mode": "gold"}
EDIT_EXCLUDED = ("mode", "k", "embedder", "embed_backend")
# `lte run --demo`: the shipped demo records, 300 optimizer steps of SmolLM2-135M (23 minutes,
# 5.1 GB on two idle cores), sequential editing of the held-out demo edits. Flags/--config win.
DEMO_SECTIONS: dict[str, dict[str, Any]] = {
    "train": {"batch_size": 8, "micro_batch_size": 8, "max_steps": 300, "max_length": 256},
}

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
    "edit": (
        "single-edit evaluation: each edit given with its own fact, EasyEdit's metrics",
        "Ask the model every question of each edit with the edit's own fact in the template "
        "(`[Query]` label, no retrieval: the authors' single-edit evaluation) and without it, "
        "and score edit success, rephrase, portability, locality and fluency as EasyEdit does. "
        "Writes per-edit rows OUT/<stem>.<first edit>.jsonl.gz, OUT/results.json and "
        "OUT/report.html.",
        ("inputs", "KNOWEDIT", "KnowEdit-format JSON files of edits with their probes"),
    ),
    "eval": (
        "mass editing through the retrieval memory (sequential or batch), EasyEdit's metrics",
        "Store the edits in LTE's retrieval memory (sequential: edit i is scored while the "
        "memory holds edits 1..i; batch: all stored first), answer every question with the "
        "retrieved facts in the template, and score edit success, rephrase, portability, "
        "locality, fluency and retrieval accuracy as EasyEdit does. Writes per-edit rows, "
        "OUT/results.json and OUT/report.html.",
        ("inputs", "KNOWEDIT", "KnowEdit-format JSON files of edits with their probes"),
    ),
}


def _stages() -> dict[str, tuple[type[Any], type[Any]]]:
    """Config and stage class per command, imported only when a command runs or is built."""
    from alignkit.lte.build_data import BuildDataConfig, BuildDataStage
    from alignkit.lte.evaluate import EditEvalConfig, EditEvalStage
    from alignkit.lte.train import LTETrainConfig, LTETrainStage

    return {
        "build-data": (BuildDataConfig, BuildDataStage),
        "train": (LTETrainConfig, LTETrainStage),
        "edit": (EditEvalConfig, EditEvalStage),
        "eval": (EditEvalConfig, EditEvalStage),
    }


def add_parsers(
    commands: argparse._SubParsersAction, only: str | None = None
) -> dict[str, argparse.ArgumentParser]:
    """Register `lte` and its subcommands; returns {"lte train": parser, ...}."""
    lte = commands.add_parser(
        "lte",
        help="LTE: learning to edit (alignment data and training, editing, evaluation)",
        description="Teach a model to apply new knowledge given in its context and to ignore it "
        "when it does not apply (Learning to Edit, ACL 2024).",
    )
    sub = lte.add_subparsers(dest="lte_command", metavar="ACTION")
    sub.required = True
    stages = _stages() if only is None or only in COMMANDS else {}
    leaves = {}
    if only in (None, "run"):
        leaves["lte run"] = _add_run(sub)
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
            exclude=EDIT_EXCLUDED if name == "edit" else (),
            executor=name == "build-data",  # the LLM-bound stage; the others hold a local model
        )
        p.set_defaults(handler=_cmd_stage, stage_name=name)
        leaves[f"lte {name}"] = p
    return leaves


def _add_run(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from alignkit.lte.run import SECTIONS, LTERunConfig

    p = sub.add_parser(
        "run",
        help="LTE end to end: alignment data, alignment, editing evaluation vs the untrained model",
        description=(
            "Build the parallel alignment data from --train-files (OUT/data), align the model "
            "(OUT/train/model), then edit it sequentially through the retrieval memory on the "
            "held-out --eval-files, and the untrained model the same way as the in-context "
            "baseline (OUT/eval-aligned, OUT/eval-base). Writes OUT/lte_summary.json (metrics of "
            "both, the change, times, peak memory) and OUT/report.html. Without files: the "
            "KnowEdit-format demo records shipped with alignkit. Stage options go in --config "
            "FILE sections `build_data:`, `train:`, `eval:` (keys as in `alignkit lte STAGE "
            "--help`). --demo: a few hundred optimizer steps (batch 8, max length 256), sized for "
            "two CPU cores; values given as flags or in --config win. Re-running resumes."
        ),
    )
    add_chained_run_flags(p, LTERunConfig, SECTIONS)
    p.set_defaults(handler=_cmd_run)
    return p


def _cmd_run(args: argparse.Namespace) -> int:
    from alignkit.lte.run import SECTIONS, LTERunConfig, LTERunOptions, run_lte
    from alignkit.stage import config_from_args

    sections = config_sections(args, SECTIONS)
    if args.demo:
        for section, values in DEMO_SECTIONS.items():
            sections[section] = {**values, **sections.get(section, {})}
    config = config_from_args(LTERunConfig, args)
    summary = run_lte(
        args.out,
        LTERunOptions(run=config, sections=sections),
        overwrite=args.overwrite,
        progress=stage_progress(args),
        executor=executor_from_args(args),
    )
    train = summary["stages"]["train"]["stats"].get("train", {})
    if train:
        print(
            f"lte run: aligned in {train['steps']} steps on {train['examples']} examples, "
            f"loss {train['first_loss']:.4f} -> {train['last_loss']:.4f}"
        )
    print("dataset: metric untrained -> aligned (change)")
    for name, entry in sorted(summary.get("comparison", {}).items()):
        print(f"  {name} ({entry['edits']} edits):")
        for metric, row in entry["metrics"].items():
            print(
                f"    {metric}: {_num(row['base'])} -> {_num(row['aligned'])} "
                f"({_num(row['change'])})"
            )
        verdict = entry["alignment_helps"]
        print(f"    alignment helps (edit success up, locality not down): {verdict}")
    print(
        f"time {summary['seconds']:.0f} s, peak memory {summary['peak_rss_mb']:.0f} MB\n"
        f"output: {args.out} (lte_summary.json, report.html)"
    )
    return 0


def _cmd_stage(args: argparse.Namespace) -> int:
    from alignkit.stage import LocalExecutor, config_from_args, run_stage

    config_class, stage_class = _stages()[args.stage_name]
    fixed = EDIT_FIXED if args.stage_name == "edit" else {}
    config = config_from_args(config_class, args, defaults=fixed)
    report = run_stage(
        stage_class(config),
        [str(Path(p)) for p in args.inputs or []],
        args.out,
        executor=executor_from_args(args) or LocalExecutor(getattr(args, "workers", 1)),
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
    elif args.stage_name in ("edit", "eval"):
        _print_results(Path(args.out))
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


def _print_results(out: Path) -> None:
    """The headline metrics per dataset, and the HTML report beside `results.json`."""
    from alignkit.lte.evaluate import RESULTS_FILE
    from alignkit.lte.report import write_lte_report

    path = out / RESULTS_FILE
    if not path.is_file():  # failed tasks: no reduce yet
        return
    results = json.loads(path.read_text(encoding="utf-8"))
    print("dataset: edits, edit success (without edit), portability, locality, fluency")
    for name, data in sorted(results.get("datasets", {}).items()):
        pre, post = data.get("pre", {}), data.get("post", {})
        print(
            f"  {name}: {data.get('edits')}, {_num(post.get('edit_success'))} "
            f"({_num(pre.get('rewrite_acc'))}), {_num(post.get('portability'))}, "
            f"{_num(post.get('locality'))}, {_num(post.get('fluency'))}"
        )
    print(f"report: {write_lte_report(results, out / 'report.html')}")


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"
