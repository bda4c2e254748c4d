#!/usr/bin/env python3
"""Side-by-side benchmark: WARC reading and HTML plain-text extraction.

Compares alignkit with FastWARC and warcio (reading) and with resiliparse (extraction), on
the same files, in one process. Every timing is the median of ``--runs`` runs after
``--warmup`` unrecorded runs.

    python benches/make_bench_warc.py --out bench-data/bench.warc.gz --min-mb 100
    python benches/bench_read_extract.py --data bench-data/bench.warc.gz --json results.json
    python benches/bench_read_extract.py --quick            # small data, about a minute

Sections:

1. read every record and touch its payload, gzip and uncompressed file:
   alignkit ``WarcReader`` (``rec.block``), FastWARC (``record.reader.read()``),
   warcio (``record.content_stream().read()``);
2. alignkit ``read_warc_batch([half0, half1], workers=2)`` vs FastWARC on one core reading
   both halves;
3. plain-text extraction of the HTML responses (decoded once, outside timing): alignkit
   ``extract_text_batch(mode="plain")`` with 1 and 2 workers vs resiliparse
   ``extract_plain_text``, plus mean bag-of-words F1 agreement between the two outputs.

alignkit parts are skipped (and reported as such) when ``alignkit.webr`` is missing or
fails; third-party libraries missing are skipped the same way.
"""

from __future__ import annotations

import argparse
import codecs
import gc
import importlib.metadata
import json
import os
import platform
import re
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_bench_warc  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MB = 1_000_000


# --------------------------------------------------------------------------------------
# optional libraries


def _try_import(stmt: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return stmt(), None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # ImportError, or a half-built extension (pyo3 panics too)
        return None, f"{type(e).__name__}: {e}"


def _fastwarc():
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    return ArchiveIterator, WarcRecordType


def _warcio():
    from warcio.archiveiterator import ArchiveIterator

    return ArchiveIterator


def _resiliparse():
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text


def _alignkit():
    from alignkit.webr import WarcReader, extract_text_batch, read_warc_batch

    return WarcReader, read_warc_batch, extract_text_batch


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


# --------------------------------------------------------------------------------------
# timing


def measure(fn: Callable[[], Any], runs: int, warmup: int) -> dict[str, Any]:
    """Run ``fn`` warmup + runs times; return median/min seconds and fn's last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "times_s": [round(t, 4) for t in times],
        "result": result,
    }


def guarded(name: str, fn: Callable[[], dict[str, Any]], notes: list[str]) -> dict | None:
    try:
        return fn()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # pyo3's PanicException is not an Exception
        notes.append(f"{name}: {type(e).__name__}: {str(e)[:300]}")
        if os.environ.get("BENCH_DEBUG"):
            traceback.print_exc()
        return None


# --------------------------------------------------------------------------------------
# section 1 and 2: reading


def read_fastwarc(paths: list[Path]) -> tuple[int, int]:
    ArchiveIterator, _ = _fastwarc()
    n = size = 0
    for p in paths:
        with open(p, "rb") as fh:
            # parse_http=False: read the raw WARC block, the same work alignkit's reader does.
            for rec in ArchiveIterator(fh, parse_http=False):
                size += len(rec.reader.read())
                n += 1
    return n, size


def read_warcio(paths: list[Path]) -> tuple[int, int]:
    ArchiveIterator = _warcio()
    n = size = 0
    for p in paths:
        with open(p, "rb") as fh:
            for rec in ArchiveIterator(fh):
                size += len(rec.content_stream().read())
                n += 1
    return n, size


def read_alignkit(paths: list[Path]) -> tuple[int, int]:
    WarcReader = _alignkit()[0]
    n = size = 0
    for p in paths:
        for rec in WarcReader(str(p)):
            size += len(rec.block)
            n += 1
    return n, size


def read_alignkit_batch(paths: list[Path], workers: int) -> tuple[int, int]:
    read_warc_batch = _alignkit()[1]
    stats = read_warc_batch([str(p) for p in paths], workers=workers)
    n = size = 0
    for s in stats:
        if isinstance(s, dict):
            n += int(s["records_returned"])
            size += int(s["block_bytes"])
    return n, size


def _read_row(section: str, impl: str, label: str, m: dict, in_bytes: int, raw_bytes: int) -> dict:
    n, touched = m["result"]
    t = m["median_s"]
    return {
        "section": section,
        "impl": impl,
        "input": label,
        "median_s": round(t, 4),
        "min_s": round(m["min_s"], 4),
        "times_s": m["times_s"],
        "records": n,
        "payload_bytes": touched,
        "records_per_s": round(n / t, 1) if t else None,
        "file_mb_per_s": round(in_bytes / MB / t, 2) if t else None,
        "warc_mb_per_s": round(raw_bytes / MB / t, 2) if t else None,
    }


# --------------------------------------------------------------------------------------
# section 3: extraction

_META_CS = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_HDR_CS = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)


def decode_html(body: bytes, content_type: str) -> str:
    """Decode an HTML payload: BOM, then HTTP charset, then <meta> charset, then UTF-8."""
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace")
    labels = []
    m = _HDR_CS.search(content_type or "")
    if m:
        labels.append(m.group(1))
    mm = _META_CS.search(body[:4096])
    if mm:
        labels.append(mm.group(1).decode("ascii", "replace"))
    for label in labels:
        try:
            return body.decode(label, "replace")
        except LookupError:
            continue
    return body.decode("utf-8", "replace")


def collect_html(path: Path, max_docs: int) -> list[str]:
    """Decoded HTML of up to ``max_docs`` 200/text-html responses (FastWARC, else warcio)."""
    out: list[str] = []
    fw, _ = _try_import(_fastwarc)
    if fw is not None:
        ArchiveIterator, WarcRecordType = fw
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response):
                h = rec.http_headers
                if h is None or h.status_code != 200:
                    continue
                ctype = h.get("Content-Type", "") or ""
                if not ctype.lower().startswith("text/html"):
                    continue
                out.append(decode_html(rec.reader.read(), ctype))
                if len(out) >= max_docs:
                    break
        return out
    ArchiveIterator = _warcio()
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response" or rec.http_headers is None:
                continue
            if rec.http_headers.get_statuscode() != "200":
                continue
            ctype = rec.http_headers.get_header("Content-Type") or ""
            if not ctype.lower().startswith("text/html"):
                continue
            out.append(decode_html(rec.content_stream().read(), ctype))
            if len(out) >= max_docs:
                break
    return out


def bow_f1(a: str, b: str) -> float:
    """F1 of the bag-of-words overlap of two texts (whitespace tokens)."""
    ta, tb = Counter(a.split()), Counter(b.split())
    na, nb = sum(ta.values()), sum(tb.values())
    if na == 0 and nb == 0:
        return 1.0
    if na == 0 or nb == 0:
        return 0.0
    common = sum((ta & tb).values())
    if common == 0:
        return 0.0
    p, r = common / na, common / nb
    return 2 * p * r / (p + r)


def _texts(results: list[Any]) -> list[str]:
    return [r if isinstance(r, str) else (getattr(r, "text", "") or "") for r in results]


# --------------------------------------------------------------------------------------
# report


def markdown(rows: list[dict], extract_rows: list[dict], notes: list[str], env: dict) -> str:
    lines = [
        f"Machine: {env['cpu_count']} CPUs, {env['platform']}, Python {env['python']}; "
        f"load average before start {env['loadavg']}",
        "",
        "| section | impl | input | median s | records/s | file MB/s | WARC MB/s | vs FastWARC |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r.get("ratio_vs_fastwarc")
        lines.append(
            f"| {r['section']} | {r['impl']} | {r['input']} | {r['median_s']:.3f} | "
            f"{r['records_per_s']:,.0f} | {r['file_mb_per_s']:.1f} | {r['warc_mb_per_s']:.1f} | "
            f"{'' if ratio is None else f'{ratio:.2f}x'} |"
        )
    if extract_rows:
        lines += [
            "",
            "| extraction | docs | median s | docs/s | MB/s (HTML) | vs resiliparse "
            "| mean F1 vs resiliparse |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in extract_rows:
            f1 = r.get("mean_f1_vs_resiliparse")
            ratio = r.get("ratio_vs_resiliparse")
            lines.append(
                f"| {r['impl']} | {r['docs']} | {r['median_s']:.3f} | {r['docs_per_s']:,.0f} | "
                f"{r['html_mb_per_s']:.1f} | {'' if ratio is None else f'{ratio:.2f}x'} | "
                f"{'' if f1 is None else f'{f1:.3f}'} |"
            )
    if notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, help="per-record gzip WARC from make_bench_warc.py")
    ap.add_argument(
        "--source",
        choices=("real", "demo"),
        default=None,
        help="build --data with this source if it is missing (default: real if "
        "../shared is there, else demo)",
    )
    ap.add_argument("--min-mb", type=float, default=None, help="size when building data")
    ap.add_argument("--runs", type=int, default=None, help="timed runs (default 5, quick 3)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--max-docs", type=int, default=None, help="HTML docs for extraction")
    ap.add_argument("--quick", action="store_true", help="small data and fewer runs")
    ap.add_argument("--skip-warcio", action="store_true", help="warcio is slow on big files")
    ap.add_argument("--json", type=Path, help="write results as JSON here")
    a = ap.parse_args(argv)

    runs = a.runs or (3 if a.quick else 5)
    max_docs = a.max_docs or (300 if a.quick else 3000)
    source = a.source or ("real" if (make_bench_warc.SHARED / "html").exists() else "demo")
    data = a.data or (REPO / "bench-data" / ("quick.warc.gz" if a.quick else "bench.warc.gz"))
    min_mb = a.min_mb or (8.0 if a.quick else 100.0)
    paths = make_bench_warc.bench_paths(data)
    if not all(paths[k].exists() for k in ("gz", "raw", "part0", "part1")):
        print(f"building {data} ({source}, >= {min_mb} MB) ...", file=sys.stderr)
        make_bench_warc.build(data, min_mb, source)
    gz, raw, parts = paths["gz"], paths["raw"], [paths["part0"], paths["part1"]]
    gz_bytes, raw_bytes = gz.stat().st_size, raw.stat().st_size
    parts_bytes = sum(p.stat().st_size for p in parts)

    notes: list[str] = []
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "versions": {d: _version(d) for d in ("alignkit", "fastwarc", "warcio", "resiliparse")},
        "runs": runs,
        "warmup": a.warmup,
        "data": {"gz": str(gz), "gz_bytes": gz_bytes, "raw": str(raw), "raw_bytes": raw_bytes},
    }
    libs = {
        "fastwarc": _try_import(_fastwarc),
        "warcio": _try_import(_warcio),
        "resiliparse": _try_import(_resiliparse),
        "alignkit": _try_import(_alignkit),
    }
    for name, (mod, err) in libs.items():
        if mod is None:
            notes.append(f"{name} unavailable ({err}); its rows are skipped")
    have = {name for name, (mod, _) in libs.items() if mod is not None}

    rows: list[dict] = []
    readers = [("alignkit", read_alignkit), ("fastwarc", read_fastwarc), ("warcio", read_warcio)]
    for label, path, size in (("gzip", gz, gz_bytes), ("uncompressed", raw, raw_bytes)):
        for impl, fn in readers:
            if impl not in have or (impl == "warcio" and a.skip_warcio):
                continue
            print(f"[read] {impl} {label} ...", file=sys.stderr, flush=True)
            m = guarded(
                f"{impl} read {label}",
                lambda fn=fn, p=path: measure(lambda: fn([p]), runs, a.warmup),
                notes,
            )
            if m:
                rows.append(_read_row("1 read", impl, label, m, size, raw_bytes))

    # section 2: two halves, alignkit 2 workers vs FastWARC 1 core
    if "fastwarc" in have:
        print("[parallel] fastwarc 1 core ...", file=sys.stderr, flush=True)
        m = guarded(
            "fastwarc halves", lambda: measure(lambda: read_fastwarc(parts), runs, a.warmup), notes
        )
        if m:
            rows.append(
                _read_row("2 halves", "fastwarc (1 core)", "gzip x2", m, parts_bytes, raw_bytes)
            )
    if "alignkit" in have:
        for w in (1, 2):
            print(f"[parallel] alignkit workers={w} ...", file=sys.stderr, flush=True)
            m = guarded(
                f"alignkit read_warc_batch workers={w}",
                lambda w=w: measure(lambda: read_alignkit_batch(parts, w), runs, a.warmup),
                notes,
            )
            if m:
                rows.append(
                    _read_row(
                        "2 halves",
                        f"alignkit batch (workers={w})",
                        "gzip x2",
                        m,
                        parts_bytes,
                        raw_bytes,
                    )
                )

    # ratios vs FastWARC on the same input
    for r in rows:
        base = next(
            (
                b
                for b in rows
                if b["section"] == r["section"]
                and b["input"] == r["input"]
                and b["impl"].startswith("fastwarc")
            ),
            None,
        )
        r["ratio_vs_fastwarc"] = round(base["median_s"] / r["median_s"], 3) if base else None

    # section 3: extraction
    extract_rows: list[dict] = []
    if "resiliparse" in have or "alignkit" in have:
        print(f"[extract] collecting up to {max_docs} HTML docs ...", file=sys.stderr, flush=True)
        htmls = collect_html(gz, max_docs)
        html_mb = sum(len(h.encode("utf-8", "replace")) for h in htmls) / MB
        outputs: dict[str, list[str]] = {}
        impls: list[tuple[str, Callable[[], list[str]]]] = []
        if "resiliparse" in have:
            extract_plain_text = libs["resiliparse"][0]
            impls.append(("resiliparse", lambda: [extract_plain_text(h) for h in htmls]))
        if "alignkit" in have:
            etb = libs["alignkit"][0][2]
            for w in (1, 2):
                impls.append(
                    (
                        f"alignkit (workers={w})",
                        lambda w=w: _texts(etb(htmls, mode="plain", workers=w)),
                    )
                )
        for impl, fn in impls:
            print(f"[extract] {impl} ...", file=sys.stderr, flush=True)
            m = guarded(f"extract {impl}", lambda fn=fn: measure(fn, runs, a.warmup), notes)
            if not m:
                continue
            outputs[impl] = m["result"]
            t = m["median_s"]
            extract_rows.append(
                {
                    "impl": impl,
                    "docs": len(htmls),
                    "median_s": round(t, 4),
                    "min_s": round(m["min_s"], 4),
                    "times_s": m["times_s"],
                    "docs_per_s": round(len(htmls) / t, 1) if t else None,
                    "html_mb_per_s": round(html_mb / t, 2) if t else None,
                    "text_chars": sum(len(x) for x in m["result"]),
                }
            )
        base = next((r for r in extract_rows if r["impl"] == "resiliparse"), None)
        for r in extract_rows:
            r["ratio_vs_resiliparse"] = round(base["median_s"] / r["median_s"], 3) if base else None
            if base and r["impl"] != "resiliparse":
                ref = outputs["resiliparse"]
                got = outputs[r["impl"]]
                f1s = [bow_f1(x, y) for x, y in zip(got, ref, strict=False)]
                r["mean_f1_vs_resiliparse"] = round(statistics.fmean(f1s), 4) if f1s else None
            else:
                r["mean_f1_vs_resiliparse"] = None
        env["extract_html_mb"] = round(html_mb, 2)

    report = markdown(rows, extract_rows, notes, env)
    print(report)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(
            json.dumps(
                {"env": env, "read": rows, "extract": extract_rows, "notes": notes}, indent=1
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
