"""A loopback OpenAI-compatible chat-completions server with fault injection, for tests.

Built on `asyncio.start_server` with a minimal HTTP/1.1 keep-alive parser, so one core serves
thousands of requests per second (benchmarks use it too). Answers are deterministic:
`"echo: <last user message>"`, cut at `stop` strings or after `max_tokens` words, with word
counts as token usage. Faults are chosen per request by a callable, e.g. "the first two times a
request is seen, answer 429 with Retry-After: 0.1":

    with FakeChatServer(faults=first_n(2, Fault.http(429, retry_after="0.1"))) as server:
        backend = make_backend(f"openai:echo@{server.base_url}")

Runs in a background thread with its own event loop (`start`/`stop`, or as a context manager),
or inside a running loop with `await server.serve()`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from alignkit.llm.types import canonical_json

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclasses.dataclass(frozen=True)
class Fault:
    """What to do instead of a normal answer.

    kinds: `http` (status with an OpenAI-style error body, optional Retry-After), `slow` (answer
    normally after `delay` seconds), `drop` (close the connection without replying), `malformed`
    (200 with a body that is not JSON), `missing_fields` (200, JSON without `choices`).
    """

    kind: str
    status: int = 500
    message: str = ""
    retry_after: str | None = None
    delay: float = 0.0

    @classmethod
    def http(cls, status: int, message: str = "", retry_after: str | None = None) -> Fault:
        return cls("http", status=status, message=message, retry_after=retry_after)

    @classmethod
    def slow(cls, delay: float) -> Fault:
        return cls("slow", delay=delay)

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def malformed(cls) -> Fault:
        return cls("malformed")

    @classmethod
    def missing_fields(cls) -> Fault:
        return cls("missing_fields")


# faults(body, seen) -> Fault | None, where `seen` counts earlier hits of the same request body.
FaultPolicy = Callable[[dict[str, Any], int], "Fault | None"]


def first_n(
    n: int, fault: Fault, match: Callable[[dict[str, Any]], bool] | None = None
) -> FaultPolicy:
    """`fault` for the first `n` hits of each (matching) request, then normal answers."""

    def policy(body: dict[str, Any], seen: int) -> Fault | None:
        if seen < n and (match is None or match(body)):
            return fault
        return None

    return policy


def always(fault: Fault, match: Callable[[dict[str, Any]], bool] | None = None) -> FaultPolicy:
    """`fault` for every hit of each (matching) request."""
    return first_n(1 << 62, fault, match)


def last_user_content(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def echo_completion(body: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    """The deterministic reply to a chat-completions request body (`text`: instead of the echo)."""
    if text is None:
        text = "echo: " + last_user_content(body)
    finish = "stop"
    stops = body.get("stop") or []
    for stop in [stops] if isinstance(stops, str) else stops:
        cut = text.find(stop)
        if cut >= 0:
            text = text[:cut]
    max_tokens = body.get("max_tokens")
    words = text.split()
    if isinstance(max_tokens, int) and len(words) > max_tokens:
        text, finish = " ".join(words[:max_tokens]), "length"
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
    completion_tokens = len(text.split())
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def error_payload(status: int, message: str) -> dict[str, Any]:
    """An OpenAI-style error reply."""
    kind = "rate_limit_error" if status == 429 else "invalid_request_error"
    if status >= 500:
        kind = "server_error"
    return {"error": {"message": message or _REASONS.get(status, "error"), "type": kind}}


def _error_body(status: int, message: str) -> bytes:
    return json.dumps(error_payload(status, message)).encode()


class FakeChatServer:
    """An OpenAI-compatible server on 127.0.0.1 (ephemeral port) with fault injection.

    Routes: `POST /v1/chat/completions`, `GET /v1/models`, `GET /v1/stats` (counters).
    `delay` is added before every answer; `api_key` (when set) must come as a Bearer token, or
    the answer is 401. Counters: `hits` (chat requests received), `answered` (200 completions),
    `seen` (hits per request body), `prompts` (hits per last user message), `max_in_flight`,
    `bodies` (every request body, when `record_bodies`), `auth_headers`. `reply(body)` scripts
    answers: a string replaces the echo (still cut at `stop` / `max_tokens`), None keeps it.
    """

    def __init__(
        self,
        *,
        delay: float = 0.0,
        faults: FaultPolicy | None = None,
        api_key: str | None = None,
        record_bodies: bool = True,
        port: int = 0,
        reply: Callable[[dict[str, Any]], str | None] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.delay = delay
        self.reply = reply
        self.faults = faults
        self.api_key = api_key
        self.record_bodies = record_bodies
        self.port = port
        self._lock = threading.Lock()
        self.reset_counters()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def reset_counters(self) -> None:
        with self._lock:
            self.hits = 0
            self.answered = 0
            self.in_flight = 0
            self.max_in_flight = 0
            self.connections = 0
            self.seen: collections.Counter[str] = collections.Counter()
            self.prompts: collections.Counter[str] = collections.Counter()
            self.bodies: list[dict[str, Any]] = []
            self.auth_headers: list[str | None] = []

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "hits": self.hits,
                "answered": self.answered,
                "max_in_flight": self.max_in_flight,
                "connections": self.connections,
                "cpu_s": time.process_time(),
            }

    # -- running ---------------------------------------------------------------------------

    async def serve(self, on_ready: Callable[[int], None] | None = None) -> None:
        """Serve until `stop()` (or cancellation); `on_ready(port)` once listening."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(
            self._handle, self.host, self.port, backlog=1024, limit=1 << 20
        )
        self.port = server.sockets[0].getsockname()[1]
        if on_ready is not None:
            on_ready(self.port)
        try:
            await self._stop.wait()
        finally:
            # Close client connections too: handlers still sleeping (slow faults) must not hold
            # up shutdown (Server.wait_closed waits for them on Python 3.12+).
            server.close()
            for writer in list(self._writers):
                writer.transport.abort()

    def start(self) -> FakeChatServer:
        """Serve from a background thread; returns once the port is bound."""

        def run() -> None:
            try:
                asyncio.run(self.serve(lambda _port: self._ready.set()))
            except BaseException as exc:  # pragma: no cover - surfaced by start()
                self._error = exc
                self._ready.set()

        self._thread = threading.Thread(target=run, name="fake-chat-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"fake chat server failed to start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, _version = lines[0].split(" ", 2)
                except ValueError:
                    return
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                reply = await self._respond(method, target, headers, body)
                if reply is None:  # drop: close without a reply
                    writer.transport.abort()
                    return
                writer.write(reply)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # Shutdown with a request in flight: end quietly (asyncio's stream callback would
            # otherwise log the cancelled handler as an error).
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON reply) of a chat request that no fault replaced: the echo here;
        subclasses answer with a real model (`alignkit.llm.serve.ModelServer`)."""
        text = self.reply(body) if self.reply is not None else None
        return 200, echo_completion(body, text)

    def model_ids(self) -> list[str]:
        """What `GET /v1/models` lists."""
        return ["echo"]

    async def _respond(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> bytes | None:
        path = target.split("?", 1)[0]
        if method == "GET" and path in ("/stats", "/v1/stats"):
            return _reply(200, json.dumps(self.stats()).encode())
        if method == "GET" and path in ("/models", "/v1/models"):
            models = [
                {"id": name, "object": "model", "created": 0, "owned_by": "alignkit"}
                for name in self.model_ids()
            ]
            return _reply(200, json.dumps({"object": "list", "data": models}).encode())
        if method != "POST" or not path.endswith("/chat/completions"):
            return _reply(404, _error_body(404, f"no route for {method} {path}"))
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as exc:
            return _reply(400, _error_body(400, f"request body is not JSON: {exc}"))
        key = canonical_json(body)
        with self._lock:
            self.hits += 1
            seen = self.seen[key]
            self.seen[key] += 1
            self.prompts[last_user_content(body)] += 1
            if self.record_bodies:
                self.bodies.append(body)
            self.auth_headers.append(headers.get("authorization"))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.api_key is not None and headers.get("authorization") != (
                f"Bearer {self.api_key}"
            ):
                return _reply(401, _error_body(401, "Incorrect API key provided"))
            fault = self.faults(body, seen) if self.faults is not None else None
            if fault is not None:
                if fault.kind == "drop":
                    return None
                if fault.kind == "http":
                    extra = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
                    return _reply(fault.status, _error_body(fault.status, fault.message), extra)
                if fault.kind == "malformed":
                    return _reply(200, b'{"choices": [{"message": {"content": "trunc')
                if fault.kind == "missing_fields":
                    return _reply(
                        200, json.dumps({"id": "x", "object": "chat.completion"}).encode()
                    )
                if fault.kind == "slow":
                    await asyncio.sleep(fault.delay)
                else:
                    raise ValueError(f"unknown fault kind {fault.kind!r}")
            status, payload = await self.complete(body)
            if status == 200:
                with self._lock:
                    self.answered += 1
            return _reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        finally:
            with self._lock:
                self.in_flight -= 1


def _reply(status: int, body: bytes, extra: dict[str, str] | None = None) -> bytes:
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: keep-alive",
    ]
    head.extend(f"{k}: {v}" for k, v in (extra or {}).items())
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
