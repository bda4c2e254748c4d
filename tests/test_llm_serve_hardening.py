"""`alignkit llm serve`'s HTTP side under hostile or broken clients, on loopback, with the echo
backend instead of a model: refusals decided from the request head (401, 413, 400) arrive without
the body being sent, malformed requests get OpenAI-style 400s, nothing per request is kept
without bound, non-loopback binding needs a key; and credentials in backend specs are redacted
wherever the LLM layer records them and kept out of cache keys."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from alignkit.cli.main import main as cli_main
from alignkit.llm import (
    BackendSpecError,
    ChatRequest,
    ResponseCache,
    make_backend,
    redact_spec,
    redact_text,
    redact_url,
    run_requests,
)
from alignkit.llm.openai import chat_completions_url
from alignkit.llm.serve import ModelServer
from alignkit.llm.testing import (
    EchoBackend,
    FakeChatServer,
    Fault,
    UnauthenticatedBindError,
    always,
    is_loopback,
)
from alignkit.llm.types import ChatResult

HUGE = 10**9  # a declared body length no test ever sends


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(EchoBackend(), api_key="sk-right") as srv:
        yield srv


def raw_exchange(port: int, head: str, body: bytes = b"", timeout: float = 5.0) -> bytes:
    """Send `head` (and `body`, if any), then read until the server closes; raises
    socket.timeout when the server waits for more (e.g. a body that never comes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1") + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def parse_reply(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, json.loads(body)


def chat_head(
    length: int | str | None, auth: str | None = "Bearer sk-right", extra: str = ""
) -> str:
    lines = ["POST /v1/chat/completions HTTP/1.1", "Host: 127.0.0.1"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if auth is not None:
        lines.append(f"Authorization: {auth}")
    return "\r\n".join(lines) + "\r\n" + extra + "\r\n"


def chat_body(prompt: str = "hello", **params: Any) -> bytes:
    return json.dumps(
        {"model": "echo", "messages": [{"role": "user", "content": prompt}], **params}
    ).encode()


def assert_openai_error(payload: Any, fragment: str) -> None:
    assert set(payload) == {"error"} and payload["error"]["type"] == "invalid_request_error"
    assert fragment in payload["error"]["message"]


# -- refusals from the head alone ------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, "Bearer sk-wrong", "Basic c2stcmlnaHQ=", "Bearer sk-righ"])
def test_wrong_or_missing_key_is_401_before_the_body(server: ModelServer, auth: str | None) -> None:
    status, headers, payload = parse_reply(raw_exchange(server.port, chat_head(HUGE, auth)))
    assert status == 401 and headers["connection"] == "close"
    assert "Incorrect API key" in payload["error"]["message"]
    assert server.hits == 0 and server.refused == 1


def test_oversized_body_is_413_before_the_body(server: ModelServer) -> None:
    status, _, payload = parse_reply(raw_exchange(server.port, chat_head(9 * 1024 * 1024)))
    assert status == 413 and "exceeds" in payload["error"]["message"]
    assert server.hits == 0


def test_body_limit_is_exact_and_configurable() -> None:
    body = chat_body("x")
    with ModelServer(EchoBackend(), max_body_bytes=len(body)) as srv:
        ok = parse_reply(
            raw_exchange(srv.port, chat_head(len(body), None, "Connection: close\r\n"), body)
        )
        assert ok[0] == 200 and ok[2]["choices"][0]["message"]["content"] == "echo: x"
        status, _, _ = parse_reply(raw_exchange(srv.port, chat_head(len(body) + 1, None)))
        assert status == 413


def test_the_key_is_checked_before_the_size(server: ModelServer) -> None:
    status, _, _ = parse_reply(raw_exchange(server.port, chat_head(HUGE, "Bearer nope")))
    assert status == 401  # an unauthenticated client learns nothing about the limits


def test_every_route_needs_the_key(server: ModelServer) -> None:
    for path in ("/v1/models", "/v1/stats"):
        raw = raw_exchange(server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
        assert parse_reply(raw)[0] == 401


@pytest.mark.parametrize(
    ("head", "fragment"),
    [
        (chat_head("abc"), "bad Content-Length"),
        (chat_head("-5"), "bad Content-Length"),
        (chat_head("1 2"), "bad Content-Length"),
        (chat_head("\u00b2"), "bad Content-Length"),  # a digit to str.isdigit, not to HTTP
        (chat_head(None), "Content-Length required"),
        (chat_head(5, extra="Content-Length: 6\r\n"), "conflicting Content-Length"),
        (chat_head(None, extra="Transfer-Encoding: chunked\r\n"), "Transfer-Encoding"),
        ("POST /v1/chat/completions\r\nContent-Length: 2\r\n\r\n", "malformed request line"),
        ("GARBAGE\r\n\r\n", "malformed request line"),
        (chat_head(2, extra="no colon here\r\n"), "malformed header line"),
    ],
)
def test_malformed_heads_are_400_not_a_dropped_connection(
    server: ModelServer, head: str, fragment: str
) -> None:
    status, headers, payload = parse_reply(raw_exchange(server.port, head))
    assert status == 400 and headers["connection"] == "close"
    assert_openai_error(payload, fragment)


def test_an_endless_head_is_431(server: ModelServer) -> None:
    head = chat_head(2, extra="X-Filler: " + "a" * 100_000 + "\r\n")
    assert parse_reply(raw_exchange(server.port, head))[0] == 431


def test_expect_100_continue_is_answered_before_the_body(server: ModelServer) -> None:
    body = chat_body("hi")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        head = chat_head(len(body), extra="Expect: 100-continue\r\nConnection: close\r\n")
        sock.sendall(head.encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    assert parse_reply(raw)[0] == 200


# -- malformed bodies: 400, and the connection keeps serving -----------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 100_000, "not JSON"),  # nesting deeper than the decoder's recursion limit
        (b"[1, 2]", "JSON object"),
        (b'{"messages": "hello"}', "messages must be a non-empty list"),
        (b'{"messages": []}', "messages must be a non-empty list"),
        (b'{"messages": [1]}', "messages[0]"),
        (b'{"messages": [{"role": "user"}]}', "has no content"),
        (chat_body(max_tokens="5"), "max_tokens must be an integer"),
        (chat_body(max_tokens=True), "max_tokens must be an integer"),
        (chat_body(temperature="hot"), "temperature must be a number"),
        (chat_body(stop=[1]), "stop must be"),
        (chat_body(model=3), "model must be a string"),
        (chat_body(stream=True), "streaming is not supported"),
    ],
)
def test_bad_bodies_are_400_and_the_connection_lives_on(
    server: ModelServer, body: bytes, fragment: str
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    headers = {"Authorization": "Bearer sk-right", "Content-Type": "application/json"}
    conn.request("POST", "/v1/chat/completions", body, headers)
    reply = conn.getresponse()
    assert reply.status == 400
    assert_openai_error(json.loads(reply.read()), fragment)
    conn.request("POST", "/v1/chat/completions", chat_body("again"), headers)
    reply = conn.getresponse()
    assert reply.status == 200 and json.loads(reply.read())["choices"][0]["message"]["content"]
    assert server.connections == 1
    conn.close()


def test_a_backend_that_raises_is_a_500_not_a_dead_connection(caplog) -> None:
    class Broken(EchoBackend):
        async def _agenerate_one(self, request: ChatRequest) -> ChatResult:
            raise RuntimeError("boom")

    with ModelServer(Broken()) as srv, caplog.at_level(logging.ERROR):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        for _ in range(2):
            conn.request("POST", "/v1/chat/completions", chat_body())
            reply = conn.getresponse()
            payload = json.loads(reply.read())
            assert reply.status == 500 and "boom" in payload["error"]["message"]
        conn.close()


def test_the_openai_client_gets_answers_and_a_clear_401(server: ModelServer) -> None:
    options = {"trust_env": False, "max_retries": 0}
    good = make_backend(f"openai:echo@{server.base_url}", api_key="sk-right", **options)
    assert good.generate([ChatRequest.from_prompt("ping")])[0].text == "echo: ping"
    bad = make_backend(f"openai:echo@{server.base_url}", api_key="sk-wrong", **options)
    result = bad.generate([ChatRequest.from_prompt("ping")])[0]
    assert result.error_kind == "http_401" and "Incorrect API key" in (result.error or "")


# -- bounded memory ----------------------------------------------------------------------------


def send_many(port: int, n: int, auth: str | None = None) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": auth} if auth else {}
    for i in range(n):
        conn.request("POST", "/v1/chat/completions", chat_body(f"prompt {i} " + "x" * 500), headers)
        reply = conn.getresponse()
        reply.read()
        assert reply.status == 200
    conn.close()


def test_model_server_keeps_nothing_per_request(server: ModelServer) -> None:
    send_many(server.port, 300, "Bearer sk-right")
    assert server.hits == server.answered == 300
    assert len(server.bodies) == len(server.auth_headers) == len(server.seen) == 0
    assert not server.prompts


def test_recorded_history_is_bounded() -> None:
    with FakeChatServer(history=50, api_key="sk-t") as srv:
        send_many(srv.port, 120, "Bearer sk-t")
        assert srv.hits == 120 and len(srv.bodies) == len(srv.auth_headers) == 50
        assert srv.bodies[-1]["messages"][0]["content"].startswith("prompt 119 ")
        assert sum(srv.prompts.values()) == 50 and srv.auth_headers[-1] == "Bearer sk-t"


def test_fault_counts_are_digests_not_bodies() -> None:
    with FakeChatServer(faults=always(Fault.slow(0.0)), record_bodies=False) as srv:
        send_many(srv.port, 40)
        assert len(srv.seen) == 40 and all(len(key) == 16 for key in srv.seen)


# -- binding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_non_loopback_without_a_key_is_refused_or_loudly_allowed(caplog) -> None:
    with pytest.raises(UnauthenticatedBindError, match="--allow-unauthenticated"):
        ModelServer(EchoBackend(), host="0.0.0.0")
    with pytest.raises(UnauthenticatedBindError):
        ModelServer(EchoBackend(), host="0.0.0.0", api_key="")  # an empty key is no key
    assert ModelServer(EchoBackend(), host="0.0.0.0", api_key="k").binding_warning is None
    with caplog.at_level(logging.WARNING):
        allowed = ModelServer(EchoBackend(), host="0.0.0.0", allow_unauthenticated=True)
    assert allowed.binding_warning and "WITHOUT an API key" in caplog.text


def test_cli_refuses_before_loading_a_model(capsys) -> None:
    # `transformers:/nonexistent` would fail to load: the refusal must come first.
    code = cli_main(["llm", "serve", "--host", "0.0.0.0", "--model", "transformers:/nonexistent"])
    assert code == 2 and "without an API key" in capsys.readouterr().err


# -- credentials in backend specs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "redacted"),
    [
        ("openai:m@http://user:sk-123@h:8/v1", "openai:m@http://user:***@h:8/v1"),
        ("openai:m@https://sk-123@h/v1", "openai:m@https://***@h/v1"),
        ("openai:m@https://h/v1?api_key=K&v=2", "openai:m@https://h/v1?api_key=***&v=2"),
        (
            "openai:m@https://h/v1?key=K#access_token=T",
            "openai:m@https://h/v1?key=***#access_token=***",
        ),
        ("openai:m@u:sk-123@h:8000", "openai:m@***@h:8000"),
        ("openai:meta-llama/Llama-3.1-8B@http://127.0.0.1:8000/v1", None),
        ("openai:llama3:8b@localhost:11434", None),
        ("transformers:/models/smol", None),
        ("transformers", None),
    ],
)
def test_redact_spec(spec: str, redacted: str | None) -> None:
    assert redact_spec(spec) == (redacted or spec)


def test_redact_text_masks_urls_tokens_and_known_secrets() -> None:
    text = (
        "HTTP 401 from https://h/v1?token=abc: Bearer sk-live-0123456789abcdef; "
        "Authorization: Basic dXNlcjpwYXNz (see http://u:pw@x/y). my-own-secret"
    )
    out = redact_text(text, ["my-own-secret"])
    for secret in ("abc", "sk-live", "dXNlcjpwYXNz", "pw@", "my-own-secret"):
        assert secret not in out
    assert out.startswith("HTTP 401 from https://h/v1?token=***: Bearer ***;")
    assert redact_url("http://[::1:80/v1") == "http://***"  # unparsable: nothing leaks


def echo_spec(server: FakeChatServer, credentials: str = "", query: str = "") -> str:
    return f"openai:echo@http://{credentials}127.0.0.1:{server.port}/v1{query}"


def test_url_credentials_go_as_basic_auth_not_into_the_url(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")  # the URL's own credentials win
    with FakeChatServer() as server:
        backend = make_backend(echo_spec(server, "alice:s3cret%2Fkey@"), trust_env=False)
        assert backend.generate([ChatRequest.from_prompt("hi")])[0].ok
        expected = base64.b64encode(b"alice:s3cret/key").decode()
        assert server.auth_headers[-1] == f"Basic {expected}"


def test_a_changed_key_keeps_the_cache_and_the_cache_holds_no_key(tmp_path) -> None:
    requests = [ChatRequest.from_prompt(f"q{i}") for i in range(5)]
    cache_path = tmp_path / "llm.sqlite"
    with FakeChatServer() as server:
        first = make_backend(echo_spec(server, "u:KEYONE111@", "?api_key=QKEY111"), trust_env=False)
        second = make_backend(
            echo_spec(server, "u:KEYTWO222@", "?api_key=QKEY222"), trust_env=False
        )
        assert [first.cache_key(r) for r in requests] == [second.cache_key(r) for r in requests]
        other_host = make_backend(f"openai:echo@http://u:KEYONE111@127.0.0.2:{server.port}/v1")
        assert other_host.cache_key(requests[0]) != first.cache_key(requests[0])
        with ResponseCache(cache_path) as cache:
            _, summary = run_requests(first, requests, cache, progress=False)
            assert summary["sent"] == 5
            _, summary = run_requests(second, requests, cache, progress=False)
            assert summary["from_cache"] == 5 and summary["sent"] == 0 and server.hits == 5
            assert {
                e.endpoint for e in cache.get_many(first.cache_key(r) for r in requests).values()
            } == {f"http://127.0.0.1:{server.port}/v1/chat/completions?api_key=***"}
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"KEYONE111" not in stored and b"QKEY111" not in stored and b"KEYTWO222" not in stored


def test_errors_reprs_and_descriptions_hold_no_credential() -> None:
    secret = "sk-verysecret-0123456789"
    basic = base64.b64encode(f"u:{secret}".encode()).decode()
    echoed = always(Fault.http(400, f"key {secret} and credentials {basic}"))
    with FakeChatServer(faults=echoed) as server:
        backend = make_backend(
            echo_spec(server, f"u:{secret}@", f"?token={secret}"), trust_env=False, max_retries=0
        )
        result = backend.generate([ChatRequest.from_prompt("hi")])[0]
    keyed = make_backend(echo_spec(server), api_key=secret, headers={"X-Api-Key": secret})
    shown = [
        result.error or "",
        repr(backend),
        repr(backend.config),
        json.dumps(backend.describe()),
        repr(keyed),
        repr(keyed.config),  # type: ignore[attr-defined]
    ]
    assert "HTTP 400 from http://127.0.0.1" in shown[0] and "token=***" in shown[0]
    for text in shown:
        assert secret not in text and basic not in text, text


def test_spec_errors_hold_no_credential() -> None:
    with pytest.raises(BackendSpecError) as raised:
        make_backend("nosuchkind:m@https://u:sk-hidden-1234@h/v1")
    assert "sk-hidden" not in str(raised.value) and "***" in str(raised.value)
    with pytest.raises(BackendSpecError) as raised:
        make_backend("openai:m@https://u:sk-hidden-1234@h/v1", base_url="https://u:other-9999@h/v2")
    assert "sk-hidden" not in str(raised.value) and "other-9999" not in str(raised.value)


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://h/v1?api_key=K", "https://h/v1/chat/completions?api_key=K"),
        ("https://h?api-version=1", "https://h/v1/chat/completions?api-version=1"),
        ("http://h:1/v1/chat/completions/?a=b", "http://h:1/v1/chat/completions?a=b"),
    ],
)
def test_query_strings_stay_at_the_end_of_the_url(base: str, url: str) -> None:
    assert chat_completions_url(base) == url
