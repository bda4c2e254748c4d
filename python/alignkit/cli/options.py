"""Options shared by several subcommands, defined once so their names and defaults agree."""

from __future__ import annotations

import argparse


def add_demo_flags(p: argparse.ArgumentParser) -> None:
    """`--demo`, `--demo-shards`, `--demo-docs`: run on the built-in demo shards."""
    p.add_argument(
        "--demo",
        action="store_true",
        help="run on built-in demo shards (generated into OUT/_demo_input)",
    )
    p.add_argument("--demo-shards", type=int, default=4, help="demo shards to generate")
    p.add_argument("--demo-docs", type=int, default=250, help="pages per demo shard")
