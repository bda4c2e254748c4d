"""Harness overhead of `alignkit followbench run`: everything except the models.

    python benches/bench_followbench.py --data ../shared/data/followbench/data [--runs 3]
                                        [--concurrency 32] [--json out.json]

The model under test and the judge are a loopback `FakeChatServer` answering at once (the model
echoes, the judge returns a well-formed YES/NO list), so the time is what alignkit itself spends
per full FollowBench run: building requests and judge prompts, the response cache, rule checks,
verdict parsing, metrics and writing results.json, samples.jsonl and report.html. Two numbers per
run: a fresh output folder (every request sent) and a re-run of the same folder (all from the
cache, nothing sent). Medians of `--runs` runs.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from alignkit.followbench import EvalConfig, load_followbench, run_followbench
from alignkit.llm.testing import FakeChatServer


def judge_or_echo(body: dict[str, Any]) -> str | None:
    if body["model"] != "judge":
        return None  # the server's echo
    match = re.search(r"list of exactly (\d+) verdicts", body["messages"][0]["content"])
    n = int(match.group(1)) if match else 1
    return "Checked each constraint.\n[" + ", ".join(["YES"] * n) + "]"


def one_run(data: Any, concurrency: int) -> dict[str, float]:
    with FakeChatServer(reply=judge_or_echo) as server, tempfile.TemporaryDirectory() as tmp:
        model, judge = f"openai:echo@{server.base_url}", f"openai:judge@{server.base_url}"
        config = EvalConfig(concurrency=concurrency)
        started = time.perf_counter()
        run_followbench(data, Path(tmp), model, judge, config, progress=False)
        fresh = time.perf_counter() - started
        sent = server.hits
        started = time.perf_counter()
        run_followbench(data, Path(tmp), model, judge, config, progress=False)
        cached = time.perf_counter() - started
        assert server.hits == sent, "the re-run sent requests"
    return {"fresh_s": fresh, "cached_s": cached, "requests": sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FollowBench folder (data/ or data_zh/)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", default=None, help="write the numbers here")
    args = parser.parse_args()
    data = load_followbench(args.data)
    runs = [one_run(data, args.concurrency) for _ in range(args.runs)]
    summary = {
        "data": args.data,
        "language": data.language,
        "items": sum(len(c.records) for c in data.chains),
        "requests": runs[0]["requests"],
        "fresh_s_median": statistics.median(r["fresh_s"] for r in runs),
        "cached_s_median": statistics.median(r["cached_s"] for r in runs),
        "runs": runs,
    }
    print(
        f"{summary['items']} items, {summary['requests']} requests (model + judge): "
        f"fresh run {summary['fresh_s_median']:.2f} s, cached re-run "
        f"{summary['cached_s_median']:.2f} s (median of {args.runs})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
