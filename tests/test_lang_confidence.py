"""Language-ID confidence on real pages: wrong labels on short or mixed text score below right
labels on clean text, so `--min-lang-confidence` can be thresholded."""

from __future__ import annotations

import gzip
import random

from alignkit.webr import detect_languages, extract_text_batch

from conftest import shared_file


def _agreeing_pages() -> list[tuple[list[str], str]]:
    folder = shared_file("html", "pages")
    htmls = [
        gzip.decompress(f.read_bytes()).decode("utf-8", "replace")
        for f in sorted(folder.glob("*.html.gz"))
    ]
    docs = [d for d in extract_text_batch(htmls, mode="main") if d.lang_hint]
    guesses = detect_languages([d.text for d in docs], workers=1)
    return [
        (d.text.split(), d.lang_hint.split("-")[0])
        for d, g in zip(docs, guesses, strict=True)
        if g and g.lang == d.lang_hint.split("-")[0]
    ]


def test_wrong_short_and_mixed_labels_score_below_clean_right_ones():
    rng = random.Random(0)
    pages = _agreeing_pages()
    assert len(pages) > 50
    clean = [(" ".join(w[:300]), lang) for w, lang in pages if len(w) >= 300]
    short = []
    for words, lang in pages:
        for n in (2, 3, 5):
            start = rng.randrange(max(1, len(words) - n))
            short.append((" ".join(words[start : start + n]), lang))
    mixes = []
    for (wa, la), (wb, lb) in zip(pages, pages[1:] + pages[:1], strict=True):
        if la != lb and len(wa) >= 120 and len(wb) >= 120:
            mixes.append((" ".join(wa[:120] + wb[:120]), la, lb))

    clean_got = detect_languages([t for t, _ in clean], workers=1)
    clean_right = [
        g.confidence for g, (_, lang) in zip(clean_got, clean, strict=True) if g.lang == lang
    ]
    assert len(clean_right) >= 0.95 * len(clean)
    short_got = detect_languages([t for t, _ in short], workers=1)
    short_wrong = [
        g.confidence for g, (_, lang) in zip(short_got, short, strict=True) if g and g.lang != lang
    ]
    assert short_wrong, "some two-to-five-word snippets should be misidentified"
    mix_scores = [g.confidence for g in detect_languages([m[0] for m in mixes], workers=1)]
    assert len(mix_scores) >= 10

    clean_right.sort()
    # Nearly all clean, right labels are confident; wrong short labels and mixes are not.
    assert clean_right[len(clean_right) // 20] >= 0.9
    assert max(short_wrong) < 0.5 and sum(short_wrong) / len(short_wrong) < 0.3
    assert max(mix_scores) <= 0.6
    assert max(short_wrong + mix_scores) < min(clean_right)
