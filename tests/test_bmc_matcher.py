"""The Rust sequence matcher against `difflib.SequenceMatcher(None, a, b)` (autojunk on):
identical opcodes on random sequences and on real token sequences with revision-like edits."""

from __future__ import annotations

import difflib
import gzip
import random

import numpy as np
import pytest

from alignkit.bmc import sequence_opcodes, stop_word_token_ids, varied_token_masks

from conftest import SHARED, gpt2_bpe_tokenizer


def difflib_opcodes(a, b):
    return difflib.SequenceMatcher(None, a, b).get_opcodes()


def edited(rng: random.Random, seq: list[int], alphabet: int, edits: int) -> list[int]:
    """`seq` with `edits` random replaced, deleted and inserted runs."""
    out = list(seq)
    for _ in range(edits):
        pos = rng.randint(0, len(out))
        run = rng.randint(1, 6)
        kind = rng.random()
        new = [rng.randrange(alphabet) for _ in range(run)]
        if kind < 0.4:
            out[pos : pos + run] = new
        elif kind < 0.7:
            del out[pos : pos + run]
        else:
            out[pos:pos] = new
    return out


@pytest.mark.parametrize("seed", range(8))
def test_random_sequences_match_difflib(seed: int) -> None:
    rng = random.Random(seed)
    # Small alphabets make items popular (autojunk) once len(b) >= 200; large ones never do.
    alphabets = [1, 2, 3, 7, 20, 60, 300, 5000, 50_000]
    checked = popular_cases = 0
    for case in range(300):
        alphabet = alphabets[case % len(alphabets)]
        a = [rng.randrange(alphabet) for _ in range(rng.randint(0, 1500))]
        if case % 3 == 0:
            b = [rng.randrange(alphabet) for _ in range(rng.randint(0, 1500))]
        else:
            b = edited(rng, a, alphabet, rng.randint(0, 40))
        if case % 7 == 0:
            a, b = b, a
        expected = difflib_opcodes(a, b)
        assert sequence_opcodes(a, b) == expected, (seed, case, alphabet, len(a), len(b))
        checked += 1
        popular_cases += bool(difflib.SequenceMatcher(None, a, b).bpopular)
    assert checked == 300
    assert popular_cases > 30  # the autojunk path really was exercised


def test_repeated_calls_and_edge_cases() -> None:
    cases = [
        ([], []),
        ([1], []),
        ([], [1]),
        ([5] * 300, [5] * 250),
        ([1, 7, 7, 2], [7] * 100 + [1, 7, 7, 2] + [7] * 100),
        (list(range(400)), list(range(400))[::-1]),
        ([-5, 2**40, -5, 3], [2**40, -5, 3, -5]),  # ids outside the dense table
    ]
    for _ in range(3):  # the matcher reuses buffers between calls
        for a, b in cases:
            assert sequence_opcodes(a, b) == difflib_opcodes(a, b)
    a = np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=np.int64)
    b = np.array([3, 1, 4, 2, 6, 5], dtype=np.int32)
    assert sequence_opcodes(a, b) == difflib_opcodes(a.tolist(), b.tolist())


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="string"):
        sequence_opcodes("abc", "abd")
    with pytest.raises(TypeError):
        sequence_opcodes([1, None], [1])
    with pytest.raises(ValueError, match="not a token id"):
        varied_token_masks([[1, 2]], [[-1]])
    with pytest.raises(ValueError, match="2 pseudo-chosen sequences but 1"):
        varied_token_masks([[1], [2]], [[1]])


def stdlib_texts() -> list[str]:
    """Real English prose that is always available: the docstrings of stdlib modules and their
    public members, one text per module."""
    import argparse
    import collections
    import inspect
    import json
    import logging
    import threading
    import unittest

    texts = []
    for mod in [difflib, argparse, collections, json, logging, threading, inspect, unittest]:
        docs = [mod.__doc__ or ""]
        for name in sorted(dir(mod)):
            doc = getattr(getattr(mod, name), "__doc__", None)
            if not name.startswith("_") and isinstance(doc, str):
                docs.append(doc)
        texts.append("\n\n".join(docs))
    return texts


def page_texts(limit: int = 30) -> list[str]:
    from alignkit.webr import extract_text

    pages = SHARED / "data" / "html" / "pages"
    if not pages.is_dir():
        pytest.skip(f"{pages} not present (shared test data is optional)")
    texts = []
    for path in sorted(pages.glob("*.html.gz"))[:limit]:
        html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        text = extract_text(html, mode="main").text
        if len(text) > 500:
            texts.append(text)
    return texts


def token_edit_pairs(texts: list[str], seed: int) -> list[tuple[list[int], list[int]]]:
    """(losing, pseudo-winning) token sequences of 300-1500 tokens: the text, then a word-level
    revision of it (words replaced, dropped, inserted, sentences swapped), both tokenized."""
    tok = gpt2_bpe_tokenizer()
    rng = random.Random(seed)
    vocab_words = " ".join(texts).split()
    pairs = []
    for text in texts:
        words = text.split()
        for start in range(0, max(len(words) - 200, 1), 400):
            chunk = words[start : start + rng.randint(200, 900)]
            revised = list(chunk)
            for _ in range(rng.randint(1, 25)):
                pos = rng.randrange(len(revised) + 1)
                kind = rng.random()
                if kind < 0.5 and pos < len(revised):
                    revised[pos] = rng.choice(vocab_words)
                elif kind < 0.7:
                    del revised[pos : pos + rng.randint(1, 8)]
                else:
                    revised[pos:pos] = rng.sample(vocab_words, rng.randint(1, 6))
            losing = tok.encode(" ".join(chunk)).ids
            winning = tok.encode(" ".join(revised)).ids
            pairs.append((losing, winning))
    return pairs


def check_pairs(pairs: list[tuple[list[int], list[int]]]) -> None:
    assert pairs
    for losing, winning in pairs:
        assert sequence_opcodes(losing, winning) == difflib_opcodes(losing, winning)
        assert sequence_opcodes(winning, losing) == difflib_opcodes(winning, losing)


def test_real_token_sequences_stdlib_prose() -> None:
    pairs = token_edit_pairs(stdlib_texts(), seed=1)
    assert len(pairs) >= 8
    assert max(len(a) for a, _ in pairs) >= 300
    check_pairs(pairs)


def test_real_token_sequences_web_pages() -> None:
    pairs = token_edit_pairs(page_texts(), seed=2)
    assert len(pairs) >= 20
    check_pairs(pairs)


def reference_masks(chosen: list[int], rejected: list[int], stop: set[int]):
    """The masks as the method defines them, from difflib's opcodes."""
    c, r = [False] * len(chosen), [False] * len(rejected)
    for tag, i1, i2, j1, j2 in difflib_opcodes(rejected, chosen):
        if tag in ("replace", "delete"):
            for i in range(i1, i2):
                r[i] = rejected[i] not in stop
        if tag in ("replace", "insert"):
            for j in range(j1, j2):
                c[j] = chosen[j] not in stop
    return c, r


def test_varied_masks_match_difflib_definition() -> None:
    tok = gpt2_bpe_tokenizer()
    stop = stop_word_token_ids(tok)
    pairs = token_edit_pairs(stdlib_texts(), seed=3)
    chosen = [w for _, w in pairs]
    rejected = [losing for losing, _ in pairs]
    got_c, got_r = varied_token_masks(chosen, rejected, stop, workers=2)
    for k, (c, r) in enumerate(zip(chosen, rejected, strict=True)):
        exp_c, exp_r = reference_masks(c, r, stop)
        assert got_c[k] == exp_c and got_r[k] == exp_r, k
    # Some tokens changed, and stop words among them were left out.
    assert any(any(m) for m in got_c)
    no_stop_c, _ = varied_token_masks(chosen, rejected)
    assert sum(map(sum, no_stop_c)) > sum(map(sum, got_c))


def test_alignkit_stop_word_rule_single_tokens_only() -> None:
    tok = gpt2_bpe_tokenizer()
    ids = stop_word_token_ids(tok, "alignkit")
    for text in (" the", "The", " and", " of", "is"):
        assert tok.encode(text).ids[0] in ids
    assert tok.encode(" banana").ids[0] not in ids
    assert all(len(tok.decode([i]).strip().split()) == 1 for i in ids)
    assert 200 < len(ids) < 800
    transformers = pytest.importorskip("transformers")
    wrapped = transformers.PreTrainedTokenizerFast(tokenizer_object=tok)
    assert stop_word_token_ids(wrapped, "alignkit") == ids  # the transformers path agrees


def test_varied_masks_accept_numpy_rows() -> None:
    chosen = np.array([[1, 9, 3, 4], [5, 6, 7, 8]], dtype=np.int64)
    rejected = [np.array([1, 2, 3, 4], dtype=np.int32), np.array([5, 6, 8], dtype=np.uint32)]
    got_c, got_r = varied_token_masks(chosen, rejected, np.array([4]))
    assert got_c == [[False, True, False, False], [False, False, True, False]]
    assert got_r == [[False, True, False, False], [False, False, False]]
