"""The `alignkit` command line: one entry point, one subcommand per job.

Every option can also come from a config file (`--config FILE`, YAML, TOML or JSON) whose keys
are the option names (`max-block-mb` or `max_block_mb`); flags given on the command line win.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignkit import __version__
from alignkit.cli.options import add_demo_flags

log = logging.getLogger("alignkit")


def _load_config_file(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    text = file.read_text(encoding="utf-8")
    suffix = file.suffix.lower()
    if suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        data = tomllib.loads(text)
    elif suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a table/object of option names")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _apply_config(parser: argparse.ArgumentParser, config: dict[str, Any]) -> None:
    """Config values become parser defaults, so explicit flags still override them."""
    known = {}
    for action in parser._actions:
        if action.dest in ("help", "config"):
            continue
        known[action.dest] = action
        # Long option aliases (`--output-dir` for `out`) are valid keys too.
        for flag in action.option_strings:
            if flag.startswith("--"):
                known.setdefault(flag[2:].replace("-", "_"), action)
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ValueError(f"unknown option(s) in config file: {', '.join(unknown)}")
    defaults = {}
    for key, value in config.items():
        action = known[key]
        if action.nargs in ("*", "+") and isinstance(value, str):
            value = [value]
        defaults[action.dest] = value
    parser.set_defaults(**defaults)


def _add_prepare(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "prepare",
        help="Common Crawl WARC/WET shards to text documents",
        description=(
            "Read WARC/WET shards (local paths or globs), extract the text of every HTML page, and "
            "write one compressed JSONL (or Parquet) file of documents per shard, plus stats.json. "
            "Re-running the same command skips finished shards."
        ),
    )
    p.add_argument("shards", nargs="*", metavar="SHARD", help="WARC/WET files or glob patterns")
    p.add_argument("--out", required=False, help="output directory (required)")
    p.add_argument("--config", help="YAML, TOML or JSON file of options (keys = option names)")
    p.add_argument("--workers", type=int, default=1, help="shards processed in parallel")
    p.add_argument(
        "--format",
        dest="output_format",
        choices=["jsonl", "parquet"],
        default="jsonl",
        help="jsonl = gzip-compressed JSON lines (default)",
    )
    p.add_argument(
        "--mode",
        choices=["plain", "main"],
        default="plain",
        help="text extraction mode ('main' = main content only, boilerplate removed)",
    )
    p.add_argument(
        "--min-text-chars",
        type=int,
        default=1,
        help="drop documents with less extracted text than this",
    )
    p.add_argument(
        "--max-block-mb",
        type=float,
        default=16.0,
        help="skip records larger than this (counted as oversize)",
    )
    p.add_argument(
        "--include-non-2xx",
        action="store_true",
        help="also keep pages whose HTTP status is not 2xx",
    )
    p.add_argument(
        "--langs",
        type=_comma_list,
        default=[],
        help="keep only these languages (ISO 639-1, comma-separated); default: all",
    )
    p.add_argument(
        "--min-lang-confidence",
        type=float,
        default=0.0,
        help="drop documents whose language guess is less confident (0..1)",
    )
    p.add_argument(
        "--no-quality-filter",
        action="store_true",
        help="turn off the quality filters and line cleanup",
    )
    p.add_argument(
        "--keep-dropped",
        metavar="DIR",
        help="write dropped documents with their reasons to DIR for inspection",
    )
    _add_quality_flags(p)
    p.add_argument(
        "--overwrite", action="store_true", help="discard results made with another configuration"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_demo_flags(p)
    p.set_defaults(handler=_cmd_prepare)
    return p


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _setting_value(text: str) -> Any:
    """A quality setting from the command line: a number, none/off, true/false, or JSON."""
    lowered = text.strip().lower()
    if lowered in ("none", "off", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    try:
        return json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number, none or JSON value: {text!r}") from None


def _add_quality_flags(p: argparse.ArgumentParser) -> None:
    """One flag per quality setting, generated from the Rust defaults so they never drift."""
    from alignkit.webr.prepare import default_quality_settings

    group = p.add_argument_group(
        "quality filters",
        "override a filter's threshold; 'none' turns that filter off (see docs/quality-filters.md)",
    )
    for name, default in sorted(default_quality_settings().items()):
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            group.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"(default: {default})",
            )
        else:
            group.add_argument(
                flag,
                dest=name,
                type=_setting_value,
                metavar="VALUE",
                default=argparse.SUPPRESS,
                help=f"(default: {json.dumps(default)})",
            )


def _add_demo_data(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo-data",
        help="write deterministic, realistic demo WARC shards",
        description="Generate Common Crawl-like WARC shards (varied HTML, several languages and "
        "encodings, duplicates, junk and a few broken records) for trying the pipeline.",
    )
    p.add_argument("--out", required=False, help="output directory (required)")
    p.add_argument("--config", help="YAML, TOML or JSON file of options (keys = option names)")
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--docs", type=int, default=200, help="pages per shard")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compression", choices=["gzip", "none", "gzip-stream"], default="gzip")
    p.add_argument("--no-faults", action="store_true", help="do not inject broken records")
    p.set_defaults(handler=_cmd_demo_data)
    return p


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="alignkit",
        description="Efficient and effective LLM alignment: data, training and evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"alignkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    webr = commands.add_parser(
        "webr",
        help="Web Reconstruction: web pages to instruction data",
        description="Web Reconstruction pipeline stages.",
    )
    webr_sub = webr.add_subparsers(dest="webr_command", metavar="STAGE")
    webr_sub.required = True
    leaves = {"webr prepare": _add_prepare(webr_sub)}
    from alignkit.webr.dedup_cli import add_dedup_parser

    leaves["webr dedup"] = add_dedup_parser(webr_sub)
    from alignkit.webr.score_cli import add_score_parser

    leaves["webr score"] = add_score_parser(webr_sub)
    from alignkit.webr.synthesize_cli import add_synthesize_parser

    leaves["webr synthesize"] = add_synthesize_parser(webr_sub)
    from alignkit.webr.run_cli import add_run_parser

    leaves["webr run"] = add_run_parser(webr_sub)
    from alignkit.llm.serve_cli import add_llm_parser

    add_llm_parser(commands)
    data = commands.add_parser(
        "data", help="datasets and demo data", description="Dataset utilities."
    )
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True
    leaves["data demo-data"] = _add_demo_data(data_sub)
    from alignkit.bmc.cli import add_bmc_parsers

    leaves.update(add_bmc_parsers(commands))
    from alignkit.followbench.cli import add_followbench_parser

    leaves.update(add_followbench_parser(commands))
    return parser, leaves


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from alignkit.data.demo import write_demo_shards

    if args.shards < 1 or args.docs < 1:
        raise ValueError("--shards and --docs must be at least 1")
    paths = write_demo_shards(
        args.out,
        n_shards=args.shards,
        docs_per_shard=args.docs,
        seed=args.seed,
        compression=args.compression,
        faults=not args.no_faults,
    )
    for path in paths:
        print(path)
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from alignkit.webr.prepare import PrepareConfig, prepare

    shards = list(args.shards)
    if args.demo:
        if shards:
            raise ValueError("give either SHARD arguments or --demo, not both")
        from alignkit.webr.pipeline import write_demo_input

        # Generated once per (shards, docs): a re-run finds the same files and resumes.
        shards = [str(p) for p in write_demo_input(args.out, args.demo_shards, args.demo_docs)]
    if not shards:
        raise ValueError("no input: give SHARD paths/globs, or --demo for the built-in demo")
    if args.max_block_mb <= 0:
        raise ValueError("--max-block-mb must be positive")
    from alignkit.webr.prepare import default_quality_settings

    overrides = {k: getattr(args, k) for k in default_quality_settings() if hasattr(args, k)}
    langs = args.langs
    config = PrepareConfig(
        output_format=args.output_format,
        mode=args.mode,
        min_text_chars=args.min_text_chars,
        max_block_bytes=int(args.max_block_mb * 1024 * 1024),
        only_2xx=not args.include_non_2xx,
        languages=tuple(_comma_list(langs) if isinstance(langs, str) else langs),
        min_lang_confidence=args.min_lang_confidence,
        quality=not args.no_quality_filter,
        quality_settings=overrides,
    )
    stats = prepare(
        shards,
        args.out,
        config,
        workers=args.workers,
        progress=not args.no_progress and sys.stderr.isatty(),
        overwrite=args.overwrite,
        keep_dropped=args.keep_dropped,
    )
    skipped = ", ".join(f"{k}={v}" for k, v in sorted(stats["skipped"].items())) or "none"
    dropped = ", ".join(f"{k}={v}" for k, v in sorted(stats["dropped"].items())) or "none"
    faults = ", ".join(f"{k}={v}" for k, v in sorted(stats["faults"].items()) if v) or "none"
    print(
        f"{stats['shards_done']}/{stats['shards_total']} shards "
        f"({stats['shards_skipped_existing']} already done), "
        f"{stats['documents_kept']} documents from {stats['records_seen']} records, "
        f"{stats['docs_per_s']:,} docs/s\n"
        f"skipped (no text): {skipped}\ndropped by filters: {dropped}\nfaults: {faults}\n"
        f"output: {args.out} (stats.json)"
    )
    if stats["failed_shards"]:
        for shard, why in stats["failed_shards"].items():
            print(f"FAILED {shard}: {why}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser, leaves = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        leaf = leaves.get(
            " ".join(
                filter(
                    None,
                    (
                        args.command,
                        getattr(args, "webr_command", None)
                        or getattr(args, "data_command", None)
                        or getattr(args, "bmc_command", None)
                        or getattr(args, "followbench_command", None),
                    ),
                )
            )
        )
        if leaf is not None and getattr(args, "config", None):
            _apply_config(leaf, _load_config_file(args.config))
            args = parser.parse_args(argv)
        if leaf is not None and not args.out and any(a.dest == "out" for a in leaf._actions):
            leaf.error("--out is required (here or in --config)")
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(levelname)s %(name)s: %(message)s",
        )
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted; finished work is kept, re-run to resume", file=sys.stderr)
        return 130
    except (OSError, ValueError, ImportError) as exc:
        print(f"alignkit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
