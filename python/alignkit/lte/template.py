"""LTE's prompt layout: the edit template, fact sentences and the task prefixes of LLM fills.

A request that carries edits reads

    <instruction sentence>

    [Updated Information]:
    <one fact, or a numbered list "1. ...\\n2. ..." with the true fact first>

    [Question]:
    <question>

The block labels are the method's interface (a model aligned on them expects them verbatim);
the instruction sentence is ours. Training and batch/sequential evaluation label the question
block `Question`; LTE's single-edit evaluation labels it `Query` and names it a query in the
instruction. Without an edit the user turn is the bare question (`plain_prompt`).
"""

from __future__ import annotations

from collections.abc import Sequence

LABELS = ("Question", "Query")
FACTS_LABEL = "Updated Information"
_INSTRUCTION = "Please take the updated information given below into account and answer the {} "
_INSTRUCTION_END = "that follows."

# Task prefixes of the requests that fill a missing "without edit" answer (LTE asked GPT-4 with
# the same three kinds: complete a sentence, complete a text, answer a question).
TASK_PREFIXES = {
    "sentence": "Please finish the sentence below. Reply with the missing part only.",
    "text": "Please finish the text below. Reply with the missing part only.",
    "question": "Please answer the question below. Reply with the answer only.",
}


def instruction_sentence(label: str = "Question") -> str:
    """The sentence that opens an edit request; it names the block the question sits in."""
    _check_label(label)
    return _INSTRUCTION.format(label.lower()) + _INSTRUCTION_END


def format_facts(facts: str | Sequence[str]) -> str:
    """One fact as it is; several as a numbered list, in the given order (true fact first)."""
    items = [facts] if isinstance(facts, str) else list(facts)
    if not items:
        raise ValueError("an edit prompt needs at least one fact")
    for fact in items:
        if not isinstance(fact, str) or not fact.strip():
            raise ValueError(f"a fact must be a non-empty string, not {fact!r}")
    if len(items) == 1:
        return items[0]
    return "\n".join(f"{i}. {fact}" for i, fact in enumerate(items, start=1))


def edit_prompt(question: str, facts: str | Sequence[str], label: str = "Question") -> str:
    """The user turn asking `question` with `facts` in the template (see the module docstring).

    `label`: "Question" (training, batch and sequential evaluation) or "Query" (single-edit
    evaluation)."""
    if not isinstance(question, str):
        raise ValueError(f"a question must be a string, not {question!r}")
    return (
        f"{instruction_sentence(label)}\n\n[{FACTS_LABEL}]:\n{format_facts(facts)}"
        f"\n\n[{label}]:\n{question}"
    )


def fact_sentence(prompt: str, target_new: str) -> str:
    """An edit as one sentence, as LTE stores and shows it: the prompt, a space, the target."""
    return f"{prompt} {target_new}"


def plain_prompt(question: str) -> str:
    """The user turn without an edit: the bare question."""
    if not isinstance(question, str):
        raise ValueError(f"a question must be a string, not {question!r}")
    return question


def task_prompt(kind: str, question: str) -> str:
    """The request that asks an LLM for the answer a record lacks: a task prefix (`sentence`,
    `text` or `question`, see TASK_PREFIXES), a blank line, the question."""
    if kind not in TASK_PREFIXES:
        raise ValueError(f"kind must be one of {', '.join(TASK_PREFIXES)}, not {kind!r}")
    return f"{TASK_PREFIXES[kind]}\n\n{question}"


def _check_label(label: str) -> None:
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
