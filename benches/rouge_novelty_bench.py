"""Lion's ROUGE-L novelty filter: rouge_score (the authors' way) vs alignkit, side by side.

    python benches/rouge_novelty_bench.py [--pool 3000] [--candidates 200] [--runs 3] [--json F]

The work is the generator's near-duplicate check: each candidate instruction is scored against
every pool instruction (and every candidate kept before it); it is rejected when the maximum
ROUGE-L F-measure exceeds 0.7. The pool is the real instructions of ../shared/data/lion (seed
task instructions, Vicuna and MT-Bench questions; Lion's pool holds instructions, not inputs)
topped up with synthetic ones; the candidates are edited copies of pool texts (near duplicates)
and fresh synthetic instructions.

- rouge_score: the pool is tokenized once, then per candidate `_score_lcs(candidate, text)` over
  every pool text, as in the authors' generator (which also starts a process pool per
  candidate; not done here, it only adds overhead).
- alignkit: `RougeLPool(pool).filter_novel(candidates, 0.7)`.

Both timings cover the filter only (pool tokenized / built beforehand); building is reported
separately. Before timing counts, the keep flags and every candidate's maximum score must be
equal (==) between the two.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from rouge_score import rouge_scorer
from rouge_score.tokenize import tokenize

from alignkit._core import RougeLPool

THRESHOLD = 0.7
LION_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lion"

VERBS = [
    "Write", "Explain", "Summarize", "List", "Describe", "Compare", "Suggest", "Rewrite",
    "Classify", "Generate", "Give", "Create", "Plan", "Outline", "Evaluate", "Design",
]  # fmt: skip
THINGS = [
    "a short story", "three tips", "an email", "a poem", "a recipe", "a product review",
    "a lesson plan", "a haiku", "a dialogue", "a travel itinerary", "a cover letter",
    "a tweet", "five questions", "a riddle", "a slogan", "a step-by-step guide",
]  # fmt: skip
TOPICS = [
    "climate change", "learning to code", "a rainy afternoon", "the history of tea",
    "renewable energy", "a job interview", "saving money", "remote work", "chess openings",
    "healthy breakfasts", "black holes", "a small bakery", "public transport", "sleep",
]  # fmt: skip
TAILS = [
    "", "for a ten-year-old", "in under 100 words", "using simple language",
    "with a surprising ending", "as a numbered list", "in a formal tone", "for beginners",
    "from the point of view of a cat", "and explain your reasoning",
]  # fmt: skip


def real_instructions(with_inputs: bool = False) -> list[str]:
    """Seed-task instructions (and their inputs, some of 1,000 words, when `with_inputs`),
    Vicuna and MT-Bench questions; empty when ../shared is absent."""
    if not LION_DATA.is_dir():
        return []
    texts = []
    for line in (LION_DATA / "seed_tasks.jsonl").read_text(encoding="utf-8").splitlines():
        task = json.loads(line)
        texts.append(task["instruction"])
        if with_inputs:
            texts.extend(inst["input"] for inst in task["instances"] if inst["input"])
    for name in ("vicuna_bench_questions.jsonl", "mt_bench_questions.jsonl"):
        for line in (LION_DATA / name).read_text(encoding="utf-8").splitlines():
            texts.extend(json.loads(line)["turns"])
    return texts


def synthetic_instruction(rng: random.Random, words: list[str]) -> str:
    text = (
        f"{rng.choice(VERBS)} {rng.choice(THINGS)} about {rng.choice(TOPICS)} {rng.choice(TAILS)}"
    )
    extra = rng.sample(words, rng.randint(0, min(12, len(words))))
    return (text.strip() + " " + " ".join(extra)).strip()


def near_duplicate(rng: random.Random, text: str) -> str:
    words = text.split()
    for _ in range(rng.randint(1, 4)):
        if not words:
            break
        i = rng.randrange(len(words))
        if rng.random() < 0.5:
            del words[i]
        else:
            words.insert(i, rng.choice(["please", "briefly", "also", "now", "the"]))
    return " ".join(words)


def make_data(pool_size: int, candidates: int, seed: int) -> tuple[list[str], list[str], int]:
    rng = random.Random(seed)
    real = real_instructions()[:pool_size]
    vocab = sorted({w for t in real for w in t.split()}) or [w for t in TOPICS for w in t.split()]
    pool = real + [synthetic_instruction(rng, vocab) for _ in range(pool_size - len(real))]
    cands = [
        near_duplicate(rng, rng.choice(pool))
        if rng.random() < 0.5
        else synthetic_instruction(rng, vocab)
        for _ in range(candidates)
    ]
    return pool, cands, len(real)


def rouge_score_filter(
    pool_tokens: list[list[str]], candidates: list[str]
) -> list[tuple[bool, float]]:
    """The authors' loop: every candidate against every pool text and every kept candidate."""
    seen = list(pool_tokens)
    out = []
    for cand in candidates:
        tokens = tokenize(cand, None)
        scores = [rouge_scorer._score_lcs(tokens, other).fmeasure for other in seen]
        best = max(scores, default=0.0)
        keep = best <= THRESHOLD
        if keep:
            seen.append(tokens)
        out.append((keep, best))
    return out


def alignkit_max_scores(
    pool_texts: list[str], candidates: list[str], keep: list[bool]
) -> list[float]:
    """Each candidate's maximum against the pool as it grows (for the equality check)."""
    pool = RougeLPool(pool_texts)
    best = []
    for cand, kept in zip(candidates, keep, strict=True):
        best.append(pool.max_similarity([cand])[0][0])
        if kept:
            pool.add([cand])
    return best


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pool", type=int, default=3000)
    p.add_argument("--candidates", type=int, default=200)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    pool_texts, candidates, real = make_data(args.pool, args.candidates, args.seed)
    pool_words = sorted(len(tokenize(t, None)) for t in pool_texts)
    print(
        f"pool {len(pool_texts)} ({real} real, {len(pool_texts) - real} synthetic; tokens median "
        f"{pool_words[len(pool_words) // 2]}, max {pool_words[-1]}), {len(candidates)} candidates; "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )

    t_tok, pool_tokens = timed(lambda: [tokenize(t, None) for t in pool_texts])
    t_build, _ = timed(lambda: RougeLPool(pool_texts))
    ref = rouge_score_filter(pool_tokens, candidates)
    keep_ref = [k for k, _ in ref]
    got = RougeLPool(pool_texts).filter_novel(candidates, THRESHOLD)
    equal = got == keep_ref and alignkit_max_scores(pool_texts, candidates, got) == [
        s for _, s in ref
    ]
    if not equal:
        print("MISMATCH: alignkit differs from rouge_score")

    # Interleaved runs, so both see the same machine load.
    py_times, rs_times = [], []
    for _ in range(args.runs):
        py_times.append(timed(partial(rouge_score_filter, pool_tokens, candidates))[0])
        pool = RougeLPool(pool_texts)  # filter_novel adds the kept ones: a fresh pool per run
        rs_times.append(timed(partial(pool.filter_novel, candidates, THRESHOLD))[0])
    t_py, t_rs = statistics.median(py_times), statistics.median(rs_times)
    result = {
        "pool": len(pool_texts),
        "real_pool_texts": real,
        "candidates": len(candidates),
        "kept": sum(got),
        "threshold": THRESHOLD,
        "equal": equal,
        "rouge_score": {"median_s": t_py, "runs_s": py_times, "tokenize_pool_s": t_tok},
        "alignkit": {"median_s": t_rs, "runs_s": rs_times, "build_pool_s": t_build},
        "speedup": t_py / t_rs,
        "machine": {
            "cpus": os.cpu_count(),
            "load": os.getloadavg()[0],
            "python": platform.python_version(),
        },
    }
    print(f"kept {sum(got)} of {len(candidates)}; equal keep flags and max scores: {equal}")
    print(f"{'implementation':<44}{'median s':>12}{'speedup':>10}")
    print(f"{'rouge_score (_score_lcs per pool text)':<44}{t_py:>12.4f}{1.0:>9.1f}x")
    print(f"{'alignkit RougeLPool.filter_novel':<44}{t_rs:>12.4f}{t_py / t_rs:>9.1f}x")
    print(
        f"pool set-up: rouge_score tokenize {t_tok:.4f} s, alignkit RougeLPool(...) {t_build:.4f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
