#!/usr/bin/env python3
"""Per-core rates for the whole-crawl plan (docs/scale-plan.md): `webr prepare`, dedup
signatures, and the driver's per-task cost, each with its CPU time, peak RSS and load average.

    python benches/bench_scale_inputs.py --runs 3 --json bench-data/scale-inputs.json

Inputs (built under ``bench-data/``, git-ignored; nothing is committed):

* ``cc-sample-xN.warc.gz``: the real Common Crawl WARC sample
  (``../shared/data/commoncrawl/whirlwind.warc.gz``: warcinfo, request, response and metadata
  records of one CC-MAIN-2024-22 capture, one gzip member per record, as CC ships them)
  concatenated N times into one shard (gzip members concatenate into a valid WARC);
* ``prepmem-1x`` / ``prepmem-4x``: ``make_bench_warc.py --source real`` shards (the 109 real
  pages of ``../shared/data/html`` plus the CC capture under fresh URLs), as
  ``bench_prepare_memory.py`` builds them.

Measured, every command a fresh process timed with ``os.wait4`` (wall, user + system CPU, peak
RSS of that process alone), runs interleaved, medians of ``--runs``:

1. ``alignkit webr prepare --workers 1`` on each shard: documents kept, response records,
   compressed MB/s and documents/s per wall and per CPU second, peak RSS, output bytes per
   document. The per-MB slope between the 1x and 4x shards removes start-up.
2. dedup tasks per core: the signature task's work (read the prepared JSONL, write the band
   file with one thread: ``_core.dedup_write_band_file``) and the write task's (copy the kept
   documents, here all of them) in a child process, on the prepared real pages and on synthetic
   150-word documents; band-file bytes per document.
3. the dedup reduce alone (bucket files + clustering, 16 partitions) on ``--reduce-docs``
   synthetic documents: CPU time, bucket bytes, and peak RSS growth per document.
4. per-task cost of the driver: ``webr prepare --workers 1`` over ``--tiny-shards`` copies of the
   CC sample (one page each), the first run and a resumed run (every task already done).

``--parts`` runs a subset; with ``--json`` the parts not run keep their earlier numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCHES = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHES))
import bench_prepare_memory  # noqa: E402

REPO = BENCHES.parent
CC_SAMPLE = REPO.parent / "shared" / "data" / "commoncrawl" / "whirlwind.warc.gz"
ALIGNKIT = bench_prepare_memory.ALIGNKIT
MB = 1_000_000
PARTS = ("prepare", "signatures", "reduce", "overhead")


def timed(cmd: list[str]) -> dict[str, Any]:
    """Run `cmd`; its wall seconds, CPU seconds and peak RSS (this child alone) and the
    1-minute load average when it started."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # communicate() would reap the child itself; read the pipes, then wait4 for its rusage.
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_mb": usage.ru_maxrss / 1024,
        "load": load,
        "stdout": out.decode(errors="replace"),
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "maxrss_mb")}
    return {
        **{k: round(v, 3) for k, v in med.items()},
        "wall_runs": [round(r["wall_s"], 2) for r in runs],
        "load_runs": [round(r["load"], 1) for r in runs],
    }


def cc_sample_shard(data_dir: Path, copies: int) -> Path:
    path = data_dir / f"cc-sample-x{copies}.warc.gz"
    if not path.exists():
        blob = CC_SAMPLE.read_bytes()
        tmp = path.with_suffix(".partial")
        with open(tmp, "wb") as fh:
            for _ in range(copies):
                fh.write(blob)
        tmp.replace(path)
    return path


def response_records(shard: Path) -> int:
    """Response records in a gzip WARC (the pages a crawl counts)."""
    from alignkit.webr import WarcReader

    return sum(1 for rec in WarcReader(str(shard)) if rec.record_type == "response")


def prepared_docs(out: Path) -> tuple[int, int]:
    size = sum(p.stat().st_size for p in out.glob("*.jsonl.gz"))
    return bench_prepare_memory.count_docs(out), size


def bench_prepare(shards: dict[str, Path], runs: int, work: Path) -> dict[str, dict[str, Any]]:
    raw: dict[str, list[dict[str, Any]]] = {name: [] for name in shards}
    kept: dict[str, tuple[int, int]] = {}
    for i in range(runs):
        for name, shard in shards.items():
            out = work / f"prep-{name}-{i}"
            raw[name].append(
                timed(
                    [ALIGNKIT, "webr", "prepare", "--workers", "1", "--no-progress", "-q"]
                    + [str(shard), "--out", str(out)]
                )
            )
            kept[name] = prepared_docs(out)
            if i < runs - 1:
                shutil.rmtree(out)
    rows = {}
    for name, shard in shards.items():
        s = summary(raw[name])
        docs, out_bytes = kept[name]
        gz_mb = shard.stat().st_size / MB
        rows[name] = {
            **s,
            "gz_mb": round(gz_mb, 2),
            "responses": response_records(shard),
            "docs": docs,
            "out_bytes_per_doc": round(out_bytes / max(docs, 1)),
            "gz_mb_per_wall_s": round(gz_mb / s["wall_s"], 2),
            "gz_mb_per_cpu_s": round(gz_mb / s["cpu_s"], 2),
            "docs_per_cpu_s": round(docs / s["cpu_s"], 1),
            "output": str(work / f"prep-{name}-{runs - 1}"),
        }
    return rows


def write_bands(cfg: Any, texts: list[Any], path: Path) -> int:
    """The signature task's kernel on one thread (as `DedupSignatureStage.run_task` calls it)."""
    from alignkit import _core

    bands, rows = cfg.lsh()
    hasher = cfg.settings().hasher()
    return int(
        _core.dedup_write_band_file(
            texts, path, hasher, bands, rows, exact_normalize=cfg.normalize, workers=1
        )
    )


def signature_child(paths: list[str]) -> None:
    """The signature task's work on one thread, timed in this process (CPU seconds)."""
    import tempfile

    import numpy as np

    from alignkit.stage import Counts
    from alignkit.webr.dedup import DedupConfig, _write_kept, read_texts

    cfg = DedupConfig()
    docs = text_bytes = band_bytes = 0
    read_cpu = sign_cpu = write_cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for k, path in enumerate(paths):
            t0 = time.process_time()
            texts = read_texts(Path(path), cfg.text_field)
            t1 = time.process_time()
            band_file = Path(tmp) / f"{k}.bands"
            docs += write_bands(cfg, texts, band_file)
            t2 = time.process_time()
            # The dedup write task's work for a shard that keeps every document.
            keep = np.ones(len(texts), dtype=bool)
            _write_kept(Path(path), ".jsonl.gz", keep, Path(tmp) / f"{k}.jsonl.gz", Counts())
            write_cpu += time.process_time() - t2
            sign_cpu += t2 - t1
            read_cpu += t1 - t0
            text_bytes += sum(len(t.encode("utf-8")) for t in texts)
            band_bytes += band_file.stat().st_size
    print(
        json.dumps(
            {
                "docs": docs,
                "text_mb": text_bytes / MB,
                "band_bytes": band_bytes,
                "read_cpu_s": read_cpu,
                "sign_cpu_s": sign_cpu,
                "write_cpu_s": write_cpu,
                "bands": cfg.lsh()[0],
            }
        )
    )


def bench_signatures(inputs: dict[str, list[Path]], runs: int) -> dict[str, dict[str, Any]]:
    raw: dict[str, list[dict[str, Any]]] = {name: [] for name in inputs}
    for _ in range(runs):
        for name, paths in inputs.items():
            res = timed([sys.executable, __file__, "--signature-child", *map(str, paths)])
            res.update(json.loads(res.pop("stdout").strip().splitlines()[-1]))
            raw[name].append(res)
    rows = {}
    for name, rs in raw.items():
        last = rs[-1]
        task_cpu = statistics.median(r["read_cpu_s"] + r["sign_cpu_s"] for r in rs)
        sign_cpu = statistics.median(r["sign_cpu_s"] for r in rs)
        write_cpu = statistics.median(r["write_cpu_s"] for r in rs)
        rows[name] = {
            **summary(rs),
            "docs": last["docs"],
            "mean_text_bytes": round(last["text_mb"] * MB / last["docs"]),
            "task_cpu_s": round(task_cpu, 3),
            "sign_cpu_s": round(sign_cpu, 3),
            "docs_per_cpu_s_task": round(last["docs"] / task_cpu),
            "docs_per_cpu_s_sign": round(last["docs"] / sign_cpu),
            "docs_per_cpu_s_write": round(last["docs"] / write_cpu),
            "text_mb_per_cpu_s_task": round(last["text_mb"] / task_cpu, 1),
            "band_bytes_per_doc": round(last["band_bytes"] / last["docs"], 1),
        }
    return rows


def bench_task_overhead(data_dir: Path, n: int, runs: int, work: Path) -> dict[str, Any]:
    folder = data_dir / f"cc-sample-tiny-{n}"
    if not (folder / "done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        blob = CC_SAMPLE.read_bytes()
        for k in range(n):
            (folder / f"cc-{k:06d}.warc.gz").write_bytes(blob)
        (folder / "done").write_text("")
    cmd = [ALIGNKIT, "webr", "prepare", "--workers", "1", "--no-progress", "-q"]
    first, resumed = [], []
    for i in range(runs):
        out = work / f"tiny-{i}"
        args = cmd + [str(folder / "*.warc.gz"), "--out", str(out)]
        first.append(timed(args))
        resumed.append(timed(args))
        shutil.rmtree(out)
    f, r = summary(first), summary(resumed)
    return {
        "tasks": n,
        "first": f,
        "resume": r,
        "first_ms_per_task": round(1000 * f["wall_s"] / n, 2),
        "resume_ms_per_task": round(1000 * r["wall_s"] / n, 2),
        "first_cpu_ms_per_task": round(1000 * f["cpu_s"] / n, 2),
        "resume_cpu_ms_per_task": round(1000 * r["cpu_s"] / n, 2),
    }


def bands_child(out_dir: str, paths: list[str]) -> None:
    """Write one band file per input shard (one thread), the reduce's input."""
    from alignkit.webr.dedup import DedupConfig, read_texts

    cfg = DedupConfig()
    for k, path in enumerate(paths):
        write_bands(cfg, read_texts(Path(path), cfg.text_field), Path(out_dir) / f"{k:05d}.bands")


def reduce_child(partitions: int, band_files: list[str]) -> None:
    """The dedup reduce (bucket scatter + clustering) alone, as `webr dedup` runs it."""
    import tempfile

    from alignkit import _core

    with tempfile.TemporaryDirectory(dir=Path(band_files[0]).parent) as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        docs = _core.dedup_write_buckets(band_files, Path(tmp), partitions)
        bucket_bytes = sum(p.stat().st_size for p in Path(tmp).iterdir())
        res = _core.dedup_cluster(docs, Path(tmp), partitions, band_files, keep="first")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        json.dumps(
            {
                "docs": int(res["docs"]),
                "reduce_wall_s": wall,
                "reduce_cpu_s": cpu,
                "bucket_bytes": bucket_bytes,
                "removed": int(res["exact_removed"]) + int(res["near_removed"]),
            }
        )
    )


def bench_reduce(data_dir: Path, sizes: list[int], runs: int, work: Path) -> list[dict[str, Any]]:
    """Reduce CPU time, bucket bytes and peak RSS per document count; the per-document growth
    between sizes cancels the interpreter's own memory."""
    rows = []
    for docs in sizes:
        shards = sorted(bench_prepare_memory.build_dedup_input(data_dir, docs).glob("*.jsonl.gz"))
        band_dir = work / f"bands-{docs}"
        band_dir.mkdir()
        timed([sys.executable, __file__, "--bands-child", str(band_dir), *map(str, shards)])
        band_files = sorted(map(str, band_dir.glob("*.bands")))
        res = []
        for _ in range(runs):
            r = timed([sys.executable, __file__, "--reduce-child", "16", *band_files])
            r.update(json.loads(r.pop("stdout").strip().splitlines()[-1]))
            res.append(r)
        rows.append(
            {
                "docs": docs,
                **summary(res),
                "reduce_cpu_s": round(statistics.median(r["reduce_cpu_s"] for r in res), 3),
                "band_bytes_per_doc": round(
                    sum(Path(p).stat().st_size for p in band_files) / docs, 1
                ),
                "bucket_bytes_per_doc": round(res[-1]["bucket_bytes"] / docs, 1),
            }
        )
        shutil.rmtree(band_dir)
    for prev, row in zip(rows, rows[1:], strict=False):
        span = row["docs"] - prev["docs"]
        row["rss_bytes_per_doc"] = round((row["maxrss_mb"] - prev["maxrss_mb"]) * 2**20 / span, 1)
        row["cpu_us_per_doc"] = round((row["reduce_cpu_s"] - prev["reduce_cpu_s"]) * 1e6 / span, 2)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=REPO / "bench-data")
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--cc-copies", type=int, default=2000, help="CC sample copies in one shard")
    ap.add_argument("--tiny-shards", type=int, default=500, help="one-page shards (driver cost)")
    ap.add_argument(
        "--reduce-docs", type=int, nargs="+", default=[200_000, 1_000_000], help="reduce sizes"
    )
    ap.add_argument("--json", type=Path, help="write the numbers here (parts not run are kept)")
    ap.add_argument("--signature-child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--bands-child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--reduce-child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.signature_child:
        signature_child(args.signature_child)
        return 0
    if args.bands_child:
        bands_child(args.bands_child[0], args.bands_child[1:])
        return 0
    if args.reduce_child:
        reduce_child(int(args.reduce_child[0]), args.reduce_child[1:])
        return 0
    if not CC_SAMPLE.exists():
        raise SystemExit(f"the Common Crawl sample is missing: {CC_SAMPLE}")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    work = args.data_dir / "scale-inputs-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    result: dict[str, Any] = {}
    if args.json and args.json.exists():
        result = json.loads(args.json.read_text(encoding="utf-8"))
    result.update({"commit": _commit(), "cpus": os.cpu_count()})
    real = bench_prepare_memory.build_shards(args.data_dir, [120, 570])
    shards = {
        f"cc-sample-x{args.cc_copies}": cc_sample_shard(args.data_dir, args.cc_copies),
        "real-1x": real[120][0],
        "real-4x": real[570][0],
    }
    prepared = work / "prep-real-4x"
    if "prepare" in args.parts:
        result["prepare"] = prep = bench_prepare(shards, args.runs, work)
        one, four = prep["real-1x"], prep["real-4x"]
        span_cpu = four["cpu_s"] - one["cpu_s"]
        result["prepare_marginal"] = {
            "gz_mb_per_cpu_s": round((four["gz_mb"] - one["gz_mb"]) / span_cpu, 2),
            "docs_per_cpu_s": round((four["docs"] - one["docs"]) / span_cpu, 1),
        }
        prepared = Path(four.pop("output"))
        for row in prep.values():
            row.pop("output", None)
    elif "signatures" in args.parts:  # its input: the 4x shard prepared once, untimed
        timed(
            [ALIGNKIT, "webr", "prepare", "-q", "--no-progress", str(shards["real-4x"])]
            + ["--out", str(prepared)]
        )
    if "signatures" in args.parts:
        synthetic = bench_prepare_memory.build_dedup_input(args.data_dir, 50_000)
        result["signatures"] = bench_signatures(
            {
                "prepared real pages (4x shard)": sorted(prepared.glob("*.jsonl.gz")),
                "synthetic 150-word docs": sorted(synthetic.glob("*.jsonl.gz"))[:2],
            },
            args.runs,
        )
    if "reduce" in args.parts:
        result["reduce"] = bench_reduce(args.data_dir, args.reduce_docs, args.runs, work)
    if "overhead" in args.parts:
        result["task_overhead"] = bench_task_overhead(
            args.data_dir, args.tiny_shards, args.runs, work
        )
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, cwd=REPO)
    return out.stdout.decode().strip()


if __name__ == "__main__":
    raise SystemExit(main())
