"""Exact and near-duplicate removal over in-memory texts or token-id sequences.

`dedup(items)` -> keep mask, cluster labels and counts. Exact duplicates are found by hashing
normalised text; near duplicates by MinHash signatures (Rust, GIL released, all cores), LSH
banding with (bands, rows) chosen from the Jaccard threshold as datasketch does, and union-find
clusters that keep one deterministic representative each (lowest id or longest text).
`mode="greedy"` instead reproduces the usual datasketch loop (query, insert if new). Token ids
(e.g. a `tokenizers` tokenizer's ids, as WebR's request dedup uses) are shingled as n-grams of
ids. The file-based, resumable stage over many shards is `alignkit.webr.dedup.dedup_files`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from alignkit import _core

SHINGLES = ("word", "char")
NORMALIZE = ("none", "lower", "strict")
SCHEMES = ("fast", "datasketch")
KEEP = ("first", "longest")
MODES = ("cluster", "greedy")


class DedupConfigError(ValueError):
    """An invalid dedup option (or, for `alignkit webr dedup`, an output directory made with
    another configuration)."""


@dataclasses.dataclass(frozen=True)
class DedupSettings:
    """What exact and near-duplicate detection decide by (validated on construction)."""

    threshold: float = 0.7
    num_perm: int = 128
    bands: int | None = None
    rows: int | None = None
    shingle: str = "word"
    ngram: int = 5
    normalize: str = "lower"
    seed: int = 1
    scheme: str = "fast"
    exact: bool = True
    near: bool = True
    keep: str = "first"

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise DedupConfigError("threshold must be between 0 and 1 (exclusive)")
        if self.num_perm < 2:
            raise DedupConfigError("num_perm must be at least 2")
        if (self.bands is None) != (self.rows is None):
            raise DedupConfigError("give both bands and rows, or neither")
        if self.bands is not None and self.rows is not None:
            if self.bands < 1 or self.rows < 1:
                raise DedupConfigError("bands and rows must be at least 1")
            if self.bands * self.rows > self.num_perm:
                raise DedupConfigError(
                    f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}"
                )
        if self.shingle not in SHINGLES:
            raise DedupConfigError(f"shingle must be one of {SHINGLES}, not {self.shingle!r}")
        if self.ngram < 1:
            raise DedupConfigError("ngram must be at least 1")
        if self.normalize not in NORMALIZE:
            raise DedupConfigError(f"normalize must be one of {NORMALIZE}, not {self.normalize!r}")
        if self.scheme not in SCHEMES:
            raise DedupConfigError(f"scheme must be one of {SCHEMES}, not {self.scheme!r}")
        if self.scheme == "datasketch" and not 0 <= self.seed < 2**32:
            raise DedupConfigError("the datasketch scheme needs 0 <= seed < 2**32")
        if self.seed < 0:
            raise DedupConfigError("seed must be >= 0")
        if self.keep not in KEEP:
            raise DedupConfigError(f"keep must be one of {KEEP}, not {self.keep!r}")
        if not (self.exact or self.near):
            raise DedupConfigError("nothing to do: both exact and near dedup are off")

    def lsh(self) -> tuple[int, int]:
        """(bands, rows): as given, or chosen from the threshold like datasketch."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return _core.lsh_params(self.threshold, self.num_perm)

    def hasher(self) -> _core.MinHasher:
        return _core.MinHasher(
            self.num_perm,
            seed=self.seed,
            ngram=self.ngram,
            shingle=self.shingle,
            normalize=self.normalize,
            scheme=self.scheme,
        )


@dataclasses.dataclass
class DedupResult:
    """Decisions for an in-memory collection."""

    keep: npt.NDArray[np.bool_]
    labels: npt.NDArray[np.int64] | None
    stats: dict[str, Any]

    @property
    def kept_indices(self) -> npt.NDArray[np.int64]:
        return np.flatnonzero(self.keep)

    def filter(self, items: Sequence[Any]) -> list[Any]:
        """The kept items, in their original order."""
        if len(items) != len(self.keep):
            raise ValueError("items must be the collection the result was computed for")
        return [items[i] for i in self.kept_indices]


def _is_token_input(items: Sequence[Any]) -> bool:
    for item in items:
        if isinstance(item, str):
            return False
        if isinstance(item, (bytes, bytearray)):
            raise TypeError("give texts as str (decode bytes first) or token ids as int sequences")
        return True
    return False


def minhash_signatures(
    items: Sequence[str] | Sequence[Sequence[int]],
    *,
    num_perm: int = 128,
    seed: int = 1,
    ngram: int = 5,
    shingle: str = "word",
    normalize: str = "lower",
    scheme: str = "fast",
    workers: int | None = None,
) -> npt.NDArray[np.uint32]:
    """MinHash signatures, shape (len(items), num_perm), uint32: texts or token-id sequences."""
    hasher = _core.MinHasher(
        num_perm, seed=seed, ngram=ngram, shingle=shingle, normalize=normalize, scheme=scheme
    )
    if _is_token_input(items):
        return hasher.signatures_tokens(items, workers=workers)  # type: ignore[arg-type]
    return hasher.signatures(items, workers=workers)  # type: ignore[arg-type]


def dedup(
    items: Sequence[str] | Sequence[Sequence[int]],
    *,
    threshold: float = 0.7,
    num_perm: int = 128,
    bands: int | None = None,
    rows: int | None = None,
    shingle: str = "word",
    ngram: int = 5,
    normalize: str = "lower",
    seed: int = 1,
    scheme: str = "fast",
    exact: bool = True,
    near: bool = True,
    mode: str = "cluster",
    keep: str = "first",
    verify: bool = False,
    workers: int | None = None,
) -> DedupResult:
    """Exact then near-duplicate removal over texts or token-id sequences.

    Returns the keep mask, cluster labels (the smallest index of each document's cluster; None in
    greedy mode) and counts. `verify=True` drops LSH candidates whose estimated Jaccard is below
    `threshold`. Token ids are shingled as n-grams of `ngram` ids.
    """
    cfg = DedupSettings(
        threshold=threshold,
        num_perm=num_perm,
        bands=bands,
        rows=rows,
        shingle=shingle,
        ngram=ngram,
        normalize=normalize,
        seed=seed,
        scheme=scheme,
        exact=exact,
        near=near,
        keep=keep,
    )
    if mode not in MODES:
        raise DedupConfigError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "greedy" and keep != "first":
        raise DedupConfigError("mode='greedy' keeps the first document; use keep='first'")
    n = len(items)
    tokens = _is_token_input(items)
    b, r = cfg.lsh()
    labels = np.arange(n, dtype=np.int64)
    keep_mask = np.ones(n, dtype=bool)
    exact_removed = 0
    if exact and n:
        if tokens:
            keys = _core.exact_hashes_tokens(items)  # type: ignore[arg-type]
        else:
            keys = _core.exact_hashes(items, normalize=normalize, workers=workers)  # type: ignore[arg-type]
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        labels = first[inverse].astype(np.int64)
        keep_mask = labels == np.arange(n)
        exact_removed = int(n - keep_mask.sum())
    near_removed = 0
    if near and n:
        reps = np.flatnonzero(keep_mask)
        subset = [items[i] for i in reps]
        hasher = cfg.hasher()
        if tokens:
            sigs = hasher.signatures_tokens(subset, workers=workers)  # type: ignore[arg-type]
        else:
            sigs = hasher.signatures(subset, workers=workers)  # type: ignore[arg-type]
        hashes = _core.band_hashes(sigs, b, r, workers=workers)
        lengths = None
        if keep == "longest":
            lengths = np.fromiter((len(x) for x in subset), dtype=np.uint64, count=len(subset))
        sub_keep, sub_labels = _core.near_dup_keep(
            hashes,
            mode=mode,
            keep=keep,
            lengths=lengths,
            signatures=sigs if verify else None,
            threshold=threshold,
            workers=workers,
        )
        near_removed = int(len(reps) - sub_keep.sum())
        new_keep = np.zeros(n, dtype=bool)
        new_keep[reps[sub_keep]] = True
        if sub_labels is not None:
            rep_label = np.empty(n, dtype=np.int64)
            rep_label[reps] = reps[sub_labels]
            labels = rep_label[labels]
        keep_mask = new_keep
        if mode == "greedy":
            labels_out: npt.NDArray[np.int64] | None = None
        else:
            labels_out = labels
    else:
        labels_out = labels
    clusters = 0
    if labels_out is not None and n:
        counts = np.bincount(labels_out, minlength=n)
        clusters = int((counts >= 2).sum())
    stats = {
        "docs": n,
        "kept": int(keep_mask.sum()),
        "exact_removed": exact_removed,
        "near_removed": near_removed,
        "duplicate_clusters": clusters,
        "bands": b,
        "rows": r,
        "mode": mode,
        "input": "token_ids" if tokens else "text",
    }
    return DedupResult(keep=keep_mask, labels=labels_out, stats=stats)
