"""Preference pairs in TRL's `prompt` / `chosen` / `rejected` format.

A prompt is a string or a list of chat messages; a response is a string or a list of (usually
one) assistant messages. Rows without `prompt` whose `chosen` and `rejected` are full
conversations ("implicit prompt") are split at their common prefix. Bad rows are counted by
reason and skipped, never fatal.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from alignkit.data.chat import iter_rows, role_and_text
from alignkit.data.rows import RowReader
from alignkit.errors import InputError

Prompt = str | list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class PreferencePair:
    """One preference pair, each side kept in the form it was given (string or messages)."""

    prompt: Prompt
    chosen: Prompt
    rejected: Prompt
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def conversational(self) -> bool:
        return isinstance(self.prompt, list)

    @property
    def chosen_text(self) -> str:
        return response_text(self.chosen)

    @property
    def rejected_text(self) -> str:
        return response_text(self.rejected)

    @property
    def prompt_text(self) -> str:
        """The prompt as plain text: the string, the single user turn, or `role: content`
        lines for a longer conversation."""
        if isinstance(self.prompt, str):
            return self.prompt
        turns = [role_and_text(m) for m in self.prompt]
        turns = [t for t in turns if t is not None]
        if len(turns) == 1:
            return turns[0][1] or ""
        return "\n\n".join(f"{role}: {text or ''}" for role, text in turns)

    @property
    def pair_id(self) -> str:
        """A stable id from the content (seeds requests, names rows)."""
        blob = json.dumps([self.prompt, self.chosen, self.rejected], sort_keys=True)
        return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:16]

    def with_response(self, like: Prompt, text: str) -> Prompt:
        """`text` in the form of `like`: a string, or one assistant message."""
        if isinstance(like, str):
            return text
        return [{"role": "assistant", "content": text}]


def response_text(response: Prompt) -> str:
    """A response as text: the string, or its messages' contents joined by blank lines."""
    if isinstance(response, str):
        return response
    parts = [role_and_text(m) for m in response]
    return "\n\n".join(p[1] for p in parts if p is not None and p[1])


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(role_and_text(m) is not None and isinstance(m, dict) for m in value)
    )


def row_to_pair(row: Any) -> tuple[PreferencePair | None, str | None]:
    """(pair, None) for a usable row, (None, reason) otherwise."""
    if not isinstance(row, dict):
        return None, "not_an_object"
    if "chosen" not in row or "rejected" not in row:
        return None, "no_chosen_or_rejected"
    prompt, chosen, rejected = row.get("prompt"), row["chosen"], row["rejected"]
    if prompt is None:
        if not (_is_messages(chosen) and _is_messages(rejected)):
            return None, "no_prompt"
        shared = 0
        while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
            shared += 1
        if shared == 0:
            return None, "no_prompt"
        prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
    for value in (prompt, chosen, rejected):
        if not (isinstance(value, str) or _is_messages(value)):
            return None, "bad_field_type"
    pair = PreferencePair(
        prompt=[dict(m) for m in prompt] if isinstance(prompt, list) else prompt,
        chosen=[dict(m) for m in chosen] if isinstance(chosen, list) else chosen,
        rejected=[dict(m) for m in rejected] if isinstance(rejected, list) else rejected,
        extra={k: v for k, v in row.items() if k not in ("prompt", "chosen", "rejected")},
    )
    if not pair.prompt_text.strip():
        return None, "empty_prompt"
    if not pair.chosen_text.strip() or not pair.rejected_text.strip():
        return None, "empty_response"
    return pair, None


def pair_rows(source: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> RowReader:
    """The rows of a file/saved dataset path, of a `datasets.Dataset` or of the train split of a
    `DatasetDict`, as a `RowReader` (bad rows counted and logged with their place)."""
    if isinstance(source, (str, os.PathLike)):
        return iter_rows(source)[1]
    if isinstance(source, Mapping):  # a datasets.DatasetDict: its train split
        if "train" not in source:
            raise InputError(f"no 'train' split among {sorted(source)}; pass one split")
        return RowReader.of_values("rows", source["train"])
    return RowReader.of_values("rows", source)


def read_pairs(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    *,
    max_pairs: int | None = None,
) -> tuple[list[PreferencePair], Counter[str], int]:
    """Pairs from a file/saved dataset path, or from rows (dicts, a `datasets.Dataset`, the
    train split of a `DatasetDict`).

    Returns (pairs, bad-row counts by reason, rows read).
    """
    rows = pair_rows(source)
    pairs: list[PreferencePair] = []
    for row in rows:
        if max_pairs is not None and len(pairs) >= max_pairs:
            break
        pair, why = row_to_pair(row.value)
        if pair is None:
            rows.skip(row.line, why or "bad_row")
        else:
            pairs.append(pair)
    return pairs, Counter(rows.skipped), rows.rows_read
