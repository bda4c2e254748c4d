"""Evaluations a user runs after each Lion iteration: relative quality and MCQ accuracy.

Relative quality (the Lion paper's open-ended metric)
-----------------------------------------------------
The paper scores the student against the teacher (ChatGPT) on held-out questions with a judge
that rates both answers 1-10, and reports "the ratio of the sum of scores" as a percentage, the
way FastChat's first evaluation scripts (the Vicuna blog's "% of ChatGPT quality") did:

    relative quality = 100 * sum_i student_score_i / sum_i teacher_score_i

The judge sees the two answers in both orders, and each order is reported on its own:
``Setting1`` = the teacher's answer is Assistant 1 (shown first), ``Setting2`` = the student's
answer is shown first. Each setting sums only the items whose reply in that order was scored.
``average`` is the mean of the two settings' percentages (the paper's "Avg" column: 94.74 and
92.88 give 93.81). ``swap_averaged`` is added for reference: the same ratio over the
swap-averaged scores of the items scored in both orders. Items the referee left unscored are
counted per order and left out of the sums, never guessed.

`relative_quality(judgements)` is the pure computation over judgement rows (the shared
discrimination format: ``order_teacher_first`` = [teacher, student] and ``order_student_first``
= [student, teacher], each a pair of scores or None/[-1, -1] when unscored), with a per-category
breakdown when rows carry ``category``. `arun_relative_quality` gets the answers and the
referee's judgements (see its docstring).

MCQ accuracy (zero-shot, for a local causal LM)
-----------------------------------------------
Each row ``{"task", "id", "question", "choices": [...], "answer_index"}`` becomes the prompt
``{question}\\nA. {choice}\\nB. ...\\nAnswer:``; each choice is scored by the log-probability of
``" " + choice`` after the prompt, summed over its tokens (``score="sum"``) or averaged per token
(``score="mean"``, which does not favour short choices); the best-scoring choice is the
prediction (on an exact tie the earlier choice). Log-probs come from the model's final hidden
states and its LM head through `alignkit.kernels.linear_logprobs`, only at the choice tokens,
batched. `score_mcq` scores rows, `mcq_accuracy` (pure) turns scored rows into accuracy per
task and overall with the chance rate, `evaluate_mcq` does both.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import string
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit.errors import ConfigError, InputError
from alignkit.lion import prompts
from alignkit.lion.pools import (
    DEFAULT_EVAL_FILE,
    lion_id,
    package_data_file,
    read_rows,
    request_seed,
)
from alignkit.llm import ChatRequest, ResponseCache, arun_requests
from alignkit.llm.backend import ChatBackend, ensure_no_running_loop

log = logging.getLogger(__name__)

SETTINGS = ("Setting1", "Setting2")
# Judgement keys holding each setting's pair, and which index is the student's score.
_ORDER_KEYS = {"Setting1": ("order_teacher_first", 0, 1), "Setting2": ("order_student_first", 1, 0)}
SCORE_RULES = ("sum", "mean")
MCQ_DEMO_FILE = "mcq_demo.jsonl"
LETTERS = string.ascii_uppercase


# -- relative quality (pure) -----------------------------------------------------------------


def order_scores(judgement: Mapping[str, Any], setting: str) -> tuple[float, float] | None:
    """(teacher, student) scores of one judgement in `setting`, or None when unscored there.

    Unscored: the pair is missing or None, is not two finite numbers, or holds a negative
    value (the authors' [-1, -1] marker of an unparsable reply).
    """
    key, teacher_at, student_at = _ORDER_KEYS[setting]
    pair = judgement.get(key)
    if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
        return None
    values = []
    for value in pair:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not math.isfinite(value) or value < 0:
            return None
        values.append(float(value))
    return values[teacher_at], values[student_at]


def _percent(student: float, teacher: float) -> float | None:
    return 100.0 * student / teacher if teacher > 0 else None


def _quality(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    totals = {s: {"teacher": 0.0, "student": 0.0} for s in SETTINGS}
    scored = dict.fromkeys(SETTINGS, 0)
    both = {"teacher": 0.0, "student": 0.0, "items": 0}
    for row in rows:
        pairs = {s: order_scores(row, s) for s in SETTINGS}
        for setting, pair in pairs.items():
            if pair is not None:
                totals[setting]["teacher"] += pair[0]
                totals[setting]["student"] += pair[1]
                scored[setting] += 1
        first, second = pairs["Setting1"], pairs["Setting2"]
        if first is not None and second is not None:
            both["teacher"] += (first[0] + second[0]) / 2
            both["student"] += (first[1] + second[1]) / 2
            both["items"] += 1
    out: dict[str, Any] = {"items": len(rows)}
    for setting in SETTINGS:
        out[setting] = _percent(totals[setting]["student"], totals[setting]["teacher"])
    settings = [out[s] for s in SETTINGS]
    out["average"] = None if None in settings else sum(settings) / len(settings)
    out["swap_averaged"] = _percent(both["student"], both["teacher"])
    out["scored"] = {**scored, "both": both["items"]}
    out["unscored"] = {s: len(rows) - scored[s] for s in SETTINGS}
    out["unscored"]["either"] = len(rows) - both["items"]
    out["totals"] = totals
    return out


def relative_quality(judgements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The paper's relative quality of the student (% of the teacher's summed score).

    Returns ``{"items", "Setting1", "Setting2", "average", "swap_averaged", "scored":
    {"Setting1", "Setting2", "both"}, "unscored": {"Setting1", "Setting2", "either"},
    "totals": {setting: {"teacher", "student"}}, "by_category": {category: the same without
    by_category}}``; a percentage is None where nothing was scored (or the teacher's sum is 0).
    Rows without ``category`` count as "uncategorized". See the module docstring.
    """
    rows = list(judgements)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InputError(f"judgement {i} is a {type(row).__name__}, not a mapping")
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[str(row.get("category") or "uncategorized")].append(row)
    out = _quality(rows)
    out["by_category"] = {name: _quality(groups[name]) for name in sorted(groups)}
    return out


# -- relative quality: the driver --------------------------------------------------------------


def question_rows(questions: Iterable[Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Held-out questions ``{"id", "question", "category"[, "input"]}`` as instruction rows
    ``{"id", "instruction", "input", "category"}``; rows without a question or with a repeated
    id are skipped and counted (``skipped_<reason>``). A missing id becomes `lion_id` of the
    question. Rows already in the output shape (``instruction``, not ``question``) pass through."""
    rows: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    for value in questions:
        question = None
        if isinstance(value, Mapping):  # rows this function made carry `instruction`
            question = value.get("question", value.get("instruction"))
        if not isinstance(question, str) or not question.strip():
            counts["skipped_no_question"] += 1
            continue
        row_id = str(value.get("id") or lion_id(question.strip()))
        if row_id in seen:
            counts["skipped_duplicate_id"] += 1
            continue
        seen.add(row_id)
        category, input_text = value.get("category"), value.get("input")
        rows.append(
            {
                "id": row_id,
                "instruction": question.strip(),
                "input": input_text.strip() if isinstance(input_text, str) else "",
                "category": str(category) if category else "uncategorized",
            }
        )
    if counts:
        log.warning("evaluation questions skipped: %s", dict(counts))
    counts["questions"] = len(rows)
    return rows, dict(counts)


def load_eval_questions(path: str | Path | None = None) -> tuple[list[dict[str, Any]], dict]:
    """`question_rows` of a JSON-lines file (default: the 40 held-out questions shipped with
    alignkit); an `InputError` when no usable question is left."""
    source = Path(path) if path is not None else package_data_file(DEFAULT_EVAL_FILE)
    read: Counter[str] = Counter()
    rows, counts = question_rows(read_rows([source], read))
    if not rows:
        raise InputError(f"no usable evaluation question in {source}")
    return rows, {**dict(read), **counts}


def answer_request(
    row: Mapping[str, Any], role: str, temperature: float, max_tokens: int
) -> ChatRequest:
    """The teacher's (system message + template) or the student's (template alone, sent as plain
    text by a `prompt_format="plain"` backend) request for one question, seeded per row."""
    text = prompts.instruction_prompt(row["instruction"], row.get("input") or "")
    return ChatRequest.from_prompt(
        text,
        system=prompts.TEACHER_SYSTEM if role == "teacher" else None,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=request_seed(row["id"], f"eval-{role}"),
    )


async def aevaluate_relative_quality(
    teacher: ChatBackend,
    student: ChatBackend,
    referee: ChatBackend,
    questions: Iterable[Any],
    cache: ResponseCache | None = None,
    *,
    referee_mode: str = "generate",
    max_reasks: int = 3,
    seed: int = 0,
    teacher_temperature: float = 0.7,
    teacher_max_tokens: int = 1024,
    student_temperature: float = 0.7,
    student_max_tokens: int = 1024,
    progress: bool | str = False,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Student vs teacher on held-out `questions`, judged by the swap-averaged referee.

    Teacher and student answer every question with the Lion template (the paper's settings:
    temperature 0.7, up to 1,024 tokens; the student's backend should be
    ``make_backend("transformers:PATH", prompt_format="plain")``, as in training), then
    `alignkit.lion.referee.ajudge` scores each pair in both orders. Every call goes through
    `cache`, so a repeated run sends nothing.

    Returns ``(judgements, result)``: one judgement row per question (the referee's row plus
    ``category``; a question without both answers, or that the referee could not score in both
    orders, has ``order_*: None`` and ``unscored``: why), and ``result = {"relative_quality":
    relative_quality(judgements), "counts", "llm": {"teacher", "student", "referee"}}``; counts:
    ``questions``, ``skipped_<reason>``, ``no_teacher_answer``, ``no_student_answer`` and
    ``referee`` (the referee's own counts: re-asks and drops by reason).
    """
    from alignkit.lion.referee import ajudge
    from alignkit.stage import LLMUsage

    rows, question_counts = question_rows(questions)
    counts: dict[str, Any] = dict(question_counts)
    llm: dict[str, Any] = {}
    answers: dict[str, dict[str, str]] = {}
    for role, backend, temperature, max_tokens in (
        ("teacher", teacher, teacher_temperature, teacher_max_tokens),
        ("student", student, student_temperature, student_max_tokens),
    ):
        requests = [answer_request(r, role, temperature, max_tokens) for r in rows]
        results, summary = await arun_requests(
            backend, requests, cache, progress=progress, desc=f"eval {role}"
        )
        llm[role] = LLMUsage.from_summary(summary).to_dict()
        answers[role] = {
            r["id"]: res.text.strip()
            for r, res in zip(rows, results, strict=True)
            if res.ok and res.text and res.text.strip()
        }
    unscored: dict[str, str] = {}
    items = []
    for row in rows:
        missing = [role for role in ("teacher", "student") if row["id"] not in answers[role]]
        if missing:
            unscored[row["id"]] = f"no_{missing[0]}_answer"
            continue
        items.append((row, answers["teacher"][row["id"]], answers["student"][row["id"]]))
    judged, referee_counts = await ajudge(
        referee, cache, items, referee_mode, seed, max_reasks, progress=progress
    )
    llm["referee"] = referee_counts.pop("llm", {})
    by_id = {j["id"]: j for j in judged}
    judgements = []
    for row in rows:
        if row["id"] in by_id:
            judgements.append({**by_id[row["id"]], "category": row["category"]})
            continue
        judgements.append(
            {
                "id": row["id"],
                "instruction": row["instruction"],
                "category": row["category"],
                "order_teacher_first": None,
                "order_student_first": None,
                "unscored": unscored.get(row["id"], "referee"),
            }
        )
    for reason in unscored.values():
        counts[reason] = counts.get(reason, 0) + 1
    counts["referee"] = referee_counts
    result = {"relative_quality": relative_quality(judgements), "counts": counts, "llm": llm}
    return judgements, result


def evaluate_relative_quality(
    teacher: ChatBackend, student: ChatBackend, referee: ChatBackend, *args: Any, **kwargs: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Blocking `aevaluate_relative_quality` (same arguments; outside an event loop only); the
    three backends' connections are closed after."""
    ensure_no_running_loop("evaluate_relative_quality")

    async def main() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        try:
            return await aevaluate_relative_quality(teacher, student, referee, *args, **kwargs)
        finally:
            closed: list[ChatBackend] = []
            for backend in (teacher, student, referee):
                if not any(backend is c for c in closed):
                    closed.append(backend)
                    await backend.aclose()

    return asyncio.run(main())


# -- MCQ rows ----------------------------------------------------------------------------------


def mcq_row_problem(row: Any) -> str | None:
    """Why an MCQ row cannot be scored (a short reason, the same for every such row), or None."""
    if not isinstance(row, Mapping):
        return f"not an object ({type(row).__name__})"
    for key in ("task", "question"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            return f"{key} missing or empty"
    choices = row.get("choices")
    if not isinstance(choices, Sequence) or isinstance(choices, str):
        return "choices is not a list"
    if not 2 <= len(choices) <= len(LETTERS):
        return f"needs 2 to {len(LETTERS)} choices"
    if not all(isinstance(c, str) and c.strip() for c in choices):
        return "a choice is empty or not text"
    answer = row.get("answer_index")
    if isinstance(answer, bool) or not isinstance(answer, int):
        return "answer_index is not an integer"
    if not 0 <= answer < len(choices):
        return "answer_index outside the choices"
    return None


def load_mcq_rows(paths: Sequence[str | Path] = ()) -> tuple[list[dict[str, Any]], dict]:
    """MCQ rows from JSON-lines files (default: the small demo set shipped with alignkit,
    `data/mcq_demo.jsonl`; BIG-bench tasks come from `alignkit.lion.mcq.load_bigbench_mcq`).
    Unreadable lines are counted; rows are checked when scored."""
    files = [Path(p) for p in paths] or [package_data_file(MCQ_DEMO_FILE)]
    read: Counter[str] = Counter()
    rows = read_rows(files, read)
    if not rows:
        raise InputError(f"no MCQ row in {', '.join(map(str, files))}")
    return rows, dict(read)


def mcq_prompt(question: str, choices: Sequence[str]) -> str:
    """The zero-shot prompt: the question, lettered choices, then "Answer:"."""
    lines = [question.strip()]
    lines += [f"{LETTERS[i]}. {choice.strip()}" for i, choice in enumerate(choices)]
    lines.append("Answer:")
    return "\n".join(lines)


# -- MCQ scoring -------------------------------------------------------------------------------


@dataclasses.dataclass
class _Pair:
    row: int
    choice: int
    prompt_ids: list[int]
    choice_ids: list[int]


def _causal_lm(model: Any) -> Any:
    # A PEFT wrapper exposes the `...ForCausalLM` module through get_base_model().
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _batch_logprobs(
    model: Any, pairs: Sequence[_Pair], pad_id: int, impl: str
) -> tuple[list[float], Any, Any]:
    """Summed choice log-probs of `pairs` (one padded batch), plus ids and mask for checks."""
    import torch

    from alignkit.kernels import linear_logprobs

    lm = _causal_lm(model)
    device = next(lm.parameters()).device
    width = max(len(p.prompt_ids) + len(p.choice_ids) for p in pairs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    targets = torch.full((len(pairs), width), -100, dtype=torch.long)
    for i, pair in enumerate(pairs):
        seq = pair.prompt_ids + pair.choice_ids
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        targets[i, len(pair.prompt_ids) : len(seq)] = torch.tensor(pair.choice_ids)
    ids, mask, targets = ids.to(device), mask.to(device), targets.to(device)
    # Position t predicts token t + 1; only choice tokens go through the LM head.
    next_targets = targets[:, 1:]
    keep = next_targets != -100
    with torch.inference_mode():
        hidden = lm.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
        head = lm.get_output_embeddings()
        logps = linear_logprobs(
            hidden[:, :-1][keep], head.weight, head.bias, next_targets[keep], impl=impl
        )
        rows = keep.nonzero()[:, 0]
        sums = torch.zeros(len(pairs), dtype=torch.float32, device=device)
        sums.index_add_(0, rows, logps.float())
    return sums.tolist(), ids, next_targets


def _check_plain_head(model: Any, ids: Any, targets: Any, sums: Sequence[float]) -> None:
    """Refuse models whose logits are not `hidden @ W.T (+ b)` (soft-capped, scaled, ...).

    Compares the first sequence of a batch with the model's own full forward pass.
    """
    import torch

    with torch.inference_mode():
        logits = model(input_ids=ids[:1]).logits[0, :-1].float()
        target = targets[0]
        keep = target != -100
        expected = logits[keep].log_softmax(-1).gather(1, target[keep][:, None]).sum().item()
    exact = next(model.parameters()).dtype == torch.float32
    tolerance = (1e-3 if exact else 0.25) * max(int(keep.sum()), 1)
    if abs(expected - sums[0]) > tolerance:
        raise InputError(
            f"{type(_causal_lm(model)).__name__}'s logits are not its final hidden states times "
            f"the LM head (log-prob {sums[0]:.4f} vs the model's {expected:.4f}); MCQ scoring "
            "supports plain LM heads only"
        )


def score_mcq(
    model: Any,
    tokenizer: Any,
    rows: Iterable[Any],
    *,
    batch_size: int = 16,
    impl: str = "auto",
    max_length: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Score every choice of every valid MCQ row with a local causal LM (no sampling).

    `model`: a Hugging Face causal LM (or a PEFT wrapper of one) with a plain LM head, in eval
    mode on any device; `tokenizer`: its tokenizer. A prompt too long for `max_length` (default:
    the model's max_position_embeddings) loses tokens from its start. Invalid rows are skipped,
    counted by reason and logged.

    Returns ``(scored, counts)``: ``scored`` rows are ``{"task", "id", "answer_index",
    "choice_logprobs": [summed log-prob per choice], "choice_tokens": [tokens per choice]}``;
    ``counts`` = ``{"rows", "scored", "skipped": {reason: n}, "truncated"}``.
    """
    if batch_size < 1:
        raise ConfigError("batch_size must be >= 1")
    lm = _causal_lm(model)
    limit = max_length or getattr(lm.config, "max_position_embeddings", None) or 1 << 30
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    kept: list[Mapping[str, Any]] = []
    skipped: Counter[str] = Counter()
    pairs: list[_Pair] = []
    truncated = 0
    n_rows = 0
    for n_rows, row in enumerate(rows, 1):
        problem = mcq_row_problem(row)
        if problem is not None:
            skipped[problem] += 1
            log.warning("MCQ row %d skipped: %s", n_rows, problem)
            continue
        choices = [
            list(tokenizer(" " + choice.strip(), add_special_tokens=False)["input_ids"])
            for choice in row["choices"]
        ]
        if any(len(ids) >= limit for ids in choices):
            skipped["a choice is longer than the model's context"] += 1
            log.warning("MCQ row %d skipped: a choice is longer than %d tokens", n_rows, limit)
            continue
        prompt_ids = list(tokenizer(mcq_prompt(row["question"], row["choices"]))["input_ids"])
        cut = False
        for c, choice_ids in enumerate(choices):
            room = limit - len(choice_ids)
            cut = cut or len(prompt_ids) > room
            pairs.append(_Pair(len(kept), c, prompt_ids[-room:], choice_ids))
        truncated += cut
        kept.append(row)
    # Similar lengths share a batch (less padding); results go back to their pair by index.
    order = sorted(
        range(len(pairs)), key=lambda i: len(pairs[i].prompt_ids) + len(pairs[i].choice_ids)
    )
    logprob = [0.0] * len(pairs)
    checked = False
    for start in range(0, len(order), batch_size):
        batch = [pairs[i] for i in order[start : start + batch_size]]
        sums, ids, targets = _batch_logprobs(model, batch, pad_id, impl)
        if not checked:
            _check_plain_head(model, ids, targets, sums)
            checked = True
        for i, value in zip(order[start : start + batch_size], sums, strict=True):
            logprob[i] = value
    scored = [
        {
            "task": row["task"],
            "id": row.get("id"),
            "answer_index": row["answer_index"],
            "choice_logprobs": [],
            "choice_tokens": [],
        }
        for row in kept
    ]
    for pair, value in zip(pairs, logprob, strict=True):
        scored[pair.row]["choice_logprobs"].append(value)
        scored[pair.row]["choice_tokens"].append(len(pair.choice_ids))
    if truncated:
        log.warning("%d MCQ prompts were cut from the start to fit %d tokens", truncated, limit)
    counts = {"rows": n_rows, "scored": len(kept), "skipped": dict(skipped), "truncated": truncated}
    return scored, counts


def predicted_choice(scored_row: Mapping[str, Any], score: str = "sum") -> int:
    """Index of the best choice by summed (`sum`) or per-token mean (`mean`) log-prob."""
    if score not in SCORE_RULES:
        raise ConfigError(f"score must be one of {SCORE_RULES}, not {score!r}")
    values = list(scored_row["choice_logprobs"])
    if score == "mean":
        values = [v / n for v, n in zip(values, scored_row["choice_tokens"], strict=True)]
    return max(range(len(values)), key=lambda i: (values[i], -i))


def _accuracy_block(rows: Sequence[Mapping[str, Any]], score: str) -> dict[str, Any]:
    hits = {
        rule: sum(predicted_choice(r, rule) == r["answer_index"] for r in rows)
        for rule in SCORE_RULES
    }
    n = len(rows)
    return {
        "items": n,
        "correct": hits[score],
        "accuracy": hits[score] / n if n else None,
        "accuracy_sum": hits["sum"] / n if n else None,
        "accuracy_mean": hits["mean"] / n if n else None,
        "chance": sum(1 / len(r["choice_logprobs"]) for r in rows) / n if n else None,
    }


def mcq_accuracy(scored: Iterable[Mapping[str, Any]], score: str = "sum") -> dict[str, Any]:
    """Accuracy per task and overall from `score_mcq`'s rows (fractions in 0..1).

    Returns ``{"score", "items", "correct", "accuracy", "accuracy_sum", "accuracy_mean",
    "chance", "macro_accuracy", "macro_chance", "tasks": {task: {"items", "correct",
    "accuracy", "accuracy_sum", "accuracy_mean", "chance"}}}``: ``accuracy`` follows `score`;
    overall values are over all items, ``macro_*`` the mean over tasks (how the paper averages
    BBH and AGIEval tasks); ``chance`` = the mean of 1 / number of choices.
    """
    if score not in SCORE_RULES:
        raise ConfigError(f"score must be one of {SCORE_RULES}, not {score!r}")
    rows = list(scored)
    by_task: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_task[str(row["task"])].append(row)
    tasks = {name: _accuracy_block(by_task[name], score) for name in sorted(by_task)}
    out: dict[str, Any] = {"score": score, **_accuracy_block(rows, score)}
    out["macro_accuracy"] = (
        sum(t["accuracy"] for t in tasks.values()) / len(tasks) if tasks else None
    )
    out["macro_chance"] = sum(t["chance"] for t in tasks.values()) / len(tasks) if tasks else None
    out["tasks"] = tasks
    return out


def evaluate_mcq(
    model: Any,
    tokenizer: Any,
    rows: Iterable[Any],
    *,
    score: str = "sum",
    batch_size: int = 16,
    impl: str = "auto",
    max_length: int | None = None,
) -> dict[str, Any]:
    """`mcq_accuracy` of `score_mcq`, with the row counts under ``"counts"``."""
    if score not in SCORE_RULES:
        raise ConfigError(f"score must be one of {SCORE_RULES}, not {score!r}")
    scored, counts = score_mcq(
        model, tokenizer, rows, batch_size=batch_size, impl=impl, max_length=max_length
    )
    return {**mcq_accuracy(scored, score), "counts": counts}
