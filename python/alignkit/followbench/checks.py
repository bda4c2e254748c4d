"""Rule-based checks: the FollowBench items whose constraints a program can verify.

This module holds the LENIENT checks (`rules="lenient"`): they trim, case-fold and unquote
answers and score some items the original judges. The default, `rules="original"`, uses
`alignkit.followbench.original_rules` instead (the authors' routing and definitions).

Every check answers one question for one item: do all constraints up to the item's level hold?
Checks are registered by name (`register_check`), listed by `list_checks()` and chosen per item
by `find_check(record)`: the first registered check whose `applies(record)` is true. Items no
check applies to go to the LLM judge.

What is checked (written from the benchmark's task definitions):

- `example_template` - every example-constraint item: the answer, stripped of surrounding
  whitespace, must match the answer template of the few-shot examples in full (the `target`
  after `{instruction}\\n`, with `{answer}` standing for any text).
- `data_to_text_attributes` (E2E): the `attr[value], ...` answer must list exactly the reference
  attributes with the reference values (case and spacing aside) and nothing else.
- `event_extraction_templates` (WIKIEVENTS): one event per line, each one of the reference
  fillings of the event template, as many distinct events as the instruction asks for.
- `named_entity_choice` (CONLL2003): the answer is one of the reference entities.
- `text_editing_exact` (text_editing): the edited text equals the reference.
- `summary_constraints` (cnn_dailymail, xsum, samsum, gigaword, arxiv): sentence counts, word
  or character limits, required and forbidden words, tense, case and punctuation; one list of
  constraints per source and language, the item's level selects the first `level` of them.
- `logical_deduction_choice` (BBH_logical): the last `(X)` option in the answer is the reference.
- `date_reasoning` (BBH_time): the last MM/DD/YYYY date in the answer is the reference.
- `spatial_reasoning` (self_made_space): the reference (e.g. `14th floor`) appears in the answer.
- `arithmetic_answer` (gsm_8k): the final amount in the answer equals the reference amount.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import string
from collections.abc import Callable, Sequence

from alignkit.followbench.data import Record

CheckFunction = Callable[[Record, str], "CheckVerdict"]


@dataclasses.dataclass(frozen=True)
class CheckVerdict:
    """Whether every constraint up to the item's level holds, and why not when it does not."""

    passed: bool
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class RuleCheck:
    """A named rule check: `applies(record)` selects items, `run(record, answer)` judges one."""

    name: str
    description: str
    applies: Callable[[Record], bool]
    run: CheckFunction
    sources: tuple[str, ...] = ()

    def __call__(self, record: Record, answer: str) -> CheckVerdict:
        return self.run(record, answer)


_REGISTRY: dict[str, RuleCheck] = {}


def register_check(check: RuleCheck, *, replace: bool = False) -> RuleCheck:
    """Add `check` to the registry (a name may be registered once unless `replace`)."""
    if check.name in _REGISTRY and not replace:
        raise ValueError(f"a rule check named {check.name!r} is already registered")
    _REGISTRY[check.name] = check
    return check


def unregister_check(name: str) -> None:
    """Remove a check (its items go to the judge again)."""
    _REGISTRY.pop(name, None)


def list_checks() -> list[RuleCheck]:
    """All registered checks, in the order they are tried."""
    return list(_REGISTRY.values())


def get_check(name: str) -> RuleCheck:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no rule check named {name!r}; known: {', '.join(_REGISTRY)}") from None


RULE_MODES = ("original", "lenient")


def find_check(record: Record, rules: str = "original") -> RuleCheck | None:
    """The rule check for `record`, or None (judge it).

    `rules="original"` (default): the original FollowBench routing and rule definitions
    (`alignkit.followbench.original_rules`). `rules="lenient"`: the first registered check that
    applies (the checks of this module and any registered by the user).
    """
    if rules == "original":
        from alignkit.followbench.original_rules import original_check_for

        return original_check_for(record)
    if rules != "lenient":
        raise ValueError(f"rules must be one of {', '.join(RULE_MODES)}, not {rules!r}")
    for check in _REGISTRY.values():
        if check.applies(record):
            return check
    return None


def rule_check(
    name: str, description: str, *, sources: Sequence[str] = (), category: str | None = None
) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator registering `fn(record, answer) -> CheckVerdict` for records of `sources`
    (and of `category` when given)."""

    def applies(record: Record) -> bool:
        if category is not None and record.category != category:
            return False
        return not sources or record.source in sources

    def wrap(fn: CheckFunction) -> CheckFunction:
        register_check(
            RuleCheck(
                name=name,
                description=description,
                applies=applies,
                run=fn,
                sources=tuple(sources),
            )
        )
        return fn

    return wrap


# ---------------------------------------------------------------- text helpers

_SPACES = re.compile(r"\s+")
_QUOTES = "\"'`“”‘’「」『』"
_ZH_PUNCT = "，。！？；：、“”‘’（）《》【】…—·「」『』"
PUNCTUATION = set(string.punctuation) | set(_ZH_PUNCT)


def normalize_space(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def short_answer(text: str) -> str:
    """A one-phrase answer without surrounding whitespace, quotes or a final full stop."""
    text = text.strip().rstrip(".。").strip()
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip().rstrip(".。").strip()
    return text


def split_sentences(text: str, language: str) -> list[str]:
    """Sentences split at . ! ? (and 。！？ in Chinese); empty pieces are dropped."""
    pattern = r"[.!?。！？]+" if language == "zh" else r"[.!?]+"
    return [s.strip() for s in re.split(pattern, text) if s.strip()]


def count_words(text: str, language: str) -> int:
    """Whitespace words in English; characters other than spaces and punctuation in Chinese."""
    if language == "zh":
        return sum(1 for ch in text if not ch.isspace() and ch not in PUNCTUATION)
    return len(text.split())


def contains_word(text: str, word: str, language: str) -> bool:
    """Whole-word match in English, ignoring case (a sentence-initial capital is still the
    word); substring match in Chinese."""
    if language == "zh" or not word[:1].isalnum():
        return word in text
    pattern = r"(?<!\w)" + re.escape(word) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


# ---------------------------------------------------------------- example constraints


def example_template_pattern(target: str) -> re.Pattern[str]:
    """The answer template of an example-constraint item as a full-match regex.

    `target` is `{instruction}\\n<template>` in Python format syntax: `{{`/`}}` are literal braces
    and `{answer}` is the slot for any text (several lines included).
    """
    template = target.split("{instruction}", 1)[-1]
    if template.startswith("\n"):
        template = template[1:]
    pieces = template.split("{answer}")
    literal = [p.replace("{{", "{").replace("}}", "}") for p in pieces]
    return re.compile("(?:.*?)".join(re.escape(p) for p in literal), re.DOTALL)


@rule_check(
    "example_template",
    "example constraints: the answer fully matches the few-shot answer template",
    category="example",
)
def check_example_template(record: Record, answer: str) -> CheckVerdict:
    pattern = example_template_pattern(record.target)
    if pattern.fullmatch(answer.strip()):
        return CheckVerdict(True)
    template = record.target.split("{instruction}", 1)[-1].lstrip("\n")
    return CheckVerdict(False, f"answer does not match the template {template!r}")


# ---------------------------------------------------------------- content: extraction tasks

_ATTRIBUTE = re.compile(r"([^\[\],，\n]+?)\s*\[([^\[\]]*)\]")


def parse_attributes(text: str) -> tuple[dict[str, list[str]], str]:
    """`name[a, b], eatType[pub]` -> ({'name': ['a', 'b'], ...}, text left outside the pairs)."""
    pairs: dict[str, list[str]] = {}
    for match in _ATTRIBUTE.finditer(text):
        key = normalize_space(match.group(1)).casefold()
        values = [normalize_space(v).casefold() for v in re.split(r"[,，]", match.group(2))]
        pairs[key] = values
    rest = _ATTRIBUTE.sub("", text)
    return pairs, rest


@rule_check(
    "data_to_text_attributes",
    "data-to-text (E2E): exactly the reference attributes and values, nothing else",
    sources=("E2E",),
)
def check_attributes(record: Record, answer: str) -> CheckVerdict:
    expected, _ = parse_attributes(record.target)
    got, rest = parse_attributes(short_answer(answer))
    if rest.strip(" ,，.。;；\n\t"):
        return CheckVerdict(False, f"text outside the attribute list: {rest.strip()[:80]!r}")
    if got != expected:
        missing = sorted(set(expected) - set(got))
        wrong = sorted(k for k in expected if k in got and got[k] != expected[k])
        extra = sorted(set(got) - set(expected))
        return CheckVerdict(False, f"missing {missing}, wrong {wrong}, extra {extra}")
    return CheckVerdict(True)


_EVENT_COUNT = re.compile(r"extract (\d+) events?", re.IGNORECASE)


@rule_check(
    "event_extraction_templates",
    "event extraction (WIKIEVENTS): the requested number of events, each a reference filling",
    sources=("WIKIEVENTS",),
)
def check_events(record: Record, answer: str) -> CheckVerdict:
    allowed = {normalize_space(line) for line in record.target.split("\n") if line.strip()}
    lines = [normalize_space(line) for line in answer.strip().split("\n") if line.strip()]
    if not lines:
        return CheckVerdict(False, "no events")
    bad = [line for line in lines if line not in allowed]
    if bad:
        return CheckVerdict(False, f"not a valid event: {bad[0][:80]!r}")
    match = _EVENT_COUNT.search(record.instruction)
    wanted = int(match.group(1)) if match else None
    if wanted is not None and len(set(lines)) != wanted:
        return CheckVerdict(False, f"{len(set(lines))} distinct events, {wanted} asked")
    return CheckVerdict(True)


def _reference_list(target: str) -> list[str]:
    try:
        value = ast.literal_eval(target)
    except (ValueError, SyntaxError):
        return [target]
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value]
    return [str(value)]


@rule_check(
    "named_entity_choice",
    "named entities (CONLL2003): the answer is one of the reference entities",
    sources=("CONLL2003",),
)
def check_entity(record: Record, answer: str) -> CheckVerdict:
    got = normalize_space(short_answer(answer))
    allowed = [normalize_space(v) for v in _reference_list(record.target)]
    if got in allowed:
        return CheckVerdict(True)
    return CheckVerdict(False, f"{got[:60]!r} is not one of {allowed}")


@rule_check(
    "text_editing_exact",
    "text editing: the edited text equals the reference",
    sources=("text_editing",),
)
def check_text_editing(record: Record, answer: str) -> CheckVerdict:
    if answer.strip() == record.target.strip():
        return CheckVerdict(True)
    return CheckVerdict(False, "edited text differs from the reference")


# ---------------------------------------------------------------- summaries


@dataclasses.dataclass(frozen=True)
class Constraint:
    """One added constraint of a summary chain; `marker` must appear in the instruction of
    every level that has it (so a changed data file falls back to the judge, never misjudged)."""

    description: str
    marker: str
    test: Callable[[str, str], bool]  # (answer, language) -> holds


def sentence_count(n: int) -> Callable[[str, str], bool]:
    return lambda text, lang: len(split_sentences(text, lang)) == n


def words_below(limit: int, inclusive: bool = False) -> Callable[[str, str], bool]:
    def test(text: str, lang: str) -> bool:
        n = count_words(text, lang)
        return n <= limit if inclusive else n < limit

    return test


def word_count(n: int) -> Callable[[str, str], bool]:
    return lambda text, lang: count_words(text, lang) == n


def each_sentence_words_below(limit: int, inclusive: bool = False) -> Callable[[str, str], bool]:
    def test(text: str, lang: str) -> bool:
        sentences = split_sentences(text, lang)
        return bool(sentences) and all(words_below(limit, inclusive)(s, lang) for s in sentences)

    return test


def has_word(word: str) -> Callable[[str, str], bool]:
    return lambda text, lang: contains_word(text, word, lang)


def lacks_word(word: str) -> Callable[[str, str], bool]:
    return lambda text, lang: not contains_word(text, word, lang)


def words_in_sentences(words: Sequence[str]) -> Callable[[str, str], bool]:
    """words[i] appears in sentence i+1."""

    def test(text: str, lang: str) -> bool:
        sentences = split_sentences(text, lang)
        return len(sentences) >= len(words) and all(
            contains_word(s, w, lang) for s, w in zip(sentences, words, strict=False)
        )

    return test


def sentence_lacks(index: int, word: str) -> Callable[[str, str], bool]:
    def test(text: str, lang: str) -> bool:
        sentences = split_sentences(text, lang)
        return len(sentences) > index and not contains_word(sentences[index], word, lang)

    return test


# has/have (+ an optional -ly adverb) + a word that is not a determiner, pronoun or "to"
# (which would make has/have a main verb: "has a fortune", "have to go").
_NOT_PARTICIPLE = (
    "a|an|the|to|no|not|some|any|this|that|these|those|my|your|his|her|its|our|their|it|"
    "them|him|me|us|one|two|three|many|much|more|most|several|all|every|enough|little|few"
)
_PRESENT_PERFECT = re.compile(
    r"\b(has|have|'ve)\s+(\w+ly\s+)?(?!(?:" + _NOT_PARTICIPLE + r")\b)[a-z]+\b",
    re.IGNORECASE,
)
_PRESENT_PROGRESSIVE = re.compile(r"\b(am|is|are)\s+(\w+ly\s+)?\w+ing\b")
_ZH_PERFECT = re.compile(r"已经|已|过|了")
_ZH_PROGRESSIVE = re.compile(r"正在|在.{0,8}中|着")


def present_perfect(text: str, lang: str) -> bool:
    if lang == "zh":
        return _ZH_PERFECT.search(text) is not None
    return _PRESENT_PERFECT.search(text) is not None


def present_progressive(text: str, lang: str) -> bool:
    if lang == "zh":
        return _ZH_PROGRESSIVE.search(text) is not None
    return _PRESENT_PROGRESSIVE.search(text) is not None


def sentence_test(index: int, test: Callable[[str, str], bool]) -> Callable[[str, str], bool]:
    def run(text: str, lang: str) -> bool:
        sentences = split_sentences(text, lang)
        return len(sentences) > index and test(sentences[index], lang)

    return run


def no_punctuation(text: str, lang: str) -> bool:
    return not any(ch in PUNCTUATION for ch in text)


def punctuation_count(n: int) -> Callable[[str, str], bool]:
    return lambda text, lang: sum(ch in PUNCTUATION for ch in text) == n


def all_lowercase(text: str, lang: str) -> bool:
    return text == text.lower() and any(ch.isalpha() for ch in text)


def no_arabic_digits(text: str, lang: str) -> bool:
    return not any(ch in "0123456789" for ch in text)


def no_substring(fragment: str) -> Callable[[str, str], bool]:
    return lambda text, lang: fragment.casefold() not in text.casefold()


def starts_with(prefix: str) -> Callable[[str, str], bool]:
    return lambda text, lang: text.startswith(prefix)


C = Constraint
# Level k of a chain adds constraint k; the item at level L must satisfy constraints 1..L.
SUMMARY_CONSTRAINTS: dict[tuple[str, str], tuple[Constraint, ...]] = {
    ("en", "cnn_dailymail"): (
        C("exactly 3 sentences", "3 sentences", sentence_count(3)),
        C("each sentence under 15 words", "less than 15 words", each_sentence_words_below(15)),
        C(
            "'Potter', 'actor', 'films' in sentences 1, 2, 3",
            "'Potter'",
            words_in_sentences(("Potter", "actor", "films")),
        ),
        C("no 'lavish' in sentence 2", "'lavish'", sentence_lacks(1, "lavish")),
        C(
            "sentence 3 in the present perfect",
            "present perfect",
            sentence_test(2, present_perfect),
        ),
    ),
    ("en", "xsum"): (
        C("one sentence", "one sentence", sentence_count(1)),
        C("under 20 words", "less than 20 words", words_below(20)),
        C("no 'Newton Stewart'", "'Newton Stewart'", lacks_word("Newton Stewart")),
        C("present progressive", "present progress", present_progressive),
        C("contains 'operation'", "'operation'", has_word("operation")),
    ),
    ("en", "samsum"): (
        C("one sentence", "one sentence", sentence_count(1)),
        C("under 15 words", "less than 15 words", words_below(15)),
        C("contains 'stuff'", "'stuff'", has_word("stuff")),
        C("no form of 'procrast'", "'procrast'", no_substring("procrast")),
        C("exactly one punctuation mark", "one punctuation", punctuation_count(1)),
    ),
    ("en", "gigaword"): (
        C("exactly 8 words", "8-word", word_count(8)),
        C("no punctuation", "punctuation", no_punctuation),
        C("all lowercase", "lowercase", all_lowercase),
        C("no 'bus'", "'bus'", lacks_word("bus")),
        C("contains 'in'", "'in'", has_word("in")),
    ),
    ("en", "arxiv"): (
        C("one sentence", "one sentence", sentence_count(1)),
        C("at most 20 words", "20 words", words_below(20, inclusive=True)),
        C("starts with 'We'", "'We'", starts_with("We")),
        C("contains 'activations'", "'activations'", has_word("activations")),
        C("no 'transformer'", "'transformer'", lacks_word("transformer")),
    ),
    ("zh", "cnn_dailymail"): (
        C("exactly 3 sentences", "三句话", sentence_count(3)),
        C("each sentence at most 15 characters", "15个字", each_sentence_words_below(15, True)),
        C(
            "波特, 演员, 电影 in sentences 1, 2, 3",
            "“波特”",
            words_in_sentences(("波特", "演员", "电影")),
        ),
        C("no 奢侈 in sentence 2", "“奢侈”", sentence_lacks(1, "奢侈")),
        C("sentence 3 in the present perfect", "现在完成时", sentence_test(2, present_perfect)),
    ),
    ("zh", "xsum"): (
        C("one sentence", "一句话", sentence_count(1)),
        C("at most 20 characters", "20个字", words_below(20, inclusive=True)),
        C("no 牛顿斯图尔特", "“牛顿斯图尔特”", lacks_word("牛顿斯图尔特")),
        C("present progressive", "现在进行时", present_progressive),
        C("contains 操作", "“操作”", has_word("操作")),
    ),
    ("zh", "samsum"): (
        C("one sentence", "一句话", sentence_count(1)),
        C("at most 15 characters", "15个字", words_below(15, inclusive=True)),
        C("contains 琐碎的", "“琐碎的”", has_word("琐碎的")),
        C("no 拖沓的", "“拖沓的”", lacks_word("拖沓的")),
        C("exactly one punctuation mark", "一个标点符号", punctuation_count(1)),
    ),
    ("zh", "gigaword"): (
        C("exactly 8 characters", "8字", word_count(8)),
        C("no punctuation", "标点符号", no_punctuation),
        C("no Arabic digits", "阿拉伯数字", no_arabic_digits),
        C("no 公交车", "“公交车”", lacks_word("公交车")),
        C("no 在", "“在”", lacks_word("在")),
    ),
    ("zh", "arxiv"): (
        C("one sentence", "一句话", sentence_count(1)),
        C("at most 20 characters", "20个字", words_below(20, inclusive=True)),
        C("starts with 我们", "“我们”", starts_with("我们")),
        C("contains 激活", "“激活”", has_word("激活")),
        C("no transformer", "“transformer”", lacks_word("transformer")),
    ),
}
del C


def summary_constraints_for(record: Record) -> tuple[Constraint, ...] | None:
    """The constraints of `record`'s level, or None when the instruction does not state them."""
    spec = SUMMARY_CONSTRAINTS.get((record.language, record.source))
    if spec is None or not 1 <= record.level <= len(spec):
        return None
    active = spec[: record.level]
    if all(c.marker in record.instruction for c in active):
        return active
    return None


def _summary_applies(record: Record) -> bool:
    return summary_constraints_for(record) is not None


def check_summary(record: Record, answer: str) -> CheckVerdict:
    constraints = summary_constraints_for(record)
    if constraints is None:
        return CheckVerdict(False, "no summary constraints for this item")
    text = answer.strip()
    failed = [c.description for c in constraints if not c.test(text, record.language)]
    if failed:
        return CheckVerdict(False, "violates: " + "; ".join(failed))
    return CheckVerdict(True)


register_check(
    RuleCheck(
        name="summary_constraints",
        description="summaries: sentence counts, word limits, required/forbidden words, tense, "
        "case and punctuation",
        applies=_summary_applies,
        run=check_summary,
        sources=tuple(sorted({source for _, source in SUMMARY_CONSTRAINTS})),
    )
)


# ---------------------------------------------------------------- situation: reasoning


@rule_check(
    "logical_deduction_choice",
    "logical deduction (BBH): the last (X) option in the answer is the reference",
    sources=("BBH_logical",),
)
def check_logical(record: Record, answer: str) -> CheckVerdict:
    options = re.findall(r"[(（]\s*([A-Z])\s*[)）]", answer)
    expected = re.sub(r"[^A-Z]", "", record.target)
    if options and options[-1] == expected:
        return CheckVerdict(True)
    return CheckVerdict(False, f"last option {options[-1] if options else None}, want {expected}")


@rule_check(
    "date_reasoning",
    "date reasoning (BBH): the last MM/DD/YYYY date in the answer is the reference",
    sources=("BBH_time",),
)
def check_date(record: Record, answer: str) -> CheckVerdict:
    dates = re.findall(r"\b\d{2}/\d{2}/\d{4}\b", answer)
    if dates and dates[-1] == record.target.strip():
        return CheckVerdict(True)
    return CheckVerdict(False, f"last date {dates[-1] if dates else None}, want {record.target}")


@rule_check(
    "spatial_reasoning",
    "spatial reasoning: the reference position appears in the answer",
    sources=("self_made_space",),
)
def check_spatial(record: Record, answer: str) -> CheckVerdict:
    if normalize_space(record.target).casefold() in normalize_space(answer).casefold():
        return CheckVerdict(True)
    return CheckVerdict(False, f"{record.target!r} not in the answer")


_AMOUNT = re.compile(r"\$\s*(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s*(?:美元|元|dollars?)")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _as_number(text: str) -> float:
    return float(text.replace(",", ""))


@rule_check(
    "arithmetic_answer",
    "arithmetic (GSM8K): the last amount of money in the answer equals the reference",
    sources=("gsm_8k",),
)
def check_arithmetic(record: Record, answer: str) -> CheckVerdict:
    wanted = _NUMBER.search(record.target)
    if wanted is None:
        return CheckVerdict(False, f"reference {record.target!r} has no number")
    amounts = [m.group(1) or m.group(2) for m in _AMOUNT.finditer(answer)]
    if not amounts:
        amounts = _NUMBER.findall(answer)
    if amounts and _as_number(amounts[-1]) == _as_number(wanted.group()):
        return CheckVerdict(True)
    return CheckVerdict(
        False, f"final amount {amounts[-1] if amounts else None}, want {wanted.group()}"
    )
