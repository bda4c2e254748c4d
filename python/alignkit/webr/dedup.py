"""`alignkit webr dedup`: exact and near-duplicate removal over many document shards, on the
stage kit.

The decisions are those of the in-memory `alignkit.text.dedup.dedup` (the same settings, as
`DedupConfig` fields); this module runs them over files, beyond memory, in three stages whose
tasks run on any executor (local processes or Ray); no process holds the whole corpus's
signatures or keys:

1. `webr.dedup.signatures` (folder `OUT/.alignkit/signatures/`): one task per shard computes
   its MinHash band keys and exact keys and writes them split into `partitions` partition files
   (`<stem>.<p>.bkt`, 12 bytes per key), plus its document lengths (`<stem>.len`); the
   stage's reduce writes `manifest.json` (the shards in plan order, a digest of each one's
   files), the one input of every partition task: planning stage 2 checks one file per task.
2. `webr.dedup.clusters` (folder `OUT/.alignkit/clusters/`): one task per partition reads that
   partition's file of every shard (global document ids count shard after shard in plan order)
   and writes the union edges of documents sharing a key, each to the smallest id of its bucket
   (`partition-<p>.edges`). The kit's reduce step unites the edges alone - a union-find over
   the documents that have a duplicate, so its memory follows the duplicates, not the corpus -
   and writes a keep mask per shard (`<stem>.keep.npy`) and, if asked, `clusters.jsonl.gz`.
3. `webr.dedup` (folder `OUT`): one task per shard copies its kept documents, in the input's
   format, to `OUT/<stem><suffix>`. Its markers record the keep mask's identity, so a shard is
   redone exactly when its mask changed.

A cluster keeps its smallest global id (or its longest document, ties to the smallest id), and
the ids come from the sorted inputs, so the outputs do not depend on the executor or on which
task finished first. Every stage resumes and refuses a changed configuration like every stage
(see `alignkit.stage`); `partitions` shapes the files of stages 1 and 2, so changing it is
refused there too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from alignkit import _core
from alignkit.data.io import open_gzip_text_writer
from alignkit.data.rows import Row, RowReader
from alignkit.errors import (
    ConfigError,
    ConfigMismatchError,
    InputError,
    InputNotFoundError,
    NothingProducedError,
    StageFailedError,
)
from alignkit.stage import (
    META_DIR,
    Counts,
    Executor,
    LocalExecutor,
    OutputFolder,
    Stage,
    StageConfig,
    StageReport,
    Task,
    TaskContext,
    TaskResult,
    option,
    run_stage,
)
from alignkit.stage.folder import differing_keys
from alignkit.text.dedup import KEEP, NORMALIZE, SCHEMES, SHINGLES, DedupConfigError, DedupSettings
from alignkit.webr.prepare import expand_shards, plan_shard_tasks, shard_totals

log = logging.getLogger(__name__)

INPUT_SUFFIXES = (".jsonl.gz", ".jsonl", ".parquet")
SIGNATURES_DIR = "signatures"
CLUSTERS_DIR = "clusters"
CLUSTERS_FILE = "clusters.jsonl.gz"
# The signatures stage's reduce writes it (the shards in plan order); it is each partition task's
# one input, so the driver checks one file per task, not every shard's partition and length files.
MANIFEST_FILE = "manifest.json"


class DedupOptionError(ConfigError, DedupConfigError):
    """An invalid dedup option (both an alignkit `ConfigError` and the in-memory dedup's
    `DedupConfigError`)."""


@dataclasses.dataclass(frozen=True)
class DedupConfig(StageConfig):
    """Settings of `webr dedup`: the detection settings of `DedupSettings` plus the file flow's."""

    threshold: float = option(0.7, help="Jaccard threshold for near duplicates")
    num_perm: int = option(128, help="MinHash permutations")
    bands: int | None = option(None, help="LSH bands (none = chosen from --threshold)")
    rows: int | None = option(None, help="LSH rows per band (with --bands)")
    shingle: str = option("word", choices=SHINGLES, help="n-gram unit")
    ngram: int = option(5, help="shingle size in words or characters")
    normalize: str = option(
        "lower",
        choices=NORMALIZE,
        help="lower = lowercase + collapse whitespace; strict = also drop punctuation",
    )
    seed: int = option(1, help="permutation seed")
    scheme: str = option(
        "fast", choices=SCHEMES, help="datasketch = bit-exact datasketch MinHash values (slower)"
    )
    exact: bool = option(True, help="exact-duplicate removal")
    near: bool = option(True, help="near-duplicate removal")
    keep: str = option(
        "first",
        choices=KEEP,
        help="which cluster member survives (first in input order, or longest text)",
    )
    text_field: str = option("text", help="JSON field / column holding the text")
    id_field: str = option("id", help="document id field (cluster file)")
    partitions: int = option(
        16,
        help="key partitions: files per shard and cluster tasks (bounds each task's memory)",
        fingerprint=False,
    )
    write_clusters: bool = option(
        False,
        help=f"also write OUT/{META_DIR}/{CLUSTERS_DIR}/{CLUSTERS_FILE} (members of every "
        "duplicate cluster)",
    )
    workers: int | None = option(
        None,
        help="parallel workers: shards in min(workers, shards) processes, the rest as threads "
        "(none = one process, all cores)",
        fingerprint=False,
    )

    def validate(self) -> None:
        try:
            self.settings()
        except DedupConfigError as exc:
            raise DedupOptionError(str(exc)) from None
        if self.partitions < 1:
            raise DedupOptionError("partitions must be at least 1")
        if not self.text_field:
            raise DedupOptionError("text_field must not be empty")
        if self.workers is not None and self.workers < 1:
            raise DedupOptionError("workers must be at least 1")

    def settings(self) -> DedupSettings:
        """The detection settings (what the in-memory `dedup` takes)."""
        return DedupSettings(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(DedupSettings)}
        )

    def lsh(self) -> tuple[int, int]:
        return self.settings().lsh()

    def fingerprint(self) -> dict[str, Any]:
        """Records the (bands, rows) in force, also when chosen from the threshold."""
        bands, rows = self.lsh()
        return {**super().fingerprint(), "bands": bands, "rows": rows}


# --- reading and writing shards ----------------------------------------------------------------


def input_stem(path: Path) -> tuple[str, str]:
    """`docs-00001.jsonl.gz` -> (`docs-00001`, `.jsonl.gz`); unknown suffixes are refused."""
    name = path.name
    for suffix in INPUT_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], suffix
    raise InputError(
        f"{path}: unsupported input (expected {', '.join(INPUT_SUFFIXES)}, e.g. the output of "
        "`alignkit webr prepare`)"
    )


def _rows(path: Path, counts: Counts | None = None) -> Iterator[Row]:
    """The good rows of a JSON-lines shard; bad rows and damage of a compressed file are
    skipped, logged naming file and line, and added to `counts` when given."""
    rows = RowReader(path)
    yield from rows
    if counts is not None:
        counts.merge(rows.stats())


def _iter_jsonl(
    path: Path, suffix: str, counts: Counts | None = None
) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """(line as read, object) of every good row (see `_rows`)."""
    for row in _rows(path, counts):
        yield row.raw, row.value


def _text_of(doc: dict[str, Any], field: str, where: str) -> Any:
    if field not in doc:
        raise InputError(f"{where}: no field {field!r} (set --text-field)")
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
    raise InputError(
        f"{path}: field {field!r} must hold strings (texts) or lists of ints (token ids) throughout"
    )


def read_texts(path: Path, text_field: str = "text", counts: Counts | None = None) -> list[Any]:
    """The text column of one shard (JSONL, gzip JSONL or Parquet): strings, or lists of token
    ids (e.g. tokenizer output stored next to generated requests). Bad JSON rows are skipped
    and counted into `counts` (see `_iter_jsonl`)."""
    _, suffix = input_stem(path)
    if suffix == ".parquet":
        pq = _pyarrow_parquet()
        if text_field not in pq.read_schema(path).names:
            raise InputError(f"{path}: no column {text_field!r} (set --text-field)")
        table = pq.read_table(path, columns=[text_field])
        values = ["" if t is None else t for t in table.column(text_field).to_pylist()]
    else:
        values = [_text_of(row.value, text_field, row.where) for row in _rows(path, counts)]
    return _check_column(values, path, text_field)


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("Parquet input needs pyarrow: pip install 'alignkit[parquet]'") from exc
    return pq


def _changed(src: Path) -> InputError:
    return InputError(f"{src} changed since its signatures were computed; re-run")


def _write_kept(
    src: Path, suffix: str, keep: npt.NDArray[np.bool_], tmp: Path, counts: Counts
) -> int:
    """Copy the kept documents of `src` to `tmp` in the same format; returns how many. The rows
    are those the signatures were computed from (bad rows skipped the same way)."""
    if suffix == ".parquet":
        import pyarrow as pa

        pq = _pyarrow_parquet()
        table = pq.read_table(src)
        if table.num_rows != len(keep):
            raise _changed(src)
        kept = table.filter(pa.array(keep))
        pq.write_table(kept, tmp, compression="zstd")
        return int(kept.num_rows)
    count = i = 0
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(tmp, "wb"))
        if suffix == ".jsonl.gz":  # no name or mtime in the header: same rows, same bytes
            out = stack.enter_context(
                gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=6, mtime=0)
            )
        for line, _ in _iter_jsonl(src, suffix, counts):
            if i >= len(keep):
                raise _changed(src)
            if keep[i]:
                out.write(line if line.endswith(b"\n") else line + b"\n")
                count += 1
            i += 1
    if i != len(keep):
        raise _changed(src)
    return count


def _ids_of(path: Path, suffix: str, id_field: str) -> list[Any]:
    if suffix == ".parquet":
        pq = _pyarrow_parquet()
        names = pq.read_schema(path).names
        if id_field not in names:
            return list(range(pq.ParquetFile(path).metadata.num_rows))
        return pq.read_table(path, columns=[id_field]).column(id_field).to_pylist()
    return [doc.get(id_field, i) for i, (_, doc) in enumerate(_iter_jsonl(path, suffix))]


def _plan(inputs: Sequence[str]) -> list[Task]:
    return plan_shard_tasks(inputs, lambda p: input_stem(p)[0], lambda p: input_stem(p)[1])


def _suffix(task: Task) -> str:
    return input_stem(Path(task.payload))[1]


# --- stage 1: signatures into partition files --------------------------------------------------


def _partition_file(shard_id: str, partition: int) -> str:
    return f"{shard_id}.{partition:05d}.bkt"


def _lengths_file(shard_id: str) -> str:
    return f"{shard_id}.len"


class DedupSignatureStage(Stage[DedupConfig]):
    """Per shard: its band and exact keys in `partitions` partition files, and its document
    lengths (module docstring)."""

    name = "webr.dedup.signatures"
    config_class = DedupConfig
    progress_unit = "B"

    def __init__(self, config: DedupConfig, threads: int | None = None) -> None:
        super().__init__(config)
        self.threads = threads

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "partitions": self.config.partitions}

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        return _plan(inputs)

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        cfg = self.config
        bands, rows = cfg.lsh()
        counts = Counts()
        texts = read_texts(Path(task.payload), cfg.text_field, counts)
        names = [_partition_file(task.id, p) for p in range(cfg.partitions)]
        names.append(_lengths_file(task.id))
        outputs = {name: ctx.tmp_output(name) for name in names}
        parts, lengths = [outputs[n] for n in names[:-1]], outputs[names[-1]]
        if texts and not isinstance(texts[0], str):
            n = _core.dedup_write_shard_files_tokens(
                texts, parts, lengths, cfg.settings().hasher(), bands, rows, workers=self.threads
            )
        else:
            n = _core.dedup_write_shard_files(
                texts,
                parts,
                lengths,
                cfg.settings().hasher(),
                bands,
                rows,
                exact_normalize=cfg.normalize,
                workers=self.threads,
            )
        ctx.progress(task.weight)
        return TaskResult(stats={"docs": int(n), **counts}, outputs=outputs)

    def reduce(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> TaskResult:
        """The manifest: the shards whose files are here, in plan order, each with a digest of
        its files' checksums (from its marker), so the manifest changes exactly when a shard's
        files changed and the partition tasks (its readers) are redone then. Deterministic: the
        same inputs give the same manifest on any executor."""
        tmp = folder.tmp_path(MANIFEST_FILE)
        digests = []
        for task in tasks:
            marker = json.loads(folder.marker_path(task.id).read_text(encoding="utf-8"))
            files = sorted((o["name"], o["sha256"]) for o in marker["outputs"])
            digests.append(hashlib.sha256(json.dumps(files).encode()).hexdigest()[:32])
        manifest = {
            "partitions": self.config.partitions,
            "shards": [[t.id, str(t.payload)] for t in tasks],
            "files": digests,
        }
        tmp.write_text(json.dumps(manifest) + "\n", encoding="utf-8")
        return TaskResult(stats={}, outputs={MANIFEST_FILE: tmp})


# --- stage 2: union edges per partition, clusters in the reduce ---------------------------------


@dataclasses.dataclass(frozen=True)
class PartitionPayload:
    """What a partition task reads: partition `partition` of every shard, in plan order
    (`(shard id, input path)` pairs)."""

    partition: int
    shards: tuple[tuple[str, str], ...]


class DedupClusterStage(Stage[DedupConfig]):
    """Per partition: union edges from every shard's partition file; the reduce unites them and
    writes the keep masks (module docstring)."""

    name = "webr.dedup.clusters"
    config_class = DedupConfig

    def __init__(self, config: DedupConfig, signatures_dir: str | os.PathLike[str]) -> None:
        super().__init__(config)
        self.signatures_dir = os.fspath(signatures_dir)

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "partitions": self.config.partitions}

    def _signature_path(self, name: str) -> str:
        return os.path.join(self.signatures_dir, name)

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        shards = tuple((t.id, str(t.payload)) for t in _plan(inputs))
        # One input per task, the signatures' manifest: it is rewritten whenever a shard's keys
        # or lengths were, so every partition task and the reduce are redone exactly then.
        manifest = self._signature_path(MANIFEST_FILE)
        try:
            recorded = json.loads(Path(manifest).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InputError(
                f"{manifest} is missing or unreadable: the signatures stage "
                f"({DedupSignatureStage.name}) must finish first"
            ) from None
        wanted = {"partitions": self.config.partitions, "shards": [list(s) for s in shards]}
        if not isinstance(recorded, dict) or {k: recorded.get(k) for k in wanted} != wanted:
            raise InputError(
                f"{manifest} describes other shards or partitions than these inputs: run the "
                f"signatures stage ({DedupSignatureStage.name}) on them first"
            )
        return [
            Task(id=f"partition-{p:05d}", inputs=(manifest,), payload=PartitionPayload(p, shards))
            for p in range(self.config.partitions)
        ]

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        job: PartitionPayload = task.payload
        name = f"{task.id}.edges"
        tmp = ctx.tmp_output(name)
        shard_files = [
            self._signature_path(_partition_file(sid, job.partition)) for sid, _ in job.shards
        ]
        exact, band = _core.dedup_partition_edges(
            shard_files, job.partition, tmp, exact=self.config.exact, near=self.config.near
        )
        ctx.progress(task.weight)
        return TaskResult(stats={"exact_edges": exact, "band_edges": band}, outputs={name: tmp})

    def reduce(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> TaskResult:
        """The clusters from every partition's edges: one keep mask per shard (an unchanged mask
        keeps its file, so its kept-documents task is not redone) and the clusters file."""
        cfg = self.config
        shards = tasks[0].payload.shards
        res = _core.dedup_cluster_edges(
            [folder.path(f"{t.id}.edges") for t in tasks],
            [self._signature_path(_lengths_file(sid)) for sid, _ in shards],
            keep=cfg.keep,
        )
        outputs: dict[str, Path] = {}
        for k, (sid, _) in enumerate(shards):
            name = f"{sid}.keep.npy"
            outputs[name] = folder.tmp_path(name)
            with open(outputs[name], "wb") as fh:
                np.save(fh, res.shard_keep_mask(k))
        if cfg.write_clusters:
            outputs[CLUSTERS_FILE] = folder.tmp_path(CLUSTERS_FILE)
            _write_clusters(cfg, shards, res, outputs[CLUSTERS_FILE])
        stats = {
            "docs": int(res.docs),
            "exact_removed": int(res.exact_removed),
            "near_removed": int(res.near_removed),
            "duplicate_clusters": int(res.duplicate_clusters),
        }
        return TaskResult(stats=stats, outputs=outputs)


def _write_clusters(
    cfg: DedupConfig, shards: Sequence[tuple[str, str]], res: _core.EdgeClusters, tmp: Path
) -> None:
    """One line per member of a duplicate cluster (size >= 2), shard by shard."""
    nodes, labels, keep = res.nodes, res.labels, res.keep
    offsets = np.cumsum([0, *res.shard_docs])
    with open_gzip_text_writer(tmp) as fh:
        for k, (_, path) in enumerate(shards):
            lo, hi = np.searchsorted(nodes, [offsets[k], offsets[k + 1]])
            if lo == hi:
                continue
            src = Path(path)
            ids = _ids_of(src, input_stem(src)[1], cfg.id_field)
            for g, label, kept in zip(
                nodes[lo:hi].tolist(), labels[lo:hi].tolist(), keep[lo:hi].tolist(), strict=True
            ):
                index = g - int(offsets[k])
                row = {
                    "cluster": label,
                    "doc": g,
                    "shard": src.name,
                    "index": index,
                    "id": ids[index],
                    "kept": kept,
                }
                fh.write(json.dumps(row) + "\n")


# --- stage 3: kept documents -------------------------------------------------------------------


class DedupStage(Stage[DedupConfig]):
    """The kept documents of each shard, by the keep masks in `clusters_dir`."""

    name = "webr.dedup"
    config_class = DedupConfig
    progress_unit = "B"

    def __init__(self, config: DedupConfig, clusters_dir: str | os.PathLike[str]) -> None:
        super().__init__(config)
        self.clusters_dir = os.fspath(clusters_dir)

    def _mask(self, task_id: str) -> str:
        return os.path.join(self.clusters_dir, f"{task_id}.keep.npy")

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        return [dataclasses.replace(t, inputs=(*t.inputs, self._mask(t.id))) for t in _plan(inputs)]

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        src = Path(task.payload)
        name = task.id + _suffix(task)
        tmp = ctx.tmp_output(name)
        keep = np.load(self._mask(task.id))
        counts = Counts(docs=len(keep))
        counts["kept"] = _write_kept(src, _suffix(task), keep, tmp, counts)
        ctx.progress(task.weight)
        return TaskResult(stats=counts, outputs={name: tmp})

    def finalize(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        totals, per_shard = shard_totals(tasks, results)
        clusters = OutputFolder(self.clusters_dir).read_stats() or {}
        found = clusters.get("stats", {})
        bands, rows = self.config.lsh()
        return {
            "docs_in": int(totals.get("docs", 0)),
            "docs_kept": int(totals.get("kept", 0)),
            "skipped_rows": dict(totals.get("skipped_rows", {})),
            "read_faults": dict(totals.get("read_faults", {})),
            **{k: found.get(k, 0) for k in ("exact_removed", "near_removed", "duplicate_clusters")},
            "bands": bands,
            "rows": rows,
            "threshold": self.config.threshold,
            "num_perm": self.config.num_perm,
            "per_shard": per_shard,
        }


def run_dedup(
    config: DedupConfig,
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: bool | str | None = "auto",
    executor: Executor | None = None,
) -> StageReport:
    """Signatures into `OUT/.alignkit/signatures`, clusters into `OUT/.alignkit/clusters`, then
    the kept documents into `OUT`, all on `executor` (default: a local one sized by
    `config.workers`). Raises `StageFailedError` when a shard's signatures or a partition's
    edges failed (no clusters without them); failures of the last stage are in the report."""
    paths = [str(p) for p in expand_shards(inputs)]
    if not paths:
        raise InputNotFoundError("no input files given")
    out = Path(out_dir)
    for path in paths:
        if Path(path).parent == out.resolve():
            raise ConfigError(f"--out must not be the directory holding the input {path}")
    signatures = out / META_DIR / SIGNATURES_DIR
    clusters = out / META_DIR / CLUSTERS_DIR
    stage = DedupStage(config, clusters)
    # Refuse another configuration naming OUT, before the stages inside OUT would.
    recorded = OutputFolder(out).recorded_config()
    wanted = {"stage": stage.name, "config": json.loads(json.dumps(stage.fingerprint()))}
    if recorded is not None and recorded != wanted and not overwrite:
        raise ConfigMismatchError(str(out), differing_keys(recorded, wanted))
    processes = min(config.workers or 1, len(paths))
    threads = None if config.workers is None else max(1, config.workers // processes)
    executor = executor or LocalExecutor(processes)
    before = (
        (DedupSignatureStage(config, threads), signatures),
        (DedupClusterStage(config, signatures), clusters),
    )
    for earlier, folder in before:
        report = run_stage(
            earlier, paths, folder, executor=executor, overwrite=overwrite, progress=progress
        )
        if report.failures:
            raise StageFailedError(report.stage, report.failures)
    return run_stage(stage, paths, out, executor=executor, overwrite=overwrite, progress=progress)


def check_deduped(report: StageReport) -> None:
    """Failed shards, or no document at all, as the errors the command line reports."""
    if report.failures:
        raise StageFailedError(report.stage, report.failures)
    if not report.stats.get("docs_in"):
        raise NothingProducedError(
            f"no documents in {report.tasks_total} input file(s): nothing to deduplicate"
        )


def dedup_files(
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: DedupConfig | None = None,
    *,
    workers: int | None = None,
    progress: bool | str | None = True,
    overwrite: bool = False,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Deduplicate every input shard into `out_dir`; returns the statistics (also in
    `OUT/.alignkit/stats.json`) with each input's output path.

    Clusters span all inputs: a document is removed if it duplicates one in any shard. `workers`
    overrides the config's (see `DedupConfig.workers`); `executor` runs the tasks (default: local).
    """
    cfg = config or DedupConfig()
    if workers is not None:
        cfg = cfg.replace(workers=workers)
    report = run_dedup(
        cfg, inputs, out_dir, overwrite=overwrite, progress=progress, executor=executor
    )
    tasks = _plan([str(p) for p in expand_shards(inputs)])
    result = {
        **report.stats,
        "shards_total": report.tasks_total,
        "failed_shards": dict(report.failures),
        "config": cfg.fingerprint(),
        "seconds": round(report.seconds, 3),
        "outputs": {
            Path(t.payload).name: str(Path(out_dir) / (t.id + _suffix(t)))
            for t in tasks
            if t.id not in report.failures
        },
        "report": report.to_dict(),
    }
    if cfg.write_clusters:
        result["clusters_file"] = str(Path(out_dir) / META_DIR / CLUSTERS_DIR / CLUSTERS_FILE)
    return result
