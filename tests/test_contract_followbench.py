"""`followbench run` on the stage kit: the stage contract (against the loopback fake LLM
server), refusal of another model's run in the same folder, per-task resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from stage_contract import ContractCase, check_stage_contract
from test_followbench_e2e import FIXTURE, reply

from alignkit.cli.main import main
from alignkit.errors import ConfigMismatchError
from alignkit.followbench import EvalConfig, run_followbench
from alignkit.followbench.evaluate import FollowBenchStage
from alignkit.llm.testing import FakeChatServer


@pytest.fixture()
def server():
    with FakeChatServer(reply=reply) as fake:
        yield fake


def copy_fixture(folder: Path) -> list[str]:
    shutil.copytree(FIXTURE, folder / "followbench")
    return [str(folder / "followbench")]


def test_followbench_stage_contract(server, tmp_path: Path) -> None:
    settings = {
        "model": f"openai:tiny@{server.base_url}",
        "judge": f"openai:judge@{server.base_url}",
        "categories": ("style", "example"),
        "chains_per_task": 1,
        "judge_retries": 1,
    }

    def cli_args(inputs: list[str], out: Path) -> list[str]:
        flags = ["--model", settings["model"], "--judge", settings["judge"]]
        flags += ["--categories", "style,example", "--chains-per-task", "1"]
        flags += ["--judge-retries", "1", "--no-progress"]
        return ["followbench", "run", "--data", inputs[0], "--out", str(out), *flags]

    def cli_config(inputs: list[str], out: Path, config: Path) -> list[str]:
        config.write_text(json.dumps({**settings, "categories": "style,example"}))
        return ["followbench", "run", "--data", inputs[0], "--out", str(out)] + [
            "--config",
            str(config),
            "--no-progress",
        ]

    case = ContractCase(
        make_inputs=copy_fixture,
        make_stage=lambda **changes: FollowBenchStage(EvalConfig(**{**settings, **changes})),
        changed={"model": f"openai:other@{server.base_url}"},
        changed_keys=["config.model"],
        run_cli=main,
        cli_args=cli_args,
        cli_config=cli_config,
        llm_requests=lambda: server.hits,
    )
    check_stage_contract(case, tmp_path)


def test_another_model_into_a_finished_run_is_refused(server, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    judge = f"openai:judge@{server.base_url}"
    config = EvalConfig(categories=("example",), judge=judge)
    first = run_followbench(FIXTURE, out, f"openai:tiny@{server.base_url}", config=config)
    before = (out / "samples.jsonl").read_bytes()
    with pytest.raises(ConfigMismatchError) as err:
        run_followbench(FIXTURE, out, f"openai:other@{server.base_url}", config=config)
    assert err.value.keys == ["config.model"]
    argv = ["followbench", "run", "--data", str(FIXTURE), "--out", str(out), "--judge", judge]
    argv += ["--categories", "example", "--model", f"openai:other@{server.base_url}"]
    assert main(argv) == 2
    assert "differs in: config.model" in capsys.readouterr().err
    assert (out / "samples.jsonl").read_bytes() == before  # the finished run is untouched
    # with --overwrite the other model's run replaces it
    other = run_followbench(
        FIXTURE, out, f"openai:other@{server.base_url}", config=config, overwrite=True
    )
    assert other["config"]["model"].startswith("openai:other") != first["config"][
        "model"
    ].startswith("openai:other")


def test_tasks_per_category_chunk_and_same_results_as_one_task(server, tmp_path: Path) -> None:
    judge = f"openai:judge@{server.base_url}"
    model = f"openai:tiny@{server.base_url}"
    base = EvalConfig(categories=("content", "format"), judge=judge, judge_retries=1)
    one = run_followbench(FIXTURE, tmp_path / "one", model, config=base.replace(chains_per_task=50))
    many = run_followbench(
        FIXTURE, tmp_path / "many", model, config=base.replace(chains_per_task=1)
    )
    done = sorted(p.stem for p in (tmp_path / "many" / ".alignkit" / "done").glob("en-*.json"))
    assert done == ["en-content-000", "en-content-001", "en-format-000"]
    for key in ("tables", "per_category", "counts", "reliability", "usage"):
        assert one[key] == many[key], key
    rows = [(tmp_path / d / "samples.jsonl").read_text() for d in ("one", "many")]
    assert rows[0] == rows[1]
