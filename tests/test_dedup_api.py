"""`alignkit.webr.dedup` in memory: signatures, LSH, exact dedup and `dedup()`."""

from __future__ import annotations

import random

import numpy as np
import pytest

from alignkit import _core
from alignkit.webr import (
    DedupConfigError,
    ExactDeduper,
    LshIndex,
    MinHasher,
    dedup,
    minhash_signatures,
)

WORDS = [f"w{i}" for i in range(3000)]


def random_doc(rng: random.Random, n: int = 120) -> list[str]:
    return [rng.choice(WORDS) for _ in range(n)]


def mutate(words: list[str], k: int, rng: random.Random) -> list[str]:
    out = list(words)
    for i in rng.sample(range(len(out)), k):
        out[i] = f"x{rng.randrange(10**9)}"
    return out


def test_signatures_shape_dtype_and_batch_matches_single() -> None:
    h = MinHasher(128, seed=3)
    texts = ["the quick brown fox jumps over the lazy dog", "", "a b", "Hello  WORLD again"]
    sigs = h.signatures(texts, workers=2)
    assert sigs.shape == (4, 128) and sigs.dtype == np.uint32
    for i, t in enumerate(texts):
        assert np.array_equal(sigs[i], h.signature(t))
    assert (sigs[1] == np.iinfo(np.uint32).max).all()  # empty text: empty signature
    assert np.array_equal(h.signature("hello world again"), sigs[3])  # normalised
    assert h.signatures([]).shape == (0, 128)
    assert repr(h).startswith("MinHasher(num_perm=128")
    a, b = h.permutations()
    assert a.shape == b.shape == (128,) and (a % 2 == 1).all()


def test_seed_ngram_and_shingle_change_signatures() -> None:
    text = "one two three four five six seven eight nine ten"
    base = MinHasher(64, seed=1).signature(text)
    assert not np.array_equal(base, MinHasher(64, seed=2).signature(text))
    assert not np.array_equal(base, MinHasher(64, ngram=2).signature(text))
    assert not np.array_equal(base, MinHasher(64, shingle="char").signature(text))
    assert np.array_equal(base, MinHasher(64, seed=1).signature(text))


def test_token_ids_and_prehashed() -> None:
    h = MinHasher(64, ngram=2)
    seqs = [[1, 2, 3, 4, 5], [1, 2, 3, 4, 6], [], [7]]
    sigs = h.signatures_tokens(seqs)
    assert sigs.shape == (4, 64)
    assert np.array_equal(sigs[0], h.signature_tokens(seqs[0]))
    assert 0.3 < _core.jaccard(sigs[0], sigs[1]) < 0.9
    assert np.array_equal(minhash_signatures(seqs, num_perm=64, ngram=2), sigs)
    flat = np.arange(100, dtype=np.uint64)
    offsets = np.array([0, 50, 100], dtype=np.int64)
    pre = h.signatures_prehashed(flat, offsets)
    assert pre.shape == (2, 64)
    with pytest.raises(ValueError):
        h.signatures_prehashed(flat, np.array([0, 200], dtype=np.int64))


def test_jaccard_estimate_tracks_truth() -> None:
    rng = random.Random(0)
    h = MinHasher(256, ngram=1)
    errors = []
    for k in (10, 30, 60, 90):
        a = random_doc(rng, 200)
        b = mutate(a, k, rng)
        sa, sb = set(a), set(b)
        truth = len(sa & sb) / len(sa | sb)
        estimate = _core.jaccard(h.signature(" ".join(a)), h.signature(" ".join(b)))
        errors.append(abs(estimate - truth))
    assert max(errors) < 0.1, errors  # 256 slots: standard error <= 0.032


@pytest.mark.parametrize("bad", [{"num_perm": 0}, {"shingle": "line"}, {"normalize": "x"}])
def test_minhasher_rejects_bad_options(bad: dict) -> None:
    with pytest.raises(ValueError):
        MinHasher(**bad)


def test_lsh_params_and_error_rates() -> None:
    assert _core.lsh_params(0.7, 128) == (14, 9)
    assert _core.lsh_params(0.5, 128) == (25, 5)
    fp, fn = _core.lsh_error_rates(0.7, 14, 9)
    assert 0 < fp < 0.1 and 0 < fn < 0.1
    with pytest.raises(ValueError):
        _core.lsh_params(1.2, 128)


def test_lsh_index_clusters_pairs_query() -> None:
    rng = random.Random(1)
    base = random_doc(rng)
    docs = [" ".join(random_doc(rng)) for _ in range(30)]
    docs += [" ".join(mutate(base, k, rng)) for k in (0, 1, 2)]
    h = MinHasher(128, ngram=1)
    sigs = h.signatures(docs)
    index = LshIndex(128, threshold=0.7, capacity=len(docs))
    assert (index.bands, index.rows) == (14, 9)
    index.add(sigs[:10])
    index.add(sigs[10:])
    assert len(index) == len(docs)
    labels = index.clusters()
    assert labels.dtype == np.uint32
    assert list(labels[:30]) == list(range(30))
    assert set(labels[30:].tolist()) == {30}
    pairs = index.candidate_pairs()
    assert pairs.shape == (3, 2) and pairs.tolist() == [[30, 31], [30, 32], [31, 32]]
    assert index.candidate_pairs(signatures=sigs, threshold=0.999).shape[0] <= 3
    assert index.query(sigs[31]) == [30, 31, 32]
    assert index.memory_bytes() == len(docs) * 14 * 8
    assert index.clusters(signatures=sigs).tolist() == labels.tolist()
    with pytest.raises(ValueError):
        index.add(np.zeros((2, 64), dtype=np.uint32))
    with pytest.raises(ValueError):
        LshIndex(128, bands=20, rows=10)


def test_exact_deduper_set_and_bloom() -> None:
    for d in (ExactDeduper(), ExactDeduper(bloom=True, expected=1000, fpr=1e-4)):
        assert d.add("Hello World")
        assert not d.add("hello   world")
        mask = d.add_batch(["a", "b", "A", "hello world", "c"])
        assert mask.tolist() == [True, True, False, False, True]
        assert (d.seen, d.removed) == (7, 3)
        assert d.memory_bytes() > 0
    assert ExactDeduper(bloom=True).is_bloom
    raw = ExactDeduper("none")
    assert raw.add("A") and raw.add("a")
    with pytest.raises(ValueError):
        ExactDeduper(bloom=True, fpr=0)


def test_dedup_texts_exact_and_near() -> None:
    rng = random.Random(2)
    base = random_doc(rng, 200)
    uniques = [" ".join(random_doc(rng, 200)) for _ in range(20)]
    near = [" ".join(mutate(base, k, rng)) for k in (1, 2)]
    texts = [" ".join(base), *uniques, " ".join(base).upper(), *near]
    res = dedup(texts, workers=2)
    assert res.stats["docs"] == len(texts)
    assert res.stats["exact_removed"] == 1
    assert res.stats["near_removed"] == 2
    assert res.stats["duplicate_clusters"] == 1
    assert (res.stats["bands"], res.stats["rows"]) == (14, 9)
    assert res.keep[0] and not res.keep[21] and not res.keep[22] and not res.keep[23]
    assert res.labels is not None and set(res.labels[[0, 21, 22, 23]].tolist()) == {0}
    kept = res.filter(texts)
    assert len(kept) == len(texts) - 3 and kept[0] == texts[0]
    assert res.kept_indices.tolist()[:2] == [0, 1]
    # near only: the uppercase copy is a near duplicate (normalised shingles are identical)
    only_near = dedup(texts, exact=False)
    assert only_near.stats["exact_removed"] == 0 and only_near.stats["near_removed"] == 3
    only_exact = dedup(texts, near=False)
    assert only_exact.keep.sum() == len(texts) - 1


def test_dedup_keep_longest_greedy_verify_and_tokens() -> None:
    rng = random.Random(3)
    base = random_doc(rng, 200)
    longer = base + ["extra"]
    texts = [" ".join(base), " ".join(random_doc(rng)), " ".join(longer)]
    res = dedup(texts, keep="longest")
    assert res.keep.tolist() == [False, True, True]
    greedy = dedup(texts, mode="greedy")
    assert greedy.keep.tolist() == [True, True, False] and greedy.labels is None
    verified = dedup(texts, verify=True, threshold=0.7)
    assert verified.keep.tolist() == [True, True, False]
    ids = [[hash(w) % 50000 for w in t.split()] for t in texts]
    tok = dedup(ids, ngram=3)
    assert tok.stats["input"] == "token_ids" and tok.keep.tolist() == [True, True, False]
    assert dedup([]).keep.shape == (0,)
    with pytest.raises(DedupConfigError):
        dedup(texts, mode="greedy", keep="longest")
    with pytest.raises(DedupConfigError):
        dedup(texts, threshold=1.5)
    with pytest.raises(DedupConfigError):
        dedup(texts, bands=20, rows=10)
    with pytest.raises(TypeError):
        dedup([b"bytes"])


def test_batch_signatures_release_the_gil() -> None:
    import threading
    import time

    texts = [" ".join(random_doc(random.Random(i), 300)) for i in range(3000)]
    h = MinHasher(256, ngram=3)
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0)

    t = threading.Thread(target=count)
    t.start()
    try:
        started = time.perf_counter()
        for _ in range(3):
            h.signatures(texts, workers=1)
        elapsed = time.perf_counter() - started
    finally:
        done.set()
        t.join()
    # With the GIL held for the whole call the counter could only move between calls.
    assert ticks > 200, (ticks, elapsed)
