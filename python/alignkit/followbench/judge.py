"""The LLM judge: prompts that walk the constraint-evolution path, and robust verdict parsing.

The judge sees the initial instruction, every version of the instruction up to the item's level
(each adds one constraint), and the answer. It names each added constraint, decides whether the
answer satisfies it, and ends with a list of YES/NO verdicts, one per level. By default replies
are read as the original FollowBench reads them (only the final line counts, `parse_verdicts_
original`); `rules="lenient"` also accepts lists elsewhere, other cases and bare words. PARTIAL,
UNKNOWN and similar verdicts count as not satisfied. A reply with no usable list
is answered with a short reminder (a follow-up turn, so the retry is a different request and not
a cache hit); an item still unparsable after the retries is reported as such, never guessed.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from alignkit.followbench.data import Chain, Record

# What the judge is told each kind of added constraint is about.
CONSTRAINT_KINDS = {
    "content": "a content constraint (something the answer must include, exclude, cover or "
    "focus on)",
    "situation": "a situation constraint (a detail of the scenario or background that the "
    "answer has to take into account)",
    "style": "a style constraint (tone, register, voice or manner of writing)",
    "format": "a format constraint (structure, layout, length, markup or other form requirements)",
    "example": "a format constraint (the answer must follow the pattern shown by the examples)",
    "mixed": "one constraint (on content, format or style)",
}

YES_WORDS = frozenset({"YES", "Y", "TRUE", "SATISFIED", "是"})
NO_WORDS = frozenset(
    {
        "NO",
        "N",
        "FALSE",
        "PARTIAL",
        "PARTIALLY",
        "UNKNOWN",
        "UNCLEAR",
        "UNSURE",
        "NA",
        "N/A",
        "NOT SATISFIED",
        "UNSATISFIED",
        "否",
        "部分",
    }
)
VERDICT_WORDS = YES_WORDS | NO_WORDS


def build_judge_prompt(chain: Chain, record: Record, answer: str) -> str:
    """The judge prompt for `record` (level L of `chain`) and the model's `answer`."""
    level = record.level
    kind = CONSTRAINT_KINDS.get(chain.category, CONSTRAINT_KINDS["mixed"])
    plural = "constraint" if level == 1 else "constraints"
    parts = [
        "You are reviewing whether a response obeys the constraints it was given.",
        "",
        f"The task below began as a base instruction. It was then revised {level} time"
        f"{'s' if level > 1 else ''}; every revision keeps the previous version and adds {kind}. "
        f"The response answers the last version, which carries {level} added {plural}.",
        "",
        "### Base instruction",
        chain.initial_instruction.strip()
        if chain.initial_instruction and chain.initial_instruction.strip()
        else "(not given; infer it from version 1)",
    ]
    for k, text in enumerate(chain.path(level), start=1):
        parts += ["", f"### Version {k} (base + {k} added constraint{'s' if k > 1 else ''})", text]
    parts += [
        "",
        "### Response to the last version",
        answer if answer.strip() else "(empty response)",
        "",
        "### Your job",
        f"1. For each version k = 1..{level}, say in one line which constraint it added "
        "compared with the version before it.",
        "2. For each of those constraints, decide whether the response fully satisfies it and "
        "give a one-sentence reason. A constraint that is only partly met is not satisfied.",
        f"3. End with a final line that holds only a list of exactly {level} verdicts, YES or NO, "
        f"in the order of the versions: {_example_list(level)}. Write nothing after it.",
    ]
    if record.language == "zh":
        parts.append(
            "The task and the response are in Chinese; write in any language, but the "
            "final list must use the English words YES and NO."
        )
    return "\n".join(parts)


def _example_list(level: int) -> str:
    # Placeholders, not verdicts: a judge that merely echoes the prompt stays unparsable.
    slots = ", ".join(f"V{k}" for k in range(1, level + 1))
    return f"[{slots}] where each V is YES or NO"


def retry_reminder(level: int) -> str:
    """The follow-up turn sent when a judge reply had no usable verdict list."""
    return (
        f"Your reply did not end with a list of exactly {level} verdicts. Reply with only that "
        f"list, one verdict per added constraint in order: {_example_list(level)}."
    )


@dataclasses.dataclass(frozen=True)
class ParsedVerdicts:
    """`verdicts` (one bool per level) when the reply was usable, else None with `problem`."""

    verdicts: tuple[bool, ...] | None
    tokens: tuple[str, ...] = ()
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.verdicts is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "verdicts": None if self.verdicts is None else list(self.verdicts),
            "tokens": list(self.tokens),
            "problem": self.problem,
        }


_FENCE = re.compile(r"^\s*```[\w-]*\s*$", re.MULTILINE)
_LIST = re.compile(r"[\[【]([^\[\]【】]*)[\]】]")
_TOKEN_SPLIT = re.compile(r"[,，;；、\s]+")


def _tokens(body: str) -> list[str] | None:
    """Verdict words of a list body like `'YES', "no", Partial`; None if any item is not one."""
    items = [t for t in _TOKEN_SPLIT.split(body.strip()) if t]
    # Multi-word verdicts ("NOT SATISFIED") arrive split; rejoin the known pairs.
    joined: list[str] = []
    for raw in items:
        word = raw.strip("'\"`*“”‘’.:").upper()
        if joined and f"{joined[-1]} {word}" in VERDICT_WORDS:
            joined[-1] = f"{joined[-1]} {word}"
        else:
            joined.append(word)
    words = [w for w in joined if w]
    if not words or any(w not in VERDICT_WORDS for w in words):
        return None
    return words


# Verdicts the original parser accepts in a list (level >= 2): YES counts, the others do not.
ORIGINAL_NO_WORDS = ("NO", "PARTIAL", "MAYBE", "UNKNOWN", "N/A")  # a tuple: items may be unhashable


def parse_verdicts_original(text: str | None, level: int) -> ParsedVerdicts:
    """The original FollowBench reading of a judge reply: only its final line counts.

    Backticks and then whitespace are stripped from both ends of the reply and the last line is
    read. Level 1: the line containing `YES` is satisfied, else containing `NO` is not. Level
    >= 2: the first `[` to the last `]` of that line must be a Python list literal of exactly
    `level` strings, each `YES` or one of NO/PARTIAL/MAYBE/UNKNOWN/N/A (exact case). Anything else
    is unparsable (the original's -1, "fix by hand").
    """
    if text is None or not text.strip("`").strip():
        return ParsedVerdicts(None, problem="empty reply")
    last = text.strip("`").strip().split("\n")[-1]
    if level == 1:
        if "YES" in last:
            return ParsedVerdicts((True,), tokens=("YES",))
        if "NO" in last:
            return ParsedVerdicts((False,), tokens=("NO",))
        return ParsedVerdicts(None, problem="final line holds neither YES nor NO")
    span = re.search(r"\[.*\]", last)
    if span is None:
        return ParsedVerdicts(None, problem="no verdict list on the final line")
    try:
        value = ast.literal_eval(span.group())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ParsedVerdicts(None, problem="final-line list is not a Python literal")
    if not isinstance(value, (list, tuple, str, dict, set)) or len(value) != level:
        return ParsedVerdicts(None, problem=f"final-line list does not hold {level} verdicts")
    words = list(value)
    if any(not isinstance(w, str) or (w != "YES" and w not in ORIGINAL_NO_WORDS) for w in words):
        return ParsedVerdicts(None, problem="final-line list has a word other than the verdicts")
    return ParsedVerdicts(tuple(w == "YES" for w in words), tokens=tuple(words))


def parse_verdicts(text: str | None, level: int, rules: str = "original") -> ParsedVerdicts:
    """Read the judge's verdict list for a level-`level` item from its reply.

    `rules="original"` (default): `parse_verdicts_original`. `rules="lenient"`: the reply's
    final line when it is a list (or bare words) of exactly `level` verdict words in any case;
    failing that, the last such bracketed list anywhere in the reply (code fences stripped).
    """
    if rules == "original":
        return parse_verdicts_original(text, level)
    if text is None or not text.strip():
        return ParsedVerdicts(None, problem="empty reply")
    cleaned = _FENCE.sub("", text)
    final = _final_line_verdicts(cleaned, level)
    if final is not None:
        return ParsedVerdicts(tuple(w in YES_WORDS for w in final), tokens=tuple(final))
    candidates: list[list[str]] = []
    wrong_length: list[int] = []
    for match in _LIST.finditer(cleaned):
        words = _tokens(match.group(1))
        if words is None:
            continue
        if len(words) == level:
            candidates.append(words)
        else:
            wrong_length.append(len(words))
    if not candidates:
        problem = (
            f"verdict list has {wrong_length[-1]} items, expected {level}"
            if wrong_length
            else "no YES/NO verdict list found"
        )
        return ParsedVerdicts(None, problem=problem)
    words = candidates[-1]
    return ParsedVerdicts(tuple(w in YES_WORDS for w in words), tokens=tuple(words))


def _final_line_verdicts(cleaned: str, level: int) -> list[str] | None:
    """The verdict words of the reply's last non-blank line (bracketed or bare), if exactly
    `level` of them: the final answer wins over any list written earlier."""
    lines = [line for line in cleaned.strip().splitlines() if line.strip()]
    if not lines:
        return None
    last = re.sub(r"^[\s>*#-]*(final( answer| verdicts?)?\s*[:：])?", "", lines[-1], flags=re.I)
    lists = list(_LIST.finditer(last))
    words = _tokens(lists[-1].group(1) if lists else last)
    return words if words is not None and len(words) == level else None


def judge_messages(prompt: str, failed_replies: Sequence[str], level: int) -> list[dict[str, str]]:
    """The conversation for a judge attempt: the prompt, then per failed reply a reminder."""
    messages = [{"role": "user", "content": prompt}]
    for reply in failed_replies:
        messages.append({"role": "assistant", "content": reply})
        messages.append({"role": "user", "content": retry_reminder(level)})
    return messages
