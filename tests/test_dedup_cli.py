"""`alignkit webr dedup` end to end: several shards, formats, resume, config checks."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from alignkit.cli.main import main
from alignkit.errors import ConfigError
from alignkit.webr import DedupConfig, DedupConfigError, dedup_files


def read_stats(out: Path) -> dict:
    return json.loads((out / ".alignkit" / "stats.json").read_text())["stats"]


def recorded_config(out: Path) -> dict:
    return json.loads((out / ".alignkit" / "config.json").read_text())["config"]


def clusters_file(out: Path) -> Path:
    return out / ".alignkit" / "clusters" / "clusters.jsonl.gz"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alignkit.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def make_docs(seed: int, n: int, shard: str) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "id": f"{shard}-{i}",
            "url": f"https://example.org/{shard}/{i}",
            "date": "2024-01-01T00:00:00Z",
            "title": f"doc {i}",
            "text": " ".join(f"{shard}w{rng.randrange(100000)}" for _ in range(120)),
            "lang_hint": "en",
            "source_shard": f"{shard}.warc.gz",
            "record_offset": i * 1000,
        }
        for i in range(n)
    ]


def edit(text: str, k: int, seed: int) -> str:
    rng = random.Random(seed)
    words = text.split()
    for i in rng.sample(range(len(words)), k):
        words[i] = f"edit{rng.randrange(10**6)}"
    return " ".join(words)


def write_jsonl(path: Path, docs: list[dict]) -> Path:
    data = "".join(json.dumps(d) + "\n" for d in docs).encode()
    if path.name.endswith(".gz"):
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture()
def shards(tmp_path: Path) -> list[Path]:
    """Three shards; across them: 2 exact copies and 3 near copies of shard a's documents."""
    a = make_docs(1, 40, "a")
    b = make_docs(2, 40, "b")
    c = make_docs(3, 30, "c")
    b[5] = {**b[5], "text": a[0]["text"]}  # exact duplicate across shards
    c[0] = {**c[0], "text": a[1]["text"].upper()}  # exact after normalisation
    b[6] = {**b[6], "text": edit(a[2]["text"], 1, 1)}  # near duplicates
    c[1] = {**c[1], "text": edit(a[2]["text"], 2, 2)}
    a[39] = {**a[39], "text": edit(a[3]["text"], 1, 3)}
    src = tmp_path / "in"
    src.mkdir()
    return [
        write_jsonl(src / "a.jsonl.gz", a),
        write_jsonl(src / "b.jsonl.gz", b),
        write_jsonl(src / "c.jsonl.gz", c),
    ]


def test_cli_dedups_several_shards_and_resumes(tmp_path: Path, shards: list[Path]) -> None:
    out = tmp_path / "out"
    args = ["webr", "dedup", *map(str, shards), "--out", str(out), "--no-progress"]
    assert main([*args, "--write-clusters"]) == 0
    stats = read_stats(out)
    assert stats["docs_in"] == 110
    assert stats["exact_removed"] == 2
    assert stats["near_removed"] == 3
    assert stats["docs_kept"] == 105
    assert (stats["bands"], stats["rows"]) == (14, 9)
    assert stats["duplicate_clusters"] == 4
    kept = {p.name: read_jsonl(out / p.name) for p in shards}
    assert len(kept["a.jsonl.gz"]) == 39 and len(kept["b.jsonl.gz"]) == 38
    assert len(kept["c.jsonl.gz"]) == 28
    ids = {d["id"] for docs in kept.values() for d in docs}
    assert "b-5" not in ids and "c-0" not in ids and "a-39" not in ids and "a-0" in ids
    assert set(kept["a.jsonl.gz"][0]) == set(make_docs(0, 1, "x")[0])
    clusters = read_jsonl(clusters_file(out))
    assert {c["id"] for c in clusters if not c["kept"]} == {"b-5", "c-0", "b-6", "c-1", "a-39"}
    assert not list((out / ".alignkit" / "tmp").iterdir())
    # OUT holds the kept documents only
    assert sorted(p.name for p in out.iterdir()) == [".alignkit", *sorted(p.name for p in shards)]
    # resume: nothing is recomputed, outputs untouched
    mtimes = {p.name: (out / p.name).stat().st_mtime_ns for p in shards}
    assert main([*args, "--write-clusters"]) == 0
    assert mtimes == {p.name: (out / p.name).stat().st_mtime_ns for p in shards}
    # an interrupted run (output of one shard lost) redoes only that shard
    (out / "b.jsonl.gz").unlink()
    assert main([*args, "--write-clusters"]) == 0
    assert len(read_jsonl(out / "b.jsonl.gz")) == 38
    assert (out / "a.jsonl.gz").stat().st_mtime_ns == mtimes["a.jsonl.gz"]


def test_cli_refuses_changed_config_unless_overwrite(tmp_path: Path, shards: list[Path]) -> None:
    out = tmp_path / "out"
    base = ["webr", "dedup", *map(str, shards), "--out", str(out), "--no-progress"]
    assert run_cli(*base).returncode == 0
    res = run_cli(*base, "--threshold", "0.5")
    assert res.returncode == 2 and "threshold" in res.stderr and "--overwrite" in res.stderr
    res = run_cli(*base, "--threshold", "0.5", "--overwrite")
    assert res.returncode == 0, res.stderr
    assert read_stats(out)["bands"] == 25


def test_cli_keep_longest_exact_only_and_config_file(tmp_path: Path, shards: list[Path]) -> None:
    out = tmp_path / "out"
    config = tmp_path / "dedup.toml"
    config.write_text('near = false\nkeep = "longest"\nnum_perm = 64\n')
    res = run_cli("webr", "dedup", *map(str, shards), "--out", str(out), "--config", str(config))
    assert res.returncode == 0, res.stderr
    stats = read_stats(out)
    assert stats["exact_removed"] == 2 and stats["near_removed"] == 0
    config = recorded_config(out)
    assert config["num_perm"] == 64 and config["keep"] == "longest" and config["near"] is False
    assert "108/110 documents kept" in res.stdout


def test_jsonl_with_text_field_and_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    docs = make_docs(9, 20, "r")
    requests = [{"request": d["text"], "rid": i} for i, d in enumerate(docs)]
    requests.append({"request": edit(docs[0]["text"], 1, 9), "rid": 99})
    src = write_jsonl(tmp_path / "requests.jsonl", requests)
    out = tmp_path / "out"
    cfg = DedupConfig(text_field="request", id_field="rid", write_clusters=True)
    stats = dedup_files([src], out, cfg, progress=False)
    assert stats["near_removed"] == 1 and stats["docs_kept"] == 20
    assert [r["rid"] for r in read_jsonl(out / "requests.jsonl")] == list(range(20))
    assert {c["id"] for c in read_jsonl(Path(stats["clusters_file"]))} == {0, 99}
    table = pa.Table.from_pylist(docs + [docs[3]])
    pq.write_table(table, tmp_path / "docs.parquet")
    out2 = tmp_path / "out2"
    stats = dedup_files([tmp_path / "docs.parquet"], out2, progress=False)
    assert stats["exact_removed"] == 1
    kept = pq.read_table(out2 / "docs.parquet")
    assert kept.num_rows == 20 and kept.schema == table.schema


def test_token_id_field(tmp_path: Path) -> None:
    rng = random.Random(4)
    rows = [{"ids": [rng.randrange(30000) for _ in range(80)], "n": i} for i in range(15)]
    near = list(rows[2]["ids"])
    near[40] = 99999
    rows.append({"ids": near, "n": 15})
    rows.append({"ids": list(rows[5]["ids"]), "n": 16})
    src = write_jsonl(tmp_path / "gen.jsonl.gz", rows)
    out = tmp_path / "out"
    assert main(["webr", "dedup", str(src), "--out", str(out), "--text-field", "ids"]) == 0
    stats = read_stats(out)
    assert (stats["exact_removed"], stats["near_removed"]) == (1, 1)
    assert [r["n"] for r in read_jsonl(out / "gen.jsonl.gz")] == list(range(15))
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [{"text": "a"}, {"text": [1, 2]}])
    res = run_cli("webr", "dedup", str(mixed), "--out", str(tmp_path / "o2"))
    assert res.returncode == 1 and "lists of ints" in res.stderr and "mixed" in res.stderr


def test_clear_errors(tmp_path: Path, shards: list[Path]) -> None:
    out = tmp_path / "out"
    res = run_cli("webr", "dedup", str(shards[0]))
    assert res.returncode != 0 and "--out is required" in res.stderr
    res = run_cli("webr", "dedup", "--out", str(out))
    assert res.returncode == 2 and "no input" in res.stderr
    res = run_cli("webr", "dedup", str(tmp_path / "missing.jsonl.gz"), "--out", str(out))
    assert res.returncode == 2 and "not found" in res.stderr
    res = run_cli("webr", "dedup", str(shards[0]), "--out", str(out), "--text-field", "body")
    assert res.returncode == 1 and "no field 'body'" in res.stderr  # a failed task, named
    res = run_cli("webr", "dedup", str(shards[0]), "--out", str(out / "x"), "--bands", "3")
    assert res.returncode == 2 and "bands and rows" in res.stderr
    bad = tmp_path / "notes.txt"
    bad.write_text("hi")
    res = run_cli("webr", "dedup", str(bad), "--out", str(out / "y"))
    assert res.returncode == 2 and "unsupported input" in res.stderr
    with pytest.raises(DedupConfigError):
        DedupConfig(scheme="datasketch", seed=2**40)
    with pytest.raises(ConfigError, match="partitions"):
        DedupConfig(partitions=0)
    help_out = run_cli("webr", "dedup", "--help")
    assert help_out.returncode == 0 and "--threshold" in help_out.stdout
