"""Smoke tests for benches/make_bench_warc.py and the helpers of bench_read_extract.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHES = Path(__file__).resolve().parents[1] / "benches"
sys.path.insert(0, str(BENCHES))

import bench_read_extract as bench  # noqa: E402
import make_bench_warc  # noqa: E402

pytestmark = pytest.mark.slow  # real models, training or whole scripts

warcio_ai = pytest.importorskip("warcio.archiveiterator")


def _count(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in warcio_ai.ArchiveIterator(fh, check_digests="raise"))


def test_make_bench_warc_demo_source(tmp_path):
    info = make_bench_warc.build(tmp_path / "b.warc.gz", 0.5, "demo", seed=1)
    paths = make_bench_warc.bench_paths(tmp_path / "b.warc.gz")
    assert info["gz_bytes"] >= 500_000
    n = _count(paths["gz"])
    assert n == info["records"] == _count(paths["raw"])
    parts = [_count(paths["part0"]), _count(paths["part1"])]
    assert parts == info["part_records"] and sum(parts) == n
    data = paths["gz"].read_bytes()
    assert paths["part0"].read_bytes() + paths["part1"].read_bytes() == data


@pytest.mark.skipif(
    not (make_bench_warc.SHARED / "html" / "pages").exists(), reason="../shared not present"
)
def test_make_bench_warc_real_source(tmp_path):
    info = make_bench_warc.build(tmp_path / "r.warc.gz", 1.0, "real")
    paths = make_bench_warc.bench_paths(tmp_path / "r.warc.gz")
    assert info["gz_bytes"] >= 1_000_000
    assert _count(paths["gz"]) == info["records"] == _count(paths["raw"])


def test_bow_f1_and_decode():
    assert bench.bow_f1("a b c", "a b c") == 1.0
    assert bench.bow_f1("", "") == 1.0
    assert bench.bow_f1("a", "") == 0.0
    assert bench.bow_f1("a a b", "a b b") == pytest.approx(2 / 3)
    body = "<meta charset='windows-1251'>Привет".encode("cp1251")
    assert bench.decode_html(body, "text/html").endswith("Привет")
    assert bench.decode_html("é".encode("latin-1"), "text/html; charset=ISO-8859-1") == "é"
    assert bench.decode_html(b"\xef\xbb\xbfok", "text/html; charset=latin-1") == "ok"
