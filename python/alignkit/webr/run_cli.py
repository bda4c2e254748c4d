"""`alignkit webr run SHARD... --out DIR --llm SPEC`: the command-line face of
`alignkit.webr.pipeline.run_pipeline` (prepare -> dedup -> synthesize -> score).

`add_run_parser(webr_subparsers)` registers the subcommand; the main CLI applies `--config`
files (keys = option names) and checks `--out`, as for every other job.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from alignkit.cli.options import add_demo_flags, add_llm_flag
from alignkit.webr.synthesize_cli import progress_mode

# Synthesis settings `--demo` uses unless given: sized so that the embedded 135M model finishes
# the whole pipeline in a few minutes on two CPU cores.
DEMO_SYNTHESIS: dict[str, Any] = {
    "max_docs": 12,
    "max_tokens": 384,
    "max_page_chars": 1200,
    "frequency_penalty": 0.5,
}
# The demo shards are multilingual; the embedded model writes English only.
DEMO_LANGS = ["en"]
# Demo pages carry menus, ads and footers; a 135M model copes better without them.
DEMO_MODE = "main"
SYNTHESIS_DEFAULTS: dict[str, Any] = {
    "max_docs": None,
    "max_tokens": 2048,
    "max_page_chars": 20000,
    "frequency_penalty": None,
}


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_run_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `run` on the `webr` subparsers; returns the new parser."""
    p = sub.add_parser(
        "run",
        help="the whole WebR pipeline: prepare, dedup, synthesize, score",
        description=(
            "Run every WebR stage in one resumable command: WARC shards are prepared into "
            "OUT/1-prepare, deduplicated into OUT/2-dedup, turned into chat `messages` by the LLM "
            "in OUT/3-synthesize and scored in OUT/4-score; OUT/run.json summarises every stage. "
            "Re-running skips finished stages and shards; a stage whose configuration changed is "
            "refused unless --overwrite is given."
        ),
    )
    p.add_argument("shards", nargs="*", metavar="SHARD", help="WARC/WET files or glob patterns")
    p.add_argument("--out", required=False, help="output directory (required)")
    p.add_argument("--config", help="YAML, TOML or JSON file of options (keys = option names)")
    add_llm_flag(p)
    p.add_argument(
        "--mode",
        choices=["plain", "main"],
        default=None,
        help="prepare: text extraction mode ('main' = boilerplate removed); default plain "
        f"({DEMO_MODE} with --demo)",
    )
    p.add_argument(
        "--langs",
        type=_comma_list,
        default=[],
        help="prepare: keep only these languages (ISO 639-1, comma-separated); default: all "
        "(en with --demo)",
    )
    p.add_argument(
        "--workers", type=int, default=1, help="prepare: shards in parallel; dedup: threads"
    )
    p.add_argument(
        "--threshold", type=float, default=0.7, help="dedup: Jaccard threshold for near duplicates"
    )
    p.add_argument(
        "--target-size",
        type=int,
        default=None,
        help="synthesize: examples to write, mixed 2:1 (default: all)",
    )
    p.add_argument(
        "--max-docs",
        type=int,
        default=None,
        help=f"synthesize: use at most this many documents (default: all; "
        f"{DEMO_SYNTHESIS['max_docs']} with --demo)",
    )
    p.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help=f"synthesize: max tokens of a response (default 2048; "
        f"{DEMO_SYNTHESIS['max_tokens']} with --demo)",
    )
    p.add_argument(
        "--max-page-chars",
        type=int,
        default=None,
        help=f"synthesize: cut pages longer than this (default 20000; "
        f"{DEMO_SYNTHESIS['max_page_chars']} with --demo)",
    )
    p.add_argument(
        "--temperature", type=float, default=0.7, help="synthesize: sampling temperature"
    )
    p.add_argument(
        "--frequency-penalty",
        type=float,
        default=None,
        help="synthesize: OpenAI frequency_penalty of every request (default: not sent; "
        f"{DEMO_SYNTHESIS['frequency_penalty']} with --demo)",
    )
    p.add_argument("--seed", type=int, default=0, help="synthesize: seed of every random choice")
    p.add_argument("--concurrency", type=int, default=16, help="synthesize: LLM requests in flight")
    p.add_argument(
        "--retry-failed", action="store_true", help="synthesize: re-send earlier failed requests"
    )
    p.add_argument(
        "--cache-dir", default=None, help="score: embedding cache (default: the score stage's)"
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
        help="discard stage results made with another configuration",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_demo_flags(p)
    p.set_defaults(handler=_cmd_run)
    return p


def _cmd_run(args: argparse.Namespace) -> int:
    from alignkit.webr.pipeline import (
        PipelineError,
        PipelineOptions,
        run_pipeline,
        write_demo_input,
    )

    shards = [args.shards] if isinstance(args.shards, str) else list(args.shards)
    if args.demo:
        if shards:
            raise ValueError("give either SHARD arguments or --demo, not both")
        shards = [str(p) for p in write_demo_input(args.out, args.demo_shards, args.demo_docs)]
    if not shards:
        raise ValueError("no input: give SHARD paths/globs, or --demo for the built-in demo")
    if not args.llm and not args.dry_run:
        raise ValueError("--llm must not be empty, e.g. transformers or openai:MODEL@URL")
    sizes: dict[str, Any] = {
        name: value if (value := getattr(args, name)) is not None else default
        for name, default in (DEMO_SYNTHESIS if args.demo else SYNTHESIS_DEFAULTS).items()
    }
    langs = _comma_list(args.langs) if isinstance(args.langs, str) else list(args.langs)
    if args.demo and not langs:
        langs = list(DEMO_LANGS)
    mode = args.mode or (DEMO_MODE if args.demo else "plain")
    options = PipelineOptions(
        mode=mode,
        langs=tuple(langs),
        workers=args.workers,
        threshold=args.threshold,
        target_size=args.target_size,
        seed=args.seed,
        concurrency=args.concurrency,
        temperature=args.temperature,
        **sizes,
        score_cache_dir=args.cache_dir,
    )
    try:
        run = run_pipeline(
            shards,
            args.out,
            args.llm,
            options,
            overwrite=args.overwrite,
            dry_run=args.dry_run,
            skip_score=args.skip_score,
            retry_failed=args.retry_failed,
            progress=progress_mode(args.no_progress),
        )
    except PipelineError as exc:
        print(f"alignkit: error: {exc}", file=sys.stderr)
        return 1
    print(f"summary: {args.out}/run.json ({run['seconds']:.1f}s)")
    failures = run["stages"].get("synthesize", {}).get("failures", 0)
    if failures:
        print(f"{failures} LLM call(s) failed; re-run with --retry-failed", file=sys.stderr)
        return 1
    return 0
