"""The `openai` backend: any OpenAI-compatible `/v1/chat/completions` endpoint over HTTP.

vLLM, SGLang, llama.cpp's server, Ollama, TGI's OpenAI route and api.openai.com all speak it.
Requests run concurrently under a semaphore (the connection pool has the same size); transient
failures are retried with exponential backoff and full jitter, `Retry-After` honoured; permanent
ones (400, 401, 403, 404, 422, ...) fail at once with the server's message. A request never
raises: its ChatResult carries the error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import logging
import os
import random
import sys
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from alignkit.llm.backend import BackendSpecError, ChatBackend, register_backend
from alignkit.llm.types import ChatRequest, ChatResult

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Retried: request timeout, conflict, rate limit, and every server error.
RETRY_STATUSES = frozenset({408, 409, 429})

if sys.version_info >= (3, 11):
    _deadline = asyncio.timeout
else:  # pragma: no cover - Python 3.10

    class _deadline:  # noqa: N801 - mirrors asyncio.timeout
        """asyncio.timeout stand-in: cancel the current task after `delay` seconds."""

        def __init__(self, delay: float) -> None:
            self.delay = delay
            self.expired = False

        async def __aenter__(self) -> None:
            task = asyncio.current_task()
            assert task is not None

            def fire() -> None:
                self.expired = True
                task.cancel()

            self.handle = asyncio.get_running_loop().call_later(self.delay, fire)

        async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            self.handle.cancel()
            if self.expired and exc_type is asyncio.CancelledError:
                raise TimeoutError


def chat_completions_url(base_url: str) -> str:
    """`http://h:8000` and `http://h:8000/v1` -> `http://h:8000/v1/chat/completions`."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BackendSpecError(f"base URL must be an http(s) URL with a host, not {base_url!r}")
    if url.endswith("/chat/completions"):
        return url
    if not parts.path:
        url += "/v1"
    return url + "/chat/completions"


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (seconds or an HTTP-date)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def server_message(response: httpx.Response) -> str:
    """The error text a server sent: `error.message`, `detail`, `message`, or the raw body."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("error", "detail", "message"):
            if data.get(key):
                value = data[key]
                return value if isinstance(value, str) else json.dumps(value)[:500]
    text = response.text.strip()
    return text[:500] if text else "(empty body)"


class _Malformed(Exception):
    pass


def parse_completion(content: bytes) -> tuple[str, str | None, int, int]:
    """(text, finish_reason, prompt_tokens, completion_tokens) of a chat-completions reply."""
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise _Malformed(f"reply is not JSON: {exc}") from None
    try:
        choice = data["choices"][0]
        message = choice["message"]
        text = message["content"]
    except (KeyError, IndexError, TypeError):
        raise _Malformed("reply has no choices[0].message.content") from None
    if text is None:
        text = ""  # tool calls or refusals carry no content
    if not isinstance(text, str):
        raise _Malformed(f"choices[0].message.content is a {type(text).__name__}, not a string")
    finish = choice.get("finish_reason")
    usage = data.get("usage") or {}
    try:
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
    except (AttributeError, TypeError, ValueError):
        raise _Malformed("reply has an unreadable usage block") from None
    return text, finish, prompt_tokens, completion_tokens


@dataclasses.dataclass(frozen=True)
class OpenAIConfig:
    """Settings of the `openai` backend.

    `base_url` defaults to `$OPENAI_BASE_URL`, then api.openai.com; `api_key` to
    `$OPENAI_API_KEY` (local servers usually need none). `concurrency` bounds requests in flight
    and sizes the connection pool. `timeout` is the deadline of one attempt, connect to last byte.
    Retries (`max_retries` after the first attempt) wait `uniform(0, min(backoff_max,
    backoff_base * 2**n))`, or what `Retry-After` asks, at most `retry_after_max`. A 200 reply
    that is not a valid completion is retried at most `max_malformed_retries` times.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = None
    concurrency: int = 16
    timeout: float = 120.0
    connect_timeout: float = 10.0
    max_retries: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    max_malformed_retries: int = 2
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    trust_env: bool = True
    jitter_seed: int | None = None

    def __post_init__(self) -> None:
        if not self.model:
            raise BackendSpecError("the openai backend needs a model name")
        base = self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        object.__setattr__(self, "base_url", base)
        if self.api_key is None and os.environ.get("OPENAI_API_KEY"):
            object.__setattr__(self, "api_key", os.environ["OPENAI_API_KEY"])
        chat_completions_url(base)  # validates
        if self.concurrency < 1:
            raise BackendSpecError("concurrency must be >= 1")
        if self.timeout <= 0 or self.connect_timeout <= 0:
            raise BackendSpecError("timeout and connect_timeout must be > 0")
        if self.max_retries < 0 or self.max_malformed_retries < 0:
            raise BackendSpecError("max_retries and max_malformed_retries must be >= 0")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.retry_after_max < 0:
            raise BackendSpecError("backoff_base, backoff_max and retry_after_max must be >= 0")
        object.__setattr__(self, "headers", dict(self.headers))

    @property
    def url(self) -> str:
        assert self.base_url is not None
        return chat_completions_url(self.base_url)


@dataclasses.dataclass
class _LoopState:
    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    semaphore: asyncio.Semaphore


@dataclasses.dataclass
class _Attempt:
    """What one failed attempt tells: why, whether to retry, how long the server asks to wait."""

    kind: str
    message: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None


class OpenAIBackend(ChatBackend):
    """Chat completions from an OpenAI-compatible server; see OpenAIConfig for the settings."""

    kind = "openai"

    def __init__(self, config: OpenAIConfig) -> None:
        super().__init__(config.model)
        self.config = config
        self._url = config.url
        self._rng = random.Random(config.jitter_seed)
        self._state: _LoopState | None = None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        headers.update(config.headers)
        self._headers = headers

    @property
    def endpoint(self) -> str:
        return self._url

    def describe(self) -> dict[str, Any]:
        cfg = self.config
        return {
            **super().describe(),
            "concurrency": cfg.concurrency,
            "timeout": cfg.timeout,
            "max_retries": cfg.max_retries,
        }

    def _loop_state(self) -> _LoopState:
        """The client and semaphore of the running loop (asyncio objects are bound to one)."""
        loop = asyncio.get_running_loop()
        state = self._state
        if state is None or state.loop is not loop:
            cfg = self.config
            limits = httpx.Limits(
                max_connections=cfg.concurrency,
                max_keepalive_connections=cfg.concurrency,
                keepalive_expiry=30.0,
            )
            timeout = httpx.Timeout(cfg.timeout, connect=cfg.connect_timeout, pool=None)
            client = httpx.AsyncClient(
                limits=limits, timeout=timeout, headers=self._headers, trust_env=cfg.trust_env
            )
            state = self._state = _LoopState(loop, client, asyncio.Semaphore(cfg.concurrency))
        return state

    async def aclose(self) -> None:
        state = self._state
        if state is not None and state.loop is asyncio.get_running_loop():
            self._state = None
            await state.client.aclose()

    def backoff(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        cfg = self.config
        if retry_after is not None:
            return min(retry_after, cfg.retry_after_max)
        return self._rng.uniform(0.0, min(cfg.backoff_max, cfg.backoff_base * 2 ** (retry - 1)))

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": [dict(m) for m in request.messages],
        }
        body.update(request.params())
        return body

    async def _agenerate_one(self, request: ChatRequest) -> ChatResult:
        cfg = self.config
        state = self._loop_state()
        content = json.dumps(self.payload(request), ensure_ascii=False).encode("utf-8")
        started = time.perf_counter()
        attempts = malformed = 0
        while True:
            attempts += 1
            async with state.semaphore:
                outcome = await self._attempt(state.client, content)
            if isinstance(outcome, ChatResult):
                outcome.attempts = attempts
                outcome.latency_s = time.perf_counter() - started
                return outcome
            if outcome.kind == "malformed":
                malformed += 1
                outcome.retryable = malformed <= cfg.max_malformed_retries
            if not outcome.retryable or attempts > cfg.max_retries:
                message = outcome.message
                if outcome.retryable or outcome.kind == "malformed":
                    message = f"{message} (gave up after {attempts} attempts)"
                return ChatResult(
                    attempts=attempts,
                    error=message,
                    error_kind=outcome.kind,
                    status=outcome.status,
                    latency_s=time.perf_counter() - started,
                )
            delay = self.backoff(attempts, outcome.retry_after)
            log.debug("attempt %d failed (%s); retrying in %.2fs", attempts, outcome.message, delay)
            await asyncio.sleep(delay)

    async def _attempt(self, client: httpx.AsyncClient, content: bytes) -> ChatResult | _Attempt:
        cfg = self.config
        try:
            async with _deadline(cfg.timeout):
                response = await client.post(self._url, content=content)
        except (TimeoutError, asyncio.TimeoutError, httpx.TimeoutException):
            return _Attempt("timeout", f"no complete reply within {cfg.timeout:g}s", True)
        except httpx.UnsupportedProtocol as exc:
            return _Attempt("connection", f"unsupported URL {self._url}: {exc}", False)
        except httpx.TransportError as exc:
            detail = str(exc) or type(exc).__name__
            return _Attempt("connection", f"{type(exc).__name__}: {detail}", True)
        status = response.status_code
        if 200 <= status < 300:
            try:
                text, finish, prompt_tokens, completion_tokens = parse_completion(response.content)
            except _Malformed as exc:
                return _Attempt("malformed", str(exc), True, status)
            return ChatResult(
                text=text,
                finish_reason=finish,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                status=status,
            )
        message = f"HTTP {status} from {self._url}: {server_message(response)}"
        if status in RETRY_STATUSES or status >= 500:
            return _Attempt(
                f"http_{status}", message, True, status, parse_retry_after(response.headers)
            )
        return _Attempt(f"http_{status}", message, False, status)


def _factory(
    *, model: str, base_url: str | None = None, config: OpenAIConfig | None = None, **options: Any
) -> OpenAIBackend:
    if config is not None:
        if options:
            raise BackendSpecError("pass either config= or individual options, not both")
        return OpenAIBackend(
            dataclasses.replace(config, model=model, base_url=base_url or config.base_url)
        )
    known = {f.name for f in dataclasses.fields(OpenAIConfig)} - {"model", "base_url"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise BackendSpecError(
            f"unknown option(s) for the openai backend: {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return OpenAIBackend(OpenAIConfig(model=model, base_url=base_url, **options))


register_backend("openai", _factory)
