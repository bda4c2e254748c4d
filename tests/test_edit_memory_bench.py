"""Smoke test of benches/bench_edit_memory.py on tiny sizes: every case runs, results agree."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHES = Path(__file__).resolve().parents[1] / "benches"
sys.path.insert(0, str(BENCHES))

import bench_edit_memory  # noqa: E402

pytestmark = pytest.mark.slow  # real models, training or whole scripts

HAVE_FAISS = importlib.util.find_spec("faiss") is not None
TINY = ["--n", "700", "1500", "--d", "16", "--queries", "30", "--k", "1", "4", "--repeat", "1"]


def rows_of(path: Path) -> list[dict]:
    return json.loads(path.read_text())["results"]


def test_bench_alignkit_half(tmp_path):
    out = tmp_path / "b.json"
    assert bench_edit_memory.main([*TINY, "--no-faiss", "--json", str(out)]) == 0
    rows = rows_of(out)
    impls = {(r["impl"], r["n"], r["k"]) for r in rows}
    for n in (700, 1500):
        assert ("alignkit KnnIndex add", n, None) in impls
        for k in (1, 4):
            assert ("alignkit KnnIndex", n, k) in impls
    cosine = [r for r in rows if r["impl"] == "alignkit KnnIndex normalize=True"]
    assert len(cosine) == 4 and all(r["vs_raw_ids_differ_not_tie"] == 0 for r in cosine)
    assert all(r["median_s"] > 0 for r in rows)


@pytest.mark.skipif(not HAVE_FAISS, reason="faiss-cpu not installed (bench-only dependency)")
def test_bench_faiss_half(tmp_path):
    out = tmp_path / "b.json"
    assert bench_edit_memory.main([*TINY, "--json", str(out)]) == 0
    faiss_rows = [r for r in rows_of(out) if r["impl"] == "faiss IndexFlatIP"]
    assert len(faiss_rows) == 4
    for r in faiss_rows:
        assert r["vs_alignkit_ids_differ_not_tie"] == 0
        assert r["vs_alignkit_max_score_diff"] <= bench_edit_memory.TIE_TOL
        assert r["faiss_over_alignkit"] > 0


def test_compare_counts_only_unexplained_id_differences():
    compare = bench_edit_memory.compare
    scores = bench_edit_memory.np.array([[0.9, 0.5, 0.5], [0.9, 0.8, 0.1]], dtype="float32")
    ids = [[1, 2, 3], [4, 5, 6]]
    same = compare(ids, scores, [[1, 3, 2], [4, 5, 6]], scores)  # a swapped tie
    assert same["ids_differ_not_tie"] == 0 and same["ids_equal_share"] == pytest.approx(4 / 6)
    wrong = compare(ids, scores, [[1, 2, 3], [7, 5, 6]], scores)
    assert wrong["ids_differ_not_tie"] == 1
    with pytest.raises(SystemExit, match="results differ"):
        bench_edit_memory.same_as("x", [[1, 2, 3]], scores[:1], [[9, 2, 3]], scores[:1])
