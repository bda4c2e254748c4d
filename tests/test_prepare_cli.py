"""`alignkit webr prepare` end to end through the real command line."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import alignkit
import alignkit._core
from alignkit.cli.main import main
from alignkit.errors import ConfigMismatchError
from alignkit.webr import PrepareConfig, PrepareConfigError, prepare

DOC_KEYS = {
    "id",
    "url",
    "date",
    "title",
    "text",
    "lang_hint",
    "lang",
    "lang_score",
    "source_shard",
    "record_offset",
}


def read_stats(out: Path) -> dict:
    return json.loads((out / ".alignkit" / "stats.json").read_text())["stats"]


def recorded_config(out: Path) -> dict:
    return json.loads((out / ".alignkit" / "config.json").read_text())["config"]


def read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alignkit.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_installed_package_is_used() -> None:
    # `make test` installs the wheel; tests must exercise it, not the source tree.
    if os.environ.get("ALIGNKIT_DEV_TREE"):
        pytest.skip("ALIGNKIT_DEV_TREE set: testing a development build")
    assert "site-packages" in Path(alignkit.__file__).parts
    assert Path(alignkit._core.__file__).suffix in (".so", ".pyd")


@pytest.mark.parametrize(
    "args",
    [[], ["webr"], ["webr", "prepare"], ["webr", "dedup"], ["data"], ["data", "demo-data"]],
)
def test_help_everywhere(args: list[str]) -> None:
    out = run_cli(*args, "--help")
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout


def test_prepare_common_crawl_sample_yields_wikipedia_text(tmp_path, cc_warc, cc_wet) -> None:
    out = tmp_path / "out"
    res = run_cli("webr", "prepare", str(cc_warc), str(cc_wet), "--out", str(out))
    assert res.returncode == 0, res.stderr
    docs = read_jsonl_gz(out / "whirlwind.jsonl.gz")
    assert len(docs) == 1
    doc = docs[0]
    assert set(doc) == DOC_KEYS
    assert doc["url"] == "https://an.wikipedia.org/wiki/Escopete"
    assert "Escopete" in doc["title"]
    assert "Escopete" in doc["text"] and "municipio" in doc["text"]
    assert "<" not in doc["text"][:200]
    assert doc["lang_hint"] == "an"
    assert doc["source_shard"] == "whirlwind.warc.gz"
    wet_docs = read_jsonl_gz(out / "whirlwind.wet.jsonl.gz")
    assert wet_docs and "Escopete" in wet_docs[0]["text"]
    report = json.loads((out / ".alignkit" / "stats.json").read_text())
    assert report["stats"]["documents_kept"] == 2
    assert report["tasks"] == {"total": 2, "done_before": 0, "run": 2, "failed": 0}


def test_demo_job_outputs_stats_and_resumes(tmp_path, demo_shards) -> None:
    out = tmp_path / "out"
    assert (
        main(["webr", "prepare", *map(str, demo_shards), "--out", str(out), "--no-progress"]) == 0
    )
    stats = read_stats(out)
    for key in ("records_seen", "documents_kept", "skipped", "faults", "bytes_in", "seconds"):
        assert key in stats
    assert stats["documents_kept"] > 0
    assert stats["skipped"].get("non_html", 0) > 0
    assert sum(stats["faults"].values()) > 0  # the demo injects broken records
    assert sum(stats["dropped"].values()) > 0  # and junk pages the quality filters catch
    assert {"en", "de", "fr"} <= set(stats["languages"])
    outputs = sorted(out.glob("*.jsonl.gz"))
    assert len(outputs) == len(demo_shards)
    docs = [d for p in outputs for d in read_jsonl_gz(p)]
    assert len(docs) == stats["documents_kept"]
    assert all(set(d) == DOC_KEYS and d["text"] for d in docs)
    assert not list((out / ".alignkit" / "tmp").iterdir())
    assert sorted(p.name for p in out.iterdir()) == [".alignkit", *(p.name for p in outputs)]

    mtimes = {p: p.stat().st_mtime_ns for p in outputs}
    again = prepare(demo_shards, out, progress=False)
    assert again["shards_skipped_existing"] == len(demo_shards)
    assert again["documents_kept"] == stats["documents_kept"]
    assert {p: p.stat().st_mtime_ns for p in outputs} == mtimes

    # A lost output file is redone; others are kept.
    outputs[0].unlink()
    third = prepare(demo_shards, out, progress=False)
    assert third["shards_skipped_existing"] == len(demo_shards) - 1
    assert outputs[0].exists()


def test_changed_config_is_refused_then_overwritten(tmp_path, clean_demo_shard) -> None:
    out = tmp_path / "out"
    prepare([clean_demo_shard], out, progress=False)
    with pytest.raises(ConfigMismatchError, match="min_text_chars"):
        prepare([clean_demo_shard], out, PrepareConfig(min_text_chars=500), progress=False)
    res = run_cli(
        "webr", "prepare", str(clean_demo_shard), "--out", str(out), "--min-text-chars", "500"
    )
    assert res.returncode == 2 and "another configuration" in res.stderr
    stats = prepare(
        [clean_demo_shard], out, PrepareConfig(min_text_chars=500), progress=False, overwrite=True
    )
    assert stats["shards_skipped_existing"] == 0
    assert stats["skipped"].get("empty_text", 0) > 0


def test_workers_give_identical_output(tmp_path, demo_shards) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    prepare(demo_shards, one, progress=False)
    stats = prepare(demo_shards, two, workers=2, progress=False)
    assert stats["workers"] == 2 and not stats["failed_shards"]
    for path in sorted(one.glob("*.jsonl.gz")):
        assert read_jsonl_gz(path) == read_jsonl_gz(two / path.name)


def test_parquet_output(tmp_path, clean_demo_shard) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    jsonl, parquet = tmp_path / "j", tmp_path / "p"
    prepare([clean_demo_shard], jsonl, progress=False)
    prepare([clean_demo_shard], parquet, PrepareConfig(output_format="parquet"), progress=False)
    table = pq.read_table(next(parquet.glob("*.parquet")))
    assert set(table.column_names) == DOC_KEYS
    assert table.to_pylist() == read_jsonl_gz(next(jsonl.glob("*.jsonl.gz")))


def test_config_file_equals_flags(tmp_path, clean_demo_shard) -> None:
    cfg = tmp_path / "prepare.toml"
    cfg.write_text(
        f'shards = ["{clean_demo_shard}"]\nout = "{tmp_path / "a"}"\n'
        "min-text-chars = 200\nno_progress = true\n"
    )
    assert main(["webr", "prepare", "--config", str(cfg)]) == 0
    assert (
        main(
            [
                "webr",
                "prepare",
                str(clean_demo_shard),
                "--out",
                str(tmp_path / "b"),
                "--min-text-chars",
                "200",
                "--no-progress",
            ]
        )
        == 0
    )
    a, b = recorded_config(tmp_path / "a"), recorded_config(tmp_path / "b")
    assert a == b and a["min_text_chars"] == 200
    bad = tmp_path / "bad.json"
    bad.write_text('{"min_chars": 3}')
    assert main(["webr", "prepare", "--config", str(bad), "--out", str(tmp_path / "c")]) == 2


def test_clear_errors(tmp_path, clean_demo_shard) -> None:
    res = run_cli("webr", "prepare", str(tmp_path / "missing.warc.gz"), "--out", str(tmp_path))
    assert res.returncode == 2 and "not found" in res.stderr
    res = run_cli("webr", "prepare", str(tmp_path / "*.nothing"), "--out", str(tmp_path))
    assert res.returncode == 2 and "no files match" in res.stderr
    res = run_cli("webr", "prepare", str(clean_demo_shard))
    assert res.returncode == 2 and "--out" in res.stderr
    res = run_cli(
        "webr", "prepare", str(clean_demo_shard), "--out", str(tmp_path / "x"), "--workers", "0"
    )
    assert res.returncode == 2 and "workers" in res.stderr
    with pytest.raises(PrepareConfigError, match="min_lang_confidence"):
        PrepareConfig(min_lang_confidence=2.0)
    res = run_cli(
        "webr",
        "prepare",
        str(clean_demo_shard),
        "--out",
        str(tmp_path / "k"),
        "--keep-dropped",
        str(tmp_path / "k" / "dropped"),
    )
    assert res.returncode == 2 and "inside --out" in res.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = run_cli("webr", "prepare", str(clean_demo_shard), "--out", str(blocker / "sub"))
    assert res.returncode == 2 and "not writable" in res.stderr


def test_unreadable_shard_is_reported_and_others_finish(tmp_path, clean_demo_shard) -> None:
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(b"this is not a warc file at all\n" * 100)
    out = tmp_path / "out"
    stats = prepare([junk, clean_demo_shard], out, progress=False)
    assert stats["documents_kept"] > 0
    assert list(stats["failed_shards"]) == [str(junk.resolve())]
    assert "no WARC records" in stats["failed_shards"][str(junk.resolve())]
    assert not (out / "junk.jsonl.gz").exists()
    # the command line names the file and exits 1; a re-run retries only the failed shard
    res = run_cli("webr", "prepare", str(junk), str(clean_demo_shard), "--out", str(out))
    assert res.returncode == 1
    assert "junk" in res.stderr and "no WARC records" in res.stderr
    assert "(1 already done)" in res.stdout


def test_nothing_kept_exits_non_zero_saying_why(tmp_path, clean_demo_shard) -> None:
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    res = run_cli("webr", "prepare", str(empty), "--out", str(tmp_path / "e"))
    assert res.returncode == 1 and "empty.warc.gz" in res.stderr and "no WARC records" in res.stderr
    args = [
        "webr",
        "prepare",
        str(clean_demo_shard),
        "--no-progress",
        "--min-text-chars",
        "1000000000",
    ]
    assert main([*args, "--out", str(tmp_path / "x")]) == 1  # every page too short


def test_demo_command_is_the_readme_main_job(tmp_path) -> None:
    res = run_cli(
        "webr",
        "prepare",
        "--demo",
        "--demo-shards",
        "2",
        "--demo-docs",
        "30",
        "--out",
        str(tmp_path / "demo-out"),
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "documents" in res.stdout
    assert len(list((tmp_path / "demo-out").glob("*.jsonl.gz"))) == 2
    again = run_cli(
        "webr",
        "prepare",
        "--demo",
        "--demo-shards",
        "2",
        "--demo-docs",
        "30",
        "--out",
        str(tmp_path / "demo-out"),
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert "(2 already done)" in again.stdout


def test_keep_dropped_and_language_filter(tmp_path, demo_shards) -> None:
    out, dropped_dir = tmp_path / "out", tmp_path / "dropped"
    res = run_cli(
        "webr",
        "prepare",
        *map(str, demo_shards),
        "--out",
        str(out),
        "--langs",
        "en,de",
        "--keep-dropped",
        str(dropped_dir),
    )
    assert res.returncode == 0, res.stderr
    stats = read_stats(out)
    assert set(stats["languages"]) <= {"en", "de"}
    assert stats["dropped"]["lang_not_allowed"] > 0
    dropped = [d for p in sorted(dropped_dir.glob("*.dropped.jsonl.gz")) for d in read_jsonl_gz(p)]
    assert len(dropped) == sum(stats["dropped"].values())
    reasons = {d["drop_reason"] for d in dropped}
    assert reasons == set(stats["dropped"])
    assert all(
        d["drop_reason"] != "lang_not_allowed" or d["lang"] not in ("en", "de") for d in dropped
    )
    kept = [d for p in sorted(out.glob("*.jsonl.gz")) for d in read_jsonl_gz(p)]
    assert kept and all(d["lang"] in ("en", "de") for d in kept)
    saved = recorded_config(out)
    assert saved["languages"] == ["en", "de"]
    assert saved["quality_settings"]["min_words"] == 50  # resolved defaults are saved


def test_quality_flags_equal_yaml_config(tmp_path, clean_demo_shard) -> None:
    cfg = tmp_path / "prepare.yaml"
    cfg.write_text(
        "min-words: 80\nmax_symbol_word_ratio: none\nscrub-pii: true\nno_progress: true\n"
    )
    assert (
        main(
            [
                "webr",
                "prepare",
                str(clean_demo_shard),
                "--out",
                str(tmp_path / "a"),
                "--config",
                str(cfg),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "webr",
                "prepare",
                str(clean_demo_shard),
                "--out",
                str(tmp_path / "b"),
                "--min-words",
                "80",
                "--max-symbol-word-ratio",
                "none",
                "--scrub-pii",
                "--no-progress",
            ]
        )
        == 0
    )
    a, b = recorded_config(tmp_path / "a"), recorded_config(tmp_path / "b")
    assert a == b
    q = a["quality_settings"]
    assert q["min_words"] == 80 and q["max_symbol_word_ratio"] is None and q["scrub_pii"] is True
    res = run_cli(
        "webr",
        "prepare",
        str(clean_demo_shard),
        "--out",
        str(tmp_path / "c"),
        "--min-words",
        "lots",
    )
    assert res.returncode == 2 and "min-words" in res.stderr


def test_no_quality_filter_keeps_more(tmp_path, demo_shards) -> None:
    filtered = prepare(demo_shards, tmp_path / "f", progress=False)
    unfiltered = prepare(demo_shards, tmp_path / "u", PrepareConfig(quality=False), progress=False)
    assert unfiltered["dropped"] == {}
    assert unfiltered["documents_kept"] == filtered["documents_kept"] + sum(
        filtered["dropped"].values()
    )
