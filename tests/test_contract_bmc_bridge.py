"""`bmc bridge` on the stage kit: the stage contract (against the loopback fake LLM server), the
output folder as a dataset, bad input named by row, and runs that produce nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stage_contract import ContractCase, check_stage_contract
from test_bmc_bridge import PAIRS, scripted

from alignkit.bmc.bridge import BridgeConfig, BridgeStage, bridge
from alignkit.cli.main import main
from alignkit.errors import InputError, NothingProducedError
from alignkit.llm.testing import FakeChatServer


def write_pairs(folder: Path, rows: list[dict] = PAIRS[:6]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return [str(path)]


@pytest.fixture()
def server():
    with FakeChatServer(reply=scripted) as fake:
        yield fake


def test_bridge_stage_contract(server, tmp_path: Path) -> None:
    llm = f"openai:fake@{server.base_url}"
    settings = {"llm": llm, "pairs_per_task": 2, "seed": 3}

    def cli_args(inputs: list[str], out: Path) -> list[str]:
        flags = ["--llm", llm, "--pairs-per-task", "2", "--seed", "3", "--no-progress"]
        return ["bmc", "bridge", *inputs, "--out", str(out), *flags]

    def cli_config(inputs: list[str], out: Path, config: Path) -> list[str]:
        config.write_text(json.dumps({**settings, "no_progress": True}))
        return ["bmc", "bridge", *inputs, "--out", str(out), "--config", str(config)]

    case = ContractCase(
        make_inputs=write_pairs,
        make_stage=lambda **changes: BridgeStage(BridgeConfig(**{**settings, **changes})),
        changed={"temperature": 0.5},
        changed_keys=["config.temperature"],
        run_cli=main,
        cli_args=lambda inputs, out: cli_args(inputs, out),
        cli_config=cli_config,
        llm_requests=lambda: server.hits,
    )
    check_stage_contract(case, tmp_path)


def test_output_folder_is_a_preference_dataset(server, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "out"
    stats = bridge(
        write_pairs(tmp_path / "in")[0],
        out,
        config=BridgeConfig(llm=f"openai:fake@{server.base_url}", pairs_per_task=2),
        progress=False,
    )
    # Six pairs in three tasks; the third batch (unchanged + too long) writes no shard.
    assert stats["outputs"] == ["bridged-00000.jsonl"]
    assert stats["written"] == 2 and stats["pairs"] == 6
    assert stats["llm"]["requests"] == 6 and stats["llm"]["dropped"]["refusal"] == 1
    ds = datasets.load_dataset("json", data_dir=str(out), split="train")
    assert len(ds) == 2
    assert {"prompt", "chosen", "rejected", "original_chosen", "pair_id"} <= set(ds.column_names)


def test_wrong_schema_names_file_and_rows(tmp_path: Path, capsys) -> None:
    path = tmp_path / "sft.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"messages": []}\n')
    with pytest.raises(InputError, match=r"sft\.jsonl: none of 2 rows .*row 1: no_chosen_or"):
        bridge(path, tmp_path / "out", "openai:x@http://127.0.0.1:9", progress=False)
    code = main(
        [
            "bmc",
            "bridge",
            str(path),
            "--out",
            str(tmp_path / "o"),
            "--llm",
            "openai:x@http://127.0.0.1:9",
        ]
    )
    assert code == 2
    assert "none of 2 rows is a prompt/chosen/rejected" in capsys.readouterr().err


def test_some_bad_rows_are_counted_and_logged_with_their_row(server, tmp_path, caplog) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(PAIRS[0]) + "\n{broken\n" + json.dumps({"prompt": "x"}) + "\n")
    stats = bridge(path, tmp_path / "out", f"openai:fake@{server.base_url}", progress=False)
    assert stats["bad_rows"] == {"invalid_json": 1, "no_chosen_or_rejected": 1}
    assert f"{path}: row 2 skipped (invalid_json)" in caplog.text
    assert f"{path}: row 3 skipped (no_chosen_or_rejected)" in caplog.text


def test_zero_pairs_written_fails_saying_why(server, tmp_path: Path, capsys) -> None:
    inputs = write_pairs(tmp_path / "in", [PAIRS[4], PAIRS[2]])  # unchanged, empty
    llm = f"openai:fake@{server.base_url}"
    with pytest.raises(NothingProducedError, match="wrote no pairs.*empty=1, unchanged=1"):
        bridge(inputs[0], tmp_path / "out", llm, progress=False)
    assert main(["bmc", "bridge", *inputs, "--out", str(tmp_path / "o"), "--llm", llm]) == 1
    assert "wrote no pairs" in capsys.readouterr().err
