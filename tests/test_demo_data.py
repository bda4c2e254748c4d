"""Tests for the demo crawl (alignkit.data.demo: shipped articles rendered as WARC shards) and
the test suite's fault-injecting fixture (tests/demo_faults.py).

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
    assert set(m["languages"]) >= set(demo.LANGUAGES)
    assert set(m["layouts"]) == set(demo.LAYOUTS)
    assert set(m["encodings"]) >= {
        "utf-8",
        "cp1252",
        "latin-1",
        "cp1251",
        "koi8-r",
        "gbk",
        "gb18030",
    }
    assert set(m["charset_declared_in"]) == {"header", "meta", "both", "bom", "none"}
    assert m["duplicates"] > 0 and m["near_duplicates"] > 0
    assert sum(m["junk"].values()) == m["kinds"]["junk"] > 0
    assert sum(m["kinds"].values()) == N
    assert sum(m["languages"].values()) == m["html_pages"]
    # more pages than articles: every article is shown, then reused on other sites
    assert m["articles"] == len(demo.demo_articles())


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


def _page_text(body: bytes, label: str | None, where: str) -> str:
    """The page as a browser decodes it: declared charset (UTF-8 if none), entities resolved."""
    text = body.decode(label or "utf-8")  # strict: must not raise
    return html.unescape(text[1:] if where == "bom" else text)


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_charset_declared_matches_bytes(clean_files, compression):
    path, m = clean_files[compression]
    recs = [r for r in _read_all(path, compression) if r["type"] == "response"]
    articles = {a.id: a for a in demo.demo_articles()}
    seen = Counter()
    for r, d in zip(recs, m["docs"], strict=True):
        ctype = r["http"].get_header("Content-Type")
        if not ctype.startswith("text/html"):
            continue
        label, where = _declared_charset(r["body"], ctype)
        assert where == d["charset_declared_in"], d["uri"]
        assert codecs.lookup(label or "utf-8").name == codecs.lookup(d["encoding"]).name
        text = _page_text(r["body"], label, where)
        assert d["title"] in text
        if d["article_id"]:
            assert f'<html lang="{d["lang"]}">' in text
            # legacy charsets decode back to the article's exact text
            article = articles[d["article_id"]]
            assert all(p in text for p in article.paragraphs if d["revised_paragraph"] is None)
            assert all(x in text for x in article.list_items)
        seen[codecs.lookup(label or "utf-8").name] += 1
    # non-UTF-8 pages really are encoded differently
    assert len(seen) >= 6


def test_duplicates_and_near_duplicates(clean_files):
    path, m = clean_files["none"]
    recs = [r for r in _read_all(path, "none") if r["type"] == "response"]
    by_uri = {r["uri"]: r["body"] for r in recs}
    docs = {d["uri"]: d for d in m["docs"]}
    articles = {a.id: a for a in demo.demo_articles()}
    n_dup = n_near = 0
    for d in m["docs"]:
        if d["kind"] == "duplicate":
            assert by_uri[d["uri"]] == by_uri[d["dup_of"]]
            assert d["uri"] != d["dup_of"] and d["uri"].startswith(d["dup_of"] + "?")
            n_dup += 1
        elif d["kind"] == "near_duplicate":
            src = docs[d["dup_of"]]
            assert src["article_id"] == d["article_id"] and src["kind"] == "html"
            assert d["uri"] != d["dup_of"]
            ours = _page_text(by_uri[d["uri"]], d["encoding"], d["charset_declared_in"])
            theirs = _page_text(by_uri[src["uri"]], src["encoding"], src["charset_declared_in"])
            paragraphs = articles[d["article_id"]].paragraphs
            # a paragraph as a whole element: the revised one gained a sentence
            whole = [f"<p>{p}</p>" for p in paragraphs]
            differs = [i for i, p in enumerate(whole) if (p in ours) != (p in theirs)]
            assert differs == [d["revised_paragraph"]]  # exactly one paragraph revised
            assert d["words_changed"] >= 1
            n_near += 1
    assert n_dup == m["duplicates"] and n_near == m["near_duplicates"]


def test_html_features_present(clean_files):
    path, m = clean_files["none"]
    data = path.read_bytes()
    for needle in (
        b"<!DOCTYPE html>",
        b"DTD XHTML 1.0",
        b'class="ad"',
        b"cookie-banner",
        b'<nav class="main-nav">',
        b"newsletter",
        b'class="comments"',
        b'class="post reply"',
        b'class="docs-sidebar"',
        b'class="add-to-cart"',
        b"<aside",
        b"<footer",
        b"<table>",
        b"<ul>",
        b"&middot;",
        b"&copy;",
        b"&#",  # numeric references for characters a legacy charset lacks
        b"<!--",
        b"'</div>'",
        b"display:none",
        b"enable JavaScript",
        b"Lorem ipsum",
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
            assert json.loads(r["body"])["title"]


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_offsets_point_at_response_records(clean_files, compression):
    path, m = clean_files[compression]
    with open(path, "rb") as fh:
        for d in m["docs"][:: max(1, N // 20)]:
            fh.seek(d["offset"])
            rec = next(iter(warcio_ai.ArchiveIterator(fh)))
            assert rec.rec_type == "response"
            assert rec.rec_headers.get_header("WARC-Target-URI") == d["uri"]


def test_main_text_is_the_article_without_boilerplate(clean_files):
    """`extract_text(mode="main")` of a page: the article's paragraphs, not its furniture."""
    from alignkit.webr import extract_text

    path, m = clean_files["none"]
    recs = [r for r in _read_all(path, "none") if r["type"] == "response"]
    articles = {a.id: a for a in demo.demo_articles()}
    chrome = {lang: demo._corpus()[1][lang] for lang in demo.LANGUAGES}
    pages = full = clean = 0
    per_layout = Counter()
    for r, d in zip(recs, m["docs"], strict=True):
        if d["kind"] != "html":
            continue
        label, where = _declared_charset(r["body"], r["http"].get_header("Content-Type"))
        raw = r["body"].decode(label or "utf-8")
        text = extract_text(raw[1:] if where == "bom" else raw, mode="main").text
        article, c = articles[d["article_id"]], chrome[d["lang"]]
        pages += 1
        full += all(p in text for p in article.paragraphs)
        boilerplate = (c["cookie"], c["newsletter_text"], c["ad_text"], " ".join(c["footer"]))
        # the menu counts as present when most of its items appear as lines of the text
        menu_lines = sum(1 for item in c["menu"] if f"\n{item}\n" in f"\n{text}\n")
        clean += not any(b in text for b in boilerplate) and menu_lines < 3
        per_layout[d["layout"]] += 1
    assert set(per_layout) == set(demo.LAYOUTS)
    # measured at 100% for both when written; a floor leaves room for extractor changes
    assert full / pages >= 0.9, (full, pages)
    assert clean / pages >= 0.9, (clean, pages)


def test_corpus_is_readable_package_data():
    from importlib import resources

    folder = resources.files("alignkit.data").joinpath("demo_corpus")
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".json")) == sorted(
        f"{lang}.json" for lang in demo.LANGUAGES
    )
    articles = demo.demo_articles()
    assert len(articles) >= 36 and len(demo.demo_articles("en")) >= 24
    assert len({a.id for a in articles}) == len(articles)
    assert {a.lang for a in articles} == set(demo.LANGUAGES)
    assert len({a.topic for a in articles}) >= 6
    for a in articles:
        words = " ".join(a.paragraphs + a.list_items)
        size = len(words.replace(" ", "")) // 2 if a.lang == "zh" else len(words.split())
        assert 140 <= size <= 400, (a.id, size)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", a.date) and a.author and a.summary
        assert all(len(row) == len(a.table_header) for row in a.table_rows)
    with pytest.raises(ValueError, match="no demo articles"):
        demo.demo_articles("xx")


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_fault_fixture_injects_described_faults(tmp_path, compression):
    from demo_faults import write_faulty_demo_warc

    path = tmp_path / f"faulty-{compression}.warc"
    m = write_faulty_demo_warc(path, n_docs=90, seed=5, compression=compression)
    kinds = [f["kind"] for f in m["faults"]]
    expected = {
        "gzip": ["corrupt_gzip_member", "truncated_gzip_member"],
        "none": ["truncated_record"],
        "gzip-stream": ["truncated_gzip_stream"],
    }[compression]
    assert kinds == ["garbage_between_records", "wrong_content_length", *expected]
    assert m["broken"] == len(kinds) and m["bytes"] == path.stat().st_size
    wrong = m["faults"][1]
    assert wrong["declared"] == wrong["actual"] - 13
    data = path.read_bytes()
    if compression == "gzip-stream":
        d = zlib.decompressobj(31)
        raw = d.decompress(data)
        assert not d.eof  # the stream has no proper end
        g = m["faults"][0]
        assert raw[g["uncompressed_offset"] : g["uncompressed_offset"] + 9] == b"\r\nGARBAGE"
        return
    g = m["faults"][0]
    assert data[g["offset"] : g["offset"] + 9] == b"\r\nGARBAGE"
    rec = data[wrong["offset"] :]
    if compression == "gzip":
        rec = zlib.decompressobj(31).decompress(rec)  # its own, intact member
        tail = zlib.decompressobj(31)
        tail.decompress(data[m["faults"][-1]["offset"] :])
        assert not tail.eof
    assert f"Content-Length: {wrong['declared']}\r\n".encode() in rec[:600]
    # the good pages' offsets are updated to the new file
    with open(path, "rb") as fh:
        for doc in m["docs"][::10]:
            fh.seek(doc["offset"])
            got = next(iter(warcio_ai.ArchiveIterator(fh)))
            assert got.rec_headers.get_header("WARC-Target-URI") == doc["uri"]
    # alignkit's reader counts the faults and keeps every good page
    from alignkit.webr import WarcReader

    reader = WarcReader(path)
    uris = {r.target_uri for r in reader}
    assert {d["uri"] for d in m["docs"]} <= uris
    faults = reader.stats["faults"]
    assert faults["garbage_bytes"] > 0 and faults["truncated"] >= 1
    assert faults["bad_content_length"] >= 1
    if compression == "gzip":
        assert faults["corrupt_gzip"] >= 1


def test_min_bytes_and_validation(tmp_path):
    m = demo.write_demo_warc(tmp_path / "big.warc.gz", n_docs=0, seed=2, min_bytes=300_000)
    assert m["bytes"] >= 300_000
    assert m["bytes"] == (tmp_path / "big.warc.gz").stat().st_size
    assert m["n_docs"] > 0
    with pytest.raises(ValueError, match="compression"):
        demo.write_demo_warc(tmp_path / "x", compression="bz2")
    with pytest.raises(ValueError, match="n_docs"):
        demo.write_demo_warc(tmp_path / "x", n_docs=-1)
    # broken records are test fixtures, not part of the public demo
    with pytest.raises(ValueError, match="demo_faults"):
        demo.write_demo_shards(tmp_path / "y", 1, 5, faults=True)
