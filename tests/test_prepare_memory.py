"""Peak memory of `webr prepare` does not grow with the shard (small-scale check).

The full measurement, side by side with a FastWARC + resiliparse script at 120 MB to 2.4 GB, is
benches/bench_prepare_memory.py; this test runs one shard and the same shard repeated ten times
(gzip members concatenate into a valid WARC) and compares the peak resident sets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alignkit.data.demo import write_demo_warc

# Runs in a fresh process: its own peak resident set is the measurement.
_CHILD = """
import resource, sys
from alignkit import _core
from alignkit.webr.prepare import PrepareConfig
stats = _core.prepare_shard(sys.argv[1], sys.argv[2], PrepareConfig())
print(stats["documents_kept"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_mb(shard: Path, out: Path) -> tuple[int, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(shard), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    kept, maxrss_kb = done.stdout.split()
    return int(kept), int(maxrss_kb) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB is Linux's")
def test_peak_rss_is_flat_in_shard_size(tmp_path):
    small = tmp_path / "small.warc.gz"
    info = write_demo_warc(
        small, n_docs=0, seed=5, compression="gzip", faults=False, min_bytes=2 << 20
    )
    copies = 12
    big = tmp_path / "big.warc.gz"
    big.write_bytes(small.read_bytes() * copies)
    grown_mb = (big.stat().st_size - small.stat().st_size) / 2**20

    kept_small, rss_small = _peak_rss_mb(small, tmp_path / "small.jsonl.gz")
    kept_big, rss_big = _peak_rss_mb(big, tmp_path / "big.jsonl.gz")
    assert kept_small > 0 and kept_big == copies * kept_small, json.dumps(info["records"])
    # Before streaming, every byte of the mapped shard stayed resident (growth = grown_mb).
    assert rss_big - rss_small < grown_mb / 3, (rss_small, rss_big, grown_mb)
