"""A loopback OpenAI-compatible chat-completions server with fault injection, for tests.

Built on `asyncio.start_server` with a minimal HTTP/1.1 keep-alive parser, so one core serves
thousands of requests per second (benchmarks use it too). Answers are deterministic:
`"echo: <last user message>"`, cut at `stop` strings or after `max_tokens` words, with word
counts as token usage. Faults are chosen per request by a callable, e.g. "the first two times a
request is seen, answer 429 with Retry-After: 0.1":

    with FakeChatServer(faults=first_n(2, Fault.http(429, retry_after="0.1"))) as server:
        backend = make_backend(f"openai:echo@{server.base_url}")

A scripted reply may be a `ScriptedReply` carrying top log-probabilities, returned in the OpenAI
shape (`choices[0].logprobs.content[i].top_logprobs`) when the request asks for logprobs; the
echo's own are its words, each certain (logprob 0).

Runs in a background thread with its own event loop (`start`/`stop`, or as a context manager),
or inside a running loop with `await server.serve()`.

The HTTP side is hardened because `alignkit llm serve` runs on it: the API key is checked and the
body size capped from the request head alone, before any body byte is read; malformed requests
get a 400 with an OpenAI-style error; what is kept per request (bodies, auth headers, per-request
counts for fault policies) is opt-in and bounded; binding a non-loopback address needs an API key
or an explicit `allow_unauthenticated=True`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alignkit.llm.backend import ChatBackend
from alignkit.llm.types import ChatRequest, ChatResult, TokenAlternatives, canonical_json

log = logging.getLogger(__name__)

# A chat request body larger than this is refused with 413 before it is read.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
# Request heads longer than this are refused with 431 (also the stream reader's buffer limit).
MAX_HEAD_BYTES = 64 * 1024
# After a refusal, input discarded before closing (see FakeChatServer._refuse).
LINGER_SECONDS = 1.0
LINGER_BYTES = 4 * 1024 * 1024
# Request bodies (and auth headers) kept for inspection when `record_bodies` is on.
DEFAULT_HISTORY = 10_000

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
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


@dataclasses.dataclass(frozen=True)
class ScriptedReply:
    """A scripted answer with the top log-probabilities to return when the request asks for
    logprobs: per generated token, (token text, logprob) pairs, best first (the first is the
    token reported as generated). They are sent as given, K per position, even when `stop` or
    `max_tokens` cut the text."""

    text: str
    top_logprobs: Sequence[Sequence[tuple[str, float]]] | None = None

    def __post_init__(self) -> None:
        if self.top_logprobs is not None and not all(self.top_logprobs):
            raise ValueError("every scripted logprob position needs at least one alternative")


def echo_top_logprobs(text: str) -> tuple[TokenAlternatives, ...]:
    """The echo's log-probabilities: its tokens are its words (space-led after the first), each
    the only alternative, with probability 1."""
    return tuple(((word if i == 0 else " " + word, 0.0),) for i, word in enumerate(text.split()))


def logprobs_block(top_logprobs: Sequence[Sequence[tuple[str, float]]], k: int) -> dict[str, Any]:
    """`choices[0].logprobs` in the OpenAI shape: each position's best alternative as the
    generated token, its first `k` alternatives as `top_logprobs`."""

    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}

    return {
        "content": [
            {**entry(*position[0]), "top_logprobs": [entry(*alt) for alt in position[:k]]}
            for position in top_logprobs
        ]
    }


def echo_completion(
    body: dict[str, Any], text: str | ScriptedReply | None = None
) -> dict[str, Any]:
    """The deterministic reply to a chat-completions request body (`text`: instead of the echo)."""
    scripted_logprobs = None
    if isinstance(text, ScriptedReply):
        text, scripted_logprobs = text.text, text.top_logprobs
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
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": finish,
    }
    if body.get("logprobs"):
        alternatives = echo_top_logprobs(text) if scripted_logprobs is None else scripted_logprobs
        choice["logprobs"] = logprobs_block(alternatives, int(body.get("top_logprobs") or 0))
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [choice],
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


class BadRequest(Exception):
    """A request the server answers with `status` and closes (or, for a bad body, keeps) on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class UnauthenticatedBindError(ValueError):
    """Serving on a non-loopback address without an API key, and not explicitly allowed."""


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses; `0.0.0.0`, `::`, '' and names are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, api_key: str | None, allow_unauthenticated: bool) -> str | None:
    """Refuse (UnauthenticatedBindError) to serve a non-loopback `host` without an API key unless
    `allow_unauthenticated`; returns the warning to show when it is allowed, else None."""
    if api_key or is_loopback(host):
        return None
    if not allow_unauthenticated:
        raise UnauthenticatedBindError(
            f"refusing to listen on {host or 'every interface'!r} without an API key: anyone who "
            "can reach this address could use the server. Set an API key (--api-key / api_key=), "
            "bind 127.0.0.1, or accept the risk with --allow-unauthenticated"
        )
    return (
        f"WARNING: serving on {host or 'every interface'!r} WITHOUT an API key "
        "(--allow-unauthenticated): anyone who can reach this address can use the server"
    )


def parse_request_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    """(method, target, lower-cased headers) of a request head ending in CRLF CRLF."""
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, f"malformed request line {lines[0][:80]!r}")
    method, target, _version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if not sep or not name:
            raise BadRequest(400, f"malformed header line {line[:80]!r}")
        if name == "content-length" and headers.get(name, value) != value:
            raise BadRequest(400, "conflicting Content-Length headers")
        headers[name] = value
    return method, target, headers


def body_length(method: str, headers: dict[str, str]) -> int:
    """The request body's declared length; BadRequest when it is missing (POST), not a
    non-negative decimal, or the body is chunked (not supported)."""
    if "transfer-encoding" in headers:
        raise BadRequest(400, "Transfer-Encoding bodies are not supported; send Content-Length")
    raw = headers.get("content-length")
    if raw is None:
        if method == "POST":
            raise BadRequest(400, "Content-Length required")
        return 0
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest(400, f"bad Content-Length {raw[:40]!r}")
    return int(raw) if len(raw) <= 18 else 1 << 62  # longer: too large anyway


def chat_body_problem(body: Any) -> str | None:
    """Why a decoded chat-completions body is unusable (wrong shape or types), or None."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return f"messages[{i}] must be an object with a string role"
        if "content" not in message:
            return f"messages[{i}] has no content"
    if not isinstance(body.get("model", ""), str):
        return "model must be a string"
    for name in ("max_tokens", "max_completion_tokens", "seed", "n"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return f"{name} must be an integer"
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"{name} must be a number"
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop
    if stops is not None and not (
        isinstance(stops, list) and all(isinstance(x, str) for x in stops)
    ):
        return "stop must be a string or a list of strings"
    return None


class EchoBackend(ChatBackend):
    """A ChatBackend that answers like FakeChatServer (the echo) without a model or a network:
    serves `ModelServer` in tests and benchmarks of the HTTP side."""

    kind = "echo"

    def __init__(self, model: str = "echo") -> None:
        super().__init__(model)

    async def _agenerate_one(self, request: ChatRequest) -> ChatResult:
        body = {"model": request.model or self.model, "messages": list(request.messages)}
        payload = echo_completion({**body, **request.params()})
        text = payload["choices"][0]["message"]["content"]
        wanted = request.top_logprobs_wanted
        return ChatResult(
            text=text,
            finish_reason=payload["choices"][0]["finish_reason"],
            prompt_tokens=payload["usage"]["prompt_tokens"],
            completion_tokens=payload["usage"]["completion_tokens"],
            attempts=1,
            top_logprobs=None
            if wanted is None
            else tuple(position[:wanted] for position in echo_top_logprobs(text)),
        )


class FakeChatServer:
    """An OpenAI-compatible server on 127.0.0.1 (ephemeral port) with fault injection.

    Routes: `POST /v1/chat/completions`, `GET /v1/models`, `GET /v1/stats` (counters).
    `delay` is added before every answer; `api_key` (when set) must come as a Bearer token on
    every route, or the answer is 401. Bodies over `max_body_bytes` are refused with 413.
    Counters: `hits` (valid chat requests received), `answered` (200 completions),
    `max_in_flight`, `refused` (requests answered 4xx from their head or body alone); `seen`
    (hits per request body digest) only while a fault policy needs it. With `record_bodies`, the
    last `history` request `bodies` and `auth_headers` are kept, and `prompts` counts their last
    user messages. `reply(body)` scripts answers: a string replaces the echo (still cut at `stop`
    / `max_tokens`), a ScriptedReply also carries its logprobs, None keeps the echo. A
    non-loopback `host` needs `api_key` or `allow_unauthenticated=True`
    (UnauthenticatedBindError otherwise).
    """

    def __init__(
        self,
        *,
        delay: float = 0.0,
        faults: FaultPolicy | None = None,
        api_key: str | None = None,
        record_bodies: bool = True,
        port: int = 0,
        reply: Callable[[dict[str, Any]], str | ScriptedReply | None] | None = None,
        host: str = "127.0.0.1",
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        history: int = DEFAULT_HISTORY,
        allow_unauthenticated: bool = False,
    ) -> None:
        api_key = api_key or None
        self.binding_warning = check_binding(host, api_key, allow_unauthenticated)
        if self.binding_warning:
            log.warning("%s", self.binding_warning)
        if max_body_bytes < 0 or history < 0:
            raise ValueError("max_body_bytes and history must be >= 0")
        self.host = host
        self.delay = delay
        self.reply = reply
        self.faults = faults
        self.api_key = api_key
        self._expected_auth = None if api_key is None else f"Bearer {api_key}".encode()
        self.record_bodies = record_bodies
        self.history = history
        self.max_body_bytes = max_body_bytes
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
            self.refused = 0
            self.seen: collections.Counter[bytes] = collections.Counter()
            self.bodies: collections.deque[dict[str, Any]] = collections.deque(maxlen=self.history)
            self.auth_headers: collections.deque[str | None] = collections.deque(
                maxlen=self.history
            )

    @property
    def prompts(self) -> collections.Counter[str]:
        """Recorded requests per last user message (needs `record_bodies`)."""
        with self._lock:
            return collections.Counter(last_user_content(body) for body in self.bodies)

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
                "refused": self.refused,
                "cpu_s": time.process_time(),
            }

    # -- running ---------------------------------------------------------------------------

    async def serve(self, on_ready: Callable[[int], None] | None = None) -> None:
        """Serve until `stop()` (or cancellation); `on_ready(port)` once listening."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(
            self._handle, self.host, self.port, backlog=1024, limit=MAX_HEAD_BYTES
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
        """Stop serving (again: a no-op)."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
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
                except asyncio.LimitOverrunError:
                    await self._refuse(reader, writer, BadRequest(431, "request head too long"))
                    return
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                # Everything that can refuse a request is decided from its head: the body of a
                # refused request is never read and the connection is closed after the answer.
                try:
                    method, target, headers = parse_request_head(head)
                    self._authorize(headers)
                    length = body_length(method, headers)
                    if length > self.max_body_bytes:
                        raise BadRequest(
                            413, f"request body of {length} bytes exceeds {self.max_body_bytes}"
                        )
                except BadRequest as refusal:
                    await self._refuse(reader, writer, refusal)
                    return
                if length and headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
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

    def _authorize(self, headers: dict[str, str]) -> None:
        if self._expected_auth is None:
            return
        given = headers.get("authorization", "").encode("latin-1")
        if not hmac.compare_digest(given, self._expected_auth):
            raise BadRequest(401, "Incorrect API key provided")

    async def _refuse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, refusal: BadRequest
    ) -> None:
        """Answer `refusal` and end the connection without reading the request's body.

        A lingering close: after the answer the write side is shut and what the client already
        sent is discarded (briefly, a little), since closing a socket with unread input resets
        the connection and may destroy the answer before the client reads it.
        """
        with self._lock:
            self.refused += 1
        writer.write(_reply(refusal.status, _error_body(refusal.status, str(refusal)), close=True))
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        deadline = time.monotonic() + LINGER_SECONDS
        discarded = 0
        try:
            while discarded < LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
                chunk = await asyncio.wait_for(reader.read(1 << 16), left)
                if not chunk:
                    break
                discarded += len(chunk)
        except (asyncio.TimeoutError, TimeoutError, ConnectionError):
            pass

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
        except (ValueError, RecursionError) as exc:
            with self._lock:
                self.refused += 1
            return _reply(400, _error_body(400, f"request body is not JSON: {exc}"))
        problem = chat_body_problem(body)
        if problem is not None:
            with self._lock:
                self.refused += 1
            return _reply(400, _error_body(400, problem))
        # Per-body counts only for a fault policy (it is given them), as digests.
        digest = b""
        if self.faults is not None:
            digest = hashlib.blake2b(canonical_json(body).encode(), digest_size=16).digest()
        with self._lock:
            self.hits += 1
            seen = self.seen[digest] if digest else 0
            if digest:
                self.seen[digest] += 1
            if self.record_bodies:
                self.bodies.append(body)
                self.auth_headers.append(headers.get("authorization"))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
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
            try:
                status, payload = await self.complete(body)
            except Exception as exc:  # a bug or backend failure: answer it, keep serving
                log.exception("chat completion failed")
                status, payload = 500, error_payload(500, f"{type(exc).__name__}: {exc}")
            if status == 200:
                with self._lock:
                    self.answered += 1
            return _reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        finally:
            with self._lock:
                self.in_flight -= 1


def _reply(
    status: int, body: bytes, extra: dict[str, str] | None = None, *, close: bool = False
) -> bytes:
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"Connection: {'close' if close else 'keep-alive'}",
    ]
    head.extend(f"{k}: {v}" for k, v in (extra or {}).items())
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


# Text the tiny test tokenizer learns its merges from: enough for multi-character tokens.
_TINY_CORPUS = (
    "A small model answers a question about numbers. Score: 7 out of 10.",
    "The user asks, the assistant replies; every reply ends with a short summary.",
    "Instruction: list three colours. Response: red, green and blue.",
)
_TINY_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|bos|>")
# ChatML-style turns; an open assistant turn when a generation prompt is asked for.
_TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def write_tiny_chat_model(
    folder: str | os.PathLike[str],
    *,
    bos: bool = False,
    chat_template: bool = True,
    context: int = 128,
    seed: int = 0,
) -> Path:
    """A random 2-layer Llama with a ~400-token byte-level BPE tokenizer and (unless
    `chat_template=False`) a chat template, saved in `folder`: loads in well under a second, for
    tests of local generation. With `bos`, the tokenizer adds `<|bos|>` in front of what it
    encodes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=list(_TINY_SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(_TINY_CORPUS, trainer)
    bos_id = raw.token_to_id("<|bos|>")
    if bos:
        raw.post_processor = processors.TemplateProcessing(
            single="<|bos|> $A", special_tokens=[("<|bos|>", bos_id)]
        )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        bos_token="<|bos|>",
    )
    if chat_template:
        tokenizer.chat_template = _TINY_CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    return write_tiny_llama(out, tokenizer, context=context, seed=seed)


def write_tiny_llama(
    folder: str | os.PathLike[str], tokenizer: Any, *, context: int = 128, seed: int = 0
) -> Path:
    """A random 2-layer Llama over `tokenizer`'s vocabulary with a `context`-token window,
    saved in `folder` (the tokenizer is not saved)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        initializer_range=0.5,  # peaked next-token distributions, unlike a near-uniform 0.02
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(out)
    return out
