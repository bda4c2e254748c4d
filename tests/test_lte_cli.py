"""`alignkit lte` command line: the group's commands, build-data on the shared ZsRE records, train
on its output with a tiny chat model, edit and eval with the trained model, resume, --config, and
clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from alignkit.cli.main import build_parser, main

from conftest import shared_file


def test_group_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    _, leaves = build_parser()
    assert {"lte build-data", "lte train", "lte edit", "lte eval"} <= set(leaves)
    with pytest.raises(SystemExit):
        main(["lte", "--help"])
    text = capsys.readouterr().out
    assert "build-data" in text and "train" in text
    with pytest.raises(SystemExit):
        main(["lte", "train", "--help"])
    assert "--lora-r N" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # edit is the gold-fact mode: no retrieval settings
        main(["lte", "edit", "--k", "2", "--out", "x"])
    assert "unrecognized arguments: --k" in capsys.readouterr().err


def test_train_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text("{}\n")
    cases = [
        ([str(data), "--model", str(tmp_path / "nowhere")], "base model folder not found"),
        (["--model", str(tmp_path)], "alignment data"),
        ([str(data), "--batch-size", "6", "--micro-batch-size", "4"], "multiple of micro"),
    ]
    for i, (flags, message) in enumerate(cases):
        rc = main(["lte", "train", *flags, "--out", str(tmp_path / f"out-{i}")])
        assert rc != 0 and message in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from tiny_models import save_tiny_chat_llama

    return save_tiny_chat_llama(tmp_path_factory.mktemp("tiny-cli"))


@pytest.mark.slow  # builds data, trains a tiny model, edits and evaluates it
def test_build_data_train_edit_eval(
    tiny_chat_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = shared_file("knowedit", "ZsRE", "ZsRE-test-all.json")
    data_dir = tmp_path / "data"
    build = ["lte", "build-data", str(source), "--out", str(data_dir), "--max-edits", "2"]
    # no distractors: no sentence encoder is needed
    build += ["--p-one-distractor", "0", "--p-two-distractors", "0", "--no-progress"]
    assert main(build) == 0
    out = capsys.readouterr().out
    assert "lte build-data:" in out and "zsre" in out
    [data] = data_dir.glob("*.jsonl.gz")
    with gzip.open(data, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    assert rows and all(r["n_facts"] <= 1 for r in rows)

    config = tmp_path / "train.json"
    config.write_text(json.dumps({"max_steps": 2, "batch_size": 2, "micro-batch-size": 2}))
    model_out = tmp_path / "aligned"
    train = ["lte", "train", str(data), "--model", str(tiny_chat_model), "--out", str(model_out)]
    train += ["--config", str(config), "--device", "cpu", "--no-progress"]
    assert main(train) == 0
    out = capsys.readouterr().out
    assert f"lte train: 2 steps on {len(rows)} examples (1 run, 0 done before)" in out
    assert (model_out / "model" / "alignkit_lte.json").is_file()
    record = json.loads((model_out / "model" / "alignkit_lte.json").read_text())
    assert record["options"]["batch_size"] == 2 and record["options"]["max_steps"] == 2

    assert main(train) == 0  # resumed: nothing trains twice
    assert "(0 run, 1 done before)" in capsys.readouterr().out

    aligned = str(model_out / "model")
    for command, mode in (("edit", "gold"), ("eval", "sequential")):
        out = tmp_path / command
        flags = ["--model", aligned, "--max-edits", "3", "--chunk-size", "2", "--no-fluency"]
        assert main(["lte", command, str(source), *flags, "--out", str(out), "--no-progress"]) == 0
        printed = capsys.readouterr().out
        assert "ZsRE-test-all: 3, " in printed and f"report: {out / 'report.html'}" in printed
        results = json.loads((out / "results.json").read_text())
        assert results["config"]["mode"] == mode
        assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
        assert ("retrieval" in results["datasets"]["ZsRE-test-all"]) == (mode != "gold")
