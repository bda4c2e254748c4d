"""bfloat16 vs float32 on the CPU: the `transformers` backend's generation speed and greedy text.

    python benches/llm_cpu_dtype_bench.py [--runs 3] [--max-tokens 64] [--threads N] [--json F]

The embedded SmolLM2-135M-Instruct answers the same 8 prompts greedily in one batch (up to
`--max-tokens` new tokens each) as float32 and as bfloat16, the two interleaved `--runs` times
(alternating which goes first). Reported: generated tokens per CPU-second (process CPU time over
all threads) and per wall-second, medians, and their bf16/fp32 ratios; then how the greedy
answers of the two compare (identical, shared prefix) and the bf16 answers themselves, to judge
whether they are sane. `dtype="auto"` picks bfloat16 on CPUs whose /proc/cpuinfo names
avx512_bf16 or amx_bf16; this bench shows what that choice gains.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from alignkit.llm import ChatRequest, ChatResult, make_backend
from alignkit.llm.local import cpu_has_native_bf16

PROMPTS = (
    "Explain why the sky is blue to a ten-year-old.",
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "List five tips for keeping houseplants alive, with one sentence each.",
    "What are the main differences between a list and a tuple in Python?",
    "Describe the water cycle in a few sentences.",
    "Give me a recipe for a simple tomato soup.",
    "Why do we have seasons on Earth?",
    "Write a polite email asking a colleague to review a document by Friday.",
)
DTYPES = ("float32", "bfloat16")


def shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def timed(backend: Any, requests: list[ChatRequest]) -> tuple[list[ChatResult], float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    results = backend.generate(requests)
    return results, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    requests = [
        ChatRequest.from_prompt(p, temperature=0, max_tokens=args.max_tokens) for p in PROMPTS
    ]
    backends = {
        dtype: make_backend(
            "transformers", device="cpu", dtype=dtype, threads=args.threads, batch_size=len(PROMPTS)
        ).load()
        for dtype in DTYPES
    }
    for backend in backends.values():  # warm-up: first-call allocations and kernel selection
        backend.generate([ChatRequest.from_prompt("Hi.", temperature=0, max_tokens=4)])

    per_cpu: dict[str, list[float]] = {d: [] for d in DTYPES}
    per_wall: dict[str, list[float]] = {d: [] for d in DTYPES}
    texts: dict[str, list[str]] = {}
    for run in range(args.runs):
        order = DTYPES if run % 2 == 0 else DTYPES[::-1]
        for dtype in order:
            results, cpu_s, wall_s = timed(backends[dtype], requests)
            bad = [r.error for r in results if not r.ok]
            if bad:
                raise SystemExit(f"{dtype}: generation failed: {bad[0]}")
            tokens = sum(r.completion_tokens for r in results)
            per_cpu[dtype].append(tokens / cpu_s)
            per_wall[dtype].append(tokens / wall_s)
            texts[dtype] = [r.text or "" for r in results]
            print(
                f"run {run + 1} {dtype:>8}: {tokens} tokens, {cpu_s:.1f} CPU-s, {wall_s:.1f} s wall"
            )

    summary: dict[str, Any] = {
        "model": backends["float32"].model,
        "cpu_native_bf16": cpu_has_native_bf16(),
        "torch_threads": __import__("torch").get_num_threads(),
        "load_average": os.getloadavg()[0],
        "prompts": len(PROMPTS),
        "max_tokens": args.max_tokens,
        "runs": args.runs,
    }
    for dtype in DTYPES:
        summary[f"{dtype}_tokens_per_cpu_s"] = statistics.median(per_cpu[dtype])
        summary[f"{dtype}_tokens_per_wall_s"] = statistics.median(per_wall[dtype])
    summary["bf16_over_fp32_cpu"] = (
        summary["bfloat16_tokens_per_cpu_s"] / summary["float32_tokens_per_cpu_s"]
    )
    summary["bf16_over_fp32_wall"] = (
        summary["bfloat16_tokens_per_wall_s"] / summary["float32_tokens_per_wall_s"]
    )
    pairs = list(zip(texts["float32"], texts["bfloat16"], strict=True))
    summary["identical_answers"] = sum(a == b for a, b in pairs)
    summary["median_shared_prefix_chars"] = statistics.median(shared_prefix(a, b) for a, b in pairs)
    summary["answers"] = [
        {"prompt": p, "float32": a, "bfloat16": b} for p, (a, b) in zip(PROMPTS, pairs, strict=True)
    ]

    print()
    for key, value in summary.items():
        if key != "answers":
            print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    for item in summary["answers"]:
        print(f"\n> {item['prompt']}\n  fp32: {item['float32']!r}\n  bf16: {item['bfloat16']!r}")
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
