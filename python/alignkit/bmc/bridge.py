"""BMC bridging: an LLM revises each losing response minimally, with the winning response as
reference, into a pseudo-winning response close to the losing one.

Input and output are TRL preference pairs (`prompt` / `chosen` / `rejected`). Output pairs:
`chosen` = the bridged (pseudo-winning) response, `rejected` = the original losing response,
`original_chosen` = the original winning response, `pair_id`; other input columns are kept.
Failed LLM calls and empty, refused, truncated, unchanged or overlong revisions are dropped
and counted; input rows in the wrong schema are skipped, counted and logged with their row.

A stage of the stage kit (`BridgeStage`): one task per batch of `pairs_per_task` pairs writes
`OUT/bridged-NNNNN.jsonl` (or `.parquet`) and keeps its LLM answers in
`OUT/.alignkit/llm_cache/<task>.sqlite`, so a re-run resumes without re-sending.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from alignkit._defaults import DEFAULT_LLM_SPEC
from alignkit.bmc.data import PreferencePair, pair_rows, row_to_pair
from alignkit.errors import ConfigError, InputError, NothingProducedError, StageFailedError
from alignkit.llm.backend import parse_backend_spec
from alignkit.stage import (
    Counts,
    LLMUsage,
    LocalExecutor,
    OutputFolder,
    Stage,
    StageConfig,
    StageReport,
    Task,
    TaskContext,
    TaskResult,
    option,
    run_stage,
)

log = logging.getLogger(__name__)

CACHE_DIR = "llm_cache"
OUTPUT_PREFIX = "bridged"
BRIDGE_PROMPT = """\
Improve a draft answer while changing as little of it as possible.

You get an instruction, a reference answer that is known to be good, and a draft answer that \
is known to be worse. Edit the draft only where it is wrong, missing something important, or \
says something undesirable compared with the reference. Leave every other word, sentence and \
the formatting of the draft exactly as they are. Do not replace the draft with the reference \
and do not comment on your edits.

### Instruction
{instruction}

### Reference answer
{reference}

### Draft answer
{draft}

Write only the revised draft answer and nothing after it."""

_LABEL = re.compile(
    r"^(?:\*\*)?(?:revised(?: draft)?(?: answer)?|answer)\s*:\s*(?:\*\*)?\s*", re.IGNORECASE
)


class BridgeConfigError(ConfigError):
    """An invalid bridging option."""


@dataclasses.dataclass(frozen=True)
class BridgeConfig(StageConfig):
    """Settings of a bridging run: the flags of `alignkit bmc bridge`, its config-file keys and
    the fingerprint recorded in OUT/.alignkit/config.json."""

    schema_version: ClassVar[int] = 2  # sharded output under the stage kit

    llm: str = option(
        DEFAULT_LLM_SPEC,
        help="LLM backend spec: transformers, transformers:PATH or openai:MODEL@URL",
        llm_spec=True,
    )
    temperature: float = option(0.0, help="sampling temperature")
    max_tokens: int = option(2048, help="max tokens of a revision")
    seed: int = option(0, help="request seed base")
    max_pairs: int | None = option(None, help="bridge at most this many pairs")
    # A minimal revision stays near the responses' length; small models that keep talking after
    # the revision are caught here (None or 0: no limit).
    max_length_ratio: float | None = option(
        2.0, help="drop revisions longer than this times the longer response (0: no limit)"
    )
    output_format: str = option(
        "jsonl", flag="--format", choices=("jsonl", "parquet"), help="output format"
    )
    pairs_per_task: int = option(1000, help="pairs per task (one output shard and LLM cache each)")
    concurrency: int = option(16, help="LLM requests in flight", fingerprint=False)
    retry_failed: bool = option(
        False, help="re-send requests that failed in an earlier run", fingerprint=False
    )

    def validate(self) -> None:
        if self.max_length_ratio == 0:
            object.__setattr__(self, "max_length_ratio", None)
        if self.max_tokens < 1:
            raise BridgeConfigError("max_tokens must be >= 1")
        if self.max_pairs is not None and self.max_pairs < 1:
            raise BridgeConfigError("max_pairs must be >= 1")
        if self.max_length_ratio is not None and self.max_length_ratio <= 1.0:
            raise BridgeConfigError("max_length_ratio must be > 1 (or 0 for no limit)")
        if self.pairs_per_task < 1 or self.concurrency < 1:
            raise BridgeConfigError("pairs_per_task and concurrency must be >= 1")
        parse_backend_spec(self.llm)  # a bad spec fails before any work

    @property
    def output_suffix(self) -> str:
        return ".parquet" if self.output_format == "parquet" else ".jsonl"


def bridging_prompt(pair: PreferencePair) -> str:
    """The user message asking for a minimal revision of the losing response."""
    return BRIDGE_PROMPT.format(
        instruction=pair.prompt_text.strip(),
        reference=pair.chosen_text.strip(),
        draft=pair.rejected_text.strip(),
    )


def clean_revision(text: str | None) -> str:
    """The revision without surrounding whitespace or a leading `Revised answer:` label."""
    return _LABEL.sub("", (text or "").strip(), count=1).strip()


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _drop_reason(
    result: Any, text: str, pair: PreferencePair, max_length_ratio: float | None
) -> str | None:
    from alignkit.llm.postprocess import is_refusal

    if not result.ok:
        return "llm_failed"
    if not text:
        return "empty"
    if result.finish_reason == "length":
        return "truncated"
    if is_refusal(text) and not is_refusal(pair.rejected_text):
        return "refusal"
    if _same_text(text, pair.rejected_text):
        return "unchanged"
    longest = max(len(pair.chosen_text.strip()), len(pair.rejected_text.strip()))
    if max_length_ratio is not None and len(text) > max_length_ratio * longest:
        return "too_long"
    return None


def with_surrounding_whitespace(revision: str, like: str) -> str:
    """`revision` wrapped in the leading and trailing whitespace of `like`.

    The revision comes back stripped while the losing response keeps its own (TRL's string
    format puts a space before it); without this every bridged pair would differ in its first
    token, a cue that tells chosen from rejected without reading either.
    """
    core = like.strip()
    if not core:
        return revision
    start = like.index(core)
    return like[:start] + revision + like[start + len(core) :]


def bridge_row(pair: PreferencePair, bridged: str) -> dict[str, Any]:
    """The output row of a bridged pair; the revision keeps the losing response's surrounding
    whitespace."""
    row = dict(pair.extra)
    row.update(
        prompt=pair.prompt,
        chosen=pair.with_response(
            pair.rejected, with_surrounding_whitespace(bridged, pair.rejected_text)
        ),
        rejected=pair.rejected,
        original_chosen=pair.chosen,
        pair_id=pair.pair_id,
    )
    return row


@dataclasses.dataclass
class PairInput:
    """The usable pairs of an input and what was skipped (by reason, with example rows)."""

    source: str
    pairs: list[PreferencePair]
    rows_read: int = 0
    bad_rows: Counter[str] = dataclasses.field(default_factory=Counter)
    bad_examples: list[str] = dataclasses.field(default_factory=list)
    read_faults: Counter[str] = dataclasses.field(default_factory=Counter)

    def require_pairs(self) -> None:
        """InputError saying why, when no row was a usable preference pair."""
        if self.pairs:
            return
        if not self.rows_read:
            raise InputError(f"{self.source}: no rows; expected prompt/chosen/rejected pairs")
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.bad_rows.items()))
        raise InputError(
            f"{self.source}: none of {self.rows_read} rows is a prompt/chosen/rejected preference "
            f"pair ({reasons}; first: {'; '.join(self.bad_examples[:3])})"
        )


def load_pairs(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]], max_pairs: int | None = None
) -> PairInput:
    """Pairs from a file/saved dataset path or from rows (dicts, a `datasets.Dataset`, the train
    split of a `DatasetDict`); bad rows are skipped, counted and logged naming their row."""
    rows = pair_rows(source)
    found = PairInput(source=str(rows.path), pairs=[])
    for row in rows:
        if max_pairs is not None and len(found.pairs) >= max_pairs:
            break
        pair, why = row_to_pair(row.value)
        if pair is None:
            rows.skip(row.line, why or "bad_row")
        else:
            found.pairs.append(pair)
    found.rows_read = rows.rows_read
    found.bad_rows = Counter(rows.skipped)
    found.bad_examples = list(rows.first_skips)
    found.read_faults = Counter(rows.faults)
    return found


def _write_shard(path: Path, rows: Sequence[Mapping[str, Any]], output_format: str) -> None:
    if output_format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(list(rows)), path)
        return
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


class BridgeStage(Stage[BridgeConfig]):
    """Bridging on the stage kit: one task per batch of pairs (see the module docstring).

    The input is one pairs file (`run_stage(stage, [path], out)`) or, for rows given in memory,
    `rows=` with no input paths; their digest then joins the fingerprint.
    """

    name = "bmc.bridge"
    config_class = BridgeConfig
    progress_unit = "pair"

    def __init__(
        self,
        config: BridgeConfig,
        *,
        rows: Sequence[Mapping[str, Any]] | None = None,
        backend_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(config)
        self.rows = None if rows is None else [dict(r) for r in rows]
        self.backend_options = dict(backend_options or {})
        # A local model is one resource of this process: its tasks run one after another.
        self.parallel_tasks = not config.llm.startswith("transformers")
        self.input: PairInput | None = None
        self._backend: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_backend"] = None  # a live client stays in the process that made it
        state["input"] = None
        return state

    def fingerprint(self) -> dict[str, Any]:
        fingerprint = {**super().fingerprint(), "prompt": BRIDGE_PROMPT}
        if self.rows is not None:
            blob = json.dumps(self.rows, sort_keys=True, default=str).encode("utf-8")
            fingerprint["input_rows_sha256"] = hashlib.sha256(blob).hexdigest()
        return fingerprint

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        if self.rows is not None:
            if inputs:
                raise ConfigError("bmc bridge: give input paths or rows, not both")
            source: Any = self.rows
        elif len(inputs) != 1:
            raise ConfigError(f"bmc bridge takes one PAIRS input, not {len(inputs)}")
        else:
            source = inputs[0]
        self.input = load_pairs(source, self.config.max_pairs)
        self.input.require_pairs()
        size = self.config.pairs_per_task
        pairs = self.input.pairs
        return [
            Task(
                id=f"batch-{k:05d}",
                inputs=tuple(inputs),
                payload=(k, pairs[start : start + size]),
                weight=len(pairs[start : start + size]),
            )
            for k, start in enumerate(range(0, len(pairs), size))
        ]

    def _get_backend(self) -> Any:
        if self._backend is None:
            from alignkit.llm import make_backend

            self._backend = make_backend(
                self.config.llm, concurrency=self.config.concurrency, **self.backend_options
            )
        return self._backend

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        from alignkit.llm import ChatRequest, ResponseCache, run_requests

        index, pairs = task.payload
        config = self.config
        requests = [
            ChatRequest.from_prompt(
                bridging_prompt(p),
                temperature=config.temperature,
                max_tokens=config.max_tokens,
                seed=(config.seed * 1_000_003 + int(p.pair_id[:8], 16)) % (1 << 31),
            )
            for p in pairs
        ]
        cache_path = ctx.folder.meta / CACHE_DIR / f"{task.id}.sqlite"
        with ResponseCache(cache_path) as cache:
            results, summary = run_requests(
                self._get_backend(),
                requests,
                cache,
                progress=False,
                retry_failed=config.retry_failed,
                desc=f"bridge {task.id}",
            )
        usage = LLMUsage.from_summary(summary)
        rows: list[dict[str, Any]] = []
        dropped: Counter[str] = Counter()
        for pair, result in zip(pairs, results, strict=True):
            text = clean_revision(result.text) if result.ok else ""
            reason = _drop_reason(result, text, pair, config.max_length_ratio)
            if reason is None:
                rows.append(bridge_row(pair, text))
                continue
            dropped[reason] += 1
            if result.ok:
                usage.drop(reason)
        ctx.progress(len(pairs))
        stats = {
            "pairs": len(pairs),
            "written": len(rows),
            "dropped": dict(dropped),
            "llm": usage.to_dict(),
            "failures": usage.failures,
        }
        if not rows:  # no empty shard: `datasets` cannot read a schema from it
            return TaskResult(stats=stats)
        name = f"{OUTPUT_PREFIX}-{index:05d}{config.output_suffix}"
        tmp = ctx.tmp_output(name)
        _write_shard(tmp, rows, config.output_format)
        return TaskResult(stats=stats, outputs={name: tmp})

    def finalize(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        totals = Counts.total(results[t.id] for t in tasks if t.id in results).plain()
        found = self.input
        return {
            "rows_read": found.rows_read if found else 0,
            "bad_rows": dict(sorted(found.bad_rows.items())) if found else {},
            "read_faults": dict(sorted(found.read_faults.items())) if found else {},
            "pairs": totals.get("pairs", 0),
            "written": totals.get("written", 0),
            "dropped": totals.get("dropped", {}),
            "llm": totals.get("llm", LLMUsage().to_dict()),
            "outputs": sorted(
                out["name"] for marker in folder.markers() for out in marker.get("outputs", [])
            ),
        }


def bridge(
    pairs: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    llm: str | None = None,
    config: BridgeConfig | None = None,
    *,
    workers: int = 1,
    progress: bool | str = True,
    overwrite: bool = False,
    backend_options: dict[str, Any] | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Bridge every pair of `pairs` (a dataset path, or rows) into `out_dir`; returns the stage's
    statistics (also in OUT/.alignkit/stats.json).

    `llm` (a backend spec of `alignkit.llm.make_backend`) overrides `config.llm`. `dry_run=True`
    prints the first bridging prompt through `echo` and calls no LLM. Raises StageFailedError
    naming failed tasks (a re-run redoes only them) and NothingProducedError when no pair was
    written; `config.retry_failed` also redoes finished tasks that had failed LLM calls.
    """
    config = config or BridgeConfig()
    if llm is not None:
        config = config.replace(llm=llm)
    if dry_run:
        found = load_pairs(pairs, 1)
        found.require_pairs()
        echo(bridging_prompt(found.pairs[0]))
        return {"dry_run": True, "pairs": len(found.pairs), "bad_rows": dict(found.bad_rows)}
    from_path = isinstance(pairs, (str, os.PathLike))
    if not from_path and isinstance(pairs, Mapping):
        if "train" not in pairs:
            raise InputError(f"no 'train' split among {sorted(pairs)}; pass one split")
        pairs = pairs["train"]
    stage = BridgeStage(
        config,
        rows=None if from_path else list(pairs),  # type: ignore[arg-type]
        backend_options=backend_options,
    )
    report = run_stage(
        stage,
        [pairs] if from_path else [],  # type: ignore[list-item]
        out_dir,
        executor=LocalExecutor(workers),
        overwrite=overwrite,
        progress=progress,
        retry_failed=config.retry_failed,
    )
    return _checked_stats(report)


def _checked_stats(report: StageReport) -> dict[str, Any]:
    stats = {**report.stats, "failures": report.stats["llm"]["failures"]}
    log.info(
        "bridged %d of %d pairs (%s dropped), %d LLM failures",
        stats["written"],
        stats["pairs"],
        sum(stats["dropped"].values()),
        stats["failures"],
    )
    if report.failures:
        raise StageFailedError(report.stage, report.failures)
    if not stats["written"]:
        dropped = ", ".join(f"{k}={v}" for k, v in sorted(stats["dropped"].items()))
        raise NothingProducedError(
            f"bmc bridge wrote no pairs: all {stats['pairs']} were dropped ({dropped}); "
            f"see {report.folder}/.alignkit/stats.json"
        )
    return stats
