"""`webr prepare` on the stage kit: the stage contract, the output folder as a dataset, progress
in input bytes, `--keep-dropped` recorded in the config, and shards that yield nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stage_contract import ContractCase, check_stage_contract

from alignkit.cli.main import main
from alignkit.data.demo import write_demo_shards
from alignkit.errors import ConfigMismatchError, NothingProducedError, StageFailedError
from alignkit.stage import OutputFolder, Task, TaskContext, run_stage
from alignkit.webr.prepare import PrepareConfig, PrepareStage, check_prepared, run_prepare


def write_shards(folder: Path) -> list[str]:
    paths = write_demo_shards(folder, n_shards=2, docs_per_shard=12, seed=5, faults=False)
    return [str(p) for p in paths]


def test_prepare_stage_contract(tmp_path: Path) -> None:
    settings = {"min_text_chars": 3, "mode": "main", "quality_settings": {"min_words": 30}}

    def cli_args(inputs: list[str], out: Path) -> list[str]:
        flags = ["--min-text-chars", "3", "--mode", "main", "--min-words", "30", "--no-progress"]
        return ["webr", "prepare", *inputs, "--out", str(out), *flags]

    def cli_config(inputs: list[str], out: Path, config: Path) -> list[str]:
        keys = {"min_text_chars": 3, "mode": "main", "min_words": 30, "no_progress": True}
        config.write_text(json.dumps(keys))
        return ["webr", "prepare", *inputs, "--out", str(out), "--config", str(config)]

    case = ContractCase(
        make_inputs=write_shards,
        make_stage=lambda **changes: PrepareStage(PrepareConfig(**{**settings, **changes})),
        changed={"min_lang_confidence": 0.5},
        changed_keys=["config.min_lang_confidence"],
        run_cli=main,
        cli_args=cli_args,
        cli_config=cli_config,
    )
    check_stage_contract(case, tmp_path)


def test_output_folder_loads_as_the_documents(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    inputs = write_shards(tmp_path / "in")
    out = tmp_path / "out"
    report = run_prepare(PrepareConfig(), inputs, out, progress=False)
    check_prepared(report)
    ds = datasets.load_dataset("json", data_dir=str(out), split="train")
    assert len(ds) == report.stats["documents_kept"] > 0
    assert "text" in ds.column_names and "drop_reason" not in ds.column_names
    parquet = tmp_path / "parquet"
    pytest.importorskip("pyarrow")
    run_prepare(PrepareConfig(output_format="parquet"), inputs, parquet, progress=False)
    table = datasets.load_dataset("parquet", data_dir=str(parquet), split="train")
    assert table["text"] == ds["text"]


def test_progress_counts_each_shards_bytes_once(tmp_path: Path) -> None:
    shard = write_shards(tmp_path / "in")[0]
    stage = PrepareStage(PrepareConfig())
    (task,) = stage.plan([shard])
    assert task.weight == Path(shard).stat().st_size and task.id == Path(shard).name[:-8]
    folder = OutputFolder(tmp_path / "out")
    folder.ensure()
    seen: list[int] = []
    stage.run_task(task, TaskContext(folder, task, report=seen.append))
    assert sum(seen) == task.weight and all(n > 0 for n in seen)


def test_workers_write_byte_identical_shards(tmp_path: Path) -> None:
    inputs = write_shards(tmp_path / "in")
    one = run_prepare(PrepareConfig(), inputs, tmp_path / "one", progress=False)
    two = run_prepare(PrepareConfig(workers=2), inputs, tmp_path / "two", progress=False)
    assert one.stats["documents_kept"] == two.stats["documents_kept"]
    names = sorted(p.name for p in (tmp_path / "one").glob("*.jsonl.gz"))
    assert names and names == sorted(p.name for p in (tmp_path / "two").glob("*.jsonl.gz"))
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_keep_dropped_is_part_of_the_config(tmp_path: Path) -> None:
    inputs = write_shards(tmp_path / "in")
    out, dropped = tmp_path / "out", tmp_path / "dropped"
    report = run_prepare(
        PrepareConfig(keep_dropped=str(dropped), languages=("en",)), inputs, out, progress=False
    )
    files = sorted(dropped.glob("*.dropped.jsonl.gz"))
    assert [f.name for f in files] == [f"{Path(p).name[:-8]}.dropped.jsonl.gz" for p in inputs]
    assert not list(dropped.glob(".*"))  # no temporaries left behind
    assert report.stats["dropped"]["lang_not_allowed"] > 0
    # the dropped documents are an output of their shard's task: a lost file is written again
    files[0].unlink()
    again = run_prepare(
        PrepareConfig(keep_dropped=str(dropped), languages=("en",)), inputs, out, progress=False
    )
    assert again.tasks_run == 1 and files[0].is_file()
    # asking for the dropped documents elsewhere (or not at all) is another configuration
    with pytest.raises(ConfigMismatchError) as err:
        run_prepare(PrepareConfig(languages=("en",)), inputs, out, progress=False)
    assert err.value.keys == ["config.keep_dropped"]


def test_non_warc_shard_fails_naming_it_and_zero_documents_is_an_error(tmp_path: Path) -> None:
    inputs = write_shards(tmp_path / "in")
    text = tmp_path / "in" / "notes.warc.gz"
    text.write_text("not a crawl\n" * 20)
    report = run_prepare(PrepareConfig(), [*inputs, str(text)], tmp_path / "out", progress=False)
    assert list(report.failures) == ["notes"] and "notes.warc.gz" in report.failures["notes"]
    with pytest.raises(StageFailedError, match="notes"):
        check_prepared(report)
    strict = PrepareConfig(min_text_chars=10**9)
    report = run_stage(PrepareStage(strict), inputs, tmp_path / "strict", progress="off")
    assert report.complete and report.stats["documents_kept"] == 0
    with pytest.raises(NothingProducedError, match="no documents kept.*too_short|no documents"):
        check_prepared(report)


def test_two_inputs_with_one_stem_are_refused(tmp_path: Path) -> None:
    a = write_shards(tmp_path / "a")[0]
    b = write_shards(tmp_path / "b")[0]
    with pytest.raises(ValueError, match="same output"):
        PrepareStage(PrepareConfig()).plan([a, b])
    assert isinstance(PrepareStage(PrepareConfig()).plan([a])[0], Task)
