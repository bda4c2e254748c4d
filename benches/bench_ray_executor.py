#!/usr/bin/env python3
"""`webr prepare` on the local executor (1 and 2 processes) and on Ray (1 and 2 workers), side by
side, and Ray's start-up cost.

    python benches/bench_ray_executor.py --min-mb 20 --shards 8 --runs 3

The input is ``make_bench_warc.py --source real`` (real pages with fresh URLs, one gzip member
per record) of at least ``--min-mb`` MB under ``bench-data/`` (git-ignored), cut into
``--shards`` shards at record boundaries. The script re-runs itself inside a private network
namespace (tests/ray_netns.py: Ray on loopback only) and refuses to start Ray elsewhere.

One local Ray cluster of 2 CPUs is started once (its start is timed on its own); "Ray, 1 worker"
reserves 2 CPUs per task (one task at a time), "Ray, 2 workers" 1 CPU per task. Rounds are
interleaved (local 1, local 2, Ray 1, Ray 2, then again), each run writing a fresh folder;
reported: every run's seconds, the median, and the ratio to local 1 (> 1: faster). The first
Ray run of each kind also pays for starting its worker processes (each imports alignkit); that
is reported apart as warm-up. All runs must give byte-identical data files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

BENCHES = Path(__file__).resolve().parent
REPO = BENCHES.parent
sys.path[:0] = [str(BENCHES), str(REPO / "tests")]
import make_bench_warc  # noqa: E402
import ray_netns  # noqa: E402


def member_ends(data: bytes) -> list[int]:
    """The offsets where each gzip member of `data` ends."""
    ends, pos, view = [], 0, memoryview(data)
    while pos < len(data):
        inflater = zlib.decompressobj(31)
        fed = pos
        while not inflater.eof:
            if fed >= len(data):
                raise ValueError(f"truncated gzip member at offset {pos}")
            chunk = view[fed : fed + (1 << 16)]
            inflater.decompress(chunk)
            fed += len(chunk)
        pos = fed - len(inflater.unused_data)
        ends.append(pos)
    return ends


def split_shards(gz: Path, n: int, folder: Path) -> list[str]:
    """`gz` cut into `n` shards of about equal size at gzip member (record) boundaries."""
    data = gz.read_bytes()
    ends = member_ends(data)
    folder.mkdir(parents=True, exist_ok=True)
    paths, start = [], 0
    for k in range(n):
        target = len(data) * (k + 1) // n
        stop = len(data) if k == n - 1 else min(e for e in ends if e >= target)
        path = folder / f"shard-{k:02d}.warc.gz"
        path.write_bytes(data[start:stop])
        paths.append(str(path))
        start = stop
    return paths


def data_digest(out: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.glob("*"))
        if p.is_file()
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from alignkit.stage import LocalExecutor, run_stage
    from alignkit.stage.ray_executor import RayExecutor
    from alignkit.webr.prepare import PrepareConfig, PrepareStage

    gz = REPO / "bench-data" / "ray-bench.warc.gz"
    if not gz.exists():
        make_bench_warc.build(gz, args.min_mb, "real")
    shards = split_shards(gz, args.shards, REPO / "bench-data" / "ray-bench-shards")

    started = time.perf_counter()
    ray = ray_netns.start_loopback_ray(num_cpus=2)
    ray_start = time.perf_counter() - started
    executors = {
        "local, 1 process": LocalExecutor(1),
        "local, 2 processes": LocalExecutor(2),
        "Ray, 1 worker": RayExecutor(num_cpus_per_task=2),
        "Ray, 2 workers": RayExecutor(num_cpus_per_task=1),
    }
    seconds: dict[str, list[float]] = {name: [] for name in executors}
    digests: dict[str, dict[str, str]] = {}
    docs = 0
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        for run in range(args.runs):
            for name, executor in executors.items():
                out = Path(tmp) / f"{run}-{name.replace(' ', '').replace(',', '-')}"
                t0 = time.perf_counter()
                report = run_stage(
                    PrepareStage(PrepareConfig()), shards, out, executor=executor, progress=False
                )
                seconds[name].append(time.perf_counter() - t0)
                if not report.complete:
                    raise SystemExit(f"{name}: failed tasks {report.failures}")
                docs = report.stats["documents_kept"]
                digests.setdefault(name, data_digest(out))
                shutil.rmtree(out)
    started = time.perf_counter()
    ray.shutdown()
    ray_stop = time.perf_counter() - started
    if len({json.dumps(d, sort_keys=True) for d in digests.values()}) != 1:
        raise SystemExit("the executors wrote different data files")
    anchor = statistics.median(seconds["local, 1 process"])
    return {
        "input": {
            "warc_bytes": gz.stat().st_size,
            "shards": len(shards),
            "documents_kept": docs,
        },
        "ray_start_seconds": round(ray_start, 2),
        "ray_shutdown_seconds": round(ray_stop, 2),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "runs": {
            name: {
                "seconds": [round(s, 2) for s in times],
                "median": round(statistics.median(times), 2),
                "speedup_vs_local_1": round(anchor / statistics.median(times), 2),
                "first_run_extra": round(times[0] - statistics.median(times[1:] or times), 2),
            }
            for name, times in seconds.items()
        },
        "identical_outputs": True,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--min-mb", type=float, default=20.0)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if os.environ.get(ray_netns.INSIDE_ENV) != "1":
        return ray_netns.main([sys.executable, *sys.argv])
    results = measure(args)
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
