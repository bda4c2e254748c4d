"""alignkit's ROUGE-L (Rust) against Google's rouge_score: tokens, F-measure, pool queries and
Lion's novelty filter must be equal (==, not approximately), plus bad input and the bench
script."""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

import pytest

from alignkit._core import RougeLPool, rouge_l_f1, rouge_tokenize

rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
rouge_tokenize_py = pytest.importorskip("rouge_score.tokenize").tokenize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benches"))

import rouge_novelty_bench as bench  # noqa: E402

LION_DATA = bench.LION_DATA


def reference_f1(target: str, prediction: str) -> float:
    """What Lion's generator computes: `_score_lcs` on rouge_score's tokens."""
    score = rouge_scorer._score_lcs(
        rouge_tokenize_py(target, None), rouge_tokenize_py(prediction, None)
    )
    return score.fmeasure


def real_instructions() -> list[str]:
    texts = bench.real_instructions(with_inputs=True)
    if not texts:
        pytest.skip("../shared/data/lion is not present")
    return texts


# Pieces for random texts: ASCII words, digits, punctuation, whitespace, and non-ASCII letters
# (including the few whose lowercase is ASCII: KELVIN SIGN, dotted capital I).
PIECES = [
    "write", "Write", "a", "the", "poem", "POEM", "about", "sea", "2023", "x1", "Tell", "me",
    " ", "  ", "\n", "\t", ",", ".", "!", "?", "'", "-", "_", "...", "(", ")", '"', "é", "É",
    "café", "Ünïcödé", "中文", "日本語", "Привет", "ΟΔΟΣ", "\u212a", "\u0130", "ß", "ﬁ", "🙂",
    "\u00a0", "\u2028", "١٢٣",
]  # fmt: skip


def random_text(rng: random.Random, max_pieces: int = 30) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, max_pieces)))


def random_texts(seed: int, count: int, max_pieces: int = 30) -> list[str]:
    rng = random.Random(seed)
    return [random_text(rng, max_pieces) for _ in range(count)]


def python_filter(
    pool: list[str], candidates: list[str], thresholds: tuple[float, ...]
) -> dict[float, list[bool]]:
    """Lion's loop for each threshold: each candidate against the pool and every candidate kept
    before it (scores computed once with rouge_score, shared by the thresholds)."""
    pool_tokens = [rouge_tokenize_py(t, None) for t in pool]
    cand_tokens = [rouge_tokenize_py(c, None) for c in candidates]
    pool_max = [
        max((rouge_scorer._score_lcs(c, t).fmeasure for t in pool_tokens), default=0.0)
        for c in cand_tokens
    ]
    earlier = [
        [rouge_scorer._score_lcs(c, cand_tokens[j]).fmeasure for j in range(i)]
        for i, c in enumerate(cand_tokens)
    ]
    out = {}
    for threshold in thresholds:
        keep: list[bool] = []
        for i in range(len(candidates)):
            kept_scores = [s for s, k in zip(earlier[i], keep, strict=True) if k]
            keep.append(max([pool_max[i], *kept_scores]) <= threshold)
        out[threshold] = keep
    return out


# --- tokens -----------------------------------------------------------------------------------


def test_tokens_equal_rouge_score_on_real_and_random_texts():
    texts = random_texts(1, 500) + ["", "   ", "!!! ... ---", "中文 中文", "İstanbul \u212aelvin"]
    if LION_DATA.is_dir():
        texts += real_instructions()
    for text in texts:
        assert rouge_tokenize(text) == rouge_tokenize_py(text, None), repr(text)


def test_tokens_equal_rouge_score_for_every_code_point():
    # Each character between two ASCII letters: a character whose lowercase holds ASCII letters
    # or digits joins or splits the tokens around it, exactly as Python's str.lower decides.
    chars = [chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(chars), 4096):
        text = "q" + "q".join(chars[start : start + 4096]) + "q"
        assert rouge_tokenize(text) == rouge_tokenize_py(text, None), start


def test_unicode_tokenizer_keeps_non_ascii_words():
    assert rouge_tokenize("中文文本", "rouge_score") == []
    assert rouge_tokenize("中文文本") == []
    assert rouge_tokenize("我爱北京, Héllo WÖRLD", "unicode") == [
        "我",
        "爱",
        "北",
        "京",
        "héllo",
        "wörld",
    ]
    assert rouge_l_f1("中文文本", "中文文本") == 0.0
    assert rouge_l_f1("中文文本", "中文文本", "unicode") == 1.0
    assert rouge_l_f1("Привет, мир", "привет мир!", "unicode") == 1.0


# --- F-measure --------------------------------------------------------------------------------


def test_f1_equals_rouge_score_on_real_instruction_pairs():
    texts = real_instructions()
    rng = random.Random(2)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    for _ in range(3000):
        a, b = rng.choice(texts), rng.choice(texts)
        assert rouge_l_f1(a, b) == reference_f1(a, b), (a, b)
    for a in texts[:50]:
        for b in texts[50:70]:
            assert rouge_l_f1(a, b) == scorer.score(a, b)["rougeL"].fmeasure


def test_f1_equals_rouge_score_on_random_texts():
    rng = random.Random(3)
    texts = random_texts(4, 400) + random_texts(5, 40, max_pieces=300)
    nonzero = 0
    for _ in range(4000):
        a, b = rng.choice(texts), rng.choice(texts)
        want = reference_f1(a, b)
        assert rouge_l_f1(a, b) == want, (a, b)
        assert rouge_l_f1(b, a) == want
        nonzero += 0.0 < want < 1.0
    assert nonzero > 1000  # the texts share words, so most pairs test a real LCS
    assert rouge_l_f1("", "") == 0.0
    assert rouge_l_f1("a b", "") == 0.0
    assert rouge_l_f1("!!!", "???") == 0.0


# --- pool -------------------------------------------------------------------------------------


def check_pool_against_python(pool_texts: list[str], candidates: list[str]) -> None:
    pool = RougeLPool(pool_texts)
    assert len(pool) == len(pool_texts)
    maxima = pool.max_similarity(candidates)
    for cand, (best, index) in zip(candidates, maxima, strict=True):
        scores = [reference_f1(cand, t) for t in pool_texts]
        assert best == max(scores)
        assert index == scores.index(best)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:10]
        assert pool.top_k(cand, 10) == [(i, scores[i]) for i in order]


def test_pool_queries_equal_python_on_real_instructions():
    texts = real_instructions()
    rng = random.Random(6)
    # Near duplicates (a word dropped or doubled) so maxima above 0.7 occur.
    edited = []
    for text in rng.sample(texts, 25):
        words = text.split()
        i = rng.randrange(len(words))
        edited.append(
            " ".join(words[:i] + words[i + 1 :] if rng.random() < 0.5 else words + words[i : i + 1])
        )
    check_pool_against_python(texts, edited + rng.sample(texts, 10) + ["", "中文"])


def test_pool_queries_equal_python_on_random_texts():
    check_pool_against_python(random_texts(7, 600), random_texts(8, 40))


def test_filter_novel_equals_lion_loop():
    pool_texts = real_instructions() if LION_DATA.is_dir() else random_texts(9, 300)
    rng = random.Random(10)
    candidates: list[str] = []
    for _ in range(100):
        words = rng.choice(pool_texts + candidates).split()
        cut = rng.randint(0, len(words))
        candidates.append(" ".join(words[:cut] + random_text(rng, 6).split()))
    candidates += random_texts(11, 30)
    thresholds = (0.0, 0.5, 0.7, 1.0)
    wanted = python_filter(pool_texts, candidates, thresholds)
    assert 10 < sum(wanted[0.7]) < len(candidates) - 10  # both outcomes are exercised
    for threshold in thresholds:
        want = wanted[threshold]
        pool = RougeLPool(pool_texts)
        assert pool.filter_novel(candidates, threshold) == want
        kept = [c for c, k in zip(candidates, want, strict=True) if k]
        assert len(pool) == len(pool_texts) + len(kept)
        assert [pool.text(i) for i in range(len(pool_texts), len(pool))] == kept
        unchanged = RougeLPool(pool_texts)
        assert unchanged.filter_novel(candidates, threshold, add=False) == want
        assert len(unchanged) == len(pool_texts)


def test_large_pool_uses_threads_and_stays_exact():
    pool_texts = random_texts(12, 3000, max_pieces=40)
    candidates = random_texts(13, 30, max_pieces=40)
    pool = RougeLPool(pool_texts)
    want = python_filter(pool_texts, candidates, (0.6,))[0.6]
    assert pool.filter_novel(candidates, 0.6, add=False) == want
    check_pool_against_python(pool_texts, candidates[:8])


def test_pool_basics():
    pool = RougeLPool()
    assert len(pool) == 0 and pool.tokenizer == "rouge_score"
    assert pool.max_similarity(["a b"]) == [(0.0, -1)]
    assert pool.top_k("a b", 3) == []
    assert pool.top_k("a b", 2**62) == []
    pool.add(["Write a poem.", "中文"])
    pool.add(("Tell me a joke",))
    assert len(pool) == 3 and pool.text(-1) == "Tell me a joke" and pool.text(1) == "中文"
    assert pool.top_k("write a poem", 5) == [
        (0, 1.0),
        (2, reference_f1("write a poem", "Tell me a joke")),
        (1, 0.0),
    ]
    assert RougeLPool(["中文"], tokenizer="unicode").max_similarity(["中文"]) == [(1.0, 0)]


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [math.nan, math.inf, -0.01, 1.01])
def test_bad_threshold_is_a_clear_error(threshold):
    pool = RougeLPool(["a b c"])
    with pytest.raises(ValueError, match=r"threshold must be a finite number in \[0, 1\]"):
        pool.filter_novel(["a b"], threshold)
    assert len(pool) == 1


def test_bad_arguments_are_clear_errors():
    pool = RougeLPool(["a b c"])
    with pytest.raises(ValueError, match='unknown tokenizer "spacy"'):
        RougeLPool(tokenizer="spacy")
    with pytest.raises(ValueError, match="unknown tokenizer"):
        rouge_l_f1("a", "b", "whitespace")
    with pytest.raises(ValueError, match="k must be at least 1"):
        pool.top_k("a", 0)
    with pytest.raises(ValueError, match="k must be at least 1, got -2"):
        pool.top_k("a", -2)
    with pytest.raises(TypeError, match="candidates must be a sequence of str, not a single str"):
        pool.filter_novel("a b", 0.7)
    with pytest.raises(TypeError, match=r"texts\[1\] must be str, got int"):
        pool.add(["ok", 3])
    with pytest.raises(TypeError, match=r"candidates\[0\]: .*surrogate"):
        pool.filter_novel(["\ud800"], 0.7)
    with pytest.raises(TypeError, match="candidates must be a sequence of str, got int"):
        pool.max_similarity(5)
    with pytest.raises(IndexError, match="index 1 out of range for a pool of 1"):
        pool.text(1)
    with pytest.raises(IndexError, match="index -2 out of range"):
        pool.text(-2)
    assert len(pool) == 1


# --- bench script -----------------------------------------------------------------------------


@pytest.mark.slow
def test_bench_script_runs_and_checks_equality(tmp_path):
    out = tmp_path / "bench.json"
    assert (
        bench.main(["--pool", "300", "--candidates", "20", "--runs", "1", "--json", str(out)]) == 0
    )
    result = json.loads(out.read_text())
    assert result["equal"] is True
    assert result["rouge_score"]["median_s"] > 0 and result["alignkit"]["median_s"] > 0
    assert result["speedup"] == pytest.approx(
        result["rouge_score"]["median_s"] / result["alignkit"]["median_s"]
    )
