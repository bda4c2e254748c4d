"""Diversity metrics: the float64 reference against brute force, and the dispatcher."""

from __future__ import annotations

import numpy as np
import pytest

from alignkit import _core
from alignkit.embed import diversity
from alignkit.embed import diversity_reference as ref


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _cos_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All pairwise cosine distances, O(n m), float64, one pair at a time."""
    ua, ub = _unit(a), _unit(b)
    out = np.empty((len(ua), len(ub)))
    for i in range(len(ua)):
        for j in range(len(ub)):
            out[i, j] = 1.0 - float(np.dot(ua[i], ub[j]))
    return out


def _data(seed: int, n: int, d: int, clusters: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    if clusters:
        centers = rng.standard_normal((clusters, d)) * 3
        x = x * 0.3 + centers[rng.integers(0, clusters, n)]
    return x.astype(np.float32)


CASES = [(0, 2, 3), (1, 7, 5), (2, 40, 16), (3, 64, 8, 4), (4, 33, 70), (5, 5, 384)]


@pytest.mark.parametrize("case", CASES)
def test_reference_vs_brute_force(case: tuple[int, ...]) -> None:
    x = _data(*case)
    n = len(x)
    dist = _cos_dist(x, x)
    iu = np.triu_indices(n, k=1)
    assert ref.embedding_diversity(x) == pytest.approx(dist[iu].mean(), abs=1e-12)

    centroid = _unit(x).mean(axis=0)
    centroid /= np.linalg.norm(centroid)
    brute_centroid = np.mean([1 - _unit(x)[i] @ centroid for i in range(n)])
    assert ref.centroid_distance(x) == pytest.approx(brute_centroid, abs=1e-12)

    masked = dist + np.diag(np.full(n, np.inf))
    nn = masked.min(axis=1)
    np.testing.assert_allclose(ref.nearest_neighbor_distances(x, block=3), nn, atol=1e-12)
    summary = ref.distance_summary(nn)
    assert summary["mean"] == pytest.approx(nn.mean())
    assert summary["q50"] == pytest.approx(np.median(nn))
    assert set(summary) == {"mean", "q05", "q25", "q50", "q75", "q95"}

    # Vendi with the n x n kernel, as in the paper.
    k = 1.0 - dist
    lam = np.linalg.eigvalsh(k / n)
    lam = lam[lam > 1e-15]
    vs = float(np.exp(-np.sum(lam * np.log(lam))))
    assert ref.vendi_score(x) == pytest.approx(vs, rel=1e-9)
    assert 1.0 - 1e-9 <= ref.vendi_score(x) <= min(n, x.shape[1]) + 1e-9

    summary = ref.diversity_summary(x)
    assert summary["n"] == n and summary["dim"] == x.shape[1]
    assert summary["vendi_score"] == pytest.approx(vs, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cross_metrics_vs_brute_force(seed: int) -> None:
    a = _data(seed, 30, 12, clusters=3)
    b = _data(seed + 10, 17, 12, clusters=2)
    dist = _cos_dist(a, b)
    nn = dist.min(axis=1)
    np.testing.assert_allclose(ref.cross_nearest_distances(a, b, block=4), nn, atol=1e-12)
    for t in (0.0, 0.1, 0.5, float(np.median(nn)), 2.0):
        assert ref.coverage(a, b, t) == pytest.approx(np.mean(nn <= t))
    assert ref.cross_diversity(a, b) == pytest.approx(dist.mean(), abs=1e-12)


def test_extremes() -> None:
    same = np.tile([[1.0, 2.0, 3.0]], (5, 1))
    assert ref.embedding_diversity(same) == pytest.approx(0.0, abs=1e-12)
    assert ref.vendi_score(same) == pytest.approx(1.0)
    np.testing.assert_allclose(ref.nearest_neighbor_distances(same), 0.0, atol=1e-12)
    basis = np.eye(6)
    assert ref.vendi_score(basis) == pytest.approx(6.0)
    assert ref.embedding_diversity(basis) == pytest.approx(1.0)
    opposite = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert ref.centroid_distance(opposite) == 1.0  # centroid is zero
    assert ref.embedding_diversity(opposite) == pytest.approx(2.0)
    # Scale does not matter (cosine geometry).
    x = _data(7, 20, 6)
    assert ref.vendi_score(x * 100) == pytest.approx(ref.vendi_score(x))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="2-D"):
        ref.embedding_diversity(np.ones(3))
    with pytest.raises(ValueError, match="all zeros"):
        ref.vendi_score(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        ref.vendi_score(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="at least 2"):
        ref.nearest_neighbor_distances(np.ones((1, 3)))
    with pytest.raises(ValueError, match="dimension mismatch"):
        ref.coverage(np.ones((2, 3)), np.ones((2, 4)))


def test_dispatcher_matches_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever backend is active (Rust once `_core` has the functions), results agree."""
    x, y = _data(11, 50, 32, clusters=5), _data(12, 20, 32, clusters=2)
    assert diversity.embedding_diversity(x) == pytest.approx(ref.embedding_diversity(x), abs=1e-5)
    assert diversity.centroid_distance(x) == pytest.approx(ref.centroid_distance(x), abs=1e-5)
    assert diversity.vendi_score(x) == pytest.approx(ref.vendi_score(x), rel=1e-4)
    np.testing.assert_allclose(
        diversity.nearest_neighbor_distances(x), ref.nearest_neighbor_distances(x), atol=1e-5
    )
    assert diversity.cross_diversity(x, y) == pytest.approx(ref.cross_diversity(x, y), abs=1e-5)
    t = float(np.median(ref.cross_nearest_distances(x, y))) + 1e-3
    assert diversity.coverage(x, y, t) == pytest.approx(ref.coverage(x, y, t), abs=0.03)
    got, want = diversity.diversity_summary(x), ref.diversity_summary(x)
    assert got["n"] == want["n"]
    for key in ("embedding_diversity", "centroid_distance"):
        assert got[key] == pytest.approx(want[key], abs=1e-5)
    assert got["nn_distance"]["q50"] == pytest.approx(want["nn_distance"]["q50"], abs=1e-5)


def test_backend_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in diversity.RUST_FUNCTIONS:
        expected = "rust" if hasattr(_core, name) else "reference"
        assert diversity.backend_for(name) == expected
        assert diversity.backend_for(name, "reference") == "reference"
    monkeypatch.setenv("ALIGNKIT_DIVERSITY_BACKEND", "reference")
    assert diversity.backend_for("vendi_score") == "reference"
    monkeypatch.setenv("ALIGNKIT_DIVERSITY_BACKEND", "gpu")
    with pytest.raises(ValueError, match="backend"):
        diversity.backend_for("vendi_score")
    monkeypatch.delenv("ALIGNKIT_DIVERSITY_BACKEND")
    monkeypatch.delattr(_core, "vendi_score", raising=False)
    with pytest.raises(RuntimeError, match="no vendi_score"):
        diversity.vendi_score(np.eye(3), backend="rust")
    assert diversity.vendi_score(np.eye(3)) == pytest.approx(3.0)


def test_dispatch_calls_core_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake(x):
        seen["dtype"], seen["contiguous"] = x.dtype, x.flags["C_CONTIGUOUS"]
        return 42.0

    monkeypatch.setattr(_core, "vendi_score", fake, raising=False)
    x = np.asfortranarray(np.eye(4))
    assert diversity.vendi_score(x) == 42.0
    assert seen == {"dtype": np.float32, "contiguous": True}
    assert diversity.vendi_score(x, backend="reference") == pytest.approx(4.0)
