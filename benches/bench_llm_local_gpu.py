"""GPU checks and generation throughput of the `transformers` backend.

    python benches/bench_llm_local_gpu.py --smol-config DIR --tiny DIR [--json out.json]

`--tiny`: a tiny random Llama folder with a chat template: greedy answers on CPU and CUDA
(float32) must match, seeded sampling must repeat on CUDA, `dtype=auto` must pick bfloat16.
`--smol-config`: a folder with SmolLM2-135M-Instruct's config.json and tokenizer files: a model
of that shape with random weights is generated and timed on the GPU (128 requests, 256 new
tokens each) at a few batch sizes and dtypes. Needs a CUDA GPU.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from alignkit.llm import ChatRequest, make_backend


def checks(tiny: Path) -> dict[str, Any]:
    requests = [
        ChatRequest.from_prompt(p, temperature=0, max_tokens=12)
        for p in ("Hello there.", "word " * 40, "Tell me a story about a cat.")
    ]
    cpu = make_backend(f"transformers:{tiny}", device="cpu", dtype="float32").generate(requests)
    gpu_backend = make_backend(f"transformers:{tiny}", device="cuda", dtype="float32")
    gpu = gpu_backend.generate(requests)
    sampled = [ChatRequest.from_prompt("Hi.", temperature=1.0, top_p=0.9, seed=5, max_tokens=12)]
    auto = make_backend(f"transformers:{tiny}", device="cuda")
    auto_ok = all(r.ok for r in auto.generate(requests))
    return {
        "greedy_cpu_equals_cuda": [a.text == b.text for a, b in zip(cpu, gpu, strict=True)],
        "cuda_seeded_sampling_repeats": gpu_backend.generate(sampled)[0].text
        == gpu_backend.generate(sampled)[0].text,
        "auto_dtype": auto.describe()["dtype"],
        "auto_ok": auto_ok,
    }


def throughput(smol_config: Path, settings: list[tuple[int, str]]) -> dict[str, Any]:
    import torch
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        LlamaForCausalLM(AutoConfig.from_pretrained(smol_config)).save_pretrained(tmp)
        AutoTokenizer.from_pretrained(smol_config).save_pretrained(tmp)
        for batch_size, dtype in settings:
            backend = make_backend(
                f"transformers:{tmp}", device="cuda", dtype=dtype, batch_size=batch_size
            )
            backend.load()
            backend.generate([ChatRequest.from_prompt("warm", max_tokens=8, seed=0)])
            requests = [
                ChatRequest.from_prompt(
                    f"Write about topic {i}. " * 30, temperature=0.7, seed=i, max_tokens=256
                )
                for i in range(128)
            ]
            started = time.perf_counter()
            results = backend.generate(requests)
            seconds = time.perf_counter() - started
            completion = sum(r.completion_tokens for r in results)
            out[f"batch{batch_size}_{dtype}"] = {
                "seconds": round(seconds, 2),
                "ok": sum(r.ok for r in results),
                "prompt_tokens": sum(r.prompt_tokens for r in results),
                "completion_tokens": completion,
                "completion_tokens_per_s": round(completion / seconds, 1),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", type=Path, required=True)
    parser.add_argument("--smol-config", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = {
        "checks": checks(args.tiny),
        "throughput": throughput(
            args.smol_config, [(32, "bfloat16"), (64, "bfloat16"), (32, "float32")]
        ),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
