"""`alignkit lte run`: the chained stages with the untrained model as the in-context baseline, the
comparison and its verdict, resume, the summary and report, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignkit.cli.main import main
from alignkit.errors import ConfigError
from alignkit.lte.run import LTERunConfig, LTERunOptions, compare

from conftest import shared_file


def _results(**post: float | None) -> dict:
    return {"datasets": {"zsre": {"edits": 4, "post": post}}}


def test_compare_changes_and_verdict() -> None:
    base = _results(edit_success=50.0, locality=70.0, portability=30.0, fluency=None)
    better = _results(edit_success=60.0, locality=70.0, portability=25.5, fluency=500.0)
    entry = compare(base, better)["zsre"]
    assert entry["metrics"]["edit_success"] == {"base": 50.0, "aligned": 60.0, "change": 10.0}
    assert entry["metrics"]["portability"]["change"] == -4.5
    assert entry["metrics"]["fluency"]["change"] is None  # missing on one side
    assert entry["edit_success_rose"] and entry["locality_held"] and entry["alignment_helps"]

    worse = _results(edit_success=90.0, locality=69.9)
    entry = compare(base, worse)["zsre"]
    assert entry["edit_success_rose"] and not entry["locality_held"]
    assert entry["alignment_helps"] is False
    flat = compare(base, _results(edit_success=50.0, locality=80.0))["zsre"]
    assert flat["alignment_helps"] is False  # edit success must rise
    assert compare(base, _results(edit_success=60.0))["zsre"]["alignment_helps"] is None


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="eval_files"):
        LTERunConfig.from_mapping({"train_files": ["a.json"]})
    with pytest.raises(ConfigError, match="unknown section"):
        LTERunOptions(run=LTERunConfig(), sections={"evaluate": {}})
    options = LTERunOptions(run=LTERunConfig(), sections={"train": {"model": "x"}})
    from alignkit.lte.train import LTETrainConfig

    with pytest.raises(ConfigError, match="set by `lte run` itself"):
        options.stage_config("train", LTETrainConfig, model="")


def test_demo_files_are_used_without_inputs() -> None:
    train, evaluate = LTERunConfig().inputs()
    assert [Path(p).name for p in train] == ["demo_train_counterfact.json", "demo_train_zsre.json"]
    assert [Path(p).name for p in evaluate] == ["demo_heldout_zsre.json"]


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from tiny_models import save_tiny_chat_llama

    return save_tiny_chat_llama(tmp_path_factory.mktemp("tiny-run"))


@pytest.mark.slow  # trains a tiny model and evaluates it and its base with retrieval
def test_run_chains_stages_compares_and_resumes(
    tiny_chat_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = json.loads(shared_file("knowedit", "ZsRE", "ZsRE-test-all.json").read_text())
    train, held_out = tmp_path / "zsre_train.json", tmp_path / "zsre_heldout.json"
    train.write_text(json.dumps(records[:3]))
    held_out.write_text(json.dumps(records[-3:]))
    config = tmp_path / "run.json"
    sections = {
        "build_data": {"p_one_distractor": 0, "p_two_distractors": 0},
        "train": {"max_steps": 2, "batch_size": 2, "micro_batch_size": 2, "device": "cpu"},
        "eval": {"fluency": False, "chunk_size": 2},
    }
    config.write_text(json.dumps(sections))
    out = tmp_path / "run"
    argv = ["lte", "run", "--train-files", str(train), "--eval-files", str(held_out)]
    argv += ["--model", str(tiny_chat_model), "--config", str(config), "--out", str(out)]
    argv += ["--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "lte run: aligned in 2 steps" in printed and "zsre_heldout (3 edits):" in printed

    summary = json.loads((out / "lte_summary.json").read_text())
    assert set(summary["stages"]) == {"data", "train", "eval-base", "eval-aligned"}
    base = json.loads((out / "eval-base" / "results.json").read_text())
    aligned = json.loads((out / "eval-aligned" / "results.json").read_text())
    assert base["config"]["model"] == str(tiny_chat_model)
    assert aligned["config"]["model"] == str(out / "train" / "model")
    entry = summary["comparison"]["zsre_heldout"]
    es = entry["metrics"]["edit_success"]
    assert es["base"] == base["datasets"]["zsre_heldout"]["post"]["edit_success"]
    assert es["aligned"] == aligned["datasets"]["zsre_heldout"]["post"]["edit_success"]
    assert es["change"] == pytest.approx(es["aligned"] - es["base"], abs=0.011)
    assert entry["alignment_helps"] == (es["change"] > 0 and entry["locality_held"])
    for stage in summary["stages"].values():
        assert stage["seconds"] >= 0 and stage["peak_rss_mb"] > 0
    assert summary["stages"]["train"]["tasks_run"] == 1
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "untrained" in page

    assert main(argv) == 0  # resumed: every stage is done
    capsys.readouterr()
    summary = json.loads((out / "lte_summary.json").read_text())
    assert all(stage["tasks_run"] == 0 for stage in summary["stages"].values())

    # An executor runs the data stage only (the others hold a local model in this process).
    from alignkit.lte.run import run_lte
    from alignkit.stage import LocalExecutor

    class Recording(LocalExecutor):
        stages: list[str] = []

        def run(self, stage, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.stages.append(stage.name)
            return super().run(stage, *args, **kwargs)

    fresh = tmp_path / "run-executor"
    options = LTERunOptions(
        run=LTERunConfig(
            train_files=(str(train),), eval_files=(str(held_out),), model=str(tiny_chat_model)
        ),
        sections=sections,
    )
    run_lte(fresh, options, progress=False, executor=Recording())
    assert Recording.stages == ["lte.build_data"]

    sections["train"]["model"] = "elsewhere"  # the run sets the model: one place per setting
    config.write_text(json.dumps(sections))
    assert main(argv) != 0
    assert "set by `lte run` itself" in capsys.readouterr().err
