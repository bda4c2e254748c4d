"""Loading and validating FollowBench data: JSON folders, `datasets` folders, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignkit.followbench import CATEGORIES, FollowBenchDataError, load_followbench

from conftest import shared_file

FIXTURE = Path(__file__).parent / "data" / "followbench"


def test_fixture_loads_into_chains() -> None:
    data = load_followbench(FIXTURE)
    assert data.language == "en"
    summary = data.summary()
    assert summary["chains_per_category"] == {
        "content": 2,
        "example": 1,
        "format": 1,
        "mixed": 2,
        "situation": 2,
        "style": 1,
    }
    assert summary["items"] == 45 and summary["skipped"] == {}
    mixed = next(c for c in data.chains if c.chain_id == "mixed/1")
    assert mixed.category == "mixed" and mixed.source == "gigaword"
    assert [r.level for r in mixed.records] == [1, 2, 3, 4, 5]
    assert mixed.records[1].level_category == "format, format"
    assert mixed.initial_instruction and mixed.initial_instruction.startswith("Write a summary")
    example = next(c for c in data.chains if c.category == "example")
    assert example.initial_instruction is None and example.records[0].answer == "Reply: Yes"
    assert example.records[2].item_id == "example/1/L3"


def test_subset_and_unknown_category() -> None:
    data = load_followbench(FIXTURE)
    sub = data.subset(["content", "mixed"], max_chains=1)
    assert [c.chain_id for c in sub.chains] == ["content/1", "mixed/1"]
    with pytest.raises(ValueError, match="unknown categories"):
        data.subset(["tone"])


def test_datasets_folder(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = []
    for file in sorted(FIXTURE.glob("*.json")):
        rows += [
            {**r, "answer": r.get("answer")} for r in json.loads(file.read_text(encoding="utf-8"))
        ]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    from_disk = load_followbench(tmp_path / "ds")
    from_json = load_followbench(FIXTURE)
    assert sorted(c.chain_id for c in from_disk.chains) == sorted(
        c.chain_id for c in from_json.chains
    )
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(
        str(tmp_path / "dd")
    )
    assert len(load_followbench(tmp_path / "dd").chains) == len(from_json.chains)


def _write(path: Path, rows: object) -> Path:
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def _row(example_id: int, level: int, category: str = "style", **over: object) -> dict:
    row = {
        "example_id": example_id,
        "category": category,
        "source": "test",
        "level": level,
        "instruction": f"instruction {example_id}.{level}",
        "target": "",
    }
    row.update(over)
    return row


def test_bad_records_and_chains_are_skipped_and_counted(tmp_path: Path) -> None:
    good = [_row(1, lv) for lv in range(6)]
    missing_field = [_row(2, lv) for lv in range(6)]
    del missing_field[3]["instruction"]  # chain 2 loses level 3 -> incomplete
    unknown = [_row(3, lv, category="tone") for lv in range(6)]
    repeated_level = [_row(4, lv) for lv in range(6)] + [_row(4, 5)]
    bad_level = [_row(5, lv) for lv in range(6)] + [_row(6, "two")]
    same_id = [_row(1, lv) for lv in range(6)]  # style/1 again, in a file read first
    _write(tmp_path / "style_constraints.json", good + missing_field + unknown)
    _write(tmp_path / "more.json", same_id + repeated_level + bad_level)
    data = load_followbench(tmp_path)
    assert [c.chain_id for c in data.chains] == ["style/1", "style/4", "style/5"]
    assert data.chains[0].records[0].origin.endswith("more.json")
    assert dict(data.skipped) == {
        "record_missing_instruction": 1,
        "chain_incomplete": 2,  # chain 2 (its level 3 dropped) and the lone repeated level 5
        "chain_unknown_category": 1,
        "chain_duplicate_id": 1,
        "record_bad_level": 1,
    }


def test_unreadable_input_raises_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FollowBenchDataError, match="not found"):
        load_followbench(tmp_path / "nope")
    with pytest.raises(FollowBenchDataError, match="no FollowBench"):
        load_followbench(tmp_path)
    (tmp_path / "a.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(FollowBenchDataError, match="not valid JSON"):
        load_followbench(tmp_path)
    _write(tmp_path / "a.json", {"records": []})
    with pytest.raises(FollowBenchDataError, match="JSON list"):
        load_followbench(tmp_path)
    _write(tmp_path / "a.json", [_row(1, 1), _row(1, 2)])
    with pytest.raises(FollowBenchDataError, match="no complete"):
        load_followbench(tmp_path)


def test_real_english_and_chinese_data() -> None:
    en = load_followbench(shared_file("followbench", "data"))
    zh = load_followbench(shared_file("followbench", "data_zh"))
    assert en.language == "en" and zh.language == "zh"
    assert en.summary()["items"] == 820 and zh.summary()["items"] == 790
    assert set(en.by_category()) == set(CATEGORIES) == set(zh.by_category())
    assert not en.skipped and not zh.skipped
    assert all(r.answer for c in en.by_category()["example"] for r in c.records)
    assert all(r.answer is None for c in zh.by_category()["example"] for r in c.records)
