"""Every prompt Lion sends, written for alignkit (the contents follow the authors' prompts).

- Teacher and student: `instruction_prompt` (the `### Instruction:` template, no preamble
  sentence) under `TEACHER_SYSTEM`; the student sees the same text as plain text.
- Referee: `referee_prompt` under `REFEREE_SYSTEM`; the reply ends with the two `SCORE_LABELS`
  lines that `alignkit.lion.referee` parses (or pre-fills, in logprob mode).
- Generator: `generator_prompt(seed, "hard" | "easy")` under `GENERATOR_SYSTEM`: a new
  instruction in the seed's domain and task type (hard) or in its domain but rarer (easy); the
  prompt ends with `CREATED_MARKER`, which also opens the pre-filled answer in prefill mode.
"""

from __future__ import annotations

TEACHER_SYSTEM = (
    "You are a helpful assistant. You are given the instruction of a task; write a response "
    "that carries it out."
)

REFEREE_SYSTEM = (
    "You are a helpful assistant who judges the quality of answers carefully and precisely."
)

GENERATOR_SYSTEM = "You are a helpful, capable assistant."

# The score lines the referee must end with; the parser and the logprob prefill rely on them.
SCORE_LABELS = ("Score of the Assistant 1:", "Score of the Assistant 2:")

GIVEN_MARKER = "#Given Instruction#:"
CREATED_MARKER = "#Created Instruction#:"

GENERATOR_KINDS = ("hard", "easy")


def instruction_prompt(instruction: str, input: str = "") -> str:
    """The task as teacher and student see it; the `### Input:` block only when input is set."""
    if input:
        return f"### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
    return f"### Instruction:\n{instruction}\n\n### Response:\n"


_REFEREE_TASK = f"""\
Two AI assistants have answered the user instruction shown above. Please tell us how well each \
of them did.

Judge how helpful, relevant, accurate and detailed each answer is, and give each assistant a \
single overall score from 1 to 10; a higher score means a better answer overall.

Begin with a thorough explanation of your judgement. Stay impartial, and do not let the order in \
which the answers appear influence you. After that, write two lines holding the scores of \
Assistant 1 and Assistant 2.

Use exactly this format:
Evaluation evidence: <your explanation>
{SCORE_LABELS[0]} <score>
{SCORE_LABELS[1]} <score>"""


def referee_prompt(instruction: str, answer_1: str, answer_2: str, input: str = "") -> str:
    """The referee's user message: the instruction, two answers, then the task.

    The authors show the referee the instruction alone; a non-empty `input` is shown too (an
    answer cannot be judged without it); with an empty input the prompt is the original's.
    """
    task = f"[Instruction]\n{instruction}\n\n"
    if input:
        task += f"[Input]\n{input}\n\n"
    return (
        f"{task}"
        f"[Assistant 1's answer begins]\n{answer_1}\n[Assistant 1's answer ends]\n\n"
        f"[Assistant 2's answer begins]\n{answer_2}\n[Assistant 2's answer ends]\n\n"
        f"[System]\n{_REFEREE_TASK}\n"
    )


_GENERATOR_SCOPE = {
    "hard": "The new instruction must come from the same domain as the #Given Instruction# and "
    "ask for the same type of task.",
    "easy": "The new instruction must stay in the domain of the #Given Instruction#, but deal "
    "with something rarer still.",
}


def generator_prompt(seed_instruction: str, kind: str) -> str:
    """Ask for one new instruction inspired by `seed_instruction`.

    `hard`: same domain and task type (the student's weak spots, explored further); `easy`:
    same domain but rarer (diversity where the student already does well).
    """
    if kind not in _GENERATOR_SCOPE:
        raise ValueError(f"kind must be one of {', '.join(GENERATOR_KINDS)}, not {kind!r}")
    return (
        "Act as an Instruction Creator.\n"
        "Taking the #Given Instruction# as inspiration, your job is to write an entirely new "
        "instruction.\n"
        f"{_GENERATOR_SCOPE[kind]}\n"
        "The #Created Instruction# should be about as long and as difficult as the #Given "
        "Instruction#.\n"
        "The #Created Instruction# has to make sense, and a human must be able to understand it "
        "and respond to it.\n"
        "Never write '#Given Instruction#', '#Created Instruction#', 'given instruction' or "
        "'created instruction' inside the #Created Instruction#.\n\n"
        f"{GIVEN_MARKER}\n{seed_instruction}\n\n{CREATED_MARKER}"
    )


__all__ = [
    "CREATED_MARKER",
    "GENERATOR_KINDS",
    "GENERATOR_SYSTEM",
    "GIVEN_MARKER",
    "REFEREE_SYSTEM",
    "SCORE_LABELS",
    "TEACHER_SYSTEM",
    "generator_prompt",
    "instruction_prompt",
    "referee_prompt",
]
