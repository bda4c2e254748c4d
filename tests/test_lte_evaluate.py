"""`lte eval` on the stage kit: rows and results.json for 10 real ZsRE edits with a tiny random
model, chunked sequential runs equal one run, results are the means of the rows, resume after a
killed chunk, and the HTML report."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from test_lte_editor import ZSRE, bow_embed

from tiny_models import save_tiny_llama

pytest.importorskip("torch")
pytest.importorskip("transformers")

from alignkit.errors import ConfigError, InputError  # noqa: E402
from alignkit.lte.evaluate import EditEvalConfig, EditEvalStage, summarize  # noqa: E402
from alignkit.lte.report import render_lte_report, write_lte_report  # noqa: E402
from alignkit.stage import run_stage  # noqa: E402

needs_zsre = pytest.mark.skipif(not ZSRE.exists(), reason="shared KnowEdit ZsRE data absent")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama", seed=2)


def ten_edits(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ZsRE-test-10.json"
    path.write_text(json.dumps(json.loads(ZSRE.read_text())[:10]), encoding="utf-8")
    return [str(path)]


def stage(model_dir: Path, **options) -> EditEvalStage:
    settings = {"model": str(model_dir), "fluency": False, "chunk_size": 4, **options}
    return EditEvalStage(EditEvalConfig(**settings), embed=bow_embed)


def read_rows(out: Path) -> list[dict]:
    rows = []
    for path in sorted(out.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            rows.extend(json.loads(line) for line in lines)
    return rows


@needs_zsre
@pytest.mark.slow
def test_sequential_rows_and_results_on_ten_zsre_edits(model_dir: Path, tmp_path: Path) -> None:
    inputs = ten_edits(tmp_path / "in")
    out = tmp_path / "out"
    scored = stage(model_dir, fluency=True, max_new_tokens=5)
    report = run_stage(scored, inputs, out, progress="off")
    assert report.complete and report.tasks_total == 3  # chunks of 4, 4, 2
    assert sorted(p.name for p in out.glob("*.jsonl.gz")) == [
        "ZsRE-test-10.00000.jsonl.gz",
        "ZsRE-test-10.00004.jsonl.gz",
        "ZsRE-test-10.00008.jsonl.gz",
    ]
    rows = read_rows(out)
    assert [r["case_id"] for r in rows] == list(range(10))
    assert [r["memory_size"] for r in rows] == list(range(1, 11))  # 1..i whatever the chunk
    assert rows[0]["edit_id"] == "zsre-00000" and rows[0]["dataset"] == "ZsRE-test-10"
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["mode"] == "sequential"
    assert results["word_tokenizer"]
    data = results["datasets"]["ZsRE-test-10"]
    assert data["edits"] == 10 and data["counts"]["with_locality"] == 10
    assert data == summarize(rows)
    assert data["post"]["edit_success"] == pytest.approx(
        100 * sum(r["post"]["rewrite_acc"] for r in rows) / 10, abs=0.01
    )
    locality = [
        sum(r["post"]["locality"].values()) / len(r["post"]["locality"])
        for r in rows
        if r["post"]["locality"]
    ]
    assert locality  # ZsRE has Relation_Specificity on every edit
    assert "retrieval" in data and data["post"]["fluency"] is not None
    html = render_lte_report(results)
    assert "ZsRE-test-10" in html and "<script" not in html
    assert write_lte_report(results, tmp_path / "r.html").read_text() == html


@needs_zsre
@pytest.mark.slow
def test_chunking_and_resume_do_not_change_rows(model_dir: Path, tmp_path: Path) -> None:
    inputs = ten_edits(tmp_path / "in")
    whole = tmp_path / "whole"
    run_stage(stage(model_dir, chunk_size=10), inputs, whole, progress="off")
    chunked = tmp_path / "chunked"
    victim = stage(model_dir)
    original = victim.run_task

    def dying(task, ctx):
        if task.id.endswith("00004"):
            raise RuntimeError("killed (injected)")
        return original(task, ctx)

    victim.run_task = dying
    broken = run_stage(victim, inputs, chunked, progress="off")
    assert list(broken.failures) == ["ZsRE-test-10.00004"]
    assert not (chunked / "results.json").exists()
    resumed = run_stage(stage(model_dir), inputs, chunked, progress="off")
    assert resumed.complete and resumed.tasks_run == 1
    assert read_rows(chunked) == read_rows(whole)


@needs_zsre
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["batch", "gold"])
def test_batch_and_gold_modes(model_dir: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / mode
    run_stage(stage(model_dir, mode=mode, max_edits=6), ten_edits(tmp_path / "in"), out)
    rows = read_rows(out)
    assert len(rows) == 6
    if mode == "batch":
        assert [r["memory_size"] for r in rows] == [6] * 6
    else:
        assert all(r["memory_size"] is None for r in rows)
        assert (
            "retrieval"
            not in json.loads((out / "results.json").read_text())["datasets"]["ZsRE-test-10"]
        )


def test_summarize_by_hand() -> None:
    rows = [
        {
            "pre": {"rewrite_acc": 0.0, "portability": {"R_acc": 0.5}},
            "post": {
                "rewrite_acc": 1.0,
                "rewrite_retrieved_acc_1": 1.0,
                "locality": {"A_acc": 1.0, "B_acc": 0.5, "A_retrieved_acc_1": 0.0},
                "portability": {"R_acc": 1.0, "S_acc": 0.0},
                "fluency": {"ngram_entropy": 5.0},
            },
        },
        {
            "pre": {"rewrite_acc": 0.5, "portability": {}},
            "post": {
                "rewrite_acc": 0.5,
                "rephrase_acc": 0.25,
                "rewrite_retrieved_acc_1": 0.0,
                "locality": {"A_acc": 0.0},
                "portability": {},
                "fluency": {"ngram_entropy": 3.0},
            },
        },
    ]
    got = summarize(rows)
    assert got["pre"]["rewrite_acc"] == 25.0
    assert got["post"]["edit_success"] == 75.0
    assert got["post"]["rephrase_acc"] == 25.0  # only the edit that has one
    assert got["post"]["portability"] == 50.0  # edit 1: mean(1, 0); edit 2 has none
    assert got["post"]["portability_by_kind"] == {"R": 100.0, "S": 0.0}
    assert got["post"]["locality"] == 37.5  # mean(mean(1, .5), 0)
    assert got["post"]["locality_by_kind"] == {"A": 50.0, "B": 50.0}
    assert got["post"]["fluency"] == 400.0
    assert got["retrieval"]["top1"]["rewrite"] == 50.0
    assert got["retrieval"]["top1"]["locality"] == 0.0
    assert got["counts"] == {"with_rephrase": 1, "with_portability": 1, "with_locality": 2}


def test_bad_configs_and_inputs(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="k must be"):
        EditEvalConfig(k=0)
    with pytest.raises(ConfigError):
        EditEvalConfig(mode="parallel")
    with pytest.raises(ConfigError, match="chunk_size"):
        EditEvalConfig(chunk_size=0)
    with pytest.raises(InputError, match="at least one"):
        stage(model_dir).plan([])
    with pytest.raises(InputError, match="model folder not found"):
        EditEvalStage(EditEvalConfig(model=str(tmp_path / "absent"))).plan(["x.json"])
    empty = tmp_path / "zsre-empty.json"
    empty.write_text("[]")
    with pytest.raises(InputError, match="no usable edits"):
        stage(model_dir).plan([str(empty)])
    not_json = tmp_path / "zsre-bad.json"
    not_json.write_text("{oops")
    with pytest.raises(InputError, match="neither a JSON list"):
        stage(model_dir).plan([str(not_json)])


def test_report_escapes_names_and_shows_dashes_for_missing_values(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    results = {
        "config": {"model": hostile, "mode": "gold"},
        "word_tokenizer": "regex",
        "datasets": {hostile: {"edits": 2, "pre": {}, "post": {"rewrite_acc": 50.0}}},
    }
    html = render_lte_report(results)
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<td>50.00</td>" in html and "<td>–</td>" in html
    assert "No datasets" in render_lte_report({})


def test_fingerprint_does_not_change_once_the_model_is_loaded(model_dir: Path) -> None:
    built = stage(model_dir)
    before = built.fingerprint()
    built._editor()  # what run_task does on the first task
    assert built.fingerprint() == before and "editor_model" not in before
