"""The openai backend against a real loopback HTTP server that injects faults."""

from __future__ import annotations

import asyncio
import time

import pytest

from alignkit.llm import ChatRequest, make_backend
from alignkit.llm.testing import FakeChatServer, Fault, always, first_n


def fast_backend(server: FakeChatServer, **options):
    """Retries in milliseconds, so fault tests stay quick."""
    settings = {
        "concurrency": 8,
        "timeout": 2.0,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "trust_env": False,
        "jitter_seed": 0,
    }
    settings.update(options)
    return make_backend(f"openai:echo-model@{server.base_url}", **settings)


def prompts(n: int, prefix: str = "q") -> list[ChatRequest]:
    return [ChatRequest.from_prompt(f"{prefix}{i}", seed=i) for i in range(n)]


def assert_all_answered(results, requests):
    assert len(results) == len(requests)
    for result, request in zip(results, requests, strict=True):
        assert result.ok, result.error
        assert result.text == "echo: " + request.messages[-1]["content"]


def test_plain_success_usage_and_totals():
    with FakeChatServer() as server:
        backend = fast_backend(server)
        reqs = prompts(10)
        results = backend.generate(reqs)
        assert_all_answered(results, reqs)
        assert all(r.attempts == 1 and r.finish_reason == "stop" for r in results)
        assert results[0].prompt_tokens == 1 and results[0].completion_tokens == 2
        assert server.hits == 10
        assert backend.usage.requests == 10 and backend.usage.retries == 0
        assert backend.usage.prompt_tokens == 10 and backend.usage.completion_tokens == 20
        # A second blocking call runs on a fresh event loop with fresh connections.
        assert_all_answered(backend.generate(reqs[:3]), reqs[:3])
        assert backend.usage.requests == 13


def test_429_with_retry_after_then_success():
    fault = Fault.http(429, "Rate limit reached", retry_after="0.2")
    with FakeChatServer(faults=first_n(2, fault)) as server:
        backend = fast_backend(server)
        reqs = prompts(12)
        started = time.perf_counter()
        results = backend.generate(reqs)
        elapsed = time.perf_counter() - started
    assert_all_answered(results, reqs)
    assert [r.attempts for r in results] == [3] * 12
    assert server.hits == 36
    assert elapsed >= 0.4  # two waits of Retry-After: 0.2 were honoured
    assert backend.usage.retries == 24


def test_retry_after_is_capped_and_http_date_understood():
    # Retry-After asks for an hour (seconds, then an HTTP-date); retry_after_max caps it.
    date = "Wed, 21 Oct 2099 07:28:00 GMT"

    def policy(body, seen):
        if seen == 0:
            return Fault.http(503, retry_after="3600")
        if seen == 1:
            return Fault.http(429, retry_after=date)
        return None

    with FakeChatServer(faults=policy) as server:
        backend = fast_backend(server, retry_after_max=0.05)
        started = time.perf_counter()
        results = backend.generate(prompts(4))
    assert all(r.ok and r.attempts == 3 for r in results)
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("status", [500, 502, 503, 408, 409])
def test_transient_statuses_are_retried(status):
    with FakeChatServer(faults=first_n(2, Fault.http(status, "try again"))) as server:
        results = fast_backend(server).generate(prompts(5))
    assert all(r.ok and r.attempts == 3 for r in results)
    assert server.hits == 15


def test_persistent_500_gives_up_with_the_last_error():
    with FakeChatServer(faults=always(Fault.http(500, "model crashed"))) as server:
        backend = fast_backend(server, max_retries=2)
        results = backend.generate(prompts(3))
    for r in results:
        assert not r.ok and r.text is None
        assert r.error_kind == "http_500" and r.status == 500 and r.attempts == 3
        assert "model crashed" in r.error and "gave up after 3 attempts" in r.error
    assert server.hits == 9
    assert backend.usage.failed == 3


def test_slow_reply_beyond_the_timeout_is_retried():
    with FakeChatServer(faults=first_n(1, Fault.slow(3.0))) as server:
        backend = fast_backend(server, timeout=0.3)
        started = time.perf_counter()
        results = backend.generate(prompts(6))
        elapsed = time.perf_counter() - started
    assert all(r.ok and r.attempts == 2 for r in results)
    assert elapsed < 2.0


def test_timeout_every_time_is_reported():
    with FakeChatServer(faults=always(Fault.slow(3.0))) as server:
        results = fast_backend(server, timeout=0.2, max_retries=1).generate(prompts(2))
    assert all(r.error_kind == "timeout" and r.attempts == 2 for r in results)
    assert "0.2s" in results[0].error


def test_dropped_connections_are_retried():
    with FakeChatServer(faults=first_n(2, Fault.drop())) as server:
        results = fast_backend(server).generate(prompts(10))
    assert all(r.ok and r.attempts == 3 for r in results)
    assert server.hits == 30


@pytest.mark.parametrize("fault", [Fault.malformed(), Fault.missing_fields()])
def test_malformed_200_is_retried_a_bounded_number_of_times(fault):
    with FakeChatServer(faults=first_n(1, fault)) as server:
        results = fast_backend(server).generate(prompts(4))
    assert all(r.ok and r.attempts == 2 for r in results)
    with FakeChatServer(faults=always(fault)) as server:
        results = fast_backend(server, max_malformed_retries=2).generate(prompts(3))
    for r in results:
        assert r.error_kind == "malformed" and r.attempts == 3 and r.status == 200
        assert "gave up after 3 attempts" in r.error
    assert server.hits == 9


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_permanent_4xx_fail_at_once_with_the_server_message(status):
    with FakeChatServer(faults=always(Fault.http(status, f"nope {status}"))) as server:
        results = fast_backend(server).generate(prompts(3))
    for r in results:
        assert r.error_kind == f"http_{status}" and r.attempts == 1 and r.status == status
        assert f"nope {status}" in r.error and f"HTTP {status}" in r.error
    assert server.hits == 3


def test_api_key_is_sent_and_401_reported(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeChatServer(api_key="sk-right") as server:
        results = fast_backend(server, api_key="sk-wrong").generate(prompts(2))
        assert all(r.error_kind == "http_401" and r.attempts == 1 for r in results)
        assert "Incorrect API key" in results[0].error
        monkeypatch.setenv("OPENAI_API_KEY", "sk-right")
        assert all(r.ok for r in fast_backend(server).generate(prompts(2)))
        assert server.auth_headers[-1] == "Bearer sk-right"


def test_every_fault_at_once_nothing_lost():
    faults = [
        Fault.http(429, retry_after="0.05"),
        Fault.http(500),
        Fault.slow(2.0),
        Fault.drop(),
        Fault.malformed(),
        Fault.missing_fields(),
        None,
    ]

    def policy(body, seen):
        index = int(body["messages"][-1]["content"][1:])
        return faults[index % len(faults)] if seen == 0 else None

    with FakeChatServer(faults=policy) as server:
        backend = fast_backend(server, concurrency=16, timeout=0.3)
        reqs = prompts(70)
        results = backend.generate(reqs)
    assert_all_answered(results, reqs)
    assert sorted({r.attempts for r in results}) == [1, 2]
    assert sum(r.attempts == 1 for r in results) == 10
    assert server.hits == 130


def test_concurrency_limit_is_respected():
    with FakeChatServer(delay=0.03) as server:
        reqs = prompts(40)
        results = fast_backend(server, concurrency=5).generate(reqs)
        assert_all_answered(results, reqs)
        assert server.max_in_flight == 5
        assert server.connections <= 5
        server.reset_counters()
        fast_backend(server, concurrency=13).generate(prompts(60))
        assert server.max_in_flight == 13


def test_params_and_seeds_reach_the_server():
    reqs = [
        ChatRequest.from_prompt(
            f"q{i}",
            system="be brief",
            temperature=0.7,
            top_p=0.9,
            max_tokens=50,
            seed=1000 + i,
            stop=["\n\n"],
            extra={"presence_penalty": 0.5, "response_format": {"type": "text"}},
        )
        for i in range(5)
    ]
    reqs.append(ChatRequest.from_prompt("other", model="model-b"))
    with FakeChatServer() as server:
        fast_backend(server).generate(reqs)
    bodies = {b["messages"][-1]["content"]: b for b in server.bodies}
    for i in range(5):
        body = bodies[f"q{i}"]
        assert body["seed"] == 1000 + i
        assert body["temperature"] == 0.7 and body["top_p"] == 0.9
        assert body["max_tokens"] == 50 and body["stop"] == ["\n\n"]
        assert body["presence_penalty"] == 0.5 and body["response_format"] == {"type": "text"}
        assert body["model"] == "echo-model"
        assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert bodies["other"]["model"] == "model-b"
    assert "seed" not in bodies["other"] and "temperature" not in bodies["other"]


def test_finish_reason_length_and_stop():
    with FakeChatServer() as server:
        cut, stopped = fast_backend(server).generate(
            [
                ChatRequest.from_prompt("one two three four", max_tokens=2),
                ChatRequest.from_prompt("alpha STOP beta", stop="STOP"),
            ]
        )
    assert cut.text == "echo: one" and cut.finish_reason == "length"
    assert stopped.text == "echo: alpha " and stopped.finish_reason == "stop"


def test_results_in_input_order_when_replies_arrive_out_of_order():
    slow_even = first_n(
        1, Fault.slow(0.15), match=lambda b: int(b["messages"][-1]["content"][1:]) % 2 == 0
    )
    finished: list[int] = []
    with FakeChatServer(faults=slow_even) as server:
        backend = fast_backend(server, concurrency=20)
        reqs = prompts(20)

        async def run():
            async with backend:
                return await backend.agenerate(reqs, on_result=lambda i, r: finished.append(i))

        results = asyncio.run(run())
    assert_all_answered(results, reqs)
    assert sorted(finished) == list(range(20)) and finished != list(range(20))
    assert set(finished[:10]) == set(range(1, 20, 2))  # odd ones were answered first
