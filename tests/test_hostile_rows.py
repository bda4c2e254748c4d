"""Issue 13, hostile rows: each reproducer through the command line (dedup, score, bmc bridge,
FollowBench against the loopback fake server, prepare through a pipe). A bad row is a counted,
logged skip naming its file and row; a damaged gzip file keeps the rows before the damage; an
input that cannot be read at all is one error line naming the file."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from alignkit.cli.main import main
from alignkit.data.demo import write_demo_shards
from alignkit.embed import encoder
from alignkit.followbench import load_followbench
from alignkit.llm.testing import FakeChatServer

FOLLOWBENCH = Path(__file__).parent / "data" / "followbench"
NESTED = '{"text": "x", "prompt": "p", "chosen": "c", "rejected": "r", "deep": %s}\n' % (
    "[" * 100_000 + "]" * 100_000
)
SURROGATE = '{"text": "bad \\ud800 text", "prompt": "q \\ud800", "chosen": "c", "rejected": "r"}\n'
HOSTILE = [(NESTED, "nested_too_deeply"), (SURROGATE, "lone_surrogate")]


def good_rows(n: int) -> list[str]:
    return [
        json.dumps(
            {
                "id": i,
                "text": f"document {i} on topic {i} with its own words {i * 7919} " * 3,
                "prompt": f"Question {i}: what is {i} squared?",
                "chosen": f"It is {i * i}.",
                "rejected": f"It is {i + i}.",
            }
        )
        + "\n"
        for i in range(n)
    ]


def with_bad_row(tmp_path: Path, name: str, bad: str) -> Path:
    rows = good_rows(8)
    path = tmp_path / name
    path.write_text("".join(rows[:3] + [bad] + rows[3:]), encoding="utf-8")
    return path


def dedup_stats(out: Path) -> dict[str, Any]:
    stats = json.loads((out / ".alignkit" / "stats.json").read_text())
    return stats.get("stats", stats)


def complete_lines_before_damage(data: bytes) -> int:
    """Reference: the newline-terminated rows Python's zlib decodes before the damage."""
    decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
    decoded = b""
    for start in range(len(data)):
        try:
            decoded += decoder.decompress(data[start : start + 1])
        except zlib.error:
            break
    return decoded.count(b"\n")


@pytest.mark.parametrize(("bad", "reason"), HOSTILE, ids=["nested", "surrogate"])
def test_dedup_skips_a_hostile_row_naming_file_and_row(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, bad: str, reason: str
) -> None:
    path = with_bad_row(tmp_path, "docs.jsonl", bad)
    assert main(["webr", "dedup", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    stats = dedup_stats(tmp_path / "out")
    assert (stats["docs_in"], stats["docs_kept"]) == (8, 8)
    assert stats["skipped_rows"] == {reason: 1}
    assert f"{path}: row 4 skipped ({reason})" in caplog.text
    kept = (tmp_path / "out" / "docs.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in kept] == list(range(8))


def test_dedup_keeps_the_rows_before_a_truncation(tmp_path: Path) -> None:
    data = gzip.compress("".join(good_rows(400)).encode())
    cut = data[: len(data) // 2]
    path = tmp_path / "docs.jsonl.gz"
    path.write_bytes(cut)
    assert main(["webr", "dedup", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    stats = dedup_stats(tmp_path / "out")
    expected = complete_lines_before_damage(cut)
    assert expected > 100
    assert stats["docs_in"] == expected
    assert stats["read_faults"] == {"truncated": 1}
    assert stats["skipped_rows"] == {"cut_by_damage": 1}
    with gzip.open(tmp_path / "out" / "docs.jsonl.gz", "rt") as fh:
        assert [json.loads(line)["id"] for line in fh] == list(range(expected))


def test_a_bad_gzip_checksum_keeps_every_row_and_names_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = bytearray(gzip.compress("".join(good_rows(50)).encode()))
    data[-6] ^= 0xFF  # inside the CRC-32 of the trailer
    path = tmp_path / "docs.jsonl.gz"
    path.write_bytes(bytes(data))
    assert main(["webr", "dedup", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    stats = dedup_stats(tmp_path / "out")
    assert (stats["docs_in"], stats["read_faults"]) == (50, {"corrupt_gzip": 1})
    assert f"{path}: corrupt gzip data" in caplog.text


def test_a_gz_file_that_is_not_gzip_is_one_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "docs.jsonl.gz"
    path.write_text("".join(good_rows(3)))
    assert main(["webr", "dedup", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{path}: not a gzip file" in err
    assert "Traceback" not in err


@pytest.fixture()
def server() -> Any:
    with FakeChatServer(reply=lambda body: "It is 1.") as fake:
        yield fake


@pytest.mark.parametrize(("bad", "reason"), HOSTILE, ids=["nested", "surrogate"])
def test_bridge_skips_a_hostile_row(
    server: FakeChatServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, bad: str, reason: str
) -> None:
    path = with_bad_row(tmp_path, "pairs.jsonl", bad)
    llm = f"openai:fake@{server.base_url}"
    args = ["bmc", "bridge", str(path), "--out", str(tmp_path / "out"), "--llm", llm]
    assert main([*args, "--no-progress"]) == 0
    stats = json.loads((tmp_path / "out" / ".alignkit" / "stats.json").read_text())
    stats = stats.get("stats", stats)
    assert stats["bad_rows"] == {reason: 1}
    assert stats["pairs"] == 8
    assert f"{path}: row 4 skipped ({reason})" in caplog.text


def test_bridge_keeps_the_pairs_before_a_truncation(server: FakeChatServer, tmp_path: Path) -> None:
    data = gzip.compress("".join(good_rows(300)).encode())
    cut = data[: len(data) * 2 // 3]
    path = tmp_path / "pairs.jsonl.gz"
    path.write_bytes(cut)
    llm = f"openai:fake@{server.base_url}"
    args = ["bmc", "bridge", str(path), "--out", str(tmp_path / "out"), "--llm", llm]
    assert main([*args, "--no-progress", "--pairs-per-task", "1000"]) == 0
    stats = json.loads((tmp_path / "out" / ".alignkit" / "stats.json").read_text())
    stats = stats.get("stats", stats)
    assert stats["pairs"] == complete_lines_before_damage(cut)
    assert stats["read_faults"] == {"truncated": 1}


@pytest.mark.skipif(
    importlib.util.find_spec(encoder.DEFAULT_MODEL_PACKAGE) is None,
    reason="default embedding model not installed",
)
def test_score_skips_a_lone_surrogate_before_the_tokenizer(tmp_path: Path) -> None:
    path = with_bad_row(tmp_path, "chat.jsonl", SURROGATE)
    out = tmp_path / "out"
    args = ["webr", "score", str(path), "--out", str(out), "--cache-dir", "none", "--bins", "5"]
    assert main([*args, "--no-progress"]) == 0
    entry = json.loads((out / "report.json").read_text())["datasets"][0]
    assert (entry["examples"], entry["bad_row_reasons"]) == (8, {"lone_surrogate": 1})


def followbench_copy(tmp_path: Path) -> Path:
    data = tmp_path / "fb"
    data.mkdir()
    shutil.copy(FOLLOWBENCH / "content_constraints.json", data)
    return data


def test_followbench_example_id_superscript_two_is_an_id(tmp_path: Path) -> None:
    data = followbench_copy(tmp_path)
    path = data / "content_constraints.json"
    rows = json.loads(path.read_text())
    first = rows[0]["example_id"]
    for row in rows:
        if row["example_id"] == first:
            row["example_id"] = "²"  # str.isdigit() says yes, int() says no
    path.write_text(json.dumps(rows, ensure_ascii=False))
    loaded = load_followbench(data)
    assert "content/²" in {c.chain_id for c in loaded.chains}


def test_followbench_skips_hostile_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "fb"
    data.mkdir()
    rows = json.loads((FOLLOWBENCH / "content_constraints.json").read_text())
    lines = [json.dumps(r) + "\n" for r in rows]
    path = data / "content_constraints.jsonl"
    path.write_text("".join(lines) + NESTED.replace("{", '{"level": 1, ', 1) + SURROGATE)
    loaded = load_followbench(data)
    assert loaded.skipped["record_nested_too_deeply"] == 1
    assert loaded.skipped["record_lone_surrogate"] == 1
    assert len(loaded.chains) == len({r["example_id"] for r in rows})
    assert f"{path}: row {len(lines) + 1} skipped (nested_too_deeply)" in caplog.text


def test_followbench_run_survives_hostile_records(tmp_path: Path) -> None:
    data = followbench_copy(tmp_path)
    (data / "content_constraints.json").unlink()
    rows = json.loads((FOLLOWBENCH / "content_constraints.json").read_text())
    (data / "content_constraints.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + NESTED + SURROGATE
    )
    with FakeChatServer(reply=lambda body: "YES") as fake:
        llm = f"openai:m@{fake.base_url}"
        args = ["followbench", "run", "--data", str(data), "--model", llm, "--judge", llm]
        assert main([*args, "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    assert (tmp_path / "out" / "results.json").is_file()


def test_prepare_reads_a_pipe_through_dev_stdin(tmp_path: Path) -> None:
    shard = write_demo_shards(tmp_path / "in", n_shards=1, docs_per_shard=12)[0]
    out = tmp_path / "out"
    cli = "from alignkit.cli.main import main; raise SystemExit(main())"
    command = [sys.executable, "-c", cli, "webr", "prepare", "/dev/stdin", "--out", str(out)]
    for _ in range(2):  # a pipe has no size or mtime: the second run redoes it
        with open(shard, "rb") as fh:
            piped = subprocess.run(
                [*command, "--no-progress"],
                input=fh.read(),
                capture_output=True,
                check=False,
            )
        assert piped.returncode == 0, piped.stderr.decode()
        assert b"(0 already done)" in piped.stdout
    with gzip.open(out / "stdin.jsonl.gz", "rt") as fh:
        assert sum(1 for _ in fh) > 0
