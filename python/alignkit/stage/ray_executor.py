"""`RayExecutor`: a stage's tasks as Ray tasks, on an existing cluster or a local one.

Each task runs `execute_task` on a Ray worker, so the outputs, markers and statistics are the
ones the local executor writes (a run started with one executor resumes with the other). The
stage object and the task are pickled to the worker, as for the local process pool; the output
folder must be on a filesystem every worker sees (one machine, or a shared mount).

A worker that dies mid-task (killed, out of memory, its node lost) has its task retried up to
`max_retries` times; the retry writes fresh temporary files and publishes the same outputs. An
exception raised by the task itself is not retried: it is that task's failure, reported as the
local executor reports it.

Ray is optional (`pip install "alignkit[ray]"`) and imported only when a run starts.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from alignkit.errors import ConfigError, MissingDependencyError
from alignkit.stage.executor import LocalExecutor, Task, _settle, execute_task

if TYPE_CHECKING:
    from alignkit.stage.stage import Stage

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
INSTALL_HINT = 'pip install "alignkit[ray]"'


def import_ray() -> Any:
    """The `ray` module, or a `MissingDependencyError` naming the install command."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(
            f"the Ray executor needs Ray, which is not installed: {INSTALL_HINT} ({exc})"
        ) from None
    return ray


def _run_remote(stage: Stage[Any], task: Task, folder_root: str) -> dict[str, Any]:
    """The body of a Ray task (progress is reported by the driver when the task completes)."""
    return execute_task(stage, task, folder_root)


class RayExecutor:
    """Runs each task as a Ray task with `num_cpus_per_task` CPUs (and `memory_per_task` bytes
    when given), retried up to `max_retries` times when its worker dies.

    `address` names an existing cluster (`ray://HOST:10001`, `HOST:6379` or `auto`); without one a
    local cluster of `local_cpus` CPUs (default: all) is started on 127.0.0.1 and shut down by
    `close()` or at exit. A cluster Ray was already connected to in this process is reused.
    Stages with `parallel_tasks = False` (a model loaded once in this process) run here, one task
    after another, as with `LocalExecutor`.
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus_per_task: float = 1,
        memory_per_task: int | None = None,
        max_retries: int = 3,
        local_cpus: int | None = None,
    ) -> None:
        if num_cpus_per_task <= 0:
            raise ConfigError("num_cpus_per_task must be positive")
        if memory_per_task is not None and memory_per_task <= 0:
            raise ConfigError("memory_per_task must be positive (bytes)")
        if max_retries < 0:
            raise ConfigError("max_retries must be at least 0")
        if local_cpus is not None and local_cpus < 1:
            raise ConfigError("local_cpus must be at least 1")
        if address is not None and local_cpus is not None:
            raise ConfigError("local_cpus sizes a local cluster; it cannot apply to an address")
        self.address = address
        self.num_cpus_per_task = num_cpus_per_task
        self.memory_per_task = memory_per_task
        self.max_retries = max_retries
        self.local_cpus = local_cpus
        self._started_here = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> Any:
        """Connect to the cluster (starting the local one if needed); returns the `ray` module."""
        ray = import_ray()
        if ray.is_initialized():
            return ray
        if self.address is not None:
            try:
                ray.init(address=self.address)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"cannot connect to the Ray cluster at {self.address}: {exc}"
                ) from None
        else:
            ray.init(
                address="local",  # a new cluster, never one found on this machine
                num_cpus=self.local_cpus or os.cpu_count() or 1,
                include_dashboard=False,
                _node_ip_address=LOOPBACK,
            )
            node_ip = ray.util.get_node_ip_address()
            if node_ip != LOOPBACK:
                log.warning(
                    "the local Ray cluster registered the address %s, not %s: Ray may listen on "
                    "other interfaces; start it inside a private network namespace "
                    "(unshare --net) or pass the address of a cluster you secured",
                    node_ip,
                    LOOPBACK,
                )
        self._started_here = True
        cpus = ray.cluster_resources().get("CPU", 0)
        if self.address is None and cpus < self.num_cpus_per_task:
            self.close()  # tasks needing more than the whole cluster would wait for ever
            raise ConfigError(
                f"a task needs {self.num_cpus_per_task} CPUs; the local cluster has {cpus}"
            )
        return ray

    def close(self) -> None:
        """Shut down the cluster connection this executor opened (and a local cluster with it)."""
        if self._started_here:
            import_ray().shutdown()
            self._started_here = False

    def run(
        self,
        stage: Stage[Any],
        tasks: Sequence[Task],
        folder_root: str,
        on_done: Callable[[Task, dict[str, Any] | None, BaseException | None], None],
        on_progress: Callable[[int], None],
    ) -> None:
        if not stage.parallel_tasks:
            LocalExecutor(1).run(stage, tasks, folder_root, on_done, on_progress)
            return
        ray = self.connect()
        options: dict[str, Any] = {
            "num_cpus": self.num_cpus_per_task,
            "max_retries": self.max_retries,
            "retry_exceptions": False,
        }
        if self.memory_per_task is not None:
            options["memory"] = self.memory_per_task
        remote = ray.remote(_run_remote).options(**options)
        # One copy of the stage in the object store, shared by every task.
        stage_ref = ray.put(stage)
        pending = {remote.remote(stage_ref, task, folder_root): task for task in tasks}
        try:
            while pending:
                # Whatever finished within half a second: one pass over the refs per wait.
                done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0.5)
                for ref in done:
                    task = pending.pop(ref)
                    # Anything the task raised is that task's failure, as in the local pool.
                    _settle(task, functools.partial(_result, ray, ref), on_done, (Exception,))
                    on_progress(task.weight)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise


def _result(ray: Any, ref: Any) -> dict[str, Any]:
    """A finished task's statistics, or its own exception out of Ray's wrapper (a worker's death
    stays Ray's error)."""
    try:
        return dict(ray.get(ref))
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, BaseException):
            raise exc.cause from None
        raise
