"""`alignkit webr dedup INPUT... --out DIR`: the command-line face of `alignkit.webr.dedup`.

`add_dedup_parser(webr_subparsers)` registers the subcommand; the main CLI applies `--config`
files (keys = option names) and checks `--out`, as for every other job.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_dedup_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `dedup` on the `webr` subparsers; returns the new parser."""
    p = sub.add_parser(
        "dedup",
        help="remove exact and near-duplicate documents across shards",
        description=(
            "Remove exact duplicates (normalised text hashes) and near duplicates (MinHash + LSH, "
            "clusters across all inputs, one representative kept per cluster) from the outputs "
            "of `webr prepare` (*.jsonl.gz, *.jsonl, *.parquet) or any JSONL/Parquet with a text "
            "field. Writes the kept documents per input shard in the same format, plus "
            "stats.json. Re-running the same command resumes; a changed configuration is refused "
            "unless --overwrite is given."
        ),
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="document shards or glob patterns")
    p.add_argument("--out", required=False, help="output directory (required)")
    p.add_argument("--config", help="YAML, TOML or JSON file of options (keys = option names)")
    p.add_argument(
        "--threshold", type=float, default=0.7, help="Jaccard threshold for near duplicates"
    )
    p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations")
    p.add_argument(
        "--bands", type=int, default=None, help="LSH bands (default: chosen from --threshold)"
    )
    p.add_argument("--rows", type=int, default=None, help="LSH rows per band (with --bands)")
    p.add_argument("--shingle", choices=["word", "char"], default="word", help="n-gram unit")
    p.add_argument("--ngram", type=int, default=5, help="shingle size in words or characters")
    p.add_argument(
        "--normalize",
        choices=["none", "lower", "strict"],
        default="lower",
        help="lower = lowercase + collapse whitespace; strict = also drop punctuation",
    )
    p.add_argument("--seed", type=int, default=1, help="permutation seed")
    p.add_argument(
        "--scheme",
        choices=["fast", "datasketch"],
        default="fast",
        help="datasketch = bit-exact datasketch MinHash values (slower)",
    )
    p.add_argument("--no-exact", action="store_true", help="skip exact-duplicate removal")
    p.add_argument("--no-near", action="store_true", help="skip near-duplicate removal")
    p.add_argument(
        "--keep",
        choices=["first", "longest"],
        default="first",
        help="which cluster member survives (first in input order, or longest text)",
    )
    p.add_argument("--text-field", default="text", help="JSON field / column holding the text")
    p.add_argument("--id-field", default="id", help="document id field (cluster file)")
    p.add_argument(
        "--partitions", type=int, default=16, help="band-bucket files (bounds memory per step)"
    )
    p.add_argument(
        "--write-clusters",
        action="store_true",
        help="also write clusters.jsonl.gz (members of every duplicate cluster)",
    )
    p.add_argument("--workers", type=int, default=None, help="threads (default: all cores)")
    p.add_argument(
        "--overwrite", action="store_true", help="discard results made with another configuration"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_cmd_dedup)
    return p


def _cmd_dedup(args: argparse.Namespace) -> int:
    from alignkit.webr.dedup import DedupConfig, dedup_files

    if not args.inputs:
        raise ValueError("no input: give INPUT files or glob patterns (outputs of webr prepare)")
    config = DedupConfig(
        threshold=args.threshold,
        num_perm=args.num_perm,
        bands=args.bands,
        rows=args.rows,
        shingle=args.shingle,
        ngram=args.ngram,
        normalize=args.normalize,
        seed=args.seed,
        scheme=args.scheme,
        exact=not args.no_exact,
        near=not args.no_near,
        keep=args.keep,
        text_field=args.text_field,
        id_field=args.id_field,
        partitions=args.partitions,
        write_clusters=args.write_clusters,
    )
    stats = dedup_files(
        args.inputs,
        args.out,
        config,
        workers=args.workers,
        progress=not args.no_progress and sys.stderr.isatty(),
        overwrite=args.overwrite,
    )
    print(
        f"{stats['docs_kept']}/{stats['docs_in']} documents kept from {stats['shards_total']} "
        f"shard(s): {stats['exact_removed']} exact and {stats['near_removed']} near duplicates "
        f"removed, {stats['duplicate_clusters']} clusters "
        f"(threshold {stats['threshold']}, {stats['bands']} bands x {stats['rows']} rows), "
        f"{stats['seconds']:.1f}s\noutput: {args.out} (stats.json)"
    )
    return 0
