"""The LTE reports, self-contained HTML pages (no scripts; every value escaped; missing values
show as a dash).

- `lte eval`: from `results.json` (`alignkit.lte.evaluate`): per dataset the four metrics with
  and without the edit, the metrics by probe kind, retrieval accuracy and the configuration
  (`render_lte_report`, `write_lte_report`).
- `lte run`: from `lte_summary.json` (`alignkit.lte.run`): per dataset the aligned model against
  the untrained one with the same retrieval, the verdict, each stage's time and peak memory, and
  each evaluation's own page as above (`render_run_report`, `write_run_report`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alignkit.data.io import atomic_write_text
from alignkit.report.html import CSS, esc, fmt

_MAIN = (
    ("Edit success (rewrite)", "rewrite_acc"),
    ("Rephrase", "rephrase_acc"),
    ("Portability", "portability"),
    ("Locality", "locality"),
    ("Fluency (n-gram entropy x100)", "fluency"),
)


def _get(entry: Any, *keys: str) -> Any:
    for key in keys:  # None once a level is missing
        entry = entry.get(key) if isinstance(entry, Mapping) else None
    return entry


def _num(value: Any) -> str:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return fmt(float(value), 2) if ok else "–"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = "".join(
        f"<th class=label>{esc(h)}</th>" if i == 0 else f"<th>{esc(h)}</th>"
        for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=label>{row[0]}</td>" if i == 0 else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{cells}</tr>{body}</table>"


def _dataset(name: str, data: Mapping[str, Any]) -> str:
    parts = [f"<h2>{esc(name)}</h2>", f"<p class=meta>{esc(data.get('edits', '?'))} edits</p>"]
    rows = [
        [esc(label), _num(_get(data, "pre", key)), _num(_get(data, "post", key))]
        for label, key in _MAIN
    ]
    parts.append(_table(["metric", "without edit", "with edit"], rows))
    kinds = []
    for section in ("portability", "locality"):
        post = _get(data, "post", f"{section}_by_kind") or {}
        pre = _get(data, "pre", f"{section}_by_kind") or {}
        for kind in sorted(post):
            kinds.append([esc(f"{section}: {kind}"), _num(pre.get(kind)), _num(post.get(kind))])
    if kinds:
        parts.append("<h3>By probe kind</h3>")
        parts.append(_table(["kind", "without edit", "with edit"], kinds))
    retrieval = data.get("retrieval")
    if isinstance(retrieval, Mapping):
        queries = ("rewrite", "rephrase", "portability", "locality")
        rows = [
            [esc(top), *(_num(_get(retrieval, top, q)) for q in queries)]
            for top in sorted(retrieval)
        ]
        parts.append("<h3>Retrieval: the edit's own fact among the retrieved (%)</h3>")
        parts.append(_table(["", *queries], rows))
        parts.append(
            "<p class=note>For locality queries a hit means the memory returned the edit's own "
            "fact to a question it should not change: the model must ignore it.</p>"
        )
    return "".join(parts)


def _settings(config: Any, prefix: str = "") -> list[list[str]]:
    rows: list[list[str]] = []
    if isinstance(config, Mapping):
        for key in sorted(config):
            rows.extend(_settings(config[key], f"{prefix}{key}."))
        return rows
    return [[esc(prefix.rstrip(".")), esc(config)]]


def render_lte_report(results: Mapping[str, Any]) -> str:
    """The report page of one `results.json` (a mapping)."""
    datasets = results.get("datasets") or {}
    body = [f"<h1>LTE knowledge editing: {esc(results.get('stage', 'lte.eval'))}</h1>"]
    body.append(
        "<p class=meta>Teacher-forced token accuracy (EasyEdit), as percentages; locality is "
        "the agreement of the argmax tokens with and without the edit; fluency is the weighted "
        f"bi/tri-gram entropy ({esc(results.get('word_tokenizer', '?'))} words).</p>"
    )
    if not datasets:
        body.append("<p>No datasets.</p>")
    for name in sorted(datasets):
        body.append(_dataset(name, datasets[name]))
    body.append("<h2>Configuration</h2>")
    body.append(_table(["setting", "value"], _settings(results.get("config", {}))))
    return _page("LTE report", body)


def _page(title: str, body: Sequence[str]) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def _write(page: str, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    atomic_write_text(path, page)
    return path


def write_lte_report(results: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Writes `render_lte_report(results)` to `path` atomically."""
    return _write(render_lte_report(results), path)


_COMPARED_LABELS = dict(
    edit_success="Edit success (rewrite)",
    rephrase_acc="Rephrase",
    portability="Portability",
    locality="Locality",
    fluency="Fluency (n-gram entropy x100)",
)


def _verdict(entry: Mapping[str, Any]) -> str:
    helps = entry.get("alignment_helps")
    if helps is None:
        return "not decided (a metric is missing)"
    if helps:
        return "alignment helps: edit success rose and locality did not fall"
    rose = "rose" if entry.get("edit_success_rose") else "did not rise"
    held = "held" if entry.get("locality_held") else "fell"
    return f"alignment does not help here: edit success {rose}, locality {held}"


def render_run_report(summary: Mapping[str, Any]) -> str:
    """The report page of one `lte_summary.json` (a mapping)."""
    body = ["<h1>LTE: aligned model vs the in-context baseline</h1>"]
    body.append(
        "<p class=meta>Both models answer with the same retrieved facts in the same template; "
        "the baseline is the model before alignment. Teacher-forced token accuracy (EasyEdit), "
        "as percentages.</p>"
    )
    comparison = summary.get("comparison") or {}
    for name in sorted(comparison):
        entry = comparison[name]
        body.append(f"<h2>{esc(name)}</h2>")
        body.append(
            f"<p class=meta>{esc(entry.get('edits', '?'))} edits; {esc(_verdict(entry))}</p>"
        )
        rows = [
            [esc(label), *(_num(_get(entry, "metrics", key, side))
                           for side in ("base", "aligned", "change"))]
            for key, label in _COMPARED_LABELS.items()
        ]  # fmt: skip
        body.append(_table(["metric", "untrained", "aligned", "change"], rows))
    if not comparison:
        body.append("<p>No baseline was evaluated (baseline: false).</p>")
    stages = summary.get("stages") or {}
    rows = [
        [esc(key), _num(_get(stages, key, "seconds")), _num(_get(stages, key, "peak_rss_mb"))]
        for key in stages
    ]
    body.append("<h2>Stages</h2>")
    body.append(_table(["stage", "seconds", "peak memory so far (MB)"], rows))
    for key in ("base", "aligned"):
        results = _get(summary, "results", key)
        if isinstance(results, Mapping):
            body.append(f"<h2>Evaluation of the {'untrained' if key == 'base' else 'aligned'} "
                        "model</h2>")  # fmt: skip
            for name in sorted(results.get("datasets") or {}):
                body.append(_dataset(name, results["datasets"][name]))
    body.append("<h2>Settings</h2>")
    body.append(_table(["setting", "value"], _settings(summary.get("settings", {}))))
    return _page("LTE run report", body)


def write_run_report(summary: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Writes `render_run_report(summary)` to `path` atomically."""
    return _write(render_run_report(summary), path)
