"""Lion pool rows: stable ids, seed formats (Alpaca, self-instruct, plain), hostile rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from alignkit.errors import InputError, InputNotFoundError
from alignkit.lion.pools import (
    instruction_row,
    lion_id,
    load_seed_instructions,
    read_rows,
    request_seed,
    write_rows,
)

SHARED_SEEDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "lion" / "seed_tasks.jsonl"


def test_ids_are_stable_and_separate_instruction_from_input():
    assert lion_id("Sort the list.", "3 1 2") == lion_id("Sort the list.", "3 1 2")
    assert lion_id("Sort the list.", "3 1 2") != lion_id("Sort the list. 3 1 2", "")
    assert len(lion_id("x")) == 16
    assert request_seed("abc", "teacher") != request_seed("abc", "student")
    with pytest.raises(ValueError):
        instruction_row("x", origin="medium")


def test_seed_formats_duplicates_and_bad_rows(tmp_path: Path):
    path = tmp_path / "seeds.jsonl"
    rows = [
        {"instruction": "Name three rivers.", "input": "", "output": "ignored"},  # Alpaca
        {"instruction": "Translate.", "instances": [{"input": "Hallo", "output": "Hello"}]},
        {"instruction": "  Name three rivers.  "},  # same after stripping: a duplicate
        {"instruction": ""},
        {"prompt": "no instruction field"},
        {"instruction": "Bad input", "input": 5},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n", encoding="utf-8")
    seeds, stats = load_seed_instructions([path])
    assert [(s["instruction"], s["input"]) for s in seeds] == [
        ("Name three rivers.", ""),
        ("Translate.", "Hallo"),
    ]
    assert all(s["origin"] == "seed" and s["iteration"] == 0 for s in seeds)
    assert stats["skipped_duplicate"] == 1
    assert stats["skipped_no_instruction"] == 3
    assert sum(v for k, v in stats.items() if k.startswith("skipped_") and "json" in k) == 1


def test_seed_sample_is_seeded_and_keeps_file_order(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"instruction": f"Task {i}"}) + "\n" for i in range(50)))
    a, _ = load_seed_instructions([path], limit=10, sample_seed=1)
    b, _ = load_seed_instructions([path], limit=10, sample_seed=1)
    c, _ = load_seed_instructions([path], limit=10, sample_seed=2)
    assert a == b and a != c and len(a) == 10
    numbers = [int(r["instruction"].split()[1]) for r in a]
    assert numbers == sorted(numbers)


def test_no_usable_seed_and_missing_file_are_clear_errors(tmp_path: Path):
    empty = tmp_path / "e.jsonl"
    empty.write_text(json.dumps({"text": "x"}) + "\n")
    with pytest.raises(InputError, match="no usable seed"):
        load_seed_instructions([empty])
    with pytest.raises(InputNotFoundError):
        load_seed_instructions([tmp_path / "missing.jsonl"])


def test_packaged_seed_set_loads():
    seeds, stats = load_seed_instructions()
    assert len(seeds) >= 200
    assert stats.get("skipped_duplicate", 0) == 0


@pytest.mark.skipif(not SHARED_SEEDS.is_file(), reason="../shared/data/lion is not present")
def test_self_instruct_seed_tasks_load():
    seeds, _ = load_seed_instructions([SHARED_SEEDS])
    assert len(seeds) == 175


def test_written_rows_are_gzip_json_lines_and_byte_identical(tmp_path: Path):
    rows = [instruction_row("Say hi."), instruction_row("Say bye.", origin="hard", iteration=2)]
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    assert write_rows(a, rows) == 2
    write_rows(b, rows)
    assert a.read_bytes() == b.read_bytes()
    assert [json.loads(x) for x in gzip.decompress(a.read_bytes()).splitlines()] == rows
    assert read_rows([a]) == rows
