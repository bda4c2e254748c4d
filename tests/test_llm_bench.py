"""Smoke test of benches/bench_llm_client.py on a tiny configuration."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCHES = Path(__file__).resolve().parents[1] / "benches"
sys.path.insert(0, str(BENCHES))

import bench_llm_client  # noqa: E402
import pytest  # noqa: E402

pytestmark = pytest.mark.slow  # real models, training or whole scripts


def test_bench_llm_client_runs_and_reports(tmp_path):
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    args = ["--requests", "40", "--concurrency", "4", "--delay", "0.005", "--runs", "1"]
    assert bench_llm_client.main([*args, "--json", str(out), "--md", str(md)]) == 0
    result = json.loads(out.read_text())
    assert result["ideal_requests_per_s"] == 800.0
    for path in ("agenerate", "run_requests_cached", "bare_httpx"):
        run = result[path]["runs"][0]
        assert run["requests_per_s"] > 0 and run["server_max_in_flight"] <= 4
        assert isinstance(result[path]["goal_met"], bool)
    text = md.read_text()
    assert "python benches/bench_llm_client.py --requests 40" in text and "Goal (90%" in text
