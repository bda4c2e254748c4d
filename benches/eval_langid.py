"""Language-ID accuracy on real pages, labelled by the pages' own `<html lang>` declarations.

    python benches/eval_langid.py [--pages ../shared/data/html/pages] [--json out.json]

Each page's main-content text (alignkit main mode) is identified by `alignkit.webr.detect_language`
and compared with the primary subtag of the page's declared language (pages without one are
skipped and counted). Declarations are occasionally wrong; disagreements are listed so a reader
can judge them.
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
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
