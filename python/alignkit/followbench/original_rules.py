"""The rule checks of the original FollowBench evaluation, written here from the authors' logic.

These are the default (`rules="original"`): the same items go to rules as in the authors'
`rule_based_evaluation.py` (English and Chinese versions) and every check computes the same
boolean, strictness included. Everything is on the raw answer: nothing is trimmed, case-folded
or unquoted. What counts (per source; "all up to level L" as in the original):

- example constraints: the answer template (after `{instruction}\\n`, `{{`/`}}` unescaped) with
  `{answer}` as "any characters except a line break" must match the whole answer;
- E2E, text_editing: the answer equals the target; CONLL2003: the answer is an element of the
  target list; WIKIEVENTS: every line of the answer (blank lines included) is a target line;
- BBH_logical / BBH_time / gsm_8k: the last `(X)` / `dd/dd/dddd` / `$<digits>` (Chinese:
  `<digits>美元`) in the answer equals the target; self_made_space: the target is a substring;
- summaries (cnn_dailymail, xsum, samsum, gigaword, arxiv): sentences are the non-empty pieces
  between `.!?` (Chinese `。！？`); English lengths count pieces of the answer split on single
  spaces (sentence limits: whitespace words), Chinese lengths count characters;
- format chain 22 (both languages) and 30 (English only): paragraphs split on blank lines etc.

Items the original sends to the judge (everything else) get no check here.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Callable

from alignkit.followbench.checks import CheckVerdict, RuleCheck
from alignkit.followbench.data import Record

RULE_SOURCES = frozenset(
    {
        "E2E",
        "WIKIEVENTS",
        "CONLL2003",
        "text_editing",
        "cnn_dailymail",
        "xsum",
        "samsum",
        "gigaword",
        "arxiv",
        "BBH_logical",
        "BBH_time",
        "self_made_space",
        "gsm_8k",
    }
)
# Format chains whose constraints the original verifies by program, per language.
FORMAT_RULE_CHAINS = {"en": (22, 30), "zh": (22,)}

Test = Callable[[str], bool]

# ---------------------------------------------------------------- shared pieces


def _sentences(text: str, language: str) -> list[str]:
    ends = "。！？" if language == "zh" else ".!?"
    pieces, current = [], []
    for ch in text:
        if ch in ends:
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
    pieces.append("".join(current))
    return [p for p in pieces if p]


def _length(text: str, language: str) -> int:
    """Length as the original measures a sentence: whitespace words, or characters in Chinese."""
    return len(text) if language == "zh" else len(text.split())


def _space_pieces(text: str) -> int:
    """The original's English summary length: pieces between single spaces, empty ones too."""
    return text.count(" ") + 1


def _has_word(text: str, word: str, language: str) -> bool:
    if language == "zh":
        return word in text
    return re.search(r"\b" + re.escape(word) + r"\b", text) is not None


def _in_sentence(text: str, n: int, word: str, language: str) -> bool:
    sentences = _sentences(text, language)
    return len(sentences) >= n and _has_word(sentences[n - 1], word, language)


def _last(pattern: str, text: str) -> str | None:
    found = re.findall(pattern, text)
    return found[-1] if found else None


ZH_EXTRA_PUNCTUATION = "，。：’“”"


def _punctuation(language: str) -> str:
    return string.punctuation + (ZH_EXTRA_PUNCTUATION if language == "zh" else "")


# ---------------------------------------------------------------- summaries


def _summary_tests(source: str, language: str) -> list[Test] | None:
    """The five cumulative constraints of a summary chain; level L checks the first L."""
    zh = language == "zh"

    def sentences_are(n: int) -> Test:
        return lambda t: len(_sentences(t, language)) == n

    def has(word: str) -> Test:
        return lambda t: _has_word(t, word, language)

    def lacks(word: str) -> Test:
        return lambda t: not _has_word(t, word, language)

    def shorter(limit: int, inclusive: bool = False) -> Test:
        def test(t: str) -> bool:
            n = len(t) if zh else _space_pieces(t)
            return n <= limit if inclusive else n < limit

        return test

    def no_punctuation(t: str) -> bool:
        marks = _punctuation(language)
        return not any(ch in marks for ch in t)

    if source == "cnn_dailymail":
        words = ("波特", "演员", "电影") if zh else ("Potter", "actor", "films")
        tense: Test = (
            (lambda t: _in_sentence(t, 3, "了", language))
            if zh
            else lambda t: _nth_present_perfect(t, 3)
        )
        return [
            sentences_are(3),
            lambda t: all(_length(s, language) < 15 for s in _sentences(t, language)),
            lambda t: all(_in_sentence(t, k, w, language) for k, w in enumerate(words, start=1)),
            lambda t: not _in_sentence(t, 2, "奢侈" if zh else "lavish", language),
            tense,
        ]
    if source == "xsum":
        return [
            sentences_are(1),
            shorter(20),
            lacks("牛顿斯图尔特" if zh else "Newton Stewart"),
            has("在") if zh else _present_continuous,
            has("操作" if zh else "operation"),
        ]
    if source == "samsum":
        marks = _punctuation(language)
        return [
            sentences_are(1),
            shorter(15),
            has("琐碎的" if zh else "stuff"),
            lacks("拖沓的") if zh else (lambda t: not re.search("procrast", t, re.IGNORECASE)),
            lambda t: sum(ch in marks for ch in t) == 1,
        ]
    if source == "gigaword":
        return [
            (lambda t: len(t) == 8) if zh else (lambda t: _space_pieces(t) == 8),
            no_punctuation,
            (lambda t: not any(ch.isnumeric() for ch in t)) if zh else str.islower,
            lacks("公交车" if zh else "bus"),
            has("在" if zh else "in"),
        ]
    if source == "arxiv":
        return [
            sentences_are(1),
            shorter(20, inclusive=True),
            lambda t: t[:2] == ("我们" if zh else "We"),
            has("激活" if zh else "activations"),
            lacks("transformer"),
        ]
    return None


def _present_continuous(text: str) -> bool:
    return re.search(r"\b(?:am|is|are)\s+\w+ing\b", text) is not None


def _nth_present_perfect(text: str, n: int) -> bool:
    sentences = _sentences(text, "en")
    return len(sentences) >= n and re.search(r"\b(?:has|have)\s+\w", sentences[n - 1]) is not None


def _check_summary(record: Record, answer: str) -> CheckVerdict:
    tests = _summary_tests(record.source, record.language)
    assert tests is not None and 1 <= record.level <= len(tests)
    for k, test in enumerate(tests[: record.level], start=1):
        if not test(answer):
            return CheckVerdict(False, f"constraint {k} of the {record.source} chain fails")
    return CheckVerdict(True)


# ---------------------------------------------------------------- format chains 22 and 30


def _numbered_paragraphs(text: str) -> bool:
    for paragraph in text.split("\n\n"):
        paragraph = paragraph.lstrip()
        if paragraph and re.match(r"\d+\.", paragraph) is None:
            return False
    return True


def _format_22(answer: str, level: int, language: str) -> bool:
    paragraphs = answer.split("\n\n")
    wanted = 4 if level == 5 else 3  # the original asks for 4 blank-line pieces at level 5
    if len(paragraphs) != wanted:
        return False
    if level >= 2 and any(len(_sentences(p, language)) >= 3 for p in paragraphs[:3]):
        return False
    if level >= 3 and any(_length(s, language) <= 20 for s in _sentences(answer, language)):
        return False
    if level >= 4 and not _numbered_paragraphs(answer):
        return False
    ending = "这些是建议" if language == "zh" else "Those are suggestions"
    return level < 5 or answer[-len(ending) :] == ending


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _split_points_30(text: str) -> list[str]:
    """Split after `.`/`?` at one whitespace character, except after an `x.y.`-style or `Mr.`-style
    abbreviation (the original's sentence splitter for chain 30)."""
    pieces, start = [], 0
    for i, ch in enumerate(text):
        if not ch.isspace() or i == 0 or text[i - 1] not in ".?":
            continue
        before4 = text[max(0, i - 4) : i]
        if (
            len(before4) == 4
            and _is_word_char(before4[0])
            and before4[1] == "."
            and _is_word_char(before4[2])
            and before4[3] != "\n"
        ):
            continue
        before3 = text[max(0, i - 3) : i]
        if (
            len(before3) == 3
            and "A" <= before3[0] <= "Z"
            and "a" <= before3[1] <= "z"
            and before3[2] == "."
        ):
            continue
        pieces.append(text[start:i])
        start = i + 1
    pieces.append(text[start:])
    return pieces


def _format_30(answer: str, level: int) -> bool:
    sentences = _split_points_30(answer)
    markers = re.findall(r"\*\*\d[^\n]+?:", answer)
    points = [s for s in sentences if any(f"{n}." in s for n in range(1, 6))]
    tests = [
        lambda: "**" in answer,
        lambda: len(markers) == 5,
        lambda: all(s.count(".") < 2 for s in points),
        lambda: all(10 <= len(s.split()) <= 15 for s in sentences),
        lambda: not any(w.endswith("-ly") for s in sentences for w in s.split()),
    ]
    return all(test() for test in tests[:level])


def _check_format(record: Record, answer: str) -> CheckVerdict:
    if record.example_id == 22:
        passed = _format_22(answer, record.level, record.language)
    else:
        passed = _format_30(answer, record.level)
    return CheckVerdict(passed, "" if passed else f"format chain {record.example_id} fails")


# ---------------------------------------------------------------- example constraints


def example_template_regex(target: str) -> re.Pattern[str]:
    """The full-match pattern of an example item: `{answer}` (and any literal `.*`) is any run
    of characters other than a line break; everything else is literal."""
    template = target.replace("{instruction}\n", "")
    template = template.replace("{{", "{").replace("}}", "}").replace("{answer}", ".*")
    return re.compile("[^\n]*".join(re.escape(piece) for piece in template.split(".*")))


def _check_example(record: Record, answer: str) -> CheckVerdict:
    if example_template_regex(record.target).fullmatch(answer):
        return CheckVerdict(True)
    return CheckVerdict(False, "answer does not fully match the answer template")


# ---------------------------------------------------------------- content and situation


def _target_list(target: str) -> object:
    try:
        return ast.literal_eval(target)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _check_source(record: Record, answer: str) -> CheckVerdict:
    source, target, zh = record.source, record.target, record.language == "zh"
    if source in ("E2E", "text_editing"):
        passed = answer == target
    elif source == "WIKIEVENTS":
        allowed = set(target.split("\n"))
        passed = all(line in allowed for line in answer.split("\n"))
    elif source == "CONLL2003":
        entities = _target_list(target)
        if not isinstance(entities, (list, tuple, set, frozenset, dict, str)):
            return CheckVerdict(False, "target is not a Python list literal")
        passed = answer in entities
    elif source == "BBH_logical":
        passed = _last(r"\([A-Z]\)", answer) == target
    elif source == "BBH_time":
        passed = _last(r"\d{2}/\d{2}/\d{4}", answer) == target
    elif source == "gsm_8k":
        passed = _last(r"\d+美元" if zh else r"\$\d+", answer) == target
    elif source == "self_made_space":
        passed = target in answer
    else:
        return _check_summary(record, answer)
    return CheckVerdict(passed, "" if passed else f"{source}: answer does not match {target!r}")


def routes_to_rules(record: Record) -> bool:
    """Whether the original evaluation scores `record` by rule (else by the judge)."""
    if record.level < 1:
        return False
    if record.category == "example":
        return True
    if record.source in RULE_SOURCES:
        return True
    chains = FORMAT_RULE_CHAINS.get(record.language, ())
    return record.level_category == "format" and record.example_id in chains


def _run(record: Record, answer: str) -> CheckVerdict:
    if record.category == "example":
        return _check_example(record, answer)
    if record.source in RULE_SOURCES:
        return _check_source(record, answer)
    return _check_format(record, answer)


def _kind(record: Record) -> str:
    if record.category == "example":
        return "example_template"
    if record.source in RULE_SOURCES:
        return record.source
    return f"format_{record.example_id}"


_CHECKS: dict[str, RuleCheck] = {}


def original_check_for(record: Record) -> RuleCheck | None:
    """The original's rule for `record` (named `original:<source or kind>`), or None when the
    original judges it."""
    if not routes_to_rules(record):
        return None
    kind = _kind(record)
    if kind not in _CHECKS:
        _CHECKS[kind] = RuleCheck(
            name=f"original:{kind}",
            description=f"the original FollowBench rule for {kind}",
            applies=lambda r, kind=kind: routes_to_rules(r) and _kind(r) == kind,
            run=_run,
            sources=(kind,) if kind in RULE_SOURCES else (),
        )
    return _CHECKS[kind]
