"""Two runs into one output folder, and a run killed with its workers (issue 13): the second run
is refused while the first holds the folder, nothing it wrote is ever published, and pool workers
die with their parent."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from stage_toy import write_inputs

from alignkit.data.demo import write_demo_shards

TESTS = Path(__file__).parent


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert path.exists(), "the first run never got going"


def test_a_second_run_into_a_busy_folder_is_refused_and_publishes_nothing(tmp_path):
    shards = write_demo_shards(tmp_path / "in", n_shards=6, docs_per_shard=1000, seed=2)
    out = tmp_path / "out"
    first = subprocess.Popen(
        ["alignkit", "webr", "prepare", *map(str, shards), "--out", str(out), "--no-progress"],
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(out / ".alignkit" / "lock", first)
    second = subprocess.run(
        ["alignkit", "webr", "prepare", *map(str, shards), "--out", str(out), "--langs", "de"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    if second.returncode == 0:
        # the first run finished before the second looked: then it resumed the same config
        assert "--langs" not in json.dumps(json.loads((out / ".alignkit/config.json").read_text()))
    else:
        assert second.returncode == 2
        assert "in use by another run" in second.stderr or "another configuration" in second.stderr
        assert "Traceback" not in second.stderr
    recorded = json.loads((out / ".alignkit" / "config.json").read_text())
    assert recorded["config"]["languages"] == []
    for shard in sorted(out.glob("*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as fh:
            langs = {json.loads(line)["lang"] for line in fh}
        assert langs != {"de"}  # the first run's documents, every file a valid gzip


KILLED_POOL = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from stage_toy import ToyConfig, ToyStage
    from alignkit.stage import LocalExecutor, run_stage
    run_stage(ToyStage(ToyConfig(), sleep_after_write=120), {inputs!r}, {out!r},
              executor=LocalExecutor(2), progress="off")
    """
)


def test_pool_workers_die_with_their_parent(tmp_path):
    inputs = [str(p) for p in write_inputs(tmp_path / "in", n=3)]
    out = tmp_path / "out"
    ready = tmp_path / "ready"
    script = KILLED_POOL.format(tests=str(TESTS), inputs=inputs, out=str(out))
    parent = subprocess.Popen(
        [sys.executable, "-c", script], env={**os.environ, "TOY_READY": str(ready)}
    )
    _wait_for(ready, parent)
    workers = _children(parent.pid)
    assert workers, "no pool workers found"
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 15
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "workers outlived their parent"
    assert not list(out.glob("*.jsonl.gz")) and not list((out / ".alignkit/done").glob("*"))
