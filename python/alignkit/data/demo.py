"""Deterministic synthetic Common Crawl-like WARC files.

alignkit cannot ship other people's web pages, but its README, tests and benchmarks need
realistic crawl input of any size. This module writes WARC/1.1 files that look like a
Common Crawl shard (``warcinfo``, then ``request``/``response``/``metadata`` triples) whose
pages are generated from built-in templates and word lists by a seeded grammar. Output only
depends on the arguments: the same call always produces byte-identical files.

Only the standard library is used.

Example::

    from alignkit.data.demo import write_demo_warc
    manifest = write_demo_warc("demo.warc.gz", n_docs=500, seed=1)
    print(manifest["kinds"], manifest["faults"])
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html as _html
import json
import os
import random
import struct
import uuid
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

from ._demo_vocab import (
    ARTICLES,
    AUTHORS,
    CHROME,
    EN_DETERMINERS,
    HOST_PARTS,
    JUNK_SYLLABLES,
    PATTERNS,
    SECTIONS,
    SERVERS,
    SPAM_KEYWORDS,
    TLDS,
    VOCAB,
)

__all__ = [
    "COMPRESSIONS",
    "LANGUAGES",
    "demo_shard_name",
    "write_demo_shards",
    "write_demo_warc",
]

COMPRESSIONS = ("gzip", "none", "gzip-stream")
_EXTENSIONS = {"gzip": ".warc.gz", "none": ".warc", "gzip-stream": ".warc.gz"}

LANGUAGES = ("en", "de", "fr", "es", "ru", "zh")
_LANG_WEIGHTS = (30, 14, 13, 13, 14, 16)

# language -> [(python codec, declared labels, weight)]
_ENCODINGS: dict[str, list[tuple[str, tuple[str, ...], int]]] = {
    "en": [("utf-8", ("UTF-8", "utf-8"), 8), ("cp1252", ("windows-1252", "Windows-1252"), 2)],
    "de": [("utf-8", ("UTF-8", "utf-8"), 7), ("latin-1", ("ISO-8859-1", "iso-8859-1"), 3)],
    "fr": [("utf-8", ("UTF-8", "utf-8"), 7), ("cp1252", ("windows-1252",), 3)],
    "es": [("utf-8", ("UTF-8", "utf-8"), 7), ("latin-1", ("ISO-8859-1", "latin1"), 3)],
    "ru": [
        ("utf-8", ("UTF-8", "utf-8"), 5),
        ("cp1251", ("windows-1251", "Windows-1251"), 3),
        ("koi8-r", ("KOI8-R", "koi8-r"), 2),
    ],
    "zh": [("utf-8", ("UTF-8", "utf-8"), 6), ("gb18030", ("GB18030", "gb18030"), 4)],
}

# Where the charset is declared: only HTTP header, only <meta>, both, a UTF-8 byte order
# mark only, or nowhere (UTF-8 only).
_DECL_UTF8 = (("header", 30), ("meta", 25), ("both", 30), ("bom", 8), ("none", 7))
_DECL_OTHER = (("header", 35), ("meta", 30), ("both", 35))

_KINDS = (
    ("html", 70),
    ("duplicate", 6),
    ("near_duplicate", 6),
    ("junk", 7),
    ("non_html", 6),
    ("redirect", 3),
    ("not_found", 2),
)
_DUP_WINDOW = 200
_JUNK_TYPES = ("short", "lorem", "enable_js", "keywords")
_NON_HTML_TYPES = ("image/png", "application/pdf", "application/json")

_BASE_DATE = _dt.datetime(2024, 5, 18, 0, 0, 0, tzinfo=_dt.timezone.utc)
_REASONS = {200: "OK", 301: "Moved Permanently", 404: "Not Found"}
_UA = "DemoBot/1.0 (+https://example.org/alignkit-demo-crawler)"


def _weighted(rng: random.Random, items: tuple[tuple[str, int], ...] | list) -> Any:
    total = sum(w for _, w in items)
    x = rng.random() * total
    for item, w in items:
        x -= w
        if x < 0:
            return item
    return items[-1][0]


def _b32sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def _uuid(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def demo_shard_name(index: int, compression: str = "gzip") -> str:
    """File name of demo shard ``index``, e.g. ``CC-DEMO-00000.warc.gz``."""
    if compression not in _EXTENSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    return f"CC-DEMO-{index:05d}{_EXTENSIONS[compression]}"


# --------------------------------------------------------------------------------------
# Text generation


class _Language:
    """Sentence pool for one language, built once per file from the seed."""

    def __init__(self, code: str, rng: random.Random, pool_size: int = 700) -> None:
        self.code = code
        v = VOCAB[code]
        self.vocab = v
        self.patterns = PATTERNS[code]
        self.sep = "" if code == "zh" else " "
        raw_nouns = v["nouns"]
        self.plain_nouns = [n.split(":", 1)[-1] for n in raw_nouns]
        self.sentences = [self._sentence(rng) for _ in range(pool_size)]
        limit = 28 if code == "zh" else 70
        self.short = [s for s in self.sentences if len(s) < limit]
        if len(self.short) < 20:
            self.short = self.sentences[:50]

    def _np(self, rng: random.Random, obj: bool) -> str:
        code = self.code
        v = self.vocab
        if code == "en":
            det = rng.choice(EN_DETERMINERS)
            noun = rng.choice(v["nouns"])
            if rng.random() < 0.35:
                return f"{det} {rng.choice(v['adjectives'])} {noun}"
            return f"{det} {noun}"
        if code in ARTICLES:
            gender, noun = rng.choice(v["nouns"]).split(":", 1)
            art = ARTICLES[code][gender][1 if obj else 0]
            if code == "fr" and noun[0] in "aeiouhéèêàâîôûœAEIOUH":
                return f"l'{noun}"
            return f"{art} {noun}"
        if code == "ru" and not obj:
            return rng.choice(v["subjects"] + v["nouns"])
        return rng.choice(v["nouns"])

    def _sentence(self, rng: random.Random) -> str:
        v = self.vocab
        pattern = rng.choice(self.patterns)
        out = []
        i = 0
        while i < len(pattern):
            ch = pattern[i]
            if ch == "{" and i + 2 < len(pattern) and pattern[i + 2] == "}":
                slot = pattern[i + 1]
                if slot == "S":
                    out.append(self._np(rng, False))
                elif slot == "O":
                    out.append(self._np(rng, True))
                elif slot == "V":
                    out.append(rng.choice(v["verbs"]))
                elif slot == "A":
                    out.append(rng.choice(v["adjectives"]))
                elif slot == "D":
                    out.append(rng.choice(v["adverbs"]))
                elif slot == "C":
                    out.append(rng.choice(v["connectors"]))
                elif slot == "P":
                    out.append(rng.choice(v["preps"]))
                i += 3
            else:
                out.append(ch)
                i += 1
        return _cap("".join(out))

    def paragraph(self, rng: random.Random, lo: int = 2, hi: int = 7) -> str:
        return self.sep.join(rng.choices(self.sentences, k=rng.randint(lo, hi)))

    def headline(self, rng: random.Random) -> str:
        return rng.choice(self.short).rstrip(".。")


class _Assets:
    """Pools of CSS rules and JavaScript lines shared by all pages of a file (ASCII)."""

    def __init__(self, rng: random.Random) -> None:
        parts = HOST_PARTS
        self.css = [
            f".{rng.choice(parts)}-{i} {{ margin: {rng.randint(0, 40)}px {rng.randint(0, 24)}px;"
            f" color: #{rng.getrandbits(24):06x}; font-size: {rng.randint(8, 24) / 10}rem;"
            f" display: {rng.choice(['block', 'flex', 'grid', 'inline-block'])}; }}\n"
            for i in range(400)
        ]
        js = []
        for i in range(300):
            r = rng.random()
            p = rng.choice(parts)
            if r < 0.15:
                js.append(f"  var tpl{i} = '<div class=\"{p}\">' + label{i % 7} + '</div>';\n")
            elif r < 0.25:
                js.append(f'  el{i}.innerHTML = "<p>{p} " + n + "</p></div>";\n')
            elif r < 0.6:
                js.append(
                    f"  window.__cfg_{i} = {{ id: {rng.getrandbits(20)}, slot: '{p}',"
                    f" lazy: {rng.choice(['true', 'false'])} }};\n"
                )
            else:
                js.append(f"  if (x{i % 13} > {rng.randint(1, 999)}) {{ track('{p}', {i}); }}\n")
        self.js = js


class _Site:
    __slots__ = ("host", "lang", "name", "ip", "server", "lower_headers")

    def __init__(self, rng: random.Random, lang: str, shard_index: int, k: int) -> None:
        a, b = rng.sample(HOST_PARTS, 2)
        self.lang = lang
        self.host = f"www.{a}{b}{shard_index or ''}{k}{rng.choice(TLDS[lang])}"
        self.name = f"{_cap(a)} {_cap(b)}"
        octets = (
            rng.randint(11, 223),
            rng.randint(0, 255),
            rng.randint(0, 255),
            rng.randint(1, 254),
        )
        self.ip = ".".join(map(str, octets))
        self.server = rng.choice(SERVERS)
        self.lower_headers = rng.random() < 0.3


# --------------------------------------------------------------------------------------
# Page rendering


def _esc(s: str) -> str:
    """Escape text content (quotes stay literal, as most sites write them)."""
    return _html.escape(s, quote=False)


def _attr(s: str) -> str:
    return _html.escape(s, quote=True)


def _mutate(paragraphs: list[str], lang: _Language, mrng: random.Random, n: int) -> int:
    changed = 0
    for _ in range(n * 4):
        if changed >= n:
            break
        p = mrng.randrange(len(paragraphs))
        text = paragraphs[p]
        cands = [w for w in lang.plain_nouns if w in text]
        if not cands:
            continue
        old = mrng.choice(cands)
        new = mrng.choice([w for w in lang.plain_nouns if w != old])
        paragraphs[p] = text.replace(old, new, 1)
        changed += 1
    return changed


def _render_article(
    page_seed: int,
    lang: _Language,
    site: _Site,
    assets: _Assets,
    charset_label: str | None,
    meta_mode: str,
    mutate_seed: int | None = None,
) -> tuple[str, str, int]:
    """Return (html, title, words_changed). All choices come from ``page_seed``."""
    rng = random.Random(page_seed)
    code = lang.code
    chrome = CHROME[code]
    title = lang.headline(rng)
    n_par = rng.randint(3, 16)
    paragraphs = [lang.paragraph(rng) for _ in range(n_par)]
    changed = 0
    if mutate_seed is not None:
        changed = _mutate(paragraphs, lang, random.Random(mutate_seed), 3)

    o: list[str] = []
    w = o.append
    if rng.random() < 0.85:
        w("<!DOCTYPE html>\n")
    else:
        w(
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        )
    w(f'<html lang="{code}">\n<head>\n')
    if charset_label and meta_mode == "charset":
        w(f'<meta charset="{charset_label}">\n')
    elif charset_label and meta_mode == "http-equiv":
        w(f'<meta http-equiv="Content-Type" content="text/html; charset={charset_label}">\n')
    w('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
    w(f"<title>{_esc(title)} | {_esc(site.name)}</title>\n")
    w(f'<meta name="description" content="{_attr(rng.choice(lang.short))}">\n')
    w('<link rel="stylesheet" href="/static/main.css">\n')
    w("<style>\n")
    w("".join(rng.choices(assets.css, k=rng.randint(10, 120))))
    w('.ad::after { content: "</div>"; }\n</style>\n')
    w("<script>\n(function () {\n")
    w("".join(rng.choices(assets.js, k=rng.randint(5, 60))))
    w("})();\n</script>\n</head>\n")
    w(f'<body class="{rng.choice(SECTIONS)} layout-{rng.randint(1, 4)}">\n')
    w(f"<!-- page generated at edge node {rng.randint(1, 99)} -->\n")
    if rng.random() < 0.7:
        w(
            f'<div id="cookie-banner" class="cookie-consent"><p>{chrome["cookie"]}</p>'
            f'<button type="button">{chrome["accept"]}</button></div>\n'
        )
    w(f'<header class="site-header"><a class="logo" href="/">{_esc(site.name)}</a>\n<nav><ul>\n')
    for item in chrome["menu"]:  # type: ignore[union-attr]
        w(f'<li><a href="/{rng.choice(SECTIONS)}/">{item}</a></li>\n')
    w("</ul></nav></header>\n<main>\n<article>\n")
    w(f"<h1>{_esc(title)}</h1>\n")
    author = rng.choice(AUTHORS).strip()
    day = rng.randint(1, 28)
    dash = rng.choice(["&#8212;", "&#x2014;", "&mdash;", "\u2014"])
    w(
        f'<p class="byline">{chrome["by"]} {author} {dash} <time datetime="2024-05-{day:02d}">'
        f"{day:02d}.05.2024</time></p>\n"
    )
    ad_at = rng.randrange(n_par)
    for i, para in enumerate(paragraphs):
        if i and i % 4 == 0:
            w(f"<h2>{_esc(lang.headline(rng))}</h2>\n")
        w(f"<p>{para}</p>\n")
        if i == ad_at:
            w(
                f'<div class="ad" data-slot="{rng.randint(1, 9)}"><span>{chrome["ad"]}</span> '
                f'<a href="https://ads.example.net/c?id={rng.getrandbits(32)}">Caf&eacute; '
                f"Central &amp; Bar &ndash; 2 for 1</a></div>\n"
            )
        r = rng.random()
        if r < 0.12:
            w("<ul>\n")
            for _ in range(rng.randint(2, 6)):
                w(f"<li>{_esc(lang.headline(rng))}</li>\n")
            w("</ul>\n")
        elif r < 0.18:
            head = chrome["table"]
            w("<table>\n<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>\n")  # type: ignore[union-attr]
            for _ in range(rng.randint(2, 5)):
                w(
                    f"<tr><td>{rng.choice(lang.plain_nouns)}</td><td>{rng.randint(1, 9999)}</td>"
                    f"<td>{rng.choice(['+', '-'])}{rng.randint(0, 99)}%</td></tr>\n"
                )
            w("</table>\n")
        elif r < 0.23:
            w(f"<blockquote><p>{rng.choice(lang.sentences)}</p></blockquote>\n")
        elif r < 0.26:
            w(
                "<pre><code>for (let i = 0; i &lt; n; i++) {\n"
                f"  total += item[i] &amp;&amp; item[i].{rng.choice(HOST_PARTS)};\n}}\n"
                "</code></pre>\n"
            )
    w("</article>\n")
    w(f'<aside class="sidebar"><h3>{chrome["related"]}</h3><ul>\n')
    for _ in range(rng.randint(3, 8)):
        slug = "-".join(rng.sample(HOST_PARTS, 3))
        href = f"/{rng.choice(SECTIONS)}/{slug}.html"
        w(f'<li><a href="{href}">{_esc(lang.headline(rng))}</a></li>\n')
    w("</ul></aside>\n</main>\n")
    if rng.random() < 0.5:
        w(f'<div style="display:none" class="promo-hidden">{chrome["hidden"]}</div>\n')
    if rng.random() < 0.3:
        w(f"<span hidden>{_esc(rng.choice(lang.short))}</span>\n")
    w(f"<noscript>{chrome['noscript']}</noscript>\n")
    w("<!-- <p>old footer, removed</p> -->\n")
    foot = " &middot; ".join(f'<a href="/{i}">{t}</a>' for i, t in enumerate(chrome["footer"]))  # type: ignore[arg-type]
    w(f"<footer>{foot}<br>&copy; 2024 {_esc(site.name)}&nbsp;&laquo;{author}&raquo;</footer>\n")
    w("<script>\n  var banner = '<div class=\"consent\">ok</div>';\n")
    w("  document.write('<scr' + 'ipt src=\"/js/ads.js\"></scr' + 'ipt>');\n</script>\n")
    w("</body>\n</html>\n")
    return "".join(o), title, changed


def _render_junk(
    rng: random.Random, junk_type: str, charset_label: str | None, meta_mode: str
) -> tuple[str, str]:
    meta = ""
    if charset_label and meta_mode == "charset":
        meta = f'<meta charset="{charset_label}">'
    elif charset_label and meta_mode == "http-equiv":
        meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset_label}">'
    if junk_type == "short":
        title = rng.choice(["Home", "Coming soon", "Untitled", "Welcome"])
        return (
            f"<html><head>{meta}<title>{title}</title></head><body><p>{title}</p></body></html>",
            title,
        )
    if junk_type == "lorem":
        title = "Lorem sample"
        paras = []
        for _ in range(rng.randint(2, 6)):
            words = [
                "".join(rng.choices(JUNK_SYLLABLES, k=rng.randint(1, 3)))
                for _ in range(rng.randint(20, 60))
            ]
            paras.append(f"<p>{_cap(' '.join(words))}.</p>")
        body = "\n".join(paras)
        return (
            f"<!DOCTYPE html><html><head>{meta}<title>{title}</title></head>"
            f"<body>\n{body}\n</body></html>\n",
            title,
        )
    if junk_type == "enable_js":
        title = "App"
        return (
            f'<!doctype html><html lang="en"><head>{meta}<title>{title}</title>'
            '<script defer="defer" src="/static/js/main.3f2a.js"></script></head><body>'
            "<noscript>You need to enable JavaScript to run this app.</noscript>"
            '<div id="root"></div></body></html>',
            title,
        )
    words = rng.choices(SPAM_KEYWORDS, k=rng.randint(40, 150))
    title = " ".join(words[:6])
    items = "".join(f"<li>{w} {w}s</li>" for w in words)
    return (
        f"<html><head>{meta}<title>{title}</title>"
        f'<meta name="keywords" content="{", ".join(words[:20])}"></head>'
        f"<body><h1>{title}</h1><ul>{items}</ul></body></html>",
        title,
    )


def _png(rng: random.Random) -> bytes:
    w, h = rng.randint(8, 48), rng.randint(8, 48)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + rng.randbytes(w * 3) for _ in range(h))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _pdf(text: str) -> bytes:
    safe = text.encode("ascii", "replace").decode("ascii").replace("(", "[").replace(")", "]")
    stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode("ascii")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _chunked(rng: random.Random, body: bytes) -> bytes:
    parts = []
    pos = 0
    while pos < len(body):
        n = rng.randint(256, 8192)
        piece = body[pos : pos + n]
        parts.append(b"%x\r\n" % len(piece))
        parts.append(piece)
        parts.append(b"\r\n")
        pos += n
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


# --------------------------------------------------------------------------------------
# Output


class _Out:
    """Writes records with the requested compression and tracks offsets."""

    def __init__(self, fh: BinaryIO, compression: str) -> None:
        self.fh = fh
        self.compression = compression
        self.pos = 0
        self.stream = (
            zlib.compressobj(6, zlib.DEFLATED, 31) if compression == "gzip-stream" else None
        )
        self.upos = 0  # uncompressed position (gzip-stream)

    def _raw(self, data: bytes) -> None:
        self.fh.write(data)
        self.pos += len(data)

    def record(self, data: bytes) -> int | None:
        """Write one record; return its offset (None inside a single gzip stream)."""
        start = self.pos
        if self.compression == "gzip":
            c = zlib.compressobj(6, zlib.DEFLATED, 31)
            self._raw(c.compress(data) + c.flush())
        elif self.compression == "none":
            self._raw(data)
        else:
            assert self.stream is not None
            self._raw(self.stream.compress(data))
            self.upos += len(data)
            return None
        return start

    def garbage(self, data: bytes) -> None:
        if self.stream is not None:
            self._raw(self.stream.compress(data))
            self.upos += len(data)
        else:
            self._raw(data)

    def truncated(self, data: bytes) -> int:
        """Write a record cut short; the file ends after it. Returns bytes dropped."""
        if self.compression == "gzip":
            c = zlib.compressobj(6, zlib.DEFLATED, 31)
            member = c.compress(data) + c.flush()
            keep = len(member) // 2
            self._raw(member[:keep])
            return len(member) - keep
        if self.compression == "none":
            keep = len(data) // 2
            self._raw(data[:keep])
            return len(data) - keep
        assert self.stream is not None
        # Flush the good data completely, then add half a record and end the stream
        # without its final block and gzip trailer.
        self._raw(self.stream.flush(zlib.Z_FULL_FLUSH))
        keep = len(data) // 2
        self._raw(self.stream.compress(data[:keep]) + self.stream.flush(zlib.Z_SYNC_FLUSH))
        self.stream = None
        return len(data) - keep

    def close(self) -> None:
        if self.stream is not None:
            self._raw(self.stream.flush())
            self.stream = None


def _record_bytes(
    rec_type: str,
    date: str,
    rec_id: str,
    content_type: str,
    extra: list[tuple[str, str]],
    block: bytes,
    payload_offset: int | None,
    content_length: int | None = None,
) -> bytes:
    lines = [
        "WARC/1.1",
        f"WARC-Type: {rec_type}",
        f"WARC-Date: {date}",
        f"WARC-Record-ID: {rec_id}",
        f"Content-Length: {len(block) if content_length is None else content_length}",
        f"Content-Type: {content_type}",
    ]
    lines.extend(f"{k}: {v}" for k, v in extra)
    if payload_offset is not None:
        lines.append(f"WARC-Payload-Digest: {_b32sha1(block[payload_offset:])}")
    lines.append(f"WARC-Block-Digest: {_b32sha1(block)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return b"".join((head, block, b"\r\n\r\n"))


def _http_headers(pairs: list[tuple[str, str]], lower: bool) -> bytes:
    if lower:
        pairs = [(k.lower(), v) for k, v in pairs]
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("latin-1") + b"\r\n"


def write_demo_warc(
    path: str | os.PathLike[str],
    n_docs: int = 200,
    seed: int = 0,
    compression: str = "gzip",
    shard_index: int = 0,
    faults: bool = True,
    min_bytes: int | None = None,
) -> dict[str, Any]:
    """Write one synthetic Common Crawl-like WARC/1.1 file and return its manifest.

    Layout: one ``warcinfo`` record, then per page a ``request``, a ``response`` and a
    ``metadata`` record. ``compression`` is ``"gzip"`` (one gzip member per record, as
    Common Crawl ships), ``"none"`` or ``"gzip-stream"`` (one gzip stream for the file).

    With ``faults=True`` three broken pieces are added on top of the ``n_docs`` good pages
    and described in ``manifest["faults"]``: garbage bytes between two records (after a third
    of the pages), a response record whose Content-Length is 13 bytes too small (after half
    of the pages) and a truncated record at the end (a cut gzip member, a cut record, or a
    gzip stream without its end). Every other record is well-formed and its Content-Length
    exact.

    ``min_bytes``: keep adding pages beyond ``n_docs`` until the file holds at least this
    many (compressed) bytes; ``manifest["n_docs"]`` gives the final number.

    The payload digest is computed over the bytes that follow the HTTP header as stored
    (so chunked bodies are digested with their chunk framing), the convention warcio uses
    when verifying.

    Manifest keys: ``path``, ``filename``, ``compression``, ``seed``, ``shard_index``,
    ``n_docs``, ``records`` (count per WARC-Type of good records), ``total_records``,
    ``kinds`` (pages per kind: html, duplicate, near_duplicate, junk, non_html, redirect,
    not_found), ``html_pages`` (text/html responses), ``non_html`` (per content type),
    ``junk`` (per junk type), ``duplicates``, ``near_duplicates``, ``languages``,
    ``encodings`` and ``charset_declared_in`` (over text/html responses), ``status``
    (per HTTP status), ``chunked`` (responses with chunked bodies), ``faults`` (list of
    dicts with ``kind`` and details), ``broken`` (number of faults), ``bytes`` (file size),
    ``uncompressed_bytes`` and ``docs`` (one dict per page: uri, kind, status, content_type,
    lang, encoding, charset_label, charset_declared_in, chunked, title, record_id,
    payload_sha1, dup_of, words_changed, offset of the response record and request_offset;
    offsets are None for gzip-stream).
    """
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    if n_docs < 0:
        raise ValueError("n_docs must be >= 0")
    path = Path(path)
    rng = random.Random(seed * 1_000_003 + shard_index * 7_919 + 17)
    langs = {code: _Language(code, random.Random(f"{seed}:{code}")) for code in LANGUAGES}
    assets = _Assets(random.Random(f"{seed}:assets"))
    sites: dict[str, list[_Site]] = {
        code: [_Site(rng, code, shard_index, k) for k in range(12)] for code in LANGUAGES
    }
    lang_weights = list(zip(LANGUAGES, _LANG_WEIGHTS, strict=True))

    filename = path.name
    warcinfo_id = _uuid(rng)
    start = _BASE_DATE + _dt.timedelta(hours=3 * shard_index)
    now = start

    docs: list[dict[str, Any]] = []
    fault_list: list[dict[str, Any]] = []
    records = Counter()
    html_docs: list[int] = []  # indices into docs of article pages (dup sources)
    bodies: dict[int, tuple[bytes, str]] = {}  # doc index -> (body, content-type header)
    article_seeds: dict[int, tuple[int, _Site, str | None, str, str, str]] = {}

    garbage_at = n_docs // 3 if faults else -1
    wrong_len_at = n_docs // 2 if faults else -1

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        out = _Out(fh, compression)
        info = (
            "software: alignkit demo generator (synthetic pages, no real web content)\r\n"
            "format: WARC File Format 1.1\r\n"
            "conformsTo: https://iipc.github.io/warc-specifications/specifications/"
            "warc-format/warc-1.1/\r\n"
            f"isPartOf: CC-DEMO-{seed}\r\n"
            "description: Deterministic demo crawl for alignkit tests and benchmarks\r\n"
            f"operator: alignkit\r\nhostname: demo-{shard_index}\r\n"
            f"robots: not checked (synthetic)\r\nseed: {seed}\r\nshard: {shard_index}\r\n"
        ).encode()
        out.record(
            _record_bytes(
                "warcinfo",
                _fmt_warc_date(start),
                warcinfo_id,
                "application/warc-fields",
                [("WARC-Filename", filename)],
                info,
                None,
            )
        )
        records["warcinfo"] += 1

        i = 0
        while i < n_docs or (min_bytes is not None and out.pos < min_bytes):
            if i == garbage_at:
                junk = random.Random(f"{seed}:{shard_index}:garbage").randbytes(61)
                junk = b"\r\nGARBAGE" + junk + b"\r\n"
                fault_list.append(
                    {
                        "kind": "garbage_between_records",
                        "after_doc": i - 1,
                        "offset": out.pos if compression != "gzip-stream" else None,
                        "uncompressed_offset": out.upos if compression == "gzip-stream" else None,
                        "length": len(junk),
                    }
                )
                out.garbage(junk)
            if i == wrong_len_at:
                _write_wrong_length(out, rng, fault_list, i, seed, shard_index, now, warcinfo_id)

            now += _dt.timedelta(seconds=rng.randint(0, 4))
            doc = _make_doc(
                i,
                rng,
                langs,
                sites,
                lang_weights,
                assets,
                docs,
                html_docs,
                bodies,
                article_seeds,
                shard_index,
                seed,
            )
            _write_doc(out, rng, doc, now, warcinfo_id, records)
            docs.append(doc["meta"])
            i += 1

        if faults:
            now += _dt.timedelta(seconds=1)
            body = b"<html><body><p>" + b"cut " * 600 + b"</p></body></html>"
            http = (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            rec = _record_bytes(
                "response",
                _fmt_warc_date(now),
                _uuid(rng),
                "application/http; msgtype=response",
                [
                    ("WARC-Warcinfo-ID", warcinfo_id),
                    ("WARC-Target-URI", f"https://truncated.example.org/{shard_index}/end"),
                ],
                http,
                http.index(b"\r\n\r\n") + 4,
            )
            offset = out.pos
            dropped = out.truncated(rec)
            fault_list.append(
                {
                    "kind": "truncated_gzip_member"
                    if compression == "gzip"
                    else (
                        "truncated_gzip_stream"
                        if compression == "gzip-stream"
                        else "truncated_record"
                    ),
                    "after_doc": i - 1,
                    "offset": offset if compression != "gzip-stream" else None,
                    "record_length": len(rec),
                    "bytes_dropped": dropped,
                    "at_end": True,
                }
            )
        out.close()
        size = out.pos
        usize = out.upos

    return _manifest(path, compression, seed, shard_index, docs, records, fault_list, size, usize)


def _fmt_warc_date(t: _dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt_http_date(t: _dt.datetime) -> str:
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return (
        f"{days[t.weekday()]}, {t.day:02d} {months[t.month - 1]} {t.year} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} GMT"
    )


def _write_wrong_length(
    out: _Out,
    rng: random.Random,
    fault_list: list[dict[str, Any]],
    i: int,
    seed: int,
    shard_index: int,
    now: _dt.datetime,
    warcinfo_id: str,
) -> None:
    body = (
        b"<html><head><title>Wrong length</title></head><body><p>"
        + b"x" * 400
        + b"</p></body></html>"
    )
    http = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    uri = f"https://wrong-length.example.org/{seed}/{shard_index}/{i}"
    rec_id = _uuid(rng)
    declared = len(http) - 13
    rec = _record_bytes(
        "response",
        _fmt_warc_date(now),
        rec_id,
        "application/http; msgtype=response",
        [("WARC-Warcinfo-ID", warcinfo_id), ("WARC-Target-URI", uri)],
        http,
        http.index(b"\r\n\r\n") + 4,
        content_length=declared,
    )
    fault_list.append(
        {
            "kind": "wrong_content_length",
            "after_doc": i - 1,
            "record_type": "response",
            "record_id": rec_id,
            "uri": uri,
            "declared": declared,
            "actual": len(http),
            "offset": out.pos if out.compression != "gzip-stream" else None,
        }
    )
    out.record(rec)


def _make_doc(
    i: int,
    rng: random.Random,
    langs: dict[str, _Language],
    sites: dict[str, list[_Site]],
    lang_weights: list[tuple[str, int]],
    assets: _Assets,
    docs: list[dict[str, Any]],
    html_docs: list[int],
    bodies: dict[int, tuple[bytes, str]],
    article_seeds: dict[int, tuple[int, _Site, str | None, str, str, str]],
    shard_index: int,
    seed: int,
) -> dict[str, Any]:
    kind = _weighted(rng, _KINDS)
    if kind in ("duplicate", "near_duplicate") and not html_docs:
        kind = "html"
    lang_code = _weighted(rng, lang_weights)
    site = rng.choice(sites[lang_code])
    slug = "-".join(rng.sample(HOST_PARTS, rng.randint(2, 4)))
    path = f"/{rng.choice(SECTIONS)}/2024/{slug}-{shard_index:03d}{i:06d}"
    if rng.random() < 0.6:
        path += ".html"
    uri = f"https://{site.host}{path}"
    status = 200
    chunked = False
    extra_http: list[tuple[str, str]] = []
    meta: dict[str, Any] = {
        "i": i,
        "uri": uri,
        "kind": kind,
        "status": 200,
        "content_type": "text/html",
        "lang": None,
        "encoding": None,
        "charset_label": None,
        "charset_declared_in": None,
        "chunked": False,
        "title": None,
        "dup_of": None,
        "words_changed": 0,
        "junk_type": None,
    }

    def pick_charset(lang: str) -> tuple[str, str, str]:
        codec, labels, _ = _weighted(rng, [((c, lbl, w), w) for c, lbl, w in _ENCODINGS[lang]])
        decl = _weighted(rng, _DECL_UTF8 if codec == "utf-8" else _DECL_OTHER)
        return codec, rng.choice(labels), decl

    def content_type_for(label: str, decl: str) -> str:
        if decl in ("header", "both"):
            sep = rng.choice(["; charset=", ";charset=", "; Charset="])
            return f"text/html{sep}{label}"
        return "text/html"

    def meta_mode(decl: str) -> str:
        if decl in ("meta", "both"):
            return rng.choice(["charset", "http-equiv"])
        return ""

    def encode(text: str, codec: str, decl: str) -> bytes:
        data = text.encode(codec, errors="xmlcharrefreplace")
        return b"\xef\xbb\xbf" + data if decl == "bom" else data

    if kind == "duplicate":
        src = rng.choice(html_docs)
        body, ctype = bodies[src]
        s = docs[src]
        meta.update(
            {
                "lang": s["lang"],
                "encoding": s["encoding"],
                "charset_label": s["charset_label"],
                "charset_declared_in": s["charset_declared_in"],
                "title": s["title"],
                "dup_of": s["uri"],
                "content_type": ctype,
            }
        )
    elif kind == "near_duplicate":
        src = rng.choice(html_docs)
        page_seed, src_site, label, mmode, ctype, codec = article_seeds[src]
        s = docs[src]
        text, title, changed = _render_article(
            page_seed, langs[s["lang"]], src_site, assets, label, mmode, rng.getrandbits(32)
        )
        body = encode(text, codec, s["charset_declared_in"])
        meta.update(
            {
                "lang": s["lang"],
                "encoding": codec,
                "charset_label": s["charset_label"],
                "charset_declared_in": s["charset_declared_in"],
                "title": title,
                "dup_of": s["uri"],
                "words_changed": changed,
                "content_type": ctype,
            }
        )
    elif kind in ("html", "not_found", "redirect"):
        codec, label, decl = pick_charset(lang_code)
        mmode = meta_mode(decl)
        ctype = content_type_for(label, decl)
        if kind == "html":
            page_seed = rng.getrandbits(64)
            text, title, _ = _render_article(
                page_seed, langs[lang_code], site, assets, label if mmode else None, mmode
            )
            article_seeds[i] = (page_seed, site, label if mmode else None, mmode, ctype, codec)
            html_docs.append(i)
        elif kind == "not_found":
            status = 404
            title = str(CHROME[lang_code]["notfound"])
            m = f'<meta charset="{label}">' if mmode else ""
            text = (
                f'<!DOCTYPE html><html lang="{lang_code}"><head>{m}<title>{title}</title></head>'
                f'<body><h1>404</h1><p>{title}</p><a href="/">{site.name}</a></body></html>\n'
            )
        else:
            status = 301
            title = "301 Moved Permanently"
            target = f"https://{site.host}/{rng.choice(SECTIONS)}/"
            extra_http.append(("Location", target))
            m = f'<meta charset="{label}">' if mmode else ""
            text = (
                f"<html><head>{m}<title>{title}</title></head><body><h1>Moved</h1>"
                f'<p>The document has moved <a href="{target}">here</a>.</p></body></html>\n'
            )
        body = encode(text, codec, decl)
        meta.update(
            {
                "lang": lang_code,
                "encoding": codec,
                "charset_label": label if decl != "bom" and decl != "none" else None,
                "charset_declared_in": decl,
                "title": title,
                "content_type": ctype,
            }
        )
    elif kind == "junk":
        jt = rng.choice(_JUNK_TYPES)
        decl = _weighted(rng, _DECL_UTF8)
        label = rng.choice(["UTF-8", "utf-8"])
        mmode = meta_mode(decl)
        text, title = _render_junk(rng, jt, label if mmode else None, mmode)
        ctype = content_type_for(label, decl)
        body = encode(text, "utf-8", decl)
        meta.update(
            {
                "lang": "la" if jt == "lorem" else "en",
                "encoding": "utf-8",
                "charset_label": label if decl not in ("bom", "none") else None,
                "charset_declared_in": decl,
                "title": title,
                "junk_type": jt,
                "content_type": ctype,
            }
        )
    else:  # non_html
        ctype = rng.choice(_NON_HTML_TYPES)
        if ctype == "image/png":
            body = _png(rng)
        elif ctype == "application/pdf":
            body = _pdf(rng.choice(langs["en"].sentences))
        else:
            payload = {
                "id": rng.getrandbits(32),
                "lang": lang_code,
                "title": langs[lang_code].headline(rng),
                "tags": rng.sample(HOST_PARTS, 3),
                "score": round(rng.random(), 4),
            }
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            ctype = "application/json; charset=utf-8"
        meta["content_type"] = ctype

    if kind == "html":
        # Only the most recent article pages serve as duplicate sources (bounded memory).
        bodies[i] = (body, meta["content_type"])
        if len(html_docs) > _DUP_WINDOW:
            old = html_docs.pop(0)
            bodies.pop(old, None)
            article_seeds.pop(old, None)
    if kind in ("html", "near_duplicate", "duplicate") and len(body) > 2048:
        chunked = rng.random() < 0.15
    meta["status"] = status
    meta["chunked"] = chunked
    meta["payload_sha1"] = _b32sha1(body)
    return {
        "meta": meta,
        "site": site,
        "body": body,
        "status": status,
        "extra_http": extra_http,
        "path": path,
    }


def _write_doc(
    out: _Out,
    rng: random.Random,
    doc: dict[str, Any],
    now: _dt.datetime,
    warcinfo_id: str,
    records: Counter,
) -> None:
    meta = doc["meta"]
    site: _Site = doc["site"]
    body: bytes = doc["body"]
    status = doc["status"]
    date = _fmt_warc_date(now)
    req_id, resp_id, meta_id = _uuid(rng), _uuid(rng), _uuid(rng)
    uri = meta["uri"]

    req = (
        f"GET {doc['path']} HTTP/1.1\r\nUser-Agent: {_UA}\r\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        f"Accept-Language: {meta['lang'] or 'en'},en;q=0.5\r\nAccept-Encoding: br,gzip\r\n"
        f"Host: {site.host}\r\nConnection: Keep-Alive\r\n\r\n"
    ).encode("ascii")
    common = [
        ("WARC-Warcinfo-ID", warcinfo_id),
        ("WARC-IP-Address", site.ip),
        ("WARC-Target-URI", uri),
    ]
    meta["request_offset"] = out.record(
        _record_bytes(
            "request", date, req_id, "application/http; msgtype=request", common, req, len(req)
        )
    )

    hdrs: list[tuple[str, str]] = [
        ("Date", _fmt_http_date(now)),
        ("Server", site.server),
        ("Content-Type", meta["content_type"]),
    ]
    if meta["chunked"]:
        hdrs.append(("Transfer-Encoding", "chunked"))
        payload = _chunked(rng, body)
    else:
        hdrs.append(("Content-Length", str(len(body))))
        payload = body
    if meta["lang"] and meta["lang"] != "la" and rng.random() < 0.3:
        hdrs.append(("Content-Language", meta["lang"]))
    if rng.random() < 0.4:
        hdrs.append(
            ("Cache-Control", rng.choice(["max-age=600", "no-cache", "public, max-age=3600"]))
        )
    if rng.random() < 0.3:
        hdrs.append(("X-Crawler-Content-Encoding", "gzip"))
    if rng.random() < 0.2:
        hdrs.append(("Set-Cookie", f"sid={rng.getrandbits(64):016x}; Path=/; HttpOnly"))
    hdrs.extend(doc["extra_http"])
    hdrs.append(("Connection", rng.choice(["close", "keep-alive"])))
    head = f"HTTP/1.1 {status} {_REASONS[status]}\r\n".encode("ascii") + _http_headers(
        hdrs, site.lower_headers
    )
    block = head + payload
    resp_extra = [
        ("WARC-Warcinfo-ID", warcinfo_id),
        ("WARC-Concurrent-To", req_id),
        ("WARC-IP-Address", site.ip),
        ("WARC-Target-URI", uri),
    ]
    ident = meta["content_type"].split(";")[0]
    resp_extra_tail = [("WARC-Identified-Payload-Type", ident)]
    rec = _record_bytes(
        "response",
        date,
        resp_id,
        "application/http; msgtype=response",
        resp_extra,
        block,
        len(head),
    )
    # Put WARC-Identified-Payload-Type after the digests, as Common Crawl does.
    split = rec.index(b"\r\n\r\n")
    tail = "".join(f"\r\n{k}: {v}" for k, v in resp_extra_tail).encode("ascii")
    rec = rec[:split] + tail + rec[split:]
    meta["offset"] = out.record(rec)
    meta["record_id"] = resp_id

    fields = [f"fetchTimeMs: {rng.randint(20, 2500)}"]
    if meta["encoding"]:
        fields.append(f"charset-detected: {meta['encoding']}")
    if meta["lang"]:
        fields.append(
            'languages-demo: {"reliable":true,"languages":[{"code":"' + meta["lang"] + '"}]}'
        )
    mblock = ("\r\n".join(fields) + "\r\n").encode("ascii")
    out.record(
        _record_bytes(
            "metadata",
            date,
            meta_id,
            "application/warc-fields",
            [
                ("WARC-Warcinfo-ID", warcinfo_id),
                ("WARC-Concurrent-To", resp_id),
                ("WARC-Target-URI", uri),
            ],
            mblock,
            0,
        )
    )
    records["request"] += 1
    records["response"] += 1
    records["metadata"] += 1


def _manifest(
    path: Path,
    compression: str,
    seed: int,
    shard_index: int,
    docs: list[dict[str, Any]],
    records: Counter,
    fault_list: list[dict[str, Any]],
    size: int,
    usize: int,
) -> dict[str, Any]:
    kinds = Counter({k: 0 for k, _ in _KINDS})
    kinds.update(d["kind"] for d in docs)
    html = [d for d in docs if d["content_type"].startswith("text/html")]
    return {
        "path": str(path),
        "filename": path.name,
        "compression": compression,
        "seed": seed,
        "shard_index": shard_index,
        "n_docs": len(docs),
        "records": dict(records),
        "total_records": sum(records.values()),
        "kinds": dict(kinds),
        "html_pages": len(html),
        "non_html": dict(
            Counter(d["content_type"].split(";")[0] for d in docs if d["kind"] == "non_html")
        ),
        "junk": dict(Counter(d["junk_type"] for d in docs if d["kind"] == "junk")),
        "duplicates": kinds["duplicate"],
        "near_duplicates": kinds["near_duplicate"],
        "languages": dict(Counter(d["lang"] for d in html)),
        "encodings": dict(Counter(d["encoding"] for d in html)),
        "charset_declared_in": dict(Counter(d["charset_declared_in"] for d in html)),
        "status": dict(Counter(d["status"] for d in docs)),
        "chunked": sum(1 for d in docs if d["chunked"]),
        "faults": fault_list,
        "broken": len(fault_list),
        "bytes": size,
        "uncompressed_bytes": usize if compression == "gzip-stream" else None,
        "docs": docs,
    }


def write_demo_shards(
    out_dir: str | os.PathLike[str],
    n_shards: int = 2,
    docs_per_shard: int = 200,
    seed: int = 0,
    compression: str = "gzip",
    faults: bool = True,
) -> list[Path]:
    """Write ``n_shards`` demo WARC files named ``CC-DEMO-00000.warc.gz`` etc.

    A ``CC-DEMO-manifest.json`` with the per-shard manifests (without the per-page list)
    is written beside them. Same arguments give byte-identical files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    summary = []
    for k in range(n_shards):
        p = out / demo_shard_name(k, compression)
        m = write_demo_warc(
            p,
            n_docs=docs_per_shard,
            seed=seed,
            compression=compression,
            shard_index=k,
            faults=faults,
        )
        m.pop("docs")
        m["path"] = p.name
        summary.append(m)
        paths.append(p)
    (out / "CC-DEMO-manifest.json").write_text(
        json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return paths


def _main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Write deterministic demo WARC shards.")
    ap.add_argument("out_dir")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compression", choices=COMPRESSIONS, default="gzip")
    ap.add_argument("--no-faults", action="store_true")
    a = ap.parse_args(argv)
    for p in write_demo_shards(
        a.out_dir, a.shards, a.docs, a.seed, a.compression, faults=not a.no_faults
    ):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
