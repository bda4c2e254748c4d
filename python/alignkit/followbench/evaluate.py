"""`run_followbench`: inference, rule checks, LLM judge, metrics, results and report in one call.

1. Every level >= 1 instruction is sent to the model under test as a single user turn (the
   backend applies the model's chat template), greedy (temperature 0), up to 2048 new tokens.
2. Items with a rule check (`alignkit.followbench.checks`) are scored by it; the others by the
   LLM judge (and, for the reliability report, the rule items too unless turned off). Unparsable
   judge replies are re-asked up to `judge_retries` times, then reported as unscored.
3. An optional second judge scores the same items, for judge-judge agreement.
4. OUT/samples.jsonl (every prompt, answer, judge reply and verdict), OUT/results.json
   (lm-evaluation-harness-shaped) and OUT/report.html are written atomically.

Every model and judge answer is cached in OUT/llm_cache.sqlite (keys include backend, endpoint,
model and the full request), so an interrupted run resumes without re-sending, and a finished
run can be re-scored (`rescore_rows`) without calling any model.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from alignkit._defaults import DEFAULT_LLM_SPEC
from alignkit.data.io import atomic_write_text
from alignkit.followbench.checks import find_check
from alignkit.followbench.data import (
    Chain,
    FollowBenchData,
    Record,
    load_followbench,
)
from alignkit.followbench.judge import build_judge_prompt, judge_messages, parse_verdicts
from alignkit.followbench.metrics import ItemScore, category_level_metrics, paper_tables
from alignkit.followbench.reliability import judge_agreement, judge_vs_rules

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
TASK = "followbench"
CACHE_FILE = "llm_cache.sqlite"
SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Settings of one FollowBench run."""

    max_new_tokens: int = 2048
    judge_max_tokens: int = 1024
    judge_retries: int = 2
    judge_rule_items: bool = True
    categories: tuple[str, ...] | None = None
    max_chains: int | None = None
    language: str | None = None
    concurrency: int = 8
    retry_failed: bool = False
    model_name: str | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.judge_max_tokens < 1:
            raise ValueError("max_new_tokens and judge_max_tokens must be >= 1")
        if self.judge_retries < 0:
            raise ValueError("judge_retries must be >= 0")
        if self.max_chains is not None and self.max_chains < 1:
            raise ValueError("max_chains must be >= 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")


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
        still: list[int] = []
        for i, result in zip(pending, results, strict=True):
            if not result.ok:
                outcomes[i]["error"] = result.error
                continue
            outcomes[i]["replies"].append(result.text or "")
            if not parse_verdicts(result.text, levels[i]).ok:
                still.append(i)
        if attempt > 0:
            summary["retried"] += len(pending)
        pending = still
    summary["unparsable"] = len(pending)
    return outcomes, dict(summary)


def _judge_parse(judge: dict[str, Any] | None, level: int) -> dict[str, Any] | None:
    """The verdicts from the last reply of a stored judge record (None when not judged)."""
    if judge is None:
        return None
    replies = judge.get("replies") or []
    if not replies:
        return {"verdicts": None, "tokens": [], "problem": judge.get("error") or "no reply"}
    return parse_verdicts(replies[-1], level).to_json()


def rescore_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """(Re)derive every verdict of sample rows from their stored answers and judge replies.

    Uses the rule checks registered now and the current parser, so a re-score after adding a
    check or fixing the parser needs no model call. Sets `check`, `rule`, `judge_parse`,
    `judge2_parse`, `scorer`, `hard`, `soft`, `verdicts` on each row.
    """
    out = []
    for row in rows:
        row = dict(row)
        record = Record.from_json(row["record"])
        answer = row.get("answer")
        check = find_check(record)
        row["check"] = check.name if check else None
        row["rule"] = None
        if check is not None and answer is not None:
            verdict = check(record, answer)
            row["rule"] = {"passed": verdict.passed, "reason": verdict.reason}
        row["judge_parse"] = _judge_parse(row.get("judge"), record.level)
        row["judge2_parse"] = _judge_parse(row.get("judge2"), record.level)
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


def _lm_eval_task_metrics(per_cat: dict[str, Any]) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for level in range(1, 6):
        metrics[f"hsr_level{level},none"] = per_cat["hsr"][level]
        metrics[f"ssr_level{level},none"] = per_cat["ssr"][level]
    hsr = [v for v in per_cat["hsr"].values() if v is not None]
    ssr = [v for v in per_cat["ssr"].values() if v is not None]
    metrics["hsr_avg,none"] = sum(hsr) / len(hsr) if hsr else None
    metrics["ssr_avg,none"] = sum(ssr) / len(ssr) if ssr else None
    metrics["csl,none"] = per_cat["csl"]
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
                {"metric": m, "aggregation": "mean", "higher_is_better": True}
                for m in ("hsr", "ssr", "csl")
            ],
        }
        task_rows = [r for r in rows if r["record"]["category"] == category]
        n_samples[task] = {
            "original": len(task_rows),
            "effective": sum(r["hard"] is not None for r in task_rows),
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
    for level in range(1, 6):
        group[f"hsr_level{level},none"] = tables["level"]["hsr"][str(level)]
        group[f"ssr_level{level},none"] = tables["level"]["ssr"][str(level)]
    group["hsr_avg,none"] = tables["level"]["hsr"]["avg"]
    group["ssr_avg,none"] = tables["level"]["ssr"]["avg"]
    group["csl,none"] = tables["csl"]
    results = {TASK: group, **results}
    counts = Counter(r["scorer"] for r in rows)
    unscored = [
        {"item_id": r["item_id"], "why": r["scorer"].split(":", 1)[1]}
        for r in rows
        if r["hard"] is None
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
    higher = {TASK: {"hsr": True, "ssr": True, "csl": True}}
    higher.update({t: {"hsr": True, "ssr": True, "csl": True} for t in configs})
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


def write_outputs(out: Path, rows: Sequence[dict[str, Any]], results: dict[str, Any]) -> None:
    """samples.jsonl, results.json and report.html, each written atomically."""
    from alignkit.followbench.report import render_report

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out / SAMPLES_FILE,
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
    )
    results = {**results, "samples_file": SAMPLES_FILE}
    atomic_write_text(out / RESULTS_FILE, json.dumps(results, indent=2, ensure_ascii=False))
    atomic_write_text(out / REPORT_FILE, render_report([results]))


def run_followbench(
    data: str | os.PathLike[str] | FollowBenchData,
    out_dir: str | os.PathLike[str],
    model: Any = DEFAULT_LLM_SPEC,
    judge: Any = DEFAULT_LLM_SPEC,
    config: EvalConfig | None = None,
    *,
    judge2: Any = None,
    progress: bool = True,
    echo: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Evaluate `model` (a backend spec or ChatBackend) on FollowBench; returns results.json.

    `judge=None` scores only the rule-checkable items (the rest are reported unscored).
    """
    from alignkit.llm import ResponseCache

    config = config or EvalConfig()
    started = time.perf_counter()
    if not isinstance(data, FollowBenchData):
        data = load_followbench(data, config.language)
    data = data.subset(config.categories, config.max_chains)
    if not data.chains:
        raise ValueError("no FollowBench chains left after --categories / --max-chains")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_backend = _backend(model, config.concurrency)
    judge_backend = None if judge is None else _backend(judge, config.concurrency)
    judge2_backend = None if judge2 is None else _backend(judge2, config.concurrency)
    chains = {c.chain_id: c for c in data.chains}
    records = data.records()
    echo(
        f"FollowBench ({data.language}): {len(data.chains)} chains, {len(records)} items "
        f"from {data.source}"
    )
    usage: dict[str, Any] = {}
    with ResponseCache(out / CACHE_FILE) as cache:
        results, usage["generate"] = generate_answers(
            model_backend, records, cache, config, progress
        )
        echo(_usage_line("generate", usage["generate"]))
        rows: list[dict[str, Any]] = []
        for record, result in zip(records, results, strict=True):
            rows.append(
                {
                    "item_id": record.item_id,
                    "record": record.to_json(),
                    "messages": [{"role": "user", "content": record.instruction}],
                    "answer": result.text if result.ok else None,
                    "finish_reason": result.finish_reason,
                    "generation_error": result.error,
                    "judge": None,
                    "judge2": None,
                }
            )
        jobs = [
            i
            for i, (record, row) in enumerate(zip(records, rows, strict=True))
            if row["answer"] is not None and (config.judge_rule_items or find_check(record) is None)
        ]
        for key, backend in (("judge", judge_backend), ("judge2", judge2_backend)):
            if backend is None or not jobs:
                continue
            outcomes, usage[key] = run_judge(
                backend,
                [(chains[records[i].chain_id], records[i], rows[i]["answer"]) for i in jobs],
                cache,
                config,
                progress,
                desc=f"followbench {key}",
            )
            for i, outcome in zip(jobs, outcomes, strict=True):
                rows[i][key] = {"model": backend_spec_of(backend), **outcome}
            echo(_usage_line(key, usage[key]))
    rows = rescore_rows(rows)
    meta = {
        "model": _spec_name(model),
        "model_name": config.model_name or getattr(model_backend, "model", _spec_name(model)),
        "judge": None if judge is None else _spec_name(judge),
        "judge2": None if judge2 is None else _spec_name(judge2),
        "data": data.source,
        "language": data.language,
        "data_summary": data.summary(),
        "max_new_tokens": config.max_new_tokens,
        "judge_max_tokens": config.judge_max_tokens,
        "judge_retries": config.judge_retries,
        "judge_rule_items": config.judge_rule_items,
        "categories": list(config.categories) if config.categories else None,
        "max_chains": config.max_chains,
        "usage": usage,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": None,
    }
    meta["seconds"] = round(time.perf_counter() - started, 3)
    results_json = build_results(rows, meta)
    write_outputs(out, rows, results_json)
    return {**results_json, "samples_file": SAMPLES_FILE}


def _usage_line(stage: str, summary: dict[str, Any]) -> str:
    parts = [f"{summary.get('requests', 0)} requests", f"{summary.get('sent', 0)} sent"]
    parts.append(f"{summary.get('from_cache', 0)} from cache")
    failed = summary.get("failed_total", summary.get("failed", 0))
    parts.append(f"{failed} failed")
    if "unparsable" in summary:
        parts.append(f"{summary.get('retried', 0)} re-asked, {summary['unparsable']} unparsable")
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


def rescore_run(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Re-score a finished run from its sample log (current checks and parser); no model call."""
    old, rows = load_run(path)
    rows = rescore_rows(rows)
    meta = dict(old.get("config", {}))
    meta["usage"] = old.get("usage", {})
    return build_results(rows, meta)


__all__ = [
    "EvalConfig",
    "build_results",
    "generate_answers",
    "load_run",
    "rescore_rows",
    "rescore_run",
    "run_followbench",
    "run_judge",
]
