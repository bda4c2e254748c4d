"""The FollowBench report: one self-contained HTML page comparing several models.

`render_report(results_list)` reads only results.json dicts (as `run_followbench` or
`rescore_run` return them): the paper's tables, HSR and SSR level curves and a per-category
chart as inline SVG, how items were scored, and the judge-reliability numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignkit.followbench.data import CATEGORIES, LEVELS
from alignkit.followbench.metrics import as_percent
from alignkit.report.html import CSS, Frame, color, esc, legend


def _names(results_list: Sequence[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for i, results in enumerate(results_list):
        name = str(results.get("model_name") or results.get("config", {}).get("model") or i)
        while name in names:
            name = f"{name} ({i + 1})"
        names.append(name)
    return names


def level_curve_svg(
    series: dict[str, list[float | None]], colors: dict[str, str], *, title: str, ylabel: str
) -> str:
    """Lines over levels 1..5, y in percent (0-100)."""
    frame = Frame(420, 280, (0.7, 5.3), (0.0, 100.0))
    parts = frame.axes(title, "level (constraints added)", ylabel)
    for name, values in series.items():
        points = [
            (frame.px(level), frame.py(100 * v))
            for level, v in zip(LEVELS, values, strict=True)
            if v is not None
        ]
        if len(points) > 1:
            joined = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{joined}" fill="none" stroke="{colors[name]}" '
                'stroke-width="2"/>'
            )
        for x, y in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colors[name]}"/>')
    parts.append("</svg>")
    return "".join(parts)


def category_bars_svg(
    values: dict[str, dict[str, float | None]],
    colors: dict[str, str],
    categories: Sequence[str],
    *,
    title: str,
    ylabel: str,
) -> str:
    """Grouped bars: per category one bar per model, y in percent."""
    width = max(420, 90 * len(categories) + 80)
    frame = Frame(width, 300, (0.0, float(len(categories))), (0.0, 100.0))
    parts = frame.axes(title, "", ylabel)
    # Replace the numeric x ticks of the shared frame with category names.
    tick_end = f'y2="{frame.height - frame.bottom + 4}"'
    parts = [p for p in parts if tick_end not in p]
    names = list(values)
    slot = (frame.px(1) - frame.px(0)) * 0.8
    bar = slot / max(len(names), 1)
    for ci, category in enumerate(categories):
        left = frame.px(ci) + (frame.px(1) - frame.px(0)) * 0.1
        for ni, name in enumerate(names):
            v = values[name].get(category)
            if v is None:
                continue
            y = frame.py(100 * v)
            parts.append(
                f'<rect x="{left + ni * bar:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" '
                f'height="{frame.py(0) - y:.1f}" fill="{colors[name]}" fill-opacity="0.85">'
                f"<title>{esc(name)} {esc(category)}: {as_percent(v)}%</title></rect>"
            )
        parts.append(
            f'<text x="{frame.px(ci + 0.5):.1f}" y="{frame.py(0) + 15:.1f}" '
            f'text-anchor="middle">{esc(category)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _pct(value: Any) -> str:
    return as_percent(value if isinstance(value, (int, float)) else None)


def _headline_table(names: Sequence[str], results_list: Sequence[dict[str, Any]]) -> str:
    head = "".join(f"<th>L{lv}</th>" for lv in LEVELS)
    rows = []
    for name, results in zip(names, results_list, strict=True):
        level = results["tables"]["level"]
        cells = [f'<td class="label">{esc(name)}</td>']
        for metric in ("hsr", "ssr"):
            cells += [f"<td>{_pct(level[metric][str(lv)])}</td>" for lv in LEVELS]
            cells.append(f"<td><b>{_pct(level[metric]['avg'])}</b></td>")
        csl = results["tables"].get("csl")
        cells.append(f"<td>{'-' if csl is None else f'{csl:.2f}'}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<table><tr><th class="label" rowspan="2">model</th>'
        '<th colspan="6">HSR (%)</th><th colspan="6">SSR (%)</th><th rowspan="2">CSL</th></tr>'
        f"<tr>{head}<th>Avg.</th>{head}<th>Avg.</th></tr>" + "".join(rows) + "</table>"
    )


def _category_table(
    names: Sequence[str], results_list: Sequence[dict[str, Any]], categories: Sequence[str]
) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in categories)
    rows = []
    for metric, label in (("hsr", "HSR (%)"), ("ssr", "SSR (%)"), ("csl", "CSL")):
        rows.append(f'<tr class="section"><td colspan="{len(categories) + 1}">{label}</td></tr>')
        for name, results in zip(names, results_list, strict=True):
            per = results["tables"]["category"]
            cells = [f'<td class="label">{esc(name)}</td>']
            for c in categories:
                v = per.get(c, {}).get(metric)
                if metric == "csl":
                    cells.append(f"<td>{'-' if v is None else f'{v:.2f}'}</td>")
                else:
                    cells.append(f"<td>{_pct(v)}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table><tr><th class="label">model</th>{head}</tr>' + "".join(rows) + "</table>"


def _fmt_stat(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _reliability_table(names: Sequence[str], results_list: Sequence[dict[str, Any]]) -> str:
    rows = []
    for name, results in zip(names, results_list, strict=True):
        rel = results.get("reliability") or {}
        vr = rel.get("judge_vs_rules") or {}
        ja = (rel.get("judge_agreement") or {}).get("items") or {}
        jc = (rel.get("judge_agreement") or {}).get("constraints") or {}
        rows.append(
            f'<tr><td class="label">{esc(name)}</td><td>{vr.get("n", 0)}</td>'
            f"<td>{_fmt_stat(vr.get('agreement'))}</td><td>{_fmt_stat(vr.get('kappa'))}</td>"
            f"<td>{_fmt_stat(vr.get('precision'))}</td><td>{_fmt_stat(vr.get('recall'))}</td>"
            f"<td>{ja.get('n', 0)}</td><td>{_fmt_stat(ja.get('agreement'))}</td>"
            f"<td>{_fmt_stat(ja.get('kappa'))}</td><td>{_fmt_stat(jc.get('agreement'))}</td>"
            f"<td>{_fmt_stat(jc.get('kappa'))}</td></tr>"
        )
    return (
        '<table><tr><th class="label" rowspan="2">model</th>'
        '<th colspan="5">judge vs rule checks (rule = truth)</th>'
        '<th colspan="5">judge 1 vs judge 2</th></tr>'
        "<tr><th>n</th><th>agreement</th><th>kappa</th><th>precision</th><th>recall</th>"
        "<th>n</th><th>item agr.</th><th>item kappa</th><th>constraint agr.</th>"
        "<th>constraint kappa</th></tr>" + "".join(rows) + "</table>"
    )


def _counts_table(names: Sequence[str], results_list: Sequence[dict[str, Any]]) -> str:
    kinds = sorted({k for r in results_list for k in r.get("counts", {}).get("by_scorer", {})})
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    rows = []
    for kind in kinds:
        cells = "".join(
            f"<td>{r.get('counts', {}).get('by_scorer', {}).get(kind, 0)}</td>"
            for r in results_list
        )
        rows.append(f'<tr><td class="label">{esc(kind)}</td>{cells}</tr>')
    return f'<table><tr><th class="label">scored by</th>{head}</tr>' + "".join(rows) + "</table>"


def render_report(results_list: Sequence[dict[str, Any]], title: str = "FollowBench") -> str:
    """The HTML page for one or more results.json dicts (one per model)."""
    if not results_list:
        raise ValueError("render_report needs at least one results dict")
    names = _names(results_list)
    colors = {n: color(i) for i, n in enumerate(names)}
    present = {c for r in results_list for c in r["tables"]["category"]}
    categories = [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))
    charts = []
    for metric, label in (("hsr", "HSR"), ("ssr", "SSR")):
        series = {
            n: [r["tables"]["level"][metric][str(lv)] for lv in LEVELS]
            for n, r in zip(names, results_list, strict=True)
        }
        charts.append(
            level_curve_svg(series, colors, title=f"{label} by level", ylabel=f"{label} (%)")
        )
    per_cat = {
        n: {c: r["tables"]["category"].get(c, {}).get("hsr") for c in categories}
        for n, r in zip(names, results_list, strict=True)
    }
    charts.append(
        category_bars_svg(
            per_cat,
            colors,
            categories,
            title="HSR by category (mean over levels)",
            ylabel="HSR (%)",
        )
    )
    meta_rows = "".join(
        f'<tr><td class="label">{esc(n)}</td><td class="label">'
        f'{esc(r.get("config", {}).get("model"))}</td><td class="label">'
        f'{esc(r.get("config", {}).get("judge"))}</td><td class="label">'
        f"{esc(r.get('config', {}).get('language'))}</td>"
        f"<td>{r.get('counts', {}).get('items', 0)}</td>"
        f"<td>{len(r.get('counts', {}).get('unscored', []))}</td></tr>"
        for n, r in zip(names, results_list, strict=True)
    )
    body = [
        f"<h1>{esc(title)}</h1>",
        '<p class="meta">Multi-level constraint following: each chain adds one constraint per '
        "level. HSR = share of answers meeting every constraint; SSR = share of constraints "
        "met; CSL = consecutive levels met from level 1. Level rows average the categories, "
        "Avg. averages the five levels.</p>",
        '<table><tr><th class="label">model</th><th class="label">spec</th>'
        '<th class="label">judge</th><th class="label">language</th><th>items</th>'
        f"<th>unscored</th></tr>{meta_rows}</table>",
        "<h2>Headline</h2>",
        _headline_table(names, results_list),
        "<h2>Level curves and categories</h2>",
        legend(colors),
        '<div class="charts">'
        + "".join(f'<div class="chart">{c}</div>' for c in charts)
        + "</div>",
        "<h2>Per category</h2>",
        _category_table(names, results_list, categories),
        "<h2>How items were scored</h2>",
        _counts_table(names, results_list),
        '<p class="note">rule:NAME = a rule check; judge = the LLM judge; unscored:* = '
        "generation failed, the judge reply stayed unparsable after retries, or no judge was "
        "given. Unscored items are left out of the means, never guessed.</p>",
        "<h2>Judge reliability</h2>",
        _reliability_table(names, results_list),
        '<p class="note">Judge vs rule checks: the judge also scored rule-checkable items; the '
        "rule verdict is taken as the truth (precision/recall of the judge's 'satisfied'). "
        "Judge 1 vs judge 2: agreement on whole items and on single constraints; kappa = "
        "Cohen's kappa.</p>",
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
