"""The `openai` backend: any OpenAI-compatible `/v1/chat/completions` endpoint over HTTP.

vLLM, SGLang, llama.cpp's server, Ollama, TGI's OpenAI route and api.openai.com all speak it.
Requests run concurrently under a semaphore (the connection pool has the same size); transient
failures are retried with exponential backoff and full jitter, `Retry-After` honoured; permanent
ones (400, 401, 403, 404, 422, ...) fail at once with the server's message. A request never
raises: its ChatResult carries the error. Plain `http://` endpoints without a proxy go through
alignkit's lean HTTP/1.1 client (`alignkit.llm.http1`, a fifth of httpx's CPU per request);
HTTPS and proxies through httpx. Log-probabilities (`extra={"logprobs": True, "top_logprobs":
K}`) come back as `ChatResult.top_logprobs`. A request whose last message is the assistant's is
sent with `continue_final_message: true, add_generation_prompt: false`, the assistant-prefill
extension of vLLM and SGLang; the official OpenAI API does not support assistant prefill (it
does not know these fields). Credentials in the base URL (`https://user:KEY@host/v1`) are sent as
Basic auth unless an API key is given; the endpoint that is recorded (cache rows and keys,
errors, reprs) has every credential replaced by `***` (`alignkit.llm.redact`).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email.utils
import json
import logging
import os
import random
import ssl
import sys
import time
import urllib.request
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from alignkit.llm import http1
from alignkit.llm.backend import BackendSpecError, ChatBackend, register_backend
from alignkit.llm.redact import REDACTED, redact_text, redact_url, strip_userinfo, url_secrets
from alignkit.llm.types import ChatRequest, ChatResult, TokenAlternatives

log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Retried: request timeout, conflict, rate limit, and every server error.
RETRY_STATUSES = frozenset({408, 409, 429})


async def _with_deadline(coro: Coroutine[Any, Any, _T], seconds: float) -> _T:
    """`coro` cancelled after `seconds` (TimeoutError); asyncio.timeout where available."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await coro
    return await asyncio.wait_for(coro, seconds)  # pragma: no cover - Python 3.10


def chat_completions_url(base_url: str) -> str:
    """`http://h:8000` and `http://h:8000/v1` -> `http://h:8000/v1/chat/completions` (a query
    string, e.g. `?api-version=...`, stays at the end)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BackendSpecError(
            f"base URL must be an http(s) URL with a host, not {redact_url(base_url)!r}"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path = (path or "/v1") + "/chat/completions"
    return urlunsplit(parts._replace(path=path, fragment=""))


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


def server_message(content: bytes) -> str:
    """The error text a server sent: `error.message`, `detail`, `message`, or the raw body."""
    try:
        data = json.loads(content)
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
    text = content.decode("utf-8", "replace").strip()
    return text[:500] if text else "(empty body)"


class _Malformed(Exception):
    pass


def parse_completion(content: bytes) -> ChatResult:
    """The text, finish reason, token usage and (when present) top log-probabilities of a
    chat-completions reply, as a successful ChatResult (status, attempts and latency unset)."""
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
    return ChatResult(
        text=text,
        finish_reason=finish,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        top_logprobs=parse_top_logprobs(choice.get("logprobs")),
    )


def parse_top_logprobs(logprobs: Any) -> tuple[TokenAlternatives, ...] | None:
    """`choices[0].logprobs` -> per generated token, its (token, logprob) alternatives, best
    first; None when the reply has no logprobs block."""
    if logprobs is None:
        return None
    try:
        positions = logprobs["content"] or []
        out = []
        for position in positions:
            pairs = [(str(alt["token"]), float(alt["logprob"])) for alt in position["top_logprobs"]]
            pairs.sort(key=lambda pair: -pair[1])
            out.append(tuple(pairs))
    except (KeyError, TypeError, ValueError):
        raise _Malformed(
            "reply has an unreadable choices[0].logprobs block (expected content[i].top_logprobs"
            "[j].token/logprob)"
        ) from None
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class OpenAIConfig:
    """Settings of the `openai` backend.

    `base_url` defaults to `$OPENAI_BASE_URL`, then api.openai.com; `api_key` to
    `$OPENAI_API_KEY` (local servers usually need none) unless the URL carries credentials
    (`user:KEY@`, sent as Basic auth). The repr shows no credential. `proxy` (or, with
    `trust_env`, the environment's `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`) routes requests
    through a proxy.
    `concurrency` bounds requests in flight and sizes the connection pool. `timeout` is the
    deadline of one attempt, connect to last byte. Retries (`max_retries` after the first
    attempt) wait `uniform(0, min(backoff_max, backoff_base * 2**n))`, or what `Retry-After`
    asks, at most `retry_after_max`. A 200 reply that is not a valid completion is retried at
    most `max_malformed_retries` times. `http_client`: `http1` (alignkit's lean HTTP/1.1
    client, plain http only, no proxy), `httpx`, or `auto` (http1 where it applies).
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
    proxy: str | None = None
    jitter_seed: int | None = None
    http_client: str = "auto"

    def __post_init__(self) -> None:
        if not self.model:
            raise BackendSpecError("the openai backend needs a model name")
        base = self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        object.__setattr__(self, "base_url", base)
        url_has_credentials = "@" in urlsplit(base).netloc
        if self.api_key is None and os.environ.get("OPENAI_API_KEY") and not url_has_credentials:
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
        if self.http_client not in ("auto", "http1", "httpx"):
            raise BackendSpecError(
                f"http_client must be auto, http1 or httpx, not {self.http_client!r}"
            )

    @property
    def url(self) -> str:
        assert self.base_url is not None
        return chat_completions_url(self.base_url)

    def __repr__(self) -> str:
        shown = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in ("base_url", "proxy") and value:
                value = redact_url(value)
            elif field.name == "api_key" and value:
                value = REDACTED
            elif field.name == "headers":
                value = {k: REDACTED if _is_secret_header(k) else v for k, v in value.items()}
            shown.append(f"{field.name}={value!r}")
        return f"OpenAIConfig({', '.join(shown)})"


def _is_secret_header(name: str) -> bool:
    lowered = name.lower()
    secret_names = ("authorization", "proxy-authorization", "cookie")
    return lowered in secret_names or "key" in lowered or "token" in lowered


# Idle connections are dropped before uvicorn's (vLLM, SGLang) 5 s keep-alive closes them under
# us; a race that remains is a retried connection error.
KEEPALIVE_EXPIRY = 4.0

# httpcore's pool rescans every (queued request, connection) pair on each event and probes each
# idle connection through anyio, which costs O(connections^2) per request: at 64 connections in
# one pool that, not the network, limits throughput. So each transport holds this many
# connections and requests are spread over the transports (measured best at 1).
POOL_SHARD_SIZE = 1


def env_proxy(url: str) -> str | None:
    """The proxy the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, ...) sets for `url`."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


@dataclasses.dataclass
class _LoopState:
    """The HTTP transports of one event loop and the slots that bound concurrency.

    `slots` holds one token per allowed request in flight, each naming the transport shard it
    may use; a shard gets as many tokens as it has connections, so no request ever waits inside
    httpx's pool and the total in flight never exceeds `concurrency`.
    """

    loop: asyncio.AbstractEventLoop
    transports: list[Any]  # httpx.AsyncHTTPTransport, or http1.Connection
    slots: asyncio.Queue[int]


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
        # Userinfo is not part of what is connected to; it travels as a header (below).
        self._url = strip_userinfo(config.url)
        self._endpoint = redact_url(self._url)
        self._secrets = url_secrets(config.url) + [
            v for k, v in config.headers.items() if _is_secret_header(k)
        ]
        if config.api_key:
            self._secrets.append(config.api_key)
        self._rng = random.Random(config.jitter_seed)
        self._state: _LoopState | None = None
        self._ssl: ssl.SSLContext | None = None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        else:
            parts = urlsplit(config.url)
            if "@" in parts.netloc:
                userinfo = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
                basic = base64.b64encode(userinfo.encode()).decode()
                headers["Authorization"] = f"Basic {basic}"
                self._secrets.append(basic)
        headers.update(config.headers)
        # Parsed once: httpx copies a URL or Headers object cheaply but re-parses strings.
        self._headers = httpx.Headers(headers)
        self._http_url = httpx.URL(self._url)
        # The transports are used directly (the client layer's cookies, auth and redirect
        # handling cost ~20% of the CPU per request and do nothing here), so the environment's
        # proxy settings, which httpx.AsyncClient would apply, are resolved here.
        self._proxy = config.proxy or (env_proxy(self._url) if config.trust_env else None)
        self._timeouts = httpx.Timeout(
            config.timeout, connect=config.connect_timeout, pool=None
        ).as_dict()
        plain = urlsplit(self._url).scheme == "http" and not self._proxy
        if config.http_client == "http1" and not plain:
            raise BackendSpecError(
                "http_client='http1' needs a plain http:// URL without a proxy; use 'auto'"
            )
        self._endpoint1 = (
            http1.Endpoint(self._url, dict(self._headers.items()))
            if plain and config.http_client != "httpx"
            else None
        )

    @property
    def endpoint(self) -> str:
        """The chat-completions URL with credentials replaced by `***` (also the cache key's)."""
        return self._endpoint

    def redact(self, text: str) -> str:
        """`text` with this backend's credentials and any URL credentials masked."""
        return redact_text(text, self._secrets)

    def describe(self) -> dict[str, Any]:
        cfg = self.config
        return {
            **super().describe(),
            "concurrency": cfg.concurrency,
            "timeout": cfg.timeout,
            "max_retries": cfg.max_retries,
        }

    def _loop_state(self) -> _LoopState:
        """The transports and slots of the running loop (asyncio objects are bound to one)."""
        loop = asyncio.get_running_loop()
        state = self._state
        if state is None or state.loop is not loop:
            cfg = self.config
            per_shard = 1 if self._endpoint1 is not None else POOL_SHARD_SIZE
            shards = -(-cfg.concurrency // per_shard)
            slots: asyncio.Queue[int] = asyncio.Queue()
            transports: list[Any] = []
            for shard in range(shards):
                size = len(range(shard, cfg.concurrency, shards))
                if self._endpoint1 is not None:
                    transports.append(
                        http1.Connection(self._endpoint1, cfg.connect_timeout, KEEPALIVE_EXPIRY)
                    )
                    continue
                limits = httpx.Limits(
                    max_connections=size,
                    max_keepalive_connections=size,
                    keepalive_expiry=KEEPALIVE_EXPIRY,
                )
                transports.append(
                    httpx.AsyncHTTPTransport(
                        verify=self._ssl_context(),
                        limits=limits,
                        trust_env=cfg.trust_env,
                        proxy=self._proxy,
                    )
                )
            for i in range(cfg.concurrency):
                slots.put_nowait(i % shards)
            state = self._state = _LoopState(loop, transports, slots)
        return state

    async def aclose(self) -> None:
        state = self._state
        if state is not None and state.loop is asyncio.get_running_loop():
            self._state = None
            for transport in state.transports:
                if isinstance(transport, http1.Connection):
                    transport.close()
                else:
                    await transport.aclose()

    def _ssl_context(self) -> ssl.SSLContext:
        # Loading the CA bundle takes ~20 ms; one context serves every shard and loop.
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(trust_env=self.config.trust_env)
        return self._ssl

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
        if request.continues_final_message:
            # vLLM's and SGLang's extension (api.openai.com rejects it): continue the final
            # assistant message instead of opening a new turn. `extra` may still override.
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        body.update(request.params())
        return body

    def encode(self, request: ChatRequest) -> bytes:
        """The request body as sent."""
        return json.dumps(self.payload(request), ensure_ascii=False).encode("utf-8")

    async def attempt_once(self, content: bytes) -> ChatResult | _Attempt:
        """One HTTP attempt with body `content`, within this backend's concurrency bound."""
        state = self._loop_state()
        shard = await state.slots.get()
        try:
            return await self._attempt(state.transports[shard], content)
        finally:
            state.slots.put_nowait(shard)

    def finish(
        self, result: ChatResult, request: ChatRequest, attempts: int, started: float
    ) -> ChatResult:
        """A successful reply as the request's result (or an `unsupported` error when the
        request asked for logprobs and the reply has none)."""
        result.attempts = attempts
        result.latency_s = time.perf_counter() - started
        if result.top_logprobs is None and request.top_logprobs_wanted is not None:
            return ChatResult(
                attempts=attempts,
                error=f"{self.endpoint} answered without the logprobs the request asked "
                "for (the server does not support them)",
                error_kind="unsupported",
                status=result.status,
                latency_s=result.latency_s,
            )
        return result

    def give_up(
        self, outcome: _Attempt, attempts: int, started: float, where: str = ""
    ) -> ChatResult:
        """The failed result after the last attempt, `outcome` (credentials masked)."""
        message = self.redact(outcome.message)
        if outcome.retryable or outcome.kind == "malformed":
            message = f"{message} (gave up after {attempts} attempts{where})"
        return ChatResult(
            attempts=attempts,
            error=message,
            error_kind=outcome.kind,
            status=outcome.status,
            latency_s=time.perf_counter() - started,
        )

    async def _agenerate_one(self, request: ChatRequest) -> ChatResult:
        cfg = self.config
        content = self.encode(request)
        started = time.perf_counter()
        attempts = malformed = 0
        while True:
            attempts += 1
            outcome = await self.attempt_once(content)
            if isinstance(outcome, ChatResult):
                return self.finish(outcome, request, attempts, started)
            if outcome.kind == "malformed":
                malformed += 1
                outcome.retryable = malformed <= cfg.max_malformed_retries
            if not outcome.retryable or attempts > cfg.max_retries:
                return self.give_up(outcome, attempts, started)
            delay = self.backoff(attempts, outcome.retry_after)
            log.debug(
                "attempt %d failed (%s); retrying in %.2fs",
                attempts,
                self.redact(outcome.message),
                delay,
            )
            await asyncio.sleep(delay)

    async def _attempt(self, transport: Any, content: bytes) -> ChatResult | _Attempt:
        if isinstance(transport, http1.Connection):
            return await self._attempt_http1(transport, content)
        return await self._attempt_httpx(transport, content)

    async def _attempt_http1(
        self, connection: http1.Connection, content: bytes
    ) -> ChatResult | _Attempt:
        cfg = self.config
        try:
            reply = await _with_deadline(connection.post(content), cfg.timeout)
        except (TimeoutError, asyncio.TimeoutError):
            return _Attempt("timeout", f"no complete reply within {cfg.timeout:g}s", True)
        except http1.HTTPProtocolError as exc:
            return _Attempt("malformed", f"HTTPProtocolError: {exc}", True)
        except (OSError, asyncio.IncompleteReadError) as exc:
            detail = str(exc) or type(exc).__name__
            return _Attempt("connection", f"{type(exc).__name__}: {detail}", True)
        return self._outcome(reply.status, reply.headers, reply.content)

    async def _attempt_httpx(
        self, transport: httpx.AsyncHTTPTransport, content: bytes
    ) -> ChatResult | _Attempt:
        cfg = self.config
        request = httpx.Request(
            "POST",
            self._http_url,
            headers=self._headers,
            content=content,
            extensions={"timeout": self._timeouts},
        )
        try:
            response = await _with_deadline(_send(transport, request), cfg.timeout)
        except (TimeoutError, asyncio.TimeoutError, httpx.TimeoutException):
            return _Attempt("timeout", f"no complete reply within {cfg.timeout:g}s", True)
        except httpx.UnsupportedProtocol as exc:
            return _Attempt("connection", f"unsupported URL {self.endpoint}: {exc}", False)
        except httpx.TransportError as exc:
            detail = str(exc) or type(exc).__name__
            return _Attempt("connection", f"{type(exc).__name__}: {detail}", True)
        except httpx.HTTPError as exc:  # e.g. a body that does not decode (Content-Encoding)
            return _Attempt("malformed", f"{type(exc).__name__}: {exc}", True)
        return self._outcome(response.status_code, response.headers, response.content)

    def _outcome(
        self, status: int, headers: Mapping[str, str], content: bytes
    ) -> ChatResult | _Attempt:
        """A reply's result, or why its attempt failed."""
        if 200 <= status < 300:
            try:
                result = parse_completion(content)
            except _Malformed as exc:
                return _Attempt("malformed", str(exc), True, status)
            result.status = status
            return result
        message = f"HTTP {status} from {self.endpoint}: {server_message(content)}"
        if status in RETRY_STATUSES or status >= 500:
            return _Attempt(f"http_{status}", message, True, status, parse_retry_after(headers))
        return _Attempt(f"http_{status}", message, False, status)


async def _send(transport: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


def openai_config(
    model: str, base_url: str | None, config: OpenAIConfig | None, options: Mapping[str, Any]
) -> OpenAIConfig:
    """The OpenAIConfig of `make_backend`'s arguments: `config=` or individual options."""
    if config is not None:
        if options:
            raise BackendSpecError("pass either config= or individual options, not both")
        return dataclasses.replace(config, model=model, base_url=base_url or config.base_url)
    known = {f.name for f in dataclasses.fields(OpenAIConfig)} - {"model", "base_url"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise BackendSpecError(
            f"unknown option(s) for the openai backend: {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))} (pools also: pool_namespace, pool_cooloff, "
            "pool_cooloff_max)"
        )
    return OpenAIConfig(model=model, base_url=base_url, **options)


def _factory(
    *, model: str, base_url: str | None = None, config: OpenAIConfig | None = None, **options: Any
) -> ChatBackend:
    # Imported here: the pool module builds on this one.
    from alignkit.llm.pool import POOL_OPTIONS, is_pool_url, make_pool

    if is_pool_url(base_url) or POOL_OPTIONS & set(options):
        return make_pool(model=model, base_url=base_url, config=config, **options)
    return OpenAIBackend(openai_config(model, base_url, config, options))


register_backend("openai", _factory)
