"""`alignkit followbench run | score | list`: the FollowBench command group (the command-line face
of `alignkit.followbench`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from alignkit.cli.options import add_stage_command
from alignkit.followbench.evaluate import EvalConfig, run_followbench
from alignkit.followbench.metrics import as_percent


def add_parsers(
    commands: argparse._SubParsersAction, only: str | None = None
) -> dict[str, argparse.ArgumentParser]:
    """Register `followbench` and its subcommands; returns {"followbench run": parser, ...}."""
    fb = commands.add_parser(
        "followbench",
        help="FollowBench: multi-level constraint-following evaluation",
        description="Evaluate models on FollowBench (HSR, SSR, CSL), re-score and compare runs.",
    )
    sub = fb.add_subparsers(dest="followbench_command", metavar="ACTION")
    sub.required = True

    run = add_stage_command(
        sub,
        "run",
        EvalConfig,
        help="generate answers, score them (rule checks + LLM judge), write results and report",
        description=(
            "Send every level 1-5 instruction to the model (one user turn, greedy), score items "
            "with the rule checks or the LLM judge, and write OUT/results.json "
            "(lm-evaluation-harness shape), OUT/samples.jsonl and OUT/report.html. Model, judges "
            "and every setting are recorded in OUT/.alignkit/ (another model into the same OUT "
            "is refused); every answer is cached per task there, so re-running resumes."
        ),
        inputs=None,
        workers=True,
    )
    run.add_argument("--data", help="FollowBench folder (the JSON files) or a datasets folder")
    run.set_defaults(handler=_cmd_run)

    score = sub.add_parser(
        "score",
        help="re-score finished runs (no model calls) and compare them in one report",
        description=(
            "Read each run's results.json and samples.jsonl, re-derive every verdict with the "
            "current rule checks and judge-reply parser, and write a comparison report: "
            "REPORT.html (or REPORT/report.html and REPORT/comparison.json for a folder)."
        ),
    )
    score.add_argument("results", nargs="*", metavar="RESULTS", help="run folders or results.json")
    score.add_argument("--out", required=False, help="report .html file or folder (required)")
    score.add_argument("--title", default="FollowBench", help="report title")
    score.add_argument(
        "--rules",
        choices=("original", "lenient"),
        default=None,
        help="rule checks and judge parsing to re-score with (default: each run's own)",
    )
    score.set_defaults(handler=_cmd_score)

    lister = sub.add_parser(
        "list",
        help="categories, sources and rule checks",
        description="List FollowBench categories, the registered rule checks and, with --data, "
        "the sources of a data folder and how their items are scored.",
    )
    lister.add_argument("--data", default=None, help="a FollowBench folder to describe")
    lister.add_argument("--json", action="store_true", help="print JSON")
    lister.add_argument(
        "--rules", choices=("original", "lenient"), default="original", help="routing to show"
    )
    lister.set_defaults(handler=_cmd_list, out=None)
    return {"followbench run": run, "followbench score": score, "followbench list": lister}


def print_tables(results: dict[str, Any], name: str) -> None:
    """The headline table (HSR/SSR per level and Avg., CSL) and per-category HSR, as text."""
    tables = results["tables"]
    levels = [str(lv) for lv in range(1, 6)]
    header = "           " + "".join(f"{'L' + lv:>7}" for lv in levels) + f"{'Avg.':>8}"
    print(f"FollowBench - {name}")
    print(header)
    for metric in ("hsr", "ssr"):
        row = tables["level"][metric]
        cells = "".join(f"{as_percent(row[lv]):>7}" for lv in levels)
        print(f"{metric.upper() + ' (%)':<11}{cells}{as_percent(row['avg']):>8}")
    csl = tables.get("csl")
    print(f"CSL        {'-' if csl is None else f'{csl:.2f}'}")
    cats = tables["category"]
    print(
        "per category (HSR % / SSR % / CSL): "
        + ", ".join(
            f"{c} {as_percent(v['hsr'])}/{as_percent(v['ssr'])}/"
            f"{'-' if v['csl'] is None else format(v['csl'], '.2f')}"
            for c, v in cats.items()
        )
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from alignkit.errors import InputError
    from alignkit.stage import config_from_args

    if not args.data:
        raise InputError("--data is required: a FollowBench folder (e.g. FollowBench/data)")
    results = run_followbench(
        args.data,
        args.out,
        config=config_from_args(EvalConfig, args),
        workers=args.workers,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        echo=print,
    )
    print_tables(results, str(results.get("model_name")))
    counts = results["counts"]
    unscored = len(counts["unscored"])
    print(
        f"items: {counts['items']}, scored by: "
        + ", ".join(f"{k}={v}" for k, v in sorted(counts["by_scorer"].items()))
    )
    print(f"output: {args.out} (results.json, samples.jsonl, report.html)")
    failed = sum(1 for u in counts["unscored"] if u["why"] in ("generation_failed", "judge_failed"))
    if unscored:
        print(f"{unscored} items unscored (see results.json counts.unscored)", file=sys.stderr)
    return 1 if failed else 0


def _cmd_score(args: argparse.Namespace) -> int:
    from alignkit.data.io import atomic_write_text
    from alignkit.followbench.evaluate import rescore_run
    from alignkit.followbench.report import render_report

    if not args.results:
        raise ValueError("give one or more RESULTS (run folders or results.json files)")
    rescored = [rescore_run(path, args.rules) for path in args.results]
    out = Path(args.out)
    if out.suffix.lower() in (".html", ".htm"):
        out.parent.mkdir(parents=True, exist_ok=True)
        report_path = out
    else:
        out.mkdir(parents=True, exist_ok=True)
        report_path = out / "report.html"
        comparison = [{k: v for k, v in r.items() if k != "samples"} for r in rescored]
        atomic_write_text(out / "comparison.json", json.dumps(comparison, indent=2))
    atomic_write_text(report_path, render_report(rescored, title=args.title))
    for path, results in zip(args.results, rescored, strict=True):
        print_tables(results, str(results.get("model_name") or path))
    print(f"report: {report_path}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from collections import Counter

    from alignkit.followbench.checks import find_check, list_checks
    from alignkit.followbench.data import CATEGORIES, load_followbench

    info: dict[str, Any] = {
        "categories": list(CATEGORIES),
        "checks": [
            {"name": c.name, "description": c.description, "sources": list(c.sources)}
            for c in list_checks()
        ],
    }
    if args.data:
        data = load_followbench(args.data)
        sources: Counter[tuple[str, str, str]] = Counter()
        for record in data.records():
            check = find_check(record, args.rules)
            sources[(record.category, record.source, check.name if check else "judge")] += 1
        info["data"] = data.summary()
        info["sources"] = [
            {"category": c, "source": s, "scored_by": how, "items": n}
            for (c, s, how), n in sorted(sources.items())
        ]
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    print("categories: " + ", ".join(info["categories"]))
    print("lenient rule checks (--rules lenient; tried in this order, the rest is judged):")
    for check in info["checks"]:
        where = f" [{', '.join(check['sources'])}]" if check["sources"] else ""
        print(f"  {check['name']}{where}: {check['description']}")
    if "sources" in info:
        print(f"sources in {args.data} ({info['data']['language']}):")
        for s in info["sources"]:
            print(
                f"  {s['category']:<10} {s['source']:<28} {s['items']:>4} items  {s['scored_by']}"
            )
    return 0
