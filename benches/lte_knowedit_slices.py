"""Split KnowEdit's ZsRE test file into a training slice and held-out edits for the LTE benchmark
(BENCHMARKS.md, LTE section): the first N edits train, the last M are evaluated, disjoint.

    python benches/lte_knowedit_slices.py --knowedit ../shared/data/knowedit --out bench-data/lte
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knowedit", required=True, help="folder holding ZsRE/ZsRE-test-all.json")
    parser.add_argument("--out", required=True, help="folder for the two slices")
    parser.add_argument("--train", type=int, default=300, help="first N edits to train on")
    parser.add_argument("--held-out", type=int, default=100, help="last M edits to evaluate")
    args = parser.parse_args()
    source = Path(args.knowedit) / "ZsRE" / "ZsRE-test-all.json"
    if not source.is_file():
        print(f"not found: {source}", file=sys.stderr)
        return 1
    records = json.loads(source.read_text(encoding="utf-8"))
    if args.train + args.held_out > len(records):
        print(f"{source} has {len(records)} edits, fewer than asked", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slices = {
        "zsre_train_slice.json": records[: args.train],
        "zsre_heldout.json": records[len(records) - args.held_out :],
    }
    for name, part in slices.items():
        (out / name).write_text(json.dumps(part, ensure_ascii=False), encoding="utf-8")
        print(f"{out / name}: {len(part)} edits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
