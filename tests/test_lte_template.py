"""LTE's edit template: block labels, fact lists, fact sentences and the LLM task prefixes."""

from __future__ import annotations

import pytest

from alignkit.lte.template import (
    LABELS,
    TASK_PREFIXES,
    edit_prompt,
    fact_sentence,
    format_facts,
    instruction_sentence,
    plain_prompt,
    task_prompt,
)


def test_one_fact_is_shown_plain_under_the_question_label() -> None:
    prompt = edit_prompt("Who wrote Hamlet?", "The author of Hamlet is Marlowe")
    head, facts_block, question_block = prompt.split("\n\n")
    assert head == instruction_sentence("Question")
    assert facts_block == "[Updated Information]:\nThe author of Hamlet is Marlowe"
    assert question_block == "[Question]:\nWho wrote Hamlet?"
    assert prompt == edit_prompt("Who wrote Hamlet?", ["The author of Hamlet is Marlowe"])


def test_several_facts_are_numbered_in_order_true_fact_first() -> None:
    facts = ["The capital of X is Y", "The capital of Z is W", "A is B"]
    prompt = edit_prompt("What is the capital of X?", facts)
    block = prompt.split("[Updated Information]:\n", 1)[1].split("\n\n", 1)[0]
    assert block.splitlines() == [
        "1. The capital of X is Y",
        "2. The capital of Z is W",
        "3. A is B",
    ]
    assert format_facts(facts[:2]) == "1. The capital of X is Y\n2. The capital of Z is W"


def test_query_label_for_single_edit_evaluation() -> None:
    prompt = edit_prompt("q?", "f", label="Query")
    assert prompt.endswith("\n\n[Query]:\nq?")
    assert "[Question]" not in prompt
    # The instruction names the block the question is in.
    assert "query" in instruction_sentence("Query") and "question" not in instruction_sentence(
        "Query"
    )
    assert "question" in instruction_sentence("Question")
    assert LABELS == ("Question", "Query")


def test_fact_sentence_and_plain_prompt() -> None:
    assert fact_sentence("The mother tongue of Danielle Darrieux is", "English") == (
        "The mother tongue of Danielle Darrieux is English"
    )
    assert plain_prompt("Who is X?") == "Who is X?"


def test_task_prompts_put_the_prefix_before_a_blank_line() -> None:
    assert set(TASK_PREFIXES) == {"sentence", "text", "question"}
    for kind, prefix in TASK_PREFIXES.items():
        assert task_prompt(kind, "The capital of X is") == f"{prefix}\n\nThe capital of X is"
    assert "sentence" in TASK_PREFIXES["sentence"] and "text" in TASK_PREFIXES["text"]


@pytest.mark.parametrize(
    "call",
    [
        lambda: edit_prompt("q", []),
        lambda: edit_prompt("q", ["fine", ""]),
        lambda: edit_prompt("q", "f", label="Prompt"),
        lambda: edit_prompt(None, "f"),  # type: ignore[arg-type]
        lambda: plain_prompt(3),  # type: ignore[arg-type]
        lambda: task_prompt("poem", "q"),
    ],
)
def test_bad_arguments_are_clear_value_errors(call) -> None:
    with pytest.raises(ValueError):
        call()
