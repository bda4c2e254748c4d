"""Side-by-side embedding speed: alignkit's MiniLM encoder vs sentence-transformers, same CPU.

The workload is the score stage's: real instructions and answers of mixed length (FollowBench
instructions and targets, self-instruct seed tasks with their instances, Vicuna and MT-bench
questions, read from ../shared when present, or one text per line of --texts), batch size 32,
truncation at the model's 256 tokens. Each round runs every encoder once, in rotating order, on
the same texts; we report the median seconds over rounds, texts per second, the speed ratio to
sentence-transformers and the largest difference of our vectors from its vectors.

Run:  python benches/bench_embed.py --runs 3 --json bench-data/embed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from alignkit.embed import encoder as embed

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_texts(root: Path) -> list[str]:
    """Instructions, answers and questions from the shared FollowBench and Lion files."""
    texts: list[str] = []
    for path in sorted((root / "followbench" / "data").glob("*.json")):
        for row in json.loads(path.read_text(encoding="utf-8")):
            pair = (row.get("instruction"), row.get("target"))
            texts.extend(v for v in pair if isinstance(v, str))
    with open(root / "lion" / "seed_tasks.jsonl", encoding="utf-8") as fh:
        for line in fh:
            task = json.loads(line)
            texts.append(task["instruction"])
            for instance in task.get("instances", []):
                texts.extend(v for v in (instance.get("input"), instance.get("output")) if v)
    for name in ("vicuna_bench_questions.jsonl", "mt_bench_questions.jsonl"):
        with open(root / "lion" / name, encoding="utf-8") as fh:
            for line in fh:
                question = json.loads(line)
                texts.extend(t for t in question.get("turns", []) if isinstance(t, str))
    return texts


def load_texts(path: str | None, limit: int) -> list[str]:
    if path:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    elif (SHARED / "followbench").is_dir():
        lines = shared_texts(SHARED)
    else:
        sys.exit("no texts: ../shared is not present; pass --texts FILE (one text per line)")
    texts = [t for t in lines if t.strip()][:limit]
    if not texts:
        sys.exit("no non-empty texts to embed")
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", help="a file with one text per line (default: ../shared data)")
    ap.add_argument("-n", type=int, default=2000, help="texts to embed")
    ap.add_argument("--runs", type=int, default=3, help="rounds (each runs every encoder once)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument(
        "--encoders",
        nargs="+",
        default=["torch", "sentence-transformers"],
        choices=["torch", "numpy", "sentence-transformers"],
        help="encoders to compare (add numpy for the no-torch fallback; it is slow)",
    )
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()

    import torch  # the anchor needs it; imported here so the versions are recorded

    texts = load_texts(args.texts, args.n)
    model_dir = str(embed.resolve_model_dir())
    encoders = {name: embed.get_encoder(model_dir, name) for name in args.encoders}
    tokenizer = embed.load_tokenizer(model_dir, 256)
    lengths = [len(e.ids) for e in tokenizer.encode_batch(texts)]
    print(
        f"{len(texts)} texts, tokens per text: median {statistics.median(lengths):.0f}, "
        f"mean {statistics.mean(lengths):.1f}, max {max(lengths)}; batch {args.batch_size}; "
        f"torch threads {torch.get_num_threads()}",
        flush=True,
    )
    seconds: dict[str, list[float]] = {name: [] for name in encoders}
    vectors: dict[str, np.ndarray] = {}
    names = list(encoders)
    for round_ in range(args.runs):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            start = time.perf_counter()
            vectors[name] = encoders[name].encode(texts, batch_size=args.batch_size)
            seconds[name].append(time.perf_counter() - start)
            print(f"round {round_ + 1} {name}: {seconds[name][-1]:.2f} s", flush=True)

    anchor = "sentence-transformers" if "sentence-transformers" in encoders else None
    results: list[dict[str, Any]] = []
    for name, runs in seconds.items():
        median = statistics.median(runs)
        row: dict[str, Any] = {
            "encoder": name,
            "median_s": round(median, 3),
            "runs_s": [round(r, 3) for r in runs],
            "texts_per_s": round(len(texts) / median, 1),
        }
        if anchor and name != anchor:
            row["speedup_vs_sentence_transformers"] = round(
                statistics.median(seconds[anchor]) / median, 2
            )
            diff = vectors[name] - vectors[anchor]
            row["max_abs_diff"] = float(np.abs(diff).max())
            row["min_cosine"] = float((vectors[name] * vectors[anchor]).sum(axis=1).min())
        results.append(row)
        print(json.dumps(row), flush=True)

    if args.json:
        import sentence_transformers

        meta = {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "sentence_transformers": sentence_transformers.__version__,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "texts": len(texts),
            "batch_size": args.batch_size,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
