"""Loading instruction datasets (`alignkit.data.chat`) in every accepted format and layout."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

from alignkit.data.chat import DatasetFormatError, detect_format, load_chat_dataset, row_to_example


def _write_jsonl(path: Path, rows: list) -> Path:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


CHAT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "6"},
    ]
}


def test_chat_messages() -> None:
    ex, layout = row_to_example(CHAT)
    assert layout == "messages"
    assert (ex.instruction, ex.response, ex.turns) == ("What is 2+2?", "4", 4)
    sharegpt = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]}
    ex, _ = row_to_example(sharegpt)
    assert (ex.instruction, ex.response, ex.turns) == ("Hi", "Yo", 2)
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Look"}]}]}
    ex, _ = row_to_example(parts)
    assert (ex.instruction, ex.response, ex.turns) == ("Look", None, 1)


def test_prompt_completion_and_instruction_layouts() -> None:
    ex, layout = row_to_example({"prompt": "Say hi", "completion": "hi"})
    assert layout == "prompt_completion" and (ex.instruction, ex.response) == ("Say hi", "hi")
    conversational = {
        "prompt": [{"role": "user", "content": "Name a colour"}],
        "completion": [{"role": "assistant", "content": "Blue"}],
    }
    ex, _ = row_to_example(conversational)
    assert (ex.instruction, ex.response, ex.turns) == ("Name a colour", "Blue", 2)
    ex, _ = row_to_example({"prompt": "Pick", "chosen": "A", "rejected": "B"})
    assert ex.response == "A"
    ex, layout = row_to_example({"instruction": "Sum", "input": "1 2", "output": "3"})
    assert layout == "instruction" and ex.instruction == "Sum\n\n1 2" and ex.response == "3"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ([1, 2], "not_an_object"),
        ({"text": "x"}, "unknown_layout"),
        ({"messages": "hi"}, "messages_not_a_list"),
        ({"messages": [{"role": "assistant", "content": "only me"}]}, "no_user_turn"),
        ({"messages": [{"content": "no role"}]}, "bad_message"),
        ({"prompt": "   "}, "empty_prompt"),
        ({"instruction": ""}, "empty_instruction"),
    ],
)
def test_bad_rows(row, reason) -> None:
    assert row_to_example(row) == (None, reason)


def test_jsonl_gz_with_bad_rows(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "d.jsonl.gz",
        [CHAT, "{not json", {"text": "x"}, "", {"prompt": "P", "completion": "C"}, "[1]"],
    )
    ds = load_chat_dataset(path)
    assert ds.format == "jsonl" and len(ds.examples) == 2
    assert ds.rows_read == 5 and ds.bad_rows == 3
    assert dict(ds.bad_reasons) == {"invalid_json": 1, "unknown_layout": 1, "not_an_object": 1}
    assert ds.instructions == ["What is 2+2?", "P"]
    assert len(load_chat_dataset(path, max_rows=1).examples) == 1


def test_json_array(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"instruction": "A", "output": "B"}] * 3))
    ds = load_chat_dataset(path)
    assert len(ds.examples) == 3 and ds.layouts["instruction"] == 3


def test_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [
        CHAT,
        {"messages": [{"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2"}]},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "chat.parquet")
    ds = load_chat_dataset(tmp_path / "chat.parquet")
    assert ds.format == "parquet"
    assert [(e.instruction, e.response) for e in ds.examples] == [
        ("What is 2+2?", "4"),
        ("Q2", "A2"),
    ]
    pq.write_table(
        pa.Table.from_pylist([{"prompt": "p", "completion": "c"}]), tmp_path / "pc.parquet"
    )
    assert load_chat_dataset(tmp_path / "pc.parquet").examples[0].response == "c"
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetFormatError, match="not a readable Parquet"):
        load_chat_dataset(tmp_path / "broken.parquet")


def test_saved_datasets_directory(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list([{"prompt": "p1", "completion": "c1"}]).save_to_disk(tmp_path / "d")
    ds = load_chat_dataset(tmp_path / "d")
    assert ds.format == "hf-disk" and ds.examples[0].instruction == "p1"


def test_saved_dataset_without_datasets_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "dataset_info.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "datasets", None)  # import fails
    with pytest.raises(RuntimeError, match="pip install datasets"):
        load_chat_dataset(tmp_path / "d")


def test_format_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset not found"):
        detect_format(tmp_path / "nope.jsonl")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DatasetFormatError, match="unknown dataset format"):
        detect_format(tmp_path / "x.csv")
    with pytest.raises(DatasetFormatError, match="not a dataset saved"):
        detect_format(tmp_path)
