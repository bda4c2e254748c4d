"""Resume after a hard kill: `alignkit followbench run` is SIGKILLed midway (from inside the fake
server, before it delivers an answer), then re-run; no prompt is answered twice and the results
equal those of an uninterrupted run.

The response cache is written by a background thread in batches (at most FLUSH_SECONDS late), so
an answer delivered within that window before a kill is lost and asked again; the server waits
out that window before killing, and the test pins the guarantee outside it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from alignkit.llm.runner import FLUSH_SECONDS
from alignkit.llm.testing import FakeChatServer

FIXTURE = Path(__file__).parent / "data" / "followbench"
KILL_AFTER = 7  # model answers delivered before the kill


def _answer(body: dict[str, Any]) -> str:
    prompt = body["messages"][-1]["content"]
    if body["model"] == "judge":
        level = prompt.count("### Version ")
        return "Checked.\n" + json.dumps(["YES"] * level).replace('"', "'")
    return f"Answer {len(prompt) % 7}: BOT: blue"


class _Server:
    """Counts delivered replies per (model, prompt); kills `victim` at the chosen answer."""

    def __init__(self) -> None:
        self.delivered: Counter[tuple[str, str]] = Counter()
        self.victim: subprocess.Popen[bytes] | None = None
        self.kill_at: int | None = None
        self.lock = threading.Lock()

    def reply(self, body: dict[str, Any]) -> str:
        key = (body["model"], json.dumps(body["messages"]))
        with self.lock:
            model_answers = sum(n for (m, _), n in self.delivered.items() if m == "tiny")
            if (
                self.victim is not None
                and body["model"] == "tiny"
                and model_answers == self.kill_at
            ):
                time.sleep(4 * FLUSH_SECONDS)  # earlier answers reach the cache
                self.victim.send_signal(signal.SIGKILL)
                self.victim.wait()
                self.victim = None
                return "never delivered"  # the client is gone
            self.delivered[key] += 1
        return _answer(body)


def _argv(base_url: str, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "alignkit.cli.main",
        "followbench",
        "run",
        "--data",
        str(FIXTURE),
        "--out",
        str(out),
        "--model",
        f"openai:tiny@{base_url}",
        "--judge",
        f"openai:judge@{base_url}",
        "--categories",
        "style,example,format",
        "--chains-per-task",
        "1",
        "--concurrency",
        "1",
        "--no-progress",
    ]


def _scored(out: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return results["tables"], [(r["item_id"], r["answer"], r["hard"], r["soft"]) for r in rows]


def test_killed_run_resumes_without_answering_twice(tmp_path: Path) -> None:
    state = _Server()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with FakeChatServer(reply=state.reply) as server:
        out = tmp_path / "killed"
        state.kill_at = KILL_AFTER
        state.victim = subprocess.Popen(
            _argv(server.base_url, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        victim = state.victim
        assert victim.wait(timeout=120) == -signal.SIGKILL
        assert not (out / "results.json").exists()  # killed before anything was published
        first = Counter(state.delivered)
        assert sum(n for (m, _), n in first.items() if m == "tiny") == KILL_AFTER

        resumed = subprocess.run(_argv(server.base_url, out), env=env, capture_output=True)
        assert resumed.returncode == 0, resumed.stdout.decode() + resumed.stderr.decode()
        # every request was answered exactly once over the killed and the resumed run
        assert state.delivered and max(state.delivered.values()) == 1, [
            k for k, n in state.delivered.items() if n > 1
        ][:3]
        model_prompts = sum(1 for m, _ in state.delivered if m == "tiny")
        assert model_prompts == 15  # style, example and format: one chain each (fixture)

        plain = tmp_path / "plain"
        straight = subprocess.run(_argv(server.base_url, plain), env=env, capture_output=True)
        assert straight.returncode == 0, straight.stderr.decode()
    assert _scored(out) == _scored(plain)
