"""Diversity metrics of embedding sets: the readable float64 numpy reference.

This module defines the metrics. It is the CPU fallback of `alignkit.embed.diversity` and the
test oracle for the Rust versions in `alignkit._core`; keep it simple rather than fast.

Geometry: every row is L2-normalised first (zero rows are rejected), similarity is the dot
product of unit vectors (cosine) and distance is `1 - cosine`, in [0, 2].

- embedding diversity: mean cosine distance over all pairs i < j. Exact in O(n d): with
  `s = sum_i u_i`, `sum_{i != j} u_i . u_j = |s|^2 - n`, so the mean similarity over the
  n (n - 1) ordered pairs is `(|s|^2 - n) / (n (n - 1))`.
- centroid distance: mean of `1 - u_i . c` with `c = s / |s|` (1.0 when `s` is zero).
- nearest-neighbour distances: for each row, the distance to its nearest *other* row (exact,
  blocked search; clipped at 0 against rounding); summarised by the mean and the
  0.05/0.25/0.5/0.75/0.95 quantiles (numpy's default linear interpolation).
- Vendi score with the cosine kernel: the eigenvalues of `K / n` (`K = U U^T`) equal the
  non-zero eigenvalues of the d x d matrix `U^T U / n`; they sum to 1 and
  `VS = exp(-sum lambda log lambda)` (terms with lambda <= 0 count as 0). VS is between 1 (all
  rows identical) and min(n, d).
- coverage of A by B: each A row's nearest-neighbour distance into B; the fraction of A rows
  within `threshold`.
- cross diversity: mean cosine distance over all pairs (a, b), `1 - (s_A . s_B) / (n_A n_B)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
DEFAULT_COVERAGE_THRESHOLD = 0.3
BLOCK_ROWS = 1024


def normalize_rows(x: Any) -> np.ndarray:
    """A float64 copy of the 2-D array `x` with unit-length rows; zero or non-finite rows fail."""
    u = np.array(x, dtype=np.float64, copy=True)
    if u.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {u.shape}")
    if not np.isfinite(u).all():
        raise ValueError("embeddings contain NaN or infinite values")
    norms = np.linalg.norm(u, axis=1)
    if (norms == 0).any():
        raise ValueError(f"{int((norms == 0).sum())} embedding row(s) are all zeros")
    u /= norms[:, None]
    return u


def _need_rows(u: np.ndarray, n: int, what: str) -> None:
    if u.shape[0] < n:
        raise ValueError(f"{what} needs at least {n} row(s), got {u.shape[0]}")


def embedding_diversity(x: Any) -> float:
    """Mean pairwise cosine distance over all pairs i < j (needs at least 2 rows)."""
    u = normalize_rows(x)
    n = u.shape[0]
    _need_rows(u, 2, "embedding diversity")
    s = u.sum(axis=0)
    mean_sim = (float(s @ s) - n) / (n * (n - 1))
    return 1.0 - mean_sim


def centroid_distance(x: Any) -> float:
    """Mean cosine distance of the rows to their normalised centroid."""
    u = normalize_rows(x)
    _need_rows(u, 1, "centroid distance")
    s = u.sum(axis=0)
    norm = float(np.linalg.norm(s))
    if norm == 0.0:
        return 1.0
    return float(np.mean(1.0 - u @ (s / norm)))


def _nn_search(a: np.ndarray, b: np.ndarray, exclude_self: bool, block: int) -> np.ndarray:
    """For unit rows `a`, the cosine distance to the nearest row of unit rows `b` (exact)."""
    best = np.empty(a.shape[0], dtype=np.float64)
    for start in range(0, a.shape[0], block):
        sims = a[start : start + block] @ b.T
        if exclude_self:
            rows = np.arange(sims.shape[0])
            sims[rows, start + rows] = -np.inf
        # Rounding can make 1 - cos(u, u) a hair below zero; distances are >= 0.
        best[start : start + block] = np.maximum(1.0 - sims.max(axis=1), 0.0)
    return best


def nearest_neighbor_distances(x: Any, *, block: int = BLOCK_ROWS) -> np.ndarray:
    """Cosine distance from each row to its nearest other row (float64, shape [n])."""
    u = normalize_rows(x)
    _need_rows(u, 2, "nearest-neighbour distances")
    return _nn_search(u, u, exclude_self=True, block=block)


def distance_summary(distances: Any) -> dict[str, float]:
    """Mean and the QUANTILES of a vector of distances (keys `mean`, `q05`, ..., `q95`)."""
    d = np.asarray(distances, dtype=np.float64)
    if d.size == 0:
        raise ValueError("no distances to summarise")
    out = {"mean": float(d.mean())}
    for q, value in zip(QUANTILES, np.quantile(d, QUANTILES), strict=True):
        out[f"q{round(q * 100):02d}"] = float(value)
    return out


def vendi_score(x: Any) -> float:
    """Vendi score with the cosine kernel, from the eigenvalues of `U^T U / n`."""
    u = normalize_rows(x)
    n = u.shape[0]
    _need_rows(u, 1, "Vendi score")
    gram = (u.T @ u) / n
    eig = np.linalg.eigvalsh(gram)
    eig = eig[eig > 0]
    return float(np.exp(-np.sum(eig * np.log(eig))))


def cross_nearest_distances(a: Any, b: Any, *, block: int = BLOCK_ROWS) -> np.ndarray:
    """For each row of `a`, the cosine distance to its nearest row of `b`."""
    ua, ub = normalize_rows(a), normalize_rows(b)
    _need_rows(ua, 1, "coverage (first set)")
    _need_rows(ub, 1, "coverage (second set)")
    if ua.shape[1] != ub.shape[1]:
        raise ValueError(f"dimension mismatch: {ua.shape[1]} vs {ub.shape[1]}")
    return _nn_search(ua, ub, exclude_self=False, block=block)


def coverage(a: Any, b: Any, threshold: float = DEFAULT_COVERAGE_THRESHOLD) -> float:
    """Fraction of `a` rows whose nearest `b` row is within cosine distance `threshold`."""
    return float(np.mean(cross_nearest_distances(a, b) <= threshold))


def cross_diversity(a: Any, b: Any) -> float:
    """Mean cosine distance over all pairs (row of `a`, row of `b`)."""
    ua, ub = normalize_rows(a), normalize_rows(b)
    _need_rows(ua, 1, "cross diversity (first set)")
    _need_rows(ub, 1, "cross diversity (second set)")
    if ua.shape[1] != ub.shape[1]:
        raise ValueError(f"dimension mismatch: {ua.shape[1]} vs {ub.shape[1]}")
    return 1.0 - float(ua.sum(axis=0) @ ub.sum(axis=0)) / (ua.shape[0] * ub.shape[0])


def diversity_summary(x: Any) -> dict[str, Any]:
    """All single-set metrics: `n`, `dim`, `embedding_diversity`, `centroid_distance`,
    `vendi_score` and `nn_distance` (the `distance_summary` of the nearest-neighbour distances).
    """
    u = normalize_rows(x)
    _need_rows(u, 2, "a diversity summary")
    return {
        "n": int(u.shape[0]),
        "dim": int(u.shape[1]),
        "embedding_diversity": embedding_diversity(u),
        "centroid_distance": centroid_distance(u),
        "vendi_score": vendi_score(u),
        "nn_distance": distance_summary(nearest_neighbor_distances(u)),
    }
