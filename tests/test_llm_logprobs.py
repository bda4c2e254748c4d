"""Top log-probabilities: request validation, the result's JSON and cache round trip, the OpenAI
reply shape (parsed from the FakeChatServer over loopback HTTP, scripted and echoed), and the
transformers backend against a direct forward pass of a tiny random model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alignkit.llm import (
    ChatRequest,
    ChatRequestError,
    ChatResult,
    ResponseCache,
    make_backend,
    run_requests,
)
from alignkit.llm.openai import parse_completion
from alignkit.llm.testing import (
    EchoBackend,
    FakeChatServer,
    ScriptedReply,
    write_tiny_chat_model,
)
from alignkit.llm.types import canonical_json

SCORES = (
    (("7", -0.2), (" 7", -1.9), ("8", -2.5)),
    (("\n", -0.01), ("<|im_end|>", -4.6)),
)
LONGER = "It is a long reply about colours."


def asking(prompt: str, k: int, **params: Any) -> ChatRequest:
    return ChatRequest.from_prompt(prompt, extra={"logprobs": True, "top_logprobs": k}, **params)


# --- the request and the result --------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"logprobs": 1}, "logprobs must be true or false"),
        ({"logprobs": True, "top_logprobs": 21}, "from 0 to 20"),
        ({"logprobs": True, "top_logprobs": -1}, "from 0 to 20"),
        ({"logprobs": True, "top_logprobs": 2.0}, "from 0 to 20"),
        ({"top_logprobs": 3}, "needs logprobs=True"),
        ({"logprobs": False, "top_logprobs": 3}, "needs logprobs=True"),
    ],
)
def test_bad_logprob_requests_are_refused(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ChatRequestError, match=message):
        ChatRequest.from_prompt("x", extra=extra)


def test_how_many_alternatives_a_request_wants() -> None:
    assert ChatRequest.from_prompt("x").top_logprobs_wanted is None
    assert ChatRequest.from_prompt("x", extra={"logprobs": False}).top_logprobs_wanted is None
    assert ChatRequest.from_prompt("x", extra={"logprobs": True}).top_logprobs_wanted == 0
    assert asking("x", 20).top_logprobs_wanted == 20


def test_result_json_round_trip_and_old_rows() -> None:
    result = ChatResult(text="7", finish_reason="stop", top_logprobs=SCORES)
    stored = json.loads(canonical_json(result.to_json()))
    assert stored["top_logprobs"][0][1] == [" 7", -1.9]
    assert ChatResult.from_json(stored) == result
    old = {k: v for k, v in stored.items() if k != "top_logprobs"}  # a row from before
    assert ChatResult.from_json(old).top_logprobs is None


def test_cache_keeps_logprobs(tmp_path: Path) -> None:
    request = asking("score it", 3)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        cache.put("k", request, ChatResult(text="7", top_logprobs=SCORES))
        entry = cache.get("k")
    assert entry is not None and entry.result.top_logprobs == SCORES and entry.result.cached


# --- the OpenAI shape -------------------------------------------------------------------------


def test_parse_completion_reads_and_orders_logprobs() -> None:
    def alt(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    body = {
        "choices": [
            {
                "message": {"content": "7"},
                "finish_reason": "stop",
                "logprobs": {
                    "content": [
                        {**alt("7", -0.2), "top_logprobs": [alt("8", -2.5), alt("7", -0.2)]}
                    ]
                },
            }
        ]
    }
    result = parse_completion(json.dumps(body).encode())
    assert result.top_logprobs == ((("7", -0.2), ("8", -2.5)),)
    body["choices"][0]["logprobs"] = {"content": [{"token": "7"}]}
    with pytest.raises(Exception, match="logprobs block"):
        parse_completion(json.dumps(body).encode())


def test_fake_server_scripted_logprobs_over_http(tmp_path: Path) -> None:
    def reply(body: dict[str, Any]) -> ScriptedReply:
        return ScriptedReply("7\n", SCORES)

    with FakeChatServer(reply=reply) as server:
        backend = make_backend(f"openai:fake@{server.base_url}")
        requests = [asking("rate A", 2), asking("rate B", 3), ChatRequest.from_prompt("rate C")]
        with ResponseCache(tmp_path / "c.sqlite") as cache:
            results, _ = run_requests(backend, requests, cache, progress=False)
            again, _ = run_requests(backend, requests, cache, progress=False)
        bodies = list(server.bodies)
    assert results[0].top_logprobs == tuple(position[:2] for position in SCORES)
    assert results[1].top_logprobs == SCORES
    assert results[2].top_logprobs is None and results[2].text == "7\n"
    assert [b.get("top_logprobs") for b in bodies] == [2, 3, None]
    assert "logprobs" not in bodies[2]
    assert [r.top_logprobs for r in again] == [r.top_logprobs for r in results]
    assert all(r.cached for r in again) and len(bodies) == 3


def test_fake_server_echo_has_logprobs() -> None:
    with FakeChatServer() as server:
        backend = make_backend(f"openai:fake@{server.base_url}")
        [result] = backend.generate([asking("two words", 1)])
    assert result.text == "echo: two words"
    assert result.top_logprobs == ((("echo:", 0.0),), ((" two", 0.0),), ((" words", 0.0),))


def test_echo_backend_has_the_servers_logprobs() -> None:
    with FakeChatServer() as server:
        [served] = make_backend(f"openai:fake@{server.base_url}").generate([asking("a b", 1)])
    [echoed, plain] = EchoBackend().generate([asking("a b", 1), ChatRequest.from_prompt("a b")])
    assert echoed.top_logprobs == served.top_logprobs and echoed.text == served.text
    assert plain.top_logprobs is None


def test_a_server_without_logprobs_fails_the_request() -> None:
    class NoLogprobs(FakeChatServer):
        async def complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            status, payload = await super().complete(body)
            payload["choices"][0].pop("logprobs", None)
            return status, payload

    with NoLogprobs() as server:
        backend = make_backend(f"openai:fake@{server.base_url}", max_retries=0)
        asked, plain = backend.generate([asking("x", 2), ChatRequest.from_prompt("y")])
    assert asked.error_kind == "unsupported" and "logprobs" in (asked.error or "")
    assert asked.attempts == 1 and asked.text is None
    assert plain.ok


# --- the transformers backend -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    return write_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat"))


def direct_greedy(
    folder: Path, prompt: str, steps: int, k: int, frequency_penalty: float = 0.0
) -> list[list[tuple[str, float]]]:
    """Greedy decoding by full forward passes, no cache or batch: per step, the top k of the
    log_softmax of the last position's logits; the token taken is the argmax of the logits less
    `frequency_penalty` times its count so far."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    prompt_length = len(ids)
    out = []
    with torch.inference_mode():
        for _ in range(steps):
            logits = model(torch.tensor([ids])).logits[0, -1].float()
            values, top = torch.log_softmax(logits, -1).topk(k)
            pairs = zip(top.tolist(), values.tolist(), strict=True)
            out.append([(tokenizer.decode([i]), v) for i, v in pairs])
            counts = torch.bincount(
                torch.tensor(ids[prompt_length:], dtype=torch.long), minlength=logits.shape[0]
            )
            ids.append(int((logits - frequency_penalty * counts).argmax()))
    return out


def assert_close(got: Any, expected: list[list[tuple[str, float]]]) -> None:
    assert len(got) == len(expected)
    for step, (have, want) in enumerate(zip(got, expected, strict=True)):
        assert [t for t, _ in have] == [t for t, _ in want], step
        assert [v for _, v in have] == pytest.approx([v for _, v in want], abs=1e-4), step


def test_transformers_logprobs_match_a_direct_forward_pass(tiny: Path) -> None:
    backend = make_backend(f"transformers:{tiny}", device="cpu", dtype="float32")
    prompt = "Rate the reply."
    requests = [
        asking(prompt, 4, temperature=0, max_tokens=5),
        # a longer row pads the first one; hot sampling must not change the first step's values
        asking(f"{prompt} {LONGER}", 2, temperature=5.0, seed=3, max_tokens=3),
        ChatRequest.from_prompt(prompt, temperature=0, max_tokens=5),
        ChatRequest.from_prompt(prompt, temperature=0, max_tokens=5, extra={"logprobs": True}),
    ]
    greedy, hot, without, zero = backend.generate(requests)
    assert backend.batches == 1 and all(r.ok for r in (greedy, hot, without, zero))
    expected = direct_greedy(tiny, prompt, greedy.completion_tokens, 4)
    assert_close(greedy.top_logprobs, expected)
    assert greedy.text == "".join(step[0][0] for step in expected)
    assert without.top_logprobs is None and without.text == greedy.text
    assert zero.top_logprobs == ((),) * zero.completion_tokens
    assert hot.top_logprobs is not None and len(hot.top_logprobs) == hot.completion_tokens
    first = direct_greedy(tiny, f"{prompt} {LONGER}", 1, 2)
    assert_close(hot.top_logprobs[:1], first)


def test_transformers_logprobs_are_before_penalties(tiny: Path) -> None:
    """A huge frequency penalty changes which tokens are taken, not the reported distribution:
    the model's own, where a repeated token may still be the best."""
    backend = make_backend(f"transformers:{tiny}", device="cpu", dtype="float32")
    prompt = "Hi"
    extra = {"logprobs": True, "top_logprobs": 3}
    plain, penalised = backend.generate(
        [
            ChatRequest.from_prompt(prompt, temperature=0, max_tokens=8, extra=extra),
            ChatRequest.from_prompt(
                prompt, temperature=0, max_tokens=8, extra={**extra, "frequency_penalty": 50.0}
            ),
        ]
    )
    assert plain.text != penalised.text  # the random model repeats itself without the penalty
    steps = penalised.completion_tokens
    assert_close(penalised.top_logprobs, direct_greedy(tiny, prompt, steps, 3, 50.0))
    assert_close(plain.top_logprobs, direct_greedy(tiny, prompt, plain.completion_tokens, 3))


@pytest.mark.slow  # loads the real SmolLM2-135M-Instruct
def test_real_model_scores_a_digit(smol_dir: Path, llm_cache_dir: Path) -> None:
    backend = make_backend(
        "transformers", cache_dir=str(llm_cache_dir), device="cpu", dtype="float32"
    )
    request = ChatRequest(
        messages=[
            {"role": "user", "content": "Rate the answer '4' to 'What is 2+2?' from 1 to 10."},
            {"role": "assistant", "content": "Score (1-10): "},
        ],
        temperature=0,
        max_tokens=1,
        extra={"logprobs": True, "top_logprobs": 5},
    )
    [result] = backend.generate([request])
    assert result.ok and result.top_logprobs is not None and len(result.top_logprobs) == 1
    tokens = [token.strip() for token, _ in result.top_logprobs[0]]
    assert sum(token.isdigit() for token in tokens) >= 3, result.top_logprobs
    assert result.text == result.top_logprobs[0][0][0]
