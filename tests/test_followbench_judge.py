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
def test_parse_verdicts_accepts(reply: str, level: int, expected: tuple[bool, ...]) -> None:
    parsed = parse_verdicts(reply, level)
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
def test_parse_verdicts_rejects(reply: str | None, level: int, problem: str) -> None:
    parsed = parse_verdicts(reply, level)
    assert not parsed.ok and parsed.verdicts is None
    assert problem in parsed.problem


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
