"""Executors run a stage's tasks. A task is a picklable unit of work (a shard, a batch of
documents, a batch of requests) that shares no in-process state with other tasks: it reads its
inputs, writes its outputs through its `TaskContext` and returns its statistics, so the same task
runs in this process, in a local process pool, or on a Ray worker (a later executor) with the
same result.

`LocalExecutor(workers=1)` runs tasks here, one after the other; `workers > 1` uses a `spawn`
process pool whose workers die with their parent (Linux `PR_SET_PDEATHSIG`), so a killed run
leaves nobody writing into its folder.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import dataclasses
import logging
import multiprocessing as mp
import os
import shutil
import signal
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from alignkit.stage.folder import OutputFolder, file_identity

if TYPE_CHECKING:
    from alignkit.stage.stage import Stage

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Task:
    """One unit of work. `id` names its marker (unique within the stage, stable across runs);
    `inputs` are the files whose identity the marker records; `payload` is anything picklable the
    stage needs (paths, row ranges, settings)."""

    id: str
    inputs: tuple[str, ...] = ()
    payload: Any = None
    weight: int = 1
    """Progress units this task stands for (e.g. input bytes)."""


@dataclasses.dataclass
class TaskResult:
    """What a task returns: its statistics and, per final output name, the temporary file holding
    it (from `TaskContext.tmp_output`). The kit verifies, publishes and records them."""

    stats: Mapping[str, Any]
    outputs: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    parts: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    external: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    """Outputs the user asked for outside the folder (absolute final path -> temporary path from
    `TaskContext.tmp_external`), published and recorded like outputs."""
    """Intermediate results for the reduce step, by part name (from `TaskContext.tmp_part`):
    kept under OUT/.alignkit/parts/, published and recorded like outputs, never data."""


class TaskContext:
    """A task's view of its stage folder: unique temporary outputs and progress reports."""

    def __init__(
        self, folder: OutputFolder, task: Task, report: Callable[[int], None] | None = None
    ) -> None:
        self.folder = folder
        self.task = task
        self._report = report
        self._tmp: list[Path] = []

    def tmp_output(self, name: str) -> Path:
        """A fresh temporary path for the final output `name`; removed if the task fails."""
        path = self.folder.tmp_path(name)
        self._tmp.append(path)
        return path

    def tmp_external(self, final: Path) -> Path:
        """A fresh temporary path beside `final`, an output outside the folder (so the rename
        stays on one filesystem); removed if the task fails."""
        final.parent.mkdir(parents=True, exist_ok=True)
        path = final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.partial")
        self._tmp.append(path)
        return path

    @contextlib.contextmanager
    def tmp_folder_outputs(self, prefix: str) -> Iterator[tuple[Path, dict[str, Path]]]:
        """A scratch folder for a tool that writes a whole folder (a saved model), and the
        outputs to return: after the block, every file written into it becomes the output
        `prefix/RELATIVE/PATH`, published and recorded like any other; the folder is removed.

            with ctx.tmp_folder_outputs("student") as (folder, outputs):
                model.save_pretrained(folder)
            return TaskResult(stats=..., outputs=outputs)
        """
        scratch = self.folder.meta / "tmp" / f"{prefix.replace('/', '__')}-{uuid.uuid4().hex[:12]}"
        scratch.mkdir(parents=True)
        outputs: dict[str, Path] = {}
        try:
            yield scratch, outputs
            for path in sorted(p for p in scratch.rglob("*") if p.is_file()):
                name = f"{prefix}/{path.relative_to(scratch).as_posix()}"
                outputs[name] = self.tmp_output(name)
                os.replace(path, outputs[name])
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def tmp_part(self, name: str) -> Path:
        """A fresh temporary path for the part `name` (see `TaskResult.parts`)."""
        return self.tmp_output(name)

    def progress(self, amount: int) -> None:
        """Report `amount` more progress units (the task's `weight` in all)."""
        if self._report is not None and amount > 0:
            self._report(amount)

    def discard(self) -> None:
        for path in self._tmp:
            with contextlib.suppress(OSError):
                path.unlink()


def execute_task(
    stage: Stage[Any], task: Task, folder_root: str, report: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Run one task and make it durable: outputs verified, published, then the marker written.
    Returns the task's statistics. A failure leaves no marker and no published output."""
    folder = OutputFolder(folder_root)
    ctx = TaskContext(folder, task, report)
    try:
        result = stage.run_task(task, ctx)
        inputs = [file_identity(p) for p in task.inputs]
        published = publish_result(folder, result, verify=stage.verify_outputs)
    except BaseException:
        ctx.discard()
        raise
    stats = dict(result.stats)
    folder.write_marker(task.id, inputs, published, stats)
    return stats


def publish_result(
    folder: OutputFolder, result: TaskResult, *, verify: bool = True
) -> list[dict[str, Any]]:
    """Publish a result's outputs and parts; returns their identities for the marker."""
    published = [
        folder.publish(Path(tmp), name, verify=verify)
        for name, tmp in sorted(result.outputs.items())
    ]
    published += [
        folder.publish(Path(tmp), name, verify=verify, part=True)
        for name, tmp in sorted(result.parts.items())
    ]
    published += [
        folder.publish(Path(tmp), name, verify=verify, external=True)
        for name, tmp in sorted(result.external.items())
    ]
    return published


class Executor(Protocol):
    """Runs `tasks` of `stage` into `folder_root`. Calls `on_done(task, stats, None)` or
    `on_done(task, None, error)` once per task (any order) and `on_progress(units)` as work
    advances. Must not raise for a task's failure."""

    def run(
        self,
        stage: Stage[Any],
        tasks: Sequence[Task],
        folder_root: str,
        on_done: Callable[[Task, dict[str, Any] | None, BaseException | None], None],
        on_progress: Callable[[int], None],
    ) -> None: ...


# Failures of a task that are recorded as that task's failure; anything else (a bug, a
# KeyboardInterrupt) stops the run.
TASK_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, RuntimeError, EOFError)


class LocalExecutor:
    """Tasks in this process (`workers=1`) or in a spawn process pool."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers

    def run(
        self,
        stage: Stage[Any],
        tasks: Sequence[Task],
        folder_root: str,
        on_done: Callable[[Task, dict[str, Any] | None, BaseException | None], None],
        on_progress: Callable[[int], None],
    ) -> None:
        if self.workers == 1 or len(tasks) <= 1 or not stage.parallel_tasks:
            for task in tasks:
                _settle(
                    task,
                    lambda t=task: execute_task(stage, t, folder_root, on_progress),
                    on_done,
                    TASK_ERRORS,
                )
            return
        self._run_pool(stage, tasks, folder_root, on_done, on_progress)

    def _run_pool(
        self,
        stage: Stage[Any],
        tasks: Sequence[Task],
        folder_root: str,
        on_done: Callable[[Task, dict[str, Any] | None, BaseException | None], None],
        on_progress: Callable[[int], None],
    ) -> None:
        # spawn, not fork: workers start clean (no inherited threads, locks or rayon pools).
        ctx = mp.get_context("spawn")
        counter = ctx.Value("Q", 0)
        reported = 0
        with cf.ProcessPoolExecutor(
            max_workers=min(self.workers, len(tasks)),
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(counter, os.getpid()),
        ) as pool:
            pending = {
                pool.submit(execute_task, stage, task, folder_root, _report_to_counter): task
                for task in tasks
            }
            try:
                while pending:
                    done, _ = cf.wait(pending, timeout=0.5, return_when=cf.FIRST_COMPLETED)
                    now = counter.value
                    on_progress(now - reported)
                    reported = now
                    for future in done:
                        # Anything a worker raised arrives here pickled: the task's failure.
                        _settle(pending.pop(future), future.result, on_done, (Exception,))
            except BaseException:
                for future in pending:
                    future.cancel()
                raise


def _settle(
    task: Task,
    outcome: Callable[[], dict[str, Any]],
    on_done: Callable[[Task, dict[str, Any] | None, BaseException | None], None],
    errors: tuple[type[BaseException], ...],
) -> None:
    """Report a task's statistics, or its failure when `outcome` raises one of `errors`."""
    try:
        stats = outcome()
    except errors as exc:
        on_done(task, None, exc)
    else:
        on_done(task, stats, None)


_worker_counter: Any = None


def _init_worker(counter: Any, parent_pid: int) -> None:
    global _worker_counter
    _worker_counter = counter
    _die_with_parent(parent_pid)


def _report_to_counter(amount: int) -> None:
    if _worker_counter is not None:
        with _worker_counter.get_lock():
            _worker_counter.value += amount


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill this worker when its parent dies (Linux); no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
