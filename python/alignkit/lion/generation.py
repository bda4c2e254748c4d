"""The generator: new instructions from hard and easy seeds, Lion's filters, the novelty filter.

Each request shows the generator one seed instruction, drawn uniformly from the hard (or easy)
set, and asks for a new one (`alignkit.lion.prompts.generator_prompt`); temperature 1.0, top_p
1.0, at most 4 tokens per whitespace word of the seed. A reply is rejected (`reject_reason`)
when it is empty, mentions "instruction" in any case, was cut by the token limit, has at most 3
words, or starts with ASCII punctuation or a non-ASCII character; then when its ROUGE-L F1 with
any Cache-Pool instruction or any instruction kept so far exceeds 0.7. A kept instruction records
its 10 most similar pool instructions and its mean similarity to the pool, as the authors save.

The authors' `logit_bias {"50256": -100}` (GPT-2/3's end-of-text id) is not sent: on other
vocabularies it would push down an arbitrary token.

`prefill=True` (an addition for small generators that chatter): the answer is pre-filled with
the created-instruction marker and the continuation is cut at its first blank line; a reply cut
there is complete, so a token-limit stop after the cut does not reject it.

Requests are numbered across rounds; request j draws its seed from one seeded stream and samples
with a seed derived from (rng_seed, kind, j), so a rerun asks exactly the same requests and is
answered from the response cache.
"""

from __future__ import annotations

import collections
import logging
import random
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from alignkit.lion.prompts import CREATED_MARKER, GENERATOR_SYSTEM, generator_prompt
from alignkit.lion.referee import blocking, stable_seed
from alignkit.llm import ChatRequest, ResponseCache, arun_requests
from alignkit.llm.backend import ChatBackend
from alignkit.stage import LLMUsage

log = logging.getLogger(__name__)

GENERATOR_TEMPERATURE = 1.0
GENERATOR_TOP_P = 1.0
TOKENS_PER_SEED_WORD = 4
SIMILARITY_THRESHOLD = 0.7
MOST_SIMILAR = 10
REJECT_REASONS = (
    "empty",
    "mentions_instruction",
    "truncated",
    "too_short",
    "starts_with_punctuation",
    "starts_non_ascii",
)


class NoveltyPool(Protocol):
    """What the novelty filter needs of `alignkit._core.RougeLPool`."""

    def __len__(self) -> int: ...
    def add(self, texts: Sequence[str]) -> None: ...
    def text(self, index: int) -> str: ...
    def max_similarity(self, candidates: Sequence[str]) -> list[tuple[float, int]]: ...
    def top_k(self, candidate: str, k: int) -> list[tuple[int, float]]: ...


def generation_max_tokens(seed_instruction: str) -> int:
    return TOKENS_PER_SEED_WORD * len(seed_instruction.split())


def generation_request(
    seed_instruction: str, kind: str, seed: int, prefill: bool = False
) -> ChatRequest:
    """Ask for one new `kind` ("hard" | "easy") instruction inspired by `seed_instruction`."""
    max_tokens = generation_max_tokens(seed_instruction)
    if max_tokens < 1:
        raise ValueError("the seed instruction is empty")
    messages = [
        {"role": "system", "content": GENERATOR_SYSTEM},
        {"role": "user", "content": generator_prompt(seed_instruction, kind)},
    ]
    if prefill:
        messages.append({"role": "assistant", "content": CREATED_MARKER})
    return ChatRequest(
        messages=messages,
        temperature=GENERATOR_TEMPERATURE,
        top_p=GENERATOR_TOP_P,
        max_tokens=max_tokens,
        seed=seed,
    )


_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


def _clean(text: str | None, prefill: bool) -> tuple[str, bool]:
    """(the created instruction, whether a blank-line cut ended it)."""
    text = (text or "").strip()
    if not prefill:
        return text, False
    head = _BLANK_LINE.split(text, maxsplit=1)
    return head[0].strip(), len(head) > 1


def clean_created(text: str | None, prefill: bool) -> str:
    """The created instruction in a generator reply.

    As the authors take it: the reply itself (surrounding whitespace removed; an echoed marker is
    left for the "instruction" filter to reject). With `prefill`, the reply continues the marker
    and is cut at its first blank line.
    """
    return _clean(text, prefill)[0]


def reject_reason(text: str, finish_reason: str | None) -> str | None:
    """Why Lion drops a created instruction (one of REJECT_REASONS), or None to keep it."""
    if not text:
        return "empty"
    if "instruction" in text.lower():
        return "mentions_instruction"
    if finish_reason == "length":
        return "truncated"
    if len(text.split()) <= 3:
        return "too_short"
    if text[0] in string.punctuation:
        return "starts_with_punctuation"
    if not text[0].isascii():
        return "starts_non_ascii"
    return None


def novelty_record(
    pool: NoveltyPool, candidate: str, threshold: float = SIMILARITY_THRESHOLD
) -> dict[str, Any] | None:
    """None when `candidate`'s ROUGE-L F1 with a pool text exceeds `threshold`; else its 10 most
    similar pool texts and its mean similarity over the pool (0.0 for an empty pool), after which
    the candidate joins the pool."""
    size = len(pool)
    most: list[list[Any]] = []
    mean = 0.0
    if size:
        best, _ = pool.max_similarity([candidate])[0]
        if best > threshold:
            return None
        ranked = pool.top_k(candidate, size)
        most = [[pool.text(i), score] for i, score in ranked[:MOST_SIMILAR]]
        mean = sum(score for _, score in ranked) / size
    pool.add([candidate])
    return {"most_similar": most, "avg_similarity": mean}


async def agenerate_instructions(
    backend: ChatBackend,
    cache: ResponseCache | None,
    seeds: Sequence[Mapping[str, Any]],
    kind: str,
    target: int,
    novelty_pool: NoveltyPool,
    rng_seed: int = 0,
    batch_size: int = 16,
    max_rounds: int = 1000,
    prefill: bool = False,
    *,
    threshold: float = SIMILARITY_THRESHOLD,
    progress: bool | str = False,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Generate until `target` instructions are kept or `max_rounds` rounds of `batch_size`
    requests were sent; returns (kept, counts).

    `seeds`: rows with `instruction` (and `id`, recorded as `seed_id`); blank ones are skipped.
    `novelty_pool` holds the Cache-Pool instructions and receives every kept one. Kept rows:
    `instruction`, `kind`, `seed_id`, `seed_instruction`, `most_similar` ([text, F1] best first,
    up to 10), `avg_similarity`. Counts (flat integers): `seeds`, `seeds_skipped_empty`,
    `requests`, `rounds`, `request_failed`, `reject_<reason>` (REJECT_REASONS and
    `too_similar`), `surplus` (replies unread once the target was met), `kept`,
    `target_reached`; `llm`: the usage of every batch.
    """
    if kind not in ("hard", "easy"):
        raise ValueError(f"kind must be 'hard' or 'easy', not {kind!r}")
    if target < 0 or batch_size < 1 or max_rounds < 1:
        raise ValueError("target must be >= 0, batch_size and max_rounds >= 1")
    usable = [s for s in seeds if str(s.get("instruction") or "").strip()]
    counts: collections.Counter[str] = collections.Counter(
        seeds=len(usable), seeds_skipped_empty=len(seeds) - len(usable)
    )
    if counts["seeds_skipped_empty"]:
        log.warning("%s: %d blank seed instructions skipped", kind, counts["seeds_skipped_empty"])
    usage = LLMUsage()
    kept: list[dict[str, Any]] = []
    draws = random.Random(stable_seed(rng_seed, kind, "draws"))
    for round_index in range(max_rounds):
        if len(kept) >= target or not usable:
            break
        first = round_index * batch_size
        picked = [usable[draws.randrange(len(usable))] for _ in range(batch_size)]
        requests = [
            generation_request(
                str(seed["instruction"]), kind, stable_seed(rng_seed, kind, first + k), prefill
            )
            for k, seed in enumerate(picked)
        ]
        results, summary = await arun_requests(
            backend, requests, cache, progress=progress, desc=f"generate {kind}"
        )
        usage.merge(LLMUsage.from_summary(summary))
        counts["rounds"] += 1
        counts["requests"] += len(requests)
        for seed, result in zip(picked, results, strict=True):
            if len(kept) >= target:
                counts["surplus"] += 1
                continue
            if not result.ok:
                counts["request_failed"] += 1
                continue
            text, complete = _clean(result.text, prefill)
            reason = reject_reason(text, "stop" if complete else result.finish_reason)
            record = None if reason else novelty_record(novelty_pool, text, threshold)
            if record is None:
                counts[f"reject_{reason or 'too_similar'}"] += 1
                continue
            kept.append(
                {
                    "instruction": text,
                    "kind": kind,
                    "seed_id": seed.get("id"),
                    "seed_instruction": seed["instruction"],
                    **record,
                }
            )
        log.info("generate %s: round %d, kept %d of %d", kind, round_index + 1, len(kept), target)
    counts["kept"] = len(kept)
    counts["target_reached"] = int(len(kept) >= target)
    if len(kept) < target:
        log.warning(
            "generate %s: kept %d of %d after %d rounds", kind, len(kept), target, counts["rounds"]
        )
    return kept, {**counts, "llm": usage.to_dict()}


generate_instructions = blocking(agenerate_instructions)


__all__ = [
    "GENERATOR_TEMPERATURE",
    "GENERATOR_TOP_P",
    "MOST_SIMILAR",
    "REJECT_REASONS",
    "SIMILARITY_THRESHOLD",
    "NoveltyPool",
    "agenerate_instructions",
    "clean_created",
    "generate_instructions",
    "generation_max_tokens",
    "generation_request",
    "novelty_record",
    "reject_reason",
]
