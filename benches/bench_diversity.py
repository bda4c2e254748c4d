"""Side-by-side benchmark of alignkit's Rust embedding-diversity metrics.

Compares `alignkit._core` with numpy (and faiss-cpu for nearest neighbours, when installed) on
random normal float32 data, reports medians of several runs and writes `--json`.

    python benches/bench_diversity.py --json bench_diversity.json

Cases (all float32, rows L2-normalised inside every timed call):
* pairwise: mean pairwise cosine distance, n=200,000 d=768. Rust `embedding_diversity` vs
  (a) the idiomatic numpy way: normalise, then the mean of the strict upper triangle of
  U @ U.T computed in row blocks of 2048 (O(n² d)), timed in full at `--pairwise-small` rows
  and extrapolated to n by (n/small)² (stated as such), and (b) numpy's sum-norm trick
  (normalise, s = U.sum(0) in float64, (|s|² − n) / (n (n − 1))) at full n. Exactness: against
  a float64 numpy reference using the same identity.
* vendi: Rust `vendi_score` vs numpy normalise + U.T @ U / n + np.linalg.eigvalsh + entropy.
* nn: exact nearest-neighbour distance statistics. Rust `nearest_neighbor_distances` vs
  faiss `IndexFlatIP` on normalised vectors, search k=2 (self skipped), including the
  normalisation; plus the Rust LSH approximation with its recall against the exact result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from alignkit import _core


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    runs, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), runs, out


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def numpy_pairwise_blocked(x: np.ndarray, block: int = 2048) -> float:
    u = _normalise(x)
    n = len(u)
    total = 0.0
    for i in range(0, n, block):
        s = u[i : i + block] @ u[i:].T  # rows i.., columns i..: upper triangle incl. diagonal
        total += float(np.triu(s, 1).sum(dtype=np.float64))
    return 1.0 - total / (n * (n - 1) / 2)


def numpy_pairwise_sum(x: np.ndarray) -> float:
    u = _normalise(x)
    s = u.sum(axis=0, dtype=np.float64)
    n = len(u)
    return float(1.0 - (s @ s - n) / (n * (n - 1)))


def reference_pairwise_f64(x: np.ndarray, chunk: int = 20000) -> float:
    s = np.zeros(x.shape[1])
    for i in range(0, len(x), chunk):
        s += _normalise(x[i : i + chunk].astype(np.float64)).sum(axis=0)
    n = len(x)
    return float(1.0 - (s @ s - n) / (n * (n - 1)))


def numpy_vendi(x: np.ndarray) -> float:
    u = _normalise(x)
    lam = np.linalg.eigvalsh(u.T @ u / len(u))
    lam = lam[lam > 0]
    return float(np.exp(-(lam * np.log(lam)).sum()))


def faiss_nn(x: np.ndarray) -> np.ndarray:
    import faiss

    u = np.ascontiguousarray(_normalise(x), dtype=np.float32)
    index = faiss.IndexFlatIP(u.shape[1])
    index.add(u)
    sims, _ = index.search(u, 2)
    return np.clip(1.0 - sims[:, 1], 0.0, 2.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--repeat", type=int, default=5, help="runs per fast case")
    ap.add_argument("--slow-repeat", type=int, default=3, help="runs per slow case (nn, vendi)")
    ap.add_argument("--pairwise-n", type=int, default=200_000)
    ap.add_argument("--pairwise-small", type=int, default=20_000)
    ap.add_argument("--nn-n", type=int, nargs="+", default=[20_000, 100_000])
    ap.add_argument("--nn-d", type=int, default=384)
    ap.add_argument("--no-faiss", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    results: list[dict[str, Any]] = []

    def record(case: str, impl: str, n: int, d: int, med: float, runs: list[float], **kw: Any):
        row = {"case": case, "impl": impl, "n": n, "d": d, "median_s": med, "runs_s": runs, **kw}
        results.append(row)
        extra = " ".join(f"{k}={v}" for k, v in kw.items())
        print(f"{case:9} {impl:34} n={n:<7} d={d:<4} median {med * 1e3:10.1f} ms  {extra}")

    # Pairwise mean cosine distance.
    n, d = args.pairwise_n, 768
    x = rng.standard_normal((n, d), dtype=np.float32)
    ref = reference_pairwise_f64(x)
    med, runs, val = _time(lambda: _core.embedding_diversity(x), args.repeat)
    record("pairwise", "alignkit embedding_diversity", n, d, med, runs, abs_err=abs(val - ref))
    rust_med = med
    med, runs, val = _time(lambda: numpy_pairwise_sum(x), args.repeat)
    record("pairwise", "numpy sum-norm trick", n, d, med, runs, abs_err=abs(val - ref))
    small = x[: args.pairwise_small]
    sref = reference_pairwise_f64(small)
    med, runs, val = _time(lambda: _core.embedding_diversity(small), args.repeat)
    record("pairwise", "alignkit embedding_diversity", len(small), d, med, runs)
    med, runs, val = _time(lambda: numpy_pairwise_blocked(small), max(1, args.slow_repeat))
    record(
        "pairwise",
        "numpy blocked U@U.T (measured)",
        len(small),
        d,
        med,
        runs,
        abs_err=abs(val - sref),
    )
    extrap = med * (n / len(small)) ** 2
    record(
        "pairwise",
        "numpy blocked U@U.T (extrapolated)",
        n,
        d,
        extrap,
        [],
        speedup_of_rust=extrap / rust_med,
    )

    # Vendi score.
    for n, d in ((200_000, 768), (20_000, 384)):
        x = rng.standard_normal((n, d), dtype=np.float32)
        med, runs, val = _time(lambda x=x: _core.vendi_score(x), args.slow_repeat)
        record("vendi", "alignkit vendi_score", n, d, med, runs, value=val)
        med, runs, nval = _time(lambda x=x: numpy_vendi(x), args.slow_repeat)
        record("vendi", "numpy Gram + eigvalsh", n, d, med, runs, rel_diff=abs(val - nval) / nval)

    # Nearest neighbours.
    for n in args.nn_n:
        d = args.nn_d
        x = rng.standard_normal((n, d), dtype=np.float32)
        rep = args.slow_repeat if n <= 20_000 else max(1, args.slow_repeat - 1)
        med, runs, (dist, stats) = _time(lambda x=x: _core.nearest_neighbor_distances(x), rep)
        record("nn", "alignkit exact", n, d, med, runs, mean=stats["mean"])
        rust_med = med
        if not args.no_faiss:
            med, runs, fd = _time(lambda x=x: faiss_nn(x), rep)
            record(
                "nn",
                "faiss IndexFlatIP k=2",
                n,
                d,
                med,
                runs,
                max_abs_diff=float(np.abs(fd - dist).max()),
                rust_speedup=med / rust_med,
            )
        med, runs, (adist, _) = _time(
            lambda x=x: _core.nearest_neighbor_distances(x, approximate=True), rep
        )
        recall = float(np.mean(np.abs(adist - dist) < 1e-6))
        record(
            "nn",
            "alignkit approximate (LSH 8x16, w16)",
            n,
            d,
            med,
            runs,
            recall=recall,
            mean_excess=float((adist - dist).mean()),
        )

    if args.json:
        meta = {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        }
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
