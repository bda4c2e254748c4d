"""The Python face of the Rust WARC reader: formats, filters, HTTP, charsets and faults."""

from __future__ import annotations

import gzip

import pytest

from alignkit.webr import MalformedInputError, WarcReader, read_warc_batch

import warcbuild as wb


def three_pages() -> list[bytes]:
    return [
        wb.record(
            wb.http_response(wb.html_page(f"Page {i}", f"text number {i}")),
            uri=f"https://example.org/{i}",
        )
        for i in range(3)
    ]


@pytest.mark.parametrize("compression", ["none", "members", "stream"])
def test_formats_read_the_same_records(compression: str) -> None:
    records = three_pages()
    if compression == "none":
        data = b"".join(records)
    elif compression == "members":
        data = b"".join(wb.gz(r) for r in records)
    else:
        data = wb.gz(b"".join(records))
    got = list(WarcReader(data))
    assert [r.target_uri for r in got] == [f"https://example.org/{i}" for i in range(3)]
    assert all(r.record_type == "response" and r.version == "WARC/1.1" for r in got)
    assert got[1].http().status == 200
    assert "text number 1" in got[1].decode_html()


def test_offsets_point_at_gzip_members(tmp_path) -> None:
    members = [wb.gz(r) for r in three_pages()]
    path = tmp_path / "x.warc.gz"
    path.write_bytes(b"".join(members))
    offsets = [r.offset for r in WarcReader(path)]
    assert offsets == [0, len(members[0]), len(members[0]) + len(members[1])]
    # A fresh reader started at an offset finds that record again.
    again = next(iter(WarcReader(path.read_bytes()[offsets[2] :])))
    assert again.target_uri == "https://example.org/2"


def test_record_type_filter_is_pushed_down() -> None:
    data = b"".join(
        wb.gz(r)
        for r in [
            wb.record(b"software: test\r\n", warc_type="warcinfo"),
            wb.record(b"GET / HTTP/1.1\r\n\r\n", warc_type="request"),
            *three_pages(),
            wb.record(b"fetchTimeMs: 12\r\n", warc_type="metadata"),
        ]
    )
    reader = WarcReader(data, record_types=["response"])
    assert [r.record_type for r in reader] == ["response"] * 3
    stats = reader.stats
    assert stats["records_returned"] == 3
    assert stats["records_filtered"] == 3


def test_chunked_http_and_charsets() -> None:
    latin = "Café crème à la carte".encode("cp1252")
    body = b"<html><head><title>t</title></head><body><p>" + latin + b"</p></body></html>"
    sjis = "<html><head><meta charset='shift_jis'></head><body>日本語のページ</body></html>"
    data = b"".join(
        [
            wb.record(wb.http_response(body, "text/html; charset=windows-1252", chunked=True)),
            wb.record(wb.http_response(sjis.encode("shift_jis"), "text/html")),
            wb.record(
                wb.http_response(b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "text/html; charset=latin1")
            ),
            wb.record(wb.http_response(b"\x89PNG....", "image/png")),
        ]
    )
    recs = list(WarcReader(data))
    first = recs[0].http()
    assert first.content_type == "text/html" and first.charset == "windows-1252"
    assert first.body == body  # de-chunked
    assert "Café crème à la carte" in recs[0].decode_html()
    assert "日本語のページ" in recs[1].decode_html()
    assert "café" in recs[2].decode_html()  # BOM wins over the HTTP header
    assert recs[3].decode_html() is None
    assert recs[3].http().content_type == "image/png"


def test_faults_are_counted_and_good_records_kept() -> None:
    good = [wb.gz(r) for r in three_pages()]
    corrupt = bytearray(wb.gz(wb.record(wb.http_response(b"<p>lost</p>"), uri="https://bad/")))
    corrupt[len(corrupt) // 2] ^= 0xFF
    data = (
        good[0]
        + b"GARBAGE BETWEEN RECORDS\n" * 3
        + good[1]
        + bytes(corrupt)
        + good[2]
        + good[0][: len(good[0]) // 2]
    )  # truncated tail
    reader = WarcReader(data)
    uris = [r.target_uri for r in reader]
    assert uris[:3] == [f"https://example.org/{i}" for i in range(3)]
    faults = reader.stats["faults"]
    assert faults["garbage_bytes"] > 0
    assert faults["corrupt_gzip"] >= 1
    assert faults["truncated"] >= 1


def test_wrong_content_length_resyncs_uncompressed() -> None:
    pages = three_pages()
    short = wb.record(
        wb.http_response(b"<p>lying length</p>"), uri="https://liar/", content_length=5
    )
    data = pages[0] + short + pages[1] + pages[2]
    reader = WarcReader(data, compression="none")
    uris = [r.target_uri for r in reader]
    assert "https://example.org/1" in uris and "https://example.org/2" in uris
    assert reader.stats["faults"]["bad_content_length"] >= 1


def test_oversize_records_are_skipped() -> None:
    big = wb.record(wb.http_response(b"<p>" + b"x" * 50_000 + b"</p>"), uri="https://big/")
    data = b"".join(wb.gz(r) for r in [three_pages()[0], big, three_pages()[1]])
    reader = WarcReader(data, max_block_bytes=10_000)
    assert [r.target_uri for r in reader] == ["https://example.org/0", "https://example.org/1"]
    assert reader.stats["faults"]["oversize"] == 1


def test_clear_errors() -> None:
    with pytest.raises(FileNotFoundError):
        WarcReader("/nonexistent/shard.warc.gz")
    with pytest.raises(ValueError, match="record type"):
        WarcReader(b"", record_types=["responses"])
    with pytest.raises(ValueError, match="compression"):
        WarcReader(b"", compression="zstd")
    rec = next(iter(WarcReader(wb.record(b"not http at all", warc_type="resource"))))
    with pytest.raises(MalformedInputError):
        rec.http()


def test_random_bytes_never_crash() -> None:
    import random

    rng = random.Random(1234)
    base = b"".join(wb.gz(r) for r in three_pages())
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        list(WarcReader(bytes(data)))  # must terminate without raising
        list(WarcReader(gzip.compress(bytes(data))))


def test_common_crawl_sample(cc_warc, cc_wet, cc_wat) -> None:
    types = [r.record_type for r in WarcReader(cc_warc)]
    assert types[0] == "warcinfo"
    assert {"request", "response", "metadata"} <= set(types)
    response = next(iter(WarcReader(cc_warc, record_types=["response"])))
    assert response.target_uri == "https://an.wikipedia.org/wiki/Escopete"
    assert "Escopete" in response.decode_html()
    wet = [r for r in WarcReader(cc_wet) if r.record_type == "conversion"]
    assert wet and "Escopete" in wet[0].block.decode("utf-8")
    wat = [r for r in WarcReader(cc_wat) if r.record_type == "metadata"]
    assert wat and wat[0].block.lstrip().startswith(b"{")


def test_batch_reader_releases_gil_and_counts(tmp_path, demo_shards) -> None:
    results = read_warc_batch(demo_shards, workers=2)
    assert [r["path"] for r in results] == [str(p) for p in demo_shards]
    for res in results:
        assert res["records_by_type"]["response"] > 0
        assert res["block_bytes"] > 0
    single = [sum(1 for _ in WarcReader(p)) for p in demo_shards]
    assert [r["records_returned"] for r in results] == single
