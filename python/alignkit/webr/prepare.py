"""`alignkit webr prepare`: Common Crawl WARC/WET shards to text documents.

The shard is the unit of work. Each input shard yields exactly one output file plus a completion
marker; outputs are written under a temporary name and renamed when complete, so an interrupted
run loses at most the shards in flight and a re-run skips finished ones. The output directory
remembers the configuration it was made with and refuses to mix results of another one.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import glob
import json
import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from alignkit import _core

log = logging.getLogger(__name__)

OUTPUT_FORMATS = ("jsonl", "parquet")
EXTRACT_MODES = ("plain", "main")
# Bumped whenever the document schema or the meaning of an option changes.
SCHEMA_VERSION = 1
CONFIG_FILE = "_config.json"
MARKER_DIR = "_done"
TMP_DIR = "_tmp"
STATS_FILE = "stats.json"


class PrepareConfigError(ValueError):
    """The output directory was made with another configuration, or an option is invalid."""


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """Settings that change what `prepare` writes (all recorded in the output directory)."""

    output_format: str = "jsonl"
    mode: str = "plain"
    min_text_chars: int = 1
    max_block_bytes: int = 16 * 1024 * 1024
    only_2xx: bool = True

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

    def fingerprint(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

    @property
    def output_suffix(self) -> str:
        return ".jsonl.gz" if self.output_format == "jsonl" else ".parquet"


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


def _atomic_write_json(path: Path, payload: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclasses.dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs to prepare one shard; picklable, self-contained."""

    input: str
    output: str
    tmp_output: str
    marker: str
    source_shard: str
    config: PrepareConfig


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


def _write_parquet(task: ShardTask, report: Callable[[int, int], None]) -> dict[str, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "--format parquet needs pyarrow: pip install 'alignkit[parquet]'"
        ) from exc
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("url", pa.string()),
            ("date", pa.string()),
            ("title", pa.string()),
            ("text", pa.string()),
            ("lang_hint", pa.string()),
            ("source_shard", pa.string()),
            ("record_offset", pa.uint64()),
        ]
    )
    cfg = task.config
    docs = _core.ShardDocuments(
        task.input,
        source_shard=task.source_shard,
        mode=cfg.mode,
        min_text_chars=cfg.min_text_chars,
        max_block_bytes=cfg.max_block_bytes,
        only_2xx=cfg.only_2xx,
    )
    with pq.ParquetWriter(task.tmp_output, schema, compression="zstd") as writer:
        while (batch := docs.next_batch(2048)) is not None:
            writer.write_batch(pa.RecordBatch.from_pydict(batch, schema=schema))
            progress = docs.stats()
            report(progress["records_seen"], progress["reader"]["bytes_in"])
    stats: dict[str, Any] = docs.stats()
    report(stats["records_seen"], stats["reader"]["bytes_in"])
    return stats


def run_shard(task: ShardTask, on_bytes: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Prepare one shard: write to the temporary name, fsync, rename, then write the marker."""
    report = _make_reporter(on_bytes)
    cfg = task.config
    Path(task.tmp_output).parent.mkdir(parents=True, exist_ok=True)
    try:
        if cfg.output_format == "jsonl":
            stats = _core.prepare_shard(
                task.input,
                task.tmp_output,
                source_shard=task.source_shard,
                mode=cfg.mode,
                min_text_chars=cfg.min_text_chars,
                max_block_bytes=cfg.max_block_bytes,
                only_2xx=cfg.only_2xx,
                progress=report,
            )
        else:
            stats = _write_parquet(task, report)
        os.replace(task.tmp_output, task.output)
    except BaseException:
        Path(task.tmp_output).unlink(missing_ok=True)
        raise
    input_stat = os.stat(task.input)
    marker = {
        "input": task.input,
        "input_size": input_stat.st_size,
        "input_mtime_ns": input_stat.st_mtime_ns,
        "output": task.output,
        "stats": stats,
    }
    _atomic_write_json(Path(task.marker), marker)
    return stats


def _check_config(out_dir: Path, config: PrepareConfig, overwrite: bool) -> None:
    config_path = out_dir / CONFIG_FILE
    wanted = config.fingerprint()
    if config_path.exists():
        try:
            existing = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PrepareConfigError(f"cannot read {config_path}: {exc}") from exc
        if existing != wanted:
            if not overwrite:
                changed = sorted(
                    k for k in wanted.keys() | existing.keys() if wanted.get(k) != existing.get(k)
                )
                raise PrepareConfigError(
                    f"{out_dir} holds results of another configuration (differs in: "
                    f"{', '.join(changed)}); use a new --out directory or pass --overwrite"
                )
            _clear_outputs(out_dir)
    _atomic_write_json(config_path, wanted)


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
    """Stats of a finished shard, or None if it must be (re)done."""
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
        stat = shard.stat()
    except (OSError, ValueError):
        return None
    if info.get("input_size") != stat.st_size or info.get("input_mtime_ns") != stat.st_mtime_ns:
        log.warning("input %s changed since it was prepared; preparing it again", shard)
        return None
    if not Path(info.get("output", "")).is_file():
        return None
    stats = info.get("stats")
    return stats if isinstance(stats, dict) else None


def plan_tasks(shards: Sequence[Path], out_dir: Path, config: PrepareConfig) -> list[ShardTask]:
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
            )
        )
    return tasks


def _merge_stats(per_shard: Sequence[dict[str, Any]]) -> dict[str, Any]:
    skipped: dict[str, int] = {}
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
        for kind, count in reader.get("faults", {}).items():
            faults[kind] = faults.get(kind, 0) + count
    return {**totals, "skipped": skipped, "faults": faults}


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
) -> dict[str, Any]:
    """Prepare every shard into `out_dir`; returns the stats also written to `stats.json`.

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
    try:
        for sub in (out, out / MARKER_DIR, out / TMP_DIR):
            sub.mkdir(parents=True, exist_ok=True)
        probe = out / TMP_DIR / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise PermissionError(f"output directory {out} is not writable: {exc}") from exc
    _check_config(out, config, overwrite)

    tasks = plan_tasks(paths, out, config)
    finished: dict[str, dict[str, Any]] = {}
    todo: list[ShardTask] = []
    for task in tasks:
        stats = None if overwrite else _marker_is_valid(Path(task.marker), Path(task.input))
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
    _atomic_write_json(out / STATS_FILE, result)
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
