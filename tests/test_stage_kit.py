"""The stage kit's contract, on a toy stage: resume, refusal of a changed config, overwrite,
locks, markers that prove outputs, failed and killed tasks, executors, config plumbing."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from stage_toy import ToyConfig, ToyStage, write_inputs

from alignkit.errors import ConfigError, ConfigMismatchError, FolderLockedError
from alignkit.stage import (
    META_DIR,
    Counts,
    LLMUsage,
    LocalExecutor,
    OutputFolder,
    Stage,
    Task,
    TaskResult,
    add_config_arguments,
    config_from_args,
    run_stage,
)


def read_out(out: Path) -> dict[str, list[dict]]:
    return {
        p.name: [json.loads(line) for line in gzip.open(p, "rt")]
        for p in sorted(out.glob("*.jsonl.gz"))
    }


def test_run_writes_outputs_markers_and_merged_stats(tmp_path):
    inputs = write_inputs(tmp_path / "in")
    report = run_stage(ToyStage(ToyConfig(min_chars=10)), inputs, tmp_path / "out", progress="off")
    assert report.complete and report.tasks_run == 3
    assert report.stats == {"docs": 6, "dropped": {"too_short": 6}}
    outputs = read_out(tmp_path / "out")
    assert sorted(outputs) == ["shard0.jsonl.gz", "shard1.jsonl.gz", "shard2.jsonl.gz"]
    assert outputs["shard1.jsonl.gz"][0]["text"] == "XX DOC 1 2"
    meta = tmp_path / "out" / ".alignkit"
    recorded = json.loads((meta / "config.json").read_text())
    assert recorded["stage"] == "test.toy" and "workers" not in recorded["config"]
    assert json.loads((meta / "stats.json").read_text())["stats"]["docs"] == 6
    # the data area holds the data only
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".alignkit",
        "shard0.jsonl.gz",
        "shard1.jsonl.gz",
        "shard2.jsonl.gz",
    ]


def test_output_folder_loads_as_a_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    inputs = write_inputs(tmp_path / "in")
    run_stage(ToyStage(ToyConfig()), inputs, tmp_path / "out", progress="off")
    ds = datasets.load_dataset("json", data_dir=str(tmp_path / "out"), split="train")
    assert len(ds) == 12 and set(ds.column_names) == {"id", "text", "lang"}


def test_resume_redoes_nothing(tmp_path):
    inputs = write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    run_stage(ToyStage(ToyConfig()), inputs, out, progress="off")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and "done" in str(p)}
    again = run_stage(ToyStage(ToyConfig(), fail_on="shard0"), inputs, out, progress="off")
    assert again.tasks_run == 0 and again.tasks_done_before == 3 and again.complete
    assert again.stats["docs"] == 12
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and "done" in str(p)}
    assert before == after


def test_changed_config_is_refused_naming_keys_then_overwrite_redoes(tmp_path):
    inputs = write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    run_stage(ToyStage(ToyConfig()), inputs, out, progress="off")
    with pytest.raises(ConfigMismatchError) as err:
        run_stage(ToyStage(ToyConfig(suffix="!", langs=("en",))), inputs, out, progress="off")
    assert err.value.keys == ["config.langs", "config.suffix"]
    assert "config.suffix" in str(err.value)
    # a setting outside the fingerprint (workers) is not a change
    run_stage(ToyStage(ToyConfig(workers=2)), inputs, out, progress="off")
    redone = run_stage(ToyStage(ToyConfig(suffix="!")), inputs, out, overwrite=True, progress="off")
    assert redone.tasks_run == 3
    assert all(d["text"].endswith("!") for rows in read_out(out).values() for d in rows)


def test_failed_task_leaves_nothing_trusted_and_rerun_does_only_it(tmp_path):
    inputs = write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    report = run_stage(ToyStage(ToyConfig(), fail_on="shard1"), inputs, out, progress="off")
    assert list(report.failures) == ["shard1"] and "injected failure" in report.failures["shard1"]
    assert not (out / "shard1.jsonl.gz").exists()
    assert not list((out / ".alignkit" / "tmp").glob("*.partial"))
    assert sorted(p.stem for p in (out / ".alignkit" / "done").glob("*.json")) == [
        "shard0",
        "shard2",
    ]
    again = run_stage(ToyStage(ToyConfig()), inputs, out, progress="off")
    assert again.tasks_run == 1 and again.complete and again.stats["docs"] == 12


def test_marker_is_not_trusted_when_output_or_input_changes(tmp_path):
    inputs = write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    run_stage(ToyStage(ToyConfig()), inputs, out, progress="off")
    (out / "shard0.jsonl.gz").write_bytes(b"truncated")
    with open(inputs[2], "a") as fh:
        fh.write(json.dumps({"id": "new", "text": "added later", "lang": "en"}) + "\n")
    again = run_stage(ToyStage(ToyConfig()), inputs, out, progress="off")
    assert again.tasks_run == 2
    assert len(read_out(out)["shard2.jsonl.gz"]) == 5


def test_corrupt_gzip_output_is_never_published(tmp_path):
    folder = OutputFolder(tmp_path / "out")
    folder.ensure()
    tmp = folder.tmp_path("x.jsonl.gz")
    data = gzip.compress(b'{"text": "a"}\n' * 100)
    tmp.write_bytes(data[:-9])
    with pytest.raises(OSError, match="not valid gzip"):
        folder.publish(tmp, "x.jsonl.gz")
    assert not (tmp_path / "out" / "x.jsonl.gz").exists()


def test_process_pool_gives_identical_outputs(tmp_path):
    inputs = write_inputs(tmp_path / "in", n=4)
    run_stage(ToyStage(ToyConfig()), inputs, tmp_path / "a", progress="off")
    report = run_stage(
        ToyStage(ToyConfig()), inputs, tmp_path / "b", executor=LocalExecutor(2), progress="off"
    )
    assert report.complete and report.tasks_run == 4
    for name in read_out(tmp_path / "a"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_second_run_is_refused_while_the_folder_is_locked(tmp_path):
    folder = OutputFolder(tmp_path / "out")
    with folder.lock(), pytest.raises(FolderLockedError, match="in use by another run"):
        run_stage(ToyStage(ToyConfig()), write_inputs(tmp_path / "in"), folder.root)


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from stage_toy import ToyConfig, ToyStage
    from alignkit.stage import run_stage
    run_stage(ToyStage(ToyConfig(), sleep_after_write=60), {inputs!r}, {out!r}, progress="off")
    """
)


def test_killed_run_leaves_nothing_trusted_and_its_lock_is_taken_over(tmp_path):
    inputs = [str(p) for p in write_inputs(tmp_path / "in", n=1)]
    out = tmp_path / "out"
    ready = tmp_path / "ready"
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), inputs=inputs, out=str(out))
    proc = subprocess.Popen(
        [sys.executable, "-c", script], env={**os.environ, "TOY_READY": str(ready)}
    )
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert ready.exists(), "the task never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "shard0.jsonl.gz").exists()
    assert not list((out / ".alignkit" / "done").glob("*.json"))
    report = run_stage(ToyStage(ToyConfig()), inputs, out, progress="off")
    assert report.tasks_run == 1 and report.complete
    assert not list((out / ".alignkit" / "tmp").glob("*.partial"))


def test_config_flags_file_and_fingerprint_agree():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, ToyConfig)
    help_text = parser.format_help()
    assert "--min-chars N" in help_text and "(default: 0)" in help_text
    from_flags = config_from_args(
        ToyConfig, parser.parse_args(["--suffix", "!", "--langs", "en,de", "--min-chars", "3"])
    )
    from_file = ToyConfig.from_mapping({"suffix": "!", "langs": ["en", "de"], "min-chars": 3})
    assert from_flags == from_file
    assert from_flags.fingerprint() == {
        "schema_version": 1,
        "suffix": "!",
        "min_chars": 3,
        "langs": ["en", "de"],
    }
    # flags win over the file
    mixed = config_from_args(
        ToyConfig, parser.parse_args(["--suffix", "?"]), file_values={"suffix": "!", "min_chars": 2}
    )
    assert (mixed.suffix, mixed.min_chars) == ("?", 2)
    with pytest.raises(ConfigError, match="unknown option"):
        ToyConfig.from_mapping({"sufix": "!"})
    with pytest.raises(ConfigError, match="expected an integer"):
        ToyConfig(min_chars="many")  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        parser.parse_args(["--min-chars", "x"])


def test_counts_and_llm_usage_merge_in_any_order():
    parts = [{"docs": 2, "dropped": {"a": 1}}, {"docs": 3, "dropped": {"b": 2, "a": 1}}, {}]
    assert (
        Counts.total(parts)
        == Counts.total(reversed(parts))
        == {
            "docs": 5,
            "dropped": {"a": 2, "b": 2},
        }
    )
    one = LLMUsage(requests=3, sent=2, cached=1, failed={"timeout": 1}, prompt_tokens=10)
    two = LLMUsage(requests=1, sent=1, failed={"http_500": 1, "timeout": 1}, skipped_failed=1)
    one.merge(two)
    assert one.failed == {"timeout": 2, "http_500": 1} and one.failures == 4
    assert LLMUsage.from_dict(one.to_dict()) == one


def test_the_contract_suite_holds_for_the_toy_stage(tmp_path):
    from stage_contract import ContractCase, check_stage_contract

    case = ContractCase(
        make_inputs=lambda folder: [str(p) for p in write_inputs(folder)],
        make_stage=lambda **changes: ToyStage(ToyConfig(**changes)),
        changed={"suffix": "!"},
        changed_keys=["config.suffix"],
    )
    check_stage_contract(case, tmp_path)


def test_datatrove_reads_exactly_the_documents(tmp_path):
    from datatrove.pipeline.readers import JsonlReader

    inputs = write_inputs(tmp_path / "in")
    run_stage(ToyStage(ToyConfig()), inputs, tmp_path / "out", progress="off")
    docs = list(JsonlReader(str(tmp_path / "out")).run())
    assert sorted(d.id for d in docs) == sorted(f"{k}-{i}" for k in range(3) for i in range(4))
    assert {Path(d.metadata["file_path"]).parent for d in docs} == {tmp_path / "out"}


def test_reduce_runs_once_per_change_of_its_tasks(tmp_path):
    from stage_toy import ToyReduceStage

    inputs = write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    report = run_stage(ToyReduceStage(ToyConfig()), inputs, out, progress="off")
    assert report.stats["total"] == 12 and (out / "total.txt").read_text() == "12\n"
    assert (out / ".alignkit" / "parts" / "shard0.count").read_text() == "4"
    mtime = (out / "total.txt").stat().st_mtime_ns
    again = run_stage(ToyReduceStage(ToyConfig()), inputs, out, progress="off")
    assert again.stats["total"] == 12 and (out / "total.txt").stat().st_mtime_ns == mtime
    # a lost part makes its task run again, and then the reduce
    (out / ".alignkit" / "parts" / "shard1.count").unlink()
    with open(inputs[2], "a") as fh:
        fh.write(json.dumps({"id": "new", "text": "added later", "lang": "en"}) + "\n")
    redone = run_stage(ToyReduceStage(ToyConfig()), inputs, out, progress="off")
    assert redone.tasks_run == 2 and (out / "total.txt").read_text() == "13\n"
    # no reduce while a task is failing
    failing = run_stage(ToyReduceStage(ToyConfig(), fail_on="shard0"), inputs, tmp_path / "f")
    assert "total" not in failing.stats and not (tmp_path / "f" / "total.txt").exists()


def test_retry_failed_redoes_only_tasks_that_counted_failures(tmp_path):
    inputs = write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    run_stage(ToyStage(ToyConfig()), inputs, out, progress="off")
    marker = out / ".alignkit" / "done" / "shard1.json"
    record = json.loads(marker.read_text())
    record["stats"]["failures"] = 2  # as an LLM stage records unanswered requests
    marker.write_text(json.dumps(record))
    assert run_stage(ToyStage(ToyConfig()), inputs, out, progress="off").tasks_run == 0
    retried = run_stage(ToyStage(ToyConfig()), inputs, out, progress="off", retry_failed=True)
    assert retried.tasks_run == 1 and "failures" not in json.loads(marker.read_text())["stats"]


def test_llm_specs_are_recorded_without_credentials():
    import dataclasses

    from alignkit.stage import StageConfig, option

    @dataclasses.dataclass(frozen=True)
    class WithSpec(StageConfig):
        llm: str = option("transformers", help="backend", llm_spec=True)
        note: str = option("", help="free text")

    secret = "openai:m@http://user:sk-verysecret123@127.0.0.1:8000/v1?api_key=abc123"
    config = WithSpec(llm=secret, note="keep")
    for recorded in (config.fingerprint(), config.describe()):
        assert "sk-verysecret123" not in json.dumps(recorded)
        assert "abc123" not in json.dumps(recorded) and recorded["note"] == "keep"
    assert config.to_dict()["llm"] == secret  # rebuilding the config keeps the key
    other_key = WithSpec(llm=secret.replace("sk-verysecret123", "sk-otherkey456"), note="keep")
    assert other_key.fingerprint() == config.fingerprint()


def test_truncated_parquet_output_is_never_published(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    folder = OutputFolder(tmp_path / "out")
    folder.ensure()
    tmp = folder.tmp_path("x.parquet")
    pq.write_table(pa.table({"text": ["a"] * 1000}), tmp)
    tmp.write_bytes(tmp.read_bytes()[:-20])
    with pytest.raises(OSError, match="not valid Parquet"):
        folder.publish(tmp, "x.parquet")
    assert not (tmp_path / "out" / "x.parquet").exists()


def test_an_identical_output_is_left_in_place(tmp_path):
    folder = OutputFolder(tmp_path / "out")
    folder.ensure()
    first = folder.tmp_path("mask.bin")
    first.write_bytes(b"same")
    folder.publish(first, "mask.bin")
    final = tmp_path / "out" / "mask.bin"
    os.utime(final, ns=(1, 1))
    again = folder.tmp_path("mask.bin")
    again.write_bytes(b"same")
    assert folder.publish(again, "mask.bin")["size"] == 4
    assert final.stat().st_mtime_ns == 1 and not again.exists()
    changed = folder.tmp_path("mask.bin")
    changed.write_bytes(b"diff")
    folder.publish(changed, "mask.bin")
    assert final.read_bytes() == b"diff" and final.stat().st_mtime_ns != 1


class FolderStage(Stage[ToyConfig]):
    """Writes a nested folder (as a model save does) through `ctx.tmp_folder_outputs`."""

    name = "test.folder"
    config_class = ToyConfig
    fail_after_writing = False

    def plan(self, inputs):
        return [Task(id="model", inputs=tuple(sorted(inputs)))]

    def run_task(self, task, ctx):
        with ctx.tmp_folder_outputs("model") as (folder, outputs):
            (folder / "sub").mkdir()
            (folder / "config.json").write_text("{}")
            (folder / "sub" / "weights.bin").write_bytes(b"\x00" * 10)
            if self.fail_after_writing:
                raise RuntimeError("killed while saving")
        return TaskResult(stats={"files": len(outputs)}, outputs=outputs)


def test_a_folder_written_by_a_tool_is_published_file_by_file(tmp_path):
    inputs = write_inputs(tmp_path / "in", 1)
    failing = FolderStage(ToyConfig())
    failing.fail_after_writing = True
    report = run_stage(failing, inputs, tmp_path / "out", progress=False)
    assert report.failures and not (tmp_path / "out" / "model").exists()
    assert not list((tmp_path / "out" / META_DIR / "tmp").iterdir())  # scratch removed
    report = run_stage(FolderStage(ToyConfig()), inputs, tmp_path / "out", progress=False)
    assert report.complete and report.stats["files"] == 2
    assert (tmp_path / "out" / "model" / "sub" / "weights.bin").read_bytes() == b"\x00" * 10
    marker = OutputFolder(tmp_path / "out").markers()[0]
    assert sorted(o["name"] for o in marker["outputs"]) == [
        "model/config.json",
        "model/sub/weights.bin",
    ]
    assert (
        run_stage(FolderStage(ToyConfig()), inputs, tmp_path / "out", progress=False).tasks_run == 0
    )
