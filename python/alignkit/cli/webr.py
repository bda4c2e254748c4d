"""`alignkit webr prepare | dedup | synthesize | score | run`: the WebR command group.

Each handler turns its flags into the stage's config and calls `alignkit.webr`; method modules
are imported inside the handlers, so `alignkit --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from alignkit.cli.options import (
    add_config_sections,
    add_demo_flags,
    add_executor_flags,
    add_llm_flag,
    add_stage_command,
    config_sections,
    executor_from_args,
    stage_progress,
)


def add_parsers(
    commands: argparse._SubParsersAction, only: str | None = None
) -> dict[str, argparse.ArgumentParser]:
    """Register `webr` and its stages; returns {"webr prepare": parser, ...}."""
    webr = commands.add_parser(
        "webr",
        help="Web Reconstruction: web pages to instruction data",
        description="Web Reconstruction pipeline stages.",
    )
    sub = webr.add_subparsers(dest="webr_command", metavar="STAGE")
    sub.required = True
    builders = {
        "prepare": _add_prepare,
        "dedup": _add_dedup,
        "score": _add_score,
        "synthesize": _add_synthesize,
        "run": _add_run,
    }
    # `only` (the stage on the command line) builds just that stage's parser and imports.
    names = [only] if only in builders else list(builders)
    return {f"webr {name}": builders[name](sub) for name in names}


def _add_prepare(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from alignkit.webr.prepare import PrepareConfig

    p = add_stage_command(
        sub,
        "prepare",
        PrepareConfig,
        help="Common Crawl WARC/WET shards to text documents",
        description=(
            "Read WARC/WET shards (local paths or globs), extract the text of every HTML page, and "
            "write one compressed JSONL (or Parquet) file of documents per shard; statistics go "
            "to OUT/.alignkit/stats.json. Re-running the same command skips finished shards."
        ),
        inputs=("shards", "SHARD", "WARC/WET files or glob patterns"),
        executor=True,
    )
    _add_quality_flags(p)
    add_demo_flags(p)
    p.set_defaults(handler=_cmd_prepare)
    return p


def _setting_value(text: str) -> Any:
    """A quality setting from the command line: a number, none/off, true/false, or JSON."""
    lowered = text.strip().lower()
    if lowered in ("none", "off", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    try:
        return json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number, none or JSON value: {text!r}") from None


def _add_quality_flags(p: argparse.ArgumentParser) -> None:
    """One flag per quality setting, generated from the Rust defaults so they never drift."""
    from alignkit.text.quality import default_quality_settings

    group = p.add_argument_group(
        "quality filters",
        "override a filter's threshold; 'none' turns that filter off (see docs/quality-filters.md)",
    )
    for name, default in sorted(default_quality_settings().items()):
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            group.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"(default: {default})",
            )
        else:
            group.add_argument(
                flag,
                dest=name,
                type=_setting_value,
                metavar="VALUE",
                default=argparse.SUPPRESS,
                help=f"(default: {json.dumps(default)})",
            )


def _cmd_prepare(args: argparse.Namespace) -> int:
    from alignkit.stage import META_DIR, config_from_args
    from alignkit.text.quality import default_quality_settings
    from alignkit.webr.prepare import PrepareConfig, check_prepared, docs_per_second, run_prepare

    shards = list(args.shards)
    if args.demo:
        if shards:
            raise ValueError("give either SHARD arguments or --demo, not both")
        from pathlib import Path

        from alignkit.webr.pipeline import write_demo_input

        # Generated once per (shards, docs) beside the bookkeeping, not among the documents: a
        # re-run finds the same files and resumes.
        demo_base = Path(args.out) / META_DIR
        shards = [str(p) for p in write_demo_input(demo_base, args.demo_shards, args.demo_docs)]
    if not shards:
        raise ValueError("no input: give SHARD paths/globs, or --demo for the built-in demo")
    overrides = {k: getattr(args, k) for k in default_quality_settings() if hasattr(args, k)}
    config = config_from_args(PrepareConfig, args, defaults={"quality_settings": overrides})
    report = run_prepare(
        config,
        shards,
        args.out,
        overwrite=args.overwrite,
        progress=stage_progress(args),
        executor=executor_from_args(args),
    )
    stats = report.stats

    def counted(group: str) -> str:
        found = sorted((k, v) for k, v in stats.get(group, {}).items() if v)
        return ", ".join(f"{k}={v}" for k, v in found) or "none"

    print(
        f"{report.tasks_total - len(report.failures)}/{report.tasks_total} shards "
        f"({report.tasks_done_before} already done), "
        f"{stats.get('documents_kept', 0)} documents from {stats.get('records_seen', 0)} records, "
        f"{docs_per_second(stats):,} docs/s per worker\n"
        f"skipped (no text): {counted('skipped')}\ndropped by filters: {counted('dropped')}\n"
        f"faults: {counted('faults')}\noutput: {args.out} (statistics in {META_DIR}/stats.json)"
    )
    for task, why in sorted(report.failures.items()):
        print(f"FAILED {task}: {why}", file=sys.stderr)
    check_prepared(report)
    return 0


def _add_dedup(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from alignkit.webr.dedup import DedupConfig

    p = add_stage_command(
        sub,
        "dedup",
        DedupConfig,
        help="remove exact and near-duplicate documents across shards",
        description=(
            "Remove exact duplicates (normalised text hashes) and near duplicates (MinHash + LSH, "
            "clusters across all inputs, one representative kept per cluster) from the outputs "
            "of `webr prepare` (*.jsonl.gz, *.jsonl, *.parquet) or any JSONL/Parquet with a text "
            "field. Writes the kept documents per input shard in the same format; signatures, "
            "clusters and statistics go to OUT/.alignkit/. Re-running the same command resumes; "
            "a changed configuration is refused unless --overwrite is given."
        ),
        inputs=("inputs", "INPUT", "document shards or glob patterns"),
        executor=True,
    )
    p.set_defaults(handler=_cmd_dedup)
    return p


def _cmd_dedup(args: argparse.Namespace) -> int:
    from alignkit.stage import META_DIR, config_from_args
    from alignkit.webr.dedup import DedupConfig, check_deduped, run_dedup

    if not args.inputs:
        raise ValueError("no input: give INPUT files or glob patterns (outputs of webr prepare)")
    config = config_from_args(DedupConfig, args)
    report = run_dedup(
        config,
        args.inputs,
        args.out,
        overwrite=args.overwrite,
        progress=stage_progress(args),
        executor=executor_from_args(args),
    )
    stats = report.stats
    print(
        f"{stats['docs_kept']}/{stats['docs_in']} documents kept from {report.tasks_total} "
        f"shard(s): {stats['exact_removed']} exact and {stats['near_removed']} near duplicates "
        f"removed, {stats['duplicate_clusters']} clusters "
        f"(threshold {stats['threshold']}, {stats['bands']} bands x {stats['rows']} rows), "
        f"{report.seconds:.1f}s\noutput: {args.out} (statistics in {META_DIR}/stats.json)"
    )
    check_deduped(report)
    return 0


def _add_score(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from alignkit.webr.score import ScoreConfig

    p = add_stage_command(
        sub,
        "score",
        ScoreConfig,
        help="diversity and quality report of instruction datasets",
        description=(
            "Compare instruction datasets (JSONL, JSONL.gz, Parquet or datasets saved with "
            "save_to_disk; chat `messages`, TRL prompt/completion or instruction/output rows): "
            "embedding diversity, Vendi score, nearest-neighbour distances, cross-dataset "
            "coverage, lengths in tokens, turns, languages and duplicate rate. Writes "
            "REPORT_DIR/report.json and a self-contained REPORT_DIR/report.html. Embeddings "
            "(all-MiniLM-L6-v2 by default, computed without torch) are cached, so scoring again "
            "is fast."
        ),
        inputs=("datasets", "DATASET", "dataset files or directories"),
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.set_defaults(handler=_cmd_score)
    return p


def _cmd_score(args: argparse.Namespace) -> int:
    from alignkit.stage import config_from_args
    from alignkit.webr.score import ScoreConfig, score_datasets

    datasets = [args.datasets] if isinstance(args.datasets, str) else list(args.datasets)
    if not datasets:
        raise ValueError("no input: give one or more DATASET files or directories")
    config = config_from_args(ScoreConfig, args)
    if args.no_cache:
        config = config.replace(cache_dir=None)
    report = score_datasets(
        datasets, args.out, config, progress=not args.no_progress, overwrite=args.overwrite
    )
    for entry in report["datasets"]:
        parts = [f"{entry['name']}: {entry['examples']} examples"]
        if entry["bad_rows"]:
            parts.append(f"{entry['bad_rows']} bad rows skipped")
        for field, div in entry["diversity"].items():
            if div:
                parts.append(
                    f"{field} diversity {div['embedding_diversity']:.4f}, "
                    f"Vendi {div['vendi_score']:.2f}"
                )
        parts.append(f"duplicates {entry['duplicate_rate']:.1%}")
        print(", ".join(parts))
    print(f"report: {args.out}/report.json, {args.out}/report.html ({report['seconds']:.1f}s)")
    return 0


def _add_synthesize(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from alignkit.webr.synthesize import SynthesizeConfig

    p = add_stage_command(
        sub,
        "synthesize",
        SynthesizeConfig,
        help="turn web documents into instruction-response pairs with an LLM",
        description=(
            "WebR synthesis: infer each page's author, draw its category (web as instruction or "
            "as response, whole page or one part, 2:2:1:1), ask the LLM for a request and a "
            "response, drop failures, refusals and near-duplicate requests, and write chat "
            "`messages` JSONL with provenance metadata to OUT/synthetic.jsonl.gz (statistics in "
            "OUT/.alignkit/stats.json). DOCS are outputs of `webr prepare` / `webr dedup` "
            "(*.jsonl.gz, *.jsonl, *.parquet with text, url, id). Documents are processed in "
            "batches whose LLM answers are cached in OUT/.alignkit, so re-running resumes "
            "without re-sending; a changed configuration is refused unless --overwrite is given."
        ),
        inputs=("docs", "DOCS", "document files or glob patterns"),
        exclude=("llm",),
        executor=True,
    )
    add_llm_flag(p)
    p.add_argument("--retry-failed", action="store_true", help="re-send earlier failed requests")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the first prompt of each step and exit, calling no LLM",
    )
    p.set_defaults(handler=_cmd_synthesize)
    return p


def _synthesis_summary(stats: dict[str, Any]) -> str:
    """What `webr synthesize` prints: the examples written, then each LLM step's accounting."""
    lines = []
    for step, usage in stats["llm"].items():
        drops = ", ".join(f"{k}={v}" for k, v in sorted(usage["dropped"].items())) or "none"
        lines.append(
            f"  {step}: {usage['requests']} requests ({usage['sent']} sent, "
            f"{usage['cached']} cached), {usage['failures']} failed; dropped: {drops}"
        )
    fam = stats["families"]
    tasks = stats["tasks"]
    return (
        f"{stats['written']} examples written ({fam['instruction']} web-as-instruction, "
        f"{fam['response']} web-as-response) from {stats['documents']['used']} documents, "
        f"{sum(stats['dropped'].values())} dropped, {stats['failures']} LLM failures; "
        f"{tasks['run']} of {tasks['total']} batches run now ({tasks['done_before']} done "
        f"before), {stats['sent_now']} requests sent now\n" + "\n".join(lines)
    )


def _cmd_synthesize(args: argparse.Namespace) -> int:
    from alignkit.stage import config_from_args
    from alignkit.webr.synthesize import SynthesizeConfig, synthesize

    if not args.docs:
        raise ValueError("no input: give DOCS files or glob patterns (outputs of webr prepare)")
    config = config_from_args(SynthesizeConfig, args)
    stats = synthesize(
        args.docs,
        args.out,
        config=config,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        retry_failed=args.retry_failed,
        dry_run=args.dry_run,
        executor=None if args.dry_run else executor_from_args(args),
    )
    if args.dry_run:
        return 0
    print(_synthesis_summary(stats) + f"\noutput: {stats['output']}")
    if stats["failures"]:
        print(
            f"{stats['failures']} LLM call(s) failed; re-run with --retry-failed", file=sys.stderr
        )
        return 1
    return 0


def _add_run(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from alignkit.stage import add_config_arguments
    from alignkit.webr.pipeline import RUN_DEFAULTS, SECTIONS, config_classes

    p = sub.add_parser(
        "run",
        help="the whole WebR pipeline: prepare, dedup, synthesize, score",
        description=(
            "Run every WebR stage in one resumable command: WARC shards are prepared into "
            "OUT/1-prepare, deduplicated into OUT/2-dedup, turned into chat `messages` by the LLM "
            "in OUT/3-synthesize and scored in OUT/4-score; OUT/run.json summarises every stage. "
            "Re-running skips finished work (the stage kit's markers); a stage whose "
            "configuration changed is refused unless --overwrite is given. Every option of every "
            "stage can be set in --config FILE, in sections named after the stages "
            "(`prepare:`, `dedup:`, `synthesize:`, `score:`; keys as in `alignkit webr STAGE "
            "--help`); the flags below set the most common ones and win over the file. --demo "
            f"uses demo defaults unless set: {_demo_defaults_text()}."
        ),
    )
    p.add_argument("shards", nargs="*", metavar="SHARD", help="WARC/WET files or glob patterns")
    p.add_argument("--out", required=False, help="output directory (required)")
    add_llm_flag(p)
    classes = config_classes()
    for section, keys in RUN_FLAGS.items():
        group = p.add_argument_group(f"{section} options")
        cls = classes[section]
        add_config_arguments(
            group,
            cls,
            exclude=tuple(set(cls.field_names()) - set(keys)),
            defaults=RUN_DEFAULTS.get(section),
        )
    p.add_argument(
        "--cache-dir", default=None, help="score: embedding cache (default: the score stage's)"
    )
    add_config_sections(p, SECTIONS)
    p.add_argument(
        "--retry-failed", action="store_true", help="synthesize: re-send earlier failed requests"
    )
    p.add_argument("--skip-score", action="store_true", help="do not run the score stage")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="run prepare and dedup, print the first synthesis prompts, call no LLM, skip score",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="redo the stages whose recorded configuration differs",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_executor_flags(p)
    add_demo_flags(p)
    p.set_defaults(handler=_cmd_run)
    return p


# The stage options `webr run` has flags for (every option is settable in a config section).
RUN_FLAGS: dict[str, tuple[str, ...]] = {
    "prepare": ("mode", "languages", "workers"),
    "dedup": ("threshold",),
    "synthesize": (
        "seed",
        "target_size",
        "max_docs",
        "temperature",
        "frequency_penalty",
        "max_tokens",
        "max_page_chars",
        "concurrency",
    ),
}
# Stage options `--demo` uses unless given: sized so that the embedded 135M model finishes the
# whole pipeline in a few minutes on two CPU cores. The demo shards are multilingual and the
# embedded model writes English only (main-content extraction is `webr run`'s own default).
DEMO_DEFAULTS: dict[str, dict[str, Any]] = {
    "prepare": {"languages": ["en"]},
    "synthesize": {
        "max_docs": 12,
        "max_tokens": 384,
        "max_page_chars": 1200,
        "frequency_penalty": 0.5,
    },
}


def _demo_defaults_text() -> str:
    return ", ".join(
        f"{section}.{key}={','.join(v) if isinstance(v, list) else v}"
        for section, values in DEMO_DEFAULTS.items()
        for key, v in values.items()
    )


def run_sections(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Each stage's options for `webr run`: flags win over the config file's top-level keys and
    sections, which win over the demo defaults (with --demo), which win over the stages'."""
    from alignkit._defaults import DEFAULT_LLM_SPEC
    from alignkit.webr.pipeline import SECTIONS

    sections = config_sections(args, SECTIONS)
    if args.demo:
        for section, defaults in DEMO_DEFAULTS.items():
            for key, value in defaults.items():
                sections[section].setdefault(key, value)
    for section, keys in RUN_FLAGS.items():
        for key in keys:
            if hasattr(args, key):
                sections[section][key] = getattr(args, key)
    if "workers" in vars(args):  # --workers: prepare's processes and dedup's threads
        sections["dedup"].setdefault("workers", args.workers)
    if args.llm != DEFAULT_LLM_SPEC or "llm" not in sections["synthesize"]:
        sections["synthesize"]["llm"] = args.llm
    if args.cache_dir is not None:
        sections["score"]["cache_dir"] = args.cache_dir
    return sections


def _cmd_run(args: argparse.Namespace) -> int:
    from alignkit.webr.pipeline import PipelineOptions, run_pipeline, write_demo_input

    shards = [args.shards] if isinstance(args.shards, str) else list(args.shards)
    if args.demo:
        if shards:
            raise ValueError("give either SHARD arguments or --demo, not both")
    elif not shards:
        raise ValueError("no input: give SHARD paths/globs, or --demo for the built-in demo")
    options = PipelineOptions.from_sections(run_sections(args))
    if args.demo:
        shards = [str(p) for p in write_demo_input(args.out, args.demo_shards, args.demo_docs)]
    run = run_pipeline(
        shards,
        args.out,
        options=options,
        overwrite=args.overwrite,
        dry_run=args.dry_run,
        skip_score=args.skip_score,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
        executor=executor_from_args(args),
    )
    print(f"summary: {args.out}/run.json ({run['seconds']:.1f}s)")
    failures = run["stages"].get("synthesize", {}).get("failures", 0)
    if failures:
        print(f"{failures} LLM call(s) failed; re-run with --retry-failed", file=sys.stderr)
        return 1
    return 0
