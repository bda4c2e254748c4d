"""Smoke test of benches/bench_bmc_loss.py on a tiny shape: both workers run and report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCHES = Path(__file__).resolve().parents[1] / "benches"
sys.path.insert(0, str(BENCHES))

import bench_bmc_loss  # noqa: E402
import pytest  # noqa: E402

pytestmark = pytest.mark.slow  # real models, training or whole scripts


def test_cpu_bench_runs_both_paths(tmp_path, monkeypatch):
    monkeypatch.setitem(bench_bmc_loss.SHAPES, "tiny", (32, 1000))
    out = tmp_path / "bmc.json"
    args = ["--shapes", "tiny", "--pairs", "1", "--seq", "16", "--rounds", "1", "--json", str(out)]
    assert bench_bmc_loss.main(args) == 0
    (row,) = json.loads(out.read_text())
    for impl in ("naive", "alignkit"):
        res = row[impl]
        assert "error" not in res, res
        assert res["median_s"] > 0 and res["peak_bytes"] >= 0
        assert res["grads_bytes"] == (2 * 16 * 32 + 1000 * 32) * 4
