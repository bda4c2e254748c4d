"""Main-content extraction: quality on a hand-made gold set and speed, side by side.

Quality: for every page in tests/data/main_content_gold.json, the gold main text is
rebuilt from the page's alignkit plain-mode text and the recorded start/end anchors (see
the JSON header and docs/main-content-eval.md). Each extractor's output is compared with
it as a bag of lower-cased word tokens (multiset overlap): precision, recall and F1 per
page, then the mean over pages.

Speed: documents per second of each extractor over all pages in the pages directory
(median of several passes, one process, extractors interleaved pass by pass; alignkit
single-threaded).

Compared: alignkit main mode, alignkit plain mode, trafilatura.extract (defaults; also
favor_precision / favor_recall in the quality table) and resiliparse
extract_plain_text(main_content=True). Uses the *installed* alignkit.

    python benches/eval_main_content.py [--pages DIR] [--runs N] [--json out.json]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLD = REPO / "tests" / "data" / "main_content_gold.json"
PAGES = REPO.parent / "shared" / "data" / "html" / "pages"

_TOKEN = re.compile(r"\w+")


# ---------------------------------------------------------------- metric


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens: runs of letters/digits/underscore, split on whitespace and
    punctuation."""
    return _TOKEN.findall(text.lower())


def prf(predicted: str, gold: str) -> tuple[float, float, float]:
    """Token-level precision, recall and F1 of `predicted` against `gold` (multiset
    overlap). Empty vs. empty counts as perfect; an empty side otherwise scores 0."""
    p, g = Counter(tokens(predicted)), Counter(tokens(gold))
    n_p, n_g = sum(p.values()), sum(g.values())
    if n_p == 0 and n_g == 0:
        return 1.0, 1.0, 1.0
    if n_p == 0 or n_g == 0:
        return 0.0, 0.0, 0.0
    overlap = sum((p & g).values())
    precision, recall = overlap / n_p, overlap / n_g
    f1 = 0.0 if overlap == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


# ---------------------------------------------------------------- gold


def normalize(text: str) -> str:
    return " ".join(text.split())


class AnchorError(ValueError):
    pass


def _find(text: str, anchor: str, start: int, what: str) -> int:
    i = text.find(anchor, start)
    if i < 0:
        raise AnchorError(f"{what} anchor {anchor!r} not found after offset {start}")
    return i


def gold_pieces(plain: str, spans: list[dict]) -> list[str]:
    """Cut the gold pieces out of a page's plain text (see the gold JSON header)."""
    text = normalize(plain)
    cursor = 0
    pieces = []
    for span in spans:
        s = _find(text, span["start"], cursor, "start")
        e = _find(text, span["end"], s, "end") + len(span["end"])
        piece = text[s:e]
        for ex in span.get("exclude", []):
            xs = _find(piece, ex["start"], 0, "exclude start")
            xe = _find(piece, ex["end"], xs, "exclude end") + len(ex["end"])
            piece = piece[:xs] + " " + piece[xe:]
        pieces.append(normalize(piece))
        cursor = e
    return pieces


def gold_text(plain: str, spans: list[dict]) -> str:
    return " ".join(gold_pieces(plain, spans))


def load_gold(path: Path = GOLD) -> dict[str, list[dict]]:
    return json.loads(path.read_text(encoding="utf-8"))["pages"]


def is_unseen(name: str) -> bool:
    """The fresh set's split rule: a page is held out when sha256(file name) is odd."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 2 == 1


def load_holdout(path: Path = GOLD) -> list[str]:
    """Gold pages that were not used to tune the extractor."""
    return json.loads(path.read_text(encoding="utf-8"))["header"].get("holdout", [])


def read_page(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- extractors


def extractors(with_variants: bool = True) -> dict[str, Callable[[str], str]]:
    from alignkit._core import extract_text

    out: dict[str, Callable[[str], str]] = {
        "alignkit main": lambda h: extract_text(h, mode="main").text,
        "alignkit plain": lambda h: extract_text(h).text,
    }
    try:
        import trafilatura

        out["trafilatura"] = lambda h: trafilatura.extract(h) or ""
        if with_variants:
            out["trafilatura favor_precision"] = lambda h: (
                trafilatura.extract(h, favor_precision=True) or ""
            )
            out["trafilatura favor_recall"] = lambda h: (
                trafilatura.extract(h, favor_recall=True) or ""
            )
    except ImportError:
        print("trafilatura not installed: skipped", file=sys.stderr)
    try:
        from resiliparse.extract.html2text import extract_plain_text

        out["resiliparse main"] = lambda h: extract_plain_text(h, main_content=True)
    except ImportError:
        print("resiliparse not installed: skipped", file=sys.stderr)
    return out


def quality(pages_dir: Path, gold: dict[str, list[dict]], holdout: list[str]) -> dict:
    from alignkit._core import extract_text

    fns = extractors()
    per_page: dict[str, dict[str, list[float]]] = {}
    for name, spans in sorted(gold.items()):
        html = read_page(pages_dir / name)
        ref = gold_text(extract_text(html).text, spans)
        per_page[name] = {k: list(prf(fn(html), ref)) for k, fn in fns.items()}

    def mean(pages: list[str]) -> dict[str, list[float]]:
        out = {}
        for k in fns:
            rows = [per_page[p][k] for p in pages]
            out[k] = [statistics.fmean(r[i] for r in rows) for i in range(3)] if rows else []
        return out

    held = [p for p in per_page if p in holdout]
    tuning = [p for p in per_page if p not in holdout]
    return {
        "pages": len(per_page),
        "mean": mean(list(per_page)),
        "tuning_pages": len(tuning),
        "tuning_mean": mean(tuning),
        "holdout_pages": len(held),
        "holdout_mean": mean(held),
        "per_page": per_page,
    }


def speed(pages_dir: Path, runs: int) -> dict:
    docs = [read_page(p) for p in sorted(pages_dir.glob("*.html*"))]
    fns = {k: v for k, v in extractors(with_variants=False).items()}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for h in docs:
                fn(h)
            times[k].append(time.perf_counter() - t0)
    n = len(docs)
    return {
        "docs": n,
        "runs": runs,
        "docs_per_s": {k: n / statistics.median(v) for k, v in times.items()},
    }


def markdown(q: dict, s: dict | None) -> str:
    lines = [
        f"Quality: mean over {q['pages']} gold pages (token bag, lower-cased)",
        "",
        "| extractor | precision | recall | F1 |",
        "|---|---:|---:|---:|",
    ]
    for k, (p, r, f) in q["mean"].items():
        lines.append(f"| {k} | {p:.3f} | {r:.3f} | {f:.3f} |")
    if q.get("holdout_pages"):
        lines += [
            "",
            f"Tuning subset: {q['tuning_pages']} gold pages",
            "",
            "| extractor | precision | recall | F1 |",
            "|---|---:|---:|---:|",
        ]
        for k, (p, r, f) in q["tuning_mean"].items():
            lines.append(f"| {k} | {p:.3f} | {r:.3f} | {f:.3f} |")
        lines += [
            "",
            f"Held-out subset: {q['holdout_pages']} gold pages not used for tuning",
            "",
            "| extractor | precision | recall | F1 |",
            "|---|---:|---:|---:|",
        ]
        for k, (p, r, f) in q["holdout_mean"].items():
            lines.append(f"| {k} | {p:.3f} | {r:.3f} | {f:.3f} |")
    if s:
        dps = s["docs_per_s"]
        main = dps.get("alignkit main")
        lines += [
            "",
            f"Speed: {s['docs']} pages, median of {s['runs']} passes, single-threaded",
            "",
            "| extractor | docs/s | alignkit main is x faster |",
            "|---|---:|---:|",
        ]
        for k, v in dps.items():
            ratio = f"{main / v:.1f}" if main else "-"
            lines.append(f"| {k} | {v:.1f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=Path, default=PAGES)
    ap.add_argument("--gold", type=Path, default=GOLD)
    ap.add_argument("--runs", type=int, default=5, help="speed passes (median)")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--per-page", action="store_true", help="print per-page F1 of the tuning pages")
    ap.add_argument(
        "--per-page-all",
        action="store_true",
        help="print per-page F1 of held-out pages too (not while tuning)",
    )
    ap.add_argument("--json", type=Path, help="write results here")
    a = ap.parse_args(argv)
    if not a.pages.exists():
        print(f"{a.pages} not found", file=sys.stderr)
        return 2
    import alignkit

    q = quality(a.pages, load_gold(a.gold), load_holdout(a.gold))
    if a.per_page or a.per_page_all:
        keys = list(q["mean"])
        held = set(load_holdout(a.gold))
        print("page | " + " | ".join(keys))
        for page, row in q["per_page"].items():
            if page in held and not a.per_page_all:
                continue
            print(page, " | ".join(f"{row[k][2]:.2f}" for k in keys))
    s = None if a.no_speed else speed(a.pages, a.runs)
    print(markdown(q, s))
    if a.json:
        out = {"alignkit": getattr(alignkit, "__version__", "?"), "quality": q, "speed": s}
        a.json.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
