"""Throughput of the `openai` LLM client against a loopback server with a fixed reply latency.

    python benches/bench_llm_client.py [--requests 2000] [--concurrency 64] [--delay 0.05]
                                       [--runs 3] [--json out.json] [--md table.md]

The server (`alignkit.llm.testing.FakeChatServer`, asyncio, HTTP/1.1 keep-alive) runs in its own
process so it does not share the client's GIL, and answers every request after `--delay` seconds.
The ideal rate is concurrency / delay (64 / 0.05 s = 1280 req/s); the goal is 90% of it. Two
client paths are measured: `ChatBackend.agenerate` alone, and `run_requests` with the SQLite
response cache (every result committed as it arrives). The server's CPU seconds per run show that
it is not the bottleneck, and its maximum in-flight count that the client reached the concurrency.
`agenerate` is measured with the default http1 client and, for comparison, over httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from alignkit.llm import ChatRequest, ResponseCache, arun_requests, make_backend
from alignkit.llm.testing import FakeChatServer

GOAL = 0.90


class _Timed:
    """Wall and CPU seconds of the timed section only (warm-up and setup excluded)."""

    def __enter__(self) -> _Timed:
        self.cpu0, self.t0 = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.cpu0


def _serve(delay: float, conn: Any) -> None:
    server = FakeChatServer(delay=delay, record_bodies=False)
    asyncio.run(server.serve(on_ready=conn.send))


def start_server(delay: float) -> tuple[mp.Process, str]:
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(delay, child), daemon=True)
    proc.start()
    if not parent.poll(30):
        proc.kill()
        raise RuntimeError("benchmark server did not start")
    return proc, f"http://127.0.0.1:{parent.recv()}/v1"


def server_stats(base_url: str) -> dict[str, Any]:
    return httpx.get(base_url + "/stats", trust_env=False).json()


def make_requests(n: int, tag: str) -> list[ChatRequest]:
    # Distinct prompts per run so the cached path really sends every request.
    return [
        ChatRequest.from_prompt(
            f"{tag} request {i}: write one sentence about the number {i}.",
            system="You are a helpful assistant.",
            temperature=0.7,
            max_tokens=64,
            seed=i,
        )
        for i in range(n)
    ]


async def _one_run(
    base_url: str, args: argparse.Namespace, tag: str, cached: bool, http_client: str = "auto"
) -> _Timed:
    backend = make_backend(
        f"openai:bench-model@{base_url}",
        concurrency=args.concurrency,
        timeout=30.0,
        trust_env=False,
        http_client=http_client,
    )
    try:
        # Warm up: open the pool's connections before timing.
        await backend.agenerate(make_requests(args.concurrency, f"warm-{tag}"))
        requests = make_requests(args.requests, tag)
        if cached:
            with tempfile.TemporaryDirectory() as tmp, ResponseCache(Path(tmp) / "c.sqlite") as c:
                with _Timed() as timed:
                    results, summary = await arun_requests(backend, requests, c, progress=False)
                assert summary["sent"] == args.requests, summary
        else:
            with _Timed() as timed:
                results = await backend.agenerate(requests)
        failed = [r for r in results if not r.ok]
        if failed:
            raise RuntimeError(f"{len(failed)} requests failed, first: {failed[0].error}")
        return timed
    finally:
        await backend.aclose()


async def _bare_httpx_run(base_url: str, args: argparse.Namespace, tag: str) -> _Timed:
    """The floor: the same transports and slots, prebuilt bodies, no alignkit logic at all."""
    url = httpx.URL(base_url + "/chat/completions")
    headers = httpx.Headers({"Content-Type": "application/json"})
    transports = [
        httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1), trust_env=False
        )
        for _ in range(args.concurrency)
    ]
    slots: asyncio.Queue[int] = asyncio.Queue()
    for i in range(args.concurrency):
        slots.put_nowait(i)

    async def one(body: bytes) -> str:
        slot = await slots.get()
        try:
            request = httpx.Request("POST", url, headers=headers, content=body)
            response = await transports[slot].handle_async_request(request)
            data = await response.aread()
            await response.aclose()
            return json.loads(data)["choices"][0]["message"]["content"]
        finally:
            slots.put_nowait(slot)

    def bodies(n: int, prefix: str) -> list[bytes]:
        return [
            json.dumps(
                {"model": "bench-model", "messages": list(r.messages), **r.params()},
                ensure_ascii=False,
            ).encode()
            for r in make_requests(n, prefix)
        ]

    try:
        await asyncio.gather(*(one(b) for b in bodies(args.concurrency, f"warm-{tag}")))
        payloads = bodies(args.requests, tag)
        with _Timed() as timed:
            await asyncio.gather(*(one(b) for b in payloads))
        return timed
    finally:
        for transport in transports:
            await transport.aclose()


def measure(base_url: str, args: argparse.Namespace, mode: str) -> dict[str, Any]:
    runs = []
    for run in range(args.runs):
        before = server_stats(base_url)
        tag = f"{mode}{run}"
        if mode == "bare":
            timed = asyncio.run(_bare_httpx_run(base_url, args, tag))
        else:
            client = "httpx" if mode == "httpx" else "auto"
            timed = asyncio.run(_one_run(base_url, args, tag, mode == "cached", client))
        after = server_stats(base_url)
        runs.append(
            {
                "elapsed_s": round(timed.elapsed, 3),
                "requests_per_s": round(args.requests / timed.elapsed, 1),
                "client_cpu_ms_per_request": round(timed.cpu / args.requests * 1000, 3),
                "server_cpu_s": round(after["cpu_s"] - before["cpu_s"], 3),
                "server_max_in_flight": after["max_in_flight"],
            }
        )
        print(f"  run {run + 1}: {runs[-1]}", file=sys.stderr)
    rates = [r["requests_per_s"] for r in runs]
    median = statistics.median(rates)
    ideal = args.concurrency / args.delay
    return {
        "runs": runs,
        "median_requests_per_s": median,
        "ideal_requests_per_s": ideal,
        "fraction_of_ideal": round(median / ideal, 3),
        "goal_met": median >= GOAL * ideal,
    }


def server_capacity(base_url: str, concurrency: int, n: int) -> float:
    """Requests/s the zero-delay server sustains against this client (an upper bound check)."""

    async def run() -> float:
        backend = make_backend(
            f"openai:cap@{base_url}", concurrency=concurrency, trust_env=False, timeout=30.0
        )
        try:
            await backend.agenerate(make_requests(concurrency, "cap-warm"))
            started = time.perf_counter()
            await backend.agenerate(make_requests(n, "cap"))
            return n / (time.perf_counter() - started)
        finally:
            await backend.aclose()

    return asyncio.run(run())


def write_markdown(path: Path, result: dict[str, Any], command: str) -> None:
    cfg = result["config"]
    lines = [
        "# LLM client benchmark",
        "",
        "Throughput of `alignkit.llm`'s `openai` backend against a loopback OpenAI-compatible",
        f"server that answers every request after {cfg['delay_s'] * 1000:g} ms",
        "(`alignkit.llm.testing.FakeChatServer`, asyncio, in its own process).",
        f"Ideal = concurrency / latency = {cfg['concurrency']} / {cfg['delay_s']:g} s = "
        f"{result['ideal_requests_per_s']:,.0f} req/s; goal: at least {GOAL:.0%} of it.",
        "",
        "```bash",
        command,
        "```",
        "",
        f"Machine: {result['machine']}. {cfg['requests']} requests per run, median of "
        f"{cfg['runs']} runs, after a warm-up batch that opens the connection pool.",
        "",
        "| client path | median req/s | of ideal | goal met | runs (req/s) | "
        "client CPU ms / request | server CPU s / run | server max in flight |",
        "| --- | ---: | ---: | --- | --- | --- | --- | --- |",
    ]
    for name, label in (
        ("agenerate", "`backend.agenerate` (http1 client, the default for http://)"),
        ("run_requests_cached", "`run_requests` + SQLite cache (http1)"),
        ("agenerate_httpx", "`backend.agenerate`, `http_client='httpx'`"),
        ("bare_httpx", "bare httpx transports (no alignkit code)"),
    ):
        r = result[name]
        rates = ", ".join(f"{x['requests_per_s']:,.0f}" for x in r["runs"])
        cpu = ", ".join(str(x["server_cpu_s"]) for x in r["runs"])
        client_cpu = ", ".join(f"{x['client_cpu_ms_per_request']:.2f}" for x in r["runs"])
        in_flight = ", ".join(str(x["server_max_in_flight"]) for x in r["runs"])
        met = "yes" if r["goal_met"] else "no"
        lines.append(
            f"| {label} | {r['median_requests_per_s']:,.0f} | {r['fraction_of_ideal']:.1%} | "
            f"{met} | {rates} | {client_cpu} | {cpu} | {in_flight} |"
        )
    cap = result["server_capacity_requests_per_s"]
    plain, bare = result["agenerate"], result["bare_httpx"]
    over_httpx = result["agenerate_httpx"]
    cpu_ms = statistics.median(x["client_cpu_ms_per_request"] for x in plain["runs"])
    verdict = "met" if plain["goal_met"] else "NOT met"
    lines += [
        "",
        f"Goal ({GOAL:.0%} of ideal for `agenerate`): **{verdict}** on this machine "
        f"({plain['fraction_of_ideal']:.1%}).",
        "",
        f"- Client CPU: {cpu_ms:.2f} ms per request with the http1 client (caps one core at "
        f"about {1000 / cpu_ms:,.0f} req/s); through httpx "
        f"{statistics.median(x['client_cpu_ms_per_request'] for x in over_httpx['runs']):.2f} ms. "
        f"Bare httpx transports without any alignkit code reach "
        f"{bare['median_requests_per_s']:,.0f} req/s, so httpx itself was the limit; the "
        "http1 client (`alignkit.llm.http1`, asyncio streams, used for plain http:// without a "
        "proxy) removes it. HTTPS and proxies still go through httpx.",
        f"- Server headroom: with zero delay the same client and server together reach "
        f"{cap:,.0f} req/s (client-bound); the server's CPU per timed run is in the table.",
        "- Design notes: one httpx pool of 64 connections ran at ~70 req/s on a 2-core VM "
        "(httpcore rescans every queued request x connection pair on each event); one transport "
        "per connection, with slots handed out by a queue, fixed that, and the http1 client keeps "
        "that design (one keep-alive connection per slot).",
        f"- Load average before/after the runs: {result['load_before']} / {result['load_after']} "
        "(a shared VM: other jobs take CPU from both processes).",
        "",
    ]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.05, help="server latency, seconds")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--md", type=Path, help="write a Markdown report here")
    args = parser.parse_args(argv)

    load_before = [round(x, 2) for x in os.getloadavg()]
    proc, base_url = start_server(args.delay)
    try:
        print(f"server {base_url}, delay {args.delay}s", file=sys.stderr)
        print("agenerate:", file=sys.stderr)
        plain = measure(base_url, args, "plain")
        print("run_requests + cache:", file=sys.stderr)
        cached = measure(base_url, args, "cached")
        print("agenerate over httpx:", file=sys.stderr)
        over_httpx = measure(base_url, args, "httpx")
        print("bare httpx (floor):", file=sys.stderr)
        bare = measure(base_url, args, "bare")
    finally:
        proc.kill()
        proc.join()
    cap_proc, cap_url = start_server(0.0)
    try:
        capacity = server_capacity(cap_url, args.concurrency, min(args.requests, 2000))
    finally:
        cap_proc.kill()
        cap_proc.join()

    result = {
        "config": {
            "requests": args.requests,
            "concurrency": args.concurrency,
            "delay_s": args.delay,
            "runs": args.runs,
        },
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, Python "
        f"{platform.python_version()}, httpx {httpx.__version__}",
        "ideal_requests_per_s": args.concurrency / args.delay,
        "goal_fraction": GOAL,
        "agenerate": plain,
        "run_requests_cached": cached,
        "agenerate_httpx": over_httpx,
        "bare_httpx": bare,
        "server_capacity_requests_per_s": round(capacity, 1),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.md:
        command = "python benches/bench_llm_client.py " + " ".join(
            a for a in (argv if argv is not None else sys.argv[1:])
        )
        write_markdown(args.md, result, command.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
