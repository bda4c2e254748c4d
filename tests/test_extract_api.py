"""HTML to text from Python: structure, hidden content, entities, batch and modes."""

from __future__ import annotations

import gzip

import pytest

from alignkit.webr import extract_text, extract_text_batch

from conftest import SHARED

PAGE = """<!DOCTYPE html>
<html lang="de-AT"><head><title> Kaffee &amp; Kuchen </title>
<style>p { color: red }</style><script>var s = "</div><p>not text</p>";</script></head>
<body>
<h1>Heading one</h1>
<p>First   paragraph
 with &eacute;t&eacute; &#8212; and &#x2014; entities.</p>
<ul><li>apple<li>pear</ul>
<div hidden>secret hidden</div><span style="display:none">also hidden</span>
<table><tr><th>name</th><th>age</th></tr><tr><td>Ann</td><td>31</td></tr></table>
<p>Line<br>break</p>
<noscript>enable javascript</noscript>
</body></html>"""


def test_plain_extraction_keeps_structure() -> None:
    out = extract_text(PAGE)
    assert out.title == "Kaffee & Kuchen"
    assert out.lang_hint == "de-at"
    text = out.text
    assert "Heading one" in text
    assert "First paragraph with été — and — entities." in text
    assert "- apple" in text and "- pear" in text
    assert "Ann" in text and "31" in text
    assert "Line\nbreak" in text
    for leaked in ("not text", "color: red", "secret hidden", "also hidden", "enable javascript"):
        assert leaked not in text
    # Blocks are separated by blank lines, never more than one.
    assert "\n\n" in text and "\n\n\n" not in text


def test_batch_matches_single_and_keeps_order() -> None:
    pages = [f"<p>document {i}</p>" for i in range(50)]
    out = extract_text_batch(pages, workers=2)
    assert [o.text for o in out] == [f"document {i}" for i in range(50)]
    assert [o.text for o in out] == [extract_text(p).text for p in pages]


def test_modes() -> None:
    with pytest.raises(ValueError, match="mode"):
        extract_text("<p>x</p>", mode="fancy")
    assert extract_text("<p>x</p>", mode="main").text == "x"
    assert extract_text("", mode="main").text == ""
    with pytest.raises(ValueError):
        extract_text_batch(["<p>x</p>"], workers=0)


def test_broken_html_never_crashes() -> None:
    nasty = [
        "",
        "<",
        "<<<>>>",
        "<p",
        "</p></p></div>",
        "<script>",
        "<!--",
        "<![CDATA[x",
        "<div>" * 100_000,
        "&#99999999999;",
        "&",
        "<a href=x>unclosed",
        "\x00\x00<p>\x00",
    ]
    for html in nasty:
        extract_text(html)


def test_real_pages_extract(tmp_path) -> None:
    pages_dir = SHARED / "data" / "html" / "pages"
    if not pages_dir.is_dir():
        pytest.skip("real pages not present (shared test data is optional)")
    htmls = [
        gzip.decompress(p.read_bytes()).decode("utf-8", "replace")
        for p in sorted(pages_dir.glob("*.html.gz"))
    ]
    out = extract_text_batch(htmls)
    assert len(out) == len(htmls) >= 100
    with_text = sum(1 for o in out if len(o.text) > 200)
    with_title = sum(1 for o in out if o.title)
    assert with_text >= 0.95 * len(out)
    assert with_title >= 0.9 * len(out)
    leaky = sum(1 for o in out if "function(" in o.text or "{display:" in o.text)
    assert leaky <= 0.05 * len(out)
