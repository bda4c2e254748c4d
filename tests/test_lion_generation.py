"""Lion's generator: requests, Lion's output filters, the novelty filter, seeded rounds."""

from __future__ import annotations

import collections
import random

import pytest

from alignkit.lion import prompts
from alignkit.lion.generation import (
    REJECT_REASONS,
    clean_created,
    generate_instructions,
    generation_request,
    novelty_record,
    reject_reason,
)
from alignkit.llm import ChatResult, ResponseCache, make_backend
from alignkit.llm.backend import ChatBackend
from alignkit.llm.testing import FakeChatServer


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


class StandInRougeLPool:
    """`alignkit._core.RougeLPool`'s API on the `rouge_score` package (rougeL F1, no stemmer),
    as the authors score; slow, for tests only."""

    def __init__(self, texts=(), tokenizer="rouge_score"):
        from rouge_score import rouge_scorer

        assert tokenizer == "rouge_score"
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
        self._texts: list[str] = []
        self.add(texts)

    def add(self, texts):
        self._texts.extend(texts)

    def __len__(self):
        return len(self._texts)

    def text(self, index):
        return self._texts[index]

    def _scores(self, candidate):
        return [self._scorer.score(t, candidate)["rougeL"].fmeasure for t in self._texts]

    def max_similarity(self, candidates):
        out = []
        for candidate in candidates:
            scores = self._scores(candidate)
            best = max(range(len(scores)), key=scores.__getitem__, default=-1)
            out.append((scores[best] if best >= 0 else 0.0, best))
        return out

    def top_k(self, candidate, k):
        scores = self._scores(candidate)
        return sorted(enumerate(scores), key=lambda pair: -pair[1])[:k]


def pool_classes():
    classes = [StandInRougeLPool]
    try:
        from alignkit._core import RougeLPool
    except ImportError:
        return classes
    return [*classes, RougeLPool]


@pytest.fixture(params=pool_classes(), ids=lambda c: c.__name__)
def pool_class(request):
    return request.param


# -- requests, cleaning, filters -----------------------------------------------------------------


def test_generation_request_settings():
    seed = "Summarise the plot of a famous novel in two sentences."
    request = generation_request(seed, "hard", seed=42)
    assert request.temperature == 1.0 and request.top_p == 1.0 and request.seed == 42
    assert request.max_tokens == 4 * 10
    system, user = request.messages
    assert system["content"] == prompts.GENERATOR_SYSTEM
    assert user["content"].endswith(f"{prompts.GIVEN_MARKER}\n{seed}\n\n{prompts.CREATED_MARKER}")
    assert "same type of task" in user["content"]
    easy = generation_request(seed, "easy", seed=42).messages[1]["content"]
    assert "rarer" in easy and easy != user["content"]
    prefilled = generation_request(seed, "hard", seed=42, prefill=True)
    assert prefilled.messages[-1] == {"role": "assistant", "content": prompts.CREATED_MARKER}
    assert "logit_bias" not in prefilled.extra
    with pytest.raises(ValueError, match="empty"):
        generation_request("   ", "hard", seed=1)
    with pytest.raises(ValueError, match="kind"):
        generation_request(seed, "medium", seed=1)


def test_clean_created():
    assert (
        clean_created("  Write a haiku about rain.\n", prefill=False) == "Write a haiku about rain."
    )
    two = " Write a haiku about rain.\n\nThis keeps the domain."
    assert clean_created(two, prefill=False) == two.strip()
    assert clean_created(two, prefill=True) == "Write a haiku about rain."
    assert clean_created("\n\nList two moons of Mars.\n \nWhy: ...", prefill=True) == (
        "List two moons of Mars."
    )
    assert clean_created(None, prefill=True) == ""


@pytest.mark.parametrize(
    ("text", "finish", "reason"),
    [
        ("", "stop", "empty"),
        ("Rewrite this Instruction in French please", "stop", "mentions_instruction"),
        ("#Created Instruction#: Name four birds of prey", "stop", "mentions_instruction"),
        ("Describe the water cycle for children", "length", "truncated"),
        ("List three fruits", "stop", "too_short"),
        ("- List three fruits you like", "stop", "starts_with_punctuation"),
        ('"Plan a trip to the mountains"', "stop", "starts_with_punctuation"),
        ("Écrivez un poème sur la mer", "stop", "starts_non_ascii"),
        ("Describe the water cycle for children", "stop", None),
    ],
)
def test_reject_reason(text, finish, reason):
    assert reject_reason(text, finish) == reason
    assert reason is None or reason in REJECT_REASONS


def test_novelty_record(pool_class):
    pool = pool_class(["Write a poem about the sea.", "Explain how vaccines work."])
    assert novelty_record(pool, "Write a poem about the sea!") is None  # F1 1.0
    assert len(pool) == 2
    record = novelty_record(pool, "Write a story about a lighthouse keeper.")
    assert record is not None and len(pool) == 3
    (top_text, top_score), (_, low_score) = record["most_similar"]
    assert top_text == "Write a poem about the sea." and top_score > low_score
    assert record["avg_similarity"] == pytest.approx((top_score + low_score) / 2)
    # The kept text joins the pool: asking again is a near-duplicate.
    assert novelty_record(pool, "Write a story about a lighthouse keeper.") is None
    empty = pool_class([])
    assert novelty_record(empty, "Anything at all goes here.") == {
        "most_similar": [],
        "avg_similarity": 0.0,
    }


# -- the driver against the fake server ----------------------------------------------------------

WORDS = [
    "river", "castle", "engine", "garden", "violin", "glacier", "market", "comet", "harbor",
    "lantern", "meadow", "orbit", "pepper", "quartz", "saddle", "tunnel", "velvet", "walnut",
    "canyon", "falcon", "ginger", "island", "jacket", "kettle", "ladder", "mirror", "needle",
]  # fmt: skip
VERBS = ["Describe", "Compare", "Explain", "Sketch", "Summarise", "Invent", "Plan", "Review"]


def seed_instruction_of(body):
    user = body["messages"][1]["content"]
    return user.split(prompts.GIVEN_MARKER + "\n", 1)[1].rsplit("\n\n", 1)[0]


def fresh_instruction(body):
    """A new instruction per request seed, unlike any other (few shared words)."""
    rng = random.Random(body["seed"])
    return f"{rng.choice(VERBS)} {' '.join(rng.sample(WORDS, 6))}"


SEEDS = [
    {"id": "s-tides", "instruction": "Explain why the sea has tides twice a day."},
    {"id": "s-poem", "instruction": "Write a four-line poem about autumn leaves."},
    {"id": "s-sort", "instruction": "Give an algorithm that sorts a list of numbers."},
    {"id": "s-blank", "instruction": "   "},
    {"id": "s-gift", "instruction": "Suggest a birthday gift for a friend who likes hiking."},
]


def run(server, pool, cache=None, **kwargs):
    backend = make_backend(f"openai:generator@{server.base_url}", max_retries=0)
    options = {"rng_seed": 3, "batch_size": 8, "max_rounds": 20, **kwargs}
    return generate_instructions(
        backend, cache, options.pop("seeds", SEEDS), options.pop("kind", "hard"),
        options.pop("target", 20), pool, **options,
    )  # fmt: skip


def test_generates_until_target_with_uniform_seed_draws(pool_class):
    with FakeChatServer(reply=fresh_instruction) as server:
        kept, counts = run(server, pool_class(["Explain why the sea has tides."]), target=20)
        bodies = list(server.bodies)
    assert len(kept) == 20 and counts["kept"] == 20 and counts["target_reached"] == 1
    assert counts["seeds"] == 4 and counts["seeds_skipped_empty"] == 1
    assert counts["requests"] == len(bodies) == 8 * counts["rounds"]
    assert counts["surplus"] + 20 + counts.get("reject_too_similar", 0) == len(bodies)
    assert counts["llm"]["sent"] == len(bodies)
    for row in kept:
        assert row["kind"] == "hard"
        assert {s["id"]: s["instruction"] for s in SEEDS}[row["seed_id"]] == row["seed_instruction"]
        scores = [score for _, score in row["most_similar"]]
        assert scores == sorted(scores, reverse=True) and len(scores) <= 10
        assert 0.0 <= row["avg_similarity"] <= max(scores) <= 0.7
    assert kept[-1]["most_similar"][0][1] > 0  # later rows are compared with the kept ones
    assert len({b["seed"] for b in bodies}) == len(bodies)  # a sampling seed per request
    for body in bodies:
        seed = seed_instruction_of(body)
        assert body["max_tokens"] == 4 * len(seed.split()) and body["temperature"] == 1.0
        assert body["top_p"] == 1.0 and "logit_bias" not in body


def test_seed_draws_are_uniform(pool_class):
    with FakeChatServer(reply=lambda body: "Too short") as server:
        kept, counts = run(server, pool_class([]), target=1, batch_size=50, max_rounds=8)
        drawn = collections.Counter(seed_instruction_of(b) for b in server.bodies)
    assert kept == [] and counts["reject_too_short"] == 400 and counts["target_reached"] == 0
    assert counts["rounds"] == 8
    assert set(drawn) == {s["instruction"] for s in SEEDS if s["instruction"].strip()}
    assert all(70 <= n <= 130 for n in drawn.values()), drawn  # 100 expected each


def test_runs_are_deterministic_and_resume_from_the_cache(tmp_path, pool_class):
    with FakeChatServer(reply=fresh_instruction) as server:
        with ResponseCache(tmp_path / "gen.sqlite") as cache:
            first, counts = run(server, pool_class(["Plan a picnic."]), cache, target=12)
        sent = server.hits
        with ResponseCache(tmp_path / "gen.sqlite") as cache:
            again, counts_again = run(server, pool_class(["Plan a picnic."]), cache, target=12)
        assert server.hits == sent  # the rerun asks the same requests: all from the cache
        # Without a cache the same requests are sent again and give the same rows.
        third, _ = run(server, pool_class(["Plan a picnic."]), target=12)
    assert again == first == third
    assert counts_again["llm"]["sent"] == 0 and counts_again["llm"]["cached"] == sent
    with FakeChatServer(reply=fresh_instruction) as server:
        other, _ = run(server, pool_class(["Plan a picnic."]), target=12, rng_seed=4)
    assert [r["instruction"] for r in other] != [r["instruction"] for r in first]


REPLIES = {
    "empty": "   ",
    "mentions_instruction": "Here is a new instruction: list five rivers of Europe",
    "truncated": " ".join(["word"] * 50),  # cut by max_tokens = 4 x 7 words
    "too_short": "Name two planets",
    "starts_with_punctuation": "* Name the two largest planets of the solar system",
    "starts_non_ascii": "¿Cuáles son los dos planetas más grandes del sistema solar?",
    "too_similar": "Name the two largest planets of our solar system.",
}


@pytest.mark.parametrize("reason", sorted(REPLIES))
def test_each_filter_rejects_and_counts(reason, pool_class):
    pool = pool_class(["Name the two largest planets of the solar system."])
    seeds = [{"id": "s1", "instruction": "Name the largest planet of the solar system."}]
    with FakeChatServer(reply=lambda body: REPLIES[reason]) as server:
        kept, counts = run(server, pool, seeds=seeds, target=1, batch_size=1, max_rounds=1)
    assert kept == [] and counts[f"reject_{reason}"] == 1 and counts["requests"] == 1
    assert len(pool) == 1  # nothing rejected joins the pool


MOONS = "Name three moons of Jupiter and one fact about each."


def test_prefill_mode_cuts_at_the_blank_line(pool_class):
    chatter = f"{MOONS}\n\nThis keeps the domain of the seed."
    seeds = [{"id": "s1", "instruction": "Name the largest planet of the solar system."}]
    with FakeChatServer(reply=lambda body: chatter) as server:
        kept, _ = run(server, pool_class([]), seeds=seeds, target=1, batch_size=1, prefill=True)
        (body,) = server.bodies
        assert body["messages"][-1] == {"role": "assistant", "content": prompts.CREATED_MARKER}
        plain, _ = run(server, pool_class([]), seeds=seeds, target=1, batch_size=1)
    assert [r["instruction"] for r in kept] == [MOONS]
    assert [r["instruction"] for r in plain] == [chatter]  # the authors keep the whole reply


class ChattyGenerator(ChatBackend):
    """Replies with an instruction, a blank line and chatter cut by the token limit."""

    kind = "chatty"

    def __init__(self) -> None:
        super().__init__("chatty")

    async def _agenerate_one(self, request):
        text = f"{MOONS}\n\n" + "More words " * 100
        return ChatResult(text=text, finish_reason="length", attempts=1)


@pytest.mark.parametrize("prefill", [True, False])
def test_a_length_stop_after_the_cut_is_not_truncation(prefill, pool_class):
    seeds = [{"id": "s1", "instruction": "Name the largest planet of the solar system."}]
    kept, counts = generate_instructions(
        ChattyGenerator(), None, seeds, "easy", 1, pool_class([]), 0, 1, 1, prefill
    )
    if prefill:
        assert [r["instruction"] for r in kept] == [MOONS] and counts["kept"] == 1
    else:
        assert kept == [] and counts["reject_truncated"] == 1


def test_failed_requests_are_counted(pool_class):
    from alignkit.llm.testing import Fault, always

    with FakeChatServer(faults=always(Fault.http(400, "bad request"))) as server:
        kept, counts = run(server, pool_class([]), target=2, batch_size=2, max_rounds=2)
    assert kept == [] and counts["request_failed"] == 4 and counts["llm"]["failures"] == 4


def test_no_usable_seeds_and_bad_arguments(pool_class):
    with FakeChatServer() as server:
        kept, counts = run(server, pool_class([]), seeds=[{"id": "x", "instruction": ""}])
        assert server.hits == 0
        with pytest.raises(ValueError, match="kind"):
            run(server, pool_class([]), kind="medium")
        with pytest.raises(ValueError, match="batch_size"):
            run(server, pool_class([]), batch_size=0)
    assert kept == [] and counts["seeds"] == 0 and counts["target_reached"] == 0
