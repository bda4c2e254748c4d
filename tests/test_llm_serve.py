"""The openai client against `ModelServer` serving the real SmolLM2-135M-Instruct on 127.0.0.1,
with every fault mode injected: each request ends with the model's answer or a recorded failure,
and a resumed run re-sends only what did not finish."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alignkit.llm import ChatRequest, ResponseCache, TransformersBackend, make_backend, run_requests
from alignkit.llm.serve import ModelServer, request_from_body
from alignkit.llm.testing import Fault, always, first_n, last_user_content

pytestmark = pytest.mark.slow  # real models, training or whole scripts

PROMPTS = ["Name a colour.", "Name an animal.", "Name a city in Japan."]


def requests() -> list[ChatRequest]:
    return [ChatRequest.from_prompt(p, temperature=0, max_tokens=6) for p in PROMPTS]


@pytest.fixture(scope="module")
def direct(smol: TransformersBackend) -> list[str]:
    """What the model answers without the server (greedy, one at a time)."""
    return [smol.generate([r])[0].text or "" for r in requests()]


@pytest.fixture
def server(smol: TransformersBackend) -> Iterator[ModelServer]:
    with ModelServer(smol) as srv:
        yield srv


def client(server: ModelServer, **options: Any):
    settings = {
        "concurrency": 4,
        "timeout": 30.0,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "trust_env": False,
        "jitter_seed": 0,
    }
    settings.update(options)
    return make_backend(f"openai:{server.model_name}@{server.base_url}", **settings)


def get_json(url: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as reply:
        return json.loads(reply.read())


def test_models_route_and_real_answers(server: ModelServer, direct: list[str]) -> None:
    listed = get_json(server.base_url + "/models")
    assert [m["id"] for m in listed["data"]] == ["SmolLM2-135M-Instruct"]
    results = client(server).generate(requests())
    assert [r.text for r in results] == direct
    assert all(r.ok and r.attempts == 1 and r.prompt_tokens > 0 for r in results)
    assert all(0 < r.completion_tokens <= 6 for r in results)


FAULTS = {
    "429_retry_after": Fault.http(429, "slow down", retry_after="0.05"),
    "500": Fault.http(500, "boom"),
    "503": Fault.http(503),
    "slow": Fault.slow(60.0),
    "drop": Fault.drop(),
    "malformed": Fault.malformed(),
    "missing_fields": Fault.missing_fields(),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_each_fault_is_survived(name: str, server: ModelServer, direct: list[str]) -> None:
    server.faults = first_n(1, FAULTS[name])
    # slow: the first attempt outlives the client's deadline; the retry, answered at once, has
    # the same deadline, so it must cover a generation on a busy machine
    backend = client(server, timeout=8.0 if name == "slow" else 30.0)
    results = backend.generate(requests())
    assert [r.text for r in results] == direct, [r.error for r in results]
    assert all(r.attempts == 2 for r in results)
    assert server.hits == 6 and server.answered >= 3
    assert backend.usage.failed == 0 and backend.usage.retries == 3


def test_failures_are_recorded_and_resume_sends_only_them(
    server: ModelServer, direct: list[str], tmp_path: Path
) -> None:
    def is_animal(body: dict[str, Any]) -> bool:
        return "animal" in last_user_content(body)

    server.faults = always(Fault.http(500, "down"), match=is_animal)
    backend = client(server, max_retries=1)
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        results, summary = run_requests(backend, requests(), cache, progress=False)
        assert [r.ok for r in results] == [True, False, True]
        assert results[1].error_kind == "http_500" and "down" in (results[1].error or "")
        assert summary["failed"] == 1 and summary["succeeded"] == 2

        # A plain re-run sends nothing: answers come from the cache, the failure is skipped.
        hits = server.hits
        again, summary = run_requests(backend, requests(), cache, progress=False)
        assert server.hits == hits and summary["sent"] == 0
        assert summary["from_cache"] == 2 and summary["skipped_failed"] == 1

        # The server recovers; retrying re-sends only the failed request.
        server.faults = None
        fixed, summary = run_requests(backend, requests(), cache, progress=False, retry_failed=True)
        assert server.hits == hits + 1 and summary["sent"] == 1
    assert [r.text for r in fixed] == direct


def test_bad_requests_are_400s(server: ModelServer) -> None:
    backend = client(server)
    results = backend.generate(
        [
            ChatRequest.from_prompt("Hi.", max_tokens=4, extra={"logit_bias": {"1": 5}}),
            ChatRequest.from_prompt("x " * 9000, max_tokens=4),
        ]
    )
    assert results[0].status == 400 and "logit_bias" in (results[0].error or "")
    assert results[1].status == 400 and "context" in (results[1].error or "")
    assert all(r.attempts == 1 for r in results)  # never retried


def test_request_from_body() -> None:
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    assert request_from_body(body).max_tokens == 3
    assert request_from_body({**body, "max_tokens": None, "max_completion_tokens": 5}).max_tokens
    with pytest.raises(ValueError, match="streaming"):
        request_from_body({**body, "stream": True})
    with pytest.raises(ValueError, match="n must be 1"):
        request_from_body({**body, "n": 2})
