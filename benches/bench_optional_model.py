"""CPU load time and greedy generation throughput of a fetched opt-in model, bfloat16 vs float32.

    alignkit llm fetch-model qwen2.5-coder-1.5b-instruct     # once, 1.1 GB download
    python benches/bench_optional_model.py [--model qwen2.5-coder-1.5b-instruct] [--threads 2]
        [--max-tokens 48] [--repeats 2] [--json out.json]

For each dtype the model is loaded once through `make_backend("transformers:NAME")` (the
registry alias), then the same greedy batch is generated `--repeats` times; tokens/s is the
median over repeats, per wall second and per CPU second of this process. One sample answer is
printed per dtype. Short by design: the machine is shared.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from typing import Any

from alignkit.llm import ChatRequest, make_backend

PROMPTS = (
    "Write a Python function that returns the n-th Fibonacci number iteratively.",
    "In two sentences, explain what a hash table is.",
)
SAMPLE = "List three prime numbers greater than 10, separated by commas."


def measure(model: str, dtype: str, threads: int, max_tokens: int, repeats: int) -> dict[str, Any]:
    backend = make_backend(f"transformers:{model}", device="cpu", dtype=dtype, threads=threads)
    started = time.perf_counter()
    backend.load()  # type: ignore[attr-defined]
    load_s = time.perf_counter() - started
    requests = [ChatRequest.from_prompt(p, temperature=0, max_tokens=max_tokens) for p in PROMPTS]
    wall, cpu, tokens, texts = [], [], 0, []
    for _ in range(repeats):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        results = backend.generate(requests)
        wall.append(time.perf_counter() - wall0)
        cpu.append(time.process_time() - cpu0)
        if not all(r.ok for r in results):
            raise RuntimeError([r.error for r in results if not r.ok])
        tokens = sum(r.completion_tokens for r in results)
        texts.append([r.text for r in results])
    sample = backend.generate([ChatRequest.from_prompt(SAMPLE, temperature=0, max_tokens=40)])
    row = {
        "dtype": dtype,
        "load_s": round(load_s, 1),
        "completion_tokens": tokens,
        "wall_s_median": round(statistics.median(wall), 1),
        "tokens_per_s": round(tokens / statistics.median(wall), 2),
        "tokens_per_cpu_s": round(tokens / statistics.median(cpu), 2),
        "greedy_repeats_identical": all(t == texts[0] for t in texts),
        "sample": sample[0].text,
    }
    del backend
    gc.collect()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = []
    for dtype in ("bfloat16", "float32"):
        rows.append(measure(args.model, dtype, args.threads, args.max_tokens, args.repeats))
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    by = {r["dtype"]: r for r in rows}
    ratio = by["bfloat16"]["tokens_per_s"] / by["float32"]["tokens_per_s"]
    cpu_ratio = by["bfloat16"]["tokens_per_cpu_s"] / by["float32"]["tokens_per_cpu_s"]
    print(f"bfloat16 / float32: {ratio:.2f}x tokens/s, {cpu_ratio:.2f}x tokens per CPU-second")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            summary = {"bf16_over_fp32": round(ratio, 2), "per_cpu_s": round(cpu_ratio, 2)}
            json.dump({"rows": rows, **summary}, out, indent=2)


if __name__ == "__main__":
    main()
