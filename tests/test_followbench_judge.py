"""Judge prompts and robust parsing of judge replies."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.followbench import build_judge_prompt, load_followbench, parse_verdicts
from alignkit.followbench.judge import judge_messages, retry_reminder

FIXTURE = Path(__file__).parent / "data" / "followbench"


@pytest.mark.parametrize(
    ("reply", "level", "expected"),
    [
        ("Constraint 1 is met.\nYES", 1, (True,)),
        ("Reasoning.\n```\n['YES', 'NO']\n```", 2, (True, False)),
        ('```python\n["YES", "PARTIAL", "UNKNOWN"]\n```', 3, (True, False, False)),
        ("An early guess [YES, YES] then the final one:\n[NO, YES]\nThanks!", 2, (False, True)),
        ("Final verdicts: yes, no", 2, (True, False)),
        ("[Answer] looks fine.\n[yes]", 1, (True,)),
        ("【YES，NO，YES】", 3, (True, False, True)),
        ("**Final:** [YES, NOT SATISFIED]", 2, (True, False)),
        ("[YES, N/A, NO, YES]", 4, (True, False, False, True)),
    ],
)
def test_lenient_parse_accepts(reply: str, level: int, expected: tuple[bool, ...]) -> None:
    parsed = parse_verdicts(reply, level, "lenient")
    assert parsed.ok and parsed.verdicts == expected, parsed


@pytest.mark.parametrize(
    ("reply", "level", "problem"),
    [
        (None, 2, "empty"),
        ("   ", 1, "empty"),
        ("I think the answer is fine overall.", 2, "no YES/NO"),
        ("[YES, NO]", 3, "has 2 items, expected 3"),
        ("[YES, MAYBE]", 2, "no YES/NO"),
        ("YES and NO", 2, "no YES/NO"),
    ],
)
def test_lenient_parse_rejects(reply: str | None, level: int, problem: str) -> None:
    parsed = parse_verdicts(reply, level, "lenient")
    assert not parsed.ok and parsed.verdicts is None
    assert problem in parsed.problem


def test_lenient_parse_final_line_wins_over_an_earlier_list() -> None:
    reply = "Draft: [NO, NO]\nOn reflection both hold.\nFinal answer: YES, YES"
    assert parse_verdicts(reply, 2, "lenient").verdicts == (True, True)


@pytest.mark.parametrize(
    ("reply", "level", "expected"),
    [
        # only the final line counts: an earlier, different list is ignored
        ("First pass: ['NO', 'NO']\nSecond look.\n['YES', 'NO']", 2, (True, False)),
        ("['YES', 'YES']\n['NO', 'YES']", 2, (False, True)),
        ("Reasoning.\n```\n['YES', 'NO']\n```", 2, (True, False)),
        ('```python\n["YES", "PARTIAL", "UNKNOWN"]\n```', 3, (True, False, False)),
        ("['YES', 'N/A', 'MAYBE', 'NO']", 4, (True, False, False, False)),
        ("Answer: ['YES', 'YES']  # done", 2, (True, True)),
        # level 1: substring test on the final line, YES before NO
        ("Constraint 1 is met.\n['YES']", 1, (True,)),
        ("NOTE: YES", 1, (True,)),
        ("The answer is wrong.\nNO", 1, (False,)),
        ("It says YES on line one\n['NO']", 1, (False,)),
    ],
)
def test_original_parse(reply: str, level: int, expected: tuple[bool, ...]) -> None:
    parsed = parse_verdicts(reply, level)  # the default is the original reading
    assert parsed.ok and parsed.verdicts == expected, parsed


@pytest.mark.parametrize(
    ("reply", "level"),
    [
        ("['YES', 'NO']\nThanks!", 2),  # final line has no list
        ("[yes, no]", 2),  # not a Python literal of strings
        ("['yes', 'no']", 2),  # case matters
        ("['YES', 'NO']", 3),  # wrong length
        ("['YES', 'SORT OF']", 2),
        ("[1, 0]", 2),
        ("Looks fine.", 1),
        ("", 1),
        (None, 2),
    ],
)
def test_original_parse_unparsable(reply: str | None, level: int) -> None:
    assert not parse_verdicts(reply, level).ok


def test_prompt_walks_the_constraint_path() -> None:
    data = load_followbench(FIXTURE)
    chain = next(c for c in data.chains if c.chain_id == "style/1")
    record = chain.record(3)
    prompt = build_judge_prompt(chain, record, "Dear neighbour, do come for tea.")
    assert chain.initial_instruction in prompt
    for level in (1, 2, 3):
        assert chain.record(level).instruction in prompt
        assert f"### Version {level} " in prompt
    assert chain.record(4).instruction not in prompt
    assert "Dear neighbour, do come for tea." in prompt
    assert "exactly 3 verdicts" in prompt and "style constraint" in prompt
    # the list template in the prompt holds placeholders: a judge echoing it stays unparsable
    assert not parse_verdicts(prompt, 3).ok


def test_retry_conversation() -> None:
    messages = judge_messages("PROMPT", ["no list", "still none"], 2)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[2]["content"] == retry_reminder(2)
    assert "exactly 2 verdicts" in retry_reminder(2)
