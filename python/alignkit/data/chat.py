"""Instruction datasets in the common chat formats, reduced to (instruction, response) pairs.

Accepted inputs:

- JSONL (`.jsonl`, `.jsonl.gz`, also `.json` / `.json.gz` holding JSON lines or one JSON array)
  and Parquet (`.parquet`, needs pyarrow);
- a `datasets` dataset saved with `save_to_disk` (a directory; needs the `datasets` package).

Accepted row layouts (checked in this order):

- chat: `messages` (or `conversations`), a list of `{role, content}` (ShareGPT `{from, value}`
  works too). Instruction = first user turn; response = first assistant turn after it; turns =
  number of user and assistant messages.
- TRL prompt/completion: `prompt` with `completion` (or `chosen`), each a string or a list of
  messages.
- Alpaca-style: `instruction` (+ optional `input`) with `output` / `response`.

A row that fits none of these (or is not valid JSON, or has an empty instruction) is counted as
bad, with its reason, and skipped; loading never fails because of a bad row.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignkit.data.rows import RowReader

log = logging.getLogger(__name__)

USER_ROLES = ("user", "human")
ASSISTANT_ROLES = ("assistant", "gpt", "model", "bot")
FILE_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet")


class DatasetFormatError(ValueError):
    """The input is not a dataset format we can read."""


@dataclasses.dataclass(frozen=True)
class ChatExample:
    """One conversation reduced to its first exchange."""

    instruction: str
    response: str | None
    turns: int
    # Lengths before the texts were cut to `max_text_chars` (None: not cut).
    instruction_chars: int | None = None
    response_chars: int | None = None

    def cut(self, limit: int) -> ChatExample:
        """This example with both texts cut to `limit` characters, their full lengths kept."""
        response = self.response
        if len(self.instruction) <= limit and (response is None or len(response) <= limit):
            return self
        return dataclasses.replace(
            self,
            instruction=self.instruction[:limit],
            response=None if response is None else response[:limit],
            instruction_chars=len(self.instruction),
            response_chars=None if response is None else len(response),
        )


@dataclasses.dataclass
class ChatDataset:
    """A loaded dataset: its examples and what was skipped."""

    path: str
    format: str
    examples: list[ChatExample]
    rows_read: int = 0
    bad_rows: int = 0
    bad_reasons: Counter[str] = dataclasses.field(default_factory=Counter)
    layouts: Counter[str] = dataclasses.field(default_factory=Counter)
    read_faults: Counter[str] = dataclasses.field(default_factory=Counter)
    truncated_rows: int = 0

    @property
    def instructions(self) -> list[str]:
        return [e.instruction for e in self.examples]

    @property
    def responses(self) -> list[str]:
        return [e.response for e in self.examples if e.response is not None]


def _text(content: Any) -> str | None:
    """Message content as text: a string, or a list of parts with `text` (multimodal style)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            p if isinstance(p, str) else p.get("text")
            for p in content
            if isinstance(p, str) or (isinstance(p, dict) and isinstance(p.get("text"), str))
        ]
        return "\n".join(parts) if parts else None
    return None


def role_and_text(message: Any) -> tuple[str, str | None] | None:
    """(lower-cased role, text) of a chat message in OpenAI (`role`/`content`) or ShareGPT
    (`from`/`value`) form; None when it is not a message."""
    if not isinstance(message, dict):
        return None
    role = message.get("role", message.get("from"))
    content = message.get("content", message.get("value"))
    if not isinstance(role, str):
        return None
    return role.lower(), _text(content)


def _from_messages(messages: Any) -> tuple[ChatExample | None, str | None]:
    if not isinstance(messages, list) or not messages:
        return None, "messages_not_a_list"
    parsed = [role_and_text(m) for m in messages]
    if any(p is None for p in parsed):
        return None, "bad_message"
    turns = [p for p in parsed if p is not None and p[0] != "system"]
    instruction = response = None
    for i, (role, text) in enumerate(turns):
        if role in USER_ROLES:
            instruction = text
            response = next(
                (t for r, t in turns[i + 1 :] if r in ASSISTANT_ROLES),
                None,
            )
            break
    if instruction is None or not instruction.strip():
        return None, "no_user_turn"
    n_turns = sum(1 for role, _ in turns if role in USER_ROLES + ASSISTANT_ROLES)
    return ChatExample(instruction, response, n_turns), None


def _side(value: Any, roles: tuple[str, ...]) -> str | None:
    """A prompt or completion: a string, or the first message with one of `roles`."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for message in value:
            parsed = role_and_text(message)
            if parsed is not None and parsed[0] in roles:
                return parsed[1]
    return None


def row_to_example(row: Any) -> tuple[ChatExample | None, str]:
    """(example, layout) for a good row, (None, reason) for a bad one."""
    if not isinstance(row, dict):
        return None, "not_an_object"
    for key in ("messages", "conversations"):
        if key in row and row[key] is not None:
            example, why = _from_messages(row[key])
            return example, why or "messages"
    if "prompt" in row:
        instruction = _side(row["prompt"], USER_ROLES)
        if instruction is None or not instruction.strip():
            return None, "empty_prompt"
        completion = row.get("completion", row.get("chosen"))
        response = _side(completion, ASSISTANT_ROLES) if completion is not None else None
        turns = len(row["prompt"]) if isinstance(row["prompt"], list) else 1
        turns += (len(completion) if isinstance(completion, list) else 1) if completion else 0
        return ChatExample(instruction, response, turns), "prompt_completion"
    if "instruction" in row:
        instruction = row["instruction"]
        if not isinstance(instruction, str) or not instruction.strip():
            return None, "empty_instruction"
        extra = row.get("input")
        if isinstance(extra, str) and extra.strip():
            instruction = f"{instruction}\n\n{extra}"
        response = row.get("output", row.get("response"))
        response = response if isinstance(response, str) else None
        return ChatExample(instruction, response, 2 if response is not None else 1), "instruction"
    return None, "unknown_layout"


def _file_suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(FILE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _parquet_rows(path: Path) -> Iterator[Any]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RuntimeError("Parquet input needs pyarrow: pip install 'alignkit[parquet]'") from exc
    try:
        file = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types
        raise DatasetFormatError(f"{path}: not a readable Parquet file: {exc}") from None
    for batch in file.iter_batches(batch_size=4096):
        yield from batch.to_pylist()


def _saved_dataset_rows(path: Path) -> Iterator[Any]:
    try:
        import datasets
    except ImportError as exc:
        raise RuntimeError(
            f"{path} looks like a saved `datasets` dataset; reading it needs the `datasets` "
            "package: pip install datasets"
        ) from exc
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        split = "train" if "train" in loaded else splits[0] if len(splits) == 1 else None
        if split is None:
            raise DatasetFormatError(
                f"{path} holds splits {', '.join(splits)} and none is 'train'; "
                "give the split's directory instead"
            )
        loaded = loaded[split]
    yield from loaded


def detect_format(path: str | os.PathLike[str]) -> str:
    """'jsonl', 'parquet' or 'hf-disk' for `path`; clear errors for anything else."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"dataset not found: {p}")
    if p.is_dir():
        markers = ("dataset_info.json", "state.json", "dataset_dict.json")
        if any((p / m).is_file() for m in markers):
            return "hf-disk"
        raise DatasetFormatError(
            f"{p} is a directory but not a dataset saved with `datasets.save_to_disk`"
        )
    suffix = _file_suffix(p)
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".jsonl.gz", ".json", ".json.gz"):
        return "jsonl"
    raise DatasetFormatError(
        f"unknown dataset format: {p} (expected .jsonl, .jsonl.gz, .json, .parquet or a "
        "directory saved with datasets.save_to_disk)"
    )


def iter_rows(path: str | os.PathLike[str]) -> tuple[str, RowReader]:
    """(format, rows) of a JSONL/JSON/Parquet file or saved `datasets` directory: a `RowReader`
    yielding the good rows (with file and line) and counting the skipped ones."""
    fmt = detect_format(path)
    if fmt == "jsonl":
        return fmt, RowReader(path)
    readers = {"parquet": _parquet_rows, "hf-disk": _saved_dataset_rows}
    return fmt, RowReader.of_values(path, readers[fmt](Path(path)))


def load_chat_dataset(
    path: str | os.PathLike[str],
    *,
    max_rows: int | None = None,
    max_text_chars: int | None = None,
) -> ChatDataset:
    """Read a dataset and reduce each row to a `ChatExample` (first `max_rows` good rows). With
    `max_text_chars`, longer instructions and responses are cut as they are read (their full
    lengths kept in the example), so a huge row costs bounded work downstream."""
    fmt, rows = iter_rows(path)
    dataset = ChatDataset(path=str(path), format=fmt, examples=[])
    for row in rows:
        if max_rows is not None and len(dataset.examples) >= max_rows:
            break
        example, layout = row_to_example(row.value)
        if example is None:
            rows.skip(row.line, layout)
            continue
        if max_text_chars is not None:
            cut = example.cut(max_text_chars)
            dataset.truncated_rows += cut is not example
            example = cut
        dataset.layouts[layout] += 1
        dataset.examples.append(example)
    dataset.rows_read = rows.rows_read
    dataset.bad_reasons = Counter(rows.skipped)
    dataset.bad_rows = sum(rows.skipped.values())
    dataset.read_faults = Counter(rows.faults)
    return dataset
