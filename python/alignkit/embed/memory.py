"""A retrieval edit memory: facts keyed by the embedding of their prompt, searched exactly.

LTE's inference phase stores each edit as a fact sentence keyed by its prompt's embedding; a
query retrieves the top-k facts by cosine similarity, with no threshold. `EditMemory` does that
on `alignkit._core.KnnIndex` (exact search in Rust, GIL released), with ids that follow insertion
order, removal, and a saved form: a folder holding the index file and a JSON sidecar of the
texts, each written atomically and checked against each other on load.

Sequential editing is `add` then `retrieve` per edit: the memory then holds edits 1..i.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alignkit.data.io import atomic_write_json
from alignkit.embed.encoder import DEFAULT_BACKEND, get_encoder, resolve_model_dir

log = logging.getLogger(__name__)

INDEX_FILE = "index.knn"
TEXTS_FILE = "memory.json"
_FORMAT = "alignkit-edit-memory"
_VERSION = 1

Encoder = Callable[[Sequence[str]], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Hit:
    """One retrieved edit: its id, fact sentence, cosine score, key prompt and metadata."""

    id: int
    fact: str
    score: float
    prompt: str
    metadata: Any = None


@dataclasses.dataclass(frozen=True)
class MemoryEntry:
    """A stored edit."""

    id: int
    prompt: str
    fact: str
    metadata: Any = None


def _texts(values: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of strings, not one string")
    out = list(values)
    for i, v in enumerate(out):
        if not isinstance(v, str):
            raise TypeError(f"{what}[{i}] is {type(v).__name__}, not str")
    return out


class EditMemory:
    """Facts keyed by prompt embeddings; `retrieve` returns the `k` most similar per query.

    `encoder`: None for the shipped MiniLM (`alignkit.embed`), a sentence-transformers model
    folder (str or path), or a callable mapping a list of texts to a float32 `(n, dim)` array.
    Scores are cosine similarities (keys and queries are L2-normalised); equal scores rank the
    earlier edit first. Ids are assigned in insertion order and never reused.
    """

    def __init__(
        self,
        encoder: str | os.PathLike[str] | Encoder | None = None,
        k: int = 1,
        *,
        backend: str = DEFAULT_BACKEND,
        batch_size: int = 32,
        workers: int | None = None,
    ):
        if k < 1:
            raise ValueError("k must be at least 1")
        self.k = k
        self.workers = workers
        self._encode, self.encoder_name = _make_encoder(encoder, backend, batch_size)
        self._index: Any = None  # alignkit._core.KnnIndex, made on the first add
        self._entries: dict[int, MemoryEntry] = {}
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, edit_id: object) -> bool:
        return edit_id in self._entries

    @property
    def dim(self) -> int | None:
        """The embedding width, once something was added."""
        return None if self._index is None else self._index.dim

    def entries(self) -> list[MemoryEntry]:
        """The stored edits in insertion order."""
        return list(self._entries.values())

    def get(self, edit_id: int) -> MemoryEntry:
        try:
            return self._entries[edit_id]
        except KeyError:
            raise KeyError(f"no edit with id {edit_id} in the memory") from None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The encoder's float32 `(n, dim)` vectors of `texts`."""
        texts = _texts(texts, "texts")
        vectors = np.asarray(self._encode(texts), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(
                f"the encoder returned shape {vectors.shape} for {len(texts)} texts; "
                "expected (texts, dim)"
            )
        return np.ascontiguousarray(vectors)

    def add(
        self,
        prompts: Sequence[str],
        facts: Sequence[str],
        metadata: Sequence[Any] | None = None,
    ) -> list[int]:
        """Stores each fact keyed by its prompt; returns the new ids. All or nothing."""
        prompts, facts = _texts(prompts, "prompts"), _texts(facts, "facts")
        if len(prompts) != len(facts):
            raise ValueError(f"{len(prompts)} prompts but {len(facts)} facts")
        metas = [None] * len(prompts) if metadata is None else list(metadata)
        if len(metas) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(metas)} metadata values")
        for i, meta in enumerate(metas):
            try:
                json.dumps(meta)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"metadata[{i}] is not JSON-serialisable: {exc}") from exc
        if not prompts:
            return []
        vectors = self.embed(prompts)
        ids = list(range(self._next_id, self._next_id + len(prompts)))
        if self._index is None:
            from alignkit._core import KnnIndex

            index = KnnIndex(vectors.shape[1], normalize=True)
            index.add(vectors, np.asarray(ids, dtype=np.uint64), workers=self.workers)
            self._index = index
        else:
            self._index.add(vectors, np.asarray(ids, dtype=np.uint64), workers=self.workers)
        for edit_id, prompt, fact, meta in zip(ids, prompts, facts, metas, strict=True):
            self._entries[edit_id] = MemoryEntry(edit_id, prompt, fact, meta)
        self._next_id += len(prompts)
        return ids

    def remove(self, ids: Sequence[int]) -> None:
        """Removes the edits of `ids` (each must be stored). All or nothing."""
        ids = [int(i) for i in ids]
        missing = [i for i in ids if i not in self._entries]
        if missing:
            raise KeyError(f"no edit with id {missing[0]} in the memory")
        if not ids:
            return
        self._index.remove(np.asarray(ids, dtype=np.uint64))
        for edit_id in ids:
            self._entries.pop(edit_id, None)

    def retrieve(self, queries: Sequence[str], k: int | None = None) -> list[list[Hit]]:
        """The `min(k, len(self))` best edits for each query, best first."""
        queries = _texts(queries, "queries")
        k = self.k if k is None else k
        if k < 1:
            raise ValueError("k must be at least 1")
        if not self._entries or not queries:
            return [[] for _ in queries]
        return self.retrieve_vectors(self.embed(queries), k)

    def retrieve_vectors(self, vectors: np.ndarray, k: int | None = None) -> list[list[Hit]]:
        """`retrieve` for query vectors already embedded by this memory's encoder."""
        k = self.k if k is None else k
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self._index is None or not self._entries:
            return [[] for _ in range(len(vectors))]
        ids, scores = self._index.search(vectors, k, workers=self.workers)
        out = []
        for row_ids, row_scores in zip(ids.tolist(), scores.tolist(), strict=True):
            hits = []
            for edit_id, score in zip(row_ids, row_scores, strict=True):
                e = self._entries[edit_id]
                hits.append(Hit(edit_id, e.fact, score, e.prompt, e.metadata))
            out.append(hits)
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the memory to the folder `path` (index file, then the JSON texts)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        index_file = folder / INDEX_FILE
        if self._index is not None:
            self._index.save(index_file)
        else:
            index_file.unlink(missing_ok=True)
        atomic_write_json(
            folder / TEXTS_FILE,
            {
                "format": _FORMAT,
                "version": _VERSION,
                "encoder": self.encoder_name,
                "k": self.k,
                "dim": self.dim,
                "next_id": self._next_id,
                "entries": [dataclasses.asdict(e) for e in self._entries.values()],
            },
        )
        return folder

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        encoder: str | os.PathLike[str] | Encoder | None = None,
        k: int | None = None,
        **options: Any,
    ) -> EditMemory:
        """A memory saved by `save`. `encoder` must embed as the saved one did (the saved
        encoder's name is compared and a difference logged); `k` defaults to the saved one."""
        folder = Path(path)
        texts_file = folder / TEXTS_FILE
        try:
            saved = json.loads(texts_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{folder} holds no edit memory ({TEXTS_FILE})") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{texts_file} is not valid JSON: {exc}") from exc
        _check_saved(saved, texts_file)
        memory = cls(encoder, saved["k"] if k is None else k, **options)
        if memory.encoder_name != saved["encoder"]:
            log.warning(
                "edit memory %s was saved with encoder %s but is loaded with %s",
                folder,
                saved["encoder"],
                memory.encoder_name,
            )
        entries = [MemoryEntry(**e) for e in saved["entries"]]
        index_file = folder / INDEX_FILE
        if entries or index_file.exists():
            from alignkit._core import KnnIndex

            memory._index = KnnIndex.load(index_file)
            stored = memory._index.ids().tolist()
            if stored != [e.id for e in entries]:
                raise ValueError(
                    f"{index_file} and {texts_file} disagree on the stored edits "
                    f"({len(stored)} vs {len(entries)}): not saved together"
                )
        memory._entries = {e.id: e for e in entries}
        memory._next_id = saved["next_id"]
        return memory


def _check_saved(saved: Any, source: Path) -> None:
    """The sidecar's shape, so a foreign or damaged file is a clear error."""
    if not isinstance(saved, Mapping) or saved.get("format") != _FORMAT:
        raise ValueError(f"{source} is not an alignkit edit memory")
    if saved.get("version") != _VERSION:
        raise ValueError(f"{source}: edit memory version {saved.get('version')} is not supported")
    entries = saved.get("entries")
    fields = {f.name for f in dataclasses.fields(MemoryEntry)}
    ok = (
        isinstance(entries, list)
        and all(isinstance(e, Mapping) and set(e) == fields for e in entries)
        and isinstance(saved.get("next_id"), int)
        and isinstance(saved.get("k"), int)
        and isinstance(saved.get("encoder"), str)
    )
    if not ok:
        raise ValueError(f"{source}: malformed edit memory (entries, next_id, k or encoder)")


def _make_encoder(
    encoder: str | os.PathLike[str] | Encoder | None, backend: str, batch_size: int
) -> tuple[Encoder, str]:
    """The encoding function and a name for it (recorded on save)."""
    if callable(encoder):
        return encoder, f"callable:{getattr(encoder, '__qualname__', type(encoder).__name__)}"
    model_dir = resolve_model_dir(encoder)
    name = "default" if encoder is None else str(model_dir)

    def encode(texts: Sequence[str]) -> np.ndarray:
        # The loaded model is cached by get_encoder; no disk cache for these short key lists.
        return get_encoder(str(model_dir), backend).encode(texts, batch_size=batch_size)

    return encode, name
