"""The stage contract, checked the same way for every stage (`check_stage_contract`).

A stage's test module builds a `ContractCase` (how to make inputs and the stage, a config change
that must be refused, its command line with flags and with a config file, and optionally a
counter of LLM requests) and calls `check_stage_contract(case, tmp_path)`. It proves:
1. a run completes; 2. a resume redoes nothing, rewrites no file and sends no LLM request;
3. a changed config is refused naming the keys; 4. `overwrite` redoes every task;
5. a task that dies after writing its outputs leaves nothing a re-run trusts, and the re-run
redoes exactly that task; 6. a config file records the same config as the flags.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alignkit.errors import ConfigMismatchError
from alignkit.stage import Stage, run_stage


@dataclasses.dataclass
class ContractCase:
    make_inputs: Callable[[Path], list[str]]
    make_stage: Callable[..., Stage[Any]]
    """make_stage(**config_overrides) -> the stage with a small, fast config."""
    changed: dict[str, Any]
    """Config overrides that change the fingerprint (must be refused)."""
    changed_keys: list[str]
    run_cli: Callable[[list[str]], int] | None = None
    """Runs the CLI in-process with the given argv; returns the exit code."""
    cli_args: Callable[[list[str], Path], list[str]] | None = None
    """(inputs, out) -> argv with every setting as flags."""
    cli_config: Callable[[list[str], Path, Path], list[str]] | None = None
    """(inputs, out, config_file_path) -> argv that writes the same settings into the file."""
    llm_requests: Callable[[], int] | None = None


def _data_files(out: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(out)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".alignkit" not in p.parts
    }


def check_stage_contract(case: ContractCase, tmp_path: Path) -> None:
    inputs = case.make_inputs(tmp_path / "inputs")
    out = tmp_path / "out"
    first = run_stage(case.make_stage(), inputs, out, progress="off")
    assert first.complete, first.failures
    assert first.tasks_run == first.tasks_total > 0

    # 2. resume
    files = _data_files(out)
    sent = case.llm_requests() if case.llm_requests else 0
    again = run_stage(case.make_stage(), inputs, out, progress="off")
    assert again.tasks_run == 0 and again.tasks_done_before == first.tasks_total
    assert _data_files(out) == files, "a resume rewrote outputs"
    if case.llm_requests:
        assert case.llm_requests() == sent, "a resume sent LLM requests"

    # 3. changed config refused, naming the keys
    with pytest.raises(ConfigMismatchError) as err:
        run_stage(case.make_stage(**case.changed), inputs, out, progress="off")
    assert err.value.keys == case.changed_keys

    # 4. overwrite redoes everything
    redone = run_stage(case.make_stage(), inputs, out, overwrite=True, progress="off")
    assert redone.complete and redone.tasks_run == first.tasks_total

    # 5. a task dying after writing its outputs leaves nothing trusted
    stage = case.make_stage()
    victim = stage.plan(inputs)[-1].id
    original = stage.run_task

    def dying(task, ctx):  # type: ignore[no-untyped-def]
        result = original(task, ctx)
        if task.id == victim:
            raise RuntimeError("killed midway (injected)")
        return result

    stage.run_task = dying  # type: ignore[method-assign]
    killed_out = tmp_path / "killed"
    broken = run_stage(stage, inputs, killed_out, progress="off")
    assert list(broken.failures) == [victim]
    resumed = run_stage(case.make_stage(), inputs, killed_out, progress="off")
    assert resumed.complete and resumed.tasks_run == 1
    assert {k: v[0] for k, v in _data_files(killed_out).items()} == {
        k: v[0] for k, v in _data_files(out).items()
    }

    # 6. a config file equals the flags
    if case.run_cli and case.cli_args and case.cli_config:
        by_flags, by_file = tmp_path / "cli-flags", tmp_path / "cli-file"
        assert case.run_cli(case.cli_args(inputs, by_flags)) == 0
        config_file = tmp_path / "options.yaml"
        assert case.run_cli(case.cli_config(inputs, by_file, config_file)) == 0
        recorded = [
            json.loads((d / ".alignkit" / "config.json").read_text()) for d in (by_flags, by_file)
        ]
        assert recorded[0] == recorded[1]
