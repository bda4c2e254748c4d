"""The backend interface, the backend registry and `make_backend("kind:MODEL@URL")`."""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from alignkit.llm.redact import redact_spec, redact_url
from alignkit.llm.types import ChatRequest, ChatResult, UsageTotals, request_key

ResultCallback = Callable[[int, ChatResult], None]


class BackendSpecError(ValueError):
    """A backend spec or option is invalid (unknown kind, missing model, bad URL, ...)."""


def ensure_no_running_loop(what: str) -> None:
    """Raise a clear error when a blocking wrapper is called from inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{what}() cannot be called from a running event loop (async code, Jupyter): "
        f"await the async variant instead (agenerate / arun_requests)"
    )


class ChatBackend(abc.ABC):
    """Something that turns ChatRequests into ChatResults.

    Subclasses implement `_agenerate_one`, which must not raise for a failed request: it returns a
    ChatResult with `error` set. `agenerate` runs a batch concurrently (the backend bounds its own
    concurrency) and returns results in input order; `generate` is its blocking wrapper.
    """

    kind: ClassVar[str] = ""

    def __init__(self, model: str) -> None:
        if not model:
            raise BackendSpecError(f"{type(self).__name__} needs a model name")
        self.model = model
        self.usage = UsageTotals()
        self._usage_lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """Where requests go, credentials redacted (part of the cache key, so a changed key keeps
        the cache); backends without one return ''."""
        return ""

    def __repr__(self) -> str:
        where = f" @ {self.endpoint}" if self.endpoint else ""
        return f"<{type(self).__name__} {self.kind}:{self.model}{where}>"

    def cache_key(self, request: ChatRequest) -> str:
        return request_key(self.kind, self.endpoint, request.model or self.model, request)

    @abc.abstractmethod
    async def _agenerate_one(self, request: ChatRequest) -> ChatResult:
        """Make one completion (with whatever retries the backend does); never raise for it."""

    async def agenerate_one(self, request: ChatRequest) -> ChatResult:
        result = await self._agenerate_one(request)
        with self._usage_lock:
            self.usage.add(result)
        return result

    async def agenerate(
        self, requests: Sequence[ChatRequest], on_result: ResultCallback | None = None
    ) -> list[ChatResult]:
        """Results in input order; `on_result(index, result)` is called as each one finishes."""

        async def one(index: int, request: ChatRequest) -> ChatResult:
            result = await self.agenerate_one(request)
            if on_result is not None:
                on_result(index, result)
            return result

        return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))

    def generate(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        """Blocking `agenerate`; only where no event loop is running in this thread."""
        ensure_no_running_loop("ChatBackend.generate")

        async def main() -> list[ChatResult]:
            try:
                return await self.agenerate(requests)
            finally:
                await self.aclose()

        return asyncio.run(main())

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections held for the running event loop."""

    async def __aenter__(self) -> ChatBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model, "endpoint": self.endpoint}

    def endpoint_usage(self) -> dict[str, dict[str, int]]:
        """Counts per server of a backend that spreads requests over several; {} otherwise."""
        return {}


@dataclasses.dataclass(frozen=True)
class BackendSpec:
    """A parsed `kind:MODEL[@BASE_URL]`."""

    kind: str
    model: str
    base_url: str | None = None


BackendFactory = Callable[..., ChatBackend]
_REGISTRY: dict[str, BackendFactory] = {}
_DEFAULT_MODELS: dict[str, str] = {}


def register_backend(
    kind: str, factory: BackendFactory, *, default_model: str | None = None
) -> None:
    """Make `kind:...` specs build backends with `factory(model=..., base_url=..., **options)`.

    Local backends (`transformers`) register here too; the spec's `@...` part is theirs to
    interpret or to reject. With `default_model`, the bare spec `kind` means `kind:default_model`.
    """
    if not kind.isidentifier():
        raise ValueError(f"backend kind must be an identifier, not {kind!r}")
    _REGISTRY[kind] = factory
    if default_model is not None:
        _DEFAULT_MODELS[kind] = default_model


def backend_kinds() -> list[str]:
    return sorted(_REGISTRY)


def parse_backend_spec(spec: str) -> BackendSpec:
    """`openai:MODEL`, `openai:MODEL@http://host:port/v1` or `openai:MODEL@host:port`.

    Model names may contain `/` and `:` (`meta-llama/Llama-3.1-8B`, `llama3:8b`); the base URL
    starts at the last `@` (the first `@http://`, `@https://` or `@file:` when there is one). A
    kind with a default model may be given alone (`transformers` = the embedded default model).
    A pool of servers is a comma-separated list of base URLs (each normalised like a single one)
    or `file:PATH` (a file of base URLs, read by the backend); both stay in `base_url` as text.
    """
    _load_builtin_backends()
    kind, sep, rest = spec.partition(":")
    kind = kind.strip()
    if not sep and kind in _DEFAULT_MODELS:
        return BackendSpec(kind=kind, model=_DEFAULT_MODELS[kind])
    if not sep or not kind:
        raise BackendSpecError(
            f"backend spec {redact_spec(spec)!r} must look like KIND:MODEL[@BASE_URL], e.g. "
            "openai:gpt-4o-mini, openai:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1, "
            "openai:MODEL@http://h1:8000/v1,http://h2:8000/v1 (a pool), openai:MODEL@file:urls.txt "
            "or transformers (the embedded default model)"
        )
    base_url: str | None = None
    starts = (rest.find(marker) for marker in ("@http://", "@https://", "@file:"))
    at = min((i for i in starts if i >= 0), default=-1)
    if at < 0 and "@" in rest:
        at = rest.rfind("@")
    if at >= 0:
        rest, base_url = rest[:at], rest[at + 1 :].strip()
        if not base_url:
            raise BackendSpecError(
                f"backend spec {redact_spec(spec)!r} has an empty base URL after '@'"
            )
        if not base_url.startswith("file:"):
            urls = [url.strip() for url in base_url.split(",")]
            if not all(urls):
                raise BackendSpecError(
                    f"backend spec {redact_spec(spec)!r} has an empty entry in its list of base "
                    "URLs (URL,URL,...)"
                )
            base_url = ",".join(url if "://" in url else "http://" + url for url in urls)
    model = rest.strip()
    if not model:
        raise BackendSpecError(f"backend spec {redact_spec(spec)!r} names no model")
    return BackendSpec(kind=kind, model=model, base_url=base_url)


def spec_identity(spec: str) -> str:
    """What a spec means for the outputs, as stages record it: a pool of servers
    (`URL,URL,...` or `file:PATH`) is `kind:MODEL@pool`, whichever servers it lists, so a run
    resumed with another server list is the same run (its response cache keys on the pool too);
    any other spec is itself, credentials redacted. An unparsable spec is returned redacted."""
    try:
        parsed = parse_backend_spec(spec)
    except BackendSpecError:
        return redact_spec(spec)
    url = parsed.base_url or ""
    if url.startswith("file:") or "," in url:
        return f"{parsed.kind}:{parsed.model}@pool"
    return redact_spec(spec)


def make_backend(spec: str, **options: Any) -> ChatBackend:
    """Build a backend from `kind:MODEL[@BASE_URL]` plus keyword options.

    `base_url`/`api_key` may also be given as options (the OpenAI backend falls back to the
    `OPENAI_BASE_URL`/`OPENAI_API_KEY` environment variables); a base URL both in the spec and as
    an option must agree. Other options go to the backend's config (`concurrency`, `timeout`,
    `max_retries`, ...).
    """
    _load_builtin_backends()
    parsed = parse_backend_spec(spec)
    factory = _REGISTRY.get(parsed.kind)
    if factory is None:
        raise BackendSpecError(
            f"unknown backend kind {parsed.kind!r} in {redact_spec(spec)!r}; available: "
            f"{', '.join(backend_kinds()) or 'none'}"
        )
    base_url = options.pop("base_url", None)
    if parsed.base_url is not None:
        if base_url is not None and base_url.rstrip("/") != parsed.base_url.rstrip("/"):
            raise BackendSpecError(
                f"base URL given twice and differently: {redact_url(parsed.base_url)!r} in the "
                f"spec, {redact_url(base_url)!r} as an option"
            )
        base_url = parsed.base_url
    return factory(model=parsed.model, base_url=base_url, **options)


def _load_builtin_backends() -> None:
    # Imported for their registration side effect; kept lazy so `backend` imports neither httpx
    # nor (never at import time) torch.
    import alignkit.llm.local  # noqa: F401
    import alignkit.llm.openai  # noqa: F401
