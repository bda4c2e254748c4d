#!/usr/bin/env python3
"""Build the real-page WARC of BENCHMARKS.md §14: the pages of ``../shared/data/html/pages``
whose main-content text alignkit labels English, one gzip member per response record.

    python benches/make_real_en_warc.py --out bench-data/real-en.warc.gz

Generated at bench time into a git-ignored folder and never committed.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_bench_warc import REPO, _record, real_sources  # noqa: E402


def english_pages() -> list[tuple[str, bytes]]:
    from alignkit.webr import detect_language, extract_text

    pages = []
    for uri, http in real_sources():
        if "commoncrawl" in uri or uri.startswith("https://an.wikipedia"):
            continue
        body = http.split(b"\r\n\r\n", 1)[1]
        text = extract_text(body.decode("utf-8", "replace"), mode="main").text
        if text and detect_language(text).lang == "en":
            pages.append((uri, http))
    return pages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "bench-data" / "real-en.warc.gz")
    args = ap.parse_args(argv)
    pages = english_pages()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".partial")
    with open(tmp, "wb") as fh:
        for uri, http in pages:
            rid = f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, uri)}>"
            fields = [("WARC-Target-URI", uri)]
            rec = _record(
                "response",
                rid,
                "2024-05-18T02:00:00Z",
                fields,
                "application/http; msgtype=response",
                http,
                http.index(b"\r\n\r\n") + 4,
            )
            fh.write(gzip.compress(rec, mtime=0))
    tmp.replace(args.out)
    print(f"{len(pages)} English pages -> {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0 if pages else 1


if __name__ == "__main__":
    sys.exit(main())
