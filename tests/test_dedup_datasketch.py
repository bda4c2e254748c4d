"""Agreement with datasketch: bit-exact hash values in the datasketch scheme, Jaccard estimates
within sampling error in the fast scheme, and the same dedup decisions at threshold 0.7."""

from __future__ import annotations

import random

import numpy as np
import pytest

from alignkit import _core
from alignkit.webr import MinHasher, dedup

datasketch = pytest.importorskip("datasketch", reason="datasketch not installed (test extra)")
if int(datasketch.__version__.split(".")[0]) < 2:  # pragma: no cover - old datasketch
    pytest.skip("datasketch >= 2.0 (affine32 scheme) needed", allow_module_level=True)

from datasketch import MinHash, MinHashLSH  # noqa: E402
from datasketch.lsh import _optimal_param  # noqa: E402


def word_shingles(text: str, n: int) -> list[bytes]:
    words = text.lower().split()
    if not words:
        return []
    n = min(n, len(words))
    return [" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)]


def ds_minhash(shingles: list[bytes], num_perm: int = 128, seed: int = 1) -> MinHash:
    m = MinHash(num_perm=num_perm, seed=seed)
    m.update_batch(shingles)
    return m


def planted_corpus(
    n_families: int, seed: int, max_edit: float = 0.08
) -> tuple[list[str], list[int]]:
    """Families of one random base document and edits of it at varied edit rates; the family id
    of every document is returned too."""
    rng = random.Random(seed)
    vocab = [f"{rng.choice('abcdefgh')}{i}" for i in range(20000)]
    texts, family = [], []
    for f in range(n_families):
        base = [rng.choice(vocab) for _ in range(rng.randint(80, 250))]
        texts.append(" ".join(base))
        family.append(f)
        for _ in range(rng.randint(0, 3)):
            words = list(base)
            edits = max(1, int(len(words) * rng.uniform(0, max_edit)))
            for i in rng.sample(range(len(words)), edits):
                words[i] = rng.choice(vocab)
            texts.append(" ".join(words))
            family.append(f)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [family[i] for i in order]


@pytest.mark.parametrize("seed", [1, 7, 123456])
@pytest.mark.parametrize("num_perm", [16, 128])
def test_datasketch_scheme_is_bit_exact(seed: int, num_perm: int) -> None:
    texts = ["The quick brown fox jumps over the lazy dog again and again", "short", "", "a b c"]
    h = MinHasher(num_perm, seed=seed, ngram=3, scheme="datasketch")
    ref = MinHash(num_perm=num_perm, seed=seed)
    a, b = h.permutations()
    assert np.array_equal(a, ref.permutations[0]) and np.array_equal(b, ref.permutations[1])
    sigs = h.signatures(texts)
    for text, sig in zip(texts, sigs, strict=True):
        m = ds_minhash(word_shingles(text, 3), num_perm, seed)
        assert np.array_equal(sig, m.hashvalues), text


def test_datasketch_scheme_chars_and_tokens_are_bit_exact() -> None:
    h = MinHasher(64, ngram=4, shingle="char", scheme="datasketch")
    text = "Ünïcode text, with punctuation!"
    norm = " ".join(text.lower().split())
    grams = [norm[i : i + 4].encode() for i in range(len(norm) - 3)]
    assert np.array_equal(h.signature(text), ds_minhash(grams, 64).hashvalues)
    h = MinHasher(64, ngram=2, scheme="datasketch")
    ids = [101, 7, 2023, 7, 0]
    grams = [f"{x} {y}".encode() for x, y in zip(ids, ids[1:], strict=False)]
    assert np.array_equal(h.signature_tokens(ids), ds_minhash(grams, 64).hashvalues)


@pytest.mark.parametrize(
    ("threshold", "num_perm"),
    [(0.5, 128), (0.7, 128), (0.8, 128), (0.9, 128), (0.7, 256), (0.6, 64), (0.85, 100)],
)
def test_lsh_params_match_datasketch(threshold: float, num_perm: int) -> None:
    assert _core.lsh_params(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    assert _core.lsh_params(threshold, num_perm) == (lsh.b, lsh.r)


def test_fast_scheme_jaccard_agrees_with_datasketch_within_sampling_error() -> None:
    texts, family = planted_corpus(60, seed=5)
    fast = MinHasher(128, ngram=5).signatures(texts)
    diffs = []
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if family[i] != family[j]:
                continue
            mi = ds_minhash(word_shingles(texts[i], 5))
            mj = ds_minhash(word_shingles(texts[j], 5))
            diffs.append(_core.jaccard(fast[i], fast[j]) - mi.jaccard(mj))
    diffs_arr = np.array(diffs)
    assert len(diffs_arr) > 50
    # Two independent estimates, each with standard error <= 0.5/sqrt(128) = 0.044.
    assert abs(diffs_arr.mean()) < 0.02
    assert np.abs(diffs_arr).max() < 0.25
    assert np.sqrt((diffs_arr**2).mean()) < 0.07


def datasketch_greedy(texts: list[str], threshold: float = 0.7, seed: int = 1) -> list[bool]:
    """The usual loop over MinHashLSH: drop a document if the index returns any candidate."""
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    keep = []
    for i, text in enumerate(texts):
        m = ds_minhash(word_shingles(text, 5), seed=seed)
        if lsh.query(m):
            keep.append(False)
        else:
            lsh.insert(str(i), m)
            keep.append(True)
    return keep


def test_dedup_decisions_match_datasketch_minhashlsh() -> None:
    # Edits up to 8% of words: many pairs sit near the 0.7 threshold (the hard case).
    texts, _ = planted_corpus(150, seed=11)
    reference = np.array(datasketch_greedy(texts))
    assert 0 < (~reference).sum() < len(texts)
    exact_mode = dedup(texts, scheme="datasketch", mode="greedy", exact=False)
    # Same hash values, same bands: identical decisions.
    assert np.array_equal(exact_mode.keep, reference)
    # Other hash functions decide borderline pairs by other coin flips; datasketch itself with
    # another seed is the yardstick (about 0.88 here).
    yardstick = (np.array(datasketch_greedy(texts, seed=2)) == reference).mean()
    for res in (dedup(texts, mode="greedy", exact=False), dedup(texts, exact=False)):
        agreement = (res.keep == reference).mean()
        assert agreement >= min(yardstick, 0.95) - 0.04, (agreement, yardstick)


def test_dedup_decisions_on_typical_corpus() -> None:
    # Edits up to 1% of words: clear duplicates and clear non-duplicates.
    texts, family = planted_corpus(200, seed=3, max_edit=0.01)
    reference = np.array(datasketch_greedy(texts))
    for res in (dedup(texts, mode="greedy", exact=False), dedup(texts, exact=False)):
        assert (res.keep == reference).mean() >= 0.98
    exact_mode = dedup(texts, scheme="datasketch", mode="greedy", exact=False)
    assert np.array_equal(exact_mode.keep, reference)
    # one survivor per family
    kept_families = [family[i] for i in np.flatnonzero(reference)]
    assert len(set(kept_families)) == 200
