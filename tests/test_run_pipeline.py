"""`alignkit webr run`: the whole WebR pipeline end to end on small demo shards against the
loopback FakeChatServer; resuming, dry run, configuration changes and the missing-model path."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alignkit.cli.main import main
from alignkit.errors import ConfigError
from alignkit.llm.testing import FakeChatServer
from alignkit.webr import pipeline

WORDS = [
    "garden",
    "bread",
    "river",
    "chess",
    "kayak",
    "compost",
    "espresso",
    "knitting",
    "budget",
    "router",
    "paper",
    "insulation",
    "seedling",
    "flour",
    "hive",
    "running",
    "shoes",
    "watercolour",
    "lifetimes",
    "deadline",
    "chain",
    "opening",
    "gear",
    "travel",
]


def _reply(body: dict[str, Any]) -> str:
    """A distinct, plausible answer per prompt (identical answers would be deduplicated)."""
    digest = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).digest()
    return "Please describe " + " ".join(WORDS[b % len(WORDS)] for b in digest[:16]) + "."


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer(reply=_reply) as srv:
        yield srv


def _args(out: Path, server: FakeChatServer | None, *extra: str) -> list[str]:
    args = [
        "webr",
        "run",
        "--demo",
        "--demo-shards",
        "2",
        "--demo-docs",
        "20",
        "--out",
        str(out),
        "--max-docs",
        "8",
        "--no-progress",
        "--cache-dir",
        str(out.parent / "embeddings"),
    ]
    if server is not None:
        args += ["--llm", f"openai:fake@{server.base_url}"]
    return args + list(extra)


def _run_json(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return data


def test_end_to_end_then_resume(server: FakeChatServer, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "run"
    assert main(_args(out, server)) == 0
    first_hits = server.hits
    assert first_hits > 0
    printed = capsys.readouterr().out
    for n, stage in enumerate(("prepare", "dedup", "synthesize", "score"), 1):
        assert f"[{n}/4] {stage}:" in printed

    for sub in ("1-prepare", "2-dedup"):
        assert sorted(p.name for p in (out / sub).glob("*.jsonl.gz")) == [
            "CC-DEMO-00000.jsonl.gz",
            "CC-DEMO-00001.jsonl.gz",
        ]
        assert (out / sub / ".alignkit" / "stats.json").is_file()
    with gzip.open(out / "3-synthesize" / "synthetic.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    assert rows and all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in rows)
    assert (out / "4-score" / "report.json").is_file()
    assert (out / "4-score" / "report.html").is_file()

    run = _run_json(out)
    assert sorted(run["stages"]) == ["dedup", "prepare", "score", "synthesize"]
    assert all(s["status"] == "ran" for s in run["stages"].values())
    assert run["stages"]["prepare"]["documents_kept"] == run["stages"]["dedup"]["docs_in"]
    assert run["stages"]["synthesize"]["written"] == len(rows)
    assert run["stages"]["synthesize"]["llm_requests_sent"] == first_hits
    assert run["options"]["prepare"]["mode"] == "main"  # `webr run`'s default
    assert run["options"]["prepare"]["languages"] == ["en"]
    assert run["options"]["synthesize"]["max_docs"] == 8  # a flag wins over the demo's 12
    assert run["options"]["synthesize"]["frequency_penalty"] == 0.5
    assert run["stages"]["score"]["examples"] == len(rows)

    # a second run redoes nothing and sends nothing
    server.reset_counters()
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.jsonl.gz")}
    assert main(_args(out, server)) == 0
    assert server.hits == 0
    again = _run_json(out)
    assert all(s["status"] == "skipped" for s in again["stages"].values()), again["stages"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jsonl.gz")} == mtimes
    assert "already done" in capsys.readouterr().out

    # a changed dedup threshold is refused by the dedup stage, with its message
    assert main(_args(out, server, "--threshold", "0.5")) == 2
    err = capsys.readouterr().err
    assert "another configuration" in err and "--overwrite" in err
    refused = _run_json(out)["stages"]
    assert refused["prepare"]["status"] == "skipped" and refused["dedup"]["status"] == "failed"
    assert server.hits == 0

    # ... and accepted with --overwrite: dedup and what follows are redone, prepare is not
    assert main(_args(out, server, "--threshold", "0.5", "--overwrite")) == 0
    stages = _run_json(out)["stages"]
    assert stages["prepare"]["status"] == "skipped"
    assert stages["dedup"]["status"] == "ran" and stages["dedup"]["threshold"] == 0.5
    assert stages["synthesize"]["status"] == "ran"


def test_changed_synthesis_config_is_refused(server: FakeChatServer, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(_args(out, server, "--skip-score")) == 0
    assert _run_json(out)["stages"]["score"] == {"skipped": "skipped on request (--skip-score)"}
    server.reset_counters()
    assert main(_args(out, server, "--skip-score", "--seed", "5")) == 2
    assert server.hits == 0
    failed = _run_json(out)["stages"]["synthesize"]
    assert failed["status"] == "failed" and "another configuration" in failed["error"]
    # a changed extraction mode is refused by the prepare stage
    assert main(_args(out, server, "--skip-score", "--mode", "plain")) == 2
    failed = _run_json(out)["stages"]["prepare"]
    assert failed["status"] == "failed" and "differs in: config.mode" in failed["error"]
    assert server.hits == 0


def test_dry_run_sends_nothing(server: FakeChatServer, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "dry"
    assert main(_args(out, server, "--dry-run")) == 0
    assert server.hits == 0
    printed = capsys.readouterr().out
    assert "===== author =====" in printed
    run = _run_json(out)
    assert run["stages"]["prepare"]["status"] == "ran"
    assert run["stages"]["synthesize"]["status"] == "dry_run"
    assert run["stages"]["score"] == {"skipped": "dry run"}
    assert not (out / "3-synthesize" / "synthetic.jsonl.gz").exists()
    # no --llm is needed for a dry run
    assert main(_args(tmp_path / "dry2", None, "--dry-run")) == 0


def test_missing_model_skips_score(
    server: FakeChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignkit.embed import encoder as embed

    def missing(model: Any = None) -> Path:
        raise embed.ModelNotFoundError("the default embedding model is not installed")

    monkeypatch.setattr(embed, "resolve_model_dir", missing)
    out = tmp_path / "run"
    run = pipeline.run_pipeline(
        pipeline.write_demo_input(out, 1, 15),
        out,
        f"openai:fake@{server.base_url}",
        pipeline.PipelineOptions.from_sections({"synthesize": {"max_docs": 5}}),
        echo=lambda line: None,
    )
    assert run["stages"]["score"] == {"skipped": "the default embedding model is not installed"}
    assert _run_json(out)["stages"]["score"]["skipped"].startswith("the default embedding")
    assert run["stages"]["synthesize"]["written"] > 0


def test_config_file_and_errors(server: FakeChatServer, tmp_path: Path, capsys: Any) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"threshold": 0.8, "max-docs": 4, "skip-score": True}))
    out = tmp_path / "out"
    args = _args(out, server, "--config", str(config))
    args.remove("--max-docs")
    args.remove("8")
    assert main(args) == 0
    run = _run_json(out)
    assert run["options"]["dedup"]["threshold"] == 0.8
    assert run["options"]["synthesize"]["max_docs"] == 4
    assert run["stages"]["synthesize"]["documents"]["used"] <= 4
    capsys.readouterr()
    # an empty --llm, and no input at all, are clear errors
    assert main(["webr", "run", "--out", str(tmp_path / "x"), "--demo", "--llm", ""]) == 2
    assert "--llm must not be empty" in capsys.readouterr().err
    assert main(["webr", "run", "--out", str(tmp_path / "x"), "--llm", "openai:m@x:1"]) == 2
    assert "no input" in capsys.readouterr().err


def test_help(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["webr", "run", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--llm", "--demo", "--dry-run", "--skip-score", "--threshold", "--config"):
        assert flag in text


def test_every_stage_option_in_config_sections(
    server: FakeChatServer, tmp_path: Path, capsys: Any
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        "skip-score: true\n"
        "prepare: {min_text_chars: 20, quality_settings: {min_words: 5}}\n"
        "dedup: {ngram: 4, threshold: 0.9}\n"
        "synthesize: {max_docs: 3, dedup_threshold: 0.8, batch_size: 2, max-tokens: 200}\n"
        "score: {field: both}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = _args(out, server, "--config", str(config), "--threshold", "0.85")
    args.remove("--max-docs")
    args.remove("8")
    assert main(args) == 0, capsys.readouterr().err
    options = _run_json(out)["options"]
    assert options["prepare"]["min_text_chars"] == 20
    assert options["prepare"]["quality_settings"] == {"min_words": 5}
    assert options["dedup"]["ngram"] == 4 and options["dedup"]["threshold"] == 0.85  # flag wins
    assert options["synthesize"]["max_docs"] == 3 and options["synthesize"]["batch_size"] == 2
    assert options["synthesize"]["max_tokens"] == 200
    assert options["synthesize"]["llm"] == f"openai:fake@{server.base_url}"
    assert options["score"]["field"] == "both"
    recorded = json.loads((out / "3-synthesize" / ".alignkit" / "config.json").read_text())
    assert recorded["config"]["dedup_threshold"] == 0.8
    capsys.readouterr()

    # unknown keys in a section, and unknown sections, are errors naming them
    config.write_text("synthesize: {max_doc: 3, colour: red}\n", encoding="utf-8")
    assert main(_args(tmp_path / "bad", server, "--config", str(config))) == 2
    err = capsys.readouterr().err
    assert "synthesize" in err and "colour, max_doc" in err
    config.write_text("synthesise: {max_docs: 3}\n", encoding="utf-8")
    assert main(_args(tmp_path / "bad", server, "--config", str(config))) == 2
    assert "synthesise" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="dedup: unknown option"):
        pipeline.PipelineOptions.from_sections({"dedup": {"treshold": 0.5}})


def test_no_example_written_fails_saying_why(tmp_path: Path, capsys: Any) -> None:
    with FakeChatServer(reply=lambda body: "As an AI language model, I cannot do that.") as srv:
        assert main(_args(tmp_path / "out", srv)) == 1
    assert "no examples written" in capsys.readouterr().err
    failed = _run_json(tmp_path / "out")["stages"]["synthesize"]
    assert failed["status"] == "failed" and "refusal=" in failed["error"]
    assert "score" not in _run_json(tmp_path / "out")["stages"]


def test_a_key_in_the_llm_url_is_never_recorded(tmp_path: Path) -> None:
    secret = "sk-pipelinesecret42"
    with FakeChatServer(reply=_reply) as srv:
        url = srv.base_url.replace("http://", f"http://user:{secret}@")
        out = tmp_path / "run"
        args = _args(out, None, "--llm", f"openai:fake@{url}", "--skip-score")
        assert main(args) == 0
        assert srv.hits > 0
    written = [p for p in out.rglob("*") if p.is_file() and "_demo_input" not in p.parts]
    assert any(p.name == "config.json" for p in written)
    assert any(p.name == "synthetic.jsonl.gz" for p in written)
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        assert secret.encode() not in data, path


def test_run_extracts_main_content_by_default() -> None:
    from alignkit.cli.main import build_parser
    from alignkit.cli.webr import run_sections
    from alignkit.webr.prepare import PrepareConfig

    assert pipeline.PipelineOptions().prepare.mode == "main"
    assert pipeline.PipelineOptions.from_sections({}).prepare.mode == "main"
    plain = pipeline.PipelineOptions.from_sections({"prepare": {"mode": "plain"}})
    assert plain.prepare.mode == "plain"
    assert PrepareConfig().mode == "plain"  # `webr prepare` alone keeps its own default
    parser, _ = build_parser()
    for flags, mode in (([], "main"), (["--mode", "plain"], "plain")):
        args = parser.parse_args(["webr", "run", "shard.warc.gz", "--out", "o", *flags])
        options = pipeline.PipelineOptions.from_sections(run_sections(args))
        assert options.prepare.mode == mode
