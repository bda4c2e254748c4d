"""Main-content extraction: the token metric, the gold set's anchors and a quality floor.

The gold set (tests/data/main_content_gold.json) refers to real pages in
../shared/data/html/pages; tests that need them skip when ../shared is absent.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

from alignkit._core import extract_text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benches"))

import eval_main_content as ev  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PAGES = SHARED / "data" / "html" / "pages"
needs_pages = pytest.mark.skipif(
    not PAGES.exists(), reason=f"{PAGES} not present (shared test data is optional)"
)

# Mean token F1 of alignkit main mode on the gold set is 0.974 when measured (see
# BENCHMARKS.md, section 2); a regression below this floor fails.
MIN_MEAN_F1 = 0.96


def test_tokens_split_on_whitespace_and_punctuation() -> None:
    assert ev.tokens("Hello, World! it's 3.5-fold") == [
        "hello",
        "world",
        "it",
        "s",
        "3",
        "5",
        "fold",
    ]
    assert ev.tokens("Über  ÄRGER\nstraße") == ["über", "ärger", "straße"]
    assert ev.tokens(" ,;- ") == []


def test_prf_multiset_overlap() -> None:
    assert ev.prf("a b c", "a b c") == (1.0, 1.0, 1.0)
    p, r, f = ev.prf("a a b", "a b c d")
    assert p == pytest.approx(2 / 3) and r == pytest.approx(2 / 4)
    assert f == pytest.approx(2 * p * r / (p + r))
    # Repeated tokens count only as often as they occur on both sides.
    assert ev.prf("x x x x", "x")[0] == pytest.approx(0.25)
    assert ev.prf("", "a") == (0.0, 0.0, 0.0)
    assert ev.prf("a", "") == (0.0, 0.0, 0.0)
    assert ev.prf("", "") == (1.0, 1.0, 1.0)
    assert ev.prf("q", "z") == (0.0, 0.0, 0.0)
    assert ev.prf("The END.", "the end") == (1.0, 1.0, 1.0)


def test_gold_reconstruction_from_anchors() -> None:
    plain = (
        "Menu\n\nHome\n\nTitle here\n\nFirst para text.\n\nAd\n\nSecond  para\nends here.\n\nFooter"
    )
    spans = [
        {"start": "Title here", "end": "para text."},
        {
            "start": "Second para",
            "end": "ends here.",
            "exclude": [{"start": "para", "end": "para"}],
        },
    ]
    assert ev.gold_pieces(plain, spans) == ["Title here First para text.", "Second ends here."]
    with pytest.raises(ev.AnchorError):
        ev.gold_text(plain, [{"start": "Nope", "end": "Footer"}])
    # Spans are searched in order: an end before its start is not found.
    with pytest.raises(ev.AnchorError):
        ev.gold_text(plain, [{"start": "Footer", "end": "Menu"}])


def test_gold_file_is_well_formed() -> None:
    gold = ev.load_gold()
    assert len(gold) >= 30
    for name, spans in gold.items():
        assert name.endswith(".html.gz") and spans, name
        for span in spans:
            for key in ("start", "end"):
                # Short anchors only: no page text is copied into the repository.
                assert 0 < len(span[key]) <= 80, (name, span)


@pytest.fixture(scope="module")
def gold_pages() -> dict[str, tuple[str, str]]:
    """name -> (html, gold main text)."""
    out = {}
    for name, spans in ev.load_gold().items():
        html = ev.read_page(PAGES / name)
        out[name] = (html, ev.gold_text(extract_text(html).text, spans))
    return out


@needs_pages
def test_every_gold_anchor_resolves() -> None:
    for name, spans in ev.load_gold().items():
        html = ev.read_page(PAGES / name)
        plain = extract_text(html).text
        pieces = ev.gold_pieces(plain, spans)  # raises AnchorError when an anchor is missing
        assert all(pieces), name
        # Each piece is a real part of the page's text and a fair share of the page.
        assert len(" ".join(pieces)) >= 200, name


@needs_pages
def test_main_mode_quality_floor(gold_pages) -> None:
    f1 = [ev.prf(extract_text(h, mode="main").text, g)[2] for h, g in gold_pages.values()]
    mean = statistics.fmean(f1)
    assert mean >= MIN_MEAN_F1, f"mean F1 {mean:.3f} < {MIN_MEAN_F1}"
    # And clearly better than keeping everything.
    plain = [ev.prf(extract_text(h).text, g)[2] for h, g in gold_pages.values()]
    assert mean > statistics.fmean(plain) + 0.2


@needs_pages
def test_main_mode_never_empty_on_real_pages() -> None:
    for path in sorted(PAGES.glob("*.html.gz")):
        html = ev.read_page(path)
        if extract_text(html).text.strip():
            assert extract_text(html, mode="main").text.strip(), path.name


# The fresh set (annotated after the first set's tuning) and its tuning part: mean main-mode
# F1 on the tuning part is 0.944 when measured (BENCHMARKS.md); a regression below fails.
FRESH = REPO / "tests" / "data" / "main_content_fresh_gold.json"
MIN_FRESH_TUNING_F1 = 0.93


def test_fresh_gold_is_new_pages_with_a_fixed_split() -> None:
    fresh = ev.load_gold(FRESH)
    assert len(fresh) >= 25
    assert not set(fresh) & set(ev.load_gold())
    held = set(ev.load_holdout(FRESH))
    for name, spans in fresh.items():
        assert name.endswith(".html.gz") and spans, name
        # Short anchors only (a repeated headline needs its whole text to be unique).
        assert all(0 < len(s[k]) <= 100 for s in spans for k in ("start", "end")), name
        # The split is a function of the file name alone, fixed before tuning.
        assert (name in held) == ev.is_unseen(name), name


@needs_pages
def test_fresh_gold_anchors_resolve_and_tuning_floor() -> None:
    held = set(ev.load_holdout(FRESH))
    f1 = []
    for name, spans in ev.load_gold(FRESH).items():
        html = ev.read_page(PAGES / name)
        gold = ev.gold_text(extract_text(html).text, spans)
        assert len(gold) >= 200, name
        if name not in held:
            f1.append(ev.prf(extract_text(html, mode="main").text, gold)[2])
    mean = statistics.fmean(f1)
    assert mean >= MIN_FRESH_TUNING_F1, f"tuning-part mean F1 {mean:.3f}"
