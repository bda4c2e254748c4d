"""Requests and results of the LLM layer: plain, JSON-serialisable, backend-independent."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

# Bumped when the meaning of a cache key changes (old cache entries then simply miss).
KEY_VERSION = 1

# The most alternatives per generated token a request may ask for (OpenAI's limit).
MAX_TOP_LOGPROBS = 20

# One generated token's alternatives: (token text, log-probability) pairs, best first.
TokenAlternatives = tuple[tuple[str, float], ...]

# Fields of a chat-completions payload that ChatRequest sets itself; `extra` may not repeat them.
_RESERVED = frozenset(
    {"model", "messages", "temperature", "top_p", "max_tokens", "seed", "stop", "stream"}
)


class ChatRequestError(ValueError):
    """A ChatRequest is malformed (no messages, a message without role/content, bad params)."""


def _float_or_none(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ChatRequestError(f"{name} must be a number, not {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class ChatRequest:
    """One chat completion to make.

    `messages` are `{"role": ..., "content": ...}` mappings (content a string, or a list of parts
    for servers that take them). `model=None` uses the backend's model. Sampling parameters left
    at None are not sent, so the server's defaults apply. `extra` holds further parameters passed
    through unchanged (`presence_penalty`, `response_format`, `logit_bias`, ...). Everything but
    nothing else - not the API key - goes into the cache key.

    `extra={"logprobs": True, "top_logprobs": K}` (0 <= K <= 20) asks for the K most likely
    tokens at each generated position (`ChatResult.top_logprobs`). A last message with role
    `assistant` is a prefill: the model continues its text and the result holds only the
    continuation.
    """

    messages: Sequence[Mapping[str, Any]]
    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: str | Sequence[str] | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.messages, (str, bytes)) or not isinstance(self.messages, Sequence):
            raise ChatRequestError("messages must be a list of {role, content} mappings")
        if not self.messages:
            raise ChatRequestError("messages must not be empty")
        messages = []
        for i, message in enumerate(self.messages):
            if not isinstance(message, Mapping):
                raise ChatRequestError(f"messages[{i}] must be a mapping, not {message!r}")
            role = message.get("role")
            if not isinstance(role, str) or not role:
                raise ChatRequestError(f"messages[{i}] has no role")
            if "content" not in message:
                raise ChatRequestError(f"messages[{i}] ({role}) has no content")
            messages.append(dict(message))
        object.__setattr__(self, "messages", tuple(messages))
        object.__setattr__(self, "temperature", _float_or_none("temperature", self.temperature))
        object.__setattr__(self, "top_p", _float_or_none("top_p", self.top_p))
        for name in ("max_tokens", "seed"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ChatRequestError(f"{name} must be an integer, not {value!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ChatRequestError("max_tokens must be >= 1")
        if self.stop is not None:
            stop = [self.stop] if isinstance(self.stop, str) else list(self.stop)
            if not all(isinstance(s, str) and s for s in stop):
                raise ChatRequestError("stop must be a string or a list of non-empty strings")
            object.__setattr__(self, "stop", tuple(stop))
        if not isinstance(self.extra, Mapping):
            raise ChatRequestError("extra must be a mapping of parameter names to values")
        clash = sorted(_RESERVED & set(self.extra))
        if clash:
            raise ChatRequestError(
                f"extra may not set {', '.join(clash)}: use the ChatRequest fields "
                "(streaming is not supported)"
            )
        if self.extra.get("n", 1) != 1:
            raise ChatRequestError(
                "n > 1 is not supported: send one request per sample, each with its own seed"
            )
        _check_logprobs(self.extra)
        object.__setattr__(self, "extra", dict(self.extra))

    @property
    def top_logprobs_wanted(self) -> int | None:
        """How many alternatives per generated token the request asks for; None: no logprobs."""
        if not self.extra.get("logprobs"):
            return None
        return int(self.extra.get("top_logprobs") or 0)

    @property
    def continues_final_message(self) -> bool:
        """True when the last message is the assistant's: a prefill the model continues."""
        return self.messages[-1]["role"] == "assistant"

    @classmethod
    def from_prompt(cls, prompt: str, *, system: str | None = None, **params: Any) -> ChatRequest:
        """A single-turn request: optional system message, then `prompt` as the user."""
        messages = [] if system is None else [{"role": "system", "content": system}]
        messages.append({"role": "user", "content": prompt})
        return cls(messages=messages, **params)

    def params(self) -> dict[str, Any]:
        """The sampling parameters that are set, as sent to the server (extra included)."""
        out: dict[str, Any] = {}
        for name in ("temperature", "top_p", "max_tokens", "seed"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.stop is not None:
            out["stop"] = list(self.stop)
        out.update(self.extra)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": [dict(m) for m in self.messages],
            "model": self.model,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": None if self.stop is None else list(self.stop),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatRequest:
        return cls(**dict(data))


def _check_logprobs(extra: Mapping[str, Any]) -> None:
    logprobs = extra.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool):
        raise ChatRequestError(f"logprobs must be true or false, not {logprobs!r}")
    top = extra.get("top_logprobs")
    if top is None:
        return
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS:
        raise ChatRequestError(
            f"top_logprobs must be an integer from 0 to {MAX_TOP_LOGPROBS}, not {top!r}"
        )
    if not logprobs:
        raise ChatRequestError("top_logprobs needs logprobs=True in the same request")


def canonical_json(payload: Any) -> str:
    """Key-sorted, whitespace-free JSON: the same value always gives the same text."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(kind: str, base_url: str, model: str, request: ChatRequest) -> str:
    """sha256 of everything that decides the answer: backend, endpoint, model, messages, params."""
    payload = {
        "v": KEY_VERSION,
        "backend": kind,
        "base_url": base_url,
        "model": model,
        "messages": [dict(m) for m in request.messages],
        "params": request.params(),
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


@dataclasses.dataclass
class ChatResult:
    """The outcome of one ChatRequest; `error` is None on success.

    `attempts` counts HTTP attempts (retries included; for a cached result, those of the run that
    produced it). `error_kind` is a short machine-readable cause: `http_429`, `http_401`,
    `timeout`, `connection`, `malformed`, ... `cached` is True when the result came from the
    response cache instead of the backend. `top_logprobs` (only when the request asked for
    logprobs): one entry per generated token, each a tuple of (token text, log-probability)
    pairs, best first.
    """

    text: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    attempts: int = 0
    error: str | None = None
    error_kind: str | None = None
    status: int | None = None
    latency_s: float = 0.0
    top_logprobs: tuple[TokenAlternatives, ...] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("cached")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, cached: bool = False) -> ChatResult:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields and k != "cached"}
        if values.get("top_logprobs") is not None:  # JSON lists back to tuples
            values["top_logprobs"] = tuple(
                tuple((str(token), float(logprob)) for token, logprob in position)
                for position in values["top_logprobs"]
            )
        return cls(**values, cached=cached)


@dataclasses.dataclass
class UsageTotals:
    """Running totals of one backend object (requests it actually sent, not cache hits)."""

    requests: int = 0
    succeeded: int = 0
    failed: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def retries(self) -> int:
        return self.attempts - self.requests

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, result: ChatResult) -> None:
        self.requests += 1
        self.attempts += result.attempts
        if result.ok:
            self.succeeded += 1
        else:
            self.failed += 1
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens

    def as_dict(self) -> dict[str, int]:
        data = dataclasses.asdict(self)
        data["retries"] = self.retries
        data["total_tokens"] = self.total_tokens
        return data
