"""Deterministic demo crawl: readable articles rendered as Common Crawl-like WARC files.

alignkit cannot ship other people's web pages, but its README, tests and benchmarks need
realistic crawl input. The package ships a small corpus of short original articles written for
alignkit (``demo_corpus/<lang>.json``: cooking, gardening, bike repair, money, history, software,
travel and science in English, German, French, Spanish, Russian and Chinese). This module renders
them into WARC/1.1 files that look like a Common Crawl shard (``warcinfo``, then
``request``/``response``/``metadata`` triples): each article is placed on a site with one of
several page layouts (news, blog, forum thread, docs page, recipe shop) surrounded by the
boilerplate real sites carry (menus, cookie notices, newsletter boxes, related links, comments,
sidebars, ads, footers), in UTF-8 or a legacy charset declared in the HTTP header and/or a
``<meta>`` tag. A crawl also holds exact duplicates (the same page under a tracking URL),
near duplicates (an article syndicated on another site with one paragraph revised), junk pages,
non-HTML payloads, redirects, 404s and chunked bodies; so do these files. More pages than
articles reuse the articles on other sites and layouts, as syndication does.

Output depends only on the arguments: the same call always writes byte-identical files. The
files are well-formed; broken records for reader tests are built by the test suite's fixtures.

Only the standard library is used.

Example::

    from alignkit.data.demo import write_demo_warc
    manifest = write_demo_warc("demo.warc.gz", n_docs=500, seed=1)
    print(manifest["kinds"], manifest["layouts"])
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import hashlib
import html as _html
import json
import os
import random
import re
import struct
import unicodedata
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "COMPRESSIONS",
    "LANGUAGES",
    "LAYOUTS",
    "Article",
    "demo_articles",
    "demo_shard_name",
    "write_demo_shards",
    "write_demo_warc",
]

COMPRESSIONS = ("gzip", "none", "gzip-stream")
_EXTENSIONS = {"gzip": ".warc.gz", "none": ".warc", "gzip-stream": ".warc.gz"}

LANGUAGES = ("en", "de", "fr", "es", "ru", "zh")
# English has most articles; the others still appear on every few pages.
_LANG_WEIGHTS = (50, 10, 10, 10, 10, 10)
LAYOUTS = ("news", "blog", "forum", "docs", "recipe")
# Which layouts suit an article: docs pages only for software, recipe shops only for cooking.
_TOPIC_LAYOUTS = {
    "software": ("docs", "blog", "forum"),
    "cooking": ("recipe", "blog", "news"),
    "bikes": ("forum", "blog", "news"),
}
_DEFAULT_LAYOUTS = ("news", "blog", "forum")

# language -> [(python codec, declared labels, weight)]
_ENCODINGS: dict[str, list[tuple[str, tuple[str, ...], int]]] = {
    "en": [("utf-8", ("UTF-8", "utf-8"), 8), ("cp1252", ("windows-1252", "Windows-1252"), 2)],
    "de": [("utf-8", ("UTF-8", "utf-8"), 6), ("latin-1", ("ISO-8859-1", "iso-8859-1"), 4)],
    "fr": [("utf-8", ("UTF-8", "utf-8"), 6), ("cp1252", ("windows-1252",), 4)],
    "es": [("utf-8", ("UTF-8", "utf-8"), 6), ("latin-1", ("ISO-8859-1", "latin1"), 4)],
    "ru": [
        ("utf-8", ("UTF-8", "utf-8"), 4),
        ("cp1251", ("windows-1251", "Windows-1251"), 3),
        ("koi8-r", ("KOI8-R", "koi8-r"), 3),
    ],
    "zh": [
        ("utf-8", ("UTF-8", "utf-8"), 5),
        ("gbk", ("GBK", "gbk"), 3),
        ("gb18030", ("GB18030", "gb18030"), 2),
    ],
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
_TRACKING = ("?utm_source=newsletter&utm_medium=email", "?ref=rss", "?amp=1", "?print=1")
_SECTIONS = {
    "cooking": "food",
    "gardening": "garden",
    "bikes": "bikes",
    "finance": "money",
    "history": "history",
    "software": "tech",
    "travel": "travel",
    "science": "science",
}
_LOREM = tuple(
    [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
        "incididunt",
        "ut",
        "labore",
        "et",
        "dolore",
        "magna",
        "aliqua",
        "ut",
        "enim",
        "ad",
        "minim",
        "veniam",
        "quis",
        "nostrud",
        "exercitation",
        "ullamco",
    ]
)
_SPAM = (
    "cheap flights",
    "best price",
    "discount code",
    "free shipping",
    "buy now",
    "top deals",
    "coupon",
    "lowest price guaranteed",
    "limited offer",
    "sale",
)
_SERVERS = ("nginx", "Apache", "cloudflare", "nginx/1.24.0", "Apache/2.4.58 (Debian)", "LiteSpeed")

_BASE_DATE = _dt.datetime(2024, 6, 18, 0, 0, 0, tzinfo=_dt.timezone.utc)
_REASONS = {200: "OK", 301: "Moved Permanently", 404: "Not Found"}
_UA = "DemoBot/1.0 (+https://example.org/alignkit-demo-crawler)"


# --------------------------------------------------------------------------------------
# The corpus


@dataclass(frozen=True)
class Article:
    """One demo article as shipped in ``demo_corpus/<lang>.json``."""

    id: str
    lang: str
    title: str
    topic: str
    date: str
    author: str
    summary: str
    paragraphs: tuple[str, ...]
    list_title: str | None = None
    list_items: tuple[str, ...] = ()
    table_header: tuple[str, ...] = ()
    table_rows: tuple[tuple[str, ...], ...] = ()

    @property
    def slug(self) -> str:
        """ASCII URL slug from the title, or the id where the title has no Latin letters."""
        ascii_title = unicodedata.normalize("NFKD", self.title).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
        return slug if len(slug) >= 8 else self.id


_CHROME_KEYS = tuple(
    [
        "skip",
        "home",
        "menu",
        "search",
        "cookie",
        "accept",
        "settings",
        "newsletter_title",
        "newsletter_text",
        "email",
        "subscribe",
        "related",
        "also_like",
        "popular",
        "comments",
        "reply",
        "comment_pool",
        "commenters",
        "footer",
        "rights",
        "ad",
        "ad_text",
        "by",
        "min_read",
        "share",
        "tags",
        "notfound",
        "notfound_text",
        "posted",
        "replies",
        "joined",
        "posts",
        "toc",
        "edit",
        "prev",
        "next",
        "version",
        "print",
        "save",
        "ratings",
        "cart",
        "add_to_cart",
        "shop_pitch",
        "sites",
        "hosts",
        "update_note",
    ]
)


def _article(lang: str, raw: dict[str, Any], where: str) -> Article:
    missing = [
        k
        for k in ("id", "title", "topic", "date", "author", "summary", "paragraphs")
        if not raw.get(k)
    ]
    if missing:
        raise ValueError(f"{where}: article {raw.get('id', '?')!r} lacks {', '.join(missing)}")
    listing = raw.get("list") or {}
    table = raw.get("table") or {}
    return Article(
        id=raw["id"],
        lang=lang,
        title=raw["title"],
        topic=raw["topic"],
        date=raw["date"],
        author=raw["author"],
        summary=raw["summary"],
        paragraphs=tuple(raw["paragraphs"]),
        list_title=listing.get("title"),
        list_items=tuple(listing.get("items", ())),
        table_header=tuple(table.get("header", ())),
        table_rows=tuple(tuple(r) for r in table.get("rows", ())),
    )


@functools.cache
def _corpus() -> tuple[dict[str, tuple[Article, ...]], dict[str, dict[str, Any]]]:
    """Articles and page furniture (menus, notices...) per language, read from package data."""
    folder = resources.files(__package__ or "alignkit.data").joinpath("demo_corpus")
    articles: dict[str, tuple[Article, ...]] = {}
    chrome: dict[str, dict[str, Any]] = {}
    for lang in LANGUAGES:
        where = f"demo_corpus/{lang}.json"
        data = json.loads(folder.joinpath(f"{lang}.json").read_text(encoding="utf-8"))
        missing = [k for k in _CHROME_KEYS if k not in data["chrome"]]
        if missing:
            raise ValueError(f"{where}: chrome lacks {', '.join(missing)}")
        chrome[lang] = data["chrome"]
        articles[lang] = tuple(_article(lang, raw, where) for raw in data["articles"])
    return articles, chrome


def demo_articles(lang: str | None = None) -> list[Article]:
    """The shipped demo articles, all or those of one language."""
    articles, _ = _corpus()
    if lang is None:
        return [a for code in LANGUAGES for a in articles[code]]
    if lang not in articles:
        raise ValueError(f"no demo articles in {lang!r}; languages: {', '.join(LANGUAGES)}")
    return list(articles[lang])


# --------------------------------------------------------------------------------------
# Helpers


def _weighted(rng: random.Random, items: tuple[tuple[Any, int], ...] | list) -> Any:
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


def _esc(s: str) -> str:
    """Escape text content (quotes stay literal, as most sites write them)."""
    return _html.escape(s, quote=False)


def _attr(s: str) -> str:
    return _html.escape(s, quote=True)


def demo_shard_name(index: int, compression: str = "gzip") -> str:
    """File name of demo shard ``index``, e.g. ``CC-DEMO-00000.warc.gz``."""
    if compression not in _EXTENSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    return f"CC-DEMO-{index:05d}{_EXTENSIONS[compression]}"


@dataclass(frozen=True)
class _Site:
    lang: str
    layout: str
    name: str
    host: str
    ip: str
    server: str
    lower_headers: bool


def _sites(seed: int) -> dict[tuple[str, str], _Site]:
    """One site per (language, layout); the same in every shard of a seed."""
    _, chrome = _corpus()
    rng = random.Random(f"{seed}:sites")
    tlds = {"en": ".example", "de": ".de.example", "fr": ".fr.example", "es": ".es.example"}
    out = {}
    for lang in LANGUAGES:
        for layout in LAYOUTS:
            host = "www." + chrome[lang]["hosts"][layout] + tlds.get(lang, f".{lang}.example")
            ip = f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
            out[lang, layout] = _Site(
                lang,
                layout,
                chrome[lang]["sites"][layout],
                host,
                ip + str(rng.randint(1, 254)),
                rng.choice(_SERVERS),
                rng.random() < 0.3,
            )
    return out


def _page_path(layout: str, article: Article, number: int) -> str:
    year, month = article.date[:4], article.date[5:7]
    section = _SECTIONS.get(article.topic, "misc")
    if layout == "news":
        return f"/{section}/{year}/{month}/{article.slug}-{number}.html"
    if layout == "blog":
        return f"/{year}/{month}/{article.slug}-{number}/"
    if layout == "forum":
        return f"/t/{article.slug}/{number}"
    if layout == "docs":
        return f"/docs/v2/{section}/{article.slug}-{number}.html"
    return f"/recipes/{article.slug}-{number}"


# --------------------------------------------------------------------------------------
# Page rendering


class _Page:
    """Renders one article on one site; every choice comes from the page's own seed."""

    def __init__(
        self,
        article: Article,
        site: _Site,
        page_seed: int,
        charset_meta: str,
        revised: int | None = None,
    ) -> None:
        articles, chrome = _corpus()
        self.a = article
        self.site = site
        self.c = chrome[article.lang]
        self.rng = random.Random(page_seed)
        self.charset_meta = charset_meta
        self.others = [x for x in articles[article.lang] if x.id != article.id]
        self.paragraphs = list(article.paragraphs)
        self.revised = revised
        if revised is not None:
            sep = "" if article.lang == "zh" else " "
            self.paragraphs[revised] += sep + self.c["update_note"]
        self.o: list[str] = []

    def w(self, s: str) -> None:
        self.o.append(s)

    # -- pieces shared by the layouts

    def head(self) -> None:
        rng, a = self.rng, self.a
        self.w(
            "<!DOCTYPE html>\n"
            if rng.random() < 0.85
            else '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        )
        self.w(f'<html lang="{a.lang}">\n<head>\n{self.charset_meta}')
        self.w('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
        self.w(f"<title>{_esc(a.title)} | {_esc(self.site.name)}</title>\n")
        self.w(f'<meta name="description" content="{_attr(a.summary)}">\n')
        self.w(f'<meta property="og:title" content="{_attr(a.title)}">\n')
        self.w(
            f'<link rel="stylesheet" href="/assets/{self.site.layout}.css'
            f'?v={rng.randint(1, 99)}">\n'
        )
        self.w(
            "<style>\n.cookie-banner{position:fixed;bottom:0;width:100%}\n"
            f".hero{{margin:{rng.randint(0, 40)}px auto;color:#{rng.getrandbits(24):06x}}}\n"
            '.ad::after{content:"</div>"}\n</style>\n'
        )
        self.w(
            "<script>\nwindow.dataLayer = window.dataLayer || [];\n"
            f"dataLayer.push({{page: '{self.site.layout}', id: {rng.getrandbits(24)}}});\n"
            "var tpl = '<div class=\"promo\">' + label + '</div>';\n</script>\n</head>\n"
        )

    def cookie_banner(self) -> None:
        if self.rng.random() < 0.75:
            c = self.c
            self.w(
                '<div id="cookie-banner" class="cookie-banner" role="dialog">'
                f'<p>{_esc(c["cookie"])}</p><button type="button">{_esc(c["accept"])}</button> '
                f'<a href="/cookies">{_esc(c["settings"])}</a></div>\n'
            )

    def nav(self) -> None:
        c = self.c
        self.w(
            f'<a class="skip-link" href="#content">{_esc(c["skip"])}</a>\n'
            f'<header class="site-header"><a class="logo" href="/">{_esc(self.site.name)}</a>\n'
            '<nav class="main-nav"><ul>\n'
        )
        for item in c["menu"]:
            self.w(f'<li><a href="/{_slug_word(item)}/">{_esc(item)}</a></li>\n')
        self.w(
            f'</ul></nav>\n<form class="search" action="/search"><input name="q" '
            f'placeholder="{_attr(c["search"])}"></form></header>\n'
        )

    def byline(self) -> None:
        c, a = self.c, self.a
        minutes = max(1, sum(len(p) for p in self.paragraphs) // 1000 + 1)
        self.w(
            f'<p class="byline">{_esc(c["by"])} <span class="author">{_esc(a.author)}</span> '
            f'&middot; <time datetime="{a.date}">{a.date}</time> &middot; {minutes} '
            f"{_esc(c['min_read'])}</p>\n"
        )

    def body_text(self, ad_every: int = 0) -> None:
        """The article: paragraphs, its list and table; an ad between paragraphs if asked."""
        a = self.a
        list_at = self.rng.randrange(1, len(self.paragraphs) + 1)
        for i, para in enumerate(self.paragraphs, 1):
            self.w(f"<p>{_esc(para)}</p>\n")
            if ad_every and i % ad_every == 0 and i < len(self.paragraphs):
                self.ad()
            if i == list_at and a.list_items:
                if a.list_title:
                    self.w(f"<h2>{_esc(a.list_title)}</h2>\n")
                self.w("<ul>\n" + "".join(f"<li>{_esc(x)}</li>\n" for x in a.list_items))
                self.w("</ul>\n")
        if a.table_header:
            self.w("<table>\n<thead><tr>")
            self.w("".join(f"<th>{_esc(h)}</th>" for h in a.table_header) + "</tr></thead>\n")
            self.w("<tbody>\n")
            for row in a.table_rows:
                self.w("<tr>" + "".join(f"<td>{_esc(x)}</td>" for x in row) + "</tr>\n")
            self.w("</tbody></table>\n")

    def ad(self) -> None:
        c = self.c
        self.w(
            f'<div class="ad" data-slot="{self.rng.randint(1, 9)}"><span class="ad-label">'
            f'{_esc(c["ad"])}</span> <a href="https://ads.example.net/c?id='
            f'{self.rng.getrandbits(32)}" rel="sponsored">{_esc(c["ad_text"])}</a></div>\n'
        )

    def links(self, heading: str, css: str, tag: str = "aside") -> None:
        picks = self.rng.sample(self.others, min(len(self.others), self.rng.randint(3, 5)))
        self.w(f'<{tag} class="{css}"><h3>{_esc(heading)}</h3><ul>\n')
        for other in picks:
            href = _page_path(self.site.layout, other, self.rng.randint(100, 9999))
            self.w(f'<li><a href="{href}">{_esc(other.title)}</a></li>\n')
        self.w(f"</ul></{tag}>\n")

    def newsletter(self) -> None:
        c = self.c
        self.w(
            f'<div class="newsletter"><h3>{_esc(c["newsletter_title"])}</h3>'
            f"<p>{_esc(c['newsletter_text'])}</p>"
            f'<form action="/subscribe" method="post"><input type="email" '
            f'placeholder="{_attr(c["email"])}"><button>{_esc(c["subscribe"])}</button></form>'
            "</div>\n"
        )

    def comments(self, lo: int = 0, hi: int = 4) -> None:
        c, rng = self.c, self.rng
        n = rng.randint(lo, hi)
        if not n:
            return
        self.w(f'<section class="comments" id="comments"><h3>{_esc(c["comments"])} ({n})</h3>\n')
        for _ in range(n):
            day = rng.randint(1, 28)
            self.w(
                f'<div class="comment"><span class="comment-author">'
                f"{_esc(rng.choice(c['commenters']))}</span> <time>2024-06-{day:02d}</time>"
                f"<p>{_esc(rng.choice(c['comment_pool']))}</p>"
                f'<a class="reply" href="#reply">{_esc(c["reply"])}</a></div>\n'
            )
        self.w("</section>\n")

    def footer(self) -> None:
        c, rng = self.c, self.rng
        if rng.random() < 0.5:
            self.w(f'<div style="display:none" class="promo-hidden">{_esc(c["ad_text"])}</div>\n')
        self.w("<!-- <p>old footer, removed</p> -->\n")
        foot = " &middot; ".join(f'<a href="/{_slug_word(t)}">{_esc(t)}</a>' for t in c["footer"])
        self.w(
            f'<footer class="site-footer"><nav>{foot}</nav>'
            f"<p>&copy; 2024 {_esc(self.site.name)}. {_esc(c['rights'])}</p></footer>\n"
        )
        self.w(
            "<script>\n  document.querySelectorAll('.cookie-banner button').forEach("
            "function (b) { b.onclick = function () { b.parentNode.remove(); }; });\n</script>\n"
            "</body>\n</html>\n"
        )

    # -- layouts

    def render(self) -> str:
        self.head()
        getattr(self, f"_{self.site.layout}")()
        self.footer()
        return "".join(self.o)

    def _news(self) -> None:
        a, c = self.a, self.c
        self.w(f'<body class="news-site section-{_SECTIONS.get(a.topic, "misc")}">\n')
        self.cookie_banner()
        self.nav()
        self.w(
            f'<div class="breadcrumb"><a href="/">{_esc(c["home"])}</a> &raquo; '
            f"{_esc(c['menu'][0])}</div>\n"
        )
        self.w('<main id="content">\n<article class="story">\n')
        self.w(f"<h1>{_esc(a.title)}</h1>\n")
        self.w(f'<p class="lead"><strong>{_esc(a.summary)}</strong></p>\n')
        self.byline()
        self.body_text(ad_every=2)
        self.w(f'<div class="share">{_esc(c["share"])}: <a href="#">Facebook</a> ')
        self.w('<a href="#">X</a> <a href="#">E-mail</a></div>\n</article>\n')
        self.comments()
        self.w("</main>\n")
        self.links(c["related"], "sidebar related")
        self.newsletter()

    def _blog(self) -> None:
        a, c = self.a, self.c
        self.w('<body class="blog single-post">\n')
        self.cookie_banner()
        self.nav()
        self.w('<div class="wrapper"><main id="content" class="post">\n<article>\n')
        self.w(f'<header class="entry-header"><h1 class="entry-title">{_esc(a.title)}</h1>\n')
        self.byline()
        self.w('</header>\n<div class="entry-content">\n')
        self.body_text()
        self.w(f'</div>\n<p class="tags">{_esc(c["tags"])}: <a href="/tag/{a.topic}">')
        self.w(f"{a.topic}</a></p>\n</article>\n")
        self.links(c["also_like"], "also-like", tag="section")
        self.comments(1, 4)
        self.w('</main>\n<aside class="sidebar">\n')
        self.newsletter()
        self.ad()
        self.links(c["popular"], "popular", tag="div")
        self.w("</aside></div>\n")

    def _forum(self) -> None:
        a, c, rng = self.a, self.c, self.rng
        self.w('<body class="forum thread-view">\n')
        self.cookie_banner()
        self.nav()
        n_replies = rng.randint(2, 5)
        self.w(
            f'<div class="breadcrumb"><a href="/">{_esc(c["home"])}</a> &rsaquo; '
            f'<a href="/c/{a.topic}">{a.topic}</a></div>\n<main id="content">\n'
            f'<h1 class="thread-title">{_esc(a.title)}</h1>\n'
            f'<p class="thread-meta">{n_replies} {_esc(c["replies"])}</p>\n'
            f'<div class="post first-post" id="post-1"><div class="user-card">'
            f'<span class="username">{_esc(a.author)}</span> <span class="user-meta">'
            f"{_esc(c['joined'])} 2019 &middot; {rng.randint(40, 3000)} {_esc(c['posts'])}"
            f'</span></div>\n<div class="post-body">\n'
        )
        self.body_text()
        self.w(
            f'</div><div class="post-meta">{_esc(c["posted"])} <time>{a.date}</time></div></div>\n'
        )
        for k in range(n_replies):
            self.w(
                f'<div class="post reply" id="post-{k + 2}"><div class="user-card">'
                f'<span class="username">{_esc(rng.choice(c["commenters"]))}</span></div>'
                f'<div class="post-body"><p>{_esc(rng.choice(c["comment_pool"]))}</p></div>'
                f'<a class="reply-link" href="#reply">{_esc(c["reply"])}</a></div>\n'
            )
        self.w('<div class="pagination"><a href="?page=1">1</a> <a href="?page=2">2</a> ')
        self.w(f'<a href="?page=2">{_esc(c["next"])} &raquo;</a></div>\n</main>\n')
        self.links(c["related"], "similar-threads")
        self.ad()

    def _docs(self) -> None:
        a, c = self.a, self.c
        self.w('<body class="docs">\n')
        self.cookie_banner()
        self.w(
            f'<header class="docs-header"><a class="logo" href="/docs/">{_esc(self.site.name)}'
            f'</a> <select class="version"><option>{_esc(c["version"])} 2.4</option>'
            f"<option>2.3</option></select></header>\n"
        )
        self.links(c["toc"], "docs-sidebar", tag="nav")
        self.w('<main id="content" class="docs-content">\n<article>\n')
        self.w(f"<h1>{_esc(a.title)}</h1>\n<p><em>{_esc(a.summary)}</em></p>\n")
        self.body_text()
        self.w(
            f'</article>\n<p class="edit-link"><a href="/edit/{a.slug}">{_esc(c["edit"])}</a>'
            f' &middot; {a.date}</p>\n<div class="pager"><a rel="prev" href="#">&laquo; '
            f'{_esc(c["prev"])}</a> <a rel="next" href="#">{_esc(c["next"])} &raquo;</a></div>\n'
            "</main>\n"
        )

    def _recipe(self) -> None:
        a, c, rng = self.a, self.c, self.rng
        self.w('<body class="shop recipe-page">\n')
        self.cookie_banner()
        self.nav()
        self.w(f'<div class="mini-cart"><a href="/cart">{_esc(c["cart"])} (0)</a></div>\n')
        stars = rng.randint(38, 50) / 10
        self.w(
            f'<main id="content">\n<article class="recipe">\n<h1>{_esc(a.title)}</h1>\n'
            f'<div class="rating">&#9733; {stars} ({rng.randint(12, 900)} {_esc(c["ratings"])})'
            f'</div>\n<div class="recipe-actions"><button>{_esc(c["print"])}</button> '
            f"<button>{_esc(c['save'])}</button></div>\n"
            f'<p class="intro">{_esc(a.summary)}</p>\n'
        )
        self.byline()
        self.body_text()
        self.w(
            f'</article>\n<div class="shop-box"><p>{_esc(c["shop_pitch"])}</p>'
            f'<button class="add-to-cart">{_esc(c["add_to_cart"])}</button></div>\n'
        )
        self.comments(0, 3)
        self.w("</main>\n")
        self.links(c["also_like"], "more-recipes")
        self.newsletter()


def _slug_word(s: str) -> str:
    ascii_s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_s).strip("-") or f"s{zlib.crc32(s.encode()) % 1000}"


def _charset_meta(label: str | None, mode: str) -> str:
    if label and mode == "charset":
        return f'<meta charset="{label}">\n'
    if label and mode == "http-equiv":
        return f'<meta http-equiv="Content-Type" content="text/html; charset={label}">\n'
    return ""


def _render_junk(rng: random.Random, junk_type: str, meta: str) -> tuple[str, str]:
    if junk_type == "short":
        title = rng.choice(["Home", "Coming soon", "Untitled", "Welcome"])
        return (
            f"<html><head>{meta}<title>{title}</title></head><body><p>{title}</p></body></html>",
            title,
        )
    if junk_type == "lorem":
        title = "Lorem ipsum"
        paras = []
        for _ in range(rng.randint(2, 6)):
            words = rng.choices(_LOREM, k=rng.randint(20, 60))
            paras.append(f"<p>{' '.join(words).capitalize()}.</p>")
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
    words = rng.choices(_SPAM, k=rng.randint(40, 150))
    title = " ".join(words[:5])
    items = "".join(f"<li>{w}</li>" for w in words)
    return (
        f"<html><head>{meta}<title>{title}</title>"
        f'<meta name="keywords" content="{", ".join(words[:20])}"></head>'
        f"<body><h1>{title}</h1><ul>{items}</ul></body></html>",
        title,
    )


def _png(rng: random.Random) -> bytes:
    w, h = rng.randint(8, 48), rng.randint(8, 48)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

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
        parts.extend((b"%x\r\n" % len(piece), piece, b"\r\n"))
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

    def _raw(self, data: bytes) -> None:
        self.fh.write(data)
        self.pos += len(data)

    def record(self, data: bytes) -> int | None:
        """Write one record; return its offset (None inside a single gzip stream)."""
        start = self.pos
        if self.compression == "gzip":
            c = zlib.compressobj(6, zlib.DEFLATED, 31)
            self._raw(c.compress(data) + c.flush())
        elif self.stream is None:
            self._raw(data)
        else:
            self._raw(self.stream.compress(data))
            return None
        return start

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
    trailing: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> bytes:
    lines = [
        "WARC/1.1",
        f"WARC-Type: {rec_type}",
        f"WARC-Date: {date}",
        f"WARC-Record-ID: {rec_id}",
        f"Content-Length: {len(block)}",
        f"Content-Type: {content_type}",
    ]
    lines.extend(f"{k}: {v}" for k, v in extra)
    if payload_offset is not None:
        lines.append(f"WARC-Payload-Digest: {_b32sha1(block[payload_offset:])}")
    lines.append(f"WARC-Block-Digest: {_b32sha1(block)}")
    lines.extend(f"{k}: {v}" for k, v in trailing)
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return b"".join((head, block, b"\r\n\r\n"))


def _http_headers(pairs: list[tuple[str, str]], lower: bool) -> bytes:
    if lower:
        pairs = [(k.lower(), v) for k, v in pairs]
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("latin-1") + b"\r\n"


def _fmt_warc_date(t: _dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt_http_date(t: _dt.datetime) -> str:
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return (
        f"{days[t.weekday()]}, {t.day:02d} {months[t.month - 1]} {t.year} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} GMT"
    )


# --------------------------------------------------------------------------------------
# Pages


@dataclass
class _Rendered:
    """An article page kept as a source for later duplicates."""

    article: Article
    site: _Site
    codec: str
    label: str | None
    decl: str
    meta_mode: str
    content_type: str
    body: bytes
    uri: str


class _Planner:
    """Chooses what each page of one file shows, from the file's random stream."""

    def __init__(self, rng: random.Random, seed: int, shard_index: int, n_docs: int) -> None:
        articles, chrome = _corpus()
        self.rng = rng
        self.chrome = chrome
        self.sites = _sites(seed)
        self.shard_index = shard_index
        # Each language walks its articles in a seeded order; shards start at different points
        # so that a few small shards show many different articles.
        self.order: dict[str, list[Article]] = {}
        self.cursor: dict[str, int] = {}
        for lang in LANGUAGES:
            order = list(articles[lang])
            random.Random(f"{seed}:{lang}:order").shuffle(order)
            self.order[lang] = order
            self.cursor[lang] = shard_index * max(1, n_docs) // 2
        # Every kind of page early in each file, so that even a small shard shows all of them.
        first = [k for k, _ in _KINDS] + ["junk"]
        rng.shuffle(first)
        self.first_kinds = ["html", *first]
        self.junk_seen = 0
        self.layouts_used: dict[str, set[str]] = {}
        self.recent: dict[int, _Rendered] = {}  # doc index -> article page (dup sources)

    def next_article(self, lang: str) -> Article:
        order = self.order[lang]
        article = order[self.cursor[lang] % len(order)]
        self.cursor[lang] += 1
        return article

    def site_for(self, article: Article) -> _Site:
        """A layout that suits the topic, preferring one this article has not appeared in."""
        fits = _TOPIC_LAYOUTS.get(article.topic, _DEFAULT_LAYOUTS)
        used = self.layouts_used.setdefault(article.id, set())
        fresh = [x for x in fits if x not in used] or list(fits)
        layout = self.rng.choice(fresh)
        used.add(layout)
        return self.sites[article.lang, layout]

    def pick_charset(self, lang: str) -> tuple[str, str, str]:
        rng = self.rng
        codec, labels, _ = _weighted(rng, [((c, lbl, w), w) for c, lbl, w in _ENCODINGS[lang]])
        decl = _weighted(rng, _DECL_UTF8 if codec == "utf-8" else _DECL_OTHER)
        return codec, rng.choice(labels), decl

    def content_type(self, label: str, decl: str) -> str:
        if decl in ("header", "both"):
            sep = self.rng.choice(["; charset=", ";charset=", "; Charset="])
            return f"text/html{sep}{label}"
        return "text/html"

    def meta_mode(self, decl: str) -> str:
        return self.rng.choice(["charset", "http-equiv"]) if decl in ("meta", "both") else ""


def _encode(text: str, codec: str, decl: str) -> bytes:
    # Characters the legacy charset lacks become numeric references, as CMSs write them.
    data = text.encode(codec, errors="xmlcharrefreplace")
    return b"\xef\xbb\xbf" + data if decl == "bom" else data


def _make_doc(i: int, plan: _Planner, seed: int) -> dict[str, Any]:
    rng = plan.rng
    kind = plan.first_kinds[i] if i < len(plan.first_kinds) else _weighted(rng, _KINDS)
    if kind in ("duplicate", "near_duplicate") and not plan.recent:
        kind = "html"
    lang = _weighted(rng, list(zip(LANGUAGES, _LANG_WEIGHTS, strict=True)))
    number = plan.shard_index * 100_000 + i
    meta: dict[str, Any] = {
        "i": i,
        "uri": "",
        "kind": kind,
        "status": 200,
        "content_type": "text/html",
        "lang": None,
        "encoding": None,
        "charset_label": None,
        "charset_declared_in": None,
        "chunked": False,
        "title": None,
        "article_id": None,
        "layout": None,
        "site": None,
        "dup_of": None,
        "revised_paragraph": None,
        "words_changed": 0,
        "junk_type": None,
    }
    extra_http: list[tuple[str, str]] = []
    status = 200
    site: _Site | None = None

    if kind in ("duplicate", "near_duplicate"):
        src = plan.recent[rng.choice(sorted(plan.recent))]
        article = src.article
        if kind == "duplicate":
            site = src.site
            body, ctype = src.body, src.content_type
            uri = src.uri + rng.choice(_TRACKING)
            codec, label, decl = src.codec, src.label, src.decl
        else:
            # Syndicated on a sister site (another layout) with one paragraph revised.
            site = plan.site_for(article)
            codec, label, decl = plan.pick_charset(article.lang)
            mode = plan.meta_mode(decl)
            ctype = plan.content_type(label, decl)
            revised = rng.randrange(len(article.paragraphs))
            page = _Page(
                article,
                site,
                rng.getrandbits(64),
                _charset_meta(label, mode),
                revised=revised,
            )
            body = _encode(page.render(), codec, decl)
            uri = f"https://{site.host}{_page_path(site.layout, article, number)}"
            note = plan.chrome[article.lang]["update_note"]
            meta["revised_paragraph"] = revised
            meta["words_changed"] = len(note.split()) if article.lang != "zh" else len(note)
        meta.update(
            {
                "lang": article.lang,
                "title": article.title,
                "article_id": article.id,
                "layout": site.layout,
                "site": site.name,
                "dup_of": src.uri,
            }
        )
    elif kind == "html":
        article = plan.next_article(lang)
        site = plan.site_for(article)
        codec, label, decl = plan.pick_charset(lang)
        mode = plan.meta_mode(decl)
        ctype = plan.content_type(label, decl)
        page = _Page(article, site, rng.getrandbits(64), _charset_meta(label, mode))
        body = _encode(page.render(), codec, decl)
        uri = f"https://{site.host}{_page_path(site.layout, article, number)}"
        plan.recent[i] = _Rendered(article, site, codec, label, decl, mode, ctype, body, uri)
        if len(plan.recent) > _DUP_WINDOW:  # bounded memory for big files
            plan.recent.pop(min(plan.recent))
        meta.update(
            {
                "lang": lang,
                "title": article.title,
                "article_id": article.id,
                "layout": site.layout,
                "site": site.name,
            }
        )
    elif kind in ("not_found", "redirect"):
        site = plan.sites[lang, rng.choice(LAYOUTS)]
        codec, label, decl = plan.pick_charset(lang)
        mode = plan.meta_mode(decl)
        ctype = plan.content_type(label, decl)
        m = _charset_meta(label, mode)
        c = plan.chrome[lang]
        uri = f"https://{site.host}/{rng.choice(['archive', 'old', 'p'])}/{number}"
        if kind == "not_found":
            status = 404
            title = c["notfound"]
            text = (
                f'<!DOCTYPE html><html lang="{lang}"><head>{m}<title>{_esc(title)}</title>'
                f"</head><body><h1>404</h1><p>{_esc(c['notfound_text'])}</p>"
                f'<a href="/">{_esc(c["home"])}</a></body></html>\n'
            )
        else:
            status = 301
            title = "301 Moved Permanently"
            target = f"https://{site.host}/"
            extra_http.append(("Location", target))
            text = (
                f"<html><head>{m}<title>{title}</title></head><body><h1>Moved</h1>"
                f'<p>The document has moved <a href="{target}">here</a>.</p></body></html>\n'
            )
        body = _encode(text, codec, decl)
        meta.update({"lang": lang, "title": title, "site": site.name})
    elif kind == "junk":
        # The first junk page of a file is one with next to no text.
        jt = rng.choice(_JUNK_TYPES if plan.junk_seen else ("short", "enable_js"))
        plan.junk_seen += 1
        codec, decl = "utf-8", _weighted(rng, _DECL_UTF8)
        label = rng.choice(["UTF-8", "utf-8"])
        mode = plan.meta_mode(decl)
        text, title = _render_junk(rng, jt, _charset_meta(label, mode).strip())
        ctype = plan.content_type(label, decl)
        body = _encode(text, codec, decl)
        page = rng.choice(["", "index.html", "app"])
        uri = f"https://parked-{rng.randint(100, 999)}.example/{page}"
        meta.update({"lang": "la" if jt == "lorem" else "en", "title": title, "junk_type": jt})
    else:  # non_html
        codec = label = decl = None  # type: ignore[assignment]
        site = plan.sites[lang, rng.choice(LAYOUTS)]
        article = plan.order[lang][rng.randrange(len(plan.order[lang]))]
        ctype = rng.choice(_NON_HTML_TYPES)
        if ctype == "image/png":
            body = _png(rng)
            uri = f"https://{site.host}/media/{article.slug}-{number}.png"
        elif ctype == "application/pdf":
            body = _pdf(f"{article.title}. {article.summary}")
            uri = f"https://{site.host}/print/{article.slug}-{number}.pdf"
        else:
            payload = {
                "id": article.id,
                "lang": article.lang,
                "title": article.title,
                "topic": article.topic,
                "published": article.date,
                "author": article.author,
            }
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            ctype = "application/json; charset=utf-8"
            uri = f"https://{site.host}/api/articles/{number}.json"
        meta["content_type"] = ctype

    if codec is not None:
        meta.update(
            {
                "encoding": codec,
                "charset_label": label if decl not in ("bom", "none") else None,
                "charset_declared_in": decl,
                "content_type": ctype,
            }
        )
    chunked = kind in ("html", "near_duplicate", "duplicate") and len(body) > 2048
    meta["chunked"] = chunked and rng.random() < 0.15
    meta["status"] = status
    meta["uri"] = uri
    meta["payload_sha1"] = _b32sha1(body)
    host = uri.split("/")[2]
    ip = site.ip if site else f"192.0.2.{rng.randint(1, 254)}"
    server = site.server if site else "nginx"
    lower = site.lower_headers if site else False
    return {
        "meta": meta,
        "host": host,
        "ip": ip,
        "server": server,
        "lower": lower,
        "body": body,
        "extra_http": extra_http,
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
    body: bytes = doc["body"]
    status = meta["status"]
    date = _fmt_warc_date(now)
    req_id, resp_id, meta_id = _uuid(rng), _uuid(rng), _uuid(rng)
    uri = meta["uri"]
    path = "/" + uri.split("/", 3)[3]

    req = (
        f"GET {path} HTTP/1.1\r\nUser-Agent: {_UA}\r\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        f"Accept-Language: {meta['lang'] or 'en'},en;q=0.5\r\nAccept-Encoding: br,gzip\r\n"
        f"Host: {doc['host']}\r\nConnection: Keep-Alive\r\n\r\n"
    ).encode("ascii")
    common = [
        ("WARC-Warcinfo-ID", warcinfo_id),
        ("WARC-IP-Address", doc["ip"]),
        ("WARC-Target-URI", uri),
    ]
    meta["request_offset"] = out.record(
        _record_bytes(
            "request", date, req_id, "application/http; msgtype=request", common, req, len(req)
        )
    )

    hdrs: list[tuple[str, str]] = [
        ("Date", _fmt_http_date(now)),
        ("Server", doc["server"]),
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
        hdrs, doc["lower"]
    )
    # WARC-Identified-Payload-Type comes after the digests, as in Common Crawl.
    meta["offset"] = out.record(
        _record_bytes(
            "response",
            date,
            resp_id,
            "application/http; msgtype=response",
            [
                ("WARC-Warcinfo-ID", warcinfo_id),
                ("WARC-Concurrent-To", req_id),
                ("WARC-IP-Address", doc["ip"]),
                ("WARC-Target-URI", uri),
            ],
            head + payload,
            len(head),
            [("WARC-Identified-Payload-Type", meta["content_type"].split(";")[0])],
        )
    )
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


def write_demo_warc(
    path: str | os.PathLike[str],
    n_docs: int = 200,
    seed: int = 0,
    compression: str = "gzip",
    shard_index: int = 0,
    faults: bool = False,
    min_bytes: int | None = None,
) -> dict[str, Any]:
    """Write one Common Crawl-like WARC/1.1 file of demo pages and return its manifest.

    Layout: one ``warcinfo`` record, then per page a ``request``, a ``response`` and a
    ``metadata`` record. ``compression`` is ``"gzip"`` (one gzip member per record, as
    Common Crawl ships), ``"none"`` or ``"gzip-stream"`` (one gzip stream for the file).
    Every record is well-formed and its Content-Length exact. ``faults`` must stay False: the
    demo writes clean files (broken records for reader tests live in the test suite).

    ``min_bytes``: keep adding pages beyond ``n_docs`` until the file holds at least this
    many (compressed) bytes; ``manifest["n_docs"]`` gives the final number.

    The payload digest is computed over the bytes that follow the HTTP header as stored
    (so chunked bodies are digested with their chunk framing), the convention warcio uses
    when verifying.

    Manifest keys: ``path``, ``filename``, ``compression``, ``seed``, ``shard_index``,
    ``n_docs``, ``records`` (count per WARC-Type), ``total_records``, ``kinds`` (pages per
    kind: html, duplicate, near_duplicate, junk, non_html, redirect, not_found),
    ``html_pages`` (text/html responses), ``non_html`` (per content type), ``junk`` (per junk
    type), ``duplicates``, ``near_duplicates``, ``articles`` (distinct articles shown),
    ``layouts`` (article pages per layout), ``languages``, ``encodings`` and
    ``charset_declared_in`` (over text/html responses), ``status`` (per HTTP status),
    ``chunked`` (responses with chunked bodies), ``faults`` (always empty), ``broken`` (0),
    ``bytes`` (file size) and ``docs`` (one dict per page: i, uri, kind, status,
    content_type, lang, encoding, charset_label, charset_declared_in, chunked, title,
    article_id, layout, site, dup_of, revised_paragraph, words_changed, junk_type, record_id,
    payload_sha1, and the offsets of the response and request records, None for gzip-stream).
    """
    if faults:
        raise ValueError(
            "alignkit.data.demo writes clean shards only; broken records for reader tests are "
            "built by the test suite (tests/demo_faults.py)"
        )
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    if n_docs < 0:
        raise ValueError("n_docs must be >= 0")
    path = Path(path)
    rng = random.Random(seed * 1_000_003 + shard_index * 7_919 + 17)
    plan = _Planner(rng, seed, shard_index, n_docs)
    warcinfo_id = _uuid(rng)
    now = start = _BASE_DATE + _dt.timedelta(hours=3 * shard_index)
    docs: list[dict[str, Any]] = []
    records: Counter = Counter()

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        out = _Out(fh, compression)
        info = (
            "software: alignkit demo generator (articles written for alignkit)\r\n"
            "format: WARC File Format 1.1\r\n"
            "conformsTo: https://iipc.github.io/warc-specifications/specifications/"
            "warc-format/warc-1.1/\r\n"
            f"isPartOf: CC-DEMO-{seed}\r\n"
            "description: Deterministic demo crawl for alignkit tests and benchmarks\r\n"
            f"operator: alignkit\r\nhostname: demo-{shard_index}\r\n"
            f"robots: not checked (demo)\r\nseed: {seed}\r\nshard: {shard_index}\r\n"
        ).encode()
        out.record(
            _record_bytes(
                "warcinfo",
                _fmt_warc_date(start),
                warcinfo_id,
                "application/warc-fields",
                [("WARC-Filename", path.name)],
                info,
                None,
            )
        )
        records["warcinfo"] += 1
        i = 0
        while i < n_docs or (min_bytes is not None and out.pos < min_bytes):
            now += _dt.timedelta(seconds=rng.randint(0, 4))
            doc = _make_doc(i, plan, seed)
            _write_doc(out, rng, doc, now, warcinfo_id, records)
            docs.append(doc["meta"])
            i += 1
        out.close()
        size = out.pos
    return _manifest(path, compression, seed, shard_index, docs, records, size)


def _manifest(
    path: Path,
    compression: str,
    seed: int,
    shard_index: int,
    docs: list[dict[str, Any]],
    records: Counter,
    size: int,
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
        "articles": len({d["article_id"] for d in docs if d["kind"] == "html"}),
        "layouts": dict(Counter(d["layout"] for d in docs if d["layout"])),
        "languages": dict(Counter(d["lang"] for d in html)),
        "encodings": dict(Counter(d["encoding"] for d in html)),
        "charset_declared_in": dict(Counter(d["charset_declared_in"] for d in html)),
        "status": dict(Counter(d["status"] for d in docs)),
        "chunked": sum(1 for d in docs if d["chunked"]),
        "faults": [],
        "broken": 0,
        "bytes": size,
        "docs": docs,
    }


def write_demo_shards(
    out_dir: str | os.PathLike[str],
    n_shards: int = 2,
    docs_per_shard: int = 200,
    seed: int = 0,
    compression: str = "gzip",
    faults: bool = False,
) -> list[Path]:
    """Write ``n_shards`` demo WARC files named ``CC-DEMO-00000.warc.gz`` etc.

    A ``CC-DEMO-manifest.json`` with the per-shard manifests (without the per-page list)
    is written beside them. Same arguments give byte-identical files. ``faults`` must stay
    False (see ``write_demo_warc``).
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
    a = ap.parse_args(argv)
    for p in write_demo_shards(a.out_dir, a.shards, a.docs, a.seed, a.compression):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
