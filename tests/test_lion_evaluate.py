"""Lion evaluations: relative quality over judgement rows, and MCQ scoring of a tiny random Llama
checked against a plain Hugging Face forward pass and against LM heads that force the answer."""

from __future__ import annotations

import math
from typing import Any

import pytest

from alignkit.errors import InputError
from alignkit.lion.evaluate import (
    mcq_accuracy,
    mcq_prompt,
    mcq_row_problem,
    order_scores,
    predicted_choice,
    relative_quality,
)


def judgement(teacher_first, student_first, category=None) -> dict[str, Any]:
    row = {"id": "x", "order_teacher_first": teacher_first, "order_student_first": student_first}
    if category is not None:
        row["category"] = category
    return row


# -- relative quality ----------------------------------------------------------------------------


def test_relative_quality_is_ratio_of_sums_per_order() -> None:
    rows = [
        judgement([8, 6], [7, 9], "writing"),  # S1: teacher 8 student 6; S2: student 7 teacher 9
        judgement([10, 5], [4, 8], "math"),
        judgement([6, 6], [6, 6], "math"),
    ]
    out = relative_quality(rows)
    assert out["Setting1"] == pytest.approx(100 * (6 + 5 + 6) / (8 + 10 + 6))
    assert out["Setting2"] == pytest.approx(100 * (7 + 4 + 6) / (9 + 8 + 6))
    assert out["average"] == pytest.approx((out["Setting1"] + out["Setting2"]) / 2)
    # Swap-averaged: teacher (8+9)/2 + (10+8)/2 + 6, student (6+7)/2 + (5+4)/2 + 6.
    assert out["swap_averaged"] == pytest.approx(100 * (6.5 + 4.5 + 6) / (8.5 + 9 + 6))
    assert out["scored"] == {"Setting1": 3, "Setting2": 3, "both": 3}
    assert out["unscored"] == {"Setting1": 0, "Setting2": 0, "either": 0}
    math_ = out["by_category"]["math"]
    assert math_["items"] == 2
    assert math_["Setting1"] == pytest.approx(100 * 11 / 16)
    assert math_["Setting2"] == pytest.approx(100 * 10 / 14)
    assert out["by_category"]["writing"]["Setting1"] == pytest.approx(75.0)


def test_relative_quality_leaves_unscored_orders_out_and_counts_them() -> None:
    rows = [
        judgement([8, 4], [4, 8]),
        judgement([-1, -1], [5, 10]),  # the authors' unparsable marker in Setting1
        judgement(None, [float("nan"), 3]),  # unscored in both
        judgement([9, "9"], None),  # not numbers
        {"id": "bare"},
    ]
    out = relative_quality(rows)
    assert out["items"] == 5
    assert out["Setting1"] == pytest.approx(50.0)
    assert out["Setting2"] == pytest.approx(100 * (4 + 5) / (8 + 10))
    assert out["scored"] == {"Setting1": 1, "Setting2": 2, "both": 1}
    assert out["unscored"] == {"Setting1": 4, "Setting2": 3, "either": 4}
    assert list(out["by_category"]) == ["uncategorized"]


def test_relative_quality_with_nothing_scored_is_none_not_a_number() -> None:
    out = relative_quality([judgement(None, None)])
    assert out["Setting1"] is None and out["Setting2"] is None and out["average"] is None
    assert relative_quality([])["items"] == 0
    one_order = relative_quality([judgement([5, 5], None)])
    assert one_order["Setting1"] == pytest.approx(100.0) and one_order["average"] is None
    with pytest.raises(InputError, match="judgement 0"):
        relative_quality(["not a row"])  # type: ignore[list-item]


def test_order_scores_maps_positions_to_teacher_and_student() -> None:
    row = judgement([9, 3], [2, 7])
    assert order_scores(row, "Setting1") == (9.0, 3.0)
    assert order_scores(row, "Setting2") == (7.0, 2.0)  # student shown first


# -- MCQ: pure parts ----------------------------------------------------------------------------


def test_mcq_prompt_and_row_checks() -> None:
    assert mcq_prompt(" Capital? ", ["Paris", "Rome "]) == "Capital?\nA. Paris\nB. Rome\nAnswer:"
    good: dict[str, Any] = {
        "task": "t", "id": "1", "question": "q", "choices": ["a", "b"], "answer_index": 1
    }  # fmt: skip
    assert mcq_row_problem(good) is None

    def problem(row: Any) -> str:
        return mcq_row_problem(row) or "no problem"

    assert "answer_index" in problem({**good, "answer_index": 2})
    assert "answer_index" in problem({**good, "answer_index": True})
    assert "choices" in problem({**good, "choices": "ab"})
    assert "2 to 26" in problem({**good, "choices": ["a"]})
    assert "question" in problem({**good, "question": "  "})
    assert "not an object" in problem([1])


def test_shipped_mcq_demo_rows_are_all_scoreable(tmp_path: Any) -> None:
    from alignkit.lion.evaluate import load_mcq_rows

    rows, _ = load_mcq_rows()
    assert len(rows) >= 12 and all(mcq_row_problem(r) is None for r in rows)
    assert len({r["task"] for r in rows}) >= 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(InputError, match="no MCQ row"):
        load_mcq_rows([empty])


def test_mcq_accuracy_per_task_rule_and_chance() -> None:
    scored = [
        # sum picks 0 (short choice), mean picks 1 (-2/1 vs -3/3)
        {"task": "a", "answer_index": 1, "choice_logprobs": [-2.0, -3.0], "choice_tokens": [1, 3]},
        {"task": "a", "answer_index": 0, "choice_logprobs": [-1.0, -5.0], "choice_tokens": [1, 1]},
        {
            "task": "b",
            "answer_index": 2,
            "choice_logprobs": [-4.0, -4.0, -9.0, -8.0],
            "choice_tokens": [1, 1, 1, 1],
        },
    ]
    assert predicted_choice(scored[0], "sum") == 0 and predicted_choice(scored[0], "mean") == 1
    assert predicted_choice(scored[2]) == 0  # exact tie: the earlier choice
    out = mcq_accuracy(scored, "sum")
    assert out["tasks"]["a"] == {
        "items": 2,
        "correct": 1,
        "accuracy": 0.5,
        "accuracy_sum": 0.5,
        "accuracy_mean": 1.0,
        "chance": 0.5,
    }
    assert out["tasks"]["b"]["accuracy"] == 0.0 and out["tasks"]["b"]["chance"] == 0.25
    assert out["accuracy"] == pytest.approx(1 / 3)
    assert out["chance"] == pytest.approx((0.5 + 0.5 + 0.25) / 3)
    assert out["macro_accuracy"] == pytest.approx(0.25)
    assert out["macro_chance"] == pytest.approx(0.375)
    assert mcq_accuracy(scored, "mean")["accuracy"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="score must be"):
        mcq_accuracy(scored, "max")


# -- MCQ: scoring with a tiny model -------------------------------------------------------------

ROWS: list[dict[str, Any]] = [
    {
        "task": "geo",
        "id": "g1",
        "question": "Which city is the capital of France?",
        "choices": ["Paris", "Rome", "Berlin and the surrounding region"],
        "answer_index": 0,
    },
    {
        "task": "geo",
        "id": "g2",
        "question": "Which river flows through Cairo?",
        "choices": ["The Danube", "The Nile"],
        "answer_index": 1,
    },
    {
        "task": "math",
        "id": "m1",
        "question": "What is two plus two?",
        "choices": ["three", "four", "five", "twenty two"],
        "answer_index": 1,
    },
]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The LLM layer's tiny random Llama; its tokenizer adds a BOS token, as many do."""
    pytest.importorskip("torch")
    from alignkit.llm import load_causal_lm
    from alignkit.llm.testing import write_tiny_chat_model

    folder = write_tiny_chat_model(tmp_path_factory.mktemp("tiny-lm"), bos=True, context=128)
    return load_causal_lm(folder)


def hf_choice_logprob(model: Any, tok: Any, row: dict[str, Any], choice: str) -> float:
    """The oracle: one unbatched forward pass of the whole sequence, full logits."""
    import torch

    prompt = tok(mcq_prompt(row["question"], row["choices"]))["input_ids"]
    cont = tok(" " + choice, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt + cont])
    with torch.no_grad():
        logps = model(input_ids=ids).logits[0].log_softmax(-1)
    return sum(logps[len(prompt) + i - 1, t].item() for i, t in enumerate(cont))


def test_scores_equal_a_plain_forward_pass(tiny_lm: tuple[Any, Any]) -> None:
    from alignkit.lion.evaluate import score_mcq

    model, tok = tiny_lm
    # Batch 2 mixes lengths, so padding and the unsorting of batches are exercised.
    scored, counts = score_mcq(model, tok, ROWS, batch_size=2, impl="torch")
    assert counts == {"rows": 3, "scored": 3, "skipped": {}, "truncated": 0}
    for row, out in zip(ROWS, scored, strict=True):
        assert out["task"] == row["task"] and out["id"] == row["id"]
        expected = [hf_choice_logprob(model, tok, row, c) for c in row["choices"]]
        assert out["choice_logprobs"] == pytest.approx(expected, abs=1e-4)
        assert out["choice_tokens"] == [
            len(tok(" " + c, add_special_tokens=False)["input_ids"]) for c in row["choices"]
        ]
    one_by_one, _ = score_mcq(model, tok, ROWS, batch_size=1, impl="torch")
    for alone, batched in zip(one_by_one, scored, strict=True):
        assert alone["choice_logprobs"] == pytest.approx(batched["choice_logprobs"], abs=1e-4)


def _with_head_bias(model: Any, bias: Any) -> Any:
    """A copy of `model` whose LM head adds `bias` to every position's logits."""
    import copy

    import torch

    biased = copy.deepcopy(model)
    old = biased.get_output_embeddings()
    head = torch.nn.Linear(old.in_features, old.out_features, bias=True)
    with torch.no_grad():
        head.weight.copy_(old.weight)
        head.bias.copy_(bias)
    biased.set_output_embeddings(head)
    return biased


def test_forced_answers_are_found_and_length_rules_differ(tiny_lm: tuple[Any, Any]) -> None:
    import torch

    from alignkit.lion.evaluate import evaluate_mcq, score_mcq

    model, tok = tiny_lm
    # A head biased towards every token of the right choices (and away from the rest) must be
    # right on every row whatever the random weights say.
    bias = torch.full((len(tok),), -20.0)
    for row in ROWS:
        right = row["choices"][row["answer_index"]]
        bias[tok(" " + right, add_special_tokens=False)["input_ids"]] = 20.0
    forced = evaluate_mcq(_with_head_bias(model, bias), tok, ROWS, impl="torch")
    assert forced["accuracy"] == 1.0 and forced["accuracy_mean"] == 1.0
    assert forced["tasks"]["geo"]["correct"] == 2 and forced["tasks"]["math"]["correct"] == 1
    assert forced["chance"] == pytest.approx((1 / 3 + 1 / 2 + 1 / 4) / 3)

    # Uniform logits (zero weights): every token costs log V, so the sum rule picks the choice
    # with the fewest tokens, and every choice's per-token mean is -log V.
    flat = _with_head_bias(model, torch.zeros(len(tok)))
    torch.nn.init.zeros_(flat.get_output_embeddings().weight)
    long_right = [{**ROWS[0], "choices": ["Berlin and the surrounding region", "Rome"]}]
    assert evaluate_mcq(flat, tok, long_right, impl="torch")["accuracy_sum"] == 0.0
    rows, _ = score_mcq(flat, tok, long_right, impl="torch")
    tokens = [
        len(tok(" " + c, add_special_tokens=False)["input_ids"]) for c in long_right[0]["choices"]
    ]
    assert tokens[0] > tokens[1]
    expected = [-n * math.log(len(tok)) for n in tokens]
    assert rows[0]["choice_logprobs"] == pytest.approx(expected, rel=1e-5)


def test_bad_rows_are_counted_and_long_prompts_cut(
    tiny_lm: tuple[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    from alignkit.lion.evaluate import evaluate_mcq

    model, tok = tiny_lm
    long_row = {**ROWS[0], "id": "long", "question": "Tell me, " * 60 + "which city?"}
    huge_choice = {**ROWS[1], "id": "huge", "choices": ["The Nile " * 100, "The Danube"]}
    one_choice = {"task": "geo", "question": "q", "choices": ["a"], "answer_index": 0}
    rows = [ROWS[0], one_choice, 7, huge_choice, {**one_choice, "choices": ["a", "b", ""]}]
    out = evaluate_mcq(model, tok, [*rows, long_row], impl="torch")
    assert out["counts"]["rows"] == 6 and out["counts"]["scored"] == 2
    assert out["counts"]["skipped"] == {
        "needs 2 to 26 choices": 1,
        "not an object (int)": 1,
        "a choice is longer than the model's context": 1,
        "a choice is empty or not text": 1,
    }
    assert out["counts"]["truncated"] == 1
    assert "skipped" in caplog.text
    assert out["items"] == 2


def test_a_scaled_head_is_refused(tiny_lm: tuple[Any, Any]) -> None:
    import copy

    from alignkit.lion.evaluate import score_mcq

    model, tok = tiny_lm
    scaled = copy.deepcopy(model)
    forward = scaled.forward

    def scaled_forward(*args: Any, **kwargs: Any) -> Any:
        out = forward(*args, **kwargs)
        out.logits = out.logits * 3.0  # as logit_scale/soft-capping models do
        return out

    scaled.forward = scaled_forward
    with pytest.raises(ValueError, match="plain LM heads"):
        score_mcq(scaled, tok, ROWS, impl="torch")


# -- relative quality: the driver against the fake server ----------------------------------------

# question -> (teacher score, student score, bonus for whoever is Assistant 1)
REFEREE_SCRIPT = {
    "Write a haiku about rain.": (8, 6, 1),
    "Write a thank-you note.": (9, 9, 0),
    "What is 12 squared?": (10, 4, 0),
}
UNJUDGEABLE = "Prove that there are infinitely many primes."  # the referee never gives scores
NO_STUDENT = "What is the derivative of x cubed?"  # the student's request fails
QUESTIONS: list[dict[str, Any]] = [
    {"id": "w1", "question": "Write a haiku about rain.", "category": "writing"},
    {"id": "w2", "question": "Write a thank-you note.", "category": "writing"},
    {"id": "m1", "question": "What is 12 squared?", "category": "math"},
    {"id": "m2", "question": UNJUDGEABLE, "category": "math"},
    {"id": "m3", "question": NO_STUDENT, "category": "math"},
    {"id": "bad", "question": "   ", "category": "math"},
]


def question_of(text: str) -> str:
    return text.split("### Instruction:\n", 1)[1].split("\n\n", 1)[0]


def scripted(body: dict[str, Any]) -> str:
    from alignkit.lion import prompts

    system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else None
    content = body["messages"][-1]["content"]
    if system == prompts.TEACHER_SYSTEM:
        return f"TEACHER answer to {question_of(content)}"
    if system is None:
        return f"STUDENT answer to {question_of(content)}"
    question = content.split("\n")[1]
    if question == UNJUDGEABLE:
        return "Both answers look fine to me."
    teacher, student, bonus = REFEREE_SCRIPT[question]
    teacher_first = content.index("TEACHER") < content.index("STUDENT")
    first, second = (teacher, student) if teacher_first else (student, teacher)
    labels = prompts.SCORE_LABELS
    return f"Evaluation evidence: fine.\n{labels[0]} {first + bonus}\n{labels[1]} {second}"


def student_fails(body: dict[str, Any]) -> bool:
    return body["messages"][0]["role"] != "system" and NO_STUDENT in body["messages"][0]["content"]


def run_eval(server: Any, cache: Any = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from alignkit.lion.evaluate import evaluate_relative_quality
    from alignkit.llm import make_backend

    def backend(name: str) -> Any:
        return make_backend(f"openai:{name}@{server.base_url}", max_retries=0)

    return evaluate_relative_quality(
        backend("teacher"), backend("student"), backend("referee"), QUESTIONS, cache, max_reasks=1
    )


@pytest.fixture
def _no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.mark.usefixtures("_no_openai_env")
def test_driver_judges_student_against_teacher(tmp_path: Any) -> None:
    from alignkit.lion import prompts
    from alignkit.llm import ResponseCache
    from alignkit.llm.testing import FakeChatServer, Fault, always

    server = FakeChatServer(reply=scripted, faults=always(Fault.http(400), match=student_fails))
    with server, ResponseCache(tmp_path / "eval.sqlite") as cache:
        judgements, result = run_eval(server, cache)
        bodies = list(server.bodies)
        sent = server.hits
        again, result_again = run_eval(server, cache)
        assert server.hits == sent  # the second run comes from the cache
    assert again == judgements and result_again["relative_quality"] == result["relative_quality"]

    rq = result["relative_quality"]
    # Setting1 (teacher first): teacher 8+1, 9, 10 vs student 6, 9, 4.
    assert rq["Setting1"] == pytest.approx(100 * (6 + 9 + 4) / (9 + 9 + 10))
    # Setting2 (student first): student 6+1, 9, 4 vs teacher 8, 9, 10.
    assert rq["Setting2"] == pytest.approx(100 * (7 + 9 + 4) / (8 + 9 + 10))
    assert rq["items"] == 5 and rq["unscored"]["either"] == 2
    assert rq["by_category"]["writing"]["Setting1"] == pytest.approx(100 * 15 / 18)
    assert rq["by_category"]["math"]["items"] == 3
    assert rq["by_category"]["math"]["scored"]["both"] == 1

    by_id = {j["id"]: j for j in judgements}
    assert by_id["m2"]["unscored"] == "referee" and by_id["m2"]["order_teacher_first"] is None
    assert by_id["m3"]["unscored"] == "no_student_answer"
    assert by_id["w1"]["category"] == "writing" and by_id["w1"]["order_student_first"] == [7, 8]
    counts = result["counts"]
    assert counts["questions"] == 5 and counts["skipped_no_question"] == 1
    assert counts["no_student_answer"] == 1 and counts["referee"]["judged"] == 3
    assert sum(v for k, v in counts["referee"].items() if k.startswith("dropped_")) == 1
    assert result["llm"]["student"]["failures"] >= 1

    teacher_bodies = [b for b in bodies if b["messages"][0]["role"] == "system"
                      and b["messages"][0]["content"] == prompts.TEACHER_SYSTEM]  # fmt: skip
    student_bodies = [b for b in bodies if b["messages"][0]["role"] == "user"]
    assert len(teacher_bodies) == 5 and len(student_bodies) == 5
    for b in teacher_bodies + student_bodies:
        assert b["temperature"] == 0.7 and b["max_tokens"] == 1024
    assert student_bodies[0]["messages"] == [
        {"role": "user", "content": prompts.instruction_prompt(QUESTIONS[0]["question"])}
    ]


@pytest.mark.usefixtures("_no_openai_env")
def test_driver_with_a_local_plain_text_student(tmp_path: Any) -> None:
    from alignkit.lion.evaluate import evaluate_relative_quality, load_eval_questions
    from alignkit.llm import make_backend
    from alignkit.llm.testing import FakeChatServer, write_tiny_chat_model

    folder = write_tiny_chat_model(tmp_path / "student", context=256)
    questions, counts = load_eval_questions()
    assert counts["questions"] == len(questions) >= 30
    assert all(q["category"] and q["instruction"] for q in questions)

    def referee_prefers_teacher(body: dict[str, Any]) -> str:
        from alignkit.lion import prompts

        if body["messages"][0]["content"] != prompts.REFEREE_SYSTEM:
            return "TEACHER: a careful answer."
        content = body["messages"][-1]["content"]
        first, second = (
            (9, 3) if content.index("TEACHER") < content.rindex("answer begins") else (3, 9)
        )
        labels = prompts.SCORE_LABELS
        return f"Evaluation evidence: ok.\n{labels[0]} {first}\n{labels[1]} {second}"

    student = make_backend(f"transformers:{folder}", prompt_format="plain", device="cpu")
    with FakeChatServer(reply=referee_prefers_teacher) as server:
        remote = make_backend(f"openai:t@{server.base_url}", max_retries=0)
        judgements, result = evaluate_relative_quality(
            remote, student, remote, questions[:2], student_max_tokens=8
        )
    assert [j["id"] for j in judgements] == [q["id"] for q in questions[:2]]
    assert all(j["student_response"] and "TEACHER" not in j["student_response"] for j in judgements)
    assert result["relative_quality"]["Setting1"] == pytest.approx(100 * 3 / 9)
    assert result["relative_quality"]["Setting2"] == pytest.approx(100 * 3 / 9)
