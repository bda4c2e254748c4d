"""The self-contained HTML page of a score report (`report.html` of `alignkit webr score`).

`render_report(report)` reads only the report dict that `score_datasets` writes to report.json,
so a page can be regenerated from a saved report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignkit.report.html import (
    CSS,
    color,
    esc,
    fmt,
    histogram_svg,
    legend,
    lines_svg,
    matrix_table,
    scatter_svg,
)


def _metrics_table(report: dict[str, Any], fields: Sequence[str]) -> str:
    datasets = report["datasets"]
    head = "".join(f"<th>{esc(d['name'])}</th>" for d in datasets)
    rows: list[str] = []

    def section(label: str) -> None:
        rows.append(f'<tr class="section"><td colspan="{len(datasets) + 1}">{esc(label)}</td></tr>')

    def row(label: str, values: Sequence[Any], digits: int = 3) -> None:
        cells = "".join(f"<td>{fmt(v, digits)}</td>" for v in values)
        rows.append(f'<tr><td class="label">{esc(label)}</td>{cells}</tr>')

    def get(d: dict[str, Any], *keys: str) -> Any:
        for key in keys:
            if not isinstance(d, dict):
                return None
            d = d.get(key)  # type: ignore[assignment]
        return d

    for field in fields:
        section(f"diversity of {field}s (embeddings)")
        row("rows embedded", [get(d, "diversity", field, "n") for d in datasets])
        row(
            "embedding diversity ↑",
            [get(d, "diversity", field, "embedding_diversity") for d in datasets],
            4,
        )
        row("Vendi score ↑", [get(d, "diversity", field, "vendi_score") for d in datasets], 2)
        row(
            "centroid distance ↑",
            [get(d, "diversity", field, "centroid_distance") for d in datasets],
            4,
        )
        for key, label in (("mean", "mean"), ("q05", "5%"), ("q50", "median"), ("q95", "95%")):
            row(
                f"nearest-neighbour distance, {label}",
                [get(d, "diversity", field, "nn_distance", key) for d in datasets],
                4,
            )
        row(
            "near-duplicate share (NN ≤ 0.05) ↓",
            [get(d, "diversity", field, "near_duplicate_share") for d in datasets],
        )
    section("composition")
    row("examples", [d["examples"] for d in datasets])
    row("with a response", [d["with_response"] for d in datasets])
    row("bad rows (skipped)", [d["bad_rows"] for d in datasets])
    row("exact duplicate rate ↓", [d["duplicate_rate"] for d in datasets])
    row("turns per conversation, mean", [get(d, "turns", "mean") for d in datasets], 2)
    rows.append(
        '<tr><td class="label">languages</td>'
        + "".join(
            "<td>"
            + esc(", ".join(f"{k} {v:.0%}" for k, v in list(d["languages"].items())[:4]))
            + "</td>"
            for d in datasets
        )
        + "</tr>"
    )
    for key, label in (("instruction_tokens", "instruction"), ("response_tokens", "response")):
        section(f"{label} length (tokens)")
        for stat in ("mean", "median", "p95", "max"):
            row(f"{label} tokens, {stat}", [get(d, key, stat) for d in datasets], 1)
    return f'<table><tr><th class="label">metric</th>{head}</tr>{"".join(rows)}</table>'


def render_report(report: dict[str, Any]) -> str:
    """The HTML page (one string, no external resources)."""
    config = report["config"]
    datasets = report["datasets"]
    names = [d["name"] for d in datasets]
    colors = {n: color(i) for i, n in enumerate(names)}
    fields = [f for f in ("instruction", "response") if f in report["cross"]] or ["instruction"]
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>alignkit dataset report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Dataset diversity and quality report</h1>",
        f"<p class='meta'>{len(datasets)} dataset(s): "
        + ", ".join(f"{esc(d['name'])} ({esc(d['path'])})" for d in datasets)
        + f"<br>model {esc(config['model_path'])} · max {config['max_seq_length']} tokens · "
        f"coverage threshold {config['coverage_threshold']} · created {esc(report['created'])}"
        f" · alignkit {esc(report['alignkit_version'])}</p>",
        legend(colors),
        "<h2>Metrics</h2>",
        _metrics_table(report, fields),
        "<p class='note'>Distances are cosine distances (1 − cosine similarity) between sentence "
        "embeddings. Embedding diversity: mean distance over all pairs. Vendi score: effective "
        "number of distinct items. ↑ / ↓: higher / lower means more diverse.</p>",
    ]
    if report["cross"]:
        out.append("<h2>Cross-dataset coverage</h2>")
        for field, cross in report["cross"].items():
            out.append(
                matrix_table(
                    cross["names"],
                    cross["coverage"],
                    f"{field}s: share of rows of one dataset with a row of another within "
                    f"{config['coverage_threshold']}",
                )
            )
            out.append(
                matrix_table(
                    cross["names"], cross["mean_distance"], f"{field}s: mean cross distance"
                )
            )
        out.append(
            "<p class='note'>Diagonal of the coverage matrix: share of rows with another row of "
            "the same dataset within the threshold; of the distance matrix: embedding "
            "diversity.</p>"
        )
    charts = report["charts"]
    out.append("<h2>Embedding map (PCA)</h2><div class='charts'>")
    for field, points in charts["projection"].items():
        out.append(
            '<div class="chart">'
            + scatter_svg(points, colors, title=f"{field}s: first two principal components")
            + legend({n: colors[n] for n in points})
            + "</div>"
        )
    out.append("</div><h2>Nearest-neighbour distances</h2><div class='charts'>")
    for field, hist in charts["nn_distance"].items():
        out.append(
            '<div class="chart">'
            + lines_svg(
                hist["edges"],
                hist["counts"],
                colors,
                title=f"{field}s: distance to the nearest other row",
                xlabel="cosine distance",
            )
            + legend({n: colors[n] for n in hist["counts"]})
            + "</div>"
        )
    out.append("</div><h2>Lengths</h2>")
    for key, label in (("instruction_tokens", "instruction"), ("response_tokens", "response")):
        hist = charts["lengths"][key]
        if not any(sum(c) for c in hist["counts"].values()):
            continue
        out.append(f"<h3>{label} tokens</h3><div class='charts'>")
        for name, counts in hist["counts"].items():
            if not sum(counts):
                continue
            out.append(
                '<div class="chart">'
                + histogram_svg(
                    hist["edges"],
                    counts,
                    title=f"{name}",
                    xlabel=f"{label} tokens",
                    fill=colors[name],
                )
                + "</div>"
            )
        out.append("</div>")
    out.append("</body></html>\n")
    return "\n".join(out)
