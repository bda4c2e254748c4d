"""Lion's student fine-tuning (method-notes §1.4): supervised training on the Train Pool's
teacher answers, loss on response tokens only, through `alignkit.sft`.

- Text: the Lion plain template (`alignkit.lion.prompts.instruction_prompt`), the response and
  EOS, as plain text (no chat template: the student is sampled later with the same template).
- Defaults are the paper's: 3 epochs, lr 2e-5, cosine with 3% warmup, no weight decay, effective
  batch 128, max length 1024 (`alignkit.sft.SFTOptions`'s own defaults).
- Pad token: a tokenizer without one gets `[PAD]` with mean embeddings, as the authors do.
- Saved: a full model + tokenizer (LoRA merged) and `alignkit_student.json` (options, statistics).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from alignkit.lion.prompts import instruction_prompt
from alignkit.sft import SFTExample, SFTOptions, encode_pairs, train_sft

RECORD_FILE = "alignkit_student.json"


@dataclasses.dataclass(frozen=True)
class StudentTrainOptions(SFTOptions):
    """Student fine-tuning settings; the defaults are the paper's (method-notes §1.4). Fields
    and their meaning: `alignkit.sft.SFTOptions`."""


def lion_pairs(rows: Iterable[Any]) -> tuple[list[tuple[str, str]], collections.Counter[str]]:
    """(prompt, response) texts of `{"instruction", "input", "response"}` rows in the Lion
    template; counts `rows` and one key per skip reason (`not_an_object`, `no_instruction`,
    `bad_input`, `empty_response`)."""
    counts: collections.Counter[str] = collections.Counter()
    pairs: list[tuple[str, str]] = []
    for row in rows:
        counts["rows"] += 1
        if not isinstance(row, Mapping):
            counts["not_an_object"] += 1
            continue
        instruction, response = _row_text(row, "instruction"), _row_text(row, "response")
        context = "" if row.get("input") is None else _row_text(row, "input")
        if not instruction or not instruction.strip():
            counts["no_instruction"] += 1
        elif context is None:
            counts["bad_input"] += 1
        elif not response or not response.strip():
            counts["empty_response"] += 1
        else:
            pairs.append((instruction_prompt(instruction, context), response))
    return pairs, counts


def _row_text(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    return value if isinstance(value, str) else None


def encode_rows(
    rows: Iterable[Any], tokenizer: Any, max_length: int
) -> tuple[list[SFTExample], collections.Counter[str]]:
    """Tokenize `{"instruction", "input", "response"}` rows into examples (response + EOS
    labelled).

    Returns the examples and counts: `rows`, `truncated` and one key per skip reason
    (`not_an_object`, `no_instruction`, `bad_input`, `empty_response`, `prompt_too_long`).
    Truncation keeps the start (the prompt and the beginning of the response), as the authors'
    tokenizer call does.
    """
    pairs, counts = lion_pairs(rows)
    examples, encoded = encode_pairs(pairs, tokenizer, max_length)
    counts.update(encoded)
    return examples, counts


def train_student(
    rows: Iterable[Mapping[str, Any]],
    base_model: str | Path,
    out_dir: Path,
    options: StudentTrainOptions | None = None,
    progress: bool | str | None = None,
) -> dict[str, Any]:
    """Fine-tune `base_model` on `rows` and save the student into `out_dir` (replaced whole).

    `progress` is an `alignkit.progress` mode (None/False: off). Returns statistics: `steps`,
    `examples`, `tokens` (all non-pad tokens seen), `response_tokens`, `first_loss`,
    `last_loss`, `loss_history`, `seconds`, `rows`, `skipped` (per reason), `truncated`,
    `pad_token`, `device`, `bf16`, `lora`, `out_dir`.
    """
    pairs, counts = lion_pairs(rows)
    return train_sft(
        pairs,
        base_model,
        out_dir,
        options or StudentTrainOptions(),
        row_counts=counts,
        record={"template": "lion-plain"},
        record_file=RECORD_FILE,
        label="lion train",
        progress=progress,
    )
