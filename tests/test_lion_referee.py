"""Lion's referee: the authors' parse rule, swap-averaging, re-asks, logprob mode, hard/easy."""

from __future__ import annotations

import asyncio
import dataclasses
import math

import pytest

from alignkit.lion import prompts
from alignkit.lion.referee import (
    ORDERS,
    ajudge,
    combine_swapped,
    expected_score,
    judge,
    logprob_request,
    parse_referee_reply,
    parse_referee_scores,
    referee_request,
    score_distribution,
    split_hard_easy,
    stable_seed,
)
from alignkit.llm import ChatResult, ResponseCache, make_backend, testing
from alignkit.llm.backend import ChatBackend
from alignkit.llm.testing import FakeChatServer


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


LABELS = prompts.SCORE_LABELS


def reply_with(s1: float | str, s2: float | str, why: str = "Both answers are on topic.") -> str:
    return f"Evaluation evidence: {why}\n{LABELS[0]} {s1}\n{LABELS[1]} {s2}"


# -- the parse rule ------------------------------------------------------------------------------


def test_parse_reads_the_last_two_lines():
    assert parse_referee_scores(reply_with(8, 6)) == (8.0, 6.0)
    assert parse_referee_scores(reply_with("7.5", " 9 ")) == (7.5, 9.0)
    assert parse_referee_scores("Assistant 1: 3\nAssistant 2: 4") == (3.0, 4.0)
    # Text before the first colon only has to contain the names; the number follows the last ':'.
    assert parse_referee_scores("Long talk\nScore (Assistant 1) x: y: 6\nAssistant 2 z: 2") == (
        6.0,
        2.0,
    )
    assert parse_referee_scores(reply_with(8, 6) + "\n\n") == (8.0, 6.0)  # trailing blank lines


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "empty_reply"),
        ("   ", "empty_reply"),
        ("Score of the Assistant 1: 8", "too_few_lines"),
        (reply_with(8, 6) + "\nThank you!", "no_assistant_1_line"),
        ("Score of the Assistant 2: 8\nScore of the Assistant 1: 6", "no_assistant_1_line"),
        ("Score of the Assistant 1: 8\nScore: Assistant 2 6", "no_assistant_2_line"),
        (reply_with("8/10", 6), "score_not_a_number"),
        (reply_with(8, "six"), "score_not_a_number"),
        (reply_with("nan", 6), "score_not_a_number"),
    ],
)
def test_parse_rejects_malformed_replies(text, reason):
    assert parse_referee_reply(text) == (None, reason)
    assert parse_referee_scores(text) is None


def test_referee_request_settings():
    request = referee_request("Name a colour.", "Red.", "Blue.", seed=11)
    assert request.temperature == 0.2 and request.max_tokens == 512 and request.seed == 11
    system, user = request.messages
    assert system == {"role": "system", "content": prompts.REFEREE_SYSTEM}
    content = user["content"]
    assert content.startswith("[Instruction]\nName a colour.\n\n")
    assert content.index("Red.") < content.index("Blue.") < content.index("[System]")
    assert content.rstrip().endswith(prompts.SCORE_LABELS[1] + " <score>")
    assert "[Input]" not in content
    with_input = referee_request("Sum these.", "5", "6", seed=1, input="2 3").messages[1]
    assert "[Input]\n2 3\n" in with_input["content"]


# -- swap-averaging and the split ----------------------------------------------------------------


def test_combine_swapped_cancels_position_bias():
    # Assistant 1 gets +2 whoever it is: teacher 8 / student 5 become (10, 5) and (7, 8).
    teacher, student = combine_swapped((10, 5), (7, 8))
    assert (teacher, student) == (9.0, 6.0) and teacher - student == 3.0


def judgement(i: int, teacher: float, student: float) -> dict:
    return {"id": f"j{i}", "teacher_score": teacher, "student_score": student,
            "gap": teacher - student}  # fmt: skip


def test_split_hard_easy_threshold_and_order():
    rows = [
        judgement(0, 7, 7),  # gap 0 -> easy
        judgement(1, 8, 7),  # gap exactly 1 -> hard (>=)
        judgement(2, 9, 5),  # gap 4
        judgement(3, 6, 2),  # gap 4, lower teacher score
        judgement(4, 5, 7),  # gap -2
        judgement(5, 8, 7.5),  # gap 0.5
        judgement(6, 9, 8),  # gap 1, higher teacher score than j1
    ]
    hard, easy = split_hard_easy(rows)
    assert [r["id"] for r in hard] == ["j2", "j3", "j6", "j1"]
    assert [r["id"] for r in easy] == ["j5", "j0", "j4"]
    assert {r["label"] for r in hard} == {"hard"} and {r["label"] for r in easy} == {"easy"}
    assert "label" not in rows[0]  # copies
    hard2, easy2 = split_hard_easy(rows, threshold=4.0)
    assert [r["id"] for r in hard2] == ["j2", "j3"] and len(easy2) == 5


# -- the driver against the fake server ----------------------------------------------------------

# instruction -> (teacher score, student score, bonus for whoever is Assistant 1)
SCRIPT = {
    "Explain tides.": (9, 5, 1),  # hard, gap 4
    "Name three rivers.": (8, 7, 2),  # gap exactly 1 -> hard
    "Say hello.": (7, 7, 0),  # easy
    "Write a limerick.": (6, 8, 1),  # student better -> easy
}
FLAKY = "Define entropy."  # the first reply in each order is malformed, then (8, 4)
BROKEN = "Count to five."  # never parsable


def item(instruction: str) -> tuple[dict, str, str]:
    row = {"id": f"id-{instruction}", "instruction": instruction, "input": ""}
    return row, f"TEACHER answer to {instruction}", f"STUDENT answer to {instruction}"


def scripted_referee(body: dict) -> str:
    content = body["messages"][-1]["content"]
    instruction = content.split("\n")[1]
    teacher_first = content.index("TEACHER") < content.index("STUDENT")
    order = ORDERS[0] if teacher_first else ORDERS[1]
    if instruction == BROKEN:
        return "Both are fine, I cannot choose."
    if instruction == FLAKY:
        if body["seed"] == stable_seed(0, f"id-{FLAKY}", order, 0):
            return reply_with("8 out of 10", 4)
        teacher, student, bonus = 8, 4, 0
    else:
        teacher, student, bonus = SCRIPT[instruction]
    first, second = (teacher, student) if teacher_first else (student, teacher)
    return reply_with(first + bonus, second)


def run_judge(server, cache=None, **kwargs):
    backend = make_backend(f"openai:referee@{server.base_url}", max_retries=0)
    items = [item(x) for x in [*SCRIPT, FLAKY, BROKEN]]
    return judge(backend, cache, items, **kwargs)


def test_judge_swaps_reasks_and_drops(tmp_path):
    with FakeChatServer(reply=scripted_referee) as server:
        rows, counts = run_judge(server, max_reasks=2)
        bodies = list(server.bodies)
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {f"id-{x}" for x in [*SCRIPT, FLAKY]}  # BROKEN dropped, not scored -1
    for instruction, (teacher, student, bonus) in SCRIPT.items():
        row = by_id[f"id-{instruction}"]
        assert row["order_teacher_first"] == [teacher + bonus, student]
        assert row["order_student_first"] == [student + bonus, teacher]
        assert row["teacher_score"] == teacher + bonus / 2
        assert row["student_score"] == student + bonus / 2
        assert row["gap"] == teacher - student
        assert row["referee_attempts"] == 2
        assert row["label"] == ("hard" if teacher - student >= 1 else "easy")
        assert row["teacher_response"].startswith("TEACHER")
    flaky = by_id[f"id-{FLAKY}"]
    assert (flaky["teacher_score"], flaky["student_score"], flaky["referee_attempts"]) == (8, 4, 4)
    # 2 orders x 6 items, then FLAKY (2) + BROKEN (2) re-asked, then BROKEN (2) once more.
    assert len(bodies) == 12 + 4 + 2
    assert counts["reask_score_not_a_number"] == 2
    assert counts["reask_too_few_lines"] == 4
    assert counts["dropped_too_few_lines"] == 1
    assert counts["judged"] == 5 and counts["items"] == 6 and counts["referee_requests"] == 18
    assert counts["llm"]["sent"] == 18
    # Every re-ask is a new request: same prompt, new seed.
    broken = [b for b in bodies if f"\n{BROKEN}\n" in b["messages"][1]["content"]]
    assert len(broken) == 6 and len({(b["messages"][1]["content"], b["seed"]) for b in broken}) == 6
    assert all(b["temperature"] == 0.2 and b["max_tokens"] == 512 for b in bodies)

    hard, easy = split_hard_easy(rows)
    # FLAKY and tides share gap 4; tides' teacher score (9.5) is higher.
    assert [r["id"] for r in hard] == ["id-Explain tides.", f"id-{FLAKY}", "id-Name three rivers."]
    assert [r["id"] for r in easy] == ["id-Say hello.", "id-Write a limerick."]


def test_judge_is_deterministic_and_resumes_from_the_cache(tmp_path):
    with FakeChatServer(reply=scripted_referee) as server:
        with ResponseCache(tmp_path / "referee.sqlite") as cache:
            first, counts = run_judge(server, cache, max_reasks=1, seed=5)
        sent = server.hits
        with ResponseCache(tmp_path / "referee.sqlite") as cache:
            again, counts_again = run_judge(server, cache, max_reasks=1, seed=5)
        assert server.hits == sent  # nothing sent twice
    assert again == first
    assert (
        counts_again["llm"]["sent"] == 0 and counts_again["llm"]["cached"] == counts["llm"]["sent"]
    )
    assert counts_again["judged"] == counts["judged"]


def test_judge_rejects_bad_arguments():
    backend = make_backend("openai:referee@http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="mode"):
        judge(backend, None, [], mode="vote")
    with pytest.raises(ValueError, match="max_reasks"):
        judge(backend, None, [], max_reasks=-1)


# -- logprob mode --------------------------------------------------------------------------------


def lp(pairs: dict[str, float]) -> list[tuple[str, float]]:
    return [(t, math.log(p)) for t, p in sorted(pairs.items(), key=lambda kv: -kv[1])]


def test_expected_score_normalises_over_score_tokens():
    tokens = lp({" 8": 0.5, "8": 0.1, " 7": 0.2, " 10": 0.1, " The": 0.05, " 0": 0.05})
    # score tokens carry 0.9: 8 -> 0.6, 7 -> 0.2, 10 -> 0.1
    assert expected_score(tokens) == pytest.approx((8 * 0.6 + 7 * 0.2 + 10 * 0.1) / 0.9)
    assert score_distribution(tokens) == pytest.approx({7: 0.2 / 0.9, 8: 0.6 / 0.9, 10: 0.1 / 0.9})
    assert expected_score(lp({"\u25819": 0.7, "\u25813/": 0.3})) == pytest.approx(7.2)
    assert expected_score(lp({" Good": 0.9, " 11": 0.1})) is None
    assert expected_score([]) is None


def test_expected_score_splits_one_into_one_and_ten():
    tokens = lp({"1": 0.5, "9": 0.5})
    assert expected_score(tokens) == pytest.approx(5.0)
    # After "1" the model continues with "0" 80% of the time: p(10) = 0.4, p(1) = 0.1.
    assert expected_score(tokens, ten_share=0.8) == pytest.approx(10 * 0.4 + 1 * 0.1 + 9 * 0.5)


def scripted_distribution(style: str, user: str, prefill: str) -> dict[str, float]:
    """The next-token distribution a scripted referee gives after a pre-fill: teacher 9 and
    student 4 as argmax. `merged` tokenizers have " 9" and " 10" tokens; `split` ones put a
    space token first and single digits after it (so "10" is "1", "0")."""
    teacher_first = user.index("TEACHER") < user.index("STUDENT")
    line = 2 if prompts.SCORE_LABELS[1] in prefill else 1
    score = (9 if teacher_first else 4) if line == 1 else (4 if teacher_first else 9)
    if style == "merged":
        return {f" {score}": 0.7, f" {score + 1}": 0.2, " The": 0.1}
    if prefill.endswith(":"):
        return {" ": 0.9, "\n": 0.1}
    if prefill.endswith(" 1"):  # the 1-vs-10 question
        return {"0": 0.25, "\n": 0.75}
    return {str(score): 0.6, "1": 0.4}


class LogprobReferee(ChatBackend):
    """A referee that answers pre-filled requests with scripted top log-probabilities."""

    kind = "scripted"

    def __init__(self, style: str, with_logprobs: bool = True) -> None:
        super().__init__("scripted-referee")
        self.style = style
        self.with_logprobs = with_logprobs
        self.prefills: list[str] = []

    async def _agenerate_one(self, request):
        user = request.messages[1]["content"]
        prefill = request.messages[-1]["content"]
        self.prefills.append(prefill)
        assert request.max_tokens == 1 and request.extra["top_logprobs"] == 20
        dist = lp(scripted_distribution(self.style, user, prefill))
        result = ChatResult(text=dist[0][0], finish_reason="length", attempts=1)
        result.top_logprobs = ((*dist,),) if self.with_logprobs else None
        return result


def logprob_items():
    return [item("Explain tides.")]


def test_logprob_mode_merged_tokens():
    backend = LogprobReferee("merged")
    rows, counts = asyncio.run(ajudge(backend, None, logprob_items(), mode="logprob"))
    (row,) = rows
    # 9 -> 0.7 * 9 + 0.2 * 10 over 0.9; 4 -> 0.7 * 4 + 0.2 * 5 over 0.9
    high, low = (0.7 * 9 + 0.2 * 10) / 0.9, (0.7 * 4 + 0.2 * 5) / 0.9
    assert row["order_teacher_first"] == pytest.approx([high, low])
    assert row["order_student_first"] == pytest.approx([low, high])
    assert row["gap"] == pytest.approx(high - low) and row["label"] == "hard"
    assert row["referee_attempts"] == 4 and counts["referee_requests"] == 4  # 2 lines x 2 orders
    line_two = [p for p in backend.prefills if prompts.SCORE_LABELS[1] in p]
    assert f"{prompts.SCORE_LABELS[0]} 9\n{prompts.SCORE_LABELS[1]}" in line_two  # rounded 9.2


def test_logprob_mode_split_digits_asks_after_the_space_and_the_one():
    backend = LogprobReferee("split")
    rows, counts = asyncio.run(ajudge(backend, None, logprob_items(), mode="logprob"))
    (row,) = rows

    # After ": " the digits come: p(score) 0.6, p("1") 0.4; after "1", "0" follows with 0.25.
    def expected(score):
        return 0.6 * score + 0.4 * (0.75 * 1 + 0.25 * 10)

    assert row["order_teacher_first"] == pytest.approx([expected(9), expected(4)])
    assert row["order_student_first"] == pytest.approx([expected(4), expected(9)])
    assert row["referee_attempts"] == 12  # 3 requests per score line
    first_line = prompts.SCORE_LABELS[0]
    assert backend.prefills[:2] == [first_line, first_line]
    assert f"{first_line} " in backend.prefills and f"{first_line} 1" in backend.prefills


def test_logprob_mode_without_logprobs_drops_and_counts():
    backend = LogprobReferee("merged", with_logprobs=False)
    rows, counts = asyncio.run(ajudge(backend, None, logprob_items(), mode="logprob"))
    assert rows == [] and counts["dropped_no_logprobs"] == 1 and counts["judged"] == 0


def test_logprob_request_shape():
    request = logprob_request("Q?", "A", "B", prompts.SCORE_LABELS[0])
    assert request.messages[-1] == {"role": "assistant", "content": prompts.SCORE_LABELS[0]}
    assert request.max_tokens == 1 and request.temperature == 0.0
    assert request.extra == {"logprobs": True, "top_logprobs": 20}


@pytest.mark.skipif(
    "top_logprobs" not in {f.name for f in dataclasses.fields(ChatResult)},
    reason="ChatResult.top_logprobs (the LLM layer's logprob support) has not landed yet",
)
def test_logprob_mode_resumes_from_the_cache(tmp_path):
    backend = LogprobReferee("split")
    with ResponseCache(tmp_path / "lp.sqlite") as cache:
        first, _ = asyncio.run(ajudge(backend, cache, logprob_items(), mode="logprob"))
    sent = len(backend.prefills)
    with ResponseCache(tmp_path / "lp.sqlite") as cache:
        again, counts = asyncio.run(ajudge(backend, cache, logprob_items(), mode="logprob"))
    assert len(backend.prefills) == sent and counts["llm"]["sent"] == 0
    assert again == first


ScriptedReply = getattr(testing, "ScriptedReply", None)


@pytest.mark.skipif(ScriptedReply is None, reason="FakeChatServer has no scripted logprobs yet")
def test_logprob_mode_through_the_fake_server(tmp_path):
    def reply(body):
        assert body["messages"][-1]["role"] == "assistant" and body["top_logprobs"] == 20
        dist = lp(scripted_distribution("split", body["messages"][1]["content"],
                                        body["messages"][-1]["content"]))  # fmt: skip
        return ScriptedReply(dist[0][0], top_logprobs=[dist])

    with FakeChatServer(reply=reply) as server:
        backend = make_backend(f"openai:referee@{server.base_url}", max_retries=0)
        with ResponseCache(tmp_path / "lp.sqlite") as cache:
            rows, counts = judge(backend, cache, logprob_items(), mode="logprob")
        sent = server.hits
        with ResponseCache(tmp_path / "lp.sqlite") as cache:
            again, _ = judge(backend, cache, logprob_items(), mode="logprob")
        assert server.hits == sent == 12
    assert again == rows
    assert rows[0]["teacher_score"] == pytest.approx(0.6 * 9 + 0.4 * 3.25)
    assert rows[0]["student_score"] == pytest.approx(0.6 * 4 + 0.4 * 3.25)
