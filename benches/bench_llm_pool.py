"""The pool backend's cost and spread, side by side with the single-server `openai` backend.

    python benches/bench_llm_pool.py [--requests 2000] [--concurrency 32] [--delay 0.05] [--runs 5]

Two loopback servers (`FakeChatServer`, each in its own process) answer every request after
`--delay` seconds. Three client set-ups take turns in each run:
- `single`: the plain backend on server 1 (ideal concurrency / delay req/s);
- `pool of 1`: the pool backend on server 1 alone (a `file:` list of one), same ideal: the cost
  of the pool's routing;
- `pool of 2`: both servers, `concurrency` each (twice the ideal): the spread.
Printed: median req/s, share of the ideal and client CPU ms per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench_llm_client import _one_run, _Timed, start_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    (proc1, url1), (proc2, url2) = start_server(args.delay), start_server(args.delay)
    listing = Path(tempfile.mkdtemp()) / "urls.txt"
    listing.write_text(url1 + "\n")
    setups = {
        "single": (url1, 1),
        "pool of 1": (f"file:{listing}", 1),
        "pool of 2": (f"{url1},{url2}", 2),
    }
    timings: dict[str, list[_Timed]] = {name: [] for name in setups}
    try:
        for run in range(args.runs):
            for name, (where, _) in setups.items():
                tag = f"{name}-{run}"
                timings[name].append(asyncio.run(_one_run(where, args, tag, cached=False)))
    finally:
        proc1.kill()
        proc2.kill()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}")
    print("| set-up | median req/s | of ideal | runs (req/s) | client CPU ms / request |")
    print("| --- | ---: | ---: | --- | ---: |")
    for name, (_, servers) in setups.items():
        rates = [args.requests / t.elapsed for t in timings[name]]
        cpu = statistics.median(t.cpu for t in timings[name]) / args.requests * 1000
        ideal = servers * args.concurrency / args.delay
        median = statistics.median(rates)
        runs = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"| {name} | {median:,.0f} | {median / ideal:.1%} | {runs} | {cpu:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
