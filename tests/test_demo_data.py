"""Tests for the synthetic demo crawl generator (alignkit.data.demo).

warcio is used as an independent WARC reader: what it parses must match the manifest.
"""

from __future__ import annotations

import base64
import codecs
import gzip
import hashlib
import html
import io
import json
import re
import zlib
from collections import Counter
from pathlib import Path

import pytest

from alignkit.data import demo

warcio_ai = pytest.importorskip("warcio.archiveiterator")

N = 240
COMPRESSIONS = ("gzip", "none", "gzip-stream")


def _open_for_warcio(path: Path, compression: str):
    # warcio refuses a single gzip stream spanning records, so hand it the decompressed bytes.
    if compression == "gzip-stream":
        return io.BytesIO(gzip.decompress(path.read_bytes()))
    return open(path, "rb")  # noqa: SIM115


def _read_all(path: Path, compression: str) -> list[dict]:
    out = []
    with _open_for_warcio(path, compression) as fh:
        for rec in warcio_ai.ArchiveIterator(fh, check_digests="raise"):
            item = {
                "type": rec.rec_type,
                "uri": rec.rec_headers.get_header("WARC-Target-URI"),
                "id": rec.rec_headers.get_header("WARC-Record-ID"),
                "headers": rec.rec_headers,
                "http": rec.http_headers,
            }
            item["body"] = rec.content_stream().read()
            out.append(item)
    return out


@pytest.fixture(scope="module")
def clean_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo_clean")
    res = {}
    for c in COMPRESSIONS:
        p = d / f"clean-{c}.warc"
        res[c] = (p, demo.write_demo_warc(p, n_docs=N, seed=7, compression=c, faults=False))
    return res


def test_deterministic_bytes(tmp_path):
    # the file name is recorded in warcinfo, so compare files of the same name
    pa, pb, pc = (tmp_path / x / "demo.warc.gz" for x in "abc")
    a = demo.write_demo_warc(pa, n_docs=60, seed=3)
    b = demo.write_demo_warc(pb, n_docs=60, seed=3)
    demo.write_demo_warc(pc, n_docs=60, seed=4)
    assert pa.read_bytes() == pb.read_bytes()
    assert pa.read_bytes() != pc.read_bytes()
    a.pop("path")
    b.pop("path")
    assert a == b


def test_shards_deterministic_and_named(tmp_path):
    for c in COMPRESSIONS:
        p1 = demo.write_demo_shards(tmp_path / "x", 2, 40, seed=1, compression=c)
        p2 = demo.write_demo_shards(tmp_path / "y", 2, 40, seed=1, compression=c)
        ext = ".warc" if c == "none" else ".warc.gz"
        assert [p.name for p in p1] == [f"CC-DEMO-0000{i}{ext}" for i in range(2)]
        for x, y in zip(p1, p2, strict=True):
            assert x.read_bytes() == y.read_bytes()
        # shards differ from each other
        assert p1[0].read_bytes() != p1[1].read_bytes()
    summary = json.loads((tmp_path / "x" / "CC-DEMO-manifest.json").read_text("utf-8"))
    assert [m["shard_index"] for m in summary] == [0, 1]


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_warcio_matches_manifest(clean_files, compression):
    path, m = clean_files[compression]
    recs = _read_all(path, compression)
    assert m["faults"] == [] and m["broken"] == 0
    assert dict(Counter(r["type"] for r in recs)) == m["records"]
    assert len(recs) == m["total_records"] == 1 + 3 * N
    assert recs[0]["type"] == "warcinfo"
    assert recs[0]["headers"].get_header("WARC-Filename") == path.name
    # request, response, metadata triples in order, linked by WARC-Concurrent-To
    resp = []
    for k in range(N):
        req, rsp, meta = recs[1 + 3 * k : 4 + 3 * k]
        assert (req["type"], rsp["type"], meta["type"]) == ("request", "response", "metadata")
        assert rsp["headers"].get_header("WARC-Concurrent-To") == req["id"]
        assert meta["headers"].get_header("WARC-Concurrent-To") == rsp["id"]
        assert req["uri"] == rsp["uri"] == meta["uri"] == m["docs"][k]["uri"]
        assert rsp["id"] == m["docs"][k]["record_id"]
        assert re.fullmatch(r"<urn:uuid:[0-9a-f-]{36}>", rsp["id"])
        resp.append(rsp)
    ctypes = [r["http"].get_header("Content-Type") for r in resp]
    assert sum(1 for c in ctypes if c.startswith("text/html")) == m["html_pages"]
    non_html = Counter(c.split(";")[0] for c in ctypes if not c.startswith("text/html"))
    assert dict(non_html) == m["non_html"]
    assert sum(m["non_html"].values()) == m["kinds"]["non_html"]
    chunked = sum(1 for r in resp if r["http"].get_header("Transfer-Encoding") == "chunked")
    assert chunked == m["chunked"] > 0
    status = Counter(int(r["http"].get_statuscode()) for r in resp)
    assert {str(k): v for k, v in status.items()} == {str(k): v for k, v in m["status"].items()}
    # dechunked body digest equals the manifest's
    for r, d in zip(resp, m["docs"], strict=True):
        digest = hashlib.sha1(r["body"]).digest()
        assert "sha1:" + base64.b32encode(digest).decode() == d["payload_sha1"]
        if r["http"].get_header("Transfer-Encoding") != "chunked":
            assert int(r["http"].get_header("Content-Length")) == len(r["body"])


def test_manifest_coverage(clean_files):
    _, m = clean_files["gzip"]
    assert m["n_docs"] == N
    assert set(m["languages"]) >= {"en", "de", "fr", "es", "ru", "zh"}
    assert set(m["encodings"]) >= {"utf-8", "cp1252", "latin-1", "cp1251", "koi8-r", "gb18030"}
    assert set(m["charset_declared_in"]) == {"header", "meta", "both", "bom", "none"}
    assert m["duplicates"] > 0 and m["near_duplicates"] > 0
    assert sum(m["junk"].values()) == m["kinds"]["junk"] > 0
    assert sum(m["kinds"].values()) == N
    assert sum(m["languages"].values()) == m["html_pages"]


def _declared_charset(body: bytes, ctype: str) -> tuple[str | None, str | None]:
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8", "bom"
    hm = re.search(r"charset=([\w-]+)", ctype, re.I)
    mm = re.search(rb"<meta[^>]+charset=\"?([\w-]+)", body[:2048], re.I)
    if hm:
        return hm.group(1), "both" if mm else "header"
    if mm:
        return mm.group(1).decode("ascii"), "meta"
    return None, "none"


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_charset_declared_matches_bytes(clean_files, compression):
    path, m = clean_files[compression]
    recs = [r for r in _read_all(path, compression) if r["type"] == "response"]
    seen = Counter()
    for r, d in zip(recs, m["docs"], strict=True):
        ctype = r["http"].get_header("Content-Type")
        if not ctype.startswith("text/html"):
            continue
        label, where = _declared_charset(r["body"], ctype)
        assert where == d["charset_declared_in"], d["uri"]
        label = label or "utf-8"  # undeclared pages are UTF-8
        assert codecs.lookup(label).name == codecs.lookup(d["encoding"]).name
        text = r["body"].decode(label)  # strict: must not raise
        if where == "bom":
            text = text[1:]
        assert d["title"] in html.unescape(text)
        if d["kind"] == "html":
            assert f'<html lang="{d["lang"]}">' in text
        seen[codecs.lookup(label).name] += 1
    # non-UTF-8 pages really are encoded differently
    assert len(seen) >= 5


def test_duplicates_and_near_duplicates(clean_files):
    path, m = clean_files["none"]
    recs = [r for r in _read_all(path, "none") if r["type"] == "response"]
    by_uri = {r["uri"]: r["body"] for r in recs}
    n_dup = n_near = 0
    for d in m["docs"]:
        if d["kind"] == "duplicate":
            assert by_uri[d["uri"]] == by_uri[d["dup_of"]]
            assert d["uri"] != d["dup_of"]
            n_dup += 1
        elif d["kind"] == "near_duplicate":
            a = by_uri[d["uri"]].splitlines()
            b = by_uri[d["dup_of"]].splitlines()
            assert a != b and len(a) == len(b)
            assert 1 <= sum(1 for x, y in zip(a, b, strict=True) if x != y) <= 3
            assert 1 <= d["words_changed"] <= 3
            n_near += 1
    assert n_dup == m["duplicates"] and n_near == m["near_duplicates"]


def test_html_features_present(clean_files):
    path, m = clean_files["none"]
    data = path.read_bytes()
    for needle in (
        b"<!DOCTYPE html>",
        b'class="ad"',
        b"cookie",
        b"<nav>",
        b"<aside",
        b"<footer>",
        b"<table>",
        b"<blockquote>",
        b"<pre>",
        b"&amp;",
        b"&eacute;",
        b"&#8212;",
        b"&#x2014;",
        b"<!--",
        b"'</div>'",
        b"display:none",
        b"enable JavaScript",
    ):
        assert needle in data, needle
    # non-HTML payloads are what they claim to be
    recs = [r for r in _read_all(path, "none") if r["type"] == "response"]
    for r in recs:
        ct = r["http"].get_header("Content-Type")
        if ct == "image/png":
            assert r["body"].startswith(b"\x89PNG\r\n\x1a\n")
        elif ct == "application/pdf":
            assert r["body"].startswith(b"%PDF-") and r["body"].rstrip().endswith(b"%%EOF")
        elif ct.startswith("application/json"):
            json.loads(r["body"])


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_offsets_point_at_response_records(clean_files, compression):
    path, m = clean_files[compression]
    with open(path, "rb") as fh:
        for d in m["docs"][:: max(1, N // 20)]:
            fh.seek(d["offset"])
            rec = next(iter(warcio_ai.ArchiveIterator(fh)))
            assert rec.rec_type == "response"
            assert rec.rec_headers.get_header("WARC-Target-URI") == d["uri"]


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_faults_injected_and_described(tmp_path, compression):
    path = tmp_path / f"faulty-{compression}.warc"
    m = demo.write_demo_warc(path, n_docs=90, seed=5, compression=compression)  # faults default
    kinds = [f["kind"] for f in m["faults"]]
    trunc = {
        "gzip": "truncated_gzip_member",
        "none": "truncated_record",
        "gzip-stream": "truncated_gzip_stream",
    }[compression]
    assert kinds == ["garbage_between_records", "wrong_content_length", trunc]
    assert m["broken"] == 3
    # good records are unaffected by the faults
    clean = demo.write_demo_warc(
        tmp_path / "clean", n_docs=90, seed=5, compression=compression, faults=False
    )
    assert m["records"] == clean["records"] and m["kinds"] == clean["kinds"]
    wrong = m["faults"][1]
    assert wrong["declared"] == wrong["actual"] - 13
    data = path.read_bytes()
    if compression == "gzip-stream":
        d = zlib.decompressobj(31)
        raw = d.decompress(data)
        assert not d.eof  # the stream has no proper end
        g = m["faults"][0]
        assert raw[g["uncompressed_offset"] : g["uncompressed_offset"] + 9] == b"\r\nGARBAGE"
    else:
        g = m["faults"][0]
        assert data[g["offset"] : g["offset"] + 9] == b"\r\nGARBAGE"
        last = m["faults"][2]
        tail = data[last["offset"] :]
        if compression == "gzip":
            d = zlib.decompressobj(31)
            d.decompress(tail)
            assert not d.eof
            # the wrong-length record is its own member and decompresses fine
            w = data[wrong["offset"] :]
            rec = zlib.decompressobj(31).decompress(w)
        else:
            assert len(tail) == last["record_length"] - last["bytes_dropped"]
            rec = data[wrong["offset"] :]
        assert f"Content-Length: {wrong['declared']}\r\n".encode() in rec[:600]
    # warcio reads the good records up to the first fault
    got = []
    try:
        with _open_for_warcio_partial(path, compression) as fh:
            for rec in warcio_ai.ArchiveIterator(fh):
                if rec.rec_type == "response":
                    got.append(rec.rec_headers.get_header("WARC-Target-URI"))
    except Exception:
        pass
    first_fault = m["faults"][0]["after_doc"] + 1
    assert got[:first_fault] == [d["uri"] for d in m["docs"][:first_fault]]


def _open_for_warcio_partial(path: Path, compression: str):
    if compression == "gzip-stream":
        d = zlib.decompressobj(31)
        return io.BytesIO(d.decompress(path.read_bytes()))
    return open(path, "rb")  # noqa: SIM115


def test_min_bytes_and_validation(tmp_path):
    m = demo.write_demo_warc(tmp_path / "big.warc.gz", n_docs=0, seed=2, min_bytes=300_000)
    assert m["bytes"] >= 300_000 == 300_000
    assert m["bytes"] == (tmp_path / "big.warc.gz").stat().st_size
    assert m["n_docs"] > 0
    with pytest.raises(ValueError):
        demo.write_demo_warc(tmp_path / "x", compression="bz2")
