"""`alignkit webr dedup`: exact and near-duplicate removal, in memory or over many shards.

In memory (`dedup`): lists of texts or of token ids (e.g. a `tokenizers` tokenizer's ids, as
WebR's request dedup uses) -> keep mask, cluster labels and counts. Exact duplicates are found by
hashing normalised text; near duplicates by MinHash signatures (Rust, GIL released, all cores),
LSH banding with (bands, rows) chosen from the Jaccard threshold as datasketch does, and
union-find clusters that keep one deterministic representative each (lowest id or longest text).
`mode="greedy"` instead reproduces the usual datasketch loop (query, insert if new).

Over files (`dedup_files`), beyond memory and in stages that each leave files behind:

1. signatures per shard -> one band file per shard (`_work/bands/<stem>.bands`),
2. band files -> band-bucket and exact-bucket partition files (`_work/buckets/`),
3. buckets -> union-find over global ids -> keep mask per shard (`_work/keep/<stem>.npy`),
4. filter pass: the kept documents of each shard, in the input's format (`<stem>.jsonl.gz`, ...).

Stage 1 is independent per shard and its band files are small (8 bytes per band per document
plus 16 bytes), so it can run on many machines; stages 2-3 only read band files, one bucket
partition in memory at a time (raise `partitions` for larger corpora).

Outputs are written under temporary names and renamed; `_done/` holds completion markers, so a
re-run resumes; the output directory remembers its configuration and refuses another one unless
`overwrite=True`, exactly like `prepare`.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from alignkit import _core
from alignkit.data.io import atomic_write_json
from alignkit.webr.prepare import (
    MARKER_DIR,
    STATS_FILE,
    TMP_DIR,
    _clear_outputs,
    _marker_is_valid,
    check_recorded_config,
    ensure_output_dir,
    expand_shards,
)

log = logging.getLogger(__name__)

SHINGLES = ("word", "char")
NORMALIZE = ("none", "lower", "strict")
SCHEMES = ("fast", "datasketch")
KEEP = ("first", "longest")
MODES = ("cluster", "greedy")
INPUT_SUFFIXES = (".jsonl.gz", ".jsonl", ".parquet")
# Bumped whenever the band-file layout or the meaning of an option changes.
DEDUP_SCHEMA_VERSION = 1
WORK_DIR = "_work"
CLUSTER_MARKER = "clusters"


class DedupConfigError(ValueError):
    """An invalid dedup option, or an output directory made with another configuration."""


@dataclasses.dataclass(frozen=True)
class DedupConfig:
    """Settings that change what dedup decides or writes (all recorded in the output directory)."""

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
    text_field: str = "text"
    id_field: str = "id"
    partitions: int = 16
    write_clusters: bool = False

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
        if self.partitions < 1:
            raise DedupConfigError("partitions must be at least 1")
        if not self.text_field:
            raise DedupConfigError("text_field must not be empty")

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

    def fingerprint(self) -> dict[str, Any]:
        """What the results depend on (`partitions` only bounds memory, so it is left out)."""
        bands, rows = self.lsh()
        settings = dataclasses.asdict(self)
        del settings["partitions"]
        return {
            "schema_version": DEDUP_SCHEMA_VERSION,
            "job": "dedup",
            **settings,
            "bands": bands,
            "rows": rows,
        }


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
    cfg = DedupConfig(
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


# --- file flow ---------------------------------------------------------------------------------


def input_stem(path: Path) -> tuple[str, str]:
    """`docs-00001.jsonl.gz` -> (`docs-00001`, `.jsonl.gz`); unknown suffixes are refused."""
    name = path.name
    for suffix in INPUT_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], suffix
    raise DedupConfigError(
        f"{path}: unsupported input (expected {', '.join(INPUT_SUFFIXES)}, e.g. the output of "
        "`alignkit webr prepare`)"
    )


def _open_lines(path: Path, suffix: str) -> Any:
    return gzip.open(path, "rb") if suffix == ".jsonl.gz" else open(path, "rb")


def _open_write(path: Path, suffix: str) -> Any:
    return gzip.open(path, "wb", compresslevel=6) if suffix == ".jsonl.gz" else open(path, "wb")


def _iter_jsonl(path: Path, suffix: str) -> Iterator[tuple[bytes, dict[str, Any]]]:
    with _open_lines(path, suffix) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: not a JSON line ({exc})") from exc
            if not isinstance(doc, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object per line")
            yield line, doc


def _text_of(doc: dict[str, Any], field: str, where: str) -> Any:
    if field not in doc:
        raise ValueError(f"{where}: no field {field!r} (set --text-field)")
    value = doc[field]
    return "" if value is None else value


def _check_column(values: list[Any], path: Path, field: str) -> list[Any]:
    """Texts (str) or token-id sequences (lists of ints), not a mix of both."""
    texts = sum(isinstance(v, str) for v in values)
    if texts == len(values):
        return values
    if texts == 0 and all(
        isinstance(v, (list, tuple)) and all(isinstance(t, int) for t in v) for v in values
    ):
        return values
    raise ValueError(
        f"{path}: field {field!r} must hold strings (texts) or lists of ints (token ids) throughout"
    )


def read_texts(path: Path, text_field: str = "text") -> list[Any]:
    """The text column of one shard (JSONL, gzip JSONL or Parquet): strings, or lists of token
    ids (e.g. tokenizer output stored next to generated requests)."""
    _, suffix = input_stem(path)
    if suffix == ".parquet":
        pq = _pyarrow_parquet()
        if text_field not in pq.read_schema(path).names:
            raise ValueError(f"{path}: no column {text_field!r} (set --text-field)")
        table = pq.read_table(path, columns=[text_field])
        values = ["" if t is None else t for t in table.column(text_field).to_pylist()]
    else:
        values = [
            _text_of(doc, text_field, f"{path}:{i + 1}")
            for i, (_, doc) in enumerate(_iter_jsonl(path, suffix))
        ]
    return _check_column(values, path, text_field)


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("Parquet input needs pyarrow: pip install 'alignkit[parquet]'") from exc
    return pq


def _write_kept(src: Path, suffix: str, keep: npt.NDArray[np.bool_], tmp: Path) -> int:
    """Copy the kept documents of `src` to `tmp` in the same format; returns how many."""
    if suffix == ".parquet":
        import pyarrow as pa

        pq = _pyarrow_parquet()
        table = pq.read_table(src)
        if table.num_rows != len(keep):
            raise ValueError(f"{src} changed since its signatures were computed; re-run")
        kept = table.filter(pa.array(keep))
        pq.write_table(kept, tmp, compression="zstd")
        return int(kept.num_rows)
    count = 0
    with _open_write(tmp, suffix) as out, _open_lines(src, suffix) as fh:
        i = 0
        for line in fh:
            if not line.strip():
                continue
            if i >= len(keep):
                raise ValueError(f"{src} changed since its signatures were computed; re-run")
            if keep[i]:
                out.write(line if line.endswith(b"\n") else line + b"\n")
                count += 1
            i += 1
        if i != len(keep):
            raise ValueError(f"{src} changed since its signatures were computed; re-run")
    return count


def _ids_of(path: Path, suffix: str, id_field: str) -> list[Any]:
    if suffix == ".parquet":
        pq = _pyarrow_parquet()
        names = pq.read_schema(path).names
        if id_field not in names:
            return list(range(pq.ParquetFile(path).metadata.num_rows))
        return pq.read_table(path, columns=[id_field]).column(id_field).to_pylist()
    return [doc.get(id_field, i) for i, (_, doc) in enumerate(_iter_jsonl(path, suffix))]


@dataclasses.dataclass(frozen=True)
class _Shard:
    input: Path
    stem: str
    suffix: str
    band_file: Path
    keep_file: Path
    output: Path
    band_marker: Path
    out_marker: Path


def _plan(paths: Sequence[Path], out: Path) -> list[_Shard]:
    seen: dict[str, Path] = {}
    shards = []
    for path in paths:
        stem, suffix = input_stem(path)
        if stem in seen:
            raise DedupConfigError(
                f"two inputs would write the same output {stem}: {seen[stem]} and {path}"
            )
        seen[stem] = path
        output = out / f"{stem}{suffix}"
        if output.resolve() == path.resolve():
            raise DedupConfigError(f"--out must not be the directory holding the input {path}")
        shards.append(
            _Shard(
                input=path,
                stem=stem,
                suffix=suffix,
                band_file=out / WORK_DIR / "bands" / f"{stem}.bands",
                keep_file=out / WORK_DIR / "keep" / f"{stem}.npy",
                output=output,
                band_marker=out / MARKER_DIR / f"bands-{stem}.json",
                out_marker=out / MARKER_DIR / f"{stem}.json",
            )
        )
    return shards


def _write_marker(marker: Path, shard: _Shard, output: Path, stats: dict[str, Any]) -> None:
    st = shard.input.stat()
    atomic_write_json(
        marker,
        {
            "input": str(shard.input),
            "input_size": st.st_size,
            "input_mtime_ns": st.st_mtime_ns,
            "output": str(output),
            "stats": stats,
        },
    )


class _Bar:
    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="shard", dynamic_ncols=True)
        self.docs = 0
        self.started = time.perf_counter()

    def step(self, docs: int) -> None:
        self.docs += docs
        if self.bar is not None:
            rate = self.docs / max(time.perf_counter() - self.started, 1e-9)
            self.bar.set_postfix(docs=self.docs, docs_per_s=f"{rate:,.0f}")
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def dedup_files(
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: DedupConfig | None = None,
    *,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Deduplicate every input shard into `out_dir`; returns the stats written to `stats.json`.

    Clusters span all inputs: a document is removed if it duplicates one in any shard. `workers`
    is the number of threads for the Rust stages (default: all cores).
    """
    cfg = config or DedupConfig()
    if workers is not None and workers < 1:
        raise DedupConfigError("workers must be at least 1")
    paths = expand_shards(inputs)
    if not paths:
        raise FileNotFoundError("no input files given")
    out = Path(out_dir)
    ensure_output_dir(out, out / WORK_DIR / "bands", out / WORK_DIR / "keep")
    if check_recorded_config(out, cfg.fingerprint(), overwrite, DedupConfigError):
        _clear_outputs(out)
    if overwrite:
        shutil.rmtree(out / WORK_DIR, ignore_errors=True)
        (out / MARKER_DIR / f"{CLUSTER_MARKER}.json").unlink(missing_ok=True)
        (out / "clusters.jsonl.gz").unlink(missing_ok=True)
    for sub in (out / WORK_DIR / "bands", out / WORK_DIR / "keep"):
        sub.mkdir(parents=True, exist_ok=True)
    shards = _plan(paths, out)
    bands, rows = cfg.lsh()
    started = time.perf_counter()
    tmp_dir = out / TMP_DIR

    # 1. signatures -> band files
    hasher = cfg.hasher()
    docs_per_shard: dict[str, int] = {}
    todo = []
    for shard in shards:
        stats = None if overwrite else _marker_is_valid(shard.band_marker, shard.input)
        if stats is not None and shard.band_file.is_file():
            docs_per_shard[shard.stem] = int(stats["docs"])
        else:
            todo.append(shard)
    redone = bool(todo)
    bar = _Bar(len(todo), "dedup: signatures", progress)
    try:
        for shard in todo:
            texts = read_texts(shard.input, cfg.text_field)
            tmp = tmp_dir / f"{shard.stem}.bands.partial"
            try:
                if texts and not isinstance(texts[0], str):
                    n = _core.dedup_write_band_file_tokens(
                        texts, tmp, hasher, bands, rows, workers=workers
                    )
                else:
                    n = _core.dedup_write_band_file(
                        texts,
                        tmp,
                        hasher,
                        bands,
                        rows,
                        exact_normalize=cfg.normalize,
                        workers=workers,
                    )
                os.replace(tmp, shard.band_file)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            docs_per_shard[shard.stem] = n
            _write_marker(shard.band_marker, shard, shard.band_file, {"docs": n})
            bar.step(n)
    finally:
        bar.close()
    sig_seconds = time.perf_counter() - started

    # 2 + 3. buckets and clusters (redone whenever any band file or the shard list changed)
    cluster_marker = out / MARKER_DIR / f"{CLUSTER_MARKER}.json"
    plan_key = [[s.stem, docs_per_shard[s.stem]] for s in shards]
    cluster_info = None
    if not redone and not overwrite and cluster_marker.is_file():
        try:
            info = json.loads(cluster_marker.read_text(encoding="utf-8"))
            if info.get("plan") == plan_key and all(s.keep_file.is_file() for s in shards):
                cluster_info = info
        except (OSError, ValueError):
            cluster_info = None
    if cluster_info is None:
        for shard in shards:  # every shard's output depends on the clusters
            shard.out_marker.unlink(missing_ok=True)
        cluster_info = _cluster(cfg, shards, out, plan_key, workers)
        atomic_write_json(cluster_marker, cluster_info)
    cluster_seconds = time.perf_counter() - started - sig_seconds

    # 4. filter pass
    kept_per_shard: dict[str, int] = {}
    todo = []
    for shard in shards:
        stats = None if overwrite else _marker_is_valid(shard.out_marker, shard.input)
        if stats is not None:
            kept_per_shard[shard.stem] = int(stats["kept"])
        else:
            todo.append(shard)
    bar = _Bar(len(todo), "dedup: write kept", progress)
    try:
        for shard in todo:
            keep = np.load(shard.keep_file)
            tmp = tmp_dir / f"{shard.stem}{shard.suffix}.partial"
            try:
                kept = _write_kept(shard.input, shard.suffix, keep, tmp)
                os.replace(tmp, shard.output)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            kept_per_shard[shard.stem] = kept
            _write_marker(shard.out_marker, shard, shard.output, {"docs": len(keep), "kept": kept})
            bar.step(len(keep))
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    docs = sum(docs_per_shard.values())
    result = {
        "docs_in": docs,
        "docs_kept": sum(kept_per_shard.values()),
        "exact_removed": cluster_info["exact_removed"],
        "near_removed": cluster_info["near_removed"],
        "duplicate_clusters": cluster_info["duplicate_clusters"],
        "bands": bands,
        "rows": rows,
        "threshold": cfg.threshold,
        "num_perm": cfg.num_perm,
        "shards_total": len(shards),
        "config": cfg.fingerprint(),
        "seconds": round(elapsed, 3),
        "seconds_signatures": round(sig_seconds, 3),
        "seconds_clusters": round(cluster_seconds, 3),
        "per_shard": {
            s.input.name: {"docs": docs_per_shard[s.stem], "kept": kept_per_shard[s.stem]}
            for s in shards
        },
        "outputs": {s.input.name: str(s.output) for s in shards},
    }
    if cfg.write_clusters:
        result["clusters_file"] = str(out / "clusters.jsonl.gz")
    atomic_write_json(out / STATS_FILE, result)
    return result


def _cluster(
    cfg: DedupConfig,
    shards: Sequence[_Shard],
    out: Path,
    plan_key: list[list[Any]],
    workers: int | None,
) -> dict[str, Any]:
    bucket_dir = out / WORK_DIR / "buckets"
    if bucket_dir.exists():
        shutil.rmtree(bucket_dir)
    band_files = [s.band_file for s in shards]
    docs = _core.dedup_write_buckets(band_files, bucket_dir, cfg.partitions)
    if not cfg.near:
        # exact only: band buckets are not wanted; empty them
        for path in bucket_dir.glob("band-*.bkt"):
            path.write_bytes(b"AKBK\x01\x00\x00\x00")
    if not cfg.exact:
        for path in bucket_dir.glob("exact-*.bkt"):
            path.write_bytes(b"AKBK\x01\x00\x00\x00")
    res = _core.dedup_cluster(docs, bucket_dir, cfg.partitions, band_files, keep=cfg.keep)
    keep = res["keep"]
    labels = res["labels"]
    offset = 0
    for shard, (_, n) in zip(shards, plan_key, strict=True):
        tmp = out / TMP_DIR / f"{shard.stem}.keep.npy"
        np.save(tmp, keep[offset : offset + n])
        os.replace(tmp, shard.keep_file)
        offset += n
    if cfg.write_clusters:
        _write_clusters(cfg, shards, labels, keep, plan_key, out)
    shutil.rmtree(bucket_dir, ignore_errors=True)
    return {
        "plan": plan_key,
        "docs": int(res["docs"]),
        "exact_removed": int(res["exact_removed"]),
        "near_removed": int(res["near_removed"]),
        "duplicate_clusters": int(res["duplicate_clusters"]),
        "keep_dir": str(out / WORK_DIR / "keep"),
    }


def _write_clusters(
    cfg: DedupConfig,
    shards: Sequence[_Shard],
    labels: npt.NDArray[np.uint32],
    keep: npt.NDArray[np.bool_],
    plan_key: list[list[Any]],
    out: Path,
) -> None:
    """`clusters.jsonl.gz`: one line per member of a duplicate cluster (size >= 2)."""
    counts = np.bincount(labels, minlength=len(labels))
    offsets = np.cumsum([0] + [int(n) for _, n in plan_key])
    where = {int(g): None for g in np.flatnonzero(counts[labels] >= 2)}
    tmp = out / TMP_DIR / "clusters.jsonl.gz.partial"
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        for k, shard in enumerate(shards):
            lo, hi = int(offsets[k]), int(offsets[k + 1])
            members = [g for g in range(lo, hi) if g in where]
            if not members:
                continue
            ids = _ids_of(shard.input, shard.suffix, cfg.id_field)
            for g in members:
                fh.write(
                    json.dumps(
                        {
                            "cluster": int(labels[g]),
                            "doc": g,
                            "shard": shard.input.name,
                            "index": g - lo,
                            "id": ids[g - lo],
                            "kept": bool(keep[g]),
                        }
                    )
                    + "\n"
                )
    os.replace(tmp, out / "clusters.jsonl.gz")
