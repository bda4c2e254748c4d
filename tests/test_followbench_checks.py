"""The lenient rule checks (`rules="lenient"`): real FollowBench records (when ../shared has
them) and the bundled fixture, each with answers written here to pass and to fail. The default
(original) checks are tested against an oracle in test_followbench_original_rules.py."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from alignkit.followbench import (
    Record,
    RuleCheck,
    find_check,
    get_check,
    list_checks,
    load_followbench,
    register_check,
    unregister_check,
)
from alignkit.followbench.checks import CheckVerdict, example_template_pattern

from conftest import shared_file

FIXTURE = Path(__file__).parent / "data" / "followbench"


@functools.lru_cache(maxsize=8)
def _load(data_dir: Path):  # noqa: ANN202 - cached loader
    return load_followbench(data_dir)


def _record(data_dir: Path, chain_id: str, level: int) -> Record:
    data = _load(data_dir)
    chain = next(c for c in data.chains if c.chain_id == chain_id)
    return chain.record(level)


def _assert(record: Record, check_name: str, good: list[str], bad: list[str]) -> None:
    check = find_check(record, "lenient")
    assert check is not None and check.name == check_name, record.item_id
    for answer in good:
        verdict = check(record, answer)
        assert verdict.passed, (record.item_id, answer, verdict.reason)
    for answer in bad:
        verdict = check(record, answer)
        assert not verdict.passed, (record.item_id, answer)
        assert verdict.reason


@pytest.fixture(scope="module")
def en() -> Path:
    return shared_file("followbench", "data")


@pytest.fixture(scope="module")
def zh() -> Path:
    return shared_file("followbench", "data_zh")


def test_example_templates_on_real_records(en: Path) -> None:
    _assert(
        _record(en, "example/2", 1),
        "example_template",
        ["BOT: Science and technology", "  BOT: Sports\n", "BOT: two\nlines"],
        ["Science and technology", "Bot: Science and technology", "The answer is BOT: x"],
    )
    _assert(
        _record(en, "example/1", 1),
        "example_template",
        ["{'AI assistant': 'Legal Anywhere.com'}"],
        ["{'AI assistant': Legal Anywhere.com}", "'AI assistant': 'Legal Anywhere.com'"],
    )


def test_tense_and_word_helpers() -> None:
    from alignkit.followbench.checks import contains_word, present_perfect, present_progressive

    for sentence in ("He has saved money", "They have won", "She has already held it"):
        assert present_perfect(sentence, "en"), sentence
    for sentence in ("He has a fortune", "They have to go", "He saved money", "has"):
        assert not present_perfect(sentence, "en"), sentence
    assert present_progressive("Crews are clearing roads", "en")
    assert not present_progressive("Crews cleared roads", "en")
    assert contains_word("Operation continues", "operation", "en")
    assert not contains_word("operations continue", "operation", "en")
    assert contains_word("小明喜欢", "喜欢", "zh")


def test_example_template_pattern_handles_braces_and_multiline() -> None:
    pattern = example_template_pattern("{instruction}\n{{'bot': '{answer}'}}")
    assert pattern.fullmatch("{'bot': 'a\nb'}")
    assert not pattern.fullmatch("{'bot': 'a'")
    assert example_template_pattern("{instruction}\n#Bot#\n{answer}").fullmatch("#Bot#\nyes")


def test_extraction_checks_on_real_records(en: Path) -> None:
    e2e = _record(en, "content/14", 2)
    _assert(
        e2e,
        "data_to_text_attributes",
        [e2e.target, "name[the phoenix], eatType[pub], food[French], priceRange[more than £30]."],
        [
            "name[The Phoenix], eatType[pub], food[French]",
            "Here it is: " + e2e.target,
            "name[The Phoenix], eatType[restaurant], food[French], priceRange[more than £30]",
        ],
    )
    events = _record(en, "content/19", 2)
    lines = events.target.split("\n")
    _assert(
        events,
        "event_extraction_templates",
        [f"{lines[0]}\n{lines[2]}"],
        [lines[0], f"{lines[0]}\n{lines[0]}", f"{lines[0]}\nnobody died at home"],
    )
    _assert(
        _record(en, "content/21", 5),
        "named_entity_choice",
        ["Bonn", " 'Bonn'. "],
        ["Germany", "The entity is Bonn"],
    )


def test_text_editing_on_real_records(en: Path) -> None:
    _assert(
        _record(en, "mixed/3", 5),
        "text_editing_exact",
        ["pples loved eting i.", "pples loved eting i.\n"],
        ["pples love eting i.", "Pples loved eting i."],
    )


def test_summary_constraints_on_real_records(en: Path) -> None:
    cnn = (
        "Harry Potter star turns 18 today. The young actor stays modest. "
        "He has saved his films fees."
    )
    _assert(
        _record(en, "mixed/11", 5),
        "summary_constraints",
        [cnn],
        [
            cnn.replace("stays modest", "stays lavish"),
            cnn.replace("He has saved", "He saved"),
            cnn.replace(". He", " and he"),
        ],
    )
    # Constraint 4 (no 'lavish' in sentence 2) is not part of level 3.
    assert find_check(_record(en, "mixed/11", 3), "lenient")(
        _record(en, "mixed/11", 3), cnn.replace("stays modest", "stays lavish")
    ).passed
    xsum = "Flood repair operation is continuing across the Scottish Borders."
    _assert(
        _record(en, "mixed/12", 5),
        "summary_constraints",
        [xsum],
        [
            xsum.replace("operation", "operations"),
            xsum.replace("is continuing", "continued"),
            "Newton Stewart repair operation is continuing.",
            xsum + " More rain is coming.",
        ],
    )
    samsum = "Kim will try the pomodoro technique to get stuff done."
    _assert(
        _record(en, "mixed/13", 5),
        "summary_constraints",
        [samsum],
        [
            "Kim will try Tim's technique to get stuff done.",
            "Kim keeps procrastinating on stuff.",
            "Kim will try a technique.",
        ],
    )
    _assert(
        _record(en, "mixed/14", 5),
        "summary_constraints",
        ["at least two people killed in southern philippines"],
        [
            "two people killed in southern philippines attack",
            "at least two killed in philippine bus attack",
            "At least two people killed in southern philippines",
            "at least two people killed, in southern philippines",
        ],
    )
    assert find_check(_record(en, "mixed/14", 3), "lenient")(
        _record(en, "mixed/14", 3), "at least two killed in philippine bus attack"
    ).passed
    _assert(
        _record(en, "mixed/15", 5),
        "summary_constraints",
        ["We locate factual associations in mid-layer activations and edit them directly."],
        ["We edit transformer activations.", "Our method edits activations.", "We edit weights."],
    )


def test_reasoning_checks_on_real_records(en: Path) -> None:
    _assert(
        _record(en, "situation/1", 5),
        "logical_deduction_choice",
        ["The hawk is second from the left, so the answer is (H).", "(A) is wrong; (H)"],
        ["(H) is tempting but the answer is (A).", "The hawk."],
    )
    _assert(
        _record(en, "situation/6", 5),
        "date_reasoning",
        ["Today is 12/25/1937, so the date is 02/10/1942."],
        ["The date is 02/09/1942.", "February 10, 1942"],
    )
    _assert(
        _record(en, "situation/7", 5),
        "spatial_reasoning",
        ["He is now on the 14th floor, apartment 3."],
        ["He is on the 14th floor, Apartment 2."],
    )
    _assert(
        _record(en, "situation/8", 5),
        "arithmetic_answer",
        ["10 + 24 + 8 - 5 = 37, so she earned $37.", "In total: 37 dollars"],
        ["She earned $42 before paying $5.", "She earned $37 and then $42."],
    )


def test_chinese_records(zh: Path) -> None:
    _assert(
        _record(zh, "mixed/10", 5),
        "summary_constraints",
        ["客车遇袭两人丧生"],
        ["在菲律宾两人丧生", "客车遇袭，两人丧生", "客车遇袭2人丧生了", "客车遇袭"],
    )
    _assert(_record(zh, "content/19", 5), "named_entity_choice", ["波恩"], ["德国"])
    _assert(_record(zh, "situation/8", 5), "arithmetic_answer", ["她总共赚了37美元。"], ["42美元"])
    e2e = _record(zh, "content/14", 2)
    _assert(e2e, "data_to_text_attributes", [e2e.target], ["名字[The Phoenix]，类型[酒吧]"])


def test_checks_on_the_bundled_fixture() -> None:
    _assert(
        _record(FIXTURE, "example/1", 2),
        "example_template",
        ["{'bot': 'Yes'}"],
        ["Reply: Yes", "Yes"],
    )
    _assert(
        _record(FIXTURE, "content/1", 5),
        "data_to_text_attributes",
        [
            "name[The Copper Kettle], eatType[tea room], food[Welsh], priceRange[cheap], "
            "near[the Old Mill]"
        ],
        ["name[The Copper Kettle], eatType[tea room]"],
    )
    _assert(
        _record(FIXTURE, "situation/1", 5),
        "date_reasoning",
        ["Today is 03/02/2024, so the date is 04/16/2025."],
        ["04/15/2025"],
    )
    _assert(
        _record(FIXTURE, "mixed/1", 5),
        "summary_constraints",
        ["drivers in the port town strike over wages"],
        ["bus drivers in port town strike over wages", "drivers strike over unpaid wages"],
    )
    _assert(
        _record(FIXTURE, "mixed/2", 5),
        "text_editing_exact",
        ["[[ANN READS BOOKS.]]"],
        ["[[ANN READS OLD BOOKS.]]"],
    )
    assert find_check(_record(FIXTURE, "content/2", 3), "lenient") is None  # open-ended: judged


def test_registry_lists_and_extends() -> None:
    names = [c.name for c in list_checks()]
    assert names[0] == "example_template"
    assert {"summary_constraints", "arithmetic_answer", "named_entity_choice"} <= set(names)
    record = _record(FIXTURE, "style/1", 2)
    assert find_check(record, "lenient") is None

    def polite(rec: Record, answer: str) -> CheckVerdict:
        return CheckVerdict("please" in answer.lower(), "no 'please'")

    register_check(
        RuleCheck(
            name="fixture_polite",
            description="test-only",
            applies=lambda r: r.category == "style",
            run=polite,
        )
    )
    try:
        assert find_check(record, "lenient") is get_check("fixture_polite")
        assert find_check(record, "lenient")(record, "Please come to tea").passed
        assert not find_check(record, "lenient")(record, "Come to tea").passed
        with pytest.raises(ValueError, match="already registered"):
            register_check(get_check("fixture_polite"))
    finally:
        unregister_check("fixture_polite")
    assert find_check(record, "lenient") is None
    with pytest.raises(KeyError, match="no rule check"):
        get_check("fixture_polite")
