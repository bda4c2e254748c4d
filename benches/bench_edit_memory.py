"""Side-by-side benchmark of the edit memory's exact search: alignkit's KnnIndex vs faiss.

Exact top-k inner-product search over unit float32 rows (random normal rows, L2-normalised, as
the shipped MiniLM's embeddings are), alignkit `_core.KnnIndex(normalize=False)` against faiss
`IndexFlatIP`, on the same rows and queries in one process, both on all cores (or
`--threads`). Each timed call
is one `search(queries, k)`; medians of `--repeat` runs, ratios faiss / alignkit. Also timed:
`KnnIndex(normalize=True)` (the EditMemory path, which normalises the queries inside the call),
and building each index. The results are checked equal: ids must agree except where two scores
are within float error of each other (a tie either order may break), and scores to 1e-5.

    python benches/bench_edit_memory.py --json bench_edit_memory.json

faiss-cpu is a benchmark-only dependency (`pip install faiss-cpu`); without it the script says
so and times alignkit alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from alignkit import _core

TIE_TOL = 1e-5


def interleaved(calls: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple]:
    """`(median_s, runs_s, last result)` per call; the calls take turns within each round, so
    load from other processes on a shared machine falls on all of them alike."""
    runs: dict[str, list[float]] = {name: [] for name in calls}
    last: dict[str, Any] = {}
    for _ in range(repeat):
        for name, fn in calls.items():
            start = time.perf_counter()
            last[name] = fn()
            runs[name].append(time.perf_counter() - start)
    return {name: (statistics.median(r), r, last[name]) for name, r in runs.items()}


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d), dtype=np.float32)
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True))


def compare(ids_a, scores_a, ids_b, scores_b) -> dict[str, Any]:
    """How far two top-k results differ; a differing id counts only where no tie explains it."""
    ids_a, ids_b = np.asarray(ids_a, dtype=np.int64), np.asarray(ids_b, dtype=np.int64)
    max_diff = float(np.abs(scores_a - scores_b).max()) if scores_a.size else 0.0
    differ = ids_a != ids_b
    # A tie: the rank's score equals a neighbouring rank's (or, at the last rank, the other
    # side's row there scores as well as ours did).
    near_prev = np.zeros_like(differ)
    near_next = np.zeros_like(differ)
    near_prev[:, 1:] = np.abs(np.diff(scores_a, axis=1)) < TIE_TOL
    near_next[:, :-1] = np.abs(np.diff(scores_a, axis=1)) < TIE_TOL
    near_next[:, -1] = np.abs(scores_a[:, -1] - scores_b[:, -1]) < TIE_TOL
    unexplained = int((differ & ~near_prev & ~near_next).sum())
    return {
        "ids_equal_share": float(1.0 - differ.mean()) if differ.size else 1.0,
        "ids_differ_not_tie": unexplained,
        "max_score_diff": max_diff,
    }


def build_alignkit(rows: np.ndarray, normalize: bool, workers: int | None) -> Any:
    index = _core.KnnIndex(rows.shape[1], normalize=normalize)
    index.add(rows, np.arange(len(rows), dtype=np.uint64), workers=workers)
    return index


def build_faiss(faiss: Any, rows: np.ndarray) -> Any:
    index = faiss.IndexFlatIP(rows.shape[1])
    index.add(rows)
    return index


def searches(
    indexes: dict[str, Any], queries: np.ndarray, k: int, workers: int | None
) -> dict[str, Callable]:
    """One `search(queries, k)` call per index (either library's), each warmed up once."""
    calls = {}
    for name, index in indexes.items():
        # faiss takes its thread count from OpenMP (set in `run`), alignkit per call.
        options = {"workers": workers} if isinstance(index, _core.KnnIndex) else {}
        index.search(queries[:1], k, **options)
        calls[name] = lambda index=index, options=options: index.search(queries, k, **options)
    return calls


def faiss_module() -> Any | None:
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def run(args: argparse.Namespace) -> dict[str, Any]:
    faiss = None if args.no_faiss else faiss_module()
    if faiss is None and not args.no_faiss:
        print(
            "faiss-cpu is NOT installed (pip install faiss-cpu): timing alignkit alone, "
            "no comparison",
            file=sys.stderr,
        )
    if faiss is not None and args.threads:
        faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    results: list[dict[str, Any]] = []

    def record(impl: str, n: int, k: int | None, med: float, runs: list[float], **extra: Any):
        row = {"impl": impl, "n": n, "d": args.d, "queries": args.queries, "k": k}
        row.update(median_s=med, runs_s=runs, **extra)
        results.append(row)
        shown = " ".join(f"{key}={val}" for key, val in extra.items())
        kk = "build" if k is None else f"k={k}"
        print(f"{impl:32} n={n:<7} {kk:6} median {med * 1e3:9.1f} ms  {shown}", flush=True)

    workers = args.threads
    for n in args.n:
        rows = unit_rows(rng, n, args.d)
        queries = unit_rows(rng, args.queries, args.d)
        builds = {"alignkit KnnIndex add": lambda rows=rows: build_alignkit(rows, False, workers)}
        if faiss is not None:
            builds["faiss IndexFlatIP add"] = lambda rows=rows: build_faiss(faiss, rows)
        built = interleaved(builds, args.repeat)
        for name, (med, runs, _) in built.items():
            record(name, n, None, med, runs)
        indexes = {
            "alignkit KnnIndex": built["alignkit KnnIndex add"][2],
            "alignkit KnnIndex normalize=True": build_alignkit(rows, True, args.threads),
        }
        if faiss is not None:
            indexes["faiss IndexFlatIP"] = built["faiss IndexFlatIP add"][2]
        for k in args.k:
            timed = interleaved(searches(indexes, queries, k, args.threads), args.repeat)
            med, runs, (our_ids, our_scores) = timed["alignkit KnnIndex"]
            record("alignkit KnnIndex", n, k, med, runs)
            ours_med = med
            med, runs, (cos_ids, cos_scores) = timed["alignkit KnnIndex normalize=True"]
            extra = same_as("raw", our_ids, our_scores, cos_ids, cos_scores)
            record("alignkit KnnIndex normalize=True", n, k, med, runs, **extra)
            if faiss is not None:
                med, runs, (f_scores, f_ids) = timed["faiss IndexFlatIP"]
                extra = same_as("alignkit", our_ids, our_scores, f_ids, f_scores)
                ratio = round(med / ours_med, 3)
                record("faiss IndexFlatIP", n, k, med, runs, faiss_over_alignkit=ratio, **extra)
    return {
        "meta": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "faiss": getattr(faiss, "__version__", None),
            "faiss_threads": faiss.omp_get_max_threads() if faiss is not None else None,
            "alignkit_workers": args.threads or os.cpu_count(),
            "seed": args.seed,
        },
        "results": results,
    }


def same_as(name: str, ids_a, scores_a, ids_b, scores_b) -> dict[str, Any]:
    """`compare` as record fields; a difference no tie explains is an error."""
    check = compare(ids_a, scores_a, ids_b, scores_b)
    if check["ids_differ_not_tie"] or check["max_score_diff"] > TIE_TOL:
        raise SystemExit(f"results differ from {name}: {check}")
    return {f"vs_{name}_{key}": val for key, val in check.items()}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000], help="stored rows")
    ap.add_argument("--d", type=int, default=384, help="dimensions (MiniLM: 384)")
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--k", type=int, nargs="+", default=[1, 5])
    ap.add_argument("--repeat", type=int, default=5, help="runs per case (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, help="threads for both libraries (default: all cores)")
    ap.add_argument("--no-faiss", action="store_true", help="skip faiss even if installed")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    out = run(args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
