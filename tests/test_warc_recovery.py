"""Data-loss reproducers of issue 13: damaged WARC input costs at most the damaged record.

Each case goes through the public reader (`alignkit.webr.WarcReader`) and, where the issue
reported it there, through `alignkit webr prepare`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from alignkit.cli import main
from alignkit.data import demo
from alignkit.webr import WarcReader

import warcbuild as wb

HERE = Path(__file__).resolve().parent


def _records(n: int = 10) -> list[bytes]:
    return [
        wb.record(
            wb.http_response(wb.html_page(f"Page {i}", f"paragraph number {i} " * 30)),
            uri=f"https://example.org/{i}",
        )
        for i in range(n)
    ]


def _blocks(path_or_bytes: Path | bytes) -> list[bytes]:
    return [r.block for r in WarcReader(path_or_bytes)]


def _block_of(raw: bytes) -> bytes:
    return raw[raw.index(b"\r\n\r\n") + 4 : -4]


def _complete_records_in_prefix(compressed: bytes) -> int:
    """Records wholly inside what zlib decodes from a damaged gzip stream, up to the first one
    that is cut off or garbled."""
    d = zlib.decompressobj(31)
    out = b""
    for i in range(0, len(compressed), 512):
        try:
            out += d.decompress(compressed[i : i + 512])
        except zlib.error:
            break
    count, pos = 0, 0
    while (head_end := out.find(b"\r\n\r\n", pos)) >= 0:
        head = out[pos:head_end].decode("utf-8", "replace")
        lengths = [
            line.split(":", 1)[1].strip()
            for line in head.split("\r\n")
            if line.lower().startswith("content-length:")
        ]
        end = head_end + 4 + int(lengths[0]) if lengths and lengths[0].isdigit() else -1
        if not head.startswith("WARC/1.") or not 0 <= end <= len(out):
            break  # cut off, or bytes the damage garbled
        count += 1
        pos = end + 4
    return count


def _prepare(inputs: list[str], out: Path) -> dict:
    code = main(["webr", "prepare", *inputs, "--out", str(out), "--no-progress"])
    stats_path = out / ".alignkit" / "stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    return {"code": code, **stats}  # the stage's stats.json: {"stats": {...}, ...}


@pytest.fixture(scope="module")
def stream_shard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "demo.warc.gz"
    demo.write_demo_warc(path, n_docs=200, compression="gzip-stream")
    return path


@pytest.mark.parametrize("keep", [0.35, 0.7, 0.97])
def test_truncated_whole_file_gzip_keeps_records_before_the_cut(
    stream_shard: Path, tmp_path: Path, keep: float
) -> None:
    data = stream_shard.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: int(len(data) * keep)])
    expected = _complete_records_in_prefix(cut.read_bytes())
    assert expected > 200 * 3 * keep * 0.7  # the cut leaves many whole records
    assert len(_blocks(cut)) == expected
    assert len(_blocks(cut.read_bytes())) == expected
    # And prepare turns them into documents (it found none before).
    result = _prepare([str(cut)], tmp_path / "out")
    assert result["code"] == 0
    stats = result["stats"]
    # records_read also counts the cut record when its header survived the cut
    assert stats["records_read"] in (expected, expected + 1)
    assert stats["documents_kept"] > 0.5 * 200 * keep
    assert stats["faults"]["truncated"] == 1


def test_corrupt_byte_in_whole_file_gzip_keeps_records_before_it(
    stream_shard: Path, tmp_path: Path
) -> None:
    data = bytearray(stream_shard.read_bytes())
    mid = len(data) // 2
    for i in range(mid, mid + 8):
        data[i] ^= 0x5A
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(bytes(data))
    expected = _complete_records_in_prefix(bytes(data))
    got = len(_blocks(bad))
    assert got >= expected - 1 and got > 100  # at most the record the damage cut


def test_huge_content_length_does_not_hide_later_records() -> None:
    recs = _records()
    bad = list(recs)
    bad[5] = bad[5].replace(
        f"Content-Length: {len(_block_of(recs[5]))}".encode(), b"Content-Length: 99999999999"
    )
    for data in (b"".join(bad), b"".join(wb.gz(r) for r in bad), wb.gz(b"".join(bad))):
        blocks = _blocks(data)
        kept = [i for i, r in enumerate(recs) if _block_of(r) in blocks]
        assert [i for i in range(10) if i != 5] == [i for i in kept if i != 5]


def test_record_without_blank_line_does_not_swallow_the_next() -> None:
    recs = _records()
    bad = [r[:-4] if i == 3 else r for i, r in enumerate(recs)]
    for data in (b"".join(bad), b"".join(wb.gz(r) for r in bad), wb.gz(b"".join(bad))):
        assert _blocks(data) == [_block_of(r) for r in recs]


def test_damaged_member_header_through_a_pipe_costs_one_record(tmp_path: Path) -> None:
    recs = _records(20)
    members = [wb.gz(r) for r in recs]
    members[6] = members[6][:3] + bytes([members[6][3] | 0x04]) + members[6][4:]  # FEXTRA
    path = tmp_path / "members.warc.gz"
    path.write_bytes(b"".join(members))
    code = (
        "import sys; from alignkit.webr import WarcReader\n"
        "print(sum(1 for _ in WarcReader('/dev/stdin')))\n"
    )
    done = subprocess.run(  # `input=` makes stdin a pipe
        [sys.executable, "-c", code], input=path.read_bytes(), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 19
    assert len(_blocks(path)) == 19


def test_prepare_reads_stdin(stream_shard: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = (
        "import sys\n"
        "from alignkit.cli import main\n"
        "sys.exit(main(['webr', 'prepare', '/dev/stdin', '--out', sys.argv[1], '--no-progress']))\n"
    )
    done = subprocess.run(  # `input=` makes stdin a pipe
        [sys.executable, "-c", code, str(out)],
        input=stream_shard.read_bytes(),
        capture_output=True,
        timeout=300,
    )
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, stderr
    assert list(out.glob("*.jsonl.gz"))


def test_file_shrinking_under_the_reader_is_an_error_not_a_signal(tmp_path: Path) -> None:
    path = tmp_path / "shrinks.warc"
    path.write_bytes(b"".join(_records(400)))
    code = (
        "import os, sys\n"
        "from alignkit.webr import WarcReader\n"
        "r = WarcReader(sys.argv[1])\n"
        "next(r)\n"
        "os.truncate(sys.argv[1], 1000)\n"
        "try:\n"
        "    n = sum(1 for _ in r)\n"
        "except OSError as e:\n"
        "    print('error:', e)\n"
        "else:\n"
        "    print('no error after', n)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, (done.returncode, done.stderr)  # -7 was SIGBUS
    assert done.stdout.startswith("error:") and "shrank" in done.stdout
