"""Diversity metrics of embedding sets, Rust-accelerated where the extension has them.

Each function uses `alignkit._core.<name>` when the compiled extension provides it and the
float64 numpy reference (`alignkit.embed.diversity_reference`, which also documents the exact
definitions) otherwise. Embeddings go to Rust as C-contiguous float32 arrays; the results are
converted to the reference's return values (the Rust calls return a little more, e.g. summary
statistics next to the nearest-neighbour distances).

`backend="reference"` (or the environment variable `ALIGNKIT_DIVERSITY_BACKEND=reference`)
forces the reference; `backend="rust"` fails when the extension lacks a function.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from alignkit import _core
from alignkit.embed import diversity_reference as ref
from alignkit.embed.diversity_reference import (
    DEFAULT_COVERAGE_THRESHOLD,
    QUANTILES,
    distance_summary,
)

BACKENDS = ("auto", "rust", "reference")
RUST_FUNCTIONS = (
    "embedding_diversity",
    "centroid_distance",
    "nearest_neighbor_distances",
    "vendi_score",
    "coverage",
    "cross_diversity",
    "diversity_summary",
)

__all__ = [
    "BACKENDS",
    "DEFAULT_COVERAGE_THRESHOLD",
    "QUANTILES",
    "backend_for",
    "centroid_distance",
    "coverage",
    "cross_diversity",
    "distance_summary",
    "diversity_summary",
    "embedding_diversity",
    "nearest_neighbor_distances",
    "vendi_score",
]


def backend_for(name: str, backend: str | None = None) -> str:
    """Which implementation `name` runs on: 'rust' or 'reference'."""
    choice = backend or os.environ.get("ALIGNKIT_DIVERSITY_BACKEND") or "auto"
    if choice not in BACKENDS:
        raise ValueError(f"diversity backend must be one of {BACKENDS}, not {choice!r}")
    available = hasattr(_core, name)
    if choice == "rust" and not available:
        raise RuntimeError(f"alignkit._core has no {name}; rebuild the extension or use 'auto'")
    if choice == "reference" or not available:
        return "reference"
    return "rust"


def _as_f32(x: Any) -> np.ndarray:
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {arr.shape}")
    return arr


def _dispatch(name: str, backend: str | None) -> tuple[bool, Callable[..., Any]]:
    if backend_for(name, backend) == "rust":
        return True, getattr(_core, name)
    return False, getattr(ref, name)


def embedding_diversity(x: Any, *, backend: str | None = None) -> float:
    """Mean pairwise cosine distance over all pairs i < j."""
    rust, fn = _dispatch("embedding_diversity", backend)
    return float(fn(_as_f32(x)) if rust else fn(x))


def centroid_distance(x: Any, *, backend: str | None = None) -> float:
    """Mean cosine distance to the normalised centroid."""
    rust, fn = _dispatch("centroid_distance", backend)
    return float(fn(_as_f32(x)) if rust else fn(x))


def nearest_neighbor_distances(x: Any, *, backend: str | None = None) -> np.ndarray:
    """Cosine distance from each row to its nearest other row (float64 [n])."""
    rust, fn = _dispatch("nearest_neighbor_distances", backend)
    if rust:
        distances, _stats = fn(_as_f32(x))  # the Rust call also returns summary statistics
        return np.clip(np.asarray(distances, dtype=np.float64), 0.0, None)
    return np.asarray(fn(x), dtype=np.float64)


def vendi_score(x: Any, *, backend: str | None = None) -> float:
    """Vendi score with the cosine kernel."""
    rust, fn = _dispatch("vendi_score", backend)
    return float(fn(_as_f32(x)) if rust else fn(x))


def coverage(
    a: Any, b: Any, threshold: float = DEFAULT_COVERAGE_THRESHOLD, *, backend: str | None = None
) -> float:
    """Fraction of `a` rows whose nearest `b` row is within cosine distance `threshold`."""
    rust, fn = _dispatch("coverage", backend)
    if rust:
        return float(fn(_as_f32(a), _as_f32(b), float(threshold))["covered"])
    return float(fn(a, b, threshold))


def cross_diversity(a: Any, b: Any, *, backend: str | None = None) -> float:
    """Mean cosine distance over all pairs (row of `a`, row of `b`)."""
    rust, fn = _dispatch("cross_diversity", backend)
    return float(fn(_as_f32(a), _as_f32(b)) if rust else fn(a, b))


def diversity_summary(x: Any, *, backend: str | None = None) -> dict[str, Any]:
    """All single-set metrics (keys as in `diversity_reference.diversity_summary`)."""
    rust, fn = _dispatch("diversity_summary", backend)
    if not rust:
        return fn(x)
    u = _as_f32(x)
    return {
        "n": int(u.shape[0]),
        "dim": int(u.shape[1]),
        "embedding_diversity": embedding_diversity(u, backend="rust"),
        "centroid_distance": centroid_distance(u, backend="rust"),
        "vendi_score": vendi_score(u, backend="rust"),
        "nn_distance": distance_summary(nearest_neighbor_distances(u, backend="rust")),
    }
