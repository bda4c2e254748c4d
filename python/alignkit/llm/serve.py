"""A loopback OpenAI-compatible server that answers with a real model.

`ModelServer` is `FakeChatServer` (same HTTP/1.1 keep-alive machinery, same fault injection,
same counters) whose answers come from a `ChatBackend`, usually the local `transformers` one:

    backend = make_backend("transformers")                  # the embedded SmolLM2-135M-Instruct
    with ModelServer(backend, faults=first_n(1, Fault.http(429, retry_after="0"))) as server:
        client = make_backend(f"openai:{server.model_name}@{server.base_url}")

Concurrent requests are batched by the backend's scheduler. From the command line:
`alignkit llm serve --model transformers[:PATH] --host 127.0.0.1 --port 8000`. Nothing is kept
per request (no bodies, prompts or auth headers); a non-loopback host needs an API key or
`allow_unauthenticated=True` (`--allow-unauthenticated`), which is then warned about.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from alignkit.llm.backend import ChatBackend
from alignkit.llm.testing import DEFAULT_MAX_BODY_BYTES, FakeChatServer, FaultPolicy, error_payload
from alignkit.llm.testing import check_binding as check_binding  # for the CLI
from alignkit.llm.types import ChatRequest, ChatRequestError

# Body fields that carry no generation parameter (or that every answer already satisfies).
_IGNORED = frozenset({"model", "user", "stream_options", "logprobs", "top_logprobs"})


def request_from_body(body: dict[str, Any]) -> ChatRequest:
    """A chat-completions request body as a ChatRequest (model left to the server)."""
    if body.get("stream"):
        raise ChatRequestError("streaming is not supported by this server; send stream=false")
    if body.get("n", 1) != 1:
        raise ChatRequestError("n must be 1")
    if body.get("logprobs"):
        raise ChatRequestError("logprobs are not supported by this server")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_completion_tokens")
    known = {"messages", "temperature", "top_p", "max_tokens", "max_completion_tokens"}
    known |= {"seed", "stop", "n", "stream"}
    extra = {k: v for k, v in body.items() if k not in known and k not in _IGNORED}
    return ChatRequest(
        messages=body.get("messages") or [],
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        max_tokens=max_tokens,
        seed=body.get("seed"),
        stop=body.get("stop") or None,
        extra=extra,
    )


class ModelServer(FakeChatServer):
    """An OpenAI-compatible `/v1/chat/completions` + `/v1/models` server over `backend`.

    `faults`, `delay`, `api_key` and the counters work as in FakeChatServer: a fault replaces
    the model's answer for that attempt. Errors of a single request (bad parameters, a prompt
    longer than the context) are 400 replies with the backend's message; other backend
    failures are 500s. Request bodies are only kept with `record_bodies=True` (tests).
    """

    def __init__(
        self,
        backend: ChatBackend,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPolicy | None = None,
        delay: float = 0.0,
        api_key: str | None = None,
        record_bodies: bool = False,
        model_name: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        allow_unauthenticated: bool = False,
    ) -> None:
        super().__init__(
            delay=delay,
            faults=faults,
            api_key=api_key,
            record_bodies=record_bodies,
            port=port,
            host=host,
            max_body_bytes=max_body_bytes,
            allow_unauthenticated=allow_unauthenticated,
        )
        self.backend = backend
        self.model_name = model_name or backend.model

    def model_ids(self) -> list[str]:
        return [self.model_name]

    async def complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            request = request_from_body(body)
        except (ChatRequestError, TypeError) as exc:
            return 400, error_payload(400, str(exc))
        result = await self.backend.agenerate_one(request)
        if not result.ok:
            status = result.status if result.status and 400 <= result.status < 600 else 500
            return status, error_payload(status, result.error or "generation failed")
        return 200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.text},
                    "finish_reason": result.finish_reason,
                }
            ],
            "usage": result.usage,
        }


def serve_forever(
    backend: ChatBackend,
    host: str,
    port: int,
    *,
    api_key: str | None = None,
    model_name: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    allow_unauthenticated: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve until interrupted (Ctrl-C)."""
    import asyncio

    server = ModelServer(
        backend,
        host=host,
        port=port,
        api_key=api_key,
        model_name=model_name,
        max_body_bytes=max_body_bytes,
        allow_unauthenticated=allow_unauthenticated,
    )
    if server.binding_warning:
        print(server.binding_warning, file=sys.stderr, flush=True)

    def ready(bound: int) -> None:
        echo(
            f"serving {server.model_name} at {server.base_url} "
            f"(POST /chat/completions, GET /models); Ctrl-C stops"
        )

    try:
        asyncio.run(server.serve(on_ready=ready))
    except KeyboardInterrupt:
        echo("stopped")
