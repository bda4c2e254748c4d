"""Embedding-diversity metrics of `alignkit._core` against numpy float64 references."""

from __future__ import annotations

import numpy as np
import pytest

from alignkit import _core

QUANTS = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}


def _units(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _ref_diversity(x: np.ndarray) -> float:
    u = _units(x)
    sims = u @ u.T
    n = len(u)
    return float(1.0 - sims[np.triu_indices(n, 1)].mean())


def _ref_nn(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    u = _units(x)
    sims = u @ (_units(y) if y is not None else u).T
    if y is None:
        np.fill_diagonal(sims, -np.inf)
    return np.clip(1.0 - sims.max(axis=1), 0.0, 2.0)


def _ref_vendi(x: np.ndarray) -> float:
    u = _units(x)
    lam = np.linalg.eigvalsh(u @ u.T / len(u))
    lam = lam[lam > 0]
    return float(np.exp(-(lam * np.log(lam)).sum()))


@pytest.fixture(params=[np.float32, np.float16], ids=["f32", "f16"])
def data(request: pytest.FixtureRequest) -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((700, 48))
    x[:, 0] += 1.5  # non-zero mean similarity
    return x.astype(request.param)


def test_diversity_centroid_cross(data: np.ndarray) -> None:
    assert _core.embedding_diversity(data) == pytest.approx(_ref_diversity(data), abs=1e-9)
    u = _units(data)
    c = u.mean(axis=0)
    want = float((1.0 - u @ (c / np.linalg.norm(c))).mean())
    assert _core.centroid_distance(data) == pytest.approx(want, abs=1e-9)
    a, b = data[:300], data[300:]
    want = float((1.0 - _units(a) @ _units(b).T).mean())
    assert _core.cross_diversity(a, b) == pytest.approx(want, abs=1e-9)


def test_nearest_neighbors(data: np.ndarray) -> None:
    dist, stats = _core.nearest_neighbor_distances(data)
    assert dist.dtype == np.float32 and dist.shape == (len(data),)
    ref = _ref_nn(data)
    np.testing.assert_allclose(dist, ref, atol=1e-6)
    assert stats["mean"] == pytest.approx(ref.mean(), abs=1e-6)
    for key, q in QUANTS.items():
        assert stats[key] == pytest.approx(np.quantile(ref, q), abs=1e-6)
    assert stats["min"] == pytest.approx(ref.min(), abs=1e-6)


def test_vendi(data: np.ndarray) -> None:
    assert _core.vendi_score(data) == pytest.approx(_ref_vendi(data), rel=1e-5)
    small = data[:20]  # n <= d: the n x n kernel path
    assert _core.vendi_score(small) == pytest.approx(_ref_vendi(small), rel=1e-5)


def test_coverage(data: np.ndarray) -> None:
    a, b = data[:200], data[200:]
    ref = _ref_nn(a, b)
    out = _core.coverage(a, b, threshold=float(np.median(ref)))
    assert out["n"] == 200
    assert out["mean"] == pytest.approx(ref.mean(), abs=1e-6)
    assert out["q50"] == pytest.approx(np.quantile(ref, 0.5), abs=1e-6)
    assert out["covered"] == pytest.approx((ref <= np.median(ref)).mean(), abs=0.01)
    assert "covered" not in _core.coverage(a, b)
    assert _core.coverage(a, a, 1e-6)["covered"] == 1.0


def test_summary(data: np.ndarray) -> None:
    s = _core.diversity_summary(data)
    assert s["n"] == 700 and s["d"] == 48
    assert s["diversity"] == pytest.approx(_core.embedding_diversity(data), abs=1e-12)
    assert s["vendi_score"] == pytest.approx(_core.vendi_score(data), rel=1e-9)
    assert s["nn_mean"] == pytest.approx(_ref_nn(data).mean(), abs=1e-6)
    assert "nn_mean" not in _core.diversity_summary(data, nn=False)
    one = _core.diversity_summary(data[:1])
    assert one["diversity"] is None and one["vendi_score"] == pytest.approx(1.0)


def test_f16_equals_f32_of_same_values() -> None:
    h = np.random.default_rng(1).standard_normal((300, 32)).astype(np.float16)
    f = h.astype(np.float32)
    assert _core.embedding_diversity(h) == _core.embedding_diversity(f)
    np.testing.assert_array_equal(
        _core.nearest_neighbor_distances(h)[0], _core.nearest_neighbor_distances(f)[0]
    )
    assert _core.cross_diversity(h, f) == _core.cross_diversity(f, f)


def test_non_contiguous_inputs_are_copied() -> None:
    x = np.random.default_rng(2).standard_normal((200, 64)).astype(np.float32)
    for view in (x[:, ::2], x[::2], np.asfortranarray(x)):
        assert not view.flags.c_contiguous
        c = np.ascontiguousarray(view)
        assert _core.embedding_diversity(view) == _core.embedding_diversity(c)
        assert _core.vendi_score(view) == _core.vendi_score(c)
        np.testing.assert_array_equal(
            _core.nearest_neighbor_distances(view)[0], _core.nearest_neighbor_distances(c)[0]
        )


def test_approximate_recall_on_clustered_data() -> None:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((100, 64))
    x = (np.repeat(centres, 30, axis=0) + 0.3 * rng.standard_normal((3000, 64))).astype(np.float32)
    exact, _ = _core.nearest_neighbor_distances(x)
    approx, _ = _core.nearest_neighbor_distances(x, approximate=True, seed=5)
    assert (approx >= exact - 1e-6).all()
    assert np.mean(np.abs(approx - exact) < 1e-6) > 0.9


def test_edge_cases_and_errors() -> None:
    two = np.array([[1, 0], [0, 3]], dtype=np.float32)
    assert _core.embedding_diversity(two) == pytest.approx(1.0)
    np.testing.assert_allclose(_core.nearest_neighbor_distances(two)[0], [1.0, 1.0])
    dup = np.array([[1, 2], [2, 4], [0, 1]], dtype=np.float32)
    assert _core.nearest_neighbor_distances(dup)[0][:2].max() < 1e-6
    assert _core.vendi_score(np.tile(dup[:1], (50, 1))) == pytest.approx(1.0)
    one = dup[:1]
    with pytest.raises(ValueError, match="at least 2"):
        _core.embedding_diversity(one)
    with pytest.raises(ValueError, match="at least 2"):
        _core.nearest_neighbor_distances(one)
    with pytest.raises(ValueError, match="row 1 has zero"):
        _core.embedding_diversity(np.array([[1, 2], [0, 0]], dtype=np.float32))
    with pytest.raises(ValueError, match="zero or non-finite"):
        _core.vendi_score(np.array([[1, np.nan], [1, 1]], dtype=np.float32))
    with pytest.raises(ValueError, match="dimensions"):
        _core.cross_diversity(two, np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="centroid"):
        _core.centroid_distance(np.array([[1, 0], [-1, 0]], dtype=np.float32))
    with pytest.raises(TypeError, match="float32 or float16"):
        _core.embedding_diversity(two.astype(np.float64))
    with pytest.raises(TypeError):
        _core.vendi_score(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="workers"):
        _core.embedding_diversity(two, workers=0)
    with pytest.raises(ValueError, match="bits"):
        _core.nearest_neighbor_distances(dup, approximate=True, bits=40)


def test_dispatcher_rust_matches_reference() -> None:
    """`alignkit.embed.diversity` gives the reference's values whichever backend runs."""
    from alignkit.embed import diversity

    rng = np.random.default_rng(5)
    a = rng.standard_normal((300, 24)).astype(np.float32)
    b = rng.standard_normal((200, 24)).astype(np.float32)
    rust = diversity.diversity_summary(a, backend="rust")
    ref = diversity.diversity_summary(a, backend="reference")
    assert rust.keys() == ref.keys()
    for key in ("embedding_diversity", "centroid_distance", "vendi_score"):
        assert rust[key] == pytest.approx(ref[key], rel=1e-5, abs=1e-6)
    for q, value in ref["nn_distance"].items():
        assert rust["nn_distance"][q] == pytest.approx(value, abs=1e-5)
    for backend in ("rust", "reference"):
        assert diversity.backend_for("coverage", backend) == backend
    assert diversity.coverage(a, b, 0.9, backend="rust") == pytest.approx(
        diversity.coverage(a, b, 0.9, backend="reference")
    )
    assert diversity.cross_diversity(a, b, backend="rust") == pytest.approx(
        diversity.cross_diversity(a, b, backend="reference"), rel=1e-6
    )
