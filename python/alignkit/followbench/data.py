"""Loading and validating FollowBench data: a folder of the JSON files, or a `datasets` dataset.

FollowBench groups instructions into chains: one instruction (level 0) and the same instruction
with 1..5 added constraints (levels 1..5), all of one constraint category. Records carry
`example_id`, `category`, `source`, `level`, `instruction`, `target` and, for example
constraints, `answer`. Chains are formed from consecutive records of one file (a new chain starts
where the level stops increasing or the example id changes); the chain's category is `mixed`
when any of its records says `mixed` or lists several categories (`"format, content"`),
otherwise its records' single category. A chain is kept when it has every level 1..5 exactly
once; anything else is skipped and counted by reason, never guessed.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit.data.rows import RowReader
from alignkit.errors import InputError

log = logging.getLogger(__name__)

CATEGORIES = ("content", "situation", "style", "format", "example", "mixed")
LEVELS = (1, 2, 3, 4, 5)
REQUIRED_FIELDS = ("example_id", "category", "source", "level", "instruction", "target")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class FollowBenchDataError(ValueError):
    """The data cannot be read at all (missing folder, no JSON files, not a list of records)."""


@dataclasses.dataclass(frozen=True)
class Record:
    """One FollowBench instruction at one level of one chain.

    `category` is the chain's category (one of CATEGORIES); `level_category` is the record's own
    `category` field (for mixed chains it lists the kinds of constraints added so far).
    `answer` is the reference answer of example constraints (English data only), else None.
    """

    chain_id: str
    example_id: int
    category: str
    level_category: str
    source: str
    level: int
    instruction: str
    target: str
    answer: str | None
    language: str
    origin: str

    @property
    def item_id(self) -> str:
        """Stable id of this (chain, level): `content/7/L3`."""
        return f"{self.chain_id}/L{self.level}"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


@dataclasses.dataclass(frozen=True)
class Chain:
    """A level-0 instruction (may be absent, as for example constraints) and levels 1..5."""

    chain_id: str
    category: str
    source: str
    language: str
    initial_instruction: str | None
    records: tuple[Record, ...]

    def record(self, level: int) -> Record:
        return self.records[level - 1]

    def path(self, level: int) -> list[str]:
        """The instructions of levels 1..level, in order (the constraint-evolution path)."""
        return [r.instruction for r in self.records[:level]]


@dataclasses.dataclass
class FollowBenchData:
    """Loaded chains plus what was skipped and why."""

    chains: list[Chain]
    language: str
    source: str
    records_read: int = 0
    skipped: Counter[str] = dataclasses.field(default_factory=Counter)

    def records(self) -> list[Record]:
        return [r for chain in self.chains for r in chain.records]

    def by_category(self) -> dict[str, list[Chain]]:
        out: dict[str, list[Chain]] = {}
        for chain in self.chains:
            out.setdefault(chain.category, []).append(chain)
        return out

    def subset(
        self, categories: Sequence[str] | None = None, max_chains: int | None = None
    ) -> FollowBenchData:
        """Only `categories` (all when None), at most `max_chains` per category, in file order."""
        if categories:
            unknown = sorted(set(categories) - set(CATEGORIES))
            if unknown:
                raise ValueError(
                    f"unknown categories {', '.join(unknown)}; known: {', '.join(CATEGORIES)}"
                )
        kept: list[Chain] = []
        per_category: Counter[str] = Counter()
        for chain in self.chains:
            if categories and chain.category not in categories:
                continue
            if max_chains is not None and per_category[chain.category] >= max_chains:
                continue
            per_category[chain.category] += 1
            kept.append(chain)
        return dataclasses.replace(self, chains=kept, skipped=Counter(self.skipped))

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "language": self.language,
            "records_read": self.records_read,
            "chains": len(self.chains),
            "items": sum(len(c.records) for c in self.chains),
            "chains_per_category": dict(Counter(c.category for c in self.chains)),
            "skipped": dict(self.skipped),
        }


def detect_language(texts: Iterable[str]) -> str:
    """`zh` when at least 20% of the letters are CJK ideographs, else `en`."""
    cjk = letters = 0
    for text in texts:
        for ch in text:
            if ch.isalpha():
                letters += 1
                cjk += bool(_CJK.match(ch))
    return "zh" if letters and cjk / letters >= 0.2 else "en"


def _validate_row(row: Any) -> str | None:
    """Why `row` is not a usable record, or None when it is."""
    if not isinstance(row, Mapping):
        return "not_an_object"
    for name in REQUIRED_FIELDS:
        if name not in row:
            return f"missing_{name}"
    if isinstance(row["level"], bool) or not isinstance(row["level"], int):
        return "bad_level"
    if not 0 <= row["level"] <= 5:
        return "level_out_of_range"
    if isinstance(row["example_id"], bool) or not isinstance(row["example_id"], (int, str)):
        return "bad_example_id"
    for name in ("category", "source", "instruction", "target"):
        if not isinstance(row[name], str):
            return f"bad_{name}"
    if row.get("answer") is not None and not isinstance(row["answer"], str):
        return "bad_answer"
    return None


def _chain_category(rows: Sequence[Mapping[str, Any]]) -> str | None:
    kinds = {str(r["category"]).strip().lower() for r in rows}
    if any(k == "mixed" or "," in k for k in kinds):
        return "mixed"
    if len(kinds) == 1:
        (kind,) = kinds
        return kind if kind in CATEGORIES else None
    return None


def _numeric_id(example_id: int | str) -> int | str:
    """`"7"` -> 7; any other id (`"a7"`, `"²"`, which `str.isdigit` accepts but `int` does not)
    stays as it is."""
    if isinstance(example_id, str) and example_id.isascii() and example_id.isdecimal():
        return int(example_id)
    return example_id


def _group_rows(rows: Sequence[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    group: list[Mapping[str, Any]] = []
    for row in rows:
        if group and (
            row["example_id"] != group[-1]["example_id"] or row["level"] <= group[-1]["level"]
        ):
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def build_chains(
    rows: Sequence[Any], origin: str, language: str, skipped: Counter[str]
) -> list[Chain]:
    """Validate `rows` (in file order) and group them into complete chains."""
    good: list[Mapping[str, Any]] = []
    for index, row in enumerate(rows):
        why = _validate_row(row)
        if why is not None:
            skipped[f"record_{why}"] += 1
            log.warning("%s: record %d skipped (%s)", origin, index, why)
            continue
        good.append(row)
    chains: list[Chain] = []
    seen_ids: set[str] = set()
    for group in _group_rows(good):
        category = _chain_category(group)
        levels = [r["level"] for r in group]
        example_id = group[0]["example_id"]
        where = f"{origin} example_id={example_id}"
        if category is None:
            skipped["chain_unknown_category"] += 1
            log.warning("%s: chain skipped (unknown category)", where)
            continue
        if [lv for lv in levels if lv > 0] != list(LEVELS) or levels.count(0) > 1:
            skipped["chain_incomplete"] += 1
            log.warning("%s: chain skipped (levels %s, need 1..5 once)", where, levels)
            continue
        chain_id = f"{category}/{example_id}"
        if chain_id in seen_ids:
            skipped["chain_duplicate_id"] += 1
            log.warning("%s: chain skipped (duplicate id %s)", where, chain_id)
            continue
        if category == "example" and any("{answer}" not in r["target"] for r in group):
            skipped["chain_bad_example_template"] += 1
            log.warning("%s: chain skipped (example target without {answer})", where)
            continue
        seen_ids.add(chain_id)
        initial = next((r["instruction"] for r in group if r["level"] == 0), None)
        records = tuple(
            Record(
                chain_id=chain_id,
                example_id=_numeric_id(example_id),
                category=category,
                level_category=str(r["category"]),
                source=r["source"],
                level=r["level"],
                instruction=r["instruction"],
                target=r["target"],
                answer=r.get("answer"),
                language=language,
                origin=origin,
            )
            for r in group
            if r["level"] > 0
        )
        chains.append(
            Chain(
                chain_id=chain_id,
                category=category,
                source=group[-1]["source"],
                language=language,
                initial_instruction=initial,
                records=records,
            )
        )
    return chains


def _read_json_rows(path: Path, skipped: Counter[str]) -> list[Any]:
    """The records of a `.json` array or `.jsonl` file; records that cannot be read (bad JSON,
    too deeply nested, lone surrogates, not objects) are skipped, logged naming file and row,
    and counted in `skipped` as `record_<reason>`."""
    reader = RowReader(path)
    try:
        if path.suffix == ".json" and not reader.is_json_array():
            raise FollowBenchDataError(
                f"{path} must hold a JSON list of records (it is not valid JSON, or not a list)"
            )
        rows = [row.value for row in reader]
    except InputError as exc:
        raise FollowBenchDataError(str(exc)) from None
    skipped.update({f"record_{why}": n for why, n in reader.skipped.items()})
    return rows


def _load_dataset_rows(path: Path) -> list[tuple[str, list[Any]]]:
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is in the test extra
        raise FollowBenchDataError(
            f"{path} looks like a `datasets` dataset; install `datasets` to read it"
        ) from exc
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        return [(f"{path}[{name}]", list(split)) for name, split in loaded.items()]
    return [(str(path), list(loaded))]


def load_followbench(path: str | os.PathLike[str], language: str | None = None) -> FollowBenchData:
    """Read FollowBench from a folder of `*.json`/`*.jsonl` files or a `datasets.save_to_disk`
    folder (a Dataset or a DatasetDict). `language` (`en`/`zh`) is detected when None.
    """
    root = Path(path)
    unreadable: Counter[str] = Counter()
    if not root.exists():
        raise FollowBenchDataError(f"FollowBench data not found: {root}")
    if root.is_dir() and (
        (root / "dataset_info.json").is_file() or (root / "dataset_dict.json").is_file()
    ):
        sources = _load_dataset_rows(root)
    else:
        files = (
            [root]
            if root.is_file()
            else sorted(p for p in root.iterdir() if p.suffix in (".json", ".jsonl"))
        )
        if not files:
            inside = [d.name for d in sorted(root.iterdir()) if d.is_dir()]
            hint = f" (sub-folders: {', '.join(inside)})" if inside else ""
            raise FollowBenchDataError(f"no FollowBench *.json files in {root}{hint}")
        sources = [(str(file), _read_json_rows(file, unreadable)) for file in files]
    if language is None:
        language = detect_language(
            str(row.get("instruction", ""))
            for _, rows in sources
            for row in rows[:200]
            if isinstance(row, Mapping)
        )
    if language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', not {language!r}")
    skipped = Counter(unreadable)
    chains: list[Chain] = []
    seen: set[str] = set()
    read = sum(unreadable.values())
    for origin, rows in sources:
        read += len(rows)
        for chain in build_chains(rows, origin, language, skipped):
            if chain.chain_id in seen:
                skipped["chain_duplicate_id"] += 1
                log.warning("%s: chain %s appears twice; kept the first", origin, chain.chain_id)
                continue
            seen.add(chain.chain_id)
            chains.append(chain)
    if not chains:
        raise FollowBenchDataError(
            f"no complete FollowBench chains in {root} (skipped: {dict(skipped) or 'nothing'})"
        )
    return FollowBenchData(
        chains=chains, language=language, source=str(root), records_read=read, skipped=skipped
    )
