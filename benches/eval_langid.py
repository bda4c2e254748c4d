"""Language-ID accuracy on real pages, labelled by the pages' own `<html lang>` declarations.

    python benches/eval_langid.py [--pages ../shared/data/html/pages] [--json out.json]

Each page's main-content text (alignkit main mode) is identified by `alignkit.webr.detect_language`
and compared with the primary subtag of the page's declared language (pages without one are
skipped and counted). Declarations are occasionally wrong; disagreements are listed so a reader
can judge them.

Confidence bands (`--bands`): from the labelled pages whose full text agrees with the
declaration, snippets of 2 to 200 words at random places are identified; each band of
`confidence` reports how many labels were right. Mixes (120 words of one page, then 120 of a
page in another language) are reported apart: no single label is right for them, and their
confidence should be low.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections import Counter
from pathlib import Path

from alignkit.webr import detect_languages, extract_text_batch

DEFAULT_PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "html" / "pages"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--bands", action="store_true", help="also right labels per confidence band")
    args = ap.parse_args()
    files = sorted(args.pages.glob("*.html.gz"))
    if not files:
        raise SystemExit(f"no pages in {args.pages}")
    htmls = [gzip.decompress(f.read_bytes()).decode("utf-8", "replace") for f in files]
    docs = extract_text_batch(htmls, mode="main")
    start = time.perf_counter()
    guesses = detect_languages([d.text for d in docs], workers=1)
    seconds = time.perf_counter() - start
    labelled = correct = 0
    per_lang: Counter[str] = Counter()
    per_lang_ok: Counter[str] = Counter()
    misses = []
    for f, doc, guess in zip(files, docs, guesses, strict=True):
        if not doc.lang_hint:
            continue
        label = doc.lang_hint.split("-")[0]
        labelled += 1
        per_lang[label] += 1
        got = guess.lang if guess else None
        if got == label:
            correct += 1
            per_lang_ok[label] += 1
        else:
            misses.append({"page": f.name, "declared": doc.lang_hint, "detected": got})
    result = {
        "pages": len(files),
        "labelled": labelled,
        "correct": correct,
        "accuracy": round(correct / labelled, 4) if labelled else None,
        "per_language": {k: f"{per_lang_ok[k]}/{v}" for k, v in per_lang.most_common()},
        "disagreements": misses,
        "docs_per_s": round(len(files) / seconds, 1),
    }
    print(
        f"language ID: {correct}/{labelled} pages agree with their declared language "
        f"({result['accuracy']:.1%}); {len(files) - labelled} pages declare none"
    )
    print("per language:", ", ".join(f"{k} {v}" for k, v in result["per_language"].items()))
    for miss in misses:
        print(f"  {miss['page']}: declared {miss['declared']}, detected {miss['detected']}")
    if args.bands:
        result["bands"] = confidence_bands(files, docs, guesses)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


BAND_EDGES = (0.0, 0.3, 0.5, 0.7, 0.9, 1.01)


def confidence_bands(files, docs, guesses, seed: int = 0) -> list[dict]:
    """Right labels per confidence band on snippets and two-language mixes of agreeing pages."""
    import random

    rng = random.Random(seed)
    pages = [
        (doc.text.split(), doc.lang_hint.split("-")[0])
        for doc, g in zip(docs, guesses, strict=True)
        if doc.lang_hint and g and g.lang == doc.lang_hint.split("-")[0]
    ]
    samples: list[tuple[str, set[str], str]] = []
    for words, label in pages:
        for n in (2, 4, 8, 16, 32, 64, 200):
            if len(words) > n:
                start = rng.randrange(len(words) - n)
                samples.append((" ".join(words[start : start + n]), {label}, "snippet"))
    for _ in range(len(pages)):
        (wa, la), (wb, lb) = rng.sample(pages, 2)
        if la != lb:
            mix = " ".join(wa[:120] + wb[:120])
            samples.append((mix, {la, lb}, "mix"))
    got = detect_languages([t for t, _, _ in samples], workers=1)
    mixes = sorted(g.confidence for g, s in zip(got, samples, strict=True) if g and s[2] == "mix")
    if mixes:
        print(f"two-language mixes: {len(mixes)}, median confidence {mixes[len(mixes) // 2]:.2f}")
    snippets = [(g, s) for g, s in zip(got, samples, strict=True) if s[2] == "snippet"]
    bands = []
    for lo, hi in zip(BAND_EDGES, BAND_EDGES[1:], strict=False):
        inside = [(g, want) for g, (_, want, _) in snippets if g]
        inside = [(g, want) for g, want in inside if lo <= g.confidence < hi]
        right = sum(g.lang in want for g, want in inside)
        bands.append(
            {
                "band": f"[{lo}, {min(hi, 1.0)}{']' if hi > 1 else ')'}",
                "labels": len(inside),
                "right": right,
                "right_share": round(right / len(inside), 3) if inside else None,
            }
        )
        print(f"confidence {bands[-1]['band']}: {right}/{len(inside)} right")
    return bands


if __name__ == "__main__":
    main()
