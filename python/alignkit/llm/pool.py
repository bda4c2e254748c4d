"""A pool of OpenAI-compatible servers behind one backend: `openai:MODEL@URL,URL,...` or
`openai:MODEL@file:urls.txt`.

Each server (an endpoint) is an `OpenAIBackend` with its own connections and its own bound of
`concurrency` requests in flight. A request goes to the live endpoint with the fewest requests
in flight (ties in turn). A connection error, a timeout or a 5xx marks that endpoint down for a
cool-off (`pool_cooloff` seconds, doubled on each further failure in a row, at most
`pool_cooloff_max`; a success resets it) and the request moves on to another live endpoint at
once. When every endpoint is down, requests wait for the first to come back. Each endpoint may
fail a request once without charge (a failover); further failures count as they would against
one server, 1 + `max_retries` of them (429s and malformed replies included, retried with
backoff). A request fails - a ChatResult with `error`, never an exception - when the error is
permanent (400, 401, 404, ...) or when those are spent and every endpoint has failed it.

The cache identity of a pool (`endpoint`) is `pool:NAMESPACE` (`pool_namespace`, default ''),
never its URLs: the cache key is the same whichever server answered, and a run resumed with a
changed list of servers sends nothing already answered.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

from alignkit.llm.backend import BackendSpecError, ChatBackend
from alignkit.llm.openai import OpenAIBackend, OpenAIConfig, _Attempt, openai_config
from alignkit.llm.redact import redact_url
from alignkit.llm.types import ChatRequest, ChatResult

log = logging.getLogger(__name__)

POOL_OPTIONS = frozenset({"pool_namespace", "pool_cooloff", "pool_cooloff_max"})
FILE_PREFIX = "file:"


def is_pool_url(base_url: str | None) -> bool:
    """True for a base URL text naming several servers (`URL,URL`) or a file of them."""
    return base_url is not None and (base_url.startswith(FILE_PREFIX) or "," in base_url)


def read_url_file(path: str | os.PathLike[str]) -> list[str]:
    """Base URLs from a file: one per line; blank lines and `#` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BackendSpecError(f"pool file {str(path)!r} (file:PATH) does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BackendSpecError(f"pool file {str(path)!r} cannot be read: {exc}") from None
    urls = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        url = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if url:
            urls.append(url if "://" in url else "http://" + url)
    if not urls:
        raise BackendSpecError(f"pool file {str(path)!r} names no base URL")
    return urls


def pool_urls(base_url: str | None) -> list[str | None]:
    """The base URLs a spec's URL text names (`None`: the backend's default, for a pool of one
    given only `pool_namespace`)."""
    if base_url is None:
        return [None]
    if base_url.startswith(FILE_PREFIX):
        urls = read_url_file(base_url[len(FILE_PREFIX) :].strip())
    else:
        urls = [url.strip() for url in base_url.split(",")]
        if not all(urls):
            raise BackendSpecError("the list of base URLs has an empty entry (URL,URL,...)")
    seen: set[str] = set()
    for url in urls:
        if url.rstrip("/") in seen:
            raise BackendSpecError(f"base URL {redact_url(url)!r} is named twice in the pool")
        seen.add(url.rstrip("/"))
    return list(urls)


@dataclasses.dataclass
class EndpointUsage:
    """What one endpoint of a pool did: attempts sent to it (`requests`), answered, failed;
    `failovers`: requests it failed that then went to another endpoint; `downs`: times it was
    marked down."""

    requests: int = 0
    succeeded: int = 0
    failures: int = 0
    failovers: int = 0
    downs: int = 0


@dataclasses.dataclass
class _Endpoint:
    backend: OpenAIBackend
    in_flight: int = 0
    down_until: float = 0.0  # time.monotonic()
    strikes: int = 0  # marks down since its last success
    usage: EndpointUsage = dataclasses.field(default_factory=EndpointUsage)

    @property
    def limit(self) -> int:
        return self.backend.config.concurrency


def endpoint_failed(outcome: _Attempt) -> bool:
    """Whether a failed attempt says the server, not the request, is in trouble."""
    return outcome.kind in ("connection", "timeout") or (outcome.status or 0) >= 500


class OpenAIPoolBackend(ChatBackend):
    """Requests spread over several OpenAI-compatible servers; see the module docstring."""

    kind = "openai"

    def __init__(
        self,
        configs: list[OpenAIConfig],
        *,
        namespace: str = "",
        cooloff: float = 1.0,
        cooloff_max: float = 30.0,
    ) -> None:
        if not configs:
            raise BackendSpecError("a pool needs at least one base URL")
        super().__init__(configs[0].model)
        if any(c.model != self.model for c in configs):
            raise BackendSpecError("every endpoint of a pool serves the same model")
        if not 0 < cooloff <= cooloff_max:
            raise BackendSpecError("pool_cooloff must be > 0 and at most pool_cooloff_max")
        self.namespace = namespace
        self.cooloff = cooloff
        self.cooloff_max = cooloff_max
        self._endpoints = [_Endpoint(OpenAIBackend(config)) for config in configs]
        self._next = 0  # round-robin start among equally loaded endpoints
        # Requests waiting for any slot (woken one per freed slot), and the few that may only
        # use some endpoints (woken on every freed slot, so they never swallow a wake-up).
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._restricted: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def endpoint(self) -> str:
        """`pool:NAMESPACE`: the cache identity, the same for any list of servers."""
        return f"pool:{self.namespace}"

    @property
    def config(self) -> OpenAIConfig:
        """The settings every endpoint shares (the first endpoint's)."""
        return self._endpoints[0].backend.config

    @property
    def endpoints(self) -> list[str]:
        """The chat-completions URLs of the pool, credentials redacted."""
        return [e.backend.endpoint for e in self._endpoints]

    def endpoint_usage(self) -> dict[str, dict[str, int]]:
        return {e.backend.endpoint: dataclasses.asdict(e.usage) for e in self._endpoints}

    def describe(self) -> dict[str, Any]:
        cfg = self.config
        return {
            **super().describe(),
            "endpoints": self.endpoints,
            "concurrency_per_endpoint": cfg.concurrency,
            "timeout": cfg.timeout,
            "max_retries": cfg.max_retries,
            "usage_per_endpoint": self.endpoint_usage(),
        }

    async def aclose(self) -> None:
        for e in self._endpoints:
            await e.backend.aclose()

    # -- choosing an endpoint --------------------------------------------------------------

    def _pick(self, avoid: set[int], exclude: set[int]) -> int | None:
        """The live endpoint with a free slot and the fewest in flight, preferring those not in
        `avoid` and never one in `exclude`; ties go in turn. None when there is none."""
        now = time.monotonic()
        count = len(self._endpoints)
        best: tuple[bool, int, int] | None = None
        chosen = None
        for i, e in enumerate(self._endpoints):
            if e.down_until > now or e.in_flight >= e.limit or i in exclude:
                continue
            rank = (i in avoid, e.in_flight, (i - self._next) % count)
            if best is None or rank < best:
                best, chosen = rank, i
        return chosen

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _acquire(self, avoid: set[int], exclude: set[int]) -> int:
        """Take a slot on an endpoint (see `_pick`), waiting for one to free up or for an
        endpoint that is down to come back."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # futures belong to one loop; `generate` makes a new one
            self._loop, self._waiters, self._restricted = loop, collections.deque(), set()
        while True:
            index = self._pick(avoid, exclude)
            if index is not None:
                endpoint = self._endpoints[index]
                endpoint.in_flight += 1
                self._next = (index + 1) % len(self._endpoints)
                if self._pick(set(), set()) is not None:
                    self._wake_one()  # capacity left: let the next waiter look too
                return index
            # Woken by a freed slot, or when the next endpoint that is down comes back.
            now = time.monotonic()
            returns = [e.down_until - now for e in self._endpoints if e.down_until > now]
            timeout = min(returns) if returns else None
            waiter = loop.create_future()
            if exclude:
                self._restricted.add(waiter)
            else:
                self._waiters.append(waiter)
            try:
                await asyncio.wait({waiter}, timeout=timeout)
            except asyncio.CancelledError:
                if not exclude and waiter.done() and not waiter.cancelled():
                    self._wake_one()  # it was woken for a slot it will not take
                raise
            finally:
                waiter.cancel()  # no-op when done; otherwise skipped by _wake_one
                self._restricted.discard(waiter)

    def _release(self, index: int) -> None:
        self._endpoints[index].in_flight -= 1
        self._wake_one()
        for waiter in self._restricted:
            if not waiter.done():
                waiter.set_result(None)

    def _mark_down(self, index: int, retry_after: float | None) -> None:
        endpoint = self._endpoints[index]
        now = time.monotonic()
        if endpoint.down_until > now:
            return  # already cooling off: failures of requests sent before do not add up
        endpoint.strikes += 1
        endpoint.usage.downs += 1
        cooloff = min(self.cooloff_max, self.cooloff * 2 ** (endpoint.strikes - 1))
        if retry_after is not None:
            cooloff = max(cooloff, min(retry_after, endpoint.backend.config.retry_after_max))
        endpoint.down_until = now + cooloff
        log.warning(
            "endpoint %s marked down for %.1fs (failure %d in a row)",
            endpoint.backend.endpoint,
            cooloff,
            endpoint.strikes,
        )

    # -- one request -----------------------------------------------------------------------

    async def _agenerate_one(self, request: ChatRequest) -> ChatResult:
        cfg = self.config
        content = self._endpoints[0].backend.encode(request)
        started = time.perf_counter()
        attempts = retries = malformed = 0
        failed_on: set[int] = set()
        while True:
            # Retries spent: only an endpoint that has not failed this request is left to try.
            index = await self._acquire(
                failed_on, failed_on if retries > cfg.max_retries else set()
            )
            endpoint = self._endpoints[index]
            attempts += 1
            endpoint.usage.requests += 1
            try:
                outcome = await endpoint.backend.attempt_once(content)
            finally:
                self._release(index)
            if isinstance(outcome, ChatResult):
                endpoint.usage.succeeded += 1
                endpoint.strikes = 0
                return endpoint.backend.finish(outcome, request, attempts, started)
            endpoint.usage.failures += 1
            if outcome.kind == "malformed":
                malformed += 1
                outcome.retryable = malformed <= cfg.max_malformed_retries
            if not outcome.retryable:
                return endpoint.backend.give_up(outcome, attempts, started)
            first_failure_here = index not in failed_on
            failed_on.add(index)
            server_trouble = endpoint_failed(outcome)
            if server_trouble and first_failure_here:
                # A failover is free once per endpoint; it also marks the endpoint down only
                # then, so one request the servers cannot answer does not keep them all down.
                self._mark_down(index, outcome.retry_after)
            else:
                retries += 1
            if retries > cfg.max_retries and len(failed_on) == len(self._endpoints):
                where = f" on {len(failed_on)} endpoints"
                return endpoint.backend.give_up(outcome, attempts, started, where)
            if server_trouble:
                endpoint.usage.failovers += 1
                if first_failure_here:
                    continue  # straight to another live endpoint
            delay = endpoint.backend.backoff(max(retries, 1), outcome.retry_after)
            log.debug(
                "attempt %d on %s failed (%s); retrying in %.2fs",
                attempts,
                endpoint.backend.endpoint,
                endpoint.backend.redact(outcome.message),
                delay,
            )
            await asyncio.sleep(delay)


def make_pool(
    *,
    model: str,
    base_url: str | None = None,
    config: OpenAIConfig | None = None,
    pool_namespace: str = "",
    pool_cooloff: float = 1.0,
    pool_cooloff_max: float = 30.0,
    **options: Any,
) -> OpenAIPoolBackend:
    """An OpenAIPoolBackend from a spec's URL list or `file:PATH` and `make_backend` options;
    every endpoint gets the same options (`concurrency` is per endpoint)."""
    if not isinstance(pool_namespace, str):
        raise BackendSpecError(f"pool_namespace must be a string, not {pool_namespace!r}")
    configs = []
    urls = pool_urls(base_url)
    for number, url in enumerate(urls, 1):
        try:
            configs.append(openai_config(model, url, config, options))
        except BackendSpecError as exc:
            if len(urls) == 1:
                raise
            raise BackendSpecError(f"pool endpoint {number} of {len(urls)}: {exc}") from None
    return OpenAIPoolBackend(
        configs, namespace=pool_namespace, cooloff=pool_cooloff, cooloff_max=pool_cooloff_max
    )
