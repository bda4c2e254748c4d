"""`alignkit webr prepare`: Common Crawl WARC/WET shards to text documents.

The shard is the unit of work. Each input shard yields exactly one output file plus a completion
marker; outputs are written under a temporary name and renamed when complete, so an interrupted
run loses at most the shards in flight and a re-run skips finished ones. The output directory
remembers the configuration it was made with and refuses to mix results of another one.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import glob
import gzip
import json
import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit import _core
from alignkit.data.io import atomic_write_json

log = logging.getLogger(__name__)

OUTPUT_FORMATS = ("jsonl", "parquet")
EXTRACT_MODES = ("plain", "main")
# Bumped whenever the document schema or the meaning of an option changes.
SCHEMA_VERSION = 2
CONFIG_FILE = "_config.json"
MARKER_DIR = "_done"
TMP_DIR = "_tmp"
STATS_FILE = "stats.json"


class PrepareConfigError(ValueError):
    """The output directory was made with another configuration, or an option is invalid."""


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """Settings that change what `prepare` writes (all recorded in the output directory).

    `quality_settings` overrides the quality filters' defaults (see `default_quality_settings()`
    and docs/quality-filters.md); `quality=False` turns the filters and line cleanup off.
    """

    output_format: str = "jsonl"
    mode: str = "plain"
    min_text_chars: int = 1
    max_block_bytes: int = 16 * 1024 * 1024
    only_2xx: bool = True
    languages: tuple[str, ...] = ()
    min_lang_confidence: float = 0.0
    quality: bool = True
    quality_settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.output_format not in OUTPUT_FORMATS:
            raise PrepareConfigError(
                f"format must be one of {OUTPUT_FORMATS}, not {self.output_format!r}"
            )
        if self.mode not in EXTRACT_MODES:
            raise PrepareConfigError(f"mode must be one of {EXTRACT_MODES}, not {self.mode!r}")
        if self.min_text_chars < 0:
            raise PrepareConfigError("min_text_chars must be >= 0")
        if self.max_block_bytes < 1024:
            raise PrepareConfigError("max_block_bytes must be at least 1024")
        if not 0.0 <= self.min_lang_confidence <= 1.0:
            raise PrepareConfigError("min_lang_confidence must be within 0..1")
        object.__setattr__(self, "languages", tuple(self.languages))
        unknown = sorted(set(self.quality_settings) - set(default_quality_settings()))
        if unknown:
            raise PrepareConfigError(f"unknown quality setting(s): {', '.join(unknown)}")

    def resolved_quality(self) -> dict[str, Any] | None:
        """The quality settings in force (defaults merged with overrides), or None when off."""
        if not self.quality:
            return None
        return {**default_quality_settings(), **self.quality_settings}

    @property
    def quality_config(self) -> dict[str, Any] | None:
        """The resolved quality settings, handed to the Rust core as a dict (read there as an
        attribute of this object)."""
        return self.resolved_quality()

    def fingerprint(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        fields["languages"] = list(self.languages)
        fields["quality_settings"] = self.resolved_quality()
        return {"schema_version": SCHEMA_VERSION, **fields}

    @property
    def output_suffix(self) -> str:
        return ".jsonl.gz" if self.output_format == "jsonl" else ".parquet"


def default_quality_settings() -> dict[str, Any]:
    """The quality filters' default settings, by name (the Rust core is the source of truth)."""
    return dict(_core.default_quality_config())


def expand_shards(patterns: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Local paths and globs to a sorted, de-duplicated list of files; clear errors otherwise."""
    shards: list[Path] = []
    for pattern in patterns:
        text = os.fspath(pattern)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            files = [Path(m) for m in matches if os.path.isfile(m)]
            if not files:
                raise FileNotFoundError(f"no files match {text!r}")
            shards.extend(files)
        else:
            path = Path(text)
            if not path.exists():
                raise FileNotFoundError(f"input shard not found: {text}")
            if path.is_dir():
                raise IsADirectoryError(f"input is a directory, expected a shard file: {text}")
            shards.append(path)
    unique: dict[Path, None] = {}
    for shard in shards:
        unique.setdefault(shard.resolve(), None)
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


@dataclasses.dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs to prepare one shard; picklable, self-contained."""

    input: str
    output: str
    tmp_output: str
    marker: str
    source_shard: str
    config: PrepareConfig
    dropped_output: str | None = None
    tmp_dropped: str | None = None


# Set in pool workers by `_init_worker`: a shared counter of input bytes consumed.
_progress_bytes: Any = None


def _init_worker(counter: Any) -> None:
    global _progress_bytes
    _progress_bytes = counter


def _make_reporter(on_bytes: Callable[[int], None] | None) -> Callable[[int, int], None]:
    last = 0

    def report(_records: int, bytes_in: int) -> None:
        nonlocal last
        delta, last = bytes_in - last, bytes_in
        if delta <= 0:
            return
        if on_bytes is not None:
            on_bytes(delta)
        elif _progress_bytes is not None:
            with _progress_bytes.get_lock():
                _progress_bytes.value += delta

    return report


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


def _write_parquet(task: ShardTask, report: Callable[[int, int], None]) -> dict[str, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        hint = "pip install 'alignkit[parquet]'"
        raise RuntimeError(f"--format parquet needs pyarrow: {hint}") from exc
    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in _DOC_FIELDS])
    docs = _core.ShardDocuments(
        task.input,
        task.config,
        source_shard=task.source_shard,
        include_dropped=task.tmp_dropped is not None,
    )
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(pq.ParquetWriter(task.tmp_output, schema, compression="zstd"))
        dropped_out = (
            stack.enter_context(gzip.open(task.tmp_dropped, "wt", encoding="utf-8"))
            if task.tmp_dropped
            else None
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


def run_shard(task: ShardTask, on_bytes: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Prepare one shard: write to temporary names, fsync, rename, then write the marker."""
    report = _make_reporter(on_bytes)
    Path(task.tmp_output).parent.mkdir(parents=True, exist_ok=True)
    temporaries = [task.tmp_output] + ([task.tmp_dropped] if task.tmp_dropped else [])
    try:
        if task.config.output_format == "jsonl":
            stats = _core.prepare_shard(
                task.input,
                task.tmp_output,
                task.config,
                source_shard=task.source_shard,
                dropped_path=task.tmp_dropped,
                progress=report,
            )
        else:
            stats = _write_parquet(task, report)
        if task.tmp_dropped and task.dropped_output:
            Path(task.dropped_output).parent.mkdir(parents=True, exist_ok=True)
            os.replace(task.tmp_dropped, task.dropped_output)
        os.replace(task.tmp_output, task.output)
    except BaseException:
        for tmp in temporaries:
            Path(tmp).unlink(missing_ok=True)
        raise
    input_stat = os.stat(task.input)
    marker = {
        "input": task.input,
        "input_size": input_stat.st_size,
        "input_mtime_ns": input_stat.st_mtime_ns,
        "output": task.output,
        "dropped_output": task.dropped_output,
        "stats": stats,
    }
    atomic_write_json(Path(task.marker), marker)
    return stats


def ensure_output_dir(out: Path, *subdirs: Path) -> None:
    """Create `out` and `subdirs`, and prove `out` is writable before any work starts."""
    try:
        for sub in (out, out / MARKER_DIR, out / TMP_DIR, *subdirs):
            sub.mkdir(parents=True, exist_ok=True)
        probe = out / TMP_DIR / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise PermissionError(f"output directory {out} is not writable: {exc}") from exc


def check_recorded_config(
    out_dir: Path,
    wanted: dict[str, Any],
    overwrite: bool,
    error: type[ValueError] = PrepareConfigError,
) -> bool:
    """Record `wanted` as the configuration of `out_dir`.

    Raises `error` when another configuration is recorded there and `overwrite` is not given;
    returns True when one was replaced (the caller then discards the old results).
    """
    config_path = out_dir / CONFIG_FILE
    replaced = False
    if config_path.exists():
        try:
            existing = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            if not overwrite:
                raise error(f"cannot read {config_path}: {exc}") from exc
            existing = None
        if existing != wanted:
            if not overwrite:
                changed = sorted(
                    k for k in wanted.keys() | existing.keys() if wanted.get(k) != existing.get(k)
                )
                raise error(
                    f"{out_dir} holds results of another configuration (differs in: "
                    f"{', '.join(changed)}); use a new --out directory or pass --overwrite"
                )
            replaced = True
    atomic_write_json(config_path, wanted)
    return replaced


def _clear_outputs(out_dir: Path) -> None:
    for marker in (out_dir / MARKER_DIR).glob("*.json"):
        try:
            output = json.loads(marker.read_text(encoding="utf-8")).get("output")
        except (OSError, ValueError):
            output = None
        if output:
            Path(output).unlink(missing_ok=True)
        marker.unlink(missing_ok=True)


def _marker_is_valid(marker: Path, shard: Path) -> dict[str, Any] | None:
    """Stats recorded by a shard's completion marker, or None if the shard must be (re)done:
    no marker, an input that changed since, or an output that is gone."""
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
        stat = shard.stat()
    except (OSError, ValueError):
        return None
    if info.get("input_size") != stat.st_size or info.get("input_mtime_ns") != stat.st_mtime_ns:
        log.warning("input %s changed since it was processed; processing it again", shard)
        return None
    for key in ("output", "dropped_output"):
        if info.get(key) and not Path(info[key]).is_file():
            return None
    stats = info.get("stats")
    return stats if isinstance(stats, dict) else None


def _finished_stats(task: ShardTask) -> dict[str, Any] | None:
    stats = _marker_is_valid(Path(task.marker), Path(task.input))
    if stats is not None and task.dropped_output and not Path(task.dropped_output).is_file():
        return None  # --keep-dropped asked for now, but not written back then
    return stats


def plan_tasks(
    shards: Sequence[Path],
    out_dir: Path,
    config: PrepareConfig,
    keep_dropped: Path | None = None,
) -> list[ShardTask]:
    stems: dict[str, Path] = {}
    tasks = []
    for shard in shards:
        stem = shard_stem(shard)
        if stem in stems:
            raise PrepareConfigError(
                f"two inputs would write the same output {stem}{config.output_suffix}: "
                f"{stems[stem]} and {shard}"
            )
        stems[stem] = shard
        tasks.append(
            ShardTask(
                input=str(shard),
                output=str(out_dir / f"{stem}{config.output_suffix}"),
                tmp_output=str(out_dir / TMP_DIR / f"{stem}{config.output_suffix}.partial"),
                marker=str(out_dir / MARKER_DIR / f"{stem}.json"),
                source_shard=shard.name,
                config=config,
                dropped_output=str(keep_dropped / f"{stem}.dropped.jsonl.gz")
                if keep_dropped
                else None,
                tmp_dropped=str(out_dir / TMP_DIR / f"{stem}.dropped.jsonl.gz.partial")
                if keep_dropped
                else None,
            )
        )
    return tasks


def _merge_stats(per_shard: Sequence[dict[str, Any]]) -> dict[str, Any]:
    skipped: dict[str, int] = {}
    dropped: dict[str, int] = {}
    languages: dict[str, int] = {}
    faults: dict[str, int] = {}
    totals = dict.fromkeys(
        ("records_seen", "documents_kept", "text_bytes", "bytes_in", "records_read"), 0
    )
    for stats in per_shard:
        totals["records_seen"] += stats.get("records_seen", 0)
        totals["documents_kept"] += stats.get("documents_kept", 0)
        totals["text_bytes"] += stats.get("text_bytes", 0)
        reader = stats.get("reader", {})
        totals["bytes_in"] += reader.get("bytes_in", 0)
        totals["records_read"] += reader.get("records_read", 0)
        for reason, count in stats.get("skipped", {}).items():
            skipped[reason] = skipped.get(reason, 0) + count
        for reason, count in stats.get("dropped", {}).items():
            dropped[reason] = dropped.get(reason, 0) + count
        for lang, count in stats.get("languages", {}).items():
            languages[lang] = languages.get(lang, 0) + count
        for kind, count in reader.get("faults", {}).items():
            faults[kind] = faults.get(kind, 0) + count
    return {
        **totals,
        "skipped": skipped,
        "dropped": dropped,
        "languages": languages,
        "faults": faults,
    }


class _Progress:
    """A tqdm bar over input bytes with docs/s; silent when disabled or tqdm is missing."""

    def __init__(self, total_bytes: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(
                    total=total_bytes,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc="prepare",
                    dynamic_ncols=True,
                    smoothing=0.1,
                )
        self.started = time.perf_counter()
        self.docs = 0

    def advance(self, nbytes: int) -> None:
        if self.bar is not None and nbytes > 0:
            self.bar.update(nbytes)

    def add_docs(self, docs: int) -> None:
        self.docs += docs
        if self.bar is not None:
            rate = self.docs / max(time.perf_counter() - self.started, 1e-9)
            self.bar.set_postfix(docs=self.docs, docs_per_s=f"{rate:,.0f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def prepare(
    shards: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: PrepareConfig | None = None,
    *,
    workers: int = 1,
    progress: bool = True,
    overwrite: bool = False,
    keep_dropped: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Prepare every shard into `out_dir`; returns the stats also written to `stats.json`.

    With `keep_dropped`, documents removed by the language and quality filters are written to
    that directory (`<shard>.dropped.jsonl.gz`) with `drop_reason` and `drop_detail`.

    Shards that fail (unreadable, not WARC) are logged and counted in `failed_shards`; the others
    are still completed, and a re-run retries only what is missing.
    """
    config = config or PrepareConfig()
    if workers < 1:
        raise PrepareConfigError("workers must be at least 1")
    paths = expand_shards(shards)
    if not paths:
        raise FileNotFoundError("no input shards given")
    out = Path(out_dir)
    ensure_output_dir(out)
    if check_recorded_config(out, config.fingerprint(), overwrite):
        _clear_outputs(out)

    dropped_dir = Path(keep_dropped) if keep_dropped is not None else None
    tasks = plan_tasks(paths, out, config, dropped_dir)
    finished: dict[str, dict[str, Any]] = {}
    todo: list[ShardTask] = []
    for task in tasks:
        stats = None if overwrite else _finished_stats(task)
        if stats is not None:
            finished[task.input] = stats
        else:
            todo.append(task)
    if finished:
        log.info("skipping %d shard(s) already prepared in %s", len(finished), out)

    failed: dict[str, str] = {}
    bar = _Progress(sum(os.path.getsize(t.input) for t in todo), progress and bool(todo))
    started = time.perf_counter()
    try:
        if workers == 1 or len(todo) <= 1:
            for task in todo:
                try:
                    stats = run_shard(task, on_bytes=bar.advance)
                except (OSError, ValueError, RuntimeError) as exc:
                    log.error("shard %s failed: %s", task.input, exc)
                    failed[task.input] = f"{type(exc).__name__}: {exc}"
                    continue
                finished[task.input] = stats
                bar.add_docs(stats["documents_kept"])
        else:
            _run_pool(todo, workers, bar, finished, failed)
    finally:
        bar.close()
    elapsed = time.perf_counter() - started

    merged = _merge_stats([finished[t.input] for t in tasks if t.input in finished])
    done_now = [finished[t.input] for t in todo if t.input in finished]
    docs_now = sum(s["documents_kept"] for s in done_now)
    bytes_now = sum(s.get("reader", {}).get("bytes_in", 0) for s in done_now)
    result = {
        **merged,
        "shards_total": len(tasks),
        "shards_done": len(finished),
        "shards_skipped_existing": len(tasks) - len(todo),
        "failed_shards": failed,
        "config": config.fingerprint(),
        "workers": workers,
        "seconds": round(elapsed, 3),
        "docs_per_s": round(docs_now / elapsed, 1) if elapsed > 0 and docs_now else 0.0,
        "input_mb_per_s": round(bytes_now / elapsed / 1e6, 2) if elapsed > 0 and bytes_now else 0.0,
        "per_shard": {Path(k).name: v for k, v in sorted(finished.items())},
    }
    atomic_write_json(out / STATS_FILE, result)
    return result


def _run_pool(
    todo: Sequence[ShardTask],
    workers: int,
    bar: _Progress,
    finished: dict[str, dict[str, Any]],
    failed: dict[str, str],
) -> None:
    # spawn, not fork: workers start clean (no inherited threads, locks or rayon pools).
    ctx = mp.get_context("spawn")
    counter = ctx.Value("Q", 0)
    reported = 0
    with cf.ProcessPoolExecutor(
        max_workers=min(workers, len(todo)),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(counter,),
    ) as pool:
        pending = {pool.submit(run_shard, task): task for task in todo}
        while pending:
            done, _ = cf.wait(pending, timeout=0.5, return_when=cf.FIRST_COMPLETED)
            now = counter.value
            bar.advance(now - reported)
            reported = now
            for future in done:
                task = pending.pop(future)
                try:
                    stats = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker's failure is recorded, not fatal
                    log.error("shard %s failed: %s", task.input, exc)
                    failed[task.input] = f"{type(exc).__name__}: {exc}"
                    continue
                finished[task.input] = stats
                bar.add_docs(stats["documents_kept"])
