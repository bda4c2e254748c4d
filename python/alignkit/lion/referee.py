"""The referee: scores teacher and student answers, swap-averaged, and splits hard from easy.

Every item is judged twice, teacher first and student first, so the position of an answer cannot
favour it: teacher = (s12[0] + s21[1]) / 2, student = (s12[1] + s21[0]) / 2 (`combine_swapped`).
An item is hard when teacher - student >= 1.0 (`split_hard_easy`).

Two modes:
- `generate` (the authors'): the referee explains, then ends with one score line per assistant,
  read by `parse_referee_scores` (the authors' rule). Temperature 0.2, 512 tokens. An unparsable
  reply is asked again with a new seed, at most `max_reasks` times; an item still unparsable is
  dropped and counted, never scored.
- `logprob` (an addition for small referees): the answer is pre-filled up to each score line and
  one token is generated with its top-20 log-probabilities; the score is the expected value over
  the tokens 1..10 (`expected_score`). No sampling, nothing to parse.

Tokenizers differ in how a score follows `...Assistant 1:`: as one token (" 7") or as a space and
then a digit (" ", "7"); "10" as one token or as "1", "0". When the space tokens outweigh the
digits, the space is appended to the pre-fill and the next token is read instead; when "1"
carries weight and no "10" token is in the list, one more request after "1" tells how much of
p("1") is really "10" (its probability of a following "0"). The second score line is pre-filled
after the first with the first's expected score rounded to an integer.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from alignkit.lion.prompts import REFEREE_SYSTEM, SCORE_LABELS, referee_prompt
from alignkit.llm import ChatRequest, ChatResult, ResponseCache, arun_requests
from alignkit.llm.backend import ChatBackend, ensure_no_running_loop
from alignkit.stage import LLMUsage

REFEREE_TEMPERATURE = 0.2
REFEREE_MAX_TOKENS = 512
HARD_THRESHOLD = 1.0
REFEREE_MODES = ("generate", "logprob")
ORDERS = ("teacher_first", "student_first")
TOP_LOGPROBS = 20
# Below this share of the score mass, "1" is not split into 1 vs 10 (error <= 9 x this).
MIN_SPLIT_MASS = 0.005

Scores = tuple[float, float]
TokenLogprobs = Sequence[tuple[str, float]]
T = TypeVar("T")


def stable_seed(*parts: object) -> int:
    """A 31-bit seed from `parts` (stable across runs, so a resumed run hits the cache)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") >> 1


# -- generate mode -------------------------------------------------------------------------------


def parse_referee_reply(text: str | None) -> tuple[Scores | None, str | None]:
    """(scores, None), or (None, why the reply is unusable).

    The authors' rule: of the reply's last two lines, the first must name "Assistant 1" and the
    second "Assistant 2" before their first ':'; each score is the number after the last ':'.
    Trailing whitespace of the reply is ignored, and a non-finite number (nan, inf) is unusable.
    """
    if text is None or not text.strip():
        return None, "empty_reply"
    lines = text.rstrip().split("\n")
    if len(lines) < 2:
        return None, "too_few_lines"
    scores = []
    for line, name in zip(lines[-2:], ("Assistant 1", "Assistant 2"), strict=True):
        if name not in line.split(":")[0]:
            return None, f"no_{name.lower().replace(' ', '_')}_line"
        try:
            value = float(line.split(":")[-1].strip())
        except ValueError:
            return None, "score_not_a_number"
        if not math.isfinite(value):
            return None, "score_not_a_number"
        scores.append(value)
    return (scores[0], scores[1]), None


def parse_referee_scores(text: str | None) -> Scores | None:
    """(score of Assistant 1, score of Assistant 2), or None when the reply is unusable."""
    return parse_referee_reply(text)[0]


def referee_messages(
    instruction: str, answer_1: str, answer_2: str, input: str = ""
) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": REFEREE_SYSTEM},
        {"role": "user", "content": referee_prompt(instruction, answer_1, answer_2, input)},
    ]


def referee_request(
    instruction: str, answer_1: str, answer_2: str, *, seed: int, input: str = ""
) -> ChatRequest:
    """One sampled referee reply (temperature 0.2, at most 512 tokens)."""
    return ChatRequest(
        messages=referee_messages(instruction, answer_1, answer_2, input),
        temperature=REFEREE_TEMPERATURE,
        max_tokens=REFEREE_MAX_TOKENS,
        seed=seed,
    )


def combine_swapped(s12: Sequence[float], s21: Sequence[float]) -> Scores:
    """(teacher, student) from the teacher-first scores `s12` and the student-first `s21`."""
    return (s12[0] + s21[1]) / 2, (s12[1] + s21[0]) / 2


# -- logprob mode --------------------------------------------------------------------------------


def logprob_request(
    instruction: str, answer_1: str, answer_2: str, prefill: str, *, input: str = ""
) -> ChatRequest:
    """One token after the pre-filled answer `prefill`, with its top-20 log-probabilities."""
    return _next_token_request(referee_messages(instruction, answer_1, answer_2, input), prefill)


def _next_token_request(messages: Sequence[Mapping[str, str]], prefill: str) -> ChatRequest:
    return ChatRequest(
        messages=[*messages, {"role": "assistant", "content": prefill}],
        temperature=0.0,
        max_tokens=1,
        extra={"logprobs": True, "top_logprobs": TOP_LOGPROBS},
    )


# Marks some tokenizers print for a leading space (SentencePiece, byte-level BPE).
_SPACE_MARKS = " \t\u2581\u0120"
_DIGITS = re.compile(r"[0-9]+")


def _number(token: str) -> str | None:
    """The digits a token starts with ("7", " 7", "10/", "\u25817" -> "7", "7", "10", "7")."""
    match = _DIGITS.match(token.lstrip(_SPACE_MARKS))
    return match.group() if match else None


def _is_space(token: str) -> bool:
    return bool(token) and not token.strip(_SPACE_MARKS)


def score_distribution(
    top_logprobs: TokenLogprobs, ten_share: float | None = None
) -> dict[int, float] | None:
    """P(score) for scores 1..10 from one position's top log-probabilities, normalised over the
    score tokens (None when there are none). Tokens with the same score add up (" 7", "7").

    `ten_share`: the share of p("1") that continues with "0" (tokenizers without a "10" token),
    moved from score 1 to score 10.
    """
    mass: collections.Counter[int] = collections.Counter()
    for token, logprob in top_logprobs:
        digits = _number(token)
        if digits is not None and digits == str(int(digits)) and 1 <= int(digits) <= 10:
            mass[int(digits)] += math.exp(logprob)
    if ten_share and mass[1]:
        moved = mass[1] * min(max(ten_share, 0.0), 1.0)
        mass[1] -= moved
        mass[10] += moved
    total = sum(mass.values())
    if total <= 0:
        return None
    return {score: p / total for score, p in sorted(mass.items()) if p > 0}


def expected_score(top_logprobs: TokenLogprobs, ten_share: float | None = None) -> float | None:
    """Sum of p(s) * s over s in 1..10 (see `score_distribution`); None without score tokens."""
    dist = score_distribution(top_logprobs, ten_share)
    return None if dist is None else sum(s * p for s, p in dist.items())


def _space_lead(top_logprobs: TokenLogprobs) -> str | None:
    """The best space token when spaces outweigh the score tokens (the score comes next)."""
    space = digit = 0.0
    best = None
    for token, logprob in top_logprobs:
        if _is_space(token):
            space += math.exp(logprob)
            best = best or token
        elif _number(token) is not None:
            digit += math.exp(logprob)
    return best if space > digit else None


def _needs_ten_split(top_logprobs: TokenLogprobs) -> bool:
    numbers = [(_number(t), math.exp(lp)) for t, lp in top_logprobs]
    if any(n == "10" for n, _ in numbers):
        return False  # the tokenizer has a "10" token: "1" means one
    dist = score_distribution(top_logprobs)
    return dist is not None and dist.get(1, 0.0) >= MIN_SPLIT_MASS


def _zero_share(top_logprobs: TokenLogprobs) -> float:
    """P(the next token starts with "0") - after a "1", the chance the score is 10."""
    return min(sum(math.exp(lp) for t, lp in top_logprobs if _number(t) == "0"), 1.0)


def _first_position(result: ChatResult) -> TokenLogprobs | None:
    positions = getattr(result, "top_logprobs", None)
    if not result.ok or not positions:
        return None
    return [(str(t), float(lp)) for t, lp in positions[0]]


class _Batches:
    """Runs request batches through the cache, adding their usage up."""

    def __init__(self, backend: ChatBackend, cache: ResponseCache | None, progress: bool | str):
        self.backend, self.cache, self.progress = backend, cache, progress
        self.usage = LLMUsage()

    async def run(self, requests: list[ChatRequest], desc: str) -> list[ChatResult]:
        if not requests:
            return []
        results, summary = await arun_requests(
            self.backend, requests, self.cache, progress=self.progress, desc=desc
        )
        self.usage.merge(LLMUsage.from_summary(summary))
        return results


async def _expected_scores(
    batches: _Batches, jobs: list[tuple[list[dict[str, str]], str]], line: int
) -> list[tuple[float | None, str, int, str | None]]:
    """Per (messages, pre-fill ending at a score label): (expected score, the space token the
    score follows, requests used, why there is no score)."""

    def ask(indices: Iterable[int], suffix: Mapping[int, str]) -> list[ChatRequest]:
        return [_next_token_request(jobs[i][0], jobs[i][1] + suffix[i]) for i in indices]

    n = len(jobs)
    leads = dict.fromkeys(range(n), "")
    used = [1] * n
    results = await batches.run(ask(range(n), leads), f"referee score {line}")
    dists = [_first_position(r) for r in results]
    failed = [None if r.ok else "request_failed" for r in results]

    spaced = {i: lead for i, d in enumerate(dists) if d and (lead := _space_lead(d)) is not None}
    if spaced:
        leads.update(spaced)
        again = await batches.run(ask(spaced, leads), f"referee score {line} after space")
        for i, result in zip(spaced, again, strict=True):
            dists[i], used[i] = _first_position(result), used[i] + 1
            failed[i] = None if result.ok else "request_failed"

    shares: dict[int, float] = {}
    split = [i for i, d in enumerate(dists) if d and _needs_ten_split(d)]
    if split:
        after_one = {i: leads[i] + "1" for i in split}
        got = await batches.run(ask(split, after_one), f"referee score {line} 1 vs 10")
        for i, result in zip(split, got, strict=True):
            used[i] += 1
            position = _first_position(result)
            if position is None:
                failed[i] = "request_failed" if not result.ok else "no_logprobs"
            else:
                shares[i] = _zero_share(position)

    out = []
    for i, dist in enumerate(dists):
        score = None if dist is None or failed[i] else expected_score(dist, shares.get(i))
        why = failed[i] or (
            None if score is not None else "no_logprobs" if dist is None else "no_score_tokens"
        )
        out.append((score, leads[i], used[i], why))
    return out


# -- the driver ----------------------------------------------------------------------------------


def _item_parts(item: Any) -> tuple[Mapping[str, Any], str, str]:
    """(row, teacher answer, student answer) from a (row, teacher, student) tuple or a mapping
    with `teacher_response` and `student_response`."""
    if isinstance(item, Mapping):
        return item, str(item["teacher_response"]), str(item["student_response"])
    row, teacher, student = item
    return row, str(teacher), str(student)


def _answers(order: str, teacher: str, student: str) -> tuple[str, str]:
    return (teacher, student) if order == "teacher_first" else (student, teacher)


async def _judge_generate(
    batches: _Batches,
    parts: list[tuple[Mapping[str, Any], str, str]],
    seed: int,
    max_reasks: int,
    counts: collections.Counter[str],
) -> tuple[dict[tuple[int, str], Scores], dict[int, int], dict[tuple[int, str], str]]:
    scores: dict[tuple[int, str], Scores] = {}
    attempts: collections.Counter[int] = collections.Counter()
    problems: dict[tuple[int, str], str] = {}
    pending = [(i, order) for i in range(len(parts)) for order in ORDERS]
    for attempt in range(max_reasks + 1):
        if not pending:
            break
        requests = []
        for i, order in pending:
            row, teacher, student = parts[i]
            requests.append(
                referee_request(
                    row["instruction"],
                    *_answers(order, teacher, student),
                    seed=stable_seed(seed, row["id"], order, attempt),
                    input=row.get("input") or "",
                )
            )
        desc = "referee" if attempt == 0 else f"referee re-ask {attempt}"
        results = await batches.run(requests, desc)
        still = []
        for key, result in zip(pending, results, strict=True):
            attempts[key[0]] += 1
            got, problem = (
                parse_referee_reply(result.text) if result.ok else (None, "request_failed")
            )
            if got is not None:
                scores[key] = got
                problems.pop(key, None)
                continue
            problems[key] = problem or "unparsable"
            if attempt < max_reasks:
                counts[f"reask_{problems[key]}"] += 1
            still.append(key)
        pending = still
    return scores, dict(attempts), problems


async def _judge_logprob(
    batches: _Batches, parts: list[tuple[Mapping[str, Any], str, str]]
) -> tuple[dict[tuple[int, str], Scores], dict[int, int], dict[tuple[int, str], str]]:
    keys = [(i, order) for i in range(len(parts)) for order in ORDERS]
    bases = []
    for i, order in keys:
        row, teacher, student = parts[i]
        bases.append(
            referee_messages(
                row["instruction"], *_answers(order, teacher, student), row.get("input") or ""
            )
        )
    first = await _expected_scores(batches, [(m, SCORE_LABELS[0]) for m in bases], 1)
    attempts: collections.Counter[int] = collections.Counter()
    problems: dict[tuple[int, str], str] = {}
    second_jobs, second_keys = [], []
    for key, messages, (score, lead, used, why) in zip(keys, bases, first, strict=True):
        attempts[key[0]] += used
        if score is None:
            problems[key] = why or "no_score_tokens"
            continue
        shown = math.floor(score + 0.5)
        prefix = f"{SCORE_LABELS[0]}{lead or ' '}{shown}\n{SCORE_LABELS[1]}"
        second_jobs.append((messages, prefix))
        second_keys.append((key, score))
    second = await _expected_scores(batches, second_jobs, 2)
    scores: dict[tuple[int, str], Scores] = {}
    for (key, score_1), (score_2, _lead, used, why) in zip(second_keys, second, strict=True):
        attempts[key[0]] += used
        if score_2 is None:
            problems[key] = why or "no_score_tokens"
        else:
            scores[key] = (score_1, score_2)
    return scores, dict(attempts), problems


async def ajudge(
    backend: ChatBackend,
    cache: ResponseCache | None,
    items: Iterable[Any],
    mode: str = "generate",
    seed: int = 0,
    max_reasks: int = 3,
    *,
    threshold: float = HARD_THRESHOLD,
    progress: bool | str = False,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Judge every item in both orders; returns (judgement rows in item order, counts).

    `items`: (row, teacher answer, student answer) tuples, or mappings with `teacher_response`
    and `student_response`; rows need `id`, `instruction` and optionally `input`. Rows carry the
    design's judgement fields, labelled with `threshold`. Counts (flat integers): `items`,
    `judged`, `reask_<reason>` (re-asks, generate mode), `dropped_<reason>` (items without both
    scores), `referee_requests`; `llm`: the usage (`alignkit.stage.LLMUsage`) of every batch.
    """
    if mode not in REFEREE_MODES:
        raise ValueError(f"mode must be one of {', '.join(REFEREE_MODES)}, not {mode!r}")
    if max_reasks < 0:
        raise ValueError("max_reasks must be >= 0")
    parts = [_item_parts(item) for item in items]
    counts: collections.Counter[str] = collections.Counter(items=len(parts))
    batches = _Batches(backend, cache, progress)
    if mode == "generate":
        scores, attempts, problems = await _judge_generate(batches, parts, seed, max_reasks, counts)
    else:
        scores, attempts, problems = await _judge_logprob(batches, parts)

    rows = []
    for i, (row, teacher, student) in enumerate(parts):
        s12, s21 = scores.get((i, ORDERS[0])), scores.get((i, ORDERS[1]))
        if s12 is None or s21 is None:
            problem = problems.get((i, ORDERS[0])) or problems.get((i, ORDERS[1]))
            counts[f"dropped_{problem}"] += 1
            continue
        teacher_score, student_score = combine_swapped(s12, s21)
        gap = teacher_score - student_score
        rows.append(
            {
                "id": row["id"],
                "instruction": row["instruction"],
                "input": row.get("input") or "",
                "teacher_response": teacher,
                "student_response": student,
                "order_teacher_first": list(s12),
                "order_student_first": list(s21),
                "teacher_score": teacher_score,
                "student_score": student_score,
                "gap": gap,
                "label": "hard" if gap >= threshold else "easy",
                "referee_attempts": attempts.get(i, 0),
            }
        )
    counts["judged"] = len(rows)
    counts["referee_requests"] = sum(attempts.values())
    return rows, {**counts, "llm": batches.usage.to_dict()}


def blocking(driver: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """The blocking form of an async driver whose first argument is the backend: runs it in
    `asyncio.run` (outside an event loop only) and closes the backend's connections after."""

    @functools.wraps(driver)
    def run(backend: ChatBackend, *args: Any, **kwargs: Any) -> T:
        ensure_no_running_loop(run.__name__)

        async def main() -> T:
            try:
                return await driver(backend, *args, **kwargs)
            finally:
                await backend.aclose()

        return asyncio.run(main())

    run.__name__ = run.__qualname__ = driver.__name__.removeprefix("a")
    run.__doc__ = f"Blocking `{driver.__name__}` (same arguments).\n\n{driver.__doc__ or ''}"
    return run


judge = blocking(ajudge)


def split_hard_easy(
    judgements: Iterable[Mapping[str, Any]], threshold: float = HARD_THRESHOLD
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(hard, easy): hard when gap >= threshold; each sorted by (gap, teacher score) descending,
    ties in input order; rows are copies labelled `hard` / `easy`."""
    ranked = sorted(
        (dict(j) for j in judgements),
        key=lambda j: (j["gap"], j["teacher_score"]),
        reverse=True,
    )
    hard, easy = [], []
    for row in ranked:
        row["label"] = "hard" if row["gap"] >= threshold else "easy"
        (hard if row["label"] == "hard" else easy).append(row)
    return hard, easy


__all__ = [
    "HARD_THRESHOLD",
    "ORDERS",
    "REFEREE_MAX_TOKENS",
    "REFEREE_MODES",
    "REFEREE_TEMPERATURE",
    "TOP_LOGPROBS",
    "ajudge",
    "blocking",
    "combine_swapped",
    "expected_score",
    "judge",
    "logprob_request",
    "parse_referee_reply",
    "parse_referee_scores",
    "referee_messages",
    "referee_request",
    "score_distribution",
    "split_hard_easy",
    "stable_seed",
]
