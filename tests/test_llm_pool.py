"""Pooled OpenAI-compatible endpoints against several real loopback servers: spreading, the
per-endpoint concurrency bound, failover, all-down errors, a pool-keyed response cache, and stage
fingerprints that name the pool, not its servers."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from pathlib import Path

import pytest
from test_llm_faults import assert_all_answered, prompts

from alignkit.llm import (
    BackendSpecError,
    ChatRequest,
    OpenAIBackend,
    ResponseCache,
    make_backend,
    parse_backend_spec,
    redact_spec,
    request_key,
    run_requests,
)
from alignkit.llm.pool import OpenAIPoolBackend
from alignkit.llm.testing import FakeChatServer, Fault, always


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@contextlib.contextmanager
def servers(*options: dict):
    """One FakeChatServer per options dict, all stopped on exit."""
    started = [FakeChatServer(**o).start() for o in options]
    try:
        yield started
    finally:
        for server in started:
            server.stop()


def pool(urls: list[str], **options) -> OpenAIPoolBackend:
    """A pool with quick retries and cool-offs, so the tests stay fast."""
    settings = {
        "concurrency": 2,
        "timeout": 2.0,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "pool_cooloff": 0.05,
        "pool_cooloff_max": 0.2,
        "trust_env": False,
        "jitter_seed": 0,
    }
    settings.update(options)
    backend = make_backend("openai:echo@" + ",".join(urls), **settings)
    assert isinstance(backend, OpenAIPoolBackend)
    return backend


def test_spec_lists_and_files_parse(tmp_path):
    spec = parse_backend_spec("openai:m@http://h1:8000/v1, h2:8000 ,https://h3/v1")
    assert spec.base_url == "http://h1:8000/v1,http://h2:8000,https://h3/v1"
    assert parse_backend_spec("openai:org/m:1@file:/some/urls.txt").base_url == (
        "file:/some/urls.txt"
    )
    listing = tmp_path / "urls.txt"
    listing.write_text(
        "# replicas of the teacher\n\nhttp://10.0.0.1:8000/v1\n10.0.0.2:8000  # scheme-less\n"
    )
    backend = make_backend(f"openai:m@file:{listing}", concurrency=4)
    assert isinstance(backend, OpenAIPoolBackend)
    assert backend.endpoints == [
        "http://10.0.0.1:8000/v1/chat/completions",
        "http://10.0.0.2:8000/v1/chat/completions",
    ]
    described = backend.describe()
    assert described["endpoint"] == "pool:" and described["concurrency_per_endpoint"] == 4
    # One URL stays the plain backend; a namespace alone makes a pool of one.
    assert isinstance(make_backend("openai:m@http://h1:8000/v1"), OpenAIBackend)
    named = make_backend("openai:m@http://h1:8000/v1", pool_namespace="teacher")
    assert isinstance(named, OpenAIPoolBackend) and named.endpoint == "pool:teacher"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("openai:m@http://h1/v1,", "empty entry"),
        ("openai:m@http://h1/v1,,http://h2/v1", "empty entry"),
        ("openai:m@http://h1/v1,ftp://h2/v1", "pool endpoint 2 of 2: base URL must be an http"),
        ("openai:m@http://h1/v1,http://h1/v1/", "named twice"),
        ("openai:m@file:/nonexistent/urls.txt", "does not exist"),
    ],
)
def test_bad_pool_specs_are_clear_errors(spec, message):
    with pytest.raises(BackendSpecError, match=message):
        make_backend(spec)


def test_pool_file_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    with pytest.raises(BackendSpecError, match="names no base URL"):
        make_backend(f"openai:m@file:{empty}")
    with pytest.raises(BackendSpecError, match="cannot be read"):
        make_backend(f"openai:m@file:{tmp_path}")
    with pytest.raises(BackendSpecError, match="pool_cooloff"):
        make_backend("openai:m@http://a/v1,http://b/v1", pool_cooloff=0)
    with pytest.raises(BackendSpecError, match="unknown option"):
        make_backend("openai:m@http://a/v1,http://b/v1", pool_size=3)


def test_credentials_of_every_pool_url_are_redacted():
    spec = "openai:m@http://h1:8000/v1,https://user:SECRETKEY@h2/v1?api_key=SECRET2,http://h3/v1"
    recorded = redact_spec(spec)
    assert "SECRET" not in recorded
    assert recorded == (
        "openai:m@http://h1:8000/v1,https://user:***@h2/v1?api_key=***,http://h3/v1"
    )
    backend = make_backend(spec)
    assert "SECRET" not in repr(backend) and "SECRET" not in str(backend.describe())


def test_cache_key_is_the_pool_identity_and_single_urls_keep_theirs():
    request = ChatRequest.from_prompt("hello", temperature=0.7, seed=3)
    single = make_backend("openai:m@http://127.0.0.1:9/v1")
    assert single.cache_key(request) == request_key(
        "openai", "http://127.0.0.1:9/v1/chat/completions", "m", request
    )
    one = make_backend("openai:m@http://10.0.0.1:8000/v1,http://10.0.0.2:8000/v1")
    other = make_backend("openai:m@http://10.9.9.9:8000/v1,http://10.0.0.2:8000/v1,10.0.0.3:1")
    assert one.cache_key(request) == other.cache_key(request)
    assert one.cache_key(request) == request_key("openai", "pool:", "m", request)
    named = make_backend("openai:m@http://10.0.0.1:8000/v1,h:1", pool_namespace="run-a")
    assert named.cache_key(request) == request_key("openai", "pool:run-a", "m", request)
    assert named.cache_key(request) != one.cache_key(request)
    # The model and the sampling parameters stay in the key.
    assert one.cache_key(ChatRequest.from_prompt("hello", temperature=0.2, seed=3)) != (
        one.cache_key(request)
    )
    m2 = make_backend("openai:m2@http://10.0.0.1:8000/v1,http://10.0.0.2:8000/v1")
    assert m2.cache_key(request) != one.cache_key(request)


def test_requests_spread_and_each_endpoint_keeps_its_concurrency():
    with servers({"delay": 0.05}, {"delay": 0.05}, {"delay": 0.05}) as fleet:
        backend = pool([s.base_url for s in fleet], concurrency=2)
        requests = prompts(30)
        results, summary = run_requests(backend, requests, progress=False)
        assert_all_answered(results, requests)
        assert [s.max_in_flight for s in fleet] == [2, 2, 2]
        assert all(s.hits >= 5 for s in fleet), [s.hits for s in fleet]
        assert sum(s.hits for s in fleet) == 30
        per_endpoint = summary["endpoints"]
        assert sorted(per_endpoint) == sorted(backend.endpoints)
        for server in fleet:
            counts = per_endpoint[server.base_url + "/chat/completions"]
            assert counts["requests"] == counts["succeeded"] == server.hits
            assert counts["failovers"] == counts["failures"] == 0


def test_one_server_dies_mid_run_and_its_requests_fail_over():
    with servers({"delay": 0.02}, {"delay": 0.02}, {"delay": 0.02}) as fleet:
        victim = fleet[1]

        def stop_victim() -> None:
            deadline = time.monotonic() + 10
            while victim.hits < 4 and time.monotonic() < deadline:
                time.sleep(0.002)
            victim.stop()

        killer = threading.Thread(target=stop_victim)
        killer.start()
        backend = pool([s.base_url for s in fleet], concurrency=2, max_retries=0)
        requests = prompts(90)
        try:
            results, summary = run_requests(backend, requests, progress=False)
        finally:
            killer.join()
        assert_all_answered(results, requests)
        dead = summary["endpoints"][victim.base_url + "/chat/completions"]
        assert dead["failovers"] >= 1 and dead["downs"] >= 1
        assert dead["failures"] >= dead["failovers"]
        # An answer cut off by the shutdown counts on the server only.
        assert dead["succeeded"] <= victim.answered < 90
        assert sum(c["succeeded"] for c in summary["endpoints"].values()) == 90
        # Failovers are not retries: each request succeeded within its budget of 0 retries.
        assert summary["failed"] == 0


@pytest.mark.parametrize(
    "trouble",
    [{"faults": always(Fault.http(503, "overloaded"))}, {"delay": 3.0}],
    ids=["5xx", "timeout"],
)
def test_an_endpoint_in_trouble_is_marked_down(trouble):
    with servers(trouble, {}) as (bad, good):
        backend = pool(
            [bad.base_url, good.base_url], timeout=0.3, pool_cooloff=10.0, pool_cooloff_max=10.0
        )
        requests = prompts(12)
        started = time.perf_counter()
        results = backend.generate(requests)
        assert_all_answered(results, requests)
        assert time.perf_counter() - started < 2.5
        usage = backend.endpoint_usage()
        assert usage[bad.base_url + "/chat/completions"]["downs"] == 1
        # Marked down after its first failures, it got no more requests.
        assert bad.hits <= 2 and good.answered == 12


@pytest.mark.parametrize("how", ["stopped", "dropping"])
def test_all_endpoints_down_give_clean_errors_without_hanging(how):
    drop = {"faults": always(Fault.drop())}
    with servers(drop, drop) as fleet:
        urls = [s.base_url for s in fleet]
        if how == "stopped":  # nothing listens on their ports any more
            for server in fleet:
                server.stop()
        backend = pool(urls, max_retries=2, connect_timeout=0.5, timeout=0.5)
        requests = prompts(6)
        started = time.perf_counter()
        results, summary = run_requests(backend, requests, progress=False)
    assert time.perf_counter() - started < 5
    assert summary["failed"] == 6 and summary["error_kinds"] == {"connection": 6}
    for result in results:
        assert not result.ok and result.error_kind == "connection"
        assert "on 2 endpoints" in result.error
        # A free failover per endpoint, then what one server gets: 1 attempt + 2 retries.
        assert result.attempts == 2 + 1 + 2


def test_a_permanent_error_fails_at_once_without_failover():
    with servers({"faults": always(Fault.http(400, "bad request"))}, {}) as (bad, good):
        backend = pool([bad.base_url, good.base_url], concurrency=1)
        [result] = backend.generate(prompts(1))
        assert not result.ok and result.error_kind == "http_400" and result.attempts == 1
        assert bad.hits + good.hits == 1


def test_resume_with_another_server_list_sends_nothing(tmp_path):
    with servers({}, {}, {}) as (first, second, third):
        requests = prompts(20)
        with ResponseCache(tmp_path / "cache.sqlite") as cache:
            backend = pool([first.base_url, second.base_url])
            results, summary = run_requests(backend, requests, cache, progress=False)
            assert_all_answered(results, requests)
            assert summary["sent"] == 20 and first.hits > 0 and second.hits > 0
            # Whichever replica answered, every row is keyed and labelled by the pool.
            entries = cache.get_many(backend.cache_key(r) for r in requests)
            assert len(entries) == 20
            assert {entry.endpoint for entry in entries.values()} == {"pool:"}
            for request in requests:
                key = request_key("openai", "pool:", "echo", request)
                assert entries[key].result.text == "echo: " + request.messages[-1]["content"]

            listing = tmp_path / "urls.txt"
            listing.write_text(f"{third.base_url}\n# {first.base_url} retired\n")
            moved = make_backend(f"openai:echo@file:{listing}", trust_env=False)
            results, summary = run_requests(moved, requests, cache, progress=False)
            assert_all_answered(results, requests)
            assert summary["sent"] == 0 and summary["from_cache"] == 20
            assert third.hits == 0

            # The namespace is part of the identity: another one is a new set of answers.
            named = pool([third.base_url], pool_namespace="second-run")
            _, summary = run_requests(named, requests[:3], cache, progress=False)
            assert summary["sent"] == 3 and third.hits == 3


def test_stage_fingerprint_names_the_pool_not_its_servers(tmp_path: Path) -> None:
    from alignkit.llm.backend import spec_identity
    from alignkit.stage import StageConfig, option

    @dataclasses.dataclass(frozen=True)
    class Cfg(StageConfig):
        llm: str = option("", help="spec", llm_spec=True)

    def fingerprint(spec: str) -> str:
        return Cfg(llm=spec).fingerprint()["llm"]

    first = fingerprint("openai:m@http://127.0.0.1:1/v1,http://127.0.0.1:2/v1")
    assert first == fingerprint("openai:m@127.0.0.1:3,127.0.0.1:4") == "openai:m@pool"
    urls = tmp_path / "urls.txt"
    assert fingerprint(f"openai:m@file:{urls}") == "openai:m@pool"
    assert fingerprint("openai:other@http://h:1/v1,http://h:2/v1") != first  # the model counts
    single = "openai:m@http://user:KEY@127.0.0.1:1/v1"  # one server: as before, redacted
    assert fingerprint(single) == spec_identity(single) == "openai:m@http://user:***@127.0.0.1:1/v1"
    assert Cfg(llm="openai:m@http://a:1/v1,http://b:2/v1").describe()["llm"].count("http") == 2
