"""A stage: plan tasks, run them on an executor, merge their statistics - with every piece of
bookkeeping (config record, lock, markers, atomic outputs, progress, stats) done here, once.

A new stage writes a config class, `plan`, `run_task` and, when it has a reduce step or extra
statistics, `finalize`:

    class DedupStage(Stage[DedupConfig]):
        name = "webr.dedup"
        config_class = DedupConfig

        def plan(self, inputs):            # deterministic: sorted inputs, stable task ids
            return [Task(id=stem(p), inputs=(str(p),), payload=str(p)) for p in sorted(inputs)]

        def run_task(self, task, ctx):      # runs anywhere: no shared in-process state
            tmp = ctx.tmp_output(f"{stem}.jsonl.gz")
            ...write tmp...
            return TaskResult(stats={"kept": n}, outputs={f"{stem}.jsonl.gz": tmp})

    report = run_stage(DedupStage(config), inputs, out_dir, executor=LocalExecutor(2))
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from alignkit.errors import ConfigError, StageFailedError
from alignkit.progress import Progress
from alignkit.stage.config import StageConfig
from alignkit.stage.executor import (
    Executor,
    LocalExecutor,
    Task,
    TaskContext,
    TaskResult,
    publish_result,
)
from alignkit.stage.folder import OutputFolder, file_identity
from alignkit.stage.stats import Counts

log = logging.getLogger(__name__)

C = TypeVar("C", bound=StageConfig)


class Stage(abc.ABC, Generic[C]):
    """Base of every stage (see the module docstring). Instances are picklable: the config plus
    whatever `__init__` stores, which must itself be picklable."""

    name: ClassVar[str]
    config_class: ClassVar[type[StageConfig]]
    progress_unit: ClassVar[str] = "task"
    verify_outputs: ClassVar[bool] = True
    parallel_tasks: ClassVar[bool] = True
    """False for stages whose tasks share one expensive resource in this process (a local
    model): they run one after another here whatever the executor's size."""

    def __init__(self, config: C) -> None:
        if not isinstance(config, self.config_class):
            raise ConfigError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, "
                f"not {type(config).__name__}"
            )
        self.config = config

    def fingerprint(self) -> dict[str, Any]:
        """What the folder records; stages add settings that live outside the config."""
        return self.config.fingerprint()

    @abc.abstractmethod
    def plan(self, inputs: Sequence[str]) -> list[Task]:
        """The tasks for `inputs`, in a deterministic order with stable, unique ids."""

    @abc.abstractmethod
    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        """Do one task; write outputs only to `ctx.tmp_output(...)` paths."""

    def reduce(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> TaskResult | None:
        """The reduce step (cross-task work: clustering, a mix, metrics), in the driver, once
        every task is done. Read the tasks' parts with `folder.part_path`, write outputs to
        `folder.tmp_path(name)` and return them with statistics, as a task does. The kit runs it
        only when a task's marker changed since the last reduce (a resume rewrites nothing) and
        merges its statistics over `finalize`'s. Default: no reduce step."""
        return None

    def finalize(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        """The stage's statistics from its tasks' (default: summed)."""
        return Counts.total(results[t.id] for t in tasks if t.id in results).plain()


@dataclasses.dataclass
class StageReport:
    """The outcome of `run_stage`: statistics (also in OUT/.alignkit/stats.json) and task counts."""

    stage: str
    folder: Path
    stats: dict[str, Any]
    tasks_total: int
    tasks_done_before: int
    tasks_run: int
    failures: dict[str, str]
    seconds: float
    ran_now: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Statistics of the tasks this call ran (not those done before), by task id."""

    @property
    def complete(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "folder": str(self.folder),
            "tasks": {
                "total": self.tasks_total,
                "done_before": self.tasks_done_before,
                "run": self.tasks_run,
                "failed": len(self.failures),
            },
            "failures": dict(sorted(self.failures.items())),
            "seconds": round(self.seconds, 3),
            "stats": self.stats,
        }


def run_stage(
    stage: Stage[Any],
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    executor: Executor | None = None,
    overwrite: bool = False,
    progress: bool | str | None = "auto",
    lock_wait: float = 0.0,
    retry_failed: bool = False,
) -> StageReport:
    """Run `stage` over `inputs` into `out_dir` under the output-folder contract.

    Finished tasks (trusted markers) are skipped; a recorded config that differs is refused
    naming the keys unless `overwrite`, which also redoes every task. Failed tasks are logged and
    listed in the report (no marker, so a re-run retries only them); the caller decides whether
    that is an error. With `retry_failed`, finished tasks whose statistics count `failures`
    (LLM requests left without an answer, by the convention of LLM stages) run again; their
    response caches make that resend only the failed requests.
    """
    started = time.perf_counter()
    executor = executor or LocalExecutor()
    folder = OutputFolder(out_dir)
    folder.ensure()
    with folder.lock(wait=lock_wait):
        folder.clean_tmp()
        replaced = folder.record_config(stage.name, stage.fingerprint(), overwrite)
        if replaced or overwrite:
            folder.clear()
        tasks = stage.plan([os.fspath(p) for p in inputs])
        ids = [t.id for t in tasks]
        if any(i.startswith("@") for i in ids):
            raise ConfigError(f"{stage.name}: task ids starting with '@' are reserved")
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ConfigError(f"{stage.name}: two inputs map to the same task: {', '.join(dupes)}")

        results: dict[str, dict[str, Any]] = {}
        todo: list[Task] = []
        for task in tasks:
            marker = folder.trusted_marker(task.id, [file_identity(p) for p in task.inputs])
            if marker is not None and retry_failed and marker.get("stats", {}).get("failures"):
                marker = None
            if marker is not None:
                results[task.id] = marker.get("stats", {})
            else:
                todo.append(task)
        if results:
            log.info("%s: %d task(s) already done in %s", stage.name, len(results), folder.root)

        failures: dict[str, str] = {}
        ran_now: dict[str, dict[str, Any]] = {}

        def on_done(task: Task, stats: dict[str, Any] | None, error: BaseException | None) -> None:
            if error is not None:
                log.error("%s: task %s failed: %s", stage.name, task.id, error)
                failures[task.id] = f"{type(error).__name__}: {error}"
            else:
                results[task.id] = ran_now[task.id] = stats or {}

        total = sum(t.weight for t in todo)
        with Progress(total, desc=stage.name, unit=stage.progress_unit, mode=progress) as bar:
            if todo:
                executor.run(stage, todo, str(folder.root), on_done, bar.advance)
        stats = stage.finalize(folder, tasks, results)
        if not failures:
            stats = {**stats, **_reduce(stage, folder, tasks, results)}
        report = StageReport(
            stage=stage.name,
            folder=folder.root,
            stats=stats,
            tasks_total=len(tasks),
            tasks_done_before=len(tasks) - len(todo),
            tasks_run=len(todo) - len(failures),
            failures=failures,
            seconds=time.perf_counter() - started,
            ran_now=ran_now,
        )
        folder.write_stats(report.to_dict())
    return report


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_chained_stage(
    key: str,
    stage: Stage[Any],
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    **options: Any,
) -> tuple[StageReport, dict[str, Any]]:
    """`run_stage` (same `options`) for step `key` of a run that chains stages (`lion run`,
    `lte run`): a failed task stops the run with StageFailedError naming the step (re-running
    resumes). Returns the report and the record the run keeps of the step: folder, seconds,
    tasks run now, this process's peak memory so far, statistics."""
    started = time.perf_counter()
    report = run_stage(stage, inputs, out_dir, **options)
    if report.failures:
        raise StageFailedError(
            f"{key}: {len(report.failures)} task(s) failed (first: "
            f"{next(iter(report.failures.values()))}); re-run to resume"
        )
    seconds = time.perf_counter() - started
    log.info("%s done in %.1f s", key, seconds)
    record = {
        "folder": os.fspath(out_dir),
        "seconds": round(seconds, 3),
        "tasks_run": report.tasks_run,
        "peak_rss_mb": peak_rss_mb(),
        "stats": report.stats,
    }
    return report, record


REDUCE_TASK = "@reduce"


def _reduce(
    stage: Stage[Any],
    folder: OutputFolder,
    tasks: Sequence[Task],
    results: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """Run the stage's reduce unless its marker proves it was done on exactly these task
    markers; returns its statistics."""
    task_markers = [file_identity(folder.marker_path(t.id)) for t in tasks]
    done = folder.trusted_marker(REDUCE_TASK, task_markers)
    if done is not None:
        return dict(done.get("stats", {}))
    folder.marker_path(REDUCE_TASK).unlink(missing_ok=True)
    result = stage.reduce(folder, tasks, results)
    if result is None:
        return {}
    published = publish_result(folder, result, verify=stage.verify_outputs)
    folder.write_marker(REDUCE_TASK, task_markers, published, dict(result.stats))
    return dict(result.stats)
