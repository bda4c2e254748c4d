#!/usr/bin/env python3
"""Peak memory and speed of ``alignkit webr prepare`` against a FastWARC + resiliparse script.

    python benches/bench_prepare_memory.py --sizes-mb 120 600 2400 --runs 3
    python benches/bench_prepare_memory.py --sizes-mb --dedup-docs 50000 200000 --runs 1
    python benches/bench_prepare_memory.py --sizes-mb --dedup-docs 50000 200000 1000000 --runs 1 \
        --dedup-reduce

For each size S (megabytes of uncompressed WARC records of real HTML pages, gzip member per
record, as Common Crawl ships them) one shard is built under ``bench-data/`` (git-ignored): a
base shard of about 120 MB from ``make_bench_warc.py --source real`` (the 109 real pages of
``../shared/data/html/pages`` plus the Common Crawl sample's responses), concatenated with itself
to reach S (gzip members concatenate into a valid WARC). Each run is a fresh process, measured by
``/usr/bin/time -v`` semantics: ``resource.getrusage(RUSAGE_CHILDREN)`` of a one-shot wrapper
process, so the peak RSS is that of the command alone and start-up time is included.

Commands, run alternately (alignkit, anchor, alignkit, ...):

* alignkit: ``alignkit webr prepare --workers 1 --no-progress SHARD --out DIR`` (default
  options: plain extraction, 2xx HTML only, quality filters on);
* anchor (``_anchor_prepare`` below): FastWARC reads response records, keeps 2xx HTML, decodes
  with resiliparse's encoding detection, extracts plain text with resiliparse, detects the
  language with resiliparse's ``detect_fast`` and writes gzip JSONL; no quality filters.

Reported per size: median peak RSS (MB), median seconds, documents per second and the ratios
(anchor seconds / alignkit seconds: >1 means alignkit is faster; alignkit RSS / anchor RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_bench_warc  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MB = 1_000_000
BASE_MB = 120
# ALIGNKIT_BIN: another build to measure (e.g. a worktree of an older commit, for before/after).
ALIGNKIT = os.environ.get("ALIGNKIT_BIN") or shutil.which("alignkit") or "alignkit"


def _anchor_prepare(src: str, out: str) -> None:
    """The anchor: one shard to gzip JSONL with FastWARC + resiliparse, streaming."""
    import gzip

    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree
    from resiliparse.parse.lang import detect_fast

    kept = 0
    with open(src, "rb") as fh, gzip.open(out, "wt", encoding="utf-8", compresslevel=6) as dst:
        for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
            if not 200 <= (rec.http_headers.status_code or 0) < 300:
                continue
            if (rec.http_content_type or "") not in ("text/html", "application/xhtml+xml"):
                continue
            body = rec.reader.read()
            tree = HTMLTree.parse(bytes_to_str(body, detect_encoding(body)))
            text = extract_plain_text(tree)
            if not text.strip():
                continue
            lang, _ = detect_fast(text)
            doc = {
                "id": rec.record_id,
                "url": rec.headers.get("WARC-Target-URI"),
                "date": rec.headers.get("WARC-Date"),
                "title": tree.title,
                "text": text,
                "lang": lang,
            }
            dst.write(json.dumps(doc, ensure_ascii=False) + "\n")
            kept += 1
    print(json.dumps({"documents": kept}))


def measure(cmd: list[str]) -> dict:
    """Run `cmd` through a one-shot wrapper; its children's rusage is the command's alone."""
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "dt = time.perf_counter() - t\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': p.returncode, 'seconds': dt, 'maxrss_kb': ru.ru_maxrss,\n"
        "  'stdout': p.stdout.decode(errors='replace')[-2000:],\n"
        "  'stderr': p.stderr.decode(errors='replace')[-2000:]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, check=True)
    res = json.loads(out.stdout)
    if res["rc"] != 0:
        raise SystemExit(f"{cmd[:4]} failed ({res['rc']}):\n{res['stderr']}")
    return res


def build_shards(data_dir: Path, sizes_mb: list[int]) -> dict[int, tuple[Path, int]]:
    """One base shard of about BASE_MB MB of records, repeated to each size."""
    base_out = data_dir / "prepmem-base.warc.gz"
    info_path = make_bench_warc.bench_paths(base_out)["info"]
    if not info_path.exists():
        # --min-mb counts gzip bytes; real pages compress about 4.4x.
        make_bench_warc.build(base_out, BASE_MB / 4.4, "real")
    info = json.loads(info_path.read_text())
    base_raw = info["raw_bytes"]
    shards = {}
    for size in sizes_mb:
        # The table reports the actual size (copies x base), not the size asked for.
        copies = max(1, round(size * MB / base_raw))
        path = data_dir / f"prepmem-{copies}x.warc.gz"
        if not path.exists():
            tmp = path.with_suffix(".partial")
            with open(tmp, "wb") as dst:
                for _ in range(copies):
                    with open(base_out, "rb") as src:
                        shutil.copyfileobj(src, dst, 1 << 22)
            tmp.replace(path)
        shards[size] = (path, round(copies * base_raw / MB))
    return shards


def count_docs(out_dir: Path) -> int:
    import gzip

    return sum(
        sum(1 for _ in gzip.open(p, "rt", encoding="utf-8")) for p in out_dir.glob("*.jsonl.gz")
    )


def run_size(shard: Path, runs: int, work: Path) -> dict:
    results: dict[str, list[dict]] = {"alignkit": [], "anchor": []}
    docs: dict[str, int] = {}
    for i in range(runs):
        out = work / f"ak-{i}"
        ak = measure(
            [ALIGNKIT, "webr", "prepare", "--workers", "1"]
            + ["--no-progress", "-q", str(shard), "--out", str(out)]
        )
        docs["alignkit"] = count_docs(out)
        shutil.rmtree(out)
        results["alignkit"].append(ak)
        anchor_out = work / f"anchor-{i}.jsonl.gz"
        an = measure(
            [sys.executable, __file__, "--anchor", str(shard), str(anchor_out)],
        )
        docs["anchor"] = json.loads(an["stdout"].strip().splitlines()[-1])["documents"]
        anchor_out.unlink()
        results["anchor"].append(an)
    row: dict = {"shard": shard.name, "shard_gz_mb": round(shard.stat().st_size / MB, 1)}
    for name, rs in results.items():
        sec = statistics.median(r["seconds"] for r in rs)
        rss = statistics.median(r["maxrss_kb"] for r in rs) / 1024
        row[name] = {
            "peak_rss_mb": round(rss, 1),
            "seconds": round(sec, 2),
            "docs": docs[name],
            "docs_per_s": round(docs[name] / sec, 1),
            "rss_runs_mb": [round(r["maxrss_kb"] / 1024, 1) for r in rs],
            "seconds_runs": [round(r["seconds"], 2) for r in rs],
        }
    row["speed_ratio"] = round(row["anchor"]["seconds"] / row["alignkit"]["seconds"], 2)
    row["rss_ratio"] = round(row["alignkit"]["peak_rss_mb"] / row["anchor"]["peak_rss_mb"], 2)
    return row


def build_dedup_input(data_dir: Path, docs: int, per_shard: int = 10_000) -> Path:
    """`docs` documents of 150 random words (one in ten a near copy of an earlier one) as
    gzip JSONL shards shaped like `webr prepare` output."""
    import gzip
    import random

    folder = data_dir / f"dedupmem-{docs}"
    if (folder / "done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(docs)
    vocab = [f"w{i}" for i in range(20_000)]
    recent: list[list[str]] = []
    for shard in range(0, docs, per_shard):
        with gzip.open(folder / f"s{shard // per_shard:04d}.jsonl.gz", "wt", compresslevel=1) as fh:
            for i in range(shard, min(docs, shard + per_shard)):
                if recent and rng.random() < 0.1:
                    words = list(rng.choice(recent))
                    words[rng.randrange(len(words))] = rng.choice(vocab)
                else:
                    words = rng.choices(vocab, k=150)
                    recent = (recent + [words])[-100:]
                fh.write(json.dumps({"id": f"d{i}", "text": " ".join(words)}) + "\n")
    (folder / "done").write_text("")
    return folder


def run_dedup(data_dir: Path, sizes: list[int], runs: int, reduce: bool = False) -> list[dict]:
    """Peak RSS of `webr dedup --workers 1` per input size, and the growth per document. With
    `reduce`, also the cluster step alone: every reduce marker is deleted and the same command
    re-run, so it redoes only the reduce (the tasks are trusted, identical masks left as they
    are); the start-up of the command is included in both."""
    rows = []
    for docs in sizes:
        folder = build_dedup_input(data_dir, docs)
        res, again = [], []
        for i in range(runs):
            out = data_dir / f"dedupmem-out-{docs}-{i}"
            cmd = (
                [ALIGNKIT, "webr", "dedup", "--workers", "1", "--no-progress", "-q"]
                + [str(p) for p in sorted(folder.glob("*.jsonl.gz"))]
                + ["--out", str(out)]
            )
            res.append(measure(cmd))
            if reduce:
                for marker in out.rglob("@reduce.json"):
                    marker.unlink()
                again.append(measure(cmd))
            shutil.rmtree(out)
        row = {
            "docs": docs,
            "peak_rss_mb": round(statistics.median(r["maxrss_kb"] for r in res) / 1024, 1),
            "seconds": round(statistics.median(r["seconds"] for r in res), 2),
        }
        if again:
            row["reduce_rss_mb"] = round(statistics.median(r["maxrss_kb"] for r in again) / 1024, 1)
            row["reduce_seconds"] = round(statistics.median(r["seconds"] for r in again), 2)
        rows.append(row)
    for prev, row in zip(rows, rows[1:], strict=False):
        for key in ("peak_rss_mb", "reduce_rss_mb"):
            if key in row:
                grown = (row[key] - prev[key]) * 1024 * 1024
                growth = round(grown / (row["docs"] - prev["docs"]), 1)
                row[key.replace("rss_mb", "bytes_per_doc")] = growth
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes-mb", type=int, nargs="*", default=[120, 600, 2400])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=REPO / "bench-data")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument(
        "--dedup-docs", type=int, nargs="*", default=[], help="also measure webr dedup at these"
    )
    ap.add_argument(
        "--dedup-reduce",
        action="store_true",
        help="with --dedup-docs: also the peak RSS of a re-run that redoes only the cluster step",
    )
    ap.add_argument("--anchor", nargs=2, metavar=("SHARD", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.anchor:
        _anchor_prepare(*args.anchor)
        return 0
    if args.dedup_docs:
        print(
            "| dedup docs | peak RSS MB | seconds | growth bytes/doc | reduce re-run RSS MB | "
            "reduce re-run s | reduce growth bytes/doc |\n|---|---|---|---|---|---|---|"
        )
        for row in run_dedup(args.data_dir, args.dedup_docs, args.runs, args.dedup_reduce):
            print(
                f"| {row['docs']} | {row['peak_rss_mb']} | {row['seconds']} | "
                f"{row.get('peak_bytes_per_doc', '')} | {row.get('reduce_rss_mb', '')} | "
                f"{row.get('reduce_seconds', '')} | {row.get('reduce_bytes_per_doc', '')} |",
                flush=True,
            )
    if not args.sizes_mb:
        return 0
    shards = build_shards(args.data_dir, args.sizes_mb)
    rows = []
    print(
        "| records MB | gz MB | alignkit RSS MB | anchor RSS MB | RSS ratio | alignkit s | "
        "anchor s | alignkit docs/s | anchor docs/s | speed ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="prepmem-", dir=args.data_dir) as tmp:
        for size in args.sizes_mb:
            shard, records_mb = shards[size]
            row = run_size(shard, args.runs, Path(tmp))
            row["records_mb"] = records_mb
            rows.append(row)
            ak, an = row["alignkit"], row["anchor"]
            print(
                f"| {records_mb} | {row['shard_gz_mb']} | {ak['peak_rss_mb']} | "
                f"{an['peak_rss_mb']} | "
                f"{row['rss_ratio']} | {ak['seconds']} | {an['seconds']} | {ak['docs_per_s']} | "
                f"{an['docs_per_s']} | {row['speed_ratio']} |",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(f"cpu: {os.cpu_count()} cores; runs per cell: {args.runs} (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
