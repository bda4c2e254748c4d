"""alignkit.llm without a network: requests, specs, cache keys, Retry-After, the registry."""

from __future__ import annotations

import asyncio
import email.utils

import pytest

from alignkit.llm import (
    BackendSpecError,
    ChatRequest,
    ChatRequestError,
    ChatResult,
    OpenAIBackend,
    backend_kinds,
    make_backend,
    parse_backend_spec,
)
from alignkit.llm.openai import chat_completions_url, parse_completion, parse_retry_after


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_request_validation():
    with pytest.raises(ChatRequestError, match="empty"):
        ChatRequest(messages=[])
    with pytest.raises(ChatRequestError, match="no role"):
        ChatRequest(messages=[{"content": "x"}])
    with pytest.raises(ChatRequestError, match="no content"):
        ChatRequest(messages=[{"role": "user"}])
    with pytest.raises(ChatRequestError, match="list"):
        ChatRequest(messages="hello")  # type: ignore[arg-type]
    with pytest.raises(ChatRequestError, match="integer"):
        ChatRequest.from_prompt("x", seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ChatRequestError, match="extra may not set"):
        ChatRequest.from_prompt("x", extra={"seed": 3})
    with pytest.raises(ChatRequestError, match="n > 1"):
        ChatRequest.from_prompt("x", extra={"n": 4})
    r = ChatRequest.from_prompt("hi", system="sys", temperature=1, stop="END", seed=7)
    assert r.messages == ({"role": "system", "content": "sys"}, {"role": "user", "content": "hi"})
    assert r.temperature == 1.0 and isinstance(r.temperature, float)
    assert r.params() == {"temperature": 1.0, "seed": 7, "stop": ["END"]}
    assert ChatRequest.from_json(r.to_json()) == r


def test_result_roundtrip():
    res = ChatResult(text="a", finish_reason="stop", prompt_tokens=3, completion_tokens=2)
    assert res.ok and res.total_tokens == 5 and res.usage["total_tokens"] == 5
    back = ChatResult.from_json(res.to_json(), cached=True)
    assert back.cached and back.text == "a" and back.prompt_tokens == 3


def test_spec_parsing():
    assert parse_backend_spec("openai:gpt-4o-mini").base_url is None
    spec = parse_backend_spec("openai:meta-llama/Llama-3.1-8B@http://127.0.0.1:8000/v1")
    assert (spec.kind, spec.model, spec.base_url) == (
        "openai",
        "meta-llama/Llama-3.1-8B",
        "http://127.0.0.1:8000/v1",
    )
    spec = parse_backend_spec("openai:llama3:8b@localhost:11434")
    assert spec.model == "llama3:8b" and spec.base_url == "http://localhost:11434"
    for bad in ("gpt-4o", "openai:", "openai:@http://x", "openai:m@"):
        with pytest.raises(BackendSpecError):
            parse_backend_spec(bad)


def test_make_backend_urls_env_and_options(monkeypatch):
    b = make_backend("openai:m@127.0.0.1:9000")
    assert isinstance(b, OpenAIBackend)
    assert b.endpoint == "http://127.0.0.1:9000/v1/chat/completions"
    assert make_backend("openai:m").endpoint == "https://api.openai.com/v1/chat/completions"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://10.0.0.1:8000/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    b = make_backend("openai:m", concurrency=3)
    assert b.endpoint == "http://10.0.0.1:8000/v1/chat/completions"
    assert b.config.api_key == "sk-env" and b.config.concurrency == 3
    assert make_backend("openai:m", api_key="sk-arg").config.api_key == "sk-arg"
    b = make_backend("openai:m", base_url="http://h:1/v1")  # argument beats the environment
    assert b.endpoint == "http://h:1/v1/chat/completions"
    with pytest.raises(BackendSpecError, match="given twice"):
        make_backend("openai:m@http://a:1/v1", base_url="http://b:1/v1")
    with pytest.raises(BackendSpecError, match="unknown option"):
        make_backend("openai:m", concurency=3)
    with pytest.raises(BackendSpecError, match="concurrency"):
        make_backend("openai:m", concurrency=0)
    with pytest.raises(BackendSpecError, match="http"):
        make_backend("openai:m@ftp://x/v1")


def test_registry_lists_only_real_backends():
    make_backend("openai:m")
    assert {"openai", "transformers"} <= set(backend_kinds())
    with pytest.raises(BackendSpecError, match="unknown backend kind 'vllm'.*openai"):
        make_backend("vllm:Qwen/Qwen2.5-0.5B")


def test_chat_completions_url():
    assert chat_completions_url("http://h:1") == "http://h:1/v1/chat/completions"
    assert chat_completions_url("http://h:1/v1") == "http://h:1/v1/chat/completions"
    assert chat_completions_url("http://h/api/v2/") == "http://h/api/v2/chat/completions"
    assert chat_completions_url("http://h/v1/chat/completions") == "http://h/v1/chat/completions"


def test_cache_key_covers_everything_that_decides_the_answer():
    b = make_backend("openai:m@http://127.0.0.1:1/v1")
    base = ChatRequest.from_prompt("q", temperature=0.5, seed=1)
    key = b.cache_key(base)
    assert len(key) == 64 and key == b.cache_key(
        ChatRequest.from_prompt("q", temperature=0.5, seed=1)
    )
    # Message dict order does not matter; every parameter does.
    reordered = ChatRequest(messages=[{"content": "q", "role": "user"}], temperature=0.5, seed=1)
    assert b.cache_key(reordered) == key
    variants = [
        ChatRequest.from_prompt("q", temperature=0.5, seed=2),
        ChatRequest.from_prompt("q", temperature=0.6, seed=1),
        ChatRequest.from_prompt("q", temperature=0.5, seed=1, top_p=0.9),
        ChatRequest.from_prompt("q", temperature=0.5, seed=1, max_tokens=5),
        ChatRequest.from_prompt("q", temperature=0.5, seed=1, stop=["x"]),
        ChatRequest.from_prompt("q", temperature=0.5, seed=1, extra={"presence_penalty": 1}),
        ChatRequest.from_prompt("q", temperature=0.5, seed=1, model="other"),
        ChatRequest.from_prompt("Q", temperature=0.5, seed=1),
    ]
    keys = {b.cache_key(v) for v in variants}
    assert len(keys) == len(variants) and key not in keys
    # The model given explicitly equals the backend default; the endpoint counts, the key not.
    assert b.cache_key(ChatRequest.from_prompt("q", temperature=0.5, seed=1, model="m")) == key
    assert make_backend("openai:m@http://127.0.0.1:2/v1").cache_key(base) != key
    assert make_backend("openai:m@http://127.0.0.1:1/v1", api_key="k").cache_key(base) == key


def test_retry_after_parsing():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30, abs=1)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0


def test_backoff_full_jitter_and_caps():
    b = make_backend("openai:m", backoff_base=1.0, backoff_max=4.0, retry_after_max=10.0)
    delays = [b.backoff(5, None) for _ in range(200)]
    assert all(0 <= d <= 4.0 for d in delays) and max(delays) > 2.0 and min(delays) < 1.0
    assert all(0 <= b.backoff(1, None) <= 1.0 for _ in range(50))
    assert b.backoff(1, 3.0) == 3.0 and b.backoff(1, 99.0) == 10.0


def test_parse_completion():
    body = b'{"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}'  # noqa: E501
    result = parse_completion(body)
    assert (result.text, result.finish_reason, result.usage["total_tokens"]) == ("hi", "stop", 4)
    assert result.top_logprobs is None
    empty = parse_completion(b'{"choices":[{"message":{"content":null}}]}')
    assert (empty.text, empty.finish_reason, empty.total_tokens) == ("", None, 0)
    for bad in (b"{", b"[]", b'{"choices":[]}', b'{"choices":[{"message":{}}]}'):
        with pytest.raises(Exception, match="reply"):
            parse_completion(bad)


def test_generate_refuses_inside_a_running_loop():
    b = make_backend("openai:m@http://127.0.0.1:9/v1")

    async def inside():
        b.generate([ChatRequest.from_prompt("x")])

    with pytest.raises(RuntimeError, match="running event loop.*agenerate"):
        asyncio.run(inside())
