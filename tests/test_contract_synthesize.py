"""`webr synthesize` on the stage kit: the stage contract (resume sends no LLM request, refusal,
overwrite, a killed task, config file = flags) against the loopback FakeChatServer, plus what the
batching must not change."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stage_contract import ContractCase, check_stage_contract
from test_synthesize_e2e import SEED, scripted, write_docs

from alignkit.cli.main import main
from alignkit.llm.testing import FakeChatServer
from alignkit.stage import run_stage
from alignkit.webr import synthesize as syn


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer(reply=scripted) as srv:
        yield srv


def _docs(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docs.jsonl.gz"
    write_docs(path)
    return [str(path)]


def test_the_contract_holds_for_synthesize(server: FakeChatServer, tmp_path: Path) -> None:
    llm = f"openai:fake@{server.base_url}"

    def make_stage(**changes: Any) -> syn.SynthesizeStage:
        settings = {"llm": llm, "seed": SEED, "batch_size": 8, **changes}
        return syn.SynthesizeStage(syn.SynthesizeConfig(**settings))

    def cli_args(inputs: list[str], out: Path) -> list[str]:
        return [
            "webr",
            "synthesize",
            *inputs,
            "--out",
            str(out),
            "--llm",
            llm,
            "--seed",
            str(SEED),
            "--batch-size",
            "8",
            "--target-size",
            "10",
            "--no-gzip",
            "--no-progress",
        ]

    def cli_config(inputs: list[str], out: Path, config: Path) -> list[str]:
        config.write_text(
            f"llm: {llm}\nseed: {SEED}\nbatch-size: 8\ntarget_size: 10\ngzip: false\n",
            encoding="utf-8",
        )
        return ["webr", "synthesize", *inputs, "--out", str(out), "--config", str(config)]

    case = ContractCase(
        make_inputs=_docs,
        make_stage=make_stage,
        changed={"seed": SEED + 1},
        changed_keys=["config.seed"],
        run_cli=main,
        cli_args=cli_args,
        cli_config=cli_config,
        llm_requests=lambda: server.hits,
    )
    check_stage_contract(case, tmp_path)


def _synthesize(inputs: list[str], out: Path, llm: str, **settings: Any) -> dict[str, Any]:
    config = syn.SynthesizeConfig(llm=llm, seed=SEED, **settings)
    return syn.synthesize(inputs, out, config=config, progress=False)


def test_batching_does_not_change_the_output(server: FakeChatServer, tmp_path: Path) -> None:
    inputs = _docs(tmp_path / "in")
    llm = f"openai:fake@{server.base_url}"
    one = _synthesize(inputs, tmp_path / "one", llm)
    many = _synthesize(inputs, tmp_path / "many", llm, batch_size=3, workers=2)
    assert one["tasks"]["total"] == 1 and many["tasks"]["total"] == 8
    data = [(tmp_path / d / "synthetic.jsonl.gz").read_bytes() for d in ("one", "many")]
    assert data[0] == data[1]
    for key in ("written", "dropped", "categories", "families", "request_dedup"):
        assert one[key] == many[key], key
    assert sorted(p.name for p in (tmp_path / "many" / ".alignkit" / "llm-cache").glob("*.sqlite"))
    assert len(list((tmp_path / "many" / ".alignkit" / "parts" / "candidates").iterdir())) == 8


def test_near_duplicate_requests_are_removed_across_batches(
    server: FakeChatServer, tmp_path: Path
) -> None:
    inputs = _docs(tmp_path / "in")
    stats = _synthesize(inputs, tmp_path / "out", f"openai:fake@{server.base_url}", batch_size=1)
    assert stats["dropped"]["near_duplicate_request"] == 1
    with gzip.open(tmp_path / "out" / "synthetic.jsonl.gz", "rt", encoding="utf-8") as fh:
        ids = {json.loads(line)["metadata"]["doc_id"] for line in fh}
    assert ("dup-a" in ids) != ("dup-b" in ids)


def test_output_loads_as_a_dataset(server: FakeChatServer, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    inputs = _docs(tmp_path / "in")
    stats = _synthesize(inputs, tmp_path / "out", f"openai:fake@{server.base_url}")
    ds = datasets.load_dataset("json", data_dir=str(tmp_path / "out"), split="train")
    assert len(ds) == stats["written"]
    assert set(ds.column_names) == {"prompt_id", "messages", "metadata"}
    assert len(set(ds["prompt_id"])) == len(ds)


def test_zero_examples_is_an_error_saying_why(tmp_path: Path, capsys: Any) -> None:
    inputs = _docs(tmp_path / "in")
    with FakeChatServer(reply=lambda body: "I'm sorry, but I can't help with that.") as server:
        code = main(
            ["webr", "synthesize", *inputs, "--out", str(tmp_path / "o"), "--no-progress"]
            + ["--llm", f"openai:fake@{server.base_url}"]
        )
    assert code == 1
    err = capsys.readouterr().err
    assert "no examples written" in err and "refusal=" in err
    assert not (tmp_path / "o" / "synthetic.jsonl.gz").exists()


def test_one_backend_per_process_for_all_tasks(
    server: FakeChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import alignkit.llm

    real = alignkit.llm.make_backend
    built: list[str] = []

    def counting(spec: str, **options: Any) -> Any:
        built.append(spec)  # a local model would be loaded this often
        return real(spec, **options)

    monkeypatch.setattr(alignkit.llm, "make_backend", counting)
    monkeypatch.setattr(syn, "_BACKENDS", {})
    inputs = _docs(tmp_path / "in")
    stage = syn.SynthesizeStage(
        syn.SynthesizeConfig(llm=f"openai:fake@{server.base_url}", seed=SEED, batch_size=4)
    )
    report = run_stage(stage, inputs, tmp_path / "out", progress="off")
    assert report.tasks_run == 6 and len(built) == 1
    assert syn.SynthesizeStage(syn.SynthesizeConfig(llm="transformers")).parallel_tasks is False
