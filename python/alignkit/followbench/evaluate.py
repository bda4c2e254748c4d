"""`run_followbench`: inference, rule checks, LLM judge, metrics, results and report in one call.

1. Every level >= 1 instruction is sent to the model under test as a single user turn (the
   backend applies the model's chat template), greedy (temperature 0), up to 2048 new tokens.
2. Items with a rule check (`alignkit.followbench.checks`) are scored by it; the others by the
   LLM judge (and, for the reliability report, the rule items too unless turned off). Unparsable
   judge replies are re-asked up to `judge_retries` times, then reported as unscored.
3. An optional second judge scores the same items, for judge-judge agreement.
4. OUT/samples.jsonl (every prompt, answer, judge reply and verdict), OUT/results.json
   (lm-evaluation-harness-shaped) and OUT/report.html are written atomically by the reduce.

A stage of the stage kit (`FollowBenchStage`): the model, judges and every setting are the
recorded fingerprint, so a run into a folder made with another model is refused naming `model`.
Tasks are chunks of the chains of one (language, category); each caches every model and judge
answer in OUT/.alignkit/llm_cache/<task>.sqlite, so an interrupted run resumes without
re-sending, and a finished run can be re-scored (`rescore_rows`) without calling any model.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from alignkit._defaults import DEFAULT_LLM_SPEC
from alignkit.errors import ConfigError, InputError, OutputError, StageFailedError
from alignkit.followbench.checks import RULE_MODES, find_check
from alignkit.followbench.data import (
    CATEGORIES,
    Chain,
    FollowBenchData,
    Record,
    load_followbench,
)
from alignkit.followbench.judge import build_judge_prompt, judge_messages, parse_verdicts
from alignkit.followbench.metrics import ItemScore, category_level_metrics, paper_tables
from alignkit.followbench.reliability import judge_agreement, judge_vs_rules
from alignkit.stage import (
    Counts,
    LLMUsage,
    LocalExecutor,
    OutputFolder,
    Stage,
    StageConfig,
    Task,
    TaskContext,
    TaskResult,
    option,
    run_stage,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
TASK = "followbench"
CACHE_DIR = "llm_cache"
_SPECS = "transformers, transformers:PATH or openai:MODEL@URL"
_FROM_CONFIG: Any = object()  # run_followbench's model/judge arguments: the config's spec
SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"


class FollowBenchConfigError(ConfigError):
    """An invalid FollowBench option."""


def _spec_or_none(value: str | None) -> str | None:
    if value is None or value.strip().lower() in ("", "none", "off"):
        return None
    return value


@dataclasses.dataclass(frozen=True)
class EvalConfig(StageConfig):
    """Settings of one FollowBench run: the flags of `alignkit followbench run`, its config-file
    keys and the fingerprint recorded in OUT/.alignkit/config.json (model and judge included, so
    a finished run is never overwritten with another model's answers)."""

    schema_version: ClassVar[int] = 2  # stage kit: recorded config, per-task caches

    model: str = option(DEFAULT_LLM_SPEC, help=f"model under test: {_SPECS}", llm_spec=True)
    judge: str | None = option(
        DEFAULT_LLM_SPEC,
        help=f"judge: {_SPECS}; use a strong model for real numbers; 'none' scores only "
        "rule-checkable items",
        llm_spec=True,
    )
    judge2: str | None = option(None, help="second judge, for judge-judge agreement", llm_spec=True)
    model_name: str | None = option(
        None, flag="--name", help="model name shown in tables and the report"
    )
    language: str | None = option(None, choices=("en", "zh"), help="data language; none: detected")
    categories: tuple[str, ...] | None = option(
        None, help="subset of content,situation,style,format,example,mixed; none: all"
    )
    max_chains: int | None = option(None, help="at most N chains per category")
    max_new_tokens: int = option(2048, help="answer length limit")
    judge_max_tokens: int = option(1024, help="judge reply limit")
    judge_retries: int = option(2, help="re-asks of an unparsable judge reply")
    rules: str = option(
        "original",
        choices=RULE_MODES,
        help="original: the FollowBench paper's rule routing, rule definitions, judge-reply "
        "parsing (final line) and unscored items counted as not satisfied; lenient: trimmed, "
        "case-insensitive rule checks, judge lists read anywhere, unscored items left out",
    )
    judge_rule_items: bool = option(
        True,
        help="also judge rule-checked items (judge-vs-rule reliability; costs judge calls)",
    )
    chains_per_task: int = option(
        50, help="chains per task (one LLM cache each); tasks never mix categories"
    )
    concurrency: int = option(8, help="requests in flight (openai)", fingerprint=False)
    retry_failed: bool = option(False, help="re-send earlier failures", fingerprint=False)

    def validate(self) -> None:
        object.__setattr__(self, "judge", _spec_or_none(self.judge))
        object.__setattr__(self, "judge2", _spec_or_none(self.judge2))
        if self.max_new_tokens < 1 or self.judge_max_tokens < 1:
            raise FollowBenchConfigError("max_new_tokens and judge_max_tokens must be >= 1")
        if self.judge_retries < 0:
            raise FollowBenchConfigError("judge_retries must be >= 0")
        if self.max_chains is not None and self.max_chains < 1:
            raise FollowBenchConfigError("max_chains must be >= 1")
        if self.concurrency < 1 or self.chains_per_task < 1:
            raise FollowBenchConfigError("concurrency and chains_per_task must be >= 1")
        if self.categories:
            unknown = sorted(set(self.categories) - set(CATEGORIES))
            if unknown:
                raise FollowBenchConfigError(
                    f"unknown categories {', '.join(unknown)}; known: {', '.join(CATEGORIES)}"
                )


def _backend(spec: Any, concurrency: int) -> Any:
    from alignkit.llm import make_backend

    if not isinstance(spec, str):
        return spec  # already a ChatBackend
    options = {"concurrency": concurrency} if spec.startswith("openai:") else {}
    return make_backend(spec, **options)


def _spec_name(spec: Any) -> str:
    return spec if isinstance(spec, str) else f"{spec.kind}:{spec.model}"


def generate_answers(
    backend: Any,
    records: Sequence[Record],
    cache: Any,
    config: EvalConfig,
    progress: bool = True,
) -> tuple[list[Any], dict[str, Any]]:
    """One greedy single-turn completion per record, through the cache."""
    from alignkit.llm import ChatRequest, run_requests

    requests = [
        ChatRequest(
            messages=[{"role": "user", "content": r.instruction}],
            temperature=0.0,
            max_tokens=config.max_new_tokens,
        )
        for r in records
    ]
    return run_requests(
        backend,
        requests,
        cache,
        progress=progress,
        retry_failed=config.retry_failed,
        desc="followbench generate",
    )


def run_judge(
    backend: Any,
    jobs: Sequence[tuple[Chain, Record, str]],
    cache: Any,
    config: EvalConfig,
    progress: bool = True,
    desc: str = "followbench judge",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Judge each (chain, record, answer); unparsable replies are re-asked with a reminder.

    Returns per job `{"prompt", "replies", "error"}` (replies in attempt order) and a summary.
    """
    from alignkit.llm import ChatRequest, run_requests

    outcomes: list[dict[str, Any]] = [
        {"prompt": build_judge_prompt(chain, record, answer), "replies": [], "error": None}
        for chain, record, answer in jobs
    ]
    levels = [record.level for _, record, _ in jobs]
    pending = list(range(len(jobs)))
    summary: Counter[str] = Counter()
    usage = LLMUsage()
    for attempt in range(config.judge_retries + 1):
        if not pending:
            break
        requests = [
            ChatRequest(
                messages=judge_messages(outcomes[i]["prompt"], outcomes[i]["replies"], levels[i]),
                temperature=0.0,
                max_tokens=config.judge_max_tokens,
            )
            for i in pending
        ]
        results, run_summary = run_requests(
            backend,
            requests,
            cache,
            progress=progress,
            retry_failed=config.retry_failed,
            desc=desc if attempt == 0 else f"{desc} retry {attempt}",
        )
        summary["requests"] += run_summary["requests"]
        summary["sent"] += run_summary["sent"]
        summary["from_cache"] += run_summary["from_cache"]
        summary["failed"] += run_summary["failed_total"]
        usage.merge(LLMUsage.from_summary(run_summary))
        still: list[int] = []
        for i, result in zip(pending, results, strict=True):
            if not result.ok:
                outcomes[i]["error"] = result.error
                continue
            outcomes[i]["replies"].append(result.text or "")
            if not parse_verdicts(result.text, levels[i], config.rules).ok:
                still.append(i)
        if attempt > 0:
            summary["retried"] += len(pending)
        pending = still
    summary["unparsable"] = len(pending)
    return outcomes, {**summary, "llm": usage.to_dict()}


def _judge_parse(judge: dict[str, Any] | None, level: int, rules: str) -> dict[str, Any] | None:
    """The verdicts from the last reply of a stored judge record (None when not judged)."""
    if judge is None:
        return None
    replies = judge.get("replies") or []
    if not replies:
        return {"verdicts": None, "tokens": [], "problem": judge.get("error") or "no reply"}
    return parse_verdicts(replies[-1], level, rules).to_json()


def rescore_rows(rows: Iterable[dict[str, Any]], rules: str = "original") -> list[dict[str, Any]]:
    """(Re)derive every verdict of sample rows from their stored answers and judge replies.

    Uses the rule checks and parser of `rules` as they are now, so a re-score after adding a
    check or fixing the parser needs no model call. Sets `check`, `rule`, `judge_parse`,
    `judge2_parse`, `scorer`, `hard`, `soft`, `verdicts` on each row. An item that cannot be
    scored (no answer, judge failed, reply unparsable) keeps its `unscored:<why>` scorer; under
    `rules="original"` it counts as not satisfied (hard False, soft 0), as in the original,
    where a missing answer fails its rule and an unparsable reply is never a satisfied level;
    under `lenient` it is left out of the means (hard/soft None). Items not judged because no
    judge was set stay out of the means in both modes.
    """
    if rules not in RULE_MODES:
        raise FollowBenchConfigError(f"rules must be one of {', '.join(RULE_MODES)}, not {rules!r}")
    out = []
    for row in rows:
        row = dict(row)
        record = Record.from_json(row["record"])
        answer = row.get("answer")
        check = find_check(record, rules)
        row["check"] = check.name if check else None
        row["rule"] = None
        if check is not None and answer is not None:
            verdict = check(record, answer)
            row["rule"] = {"passed": verdict.passed, "reason": verdict.reason}
        row["judge_parse"] = _judge_parse(row.get("judge"), record.level, rules)
        row["judge2_parse"] = _judge_parse(row.get("judge2"), record.level, rules)
        verdicts = (row["judge_parse"] or {}).get("verdicts")
        if answer is None:
            row["scorer"], row["hard"], row["soft"] = "unscored:generation_failed", None, None
        elif row["rule"] is not None:
            passed = row["rule"]["passed"]
            row["scorer"] = f"rule:{row['check']}"
            row["hard"], row["soft"] = passed, float(passed)
        elif verdicts is not None:
            row["scorer"] = "judge"
            row["hard"], row["soft"] = all(verdicts), sum(verdicts) / len(verdicts)
        elif row.get("judge") is None:
            row["scorer"], row["hard"], row["soft"] = "unscored:not_judged", None, None
        elif row["judge"].get("error"):
            row["scorer"], row["hard"], row["soft"] = "unscored:judge_failed", None, None
        else:
            row["scorer"], row["hard"], row["soft"] = "unscored:judge_unparsable", None, None
        if rules == "original" and row["hard"] is None and row["scorer"] != "unscored:not_judged":
            row["hard"], row["soft"] = False, 0.0
        row["verdicts"] = verdicts
        out.append(row)
    return out


def item_scores(rows: Iterable[dict[str, Any]]) -> list[ItemScore]:
    return [
        ItemScore(
            chain_id=row["record"]["chain_id"],
            category=row["record"]["category"],
            level=row["record"]["level"],
            hard=row["hard"],
            soft=row["soft"],
            scorer=row["scorer"],
        )
        for row in rows
    ]


# The metric names of every task, as results, metric_list and higher_is_better spell them.
METRIC_NAMES = (
    *(f"{m}_level{level}" for m in ("hsr", "ssr") for level in range(1, 6)),
    "hsr_avg",
    "ssr_avg",
    "csl",
)


def _lm_eval_task_metrics(per_cat: dict[str, Any]) -> dict[str, Any]:
    """`name,none` and `name_stderr,none` per metric, as lm-eval writes them."""
    metrics: dict[str, Any] = {}
    err = per_cat["stderr"]
    for level in range(1, 6):
        for m in ("hsr", "ssr"):
            metrics[f"{m}_level{level},none"] = per_cat[m][level]
            metrics[f"{m}_level{level}_stderr,none"] = err[m][level]
    for m in ("hsr", "ssr"):
        values = [v for v in per_cat[m].values() if v is not None]
        metrics[f"{m}_avg,none"] = sum(values) / len(values) if values else None
        metrics[f"{m}_avg_stderr,none"] = err[f"{m}_avg"]
    metrics["csl,none"] = per_cat["csl"]
    metrics["csl_stderr,none"] = err["csl"]
    return metrics


def build_results(rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """The lm-evaluation-harness-shaped results of scored sample rows.

    `results` holds one task per category (`followbench_content`, ...) plus the group
    `followbench` (paper aggregation); `tables` the paper's tables; `samples` per task the
    scored items; `reliability` judge vs rules and judge vs judge; `counts` how items were
    scored.
    """
    per_category = category_level_metrics(item_scores(rows))
    tables = paper_tables(per_category)
    results: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    samples: dict[str, list[dict[str, Any]]] = {}
    n_samples: dict[str, Any] = {}
    language = meta.get("language", "en")
    for category, values in per_category.items():
        task = f"{TASK}_{category}"
        results[task] = {"alias": f" - {category}", **_lm_eval_task_metrics(values)}
        configs[task] = {
            "task": task,
            "tag": [TASK],
            "dataset_path": meta.get("data"),
            "dataset_name": f"{category}_constraints",
            "language": language,
            "output_type": "generate_until",
            "generation_kwargs": {
                "temperature": 0.0,
                "do_sample": False,
                "max_gen_toks": meta.get("max_new_tokens"),
            },
            "metric_list": [
                {"metric": m, "aggregation": "mean", "higher_is_better": True} for m in METRIC_NAMES
            ],
        }
        task_rows = [r for r in rows if r["record"]["category"] == category]
        n_samples[task] = {
            "original": len(task_rows),
            "effective": sum(not r["scorer"].startswith("unscored:") for r in task_rows),
        }
        samples[task] = [
            {
                "doc_id": i,
                "item_id": r["item_id"],
                "doc": {k: v for k, v in r["record"].items() if k != "origin"},
                "target": r["record"]["target"],
                "arguments": [[r["record"]["instruction"], configs[task]["generation_kwargs"]]],
                "resps": [[r.get("answer")]],
                "filtered_resps": [r.get("answer")],
                "scorer": r["scorer"],
                "hsr": None if r["hard"] is None else float(r["hard"]),
                "ssr": r["soft"],
                "verdicts": r["verdicts"],
            }
            for i, r in enumerate(task_rows)
        ]
    group: dict[str, Any] = {"alias": TASK}
    for m in ("hsr", "ssr"):
        for key in (*(str(level) for level in range(1, 6)), "avg"):
            name = f"{m}_avg" if key == "avg" else f"{m}_level{key}"
            group[f"{name},none"] = tables["level"][m][key]
            group[f"{name}_stderr,none"] = tables["level_stderr"][m][key]
    group["csl,none"] = tables["csl"]
    group["csl_stderr,none"] = tables["csl_stderr"]
    results = {TASK: group, **results}
    counts = Counter(r["scorer"] for r in rows)
    unscored = [
        {"item_id": r["item_id"], "why": r["scorer"].split(":", 1)[1]}
        for r in rows
        if r["scorer"].startswith("unscored:")
    ]
    reliability = {
        "judge_vs_rules": judge_vs_rules(
            {
                "category": r["record"]["category"],
                "rule_hard": None if r["rule"] is None else r["rule"]["passed"],
                "judge_hard": None
                if not (r["judge_parse"] or {}).get("verdicts")
                else all(r["judge_parse"]["verdicts"]),
            }
            for r in rows
            if r["rule"] is not None and r.get("judge") is not None
        ),
        "judge_agreement": None
        if not any(r.get("judge2") for r in rows)
        else judge_agreement(
            {
                "category": r["record"]["category"],
                "verdicts": (r["judge_parse"] or {}).get("verdicts"),
                "verdicts2": (r["judge2_parse"] or {}).get("verdicts"),
            }
            for r in rows
            if r.get("judge") is not None and r.get("judge2") is not None
        ),
    }
    higher = {t: {m: True for m in METRIC_NAMES} for t in (TASK, *configs)}
    return {
        "results": results,
        "groups": {TASK: group},
        "group_subtasks": {TASK: list(configs)},
        "configs": configs,
        "versions": {TASK: SCHEMA_VERSION, **{t: SCHEMA_VERSION for t in configs}},
        "n-shot": {t: 0 for t in configs},
        "higher_is_better": higher,
        "n-samples": n_samples,
        "config": {k: v for k, v in meta.items() if k not in ("usage",)},
        "tables": tables,
        "per_category": {
            c: {
                **v,
                "hsr": _str_keys(v["hsr"]),
                "ssr": _str_keys(v["ssr"]),
                "n_scored": _str_keys(v["n_scored"]),
                "n_unscored": _str_keys(v["n_unscored"]),
                "stderr": {
                    k: _str_keys(e) if isinstance(e, dict) else e for k, e in v["stderr"].items()
                },
            }
            for c, v in per_category.items()
        },
        "reliability": reliability,
        "counts": {"items": len(rows), "by_scorer": dict(counts), "unscored": unscored},
        "usage": meta.get("usage", {}),
        "model_name": meta.get("model_name"),
        "date": meta.get("date"),
        "samples": samples,
    }


def _str_keys(mapping: dict[int, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in mapping.items()}


def write_outputs(
    folder: OutputFolder, rows: Sequence[dict[str, Any]], results: dict[str, Any]
) -> dict[str, Path]:
    """samples.jsonl, results.json and report.html, each written to a temporary file (the kit
    publishes them); returns {name: temporary path}."""
    from alignkit.followbench.report import render_report

    results = {**results, "samples_file": SAMPLES_FILE}
    texts = {
        SAMPLES_FILE: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
        RESULTS_FILE: json.dumps(results, indent=2, ensure_ascii=False),
        REPORT_FILE: render_report([results]),
    }
    outputs = {}
    for name, text in texts.items():
        outputs[name] = folder.tmp_path(name)
        outputs[name].write_text(text, encoding="utf-8")
    return outputs


def run_followbench(
    data: str | os.PathLike[str] | FollowBenchData,
    out_dir: str | os.PathLike[str],
    model: Any = _FROM_CONFIG,
    judge: Any = _FROM_CONFIG,
    config: EvalConfig | None = None,
    *,
    judge2: Any = _FROM_CONFIG,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool | str = True,
    echo: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Evaluate `model` (a backend spec or ChatBackend) on FollowBench; returns results.json.

    `model`, `judge` and `judge2` override the config's specs when given (`judge=None` scores
    only the rule-checkable items; the rest are reported unscored). Raises StageFailedError
    naming failed tasks (a re-run redoes only them) and ConfigMismatchError when `out_dir` holds
    a run of another configuration (unless `overwrite`).
    """
    config = config or EvalConfig()
    backends: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for role, value in (("model", model), ("judge", judge), ("judge2", judge2)):
        if value is _FROM_CONFIG:
            continue
        if value is not None and not isinstance(value, str):
            backends[role] = value  # a ready ChatBackend: recorded by its spec
        overrides[role] = value if isinstance(value, str) or value is None else _spec_name(value)
    config = config.replace(**overrides)
    loaded = data if isinstance(data, FollowBenchData) else None
    stage = FollowBenchStage(config, data=loaded, backends=backends)
    report = run_stage(
        stage,
        [] if loaded is not None else [data],  # type: ignore[list-item]
        out_dir,
        executor=LocalExecutor(workers),
        overwrite=overwrite,
        progress=progress,
        retry_failed=config.retry_failed,
    )
    if report.failures:
        raise StageFailedError(report.stage, report.failures)
    if stage.selected is not None:
        selected = stage.selected
        echo(
            f"FollowBench ({selected.language}): {len(selected.chains)} chains, "
            f"{len(selected.records())} items from {selected.source}"
        )
    for role, usage in report.stats.get("llm", {}).items():
        echo(_usage_line("generate" if role == "model" else role, usage))
    results, _ = load_run(out_dir)
    return results


def _usage_line(stage: str, usage: Mapping[str, Any]) -> str:
    parts = [f"{usage.get('requests', 0)} requests", f"{usage.get('sent', 0)} sent"]
    parts.append(f"{usage.get('cached', 0)} from cache")
    parts.append(f"{usage.get('failures', 0)} failed")
    return f"{stage}: " + ", ".join(parts)


def backend_spec_of(backend: Any) -> str:
    endpoint = getattr(backend, "endpoint", "")
    base = f"{backend.kind}:{backend.model}"
    return f"{base}@{endpoint}" if endpoint else base


def load_run(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A finished run's results.json and sample rows, from its folder or its results.json."""
    p = Path(path)
    results_path = p / RESULTS_FILE if p.is_dir() else p
    if not results_path.is_file():
        raise FileNotFoundError(f"no FollowBench results at {path}")
    results = json.loads(results_path.read_text(encoding="utf-8"))
    if not isinstance(results, dict) or "results" not in results:
        raise ValueError(f"{results_path} is not a FollowBench results.json")
    samples_path = results_path.parent / results.get("samples_file", SAMPLES_FILE)
    if not samples_path.is_file():
        raise FileNotFoundError(f"{results_path}: its per-sample log {samples_path} is missing")
    rows = []
    for n, line in enumerate(samples_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{samples_path}:{n}: not JSON ({exc})") from exc
    return results, rows


def rescore_run(path: str | os.PathLike[str], rules: str | None = None) -> dict[str, Any]:
    """Re-score a finished run from its sample log (current checks and parser); no model call.

    `rules`: original or lenient; None: the run's own (runs recorded before the choice existed
    were lenient)."""
    old, rows = load_run(path)
    meta = dict(old.get("config", {}))
    rows = rescore_rows(rows, rules or meta.get("rules") or "lenient")
    meta["rules"] = rules or meta.get("rules") or "lenient"
    meta["usage"] = old.get("usage", {})
    return build_results(rows, meta)


_ROLES = ("model", "judge", "judge2")


class FollowBenchStage(Stage[EvalConfig]):
    """FollowBench on the stage kit. Tasks: the chains of one (language, category), in chunks of
    `chains_per_task`; each generates and judges its items through its own LLM cache
    (OUT/.alignkit/llm_cache/<task>.sqlite) and keeps its raw sample rows in
    OUT/.alignkit/parts/<task>.jsonl. The reduce re-scores every row and writes results.json,
    samples.jsonl and report.html.

    Input: one FollowBench folder, or `data=` (a loaded FollowBenchData) with no input paths.
    `backends` maps roles (model, judge, judge2) to ready ChatBackends instead of their specs.
    """

    name = "followbench.run"
    config_class = EvalConfig
    progress_unit = "item"

    def __init__(
        self,
        config: EvalConfig,
        *,
        data: FollowBenchData | None = None,
        backends: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(config)
        self.data = data
        self.backends = dict(backends or {})
        specs = [getattr(config, role) or "" for role in _ROLES]
        # Live backend objects and local models are resources of this process.
        self.parallel_tasks = not self.backends and not any(
            s.startswith("transformers") for s in specs
        )
        self.selected: FollowBenchData | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["selected"] = None
        return state

    def fingerprint(self) -> dict[str, Any]:
        fingerprint = super().fingerprint()
        if self.data is not None:
            blob = json.dumps([dataclasses.asdict(c) for c in self.data.chains], sort_keys=True)
            fingerprint["data_sha256"] = hashlib.sha256(blob.encode("utf-8")).hexdigest()
        return fingerprint

    def backend(self, role: str) -> Any:
        """The backend of `role` (None when that role is off), made once per process."""
        if role not in self.backends:
            spec = getattr(self.config, role)
            self.backends[role] = None if spec is None else _backend(spec, self.config.concurrency)
        return self.backends[role]

    def plan(self, inputs: Sequence[str]) -> list[Task]:
        if self.data is not None:
            if inputs:
                raise FollowBenchConfigError("give a FollowBench folder or loaded data, not both")
            data = self.data
        elif len(inputs) != 1:
            raise FollowBenchConfigError(f"followbench run takes one --data, not {len(inputs)}")
        else:
            data = load_followbench(inputs[0], self.config.language)
        data = data.subset(self.config.categories, self.config.max_chains)
        if not data.chains:
            raise InputError("no FollowBench chains left after --categories / --max-chains")
        self.selected = data
        size = self.config.chains_per_task
        tasks = []
        for category, chains in data.by_category().items():
            for k, start in enumerate(range(0, len(chains), size)):
                chunk = tuple(chains[start : start + size])
                tasks.append(
                    Task(
                        id=f"{data.language}-{category}-{k:03d}",
                        inputs=tuple(inputs),
                        payload=chunk,
                        weight=sum(len(c.records) for c in chunk),
                    )
                )
        return sorted(tasks, key=lambda t: t.id)

    def run_task(self, task: Task, ctx: TaskContext) -> TaskResult:
        from alignkit.llm import ResponseCache

        chains = {c.chain_id: c for c in task.payload}
        records = [r for chain in task.payload for r in chain.records]
        config = self.config
        llm: dict[str, Any] = {}
        judging: Counter[str] = Counter()
        with ResponseCache(ctx.folder.meta / CACHE_DIR / f"{task.id}.sqlite") as cache:
            results, summary = generate_answers(
                self.backend("model"), records, cache, config, progress=False
            )
            llm["model"] = LLMUsage.from_summary(summary).to_dict()
            rows = [
                _sample_row(record, result) for record, result in zip(records, results, strict=True)
            ]
            jobs = [
                i
                for i, (record, row) in enumerate(zip(records, rows, strict=True))
                if row["answer"] is not None
                and (config.judge_rule_items or find_check(record, config.rules) is None)
            ]
            for role in ("judge", "judge2"):
                backend = self.backend(role)
                if backend is None or not jobs:
                    continue
                outcomes, judged = run_judge(
                    backend,
                    [(chains[records[i].chain_id], records[i], rows[i]["answer"]) for i in jobs],
                    cache,
                    config,
                    progress=False,
                    desc=f"followbench {role}",
                )
                for i, outcome in zip(jobs, outcomes, strict=True):
                    rows[i][role] = {"model": backend_spec_of(backend), **outcome}
                llm[role] = judged["llm"]
                judging.update({f"{role}_retried": judged.get("retried", 0)})
                judging.update({f"{role}_unparsable": judged.get("unparsable", 0)})
        ctx.progress(len(records))
        # The raw rows are this task's part; the reduce reads them (bookkeeping, not data).
        part = ctx.tmp_part(f"{task.id}.jsonl")
        part.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        failures = sum(usage.get("failures", 0) for usage in llm.values())
        stats = {"items": len(records), "llm": llm, "judging": dict(judging), "failures": failures}
        return TaskResult(stats=stats, parts={f"{task.id}.jsonl": part})

    def finalize(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        return Counts.total(results[t.id] for t in tasks if t.id in results).plain()

    def reduce(
        self, folder: OutputFolder, tasks: Sequence[Task], results: Mapping[str, Mapping[str, Any]]
    ) -> TaskResult | None:
        if self.selected is None:
            return None
        stats = self.finalize(folder, tasks, results)
        rows = _reduce_rows(folder, tasks, self.selected, self.config.rules)
        outputs = write_outputs(folder, rows, build_results(rows, self._meta(stats)))
        return TaskResult(stats={"counts": {"items": len(rows)}}, outputs=outputs)

    def _meta(self, stats: Mapping[str, Any]) -> dict[str, Any]:
        """The run's description in results.json (`config`, `usage`, `model_name`, `date`)."""
        config, data = self.config, self.selected
        assert data is not None
        usage: dict[str, Any] = {}
        # Only counts that a resume reproduces: sent/cached/seconds are in .alignkit/stats.json.
        for role, llm in stats.get("llm", {}).items():
            entry = {"requests": llm.get("requests", 0), "failures": llm.get("failures", 0)}
            if role != "model":
                entry["retried"] = stats["judging"].get(f"{role}_retried", 0)
                entry["unparsable"] = stats["judging"].get(f"{role}_unparsable", 0)
            usage["generate" if role == "model" else role] = entry
        model = self.backend("model")
        recorded = config.describe()  # backend specs with credentials redacted
        return {
            "model": recorded["model"],
            "model_name": config.model_name or getattr(model, "model", recorded["model"]),
            "judge": recorded["judge"],
            "judge2": recorded["judge2"],
            "data": data.source,
            "language": data.language,
            "data_summary": data.summary(),
            "max_new_tokens": config.max_new_tokens,
            "judge_max_tokens": config.judge_max_tokens,
            "judge_retries": config.judge_retries,
            "judge_rule_items": config.judge_rule_items,
            "rules": config.rules,
            "categories": list(config.categories) if config.categories else None,
            "max_chains": config.max_chains,
            "usage": usage,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }


def _reduce_rows(
    folder: OutputFolder, tasks: Sequence[Task], data: FollowBenchData, rules: str
) -> list[dict[str, Any]]:
    """Every task's raw rows in the data's item order, re-scored."""
    order = {r.item_id: n for n, r in enumerate(data.records())}
    rows = [row for task in tasks for row in _read_part(folder, task.id)]
    return rescore_rows(sorted(rows, key=lambda r: order[r["item_id"]]), rules)


def _sample_row(record: Record, result: Any) -> dict[str, Any]:
    return {
        "item_id": record.item_id,
        "record": record.to_json(),
        "messages": [{"role": "user", "content": record.instruction}],
        "answer": result.text if result.ok else None,
        "finish_reason": result.finish_reason,
        "generation_error": result.error,
        "judge": None,
        "judge2": None,
    }


def _read_part(folder: OutputFolder, task_id: str) -> list[dict[str, Any]]:
    path = folder.part_path(f"{task_id}.jsonl")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise OutputError(f"{path} is missing (task {task_id}); re-run to redo that task") from None
    return [json.loads(line) for line in lines if line.strip()]


__all__ = [
    "EvalConfig",
    "FollowBenchStage",
    "build_results",
    "generate_answers",
    "load_run",
    "rescore_rows",
    "rescore_run",
    "run_followbench",
    "run_judge",
]
