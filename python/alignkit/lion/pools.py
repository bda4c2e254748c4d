"""Lion's pools as files: instruction rows, their stable ids, seed loading, reading and writing.

An instruction row is `{"id", "instruction", "input", "origin", "iteration", "seed_id"}`;
`origin` is `seed`, `hard` or `easy`. The Train Pool's rows add the teacher's `response` and
`finish_reason`. The Cache Pool is the same instructions without responses: in the method both
pools start from the seeds and every new instruction joins both, so one instruction list (with
the teacher's answers kept beside it) stands for both.

Seed files are JSON lines or JSON (gzip or plain) with `instruction` and optional `input`
(Alpaca rows: `output` is ignored, as the method regenerates every answer with the teacher;
self-instruct seed tasks: the first instance's `input`). Bad rows are counted and logged by
`alignkit.data.rows.RowReader`; rows without a usable instruction are counted as skipped.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from alignkit.data.io import open_gzip_text_writer
from alignkit.data.rows import RowReader
from alignkit.errors import InputError, InputNotFoundError

log = logging.getLogger(__name__)

ORIGINS = ("seed", "hard", "easy")
DEFAULT_SEED_FILE = "seed_instructions.jsonl"
DEFAULT_EVAL_FILE = "eval_questions.jsonl"


def lion_id(instruction: str, input_text: str = "") -> str:
    """A stable id: the first 16 hex digits of sha256(instruction + U+001F + input)."""
    blob = f"{instruction}\x1f{input_text}".encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def instruction_row(
    instruction: str,
    input_text: str = "",
    *,
    origin: str = "seed",
    iteration: int = 0,
    seed_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, not {origin!r}")
    return {
        "id": lion_id(instruction, input_text),
        "instruction": instruction,
        "input": input_text,
        "origin": origin,
        "iteration": iteration,
        "seed_id": seed_id,
        **extra,
    }


def package_data_file(name: str) -> Path:
    """A file shipped in `alignkit/lion/data/`."""
    path = Path(str(resources.files("alignkit.lion") / "data" / name))
    if not path.is_file():
        raise InputNotFoundError(f"alignkit's packaged Lion data file {name} is missing")
    return path


def read_rows(paths: Iterable[str | Path], stats: Counter[str] | None = None) -> list[dict]:
    """Every good row of these files, in order (bad rows counted into `stats` and logged)."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise InputNotFoundError(f"row file not found: {path}")
        reader = RowReader(path)
        rows.extend(row.value for row in reader)
        if stats is not None:
            for key, value in reader.stats().items():
                if isinstance(value, int):
                    stats[f"read_{key}"] += value
                elif isinstance(value, Mapping):
                    for reason, count in value.items():
                        stats[f"{key}_{reason}"] += int(count)
    return rows


def _seed_fields(value: Mapping[str, Any]) -> tuple[str, str] | None:
    instruction = value.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        return None
    input_text = value.get("input")
    if input_text is None:
        instances = value.get("instances")
        if isinstance(instances, list) and instances and isinstance(instances[0], Mapping):
            input_text = instances[0].get("input")
    if input_text is None:
        input_text = ""
    if not isinstance(input_text, str):
        return None
    return instruction.strip(), input_text.strip()


def load_seed_instructions(
    paths: Sequence[str | Path] = (),
    *,
    limit: int | None = None,
    sample_seed: int = 0,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Seed instruction rows (origin `seed`, iteration 0), de-duplicated by id, in file order;
    with `limit`, a seeded uniform sample of that many (kept in file order). No paths: the seed
    set shipped with alignkit."""
    files = [Path(p) for p in paths] or [package_data_file(DEFAULT_SEED_FILE)]
    stats: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for value in read_rows(files, stats):
        fields = _seed_fields(value)
        if fields is None:
            stats["skipped_no_instruction"] += 1
            continue
        row = instruction_row(*fields)
        if row["id"] in seen:
            stats["skipped_duplicate"] += 1
            continue
        seen.add(row["id"])
        rows.append(row)
    if not rows:
        raise InputError(f"no usable seed instruction in {', '.join(map(str, files))}")
    if limit is not None and limit < len(rows):
        keep = set(random.Random(sample_seed).sample(range(len(rows)), limit))
        stats["not_sampled"] = len(rows) - limit
        rows = [row for i, row in enumerate(rows) if i in keep]
    stats["seeds"] = len(rows)
    return rows, dict(stats)


def write_rows(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Rows as gzip JSON lines (byte-identical for identical rows); returns the count."""
    import json

    count = 0
    with open_gzip_text_writer(path) as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count


def unique_by_id(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """First row of each id, in order."""
    seen: set[str] = set()
    out = []
    for row in rows:
        if row["id"] not in seen:
            seen.add(row["id"])
            out.append(dict(row))
    return out


def request_seed(row_id: str, salt: str = "") -> int:
    """A stable per-request sampling seed (so a resumed run asks the same and hits the cache)."""
    return int(hashlib.sha256(f"{salt}:{row_id}".encode()).hexdigest()[:8], 16)
