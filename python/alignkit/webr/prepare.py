"""`alignkit webr prepare`: Common Crawl WARC/WET shards to text documents, on the stage kit.

One task per input shard (task id = the shard's stem): the Rust core reads the shard and writes
its documents to the task's temporary output, which the kit verifies, publishes as
`OUT/<stem>.jsonl.gz` (or `.parquet`) and records in a completion marker. A re-run skips finished
shards; a changed configuration is refused naming the keys (see `alignkit.stage`). Bookkeeping
(config, markers, `stats.json`) lives in `OUT/.alignkit/`, so `OUT` loads as a dataset.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit import _core
from alignkit.data.io import open_gzip_text_writer
from alignkit.errors import (
    ConfigError,
    InputError,
    InputNotFoundError,
    NothingProducedError,
    StageFailedError,
)
from alignkit.stage import (
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
from alignkit.text.quality import default_quality_settings

log = logging.getLogger(__name__)

OUTPUT_FORMATS = ("jsonl", "parquet")
EXTRACT_MODES = ("plain", "main")
MIB = 1024 * 1024


class PrepareConfigError(ConfigError):
    """An invalid prepare option."""


@dataclasses.dataclass(frozen=True)
class PrepareConfig(StageConfig):
    """Settings of `webr prepare`: its flags, config-file keys and recorded fingerprint.

    `quality_settings` overrides the quality filters' defaults (see `default_quality_settings()`
    and docs/quality-filters.md; one flag per setting on the command line); `quality=False`
    turns the filters and line cleanup off.
    """

    schema_version = 2  # bumped whenever the document schema or an option's meaning changes

    output_format: str = option(
        "jsonl",
        flag="--format",
        choices=OUTPUT_FORMATS,
        help="jsonl = gzip-compressed JSON lines; parquet needs pyarrow",
    )
    mode: str = option(
        "plain",
        choices=EXTRACT_MODES,
        help="text extraction mode ('main' = main content only, boilerplate removed)",
    )
    min_text_chars: int = option(1, help="drop documents with less extracted text than this")
    max_block_mb: float = option(16.0, help="skip records larger than this (counted as oversize)")
    include_non_2xx: bool = option(False, help="also keep pages whose HTTP status is not 2xx")
    languages: tuple[str, ...] = option(
        (),
        flag="--langs",
        metavar="LANGS",
        help="keep only these languages (ISO 639-1, comma-separated; none = all)",
    )
    min_lang_confidence: float = option(
        0.0, help="drop documents whose language guess is less confident (0..1)"
    )
    quality: bool = option(
        True, flag="--quality-filter", help="the quality filters and line cleanup"
    )
    quality_settings: Mapping[str, Any] = option(
        default_factory=dict,
        cli=False,
        help="overrides of the quality filters' settings (one flag per setting)",
    )
    keep_dropped: str | None = option(
        None,
        metavar="DIR",
        help="also write dropped documents with their reasons to DIR/<shard>.dropped.jsonl.gz "
        "(outside --out)",
    )
    workers: int = option(1, help="shards processed in parallel (processes)", fingerprint=False)

    def validate(self) -> None:
        if self.min_text_chars < 0:
            raise PrepareConfigError("min_text_chars must be >= 0")
        if self.max_block_bytes < 1024:
            raise PrepareConfigError("max_block_mb must be at least 1 KiB (0.001)")
        if not 0.0 <= self.min_lang_confidence <= 1.0:
            raise PrepareConfigError("min_lang_confidence must be within 0..1")
        if self.workers < 1:
            raise PrepareConfigError("workers must be at least 1")
        unknown = sorted(set(self.quality_settings) - set(default_quality_settings()))
        if unknown:
            raise PrepareConfigError(f"unknown quality setting(s): {', '.join(unknown)}")

    # The Rust core reads these attributes (see rust/alignkit-py/src/prepare.rs).
    @property
    def max_block_bytes(self) -> int:
        return int(self.max_block_mb * MIB)

    @property
    def only_2xx(self) -> bool:
        return not self.include_non_2xx

    @property
    def quality_config(self) -> dict[str, Any] | None:
        return self.resolved_quality()

    def resolved_quality(self) -> dict[str, Any] | None:
        """The quality settings in force (defaults merged with overrides), or None when off."""
        if not self.quality:
            return None
        return {**default_quality_settings(), **self.quality_settings}

    def fingerprint(self) -> dict[str, Any]:
        """Records the resolved quality settings, so a changed default is noticed too."""
        return {**super().fingerprint(), "quality_settings": self.resolved_quality()}

    @property
    def output_suffix(self) -> str:
        return ".jsonl.gz" if self.output_format == "jsonl" else ".parquet"


def expand_shards(patterns: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Local paths and globs to a de-duplicated list of resolved files; clear errors otherwise."""
    shards: list[Path] = []
    for pattern in patterns:
        text = os.fspath(pattern)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            files = [Path(m) for m in matches if os.path.isfile(m)]
            if not files:
                raise InputNotFoundError(f"no files match {text!r}")
            shards.extend(files)
        else:
            path = Path(text)
            if not path.exists():
                raise InputNotFoundError(f"input shard not found: {text}")
            if path.is_dir():
                raise InputError(f"input is a directory, expected a shard file: {text}")
            shards.append(path)
    unique: dict[Path, None] = {}
    for shard in shards:
        # A pipe (`/dev/stdin`) resolves to a name like `/proc/N/fd/pipe:[M]` that cannot be
        # opened: it is kept as given (and named by it, e.g. `stdin`).
        unique.setdefault(shard.resolve() if shard.is_file() else shard, None)
    return list(unique)


def shard_stem(path: Path) -> str:
    """`X.warc.gz` -> `X`; `X.warc.wet.gz` -> `X.wet` (WET/WAT keep their kind)."""
    name = path.name

    def strip(suffix: str) -> bool:
        nonlocal name
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            return True
        return False

    strip(".gz")
    kind = next((k for k in (".wet", ".wat") if strip(k)), "")
    strip(".warc")
    return name + kind


def plan_shard_tasks(
    paths: Sequence[str], stem_of: Callable[[Path], str], suffix_of: Callable[[Path], str]
) -> list[Task]:
    """One task per input file, sorted by path, id = its stem; two inputs with one stem (they
    would write the same output) are refused naming both. Weight = input bytes."""
    seen: dict[str, Path] = {}
    tasks = []
    for text in sorted(paths):
        path = Path(text)
        stem = stem_of(path)
        if stem in seen:
            raise ConfigError(
                f"two inputs would write the same output {stem}{suffix_of(path)}: "
                f"{seen[stem]} and {path}"
            )
        seen[stem] = path
        tasks.append(Task(id=stem, inputs=(text,), payload=text, weight=path.stat().st_size))
    return tasks


_DOC_FIELDS = (
    ("id", "string"),
    ("url", "string"),
    ("date", "string"),
    ("title", "string"),
    ("text", "string"),
    ("lang_hint", "string"),
    ("lang", "string"),
    ("lang_score", "float64"),
    ("source_shard", "string"),
    ("record_offset", "uint64"),
)


def _write_parquet(
    src: Path,
    tmp: Path,
    config: PrepareConfig,
    dropped_tmp: Path | None,
    report: Callable[[int, int], None],
) -> dict[str, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        hint = "pip install 'alignkit[parquet]'"
        raise RuntimeError(f"--format parquet needs pyarrow: {hint}") from exc
    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in _DOC_FIELDS])
    docs = _core.ShardDocuments(
        str(src), config, source_shard=src.name, include_dropped=dropped_tmp is not None
    )
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(pq.ParquetWriter(tmp, schema, compression="zstd"))
        dropped_out = (
            stack.enter_context(open_gzip_text_writer(dropped_tmp)) if dropped_tmp else None
        )
        while (batch := docs.next_batch(2048)) is not None:
            reasons = batch.pop("drop_reason", None)
            details = batch.pop("drop_detail", None)
            if reasons is None or details is None:
                kept = batch
            else:
                rows = range(len(reasons))
                kept = {k: [v[i] for i in rows if reasons[i] is None] for k, v in batch.items()}
                for i in rows:
                    if reasons[i] is not None and dropped_out is not None:
                        row = {k: v[i] for k, v in batch.items()}
                        row.update(drop_reason=reasons[i], drop_detail=details[i])
                        dropped_out.write(json.dumps(row, ensure_ascii=False) + "\n")
            writer.write_batch(pa.RecordBatch.from_pydict(kept, schema=schema))
            report(0, docs.bytes_in())
    stats: dict[str, Any] = docs.stats()
    report(stats["records_seen"], stats["reader"]["bytes_in"])
    return stats


def shard_stats(core: Mapping[str, Any]) -> dict[str, Any]:
    """The Rust core's statistics of one shard as mergeable counts (reasons as counted keys)."""
    reader = core.get("reader", {})
    return {
        "records_read": int(reader.get("records_read", 0)),
        "records_seen": int(core.get("records_seen", 0)),
        "documents_kept": int(core.get("documents_kept", 0)),
        "text_bytes": int(core.get("text_bytes", 0)),
        "bytes_in": int(reader.get("bytes_in", 0)),
        "bytes_decompressed": int(reader.get("bytes_decompressed", 0)),
        "skipped": dict(core.get("skipped", {})),
        "dropped": dict(core.get("dropped", {})),
        "languages": dict(core.get("languages", {})),
        "faults": dict(reader.get("faults", {})),
        "seconds": round(float(core.get("seconds", 0.0)), 6),
    }


class PrepareStage(Stage[PrepareConfig]):
    """WARC/WET shards -> one document file per shard (see the module docstring)."""

    name = "webr.prepare"
    config_class = PrepareConfig
    progress_unit = "B"

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        return plan_shard_tasks(inputs, shard_stem, lambda _p: self.config.output_suffix)

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        cfg = self.config
        src = Path(task.payload)
        name = task.id + cfg.output_suffix
        tmp = ctx.tmp_output(name)
        external: dict[str, Path] = {}
        dropped_tmp = None
        if cfg.keep_dropped:
            # Outside the dataset (other columns): an external output of the task.
            dropped_final = Path(cfg.keep_dropped).resolve() / f"{task.id}.dropped.jsonl.gz"
            dropped_tmp = external[str(dropped_final)] = ctx.tmp_external(dropped_final)
        reported = 0

        def report(_records: int, bytes_in: int) -> None:
            nonlocal reported
            if bytes_in > reported:
                ctx.progress(bytes_in - reported)
                reported = bytes_in

        if cfg.output_format == "jsonl":
            core = _core.prepare_shard(
                str(src),
                str(tmp),
                cfg,
                source_shard=src.name,
                dropped_path=None if dropped_tmp is None else str(dropped_tmp),
                progress=report,
            )
        else:
            core = _write_parquet(src, tmp, cfg, dropped_tmp, report)
        stats = shard_stats(core)
        if stats["records_read"] == 0:
            raise InputError(
                f"{src}: no WARC records read (empty, or not a WARC/WET file; "
                f"{sum(stats['faults'].values())} fault(s) counted)"
            )
        ctx.progress(task.weight - reported)
        return TaskResult(stats=stats, outputs={name: tmp}, external=external)

    def finalize(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        totals, per_shard = shard_totals(tasks, results)
        return {**totals.plain(), "per_shard": per_shard}


def shard_totals(
    tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
) -> tuple[Counts, dict[str, dict[str, Any]]]:
    """The finished tasks' statistics summed, and each by its input file's name."""
    done = [t for t in tasks if t.id in results]
    per_shard = {Path(t.payload).name: dict(results[t.id]) for t in done}
    return Counts.total(results[t.id] for t in done), per_shard


def run_prepare(
    config: PrepareConfig,
    shards: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: bool | str | None = "auto",
    executor: Executor | None = None,
) -> StageReport:
    """Prepare every shard into `out_dir` with the stage kit (on `executor`, by default a local
    one of `config.workers` processes); failed shards are listed in the report (a re-run retries
    only them)."""
    paths = expand_shards(shards)
    if not paths:
        raise InputNotFoundError("no input shards given")
    if config.keep_dropped:
        dropped = Path(config.keep_dropped).resolve()
        if dropped == Path(out_dir).resolve() or Path(out_dir).resolve() in dropped.parents:
            raise PrepareConfigError(
                f"--keep-dropped {config.keep_dropped} is inside --out {out_dir}: dropped "
                "documents would be read as part of the dataset; pick a folder outside it"
            )
        try:
            dropped.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PrepareConfigError(f"cannot create --keep-dropped {dropped}: {exc}") from exc
        config = config.replace(keep_dropped=str(dropped))
    return run_stage(
        PrepareStage(config),
        [str(p) for p in paths],
        out_dir,
        executor=executor or LocalExecutor(config.workers),
        overwrite=overwrite,
        progress=progress,
    )


def check_prepared(report: StageReport) -> None:
    """Failed shards, or a run that kept no document, as the errors the command line reports."""
    if report.failures:
        raise StageFailedError(report.stage, report.failures)
    stats = report.stats
    if not stats.get("documents_kept"):
        why = ", ".join(
            f"{group} {reason}={n}"
            for group in ("skipped", "dropped")
            for reason, n in sorted(stats.get(group, {}).items())
        )
        raise NothingProducedError(
            f"no documents kept from {report.tasks_total} shard(s) and "
            f"{stats.get('records_seen', 0)} record(s)" + (f" ({why})" if why else "")
        )


def docs_per_second(stats: Mapping[str, Any]) -> float:
    """Documents per second of shard processing (per worker; also right for a resumed run)."""
    seconds = sum(s.get("seconds", 0.0) for s in stats.get("per_shard", {}).values())
    return round(stats.get("documents_kept", 0) / seconds, 1) if seconds > 0 else 0.0


def prepare(
    shards: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: PrepareConfig | None = None,
    *,
    workers: int | None = None,
    progress: bool | str | None = True,
    overwrite: bool = False,
    keep_dropped: str | os.PathLike[str] | None = None,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Prepare every shard into `out_dir`; returns the statistics (also in
    `OUT/.alignkit/stats.json`) with the shard counts of this run.

    `workers` and `keep_dropped` override the config's; `executor` runs the shards (default: a
    local one of `workers` processes). Shards that fail (unreadable, not WARC,
    no record) are logged and listed in `failed_shards` (input path -> error); the others are
    still completed, and a re-run retries only what is missing.
    """
    config = config or PrepareConfig()
    if workers is not None:
        config = config.replace(workers=workers)
    if keep_dropped is not None:
        config = config.replace(keep_dropped=os.fspath(keep_dropped))
    report = run_prepare(
        config, shards, out_dir, overwrite=overwrite, progress=progress, executor=executor
    )
    paths = [str(p) for p in expand_shards(shards)]
    inputs = {t.id: t.payload for t in PrepareStage(config).plan(paths)}
    return {
        **report.stats,
        "shards_total": report.tasks_total,
        "shards_done": report.tasks_total - len(report.failures),
        "shards_skipped_existing": report.tasks_done_before,
        "failed_shards": {inputs[k]: v for k, v in sorted(report.failures.items())},
        "config": config.fingerprint(),
        "workers": config.workers,
        "seconds": round(report.seconds, 3),
        "docs_per_s": docs_per_second(report.stats),
        "outputs": {
            Path(p).name: str(Path(out_dir) / (k + config.output_suffix))
            for k, p in inputs.items()
            if k not in report.failures
        },
        "report": report.to_dict(),
    }
