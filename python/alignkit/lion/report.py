"""The Lion run report: one self-contained HTML page with per-iteration curves and tables.

`render_lion_report(summary)` returns the page, `write_lion_report(summary, path)` writes it
atomically. Charts are inline SVG from the shared kit (`alignkit.report.html`), no scripts.
Everything taken from the summary is escaped.

The summary (OUT/lion_summary.json, written by `alignkit.lion.loop`)::

    {
      "iterations": [
        {
          "iteration": k,                      # 1, 2, ...
          "train_pool": n, "cache_pool": n,    # instructions in each pool at discrimination
          "hard": n, "easy": n,                # the referee's split of the Cache Pool
          "hard_ratio": x,                     # hard / judged, 0..1
          "teacher_mean": x, "student_mean": x, "gap_mean": x,   # swap-averaged, 1..10
          "generated": {"hard": n, "easy": n},                  # new instructions kept
          "generation_drops": {reason: n},                      # candidates rejected, by filter
          "relative_quality": {...} | null,    # alignkit.lion.evaluate.relative_quality
          "mcq": {...} | null,                 # alignkit.lion.evaluate.evaluate_mcq
          "timings": {stage: seconds}
        }, ...
      ],
      "settings": {...},                       # nested mappings, shown flattened (a.b.c)
      "additions": [text, ...],                # what the run does beyond the paper
      "final": {"train_pool": n, "timings": {...}, ...},    # optional: the last training
      "student": path                          # optional: the final student
    }

Missing keys and non-numbers show as a dash in tables and as gaps in curves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit.data.io import atomic_write_text
from alignkit.report.html import CSS, color, esc, fmt, legend, line_chart_svg

SETTINGS = ("Setting1", "Setting2", "average")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _get(entry: Any, *keys: str) -> Any:
    """entry[k1][k2]...; None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(entry, Mapping):
            return None
        entry = entry.get(key)
    return entry


def _cell(value: Any, digits: int = 2) -> str:
    """A table cell: numbers formatted (NaN as a dash), other values as escaped text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt(value, digits)
    return fmt(None) if value is None else esc(value)


def _pct(value: Any) -> str:
    """A fraction as a percentage with one decimal."""
    number = _number(value)
    return _cell(value) if number is None else f"{100 * number:.1f}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], label_cols: int = 1) -> str:
    """A table of already-escaped cells; the first `label_cols` columns are left-aligned."""

    def row_html(cells: Sequence[str], tag: str) -> str:
        return "".join(
            f'<{tag} class="label">{c}</{tag}>' if i < label_cols else f"<{tag}>{c}</{tag}>"
            for i, c in enumerate(cells)
        )

    body = "".join(f"<tr>{row_html(r, 'td')}</tr>" for r in rows)
    return f"<table><tr>{row_html(head, 'th')}</tr>{body}</table>"


def _flatten(settings: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if not isinstance(settings, Mapping):
        return [(prefix or "settings", settings)]
    out: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.extend(_flatten(value, name))
        else:
            out.append((name, value))
    return out


def _setting_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return str(value)


def _keys(entries: Sequence[Any], *path: str) -> list[str]:
    """The union of the keys of entry[path] over the entries, in first-seen order."""
    keys: dict[str, None] = {}
    for entry in entries:
        value = _get(entry, *path)
        if isinstance(value, Mapping):
            keys.update(dict.fromkeys(str(k) for k in value))
    return list(keys)


def _chart(
    xs: list[float], series: dict[str, list[float | None]], **kwargs: Any
) -> tuple[str, dict[str, str]] | None:
    """A line chart of the series that have at least one value (None when none has)."""
    kept = {n: v for n, v in series.items() if any(x is not None for x in v)}
    if not kept:
        return None
    colors = {n: color(i) for i, n in enumerate(kept)}
    return line_chart_svg(xs, kept, colors, xlabel="iteration", **kwargs), colors


def _charts(entries: Sequence[Mapping[str, Any]], xs: list[float]) -> list[str]:
    def col(*path: str, scale: float = 1.0) -> list[float | None]:
        values = [_number(_get(e, *path)) for e in entries]
        return [None if v is None else v * scale for v in values]

    specs: list[tuple[dict[str, list[float | None]], dict[str, Any]]] = [
        (
            {"train pool": col("train_pool"), "cache pool": col("cache_pool")},
            {"title": "Pool sizes", "ylabel": "instructions"},
        ),
        (
            {"hard": col("hard"), "easy": col("easy")},
            {"title": "Hard and easy (Cache Pool)", "ylabel": "instructions"},
        ),
        (
            {"hard ratio": col("hard_ratio", scale=100.0)},
            {"title": "Hard ratio", "ylabel": "% of judged", "y_range": (0.0, 100.0)},
        ),
        (
            {
                "teacher": col("teacher_mean"),
                "student": col("student_mean"),
                "gap": col("gap_mean"),
            },
            {"title": "Referee scores (swap-averaged means)", "ylabel": "score"},
        ),
        (
            {
                **{f"kept {k}": col("generated", k) for k in _keys(entries, "generated")},
                **{
                    f"dropped: {r}": col("generation_drops", r)
                    for r in _keys(entries, "generation_drops")
                },
            },
            {"title": "Generation: kept and dropped", "ylabel": "candidates"},
        ),
        (
            {s: col("relative_quality", s) for s in SETTINGS},
            {"title": "Relative quality (student / teacher)", "ylabel": "%"},
        ),
        (
            {
                "overall": col("mcq", "accuracy", scale=100.0),
                **{
                    t: col("mcq", "tasks", t, "accuracy", scale=100.0)
                    for t in _keys(entries, "mcq", "tasks")
                },
                "chance": col("mcq", "chance", scale=100.0),
            },
            {"title": "MCQ accuracy", "ylabel": "%", "y_range": (0.0, 100.0)},
        ),
    ]
    charts = []
    for series, kwargs in specs:
        made = _chart(xs, series, **kwargs)
        if made is not None:
            svg, colors = made
            # The legend wraps under its chart instead of widening the card.
            charts.append(f'<div class="chart" style="max-width:432px">{svg}{legend(colors)}</div>')
    return charts


def _iteration_table(entries: Sequence[Mapping[str, Any]]) -> str:
    head = [
        "iteration", "train pool", "cache pool", "hard", "easy", "hard %", "teacher", "student",
        "gap", "kept hard", "kept easy", "dropped", "rel. quality %", "MCQ acc. %",
    ]  # fmt: skip
    rows = []
    for e in entries:
        drops = _get(e, "generation_drops")
        dropped = (
            sum(n for n in (_number(v) for v in drops.values()) if n is not None)
            if isinstance(drops, Mapping)
            else None
        )
        rows.append(
            [
                _cell(e.get("iteration")),
                _cell(e.get("train_pool")),
                _cell(e.get("cache_pool")),
                _cell(e.get("hard")),
                _cell(e.get("easy")),
                _pct(e.get("hard_ratio")),
                _cell(e.get("teacher_mean")),
                _cell(e.get("student_mean")),
                _cell(e.get("gap_mean")),
                _cell(_get(e, "generated", "hard")),
                _cell(_get(e, "generated", "easy")),
                _cell(None if dropped is None else int(dropped)),
                _cell(_get(e, "relative_quality", "average"), 1),
                _pct(_get(e, "mcq", "accuracy")),
            ]
        )
    return _table(head, rows)


def _by_iteration(
    entries: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
    value: Callable[[Mapping[str, Any], str], str],
    corner: str,
) -> str:
    """Rows = labels, columns = iterations; `value(entry, label)` gives the cell text."""
    head = [esc(corner)] + [f"iter {_cell(e.get('iteration'))}" for e in entries]
    rows = [[esc(label)] + [value(e, label) for e in entries] for label in labels]
    return _table(head, rows)


def _quality_section(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    evaluated = [e for e in entries if isinstance(e.get("relative_quality"), Mapping)]
    if not evaluated:
        return []
    rows = []
    for e in evaluated:
        rq = e["relative_quality"]
        rows.append(
            [
                _cell(e.get("iteration")),
                _cell(rq.get("items")),
                *(_cell(rq.get(s), 1) for s in SETTINGS),
                _cell(rq.get("swap_averaged"), 1),
                _cell(_get(rq, "scored", "Setting1")),
                _cell(_get(rq, "scored", "Setting2")),
                _cell(_get(rq, "unscored", "either")),
            ]
        )
    head = [
        "iteration", "questions", "Setting1 %", "Setting2 %", "Avg %", "swap-averaged %",
        "scored (S1)", "scored (S2)", "unscored",
    ]  # fmt: skip
    categories = _keys(evaluated, "relative_quality", "by_category")
    parts = [
        "<h2>Relative quality</h2>",
        "<p class=\"note\">100 × the student's summed referee score / the teacher's, over the "
        "held-out questions scored in that order: Setting1 shows the teacher's answer first, "
        "Setting2 the student's; Avg is their mean (the paper's columns). Swap-averaged uses "
        "both orders of the questions scored in both. Unscored questions (an answer or the "
        "referee's scores missing) are left out of the sums, never guessed.</p>",
        _table(head, rows),
    ]
    if categories:
        parts += [
            "<h3>Relative quality by category (Avg %)</h3>",
            _by_iteration(
                evaluated,
                categories,
                lambda e, c: _cell(_get(e, "relative_quality", "by_category", c, "average"), 1),
                "category",
            ),
        ]
    return parts


def _mcq_section(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    evaluated = [e for e in entries if isinstance(e.get("mcq"), Mapping)]
    if not evaluated:
        return []
    tasks = _keys(evaluated, "mcq", "tasks")

    def cell(e: Mapping[str, Any], label: str) -> str:
        if label in tasks:
            task = _get(e, "mcq", "tasks", label)
            return f"{_pct(_get(task, 'accuracy'))} ({_cell(_get(task, 'items'))})"
        key = {"overall": "accuracy", "macro average": "macro_accuracy", "chance": "chance"}
        return _pct(_get(e, "mcq", key[label]))

    rule = _get(evaluated[-1], "mcq", "score")
    return [
        "<h2>MCQ accuracy</h2>",
        '<p class="note">Zero-shot: each choice scored by the student\'s log-probability of its '
        f"text after the question ({esc(rule or 'sum')} over its tokens); accuracy in %, items "
        "in brackets; chance = 1 / number of choices, averaged.</p>",
        _by_iteration(evaluated, [*tasks, "overall", "macro average", "chance"], cell, "task"),
    ]


def render_lion_report(summary: Mapping[str, Any], title: str = "Lion run") -> str:
    """The HTML page for a Lion run summary (shape in the module docstring)."""
    if not isinstance(summary, Mapping):
        raise TypeError(f"summary must be a mapping, not {type(summary).__name__}")
    raw = summary.get("iterations") or []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise TypeError("summary['iterations'] must be a list of iteration entries")
    entries = [e for e in raw if isinstance(e, Mapping)]
    # The x of an entry without a usable iteration number is its position.
    numbers = [_number(e.get("iteration")) for e in entries]
    xs = [float(i + 1) if n is None else n for i, n in enumerate(numbers)]
    body = [
        f"<h1>{esc(title)}</h1>",
        '<p class="meta">Adversarial distillation (Lion): each iteration the teacher answers '
        "the Train Pool, the student is fine-tuned on it, the referee compares teacher and "
        "student on the Cache Pool (hard: teacher − student ≥ threshold), and the generator "
        f"writes new hard and easy instructions. {len(entries)} iteration(s).</p>",
    ]
    if not entries:
        body.append("<p>No iteration has finished yet.</p>")
    else:
        charts = _charts(entries, xs)
        body += [
            "<h2>Per iteration</h2>",
            _iteration_table(entries),
            '<div class="charts">' + "".join(charts) + "</div>",
        ]
        reasons = _keys(entries, "generation_drops")
        if reasons:
            body += [
                "<h2>Generation: candidates dropped, by filter</h2>",
                _by_iteration(
                    entries, reasons, lambda e, r: _cell(_get(e, "generation_drops", r)), "reason"
                ),
            ]
        body += _quality_section(entries)
        body += _mcq_section(entries)
        stages = _keys(entries, "timings")
        if stages:
            body += [
                "<h2>Timings (seconds)</h2>",
                _by_iteration(
                    entries, stages, lambda e, s: _cell(_get(e, "timings", s), 1), "stage"
                ),
            ]
    final = summary.get("final")
    if isinstance(final, Mapping):
        rows = [[esc(k), _cell(v, 1)] for k, v in _flatten(final)]
        body += ["<h2>Final training</h2>", _table(["", "value"], rows)]
    if summary.get("student"):
        body.append(f'<p class="meta">Final student: {esc(summary["student"])}</p>')
    additions = summary.get("additions") or []
    if isinstance(additions, Sequence) and not isinstance(additions, str) and additions:
        items = "".join(f"<li>{esc(a)}</li>" for a in additions)
        body += ["<h2>Beyond the paper</h2>", f"<ul>{items}</ul>"]
    settings = _flatten(summary.get("settings") or {})
    if settings:
        rows = [[esc(k), esc(_setting_text(v))] for k, v in settings]
        body += ["<h2>Settings</h2>", _table(["setting", "value"], rows, label_cols=2)]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def write_lion_report(
    summary: Mapping[str, Any], path: str | Path, title: str = "Lion run"
) -> Path:
    """Write `render_lion_report(summary)` to `path` atomically (its folder is created);
    returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, render_lion_report(summary, title))
    return path
