"""alignkit's lean HTTP/1.1 client (plain http endpoints) against scripted raw replies, and the
httpx path of the openai backend (HTTPS / proxies) against the fault-injecting server."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable

import pytest

from alignkit.llm import BackendSpecError, ChatRequest, make_backend
from alignkit.llm.http1 import Connection, Endpoint, HTTPProtocolError
from alignkit.llm.testing import FakeChatServer, Fault, first_n

COMPLETION = json.dumps(
    {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}], "usage": {}}
).encode()


def serve_once(replies: list[bytes], check: Callable[[bytes], None] | None = None):
    """A server that answers the n-th request on a connection with replies[n] (raw bytes)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reply in replies:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(
                next(
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
            )
            body = await reader.readexactly(length)
            if check is not None:
                check(head + body)
            writer.write(reply)
            await writer.drain()
        writer.close()

    return handle


async def post_all(replies: list[bytes], n: int, check=None) -> list:
    server = await asyncio.start_server(serve_once(replies, check), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    endpoint = Endpoint(f"http://127.0.0.1:{port}/v1/chat/completions", {"X-Test": "1"})
    connection = Connection(endpoint, 5.0, 4.0)
    out = []
    try:
        for _ in range(n):
            try:
                out.append(await connection.post(b'{"a": 1}'))
            except Exception as exc:  # noqa: BLE001 - the test inspects it
                out.append(exc)
    finally:
        connection.close()
        server.close()
    return out


def reply(head: str, body: bytes) -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body


def test_content_length_chunked_gzip_and_interim_replies() -> None:
    chunked = b"4\r\n" + COMPLETION[:4] + b"\r\n" + b"%x\r\n" % (len(COMPLETION) - 4)
    chunked += COMPLETION[4:] + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
    replies = [
        reply(f"HTTP/1.1 200 OK\nContent-Length: {len(COMPLETION)}", COMPLETION),
        reply("HTTP/1.1 200 OK\nTransfer-Encoding: chunked", chunked),
        reply("HTTP/1.1 100 Continue", b"")
        + reply(
            f"HTTP/1.1 200 OK\nContent-Encoding: gzip\nContent-Length: "
            f"{len(gzip.compress(COMPLETION))}",
            gzip.compress(COMPLETION),
        ),
        reply("HTTP/1.1 429 Too Many\nRetry-After: 3\nContent-Length: 2", b"{}"),
    ]
    seen: list[bytes] = []
    results = asyncio.run(post_all(replies, 4, seen.append))
    assert [r.status for r in results] == [200, 200, 200, 429]
    assert [r.content for r in results[:3]] == [COMPLETION] * 3
    assert results[3].headers["retry-after"] == "3"
    assert seen[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"X-Test: 1\r\n" in seen[0] and seen[0].endswith(b'Content-Length: 8\r\n\r\n{"a": 1}')


def test_close_delimited_and_reconnect() -> None:
    # read-to-close body, then the connection is re-opened for the next request
    replies = [reply("HTTP/1.1 200 OK\nConnection: close", COMPLETION)]
    results = asyncio.run(post_all(replies, 2))
    assert results[0].status == 200 and results[0].content == COMPLETION
    assert results[1].status == 200  # a new connection served by a fresh handler


@pytest.mark.parametrize(
    "raw,error",
    [
        (b"garbage\r\n\r\n", HTTPProtocolError),
        (reply("HTTP/1.1 200 OK\nContent-Length: 10", b"abc"), asyncio.IncompleteReadError),
        (
            reply("HTTP/1.1 200 OK\nContent-Encoding: br\nContent-Length: 1", b"x"),
            HTTPProtocolError,
        ),
        (b"", ConnectionResetError),
    ],
)
def test_broken_replies_raise(raw: bytes, error: type) -> None:
    [result] = asyncio.run(post_all([raw], 1))
    assert isinstance(result, error)


def test_http1_only_for_plain_http() -> None:
    with pytest.raises(BackendSpecError, match="plain http"):
        make_backend("openai:m@https://example.com/v1", http_client="http1")
    with pytest.raises(BackendSpecError, match="http_client"):
        make_backend("openai:m@http://127.0.0.1:1/v1", http_client="curl")


@pytest.mark.parametrize(
    "fault",
    [Fault.http(429, retry_after="0.05"), Fault.http(500), Fault.drop(), Fault.malformed()],
    ids=["429", "500", "drop", "malformed"],
)
def test_httpx_path_survives_faults(fault: Fault) -> None:
    with FakeChatServer(faults=first_n(1, fault)) as server:
        backend = make_backend(
            f"openai:m@{server.base_url}",
            http_client="httpx",
            trust_env=False,
            backoff_base=0.01,
            backoff_max=0.02,
        )
        requests = [ChatRequest.from_prompt(f"q{i}") for i in range(4)]
        results = backend.generate(requests)
    assert [r.text for r in results] == [f"echo: q{i}" for i in range(4)]
    assert all(r.attempts == 2 for r in results)
