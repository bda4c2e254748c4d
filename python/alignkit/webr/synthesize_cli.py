"""`alignkit webr synthesize DOCS... --out DIR --llm SPEC`: the command-line face of
`alignkit.webr.synthesize`.

`add_synthesize_parser(webr_subparsers)` registers the subcommand; the main CLI applies `--config`
files (keys = option names) and checks `--out`, as for every other job.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from alignkit.cli.options import add_llm_flag


def add_synthesize_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `synthesize` on the `webr` subparsers; returns the new parser."""
    p = sub.add_parser(
        "synthesize",
        help="turn web documents into instruction-response pairs with an LLM",
        description=(
            "WebR synthesis: infer each page's author, draw its category (web as instruction or "
            "as response, whole page or one part, 2:2:1:1), ask the LLM for a request and a "
            "response, drop failures, refusals and near-duplicate requests, and write chat "
            "`messages` JSONL with provenance metadata plus stats.json. DOCS are outputs of "
            "`webr prepare` / `webr dedup` (*.jsonl.gz, *.jsonl, *.parquet with text, url, id). "
            "Every LLM answer is cached in OUT, so re-running resumes without re-sending."
        ),
    )
    p.add_argument("docs", nargs="*", metavar="DOCS", help="document files or glob patterns")
    p.add_argument("--out", required=False, help="output directory (required)")
    p.add_argument("--config", help="YAML, TOML or JSON file of options (keys = option names)")
    add_llm_flag(p)
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument(
        "--target-size", type=int, default=None, help="examples to write, mixed 2:1 (default: all)"
    )
    p.add_argument("--max-docs", type=int, default=None, help="use at most this many documents")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature")
    p.add_argument(
        "--frequency-penalty",
        type=float,
        default=None,
        help="OpenAI frequency_penalty sent with every request (keeps small models out of "
        "repetition loops; default: not sent)",
    )
    p.add_argument("--max-tokens", type=int, default=2048, help="max tokens of a response")
    p.add_argument("--concurrency", type=int, default=16, help="LLM requests in flight")
    p.add_argument("--max-page-chars", type=int, default=20000, help="cut pages longer than this")
    p.add_argument(
        "--tokenizer",
        default=None,
        help="tokenizer.json for request dedup (default: all-MiniLM-L6-v2's, else words)",
    )
    p.add_argument("--dedup-threshold", type=float, default=0.7, help="Jaccard threshold")
    p.add_argument("--no-gzip", action="store_true", help="write synthetic.jsonl uncompressed")
    p.add_argument("--retry-failed", action="store_true", help="re-send earlier failed requests")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the first prompt of each stage and exit, calling no LLM",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="accept a configuration other than OUT's"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_cmd_synthesize)
    return p


def progress_mode(disabled: bool) -> bool | str:
    """Bars on a terminal, periodic log lines otherwise (requests, tokens, failures, ETA)."""
    if disabled:
        return False
    return True if sys.stderr.isatty() else "log"


def _cmd_synthesize(args: argparse.Namespace) -> int:
    from alignkit.webr.synthesize import SynthesizeConfig, stage_counts, synthesize

    if not args.docs:
        raise ValueError("no input: give DOCS files or glob patterns (outputs of webr prepare)")
    if not args.llm:
        raise ValueError("--llm must not be empty, e.g. transformers or openai:MODEL@URL")
    if args.concurrency < 1:
        raise ValueError("--concurrency must be >= 1")
    config = SynthesizeConfig(
        seed=args.seed,
        target_size=args.target_size,
        max_docs=args.max_docs,
        temperature=args.temperature,
        frequency_penalty=args.frequency_penalty,
        max_tokens=args.max_tokens,
        max_page_chars=args.max_page_chars,
        dedup_threshold=args.dedup_threshold,
        tokenizer=args.tokenizer,
        compress=not args.no_gzip,
    )
    stats = synthesize(
        args.docs,
        args.out,
        args.llm,
        config,
        concurrency=args.concurrency,
        progress=progress_mode(args.no_progress),
        overwrite=args.overwrite,
        retry_failed=args.retry_failed,
        dry_run=args.dry_run,
    )
    if args.dry_run:
        return 0
    lines = []
    for name, stage in stats["stages"].items():
        drops = ", ".join(f"{k}={v}" for k, v in sorted(stage["drops"].items())) or "none"
        lines.append(
            f"  {name}: {stage['requests']} requests ({stage['sent']} sent, "
            f"{stage['from_cache']} cached), {stage['failures']} failed; dropped: {drops}"
        )
    fam = stats["families"]
    print(
        f"{stats['written']} examples written ({fam['instruction']} web-as-instruction, "
        f"{fam['response']} web-as-response) from {stats['documents']['used']} documents, "
        f"{sum(stage_counts(stats).values())} dropped, {stats['failures']} LLM failures\n"
        + "\n".join(lines)
        + f"\noutput: {stats['output']} (stats.json)"
    )
    return 1 if stats["failures"] else 0
