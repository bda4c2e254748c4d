"""The response cache and run_requests: resume after interruption, failures kept and retried."""

from __future__ import annotations

import asyncio
import threading

import pytest

from alignkit.llm import (
    CacheError,
    ChatRequest,
    ChatResult,
    ResponseCache,
    arun_requests,
    make_backend,
    run_requests,
)
from alignkit.llm.testing import FakeChatServer, Fault, always


def backend_for(server: FakeChatServer, **options):
    settings = {
        "concurrency": 4,
        "timeout": 2.0,
        "backoff_base": 0.01,
        "backoff_max": 0.02,
        "trust_env": False,
    }
    settings.update(options)
    return make_backend(f"openai:echo-model@{server.base_url}", **settings)


def prompts(n: int, prefix: str = "q") -> list[ChatRequest]:
    return [ChatRequest.from_prompt(f"{prefix}{i}", seed=i, temperature=0.8) for i in range(n)]


def test_second_run_is_served_from_the_cache(tmp_path, capsys):
    reqs = prompts(20)
    with FakeChatServer() as server, ResponseCache(tmp_path / "c.sqlite") as cache:
        backend = backend_for(server)
        first, summary = run_requests(backend, reqs, cache, progress="bar")
        assert summary["sent"] == 20 and summary["succeeded"] == 20 and summary["from_cache"] == 0
        assert summary["prompt_tokens"] == 20 and summary["completion_tokens"] == 40
        assert server.hits == 20 and cache.counts() == {"ok": 20, "failed": 0}
        bar = capsys.readouterr().err
        assert "20/20" in bar and "tok=60" in bar and "fail=0" in bar
        again, summary = run_requests(backend, reqs, cache, progress=False)
        assert server.hits == 20  # nothing re-sent
        assert summary["from_cache"] == 20 and summary["sent"] == 0
        assert [r.text for r in again] == [r.text for r in first]
        assert all(r.cached for r in again) and not any(r.cached for r in first)
    # The cache survives reopening.
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        assert len(cache) == 20
        entry = cache.get(backend.cache_key(reqs[3]))
        assert entry is not None and entry.ok and entry.result.text == "echo: q3"
        assert entry.request == reqs[3] and entry.model == "echo-model"


def test_interrupted_run_resumes_without_resending_finished_requests(tmp_path):
    reqs = prompts(40)
    with FakeChatServer(delay=0.02) as server, ResponseCache(tmp_path / "c.sqlite") as cache:
        backend = backend_for(server, concurrency=4)

        async def interrupted():
            task = asyncio.create_task(arun_requests(backend, reqs, cache, progress=False))
            while server.answered < 20:
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await backend.aclose()

        asyncio.run(interrupted())
        stored = cache.counts()["ok"]
        assert 0 < stored < 40  # finished results were flushed on cancellation
        first_hits = dict(server.prompts)
        server.reset_counters()

        results, summary = run_requests(backend, reqs, cache, progress=False)
        assert summary["from_cache"] == stored and summary["sent"] == 40 - stored
        assert server.hits == 40 - stored
        assert [r.text for r in results] == [f"echo: q{i}" for i in range(40)]
        # A request stored in the first run never reached the server again.
        for i, result in enumerate(results):
            if result.cached:
                assert first_hits.get(f"q{i}") == 1 and server.prompts[f"q{i}"] == 0


def test_failures_are_recorded_skipped_and_retried_later(tmp_path):
    reqs = prompts(10, "ok") + prompts(4, "bad")
    is_bad = lambda body: body["messages"][-1]["content"].startswith("bad")  # noqa: E731
    server = FakeChatServer(faults=always(Fault.http(500, "backend overloaded"), match=is_bad))
    with server, ResponseCache(tmp_path / "c.sqlite") as cache:
        backend = backend_for(server, max_retries=1)
        results, summary = run_requests(backend, reqs, cache, progress=False)
        assert summary["succeeded"] == 10 and summary["failed"] == 4
        assert summary["error_kinds"] == {"http_500": 4}
        assert [r.ok for r in results] == [True] * 10 + [False] * 4
        failed = list(cache.failed())
        assert len(failed) == 4 and cache.counts() == {"ok": 10, "failed": 4}
        assert all("backend overloaded" in e.result.error for e in failed)
        assert all(e.total_attempts == 2 and e.runs == 1 for e in failed)
        assert {e.request.messages[-1]["content"] for e in failed} == {f"bad{i}" for i in range(4)}

        # Re-run without retry_failed: nothing is sent, the failures are reported, not lost.
        server.reset_counters()
        results, summary = run_requests(backend, reqs, cache, progress=False)
        assert server.hits == 0 and summary["sent"] == 0
        assert summary["skipped_failed"] == 4 and summary["failed_total"] == 4
        assert [r.ok for r in results[10:]] == [False] * 4
        assert all(r.cached and "backend overloaded" in r.error for r in results[10:])

        # The server recovers; retry_failed sends exactly the failed ones.
        server.faults = None
        results, summary = run_requests(backend, reqs, cache, progress=False, retry_failed=True)
        assert summary["retried_failed"] == 4 and summary["sent"] == 4
        assert server.hits == 4 and all(r.ok for r in results)
        assert cache.counts() == {"ok": 14, "failed": 0}
        entry = cache.get(backend.cache_key(reqs[-1]))
        assert entry is not None and entry.total_attempts == 3 and entry.runs == 2


def test_success_is_never_replaced_by_a_failure(tmp_path):
    req = prompts(1)[0]
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        cache.put("k", req, ChatResult(text="good", attempts=1))
        cache.put("k", req, ChatResult(error="boom", error_kind="http_500", attempts=2))
        entry = cache.get("k")
        assert entry is not None and entry.ok and entry.result.text == "good"


def test_duplicates_are_sent_once(tmp_path):
    reqs = prompts(5) + prompts(5)
    with FakeChatServer() as server:
        results, summary = run_requests(backend_for(server), reqs, None, progress=False)
    assert server.hits == 5 and summary["duplicates"] == 5 and summary["unique"] == 5
    assert [r.text for r in results] == [f"echo: q{i}" for i in range(5)] * 2
    assert results[0] is not results[5]


def test_cache_is_safe_across_threads(tmp_path):
    req = prompts(1)[0]
    with ResponseCache(tmp_path / "c.sqlite") as cache:

        def writer(t: int) -> None:
            for i in range(50):
                cache.put(f"{t}-{i}", req, ChatResult(text=str(i), attempts=1))
                cache.get(f"{t}-{i}")

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(cache) == 200
    mode = __import__("sqlite3").connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode")
    assert mode.fetchone()[0] == "wal"


def test_not_a_cache_file(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CacheError, match="not a usable response cache"):
        ResponseCache(bad)


def test_run_requests_refuses_inside_a_running_loop(tmp_path):
    backend = make_backend("openai:m@http://127.0.0.1:9/v1")

    async def inside():
        run_requests(backend, prompts(1))

    with pytest.raises(RuntimeError, match="running event loop"):
        asyncio.run(inside())
