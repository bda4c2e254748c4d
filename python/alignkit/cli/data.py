"""`alignkit data demo-data`: the data command group."""

from __future__ import annotations

import argparse


def add_parsers(
    commands: argparse._SubParsersAction, only: str | None = None
) -> dict[str, argparse.ArgumentParser]:
    """Register `data` and its actions; returns {"data demo-data": parser}."""
    data = commands.add_parser(
        "data", help="datasets and demo data", description="Dataset utilities."
    )
    sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    return {"data demo-data": _add_demo_data(sub)}


def _add_demo_data(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo-data",
        help="write deterministic, realistic demo WARC shards",
        description="Render the built-in demo articles into Common Crawl-like WARC shards (news, "
        "blog, forum, docs and shop layouts with boilerplate; several languages and encodings; "
        "duplicates and junk) for trying the pipeline.",
    )
    p.add_argument("--out", required=False, help="output directory (required)")
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--docs", type=int, default=200, help="pages per shard")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compression", choices=["gzip", "none", "gzip-stream"], default="gzip")
    p.set_defaults(handler=_cmd_demo_data)
    return p


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from alignkit.data.demo import write_demo_shards

    if args.shards < 1 or args.docs < 1:
        raise ValueError("--shards and --docs must be at least 1")
    paths = write_demo_shards(
        args.out,
        n_shards=args.shards,
        docs_per_shard=args.docs,
        seed=args.seed,
        compression=args.compression,
    )
    for path in paths:
        print(path)
    return 0
