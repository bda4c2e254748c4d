"""The command line's shared options: `--config` and `-v/-q` on every command, declared once in
`alignkit.cli.main`, and the cache root that `webr score` falls back to."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from alignkit.cli.main import build_parser, main


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_every_command_takes_config_and_log_level_flags() -> None:
    _, leaves = build_parser()
    assert {"llm serve", "webr score", "bmc train", "followbench list"} <= set(leaves)
    for name, leaf in leaves.items():
        assert {"--config", "-v", "--verbose", "-q", "--quiet"} <= _flags(leaf), name


def test_llm_serve_reads_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import alignkit.cli.llm as cli_llm

    seen: dict[str, Any] = {}

    def fake_serve(args: argparse.Namespace) -> int:
        seen.update(vars(args))
        return 0

    monkeypatch.setattr(cli_llm, "_cmd_serve", fake_serve)
    config = tmp_path / "serve.yaml"
    config.write_text("port: 0\nserved-name: tiny\nhost: 127.0.0.2\n", encoding="utf-8")
    assert main(["llm", "serve", "--config", str(config), "--host", "127.0.0.3"]) == 0
    # config keys are option names; a flag on the command line wins over the file
    assert (seen["port"], seen["served_name"], seen["host"]) == (0, "tiny", "127.0.0.3")


def test_unknown_config_key_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "serve.json"
    config.write_text(json.dumps({"prot": 8001}), encoding="utf-8")
    assert main(["llm", "serve", "--config", str(config)]) == 2
    assert "unknown option(s) in config file: prot" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "verbose", "quiet"),
    [
        (["-v", "followbench", "list"], True, False),
        (["followbench", "list", "-v"], True, False),
        (["followbench", "list", "--quiet"], False, True),
        (["-q", "followbench", "list"], False, True),
        (["followbench", "list"], False, False),
    ],
)
def test_log_flags_before_or_after_the_command(argv: list[str], verbose: bool, quiet: bool) -> None:
    parser, _ = build_parser()
    args = parser.parse_args(argv)
    assert (args.verbose, args.quiet) == (verbose, quiet)


def test_quiet_sets_the_log_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    levels: list[int] = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: levels.append(kw["level"]))
    assert main(["followbench", "list", "-q"]) == 0
    assert main(["-v", "followbench", "list"]) == 0
    assert levels == [logging.WARNING, logging.DEBUG]
    assert "categories" in capsys.readouterr().out


def test_verbose_and_quiet_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["-v", "followbench", "list", "-q"])
    assert exc.value.code == 2
    assert "not both" in capsys.readouterr().err


def test_webr_score_caches_under_alignkit_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import alignkit.webr.score as score

    configs: list[Any] = []

    def fake_score(datasets: Any, out: Any, config: Any, **_: Any) -> dict[str, Any]:
        configs.append(config)
        return {"datasets": [], "seconds": 0.0}

    monkeypatch.setattr(score, "score_datasets", fake_score)
    monkeypatch.setenv("ALIGNKIT_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n", encoding="utf-8")
    out = ["--out", str(tmp_path / "report")]
    assert main(["webr", "score", str(data), *out]) == 0
    assert main(["webr", "score", str(data), *out, "--cache-dir", str(tmp_path / "mine")]) == 0
    assert main(["webr", "score", str(data), *out, "--no-cache"]) == 0
    assert [c.resolved_cache_dir() for c in configs] == [
        tmp_path / "cache" / "embeddings",
        tmp_path / "mine",
        None,
    ]


@pytest.mark.parametrize(
    ("text", "near"),
    [("near: false\n", False), ("no-near: true\n", False), ("no_near: false\n", True)],
)
def test_config_file_negated_boolean_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, near: bool
) -> None:
    import alignkit.cli.webr as cli_webr

    seen: dict[str, Any] = {}

    def fake_dedup(args: argparse.Namespace) -> int:
        seen.update(vars(args))
        return 0

    monkeypatch.setattr(cli_webr, "_cmd_dedup", fake_dedup)
    config = tmp_path / "dedup.yaml"
    config.write_text(text, encoding="utf-8")
    assert (
        main(["webr", "dedup", "x.jsonl", "--out", str(tmp_path / "o"), "--config", str(config)])
        == 0
    )
    assert seen["near"] is near
