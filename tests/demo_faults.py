"""Broken demo WARC files for reader tests: a clean demo shard with faults spliced in.

`alignkit.data.demo` only writes well-formed files. Readers must also survive what real crawls
contain now and then, so this fixture rewrites a clean shard with, on top of its good pages:
garbage bytes between two records (after a third of the pages), a response record whose
Content-Length is 13 bytes too small (after half of them), for per-record gzip a gzip member
with a corrupted byte (after two thirds), and a truncated record at the end (a cut gzip member,
a cut record, or a gzip stream without its end). The returned manifest describes each fault
and gives the good pages' offsets in the new file.
"""

from __future__ import annotations

import gzip
import os
import random
import zlib
from pathlib import Path
from typing import Any

from alignkit.data import demo

import warcbuild as wb


def split_records(data: bytes) -> list[bytes]:
    """An uncompressed, well-formed WARC file as its records (header, block, CRLF CRLF)."""
    records = []
    pos = 0
    while pos < len(data):
        head_end = data.index(b"\r\n\r\n", pos) + 4
        head = data[pos:head_end].decode("utf-8")
        length = next(
            int(line.split(":", 1)[1])
            for line in head.split("\r\n")
            if line.lower().startswith("content-length:")
        )
        end = head_end + length + 4
        records.append(data[pos:end])
        pos = end
    return records


def _member(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)  # as the demo writer compresses
    return c.compress(data) + c.flush()


def _wrong_length_record(uri: str) -> tuple[bytes, int, int]:
    body = b"<html><head><title>Wrong length</title></head><body><p>" + b"x" * 400
    http = wb.http_response(body + b"</p></body></html>")
    declared = len(http) - 13
    return wb.record(http, uri=uri, content_length=declared), declared, len(http)


def write_faulty_demo_warc(
    path: str | os.PathLike[str],
    n_docs: int = 200,
    seed: int = 0,
    compression: str = "gzip",
    shard_index: int = 0,
) -> dict[str, Any]:
    """Write a demo shard with faults and return its manifest (``faults`` lists them)."""
    path = Path(path)
    m = demo.write_demo_warc(path, n_docs, seed, compression, shard_index)
    raw = path.read_bytes()
    records = split_records(raw if compression == "none" else gzip.decompress(raw))
    assert len(records) == m["total_records"], "demo shard does not split into its records"
    n = m["n_docs"]
    # Record index of page k's request is 1 + 3k; faults go in front of these pages.
    before = {n // 3: "garbage", n // 2: "wrong_length"}
    if compression == "gzip":
        before[(2 * n) // 3] = "corrupt_gzip"
    stream = zlib.compressobj(6, zlib.DEFLATED, 31) if compression == "gzip-stream" else None
    out = bytearray()
    upos = 0  # uncompressed position inside a gzip stream
    faults: list[dict[str, Any]] = []

    def put(data: bytes) -> int | None:
        nonlocal upos
        start = len(out)
        if stream is not None:
            out.extend(stream.compress(data))
            upos += len(data)
            return None
        out.extend(_member(data) if compression == "gzip" else data)
        return start

    def fault(kind: str, k: int, **details: Any) -> None:
        faults.append({"kind": kind, "after_doc": k - 1, **details})

    put(records[0])
    for k, doc in enumerate(m["docs"]):
        what = before.get(k)
        if what == "garbage":
            junk = b"\r\nGARBAGE" + random.Random(f"{seed}:{shard_index}").randbytes(61) + b"\r\n"
            fault(
                "garbage_between_records",
                k,
                offset=None if stream else len(out),
                uncompressed_offset=upos if stream else None,
                length=len(junk),
            )
            if stream is not None:
                put(junk)
            else:
                out.extend(junk)  # raw bytes between members too
        elif what == "wrong_length":
            uri = f"https://wrong-length.example.org/{seed}/{shard_index}/{k}"
            rec, declared, actual = _wrong_length_record(uri)
            offset = put(rec)
            fault("wrong_content_length", k, uri=uri, declared=declared, actual=actual)
            faults[-1]["offset"] = offset
        elif what == "corrupt_gzip":
            member = bytearray(_member(wb.record(wb.http_response(b"<p>lost</p>"), uri="x:lost")))
            member[len(member) // 2] ^= 0xFF
            fault("corrupt_gzip_member", k, offset=len(out), length=len(member))
            out.extend(member)
        req, resp, meta = records[1 + 3 * k : 4 + 3 * k]
        doc["request_offset"] = put(req)
        doc["offset"] = put(resp)
        put(meta)

    cut = wb.record(
        wb.http_response(b"<html><body><p>" + b"cut " * 600 + b"</p></body></html>"),
        uri=f"https://truncated.example.org/{shard_index}/end",
    )
    keep = len(cut) // 2
    if stream is not None:
        # The good data is flushed completely; half a record follows and the stream ends
        # without its final block and gzip trailer.
        out.extend(stream.flush(zlib.Z_FULL_FLUSH))
        out.extend(stream.compress(cut[:keep]) + stream.flush(zlib.Z_SYNC_FLUSH))
        fault("truncated_gzip_stream", n, offset=None, record_length=len(cut))
    elif compression == "gzip":
        member = _member(cut)
        fault("truncated_gzip_member", n, offset=len(out), record_length=len(cut))
        out.extend(member[: len(member) // 2])
    else:
        fault("truncated_record", n, offset=len(out), record_length=len(cut))
        faults[-1]["bytes_dropped"] = len(cut) - keep
        out.extend(cut[:keep])
    faults[-1]["at_end"] = True
    path.write_bytes(bytes(out))
    m.update(faults=faults, broken=len(faults), bytes=len(out))
    return m


def write_faulty_demo_shards(
    out_dir: str | os.PathLike[str],
    n_shards: int = 2,
    docs_per_shard: int = 200,
    seed: int = 0,
    compression: str = "gzip",
) -> list[Path]:
    """Like `write_demo_shards` (same names), with faults in every shard."""
    paths = [Path(out_dir) / demo.demo_shard_name(k, compression) for k in range(n_shards)]
    for k, p in enumerate(paths):
        write_faulty_demo_warc(p, docs_per_shard, seed, compression, k)
    return paths
