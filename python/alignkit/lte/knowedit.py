"""KnowEdit-format (and MQuAKE) editing records, loaded into one typed record (`EditRecord`).

The formats differ by source; each is read from the fields it really has:

- `zsre`, KnowEdit test: subject, prompt, target_new, ground_truth ([str], the first kept),
  rephrase_prompt, portability, locality.
- `zsre`, MEND training format: subject, src (prompt), alt (target_new), answers (ground truth),
  rephrase, loc ("nq question: ...", kept without the prefix as locality kind `NQ`), loc_ans.
- `counterfact`: subject, prompt, target_new, ground_truth (str), portability, locality.
- `recent`: subject, prompt, target_new, portability, locality; no ground truth, and probe
  answers are lists of alias lists.
- `wikibio`: concept (subject), text (prompt), labels (target_new), locality; no ground truth.
- `mquake` (MQuAKE-CF-3k / MQuAKE-T, multi-hop): requested_rewrite (a list of edits, each a
  prompt with `{}` for its subject, subject, target_new.str, target_true.str), questions (the
  multi-hop question first), answer / new_answer, single_hops / new_single_hops (each a cloze and
  its answer). The record's first rewrite gives subject, prompt (`{}` filled), target_new and
  ground truth (target_true); `multi_hop` keeps every rewrite's fact, the first question and both
  answers with their hop chains (`MultiHop`). No portability or locality.

Portability and locality are `{kind: [{"prompt": str, "ground_truth": str | [str] | [[str]]}]}`;
a probe's answer is its first non-empty string. Kinds are kept even when all their probes were
unusable (LTE orders counterfact and recent edits by how many kinds they have).

Nothing malformed raises: a record or probe that cannot be used is skipped and counted by
reason (`KnowEditFile.skipped`, `probes_skipped`), and the first few of each reason are logged
with their index. A file that is not a JSON list (or JSON Lines) of records is an `InputError`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from alignkit.errors import InputError, InputNotFoundError
from alignkit.lte.template import fact_sentence

log = logging.getLogger(__name__)

SOURCES = ("zsre", "counterfact", "recent", "wikibio", "mquake")
NQ_PREFIX = "nq question: "
_LOGGED_PER_REASON = 3


class Probe(NamedTuple):
    """A portability or locality question and the answer the record gives for it."""

    prompt: str
    answer: str


class MultiHop(NamedTuple):
    """An MQuAKE record's multi-hop part: every requested rewrite as a fact sentence (in record
    order), the first multi-hop question, and the answers after and before the edits, each with
    its chain of single-hop clozes completed by their answers ("cloze answer", hop order)."""

    facts: tuple[str, ...]
    question: str
    new_answer: str
    new_chain: tuple[str, ...]
    answer: str
    chain: tuple[str, ...]

    @property
    def with_edit_answer(self) -> str:
        return chain_answer(self.new_answer, self.new_chain)

    @property
    def without_edit_answer(self) -> str:
        return chain_answer(self.answer, self.chain)


def chain_answer(answer: str, chain: Sequence[str]) -> str:
    """The final answer, then the hop chain one completed cloze a line."""
    return "\n".join((answer, *chain))


@dataclasses.dataclass(frozen=True, eq=True)
class EditRecord:
    """One edit of any KnowEdit source (see the module docstring for the field mapping)."""

    source: str
    index: int
    """Position of the record in its file (0-based), before any record was skipped."""
    subject: str
    prompt: str
    target_new: str
    ground_truth: str | None
    rephrase: tuple[str, ...] = ()
    portability: Mapping[str, tuple[Probe, ...]] = dataclasses.field(default_factory=dict)
    locality: Mapping[str, tuple[Probe, ...]] = dataclasses.field(default_factory=dict)
    multi_hop: MultiHop | None = None
    """MQuAKE only."""

    __hash__ = None  # type: ignore[assignment]  # the probe tables are dicts

    @property
    def edit_id(self) -> str:
        return f"{self.source}-{self.index:05d}"

    @property
    def fact(self) -> str:
        """The edit as one sentence (`prompt target_new`)."""
        return fact_sentence(self.prompt, self.target_new)


@dataclasses.dataclass
class KnowEditFile:
    """The usable records of one file and what was skipped, by reason."""

    path: Path
    source: str
    records: list[EditRecord]
    total: int
    skipped: Counter[str] = dataclasses.field(default_factory=Counter)
    probes_skipped: Counter[str] = dataclasses.field(default_factory=Counter)


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def guess_source(path: str | os.PathLike[str], first: Any = None) -> str | None:
    """The source of a file from its name, else from the fields of its first record."""
    name = Path(path).name.lower()
    for needle, source in (
        ("mquake", "mquake"),
        ("zsre", "zsre"),
        ("wikibio", "wikibio"),
        ("counterfact", "counterfact"),
        ("train_cf", "counterfact"),
        ("test_cf", "counterfact"),
        ("recent", "recent"),
    ):
        if needle in name:
            return source
    if isinstance(first, Mapping):
        if "requested_rewrite" in first and "new_single_hops" in first:
            return "mquake"
        if "concept" in first and "labels" in first:
            return "wikibio"
        if ("src" in first and "alt" in first) or "rephrase_prompt" in first:
            return "zsre"
        if "prompt" in first and "target_new" in first:
            return "counterfact" if "ground_truth" in first else "recent"
    return None


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Skip(f"missing_{what}" if value in (None, "") else f"bad_{what}")
    return value


def first_answer(value: Any) -> str | None:
    """The first non-empty string of an answer that may be a string, a list of strings or a
    list of alias lists (KnowEdit uses all three)."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, (list, tuple)):
        for item in value:
            found = first_answer(item)
            if found is not None:
                return found
    return None


def _probe_table(raw: Any, section: str, problems: Counter[str]) -> dict[str, tuple[Probe, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _Skip(f"bad_{section}")
    table: dict[str, tuple[Probe, ...]] = {}
    for kind, entries in raw.items():
        if isinstance(entries, Mapping):
            entries = [entries]
        if not isinstance(entries, list):
            problems[f"{section}:bad_kind"] += 1
            continue
        probes = []
        for entry in entries:
            if not isinstance(entry, Mapping):
                problems[f"{section}:not_an_object"] += 1
                continue
            prompt = entry.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                problems[f"{section}:no_prompt"] += 1
                continue
            answer = first_answer(entry.get("ground_truth"))
            if answer is None:
                problems[f"{section}:no_answer"] += 1
                continue
            probes.append(Probe(prompt, answer))
        table[str(kind)] = tuple(probes)
    return table


def _rephrases(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str) and v.strip())
    return ()


# Field names of (subject, prompt, target_new, ground truth, rephrase) per record format.
_FIELDS = {
    "wikibio": ("concept", "text", "labels", None, None),
    "mend": ("subject", "src", "alt", "answers", "rephrase"),
    "knowedit": ("subject", "prompt", "target_new", "ground_truth", "rephrase_prompt"),
}


def _nq_locality(raw: Mapping[str, Any], problems: Counter[str]) -> dict[str, tuple[Probe, ...]]:
    """MEND's one unrelated NQ question (`loc`, `loc_ans`) as locality kind `NQ`."""
    loc, answer = raw.get("loc"), first_answer(raw.get("loc_ans"))
    if isinstance(loc, str) and loc.strip() and answer is not None:
        return {"NQ": (Probe(loc.removeprefix(NQ_PREFIX), answer),)}
    if loc is not None or raw.get("loc_ans") is not None:
        problems["locality:no_answer" if isinstance(loc, str) else "locality:no_prompt"] += 1
    return {}


def parse_record(raw: Any, source: str, index: int, problems: Counter[str]) -> EditRecord:
    """One raw record as an EditRecord; raises `_Skip(reason)` when it cannot be used. Unusable
    probes are dropped and counted in `problems`."""
    if not isinstance(raw, Mapping):
        raise _Skip("not_an_object")
    if source == "mquake":
        return _mquake_record(raw, index)
    layout = "knowedit"
    if source == "wikibio":
        layout = "wikibio"
    elif source == "zsre" and "src" in raw:
        layout = "mend"
    subject, prompt, target, truth, rephrase = _FIELDS[layout]
    record = EditRecord(
        source=source,
        index=index,
        subject=_text(raw.get(subject), "subject"),
        prompt=_text(raw.get(prompt), "prompt"),
        target_new=_text(raw.get(target), "target_new"),
        ground_truth=first_answer(raw.get(truth)) if truth else None,
        rephrase=_rephrases(raw.get(rephrase, raw.get("rephrase"))) if rephrase else (),
    )
    if layout == "mend":
        locality = _nq_locality(raw, problems)
    else:
        locality = _probe_table(raw.get("locality"), "locality", problems)
    portability = _probe_table(raw.get("portability"), "portability", problems)
    return dataclasses.replace(record, portability=portability, locality=locality)


def _rewrite_fact(raw: Any) -> tuple[str, str, str, str | None]:
    """(subject, filled prompt, target_new, target_true or None) of one MQuAKE rewrite."""
    if not isinstance(raw, Mapping):
        raise _Skip("bad_requested_rewrite")
    subject = _text(raw.get("subject"), "subject")
    prompt = _text(raw.get("prompt"), "prompt")
    if "{}" not in prompt:
        raise _Skip("bad_prompt")
    target = raw.get("target_new")
    target_new = _text(target.get("str") if isinstance(target, Mapping) else target, "target_new")
    truth = raw.get("target_true")
    target_true = first_answer(truth.get("str") if isinstance(truth, Mapping) else None)
    return subject, prompt.replace("{}", subject, 1), target_new, target_true


def _items(value: Any, what: str) -> list[Any]:
    """A non-empty list, else `_Skip` (missing_/bad_ `what`)."""
    if not isinstance(value, list) or not value:
        raise _Skip(f"missing_{what}" if value is None or value == [] else f"bad_{what}")
    return value


def _hop_chain(raw: Any, what: str) -> tuple[str, ...]:
    """`cloze answer` per hop, in hop order."""
    chain = []
    for hop in _items(raw, what):
        if not isinstance(hop, Mapping):
            raise _Skip(f"bad_{what}")
        cloze, answer = hop.get("cloze"), hop.get("answer")
        usable = isinstance(cloze, str) and isinstance(answer, str)
        if not usable or not cloze.strip() or not answer.strip():
            raise _Skip(f"bad_{what}")
        chain.append(fact_sentence(cloze, answer))
    return tuple(chain)


def _mquake_record(raw: Mapping[str, Any], index: int) -> EditRecord:
    parsed = [_rewrite_fact(r) for r in _items(raw.get("requested_rewrite"), "requested_rewrite")]
    questions = _items(raw.get("questions"), "questions")
    multi_hop = MultiHop(
        facts=tuple(fact_sentence(prompt, target) for _, prompt, target, _ in parsed),
        question=_text(questions[0], "questions"),
        new_answer=_text(raw.get("new_answer"), "new_answer"),
        new_chain=_hop_chain(raw.get("new_single_hops"), "new_single_hops"),
        answer=_text(raw.get("answer"), "answer"),
        chain=_hop_chain(raw.get("single_hops"), "single_hops"),
    )
    subject, prompt, target_new, target_true = parsed[0]
    return EditRecord(
        source="mquake",
        index=index,
        subject=subject,
        prompt=prompt,
        target_new=target_new,
        ground_truth=target_true,
        multi_hop=multi_hop,
    )


def read_text_file(path: Path, what: str = "file") -> str:
    """A UTF-8 file's text; InputNotFoundError / InputError (naming `what`) when it cannot be
    read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputNotFoundError(f"{path}: no such {what}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as UTF-8 text: {exc}") from exc


def _read_rows(path: Path) -> list[Any]:
    text = read_text_file(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path}: neither a JSON list of KnowEdit records nor JSON Lines "
                    f"(line {number}: {exc.msg})"
                ) from exc
        return rows
    if isinstance(data, Mapping) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        kind = type(data).__name__
        raise InputError(f"{path}: expected a JSON list of KnowEdit records, not {kind}")
    return data


def load_knowedit(path: str | os.PathLike[str], source: str | None = None) -> KnowEditFile:
    """The records of a KnowEdit file (JSON list or JSON Lines). `source` (one of SOURCES) picks
    the field mapping; None guesses it from the file name, then from the first record's fields."""
    path = Path(path)
    rows = _read_rows(path)
    if source is None:
        source = guess_source(path, rows[0] if rows else None)
        if source is None:
            raise InputError(
                f"{path}: cannot tell which KnowEdit source this is; name it ({', '.join(SOURCES)})"
            )
    elif source not in SOURCES:
        raise InputError(f"unknown KnowEdit source {source!r}; known: {', '.join(SOURCES)}")
    loaded = KnowEditFile(path=path, source=source, records=[], total=len(rows))
    for index, raw in enumerate(rows):
        try:
            loaded.records.append(parse_record(raw, source, index, loaded.probes_skipped))
        except _Skip as skip:
            loaded.skipped[skip.reason] += 1
            if loaded.skipped[skip.reason] <= _LOGGED_PER_REASON:
                log.warning("%s: record %d skipped (%s)", path, index, skip.reason)
    if loaded.skipped:
        log.info(
            "%s: %d of %d records skipped: %s",
            path,
            sum(loaded.skipped.values()),
            len(rows),
            ", ".join(f"{k}={v}" for k, v in sorted(loaded.skipped.items())),
        )
    return loaded
