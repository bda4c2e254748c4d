"""Multiple-choice rows from BIG-bench JSON tasks that the user downloaded.

alignkit ships no third-party questions. The user passes a copy of the BIG-bench repository
(github.com/google/BIG-bench, Apache-2.0): its archive (.zip, .tar, .tar.gz, ...) or an unpacked
folder. A JSON task lives at `bigbench/benchmark_tasks/<task>/task.json`; a composite task keeps
its parts one level down (`<task>/<subtask>/task.json`). Each example has an `input` and, when
it is multiple-choice, `target_scores` (choice text -> score; the best score is the answer).
The folder given may also be `benchmark_tasks` itself. The PyPI package `bigbench` (0.0.1) holds
no task.json files, so it cannot serve as the source.

Rows are `{"task", "id", "question", "choices", "answer_index"}`, the format that
`alignkit.lion.evaluate` scores and that the shipped demo file `data/mcq_demo.jsonl` uses.
Examples that cannot be such a row (generative, no single best choice, ...) are skipped,
counted by reason and logged.
"""

from __future__ import annotations

import json
import logging
import random
import tarfile
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from alignkit.errors import InputError, InputNotFoundError

log = logging.getLogger(__name__)

TASKS_FOLDER = "benchmark_tasks"
TASK_FILE = "task.json"


def _task_location(relative: PurePosixPath) -> tuple[str, str | None] | None:
    """(task, subtask or None) when this path is a task's JSON file, else None."""
    parts = relative.parts
    if not parts or parts[-1] != TASK_FILE:
        return None
    if TASKS_FOLDER in parts:  # a repository copy: keep what follows the last benchmark_tasks
        last = len(parts) - 1 - parts[::-1].index(TASKS_FOLDER)
        parts = parts[last + 1 :]
    if len(parts) == 2:
        return parts[0], None
    if len(parts) == 3:
        return parts[0], parts[1]
    return None


def _task_files(source: Path, wanted: set[str]) -> Iterator[tuple[str, str | None, str, bytes]]:
    """(task, subtask, where, raw JSON) for every task file of a wanted task in the source."""
    if source.is_dir():
        for path in source.rglob(TASK_FILE):
            place = _task_location(PurePosixPath(path.relative_to(source).as_posix()))
            if place and place[0] in wanted:
                yield place[0], place[1], str(path), path.read_bytes()
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            for name in archive.namelist():
                place = _task_location(PurePosixPath(name))
                if place and place[0] in wanted:
                    yield place[0], place[1], f"{source}:{name}", archive.read(name)
    elif tarfile.is_tarfile(source):
        # Streamed: a compressed tar is read once, front to back.
        with tarfile.open(source) as archive:
            for member in archive:
                place = _task_location(PurePosixPath(member.name))
                if member.isfile() and place and place[0] in wanted:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        yield place[0], place[1], f"{source}:{member.name}", handle.read()
    else:
        raise InputError(
            f"{source} is neither a folder nor a zip or tar archive; pass a download of the "
            "BIG-bench repository (github.com/google/BIG-bench) or its unpacked folder"
        )


def _example_row(
    example: Any, task: str, example_id: str, prefix: str, stats: Counter[str]
) -> dict[str, Any] | None:
    if not isinstance(example, Mapping):
        stats["skipped_not_an_object"] += 1
        return None
    scores = example.get("target_scores")
    if not isinstance(scores, Mapping) or not scores:
        stats["skipped_not_multiple_choice"] += 1
        return None
    question = example.get("input")
    if not isinstance(question, str) or not question.strip():
        stats["skipped_no_input"] += 1
        return None
    choices = [str(choice).strip() for choice in scores]
    values = list(scores.values())
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        stats["skipped_score_not_a_number"] += 1
        return None
    if len(choices) < 2 or len(set(choices)) < len(choices) or not all(choices):
        stats["skipped_bad_choices"] += 1
        return None
    best = max(values)
    if values.count(best) != 1:
        stats["skipped_no_single_best_choice"] += 1
        return None
    return {
        "task": task,
        "id": example_id,
        "question": (prefix + question).strip(),
        "choices": choices,
        "answer_index": values.index(best),
    }


def _shuffled(row: dict[str, Any], shuffle_seed: int) -> dict[str, Any]:
    # BIG-bench files often list the right answer first; a fixed per-row order keeps the
    # answer position from telling a model anything and keeps reruns identical.
    order = list(range(len(row["choices"])))
    random.Random(f"{shuffle_seed}:{row['id']}").shuffle(order)
    return {
        **row,
        "choices": [row["choices"][i] for i in order],
        "answer_index": order.index(row["answer_index"]),
    }


def load_bigbench_mcq(
    archive_or_dir: str | Path,
    tasks: Sequence[str],
    limit: int | None = None,
    *,
    sample_seed: int = 0,
    shuffle_seed: int | None = 0,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Multiple-choice rows of these BIG-bench `tasks` (folder names such as
    `date_understanding`), grouped by task in the order asked, and counts (rows per task under
    `rows_<task>`, skips by reason). With `limit`, a seeded uniform sample of at most that many
    rows per task (kept in file order). Choices are put in a seeded per-row order unless
    `shuffle_seed` is None (the file's order). A task that is missing or yields no row is an
    `InputError`."""
    source = Path(archive_or_dir)
    if not source.exists():
        raise InputNotFoundError(f"BIG-bench source not found: {source}")
    wanted = [name.strip() for name in tasks]
    if not wanted or not all(wanted):
        raise InputError("name at least one BIG-bench task, e.g. date_understanding")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}")

    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    stats: Counter[str] = Counter()
    seen_files: set[str] = set()
    # Sorted so that a tar (read in archive order) gives the rows a folder or zip gives.
    try:
        files = sorted(_task_files(source, set(wanted)), key=lambda f: (f[0], f[1] or "", f[2]))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise InputError(f"cannot read {source} (damaged or cut-off download?): {exc}") from exc
    for task, subtask, where, raw in files:
        seen_files.add(task)
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{where} is not valid JSON: {exc}") from exc
        if not isinstance(data, Mapping):
            raise InputError(f"{where} holds {type(data).__name__}, not a task object")
        examples = data.get("examples")
        if examples is None:
            continue  # a composite task's top file: its examples are in the subtask files
        if not isinstance(examples, list):
            raise InputError(f"{where}: 'examples' is not a list")
        prefix = data.get("task_prefix") or ""
        if not isinstance(prefix, str):
            raise InputError(f"{where}: 'task_prefix' is not text")
        stem = f"{task}/{subtask}" if subtask else task
        for index, example in enumerate(examples):
            row = _example_row(example, task, f"{stem}/{index}", prefix, stats)
            if row is not None:
                found[task].append(row)

    missing = [name for name in wanted if name not in seen_files]
    if missing:
        raise InputError(
            f"no {TASK_FILE} for task(s) {', '.join(missing)} in {source}; BIG-bench keeps a "
            f"JSON task at bigbench/{TASKS_FOLDER}/<task>/{TASK_FILE} (programmatic tasks have "
            "none)"
        )
    empty = [name for name in wanted if not found[name]]
    if empty:
        raise InputError(
            f"task(s) {', '.join(empty)} in {source} have no multiple-choice example "
            f"(skips: {dict(stats)})"
        )
    if stats:
        log.info("BIG-bench examples skipped: %s", dict(stats))

    rows: list[dict[str, Any]] = []
    for name in dict.fromkeys(wanted):
        task_rows = found[name]
        if limit is not None and limit < len(task_rows):
            keep = set(random.Random(f"{sample_seed}:{name}").sample(range(len(task_rows)), limit))
            stats[f"not_sampled_{name}"] = len(task_rows) - limit
            task_rows = [row for i, row in enumerate(task_rows) if i in keep]
        if shuffle_seed is not None:
            task_rows = [_shuffled(row, shuffle_seed) for row in task_rows]
        stats[f"rows_{name}"] = len(task_rows)
        rows.extend(task_rows)
    return rows, dict(stats)
