#!/usr/bin/env python3
"""Build benchmark WARC files for ``bench_read_extract.py``.

    python benches/make_bench_warc.py --out bench-data/bench.warc.gz --min-mb 100 --source real

Writes, next to ``--out``:

* ``NAME.warc.gz``: one gzip member per record, at least ``--min-mb`` MB;
* ``NAME.warc``: the same records uncompressed;
* ``NAME.part0.warc.gz`` and ``NAME.part1.warc.gz``: the gzip file split in two halves at a
  record boundary (input for the two-worker comparison);
* ``NAME.json``: sizes and record counts.

``--source real`` repeats the 109 real pages of ``../shared/data/html/pages`` and the
response records of ``../shared/data/commoncrawl/whirlwind.warc.gz`` with fresh URLs and
record IDs until the size is reached. These files are generated at bench time into a
git-ignored folder (``bench-data/``) and never committed. ``--source demo`` uses
``alignkit.data.demo`` (synthetic pages) instead and needs nothing outside the repository.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import importlib
import importlib.util
import json
import re
import sys
import time
import uuid
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def load_demo_module():
    """Import the demo generator from this source tree (pure Python, no build needed)."""
    src = REPO / "python" / "alignkit" / "data"
    name = "_alignkit_bench_demo_data"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, src / "__init__.py", submodule_search_locations=[str(src)]
        )
        assert spec is not None and spec.loader is not None
        pkg = importlib.util.module_from_spec(spec)
        sys.modules[name] = pkg
        spec.loader.exec_module(pkg)
    return importlib.import_module(f"{name}.demo")


def _sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def _record(
    rec_type: str,
    rec_id: str,
    date: str,
    fields: list[tuple[str, str]],
    ctype: str,
    block: bytes,
    payload_from: int | None,
) -> bytes:
    lines = [
        "WARC/1.1",
        f"WARC-Type: {rec_type}",
        f"WARC-Date: {date}",
        f"WARC-Record-ID: {rec_id}",
        f"Content-Length: {len(block)}",
        f"Content-Type: {ctype}",
    ]
    lines += [f"{k}: {v}" for k, v in fields]
    if payload_from is not None:
        lines.append(f"WARC-Payload-Digest: {_sha1(block[payload_from:])}")
    lines.append(f"WARC-Block-Digest: {_sha1(block)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + block + b"\r\n\r\n"


def _iter_warc_records(data: bytes):
    """Yield (headers dict, block) from uncompressed WARC bytes (well-formed input only)."""
    pos = 0
    while True:
        start = data.find(b"WARC/", pos)
        if start < 0:
            return
        end = data.index(b"\r\n\r\n", start)
        head = data[start:end].decode("utf-8", "replace").split("\r\n")[1:]
        headers = {}
        for line in head:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers["content-length"])
        block = data[end + 4 : end + 4 + n]
        yield headers, block
        pos = end + 4 + n


def real_sources() -> list[tuple[str, bytes]]:
    """(URI, HTTP response block) for every real page available in ../shared."""
    out: list[tuple[str, bytes]] = []
    pages = sorted((SHARED / "html" / "pages").glob("*.html.gz"))
    for p in pages:
        body = gzip.decompress(p.read_bytes())
        stem = p.name[: -len(".html.gz")]
        host, _, rest = stem.partition(".")
        # host-ish name from the file name, e.g. "adac.de.kindersitze" -> adac.de/kindersitze
        parts = stem.split(".")
        if len(parts) >= 3:
            host, path = ".".join(parts[:2]), "/".join(parts[2:])
        else:
            host, path = stem, "index"
        m = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", body[:4096], re.I)
        ctype = "text/html" + (f"; charset={m.group(1).decode('ascii')}" if m else "")
        http = (
            "HTTP/1.1 200 OK\r\nDate: Sat, 18 May 2024 02:00:00 GMT\r\nServer: bench\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body
        out.append((f"https://{host}/{path}", http))
    ww = SHARED / "commoncrawl" / "whirlwind.warc.gz"
    if ww.exists():
        for headers, block in _iter_warc_records(gzip.decompress(ww.read_bytes())):
            if headers.get("warc-type") == "response":
                out.append((headers.get("warc-target-uri", "https://example.org/"), block))
    if not out:
        raise SystemExit(f"no real pages found under {SHARED}; use --source demo")
    return out


def build_real(gz_path: Path, raw_path: Path, min_bytes: int) -> dict:
    sources = real_sources()
    counter = 0

    def rid() -> str:
        nonlocal counter
        counter += 1
        return f"<urn:uuid:{uuid.UUID(int=(0xA11C << 112) | counter, version=4)}>"

    n_resp = 0
    n_rec = 0
    req_offsets: list[tuple[int, int]] = []  # (gzip offset, records before) of each request
    gz_size = 0
    raw_size = 0
    date = "2024-05-18T02:00:00Z"
    with open(gz_path, "wb") as gz, open(raw_path, "wb") as raw:

        def put(rec: bytes) -> None:
            nonlocal gz_size, raw_size, n_rec
            c = zlib.compressobj(6, zlib.DEFLATED, 31)
            member = c.compress(rec) + c.flush()
            gz.write(member)
            raw.write(rec)
            gz_size += len(member)
            raw_size += len(rec)
            n_rec += 1

        info_id = rid()
        put(
            _record(
                "warcinfo",
                info_id,
                date,
                [("WARC-Filename", gz_path.name)],
                "application/warc-fields",
                b"software: alignkit make_bench_warc.py\r\nformat: WARC File Format 1.1\r\n",
                None,
            )
        )
        round_no = 0
        while gz_size < min_bytes:
            for uri, http in sources:
                sep = "&" if "?" in uri else "?"
                u = f"{uri}{sep}bench_copy={round_no}"
                host = u.split("/")[2]
                path = "/" + u.split("/", 3)[3] if u.count("/") >= 3 else "/"
                req = (f"GET {path} HTTP/1.1\r\nUser-Agent: bench\r\nHost: {host}\r\n\r\n").encode(
                    "utf-8", "replace"
                )
                req_id, resp_id = rid(), rid()
                req_offsets.append((gz_size, n_rec))
                common = [("WARC-Warcinfo-ID", info_id), ("WARC-Target-URI", u)]
                put(
                    _record(
                        "request",
                        req_id,
                        date,
                        common,
                        "application/http; msgtype=request",
                        req,
                        len(req),
                    )
                )
                head_end = http.find(b"\r\n\r\n")
                put(
                    _record(
                        "response",
                        resp_id,
                        date,
                        [("WARC-Concurrent-To", req_id), *common],
                        "application/http; msgtype=response",
                        http,
                        head_end + 4 if head_end >= 0 else None,
                    )
                )
                meta = f"fetchTimeMs: {100 + round_no % 900}\r\n".encode()
                put(
                    _record(
                        "metadata",
                        rid(),
                        date,
                        [("WARC-Concurrent-To", resp_id), *common],
                        "application/warc-fields",
                        meta,
                        0,
                    )
                )
                n_resp += 1
            round_no += 1
    cut, before = min(req_offsets, key=lambda t: abs(t[0] - gz_size // 2))
    return {
        "cut": cut,
        "part_records": [before, n_rec - before],
        "source": "real",
        "records": n_rec,
        "responses": n_resp,
        "distinct_pages": len(sources),
        "rounds": round_no,
    }


def build_demo(gz_path: Path, raw_path: Path, min_bytes: int, seed: int) -> dict:
    demo = load_demo_module()
    m = demo.write_demo_warc(
        gz_path, n_docs=0, seed=seed, compression="gzip", faults=False, min_bytes=min_bytes
    )
    m2 = demo.write_demo_warc(
        raw_path, n_docs=m["n_docs"], seed=seed, compression="none", faults=False
    )
    assert m2["records"] == m["records"]
    docs = m["docs"]
    k = min(range(len(docs)), key=lambda i: abs(docs[i]["request_offset"] - m["bytes"] // 2))
    return {
        "cut": docs[k]["request_offset"],
        "part_records": [1 + 3 * k, 3 * (len(docs) - k)],
        "source": "demo",
        "records": m["total_records"],
        "responses": m["records"]["response"],
        "html_pages": m["html_pages"],
        "seed": seed,
    }


def split_at(gz_path: Path, out0: Path, out1: Path, cut: int) -> None:
    """Write the bytes before / after offset ``cut`` (a gzip member boundary) to two files."""
    data = gz_path.read_bytes()
    out0.write_bytes(data[:cut])
    out1.write_bytes(data[cut:])


def bench_paths(out: Path) -> dict[str, Path]:
    name = out.name
    for ext in (".warc.gz", ".gz"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    base = out.parent / name
    return {
        "gz": out,
        "raw": base.with_name(name + ".warc"),
        "part0": base.with_name(name + ".part0.warc.gz"),
        "part1": base.with_name(name + ".part1.warc.gz"),
        "info": base.with_name(name + ".json"),
    }


def build(out: Path, min_mb: float, source: str, seed: int = 0) -> dict:
    paths = bench_paths(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    min_bytes = int(min_mb * 1_000_000)
    if source == "real":
        info = build_real(paths["gz"], paths["raw"], min_bytes)
    else:
        info = build_demo(paths["gz"], paths["raw"], min_bytes, seed)
    split_at(paths["gz"], paths["part0"], paths["part1"], info.pop("cut"))
    info.update(
        {
            "gz": str(paths["gz"]),
            "raw": str(paths["raw"]),
            "parts": [str(paths["part0"]), str(paths["part1"])],
            "gz_bytes": paths["gz"].stat().st_size,
            "raw_bytes": paths["raw"].stat().st_size,
            "build_seconds": round(time.perf_counter() - t0, 2),
        }
    )
    paths["info"].write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "bench-data" / "bench.warc.gz")
    ap.add_argument("--min-mb", type=float, default=100.0)
    ap.add_argument("--source", choices=("real", "demo"), default="real")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    info = build(a.out, a.min_mb, a.source, a.seed)
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
