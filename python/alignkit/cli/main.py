"""The `alignkit` command line: one entry point, one command group per module of `alignkit.cli`.

Every command takes `--config FILE` (YAML, TOML or JSON) whose keys are its option names
(`max-block-mb` or `max_block_mb`); flags given on the command line win. `-v/--verbose` and
`-q/--quiet` work before the command and after it. All three are declared here, once.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignkit import __version__
from alignkit.errors import AlignkitError, ConfigError

log = logging.getLogger("alignkit")

# Command-group modules (alignkit.cli.NAME), imported only when their commands are built: a
# command's start-up pays for its own group, not for every method's imports.
COMMAND_GROUPS = ("webr", "llm", "data", "bmc", "followbench", "lion", "lte")


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
    # `--no-near` of a `--near/--no-near` flag: the key `no_near = true` means near = false.
    negated: set[str] = set()
    for action in parser._actions:
        if action.dest in ("help", "config"):
            continue
        known[action.dest] = action
        # Long option aliases (`--output-dir` for `out`) are valid keys too.
        for flag in action.option_strings:
            if flag.startswith("--"):
                key = flag[2:].replace("-", "_")
                known.setdefault(key, action)
                if isinstance(action, argparse.BooleanOptionalAction) and flag.startswith("--no-"):
                    negated.add(key)
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ConfigError(f"unknown option(s) in config file: {', '.join(unknown)}")
    defaults = {}
    for key, value in config.items():
        action = known[key]
        if action.nargs in ("*", "+") and isinstance(value, str):
            value = [value]
        if key in negated and key != action.dest:
            if not isinstance(value, bool):
                raise ConfigError(f"{key} in the config file must be true or false")
            value = not value
        defaults[action.dest] = value
    parser.set_defaults(**defaults)


def _add_common_flags(parser: argparse.ArgumentParser, *, root: bool) -> None:
    """`--config` (commands only) and `-v/-q`. On commands the log flags default to absent, so
    that a command's parser does not reset what was given before the command."""
    group = parser.add_argument_group("common options")
    if not root:
        group.add_argument(
            "--config",
            metavar="FILE",
            help="YAML, TOML or JSON file of options (keys = option names)",
        )
    unset = False if root else argparse.SUPPRESS
    level = group.add_mutually_exclusive_group()
    level.add_argument("-v", "--verbose", action="store_true", default=unset, help="debug logging")
    level.add_argument(
        "-q", "--quiet", action="store_true", default=unset, help="warnings and errors only"
    )


def _requested(argv: Sequence[str] | None) -> tuple[str | None, str | None]:
    """The command group and command named on the command line, if any (options skipped)."""
    words = [a for a in (argv or []) if not a.startswith("-")]
    group = words[0] if words and words[0] in COMMAND_GROUPS else None
    return group, (words[1] if group and len(words) > 1 else None)


def build_parser(
    argv: Sequence[str] | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The root parser and the commands' parsers by name ("webr prepare", "llm serve", ...).

    With `argv`, only what it asks for is built (its group, or its one command), so a command
    starts without importing the other methods; without, every command is built."""
    group, command = _requested(argv)
    parser = argparse.ArgumentParser(
        prog="alignkit",
        description="Efficient and effective LLM alignment: data, training and evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"alignkit {__version__}")
    _add_common_flags(parser, root=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    leaves: dict[str, argparse.ArgumentParser] = {}
    for name in [group] if group else COMMAND_GROUPS:
        module = importlib.import_module(f"alignkit.cli.{name}")
        leaves.update(module.add_parsers(commands, only=command if name == group else None))
    for name, leaf in leaves.items():
        _add_common_flags(leaf, root=False)
        leaf.set_defaults(leaf_command=name)
    return parser, leaves


def _log_level(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.verbose and args.quiet:
        parser.error("give -v/--verbose or -q/--quiet, not both")
    if args.verbose:
        return logging.DEBUG
    return logging.WARNING if args.quiet else logging.INFO


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, leaves = build_parser(argv)
    try:
        args = parser.parse_args(argv)
        leaf = leaves[args.leaf_command]
        if args.config:
            _apply_config(leaf, _load_config_file(args.config))
            args = parser.parse_args(argv)
        if not getattr(args, "out", True) and any(a.dest == "out" for a in leaf._actions):
            leaf.error("--out is required (here or in --config)")
        logging.basicConfig(
            level=_log_level(leaf, args), format="%(levelname)s %(name)s: %(message)s"
        )
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted; finished work is kept, re-run to resume", file=sys.stderr)
        return 130
    except AlignkitError as exc:
        print(f"alignkit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (OSError, ValueError, ImportError) as exc:
        print(f"alignkit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
