"""A small kit for self-contained HTML reports: one stylesheet, inline SVG charts, no scripts.

Used by the WebR score report (`alignkit.webr.score_report`), the FollowBench report and the Lion
run report (`alignkit.lion.report`); every function returns an HTML or SVG string, with text
escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px;
       color: #222; max-width: 1200px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 0.8em 0 0.3em; }
p.meta { color: #666; font-size: 0.9em; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.9em; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th { background: #f4f4f4; }
td.label, th.label { text-align: left; }
tr.section td { background: #fafafa; font-weight: 600; text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.chart { border: 1px solid #eee; padding: 6px; background: #fff; flex: 0 0 auto; }
.legend span { display: inline-block; margin-right: 14px; font-size: 0.9em; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
          vertical-align: -1px; border-radius: 2px; }
.note { color: #666; font-size: 0.85em; max-width: 900px; }
"""


def color(i: int) -> str:
    """The i-th series colour (the palette repeats)."""
    return PALETTE[i % len(PALETTE)]


def esc(value: Any) -> str:
    """`value` as text that is safe inside HTML elements and attributes."""
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell value: thousands separators, `digits` decimals, a dash for None/NaN."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) < 0.5 * 10**-digits:
            value = 0.0  # no "-0.000"
        return f"{value:.{digits}f}"
    return esc(value)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round axis ticks (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks = []
    value = start
    while value <= hi + 1e-9 * step:
        ticks.append(round(value, 10))
        value += step
    return ticks


def tick_label(value: float) -> str:
    """A short axis label: 1500 -> "1.5k"."""
    if abs(value) >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


class Frame:
    """Plot area geometry and data-to-pixel mapping; `axes()` opens the SVG with axes drawn."""

    def __init__(
        self, width: int, height: int, x: tuple[float, float], y: tuple[float, float]
    ) -> None:
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = 52, 12, 26, 38
        self.x0, self.x1 = x
        self.y0, self.y1 = y if y[1] > y[0] else (y[0], y[0] + 1.0)
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0

    def px(self, x: float) -> float:
        span = self.width - self.left - self.right
        return self.left + (x - self.x0) / (self.x1 - self.x0) * span

    def py(self, y: float) -> float:
        span = self.height - self.top - self.bottom
        return self.height - self.bottom - (y - self.y0) / (self.y1 - self.y0) * span

    def axes(
        self, title: str, xlabel: str, ylabel: str, x_ticks: Sequence[float] | None = None
    ) -> list[str]:
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" '
            'font-family="sans-serif" font-size="11">',
            f'<text x="{self.width / 2:.1f}" y="16" text-anchor="middle" font-size="13" '
            f'font-weight="600">{esc(title)}</text>',
        ]
        bottom, left = self.height - self.bottom, self.left
        for t in nice_ticks(self.x0, self.x1) if x_ticks is None else x_ticks:
            x = self.px(t)
            parts.append(
                f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#555"/>'
                f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">'
                f"{tick_label(t)}</text>"
            )
        for t in nice_ticks(self.y0, self.y1, 4):
            y = self.py(t)
            parts.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{self.width - self.right}" y2="{y:.1f}" '
                f'stroke="#eee"/><text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">'
                f"{tick_label(t)}</text>"
            )
        parts.append(
            f'<line x1="{left}" y1="{bottom}" x2="{self.width - self.right}" y2="{bottom}" '
            f'stroke="#555"/><line x1="{left}" y1="{self.top}" x2="{left}" y2="{bottom}" '
            f'stroke="#555"/>'
            f'<text x="{(left + self.width - self.right) / 2:.1f}" y="{self.height - 4}" '
            f'text-anchor="middle" fill="#444">{esc(xlabel)}</text>'
            f'<text x="12" y="{(self.top + bottom) / 2:.1f}" text-anchor="middle" fill="#444" '
            f'transform="rotate(-90 12 {(self.top + bottom) / 2:.1f})">{esc(ylabel)}</text>'
        )
        return parts


def histogram_svg(
    edges: Sequence[float],
    counts: Sequence[int],
    *,
    title: str,
    xlabel: str,
    fill: str,
    width: int = 360,
    height: int = 220,
) -> str:
    """Bars of one histogram (the last bin also holds everything above it)."""
    total = max(sum(counts), 1)
    shares = [c / total for c in counts]
    frame = Frame(width, height, (edges[0], edges[-1]), (0.0, max(shares, default=0.0) * 1.08))
    parts = frame.axes(title, xlabel, "share")
    for lo, hi, share in zip(edges[:-1], edges[1:], shares, strict=True):
        if share <= 0:
            continue
        x0, x1 = frame.px(lo), frame.px(hi)
        y = frame.py(share)
        parts.append(
            f'<rect x="{x0 + 0.5:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
            f'height="{frame.py(0) - y:.1f}" fill="{fill}" fill-opacity="0.85"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def lines_svg(
    edges: Sequence[float],
    series: dict[str, Sequence[int]],
    colors: dict[str, str],
    *,
    title: str,
    xlabel: str,
    width: int = 560,
    height: int = 300,
) -> str:
    """Overlaid step outlines of histograms sharing `edges` (shares, so sizes compare)."""
    shares = {n: [c / max(sum(cs), 1) for c in cs] for n, cs in series.items()}
    top = max((max(s, default=0.0) for s in shares.values()), default=0.0) * 1.08
    frame = Frame(width, height, (edges[0], edges[-1]), (0.0, top))
    parts = frame.axes(title, xlabel, "share of rows")
    for name, values in shares.items():
        points = [f"{frame.px(edges[0]):.1f},{frame.py(0):.1f}"]
        for lo, hi, v in zip(edges[:-1], edges[1:], values, strict=True):
            points.append(f"{frame.px(lo):.1f},{frame.py(v):.1f}")
            points.append(f"{frame.px(hi):.1f},{frame.py(v):.1f}")
        points.append(f"{frame.px(edges[-1]):.1f},{frame.py(0):.1f}")
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="{colors[name]}" fill-opacity="0.12" '
            f'stroke="{colors[name]}" stroke-width="1.8"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart_svg(
    xs: Sequence[float],
    series: Mapping[str, Sequence[float | None]],
    colors: Mapping[str, str],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    y_range: tuple[float, float] | None = None,
    width: int = 420,
    height: int = 260,
) -> str:
    """Curves over shared x values (e.g. iterations), a dot per value with its number as a
    tooltip; a None value leaves a gap. The y axis starts at 0 unless `y_range` says otherwise."""
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    if y_range is None:
        low, high = min([0.0, *values]), max([0.0, *values])
        y_range = (low, high + 0.08 * (high - low) if high > low else low + 1.0)
    pad = 0.5 if len(xs) < 2 else 0.0
    frame = Frame(width, height, (min(xs, default=0.0) - pad, max(xs, default=1.0) + pad), y_range)
    # A few x values (iterations) are ticked themselves, not at round fractions between them.
    ticks = sorted(set(xs)) if len(set(xs)) <= 12 else None
    parts = frame.axes(title, xlabel, ylabel, x_ticks=ticks)
    for name, ys in series.items():
        runs: list[list[tuple[float, float, float]]] = [[]]
        for x, y in zip(xs, ys, strict=True):
            if y is None or not math.isfinite(y):
                runs.append([])
            else:
                runs[-1].append((frame.px(x), frame.py(y), y))
        for run in runs:
            if len(run) > 1:
                joined = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in run)
                parts.append(
                    f'<polyline points="{joined}" fill="none" stroke="{colors[name]}" '
                    'stroke-width="2"/>'
                )
            for px, py, y in run:
                parts.append(
                    f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.2" fill="{colors[name]}">'
                    f"<title>{esc(name)}: {fmt(float(y))}</title></circle>"
                )
    parts.append("</svg>")
    return "".join(parts)


def scatter_svg(
    points: dict[str, Sequence[Sequence[float]]],
    colors: dict[str, str],
    *,
    title: str,
    width: int = 560,
    height: int = 460,
) -> str:
    """2-D points coloured by set, equal scales on both axes."""
    xs = [p[0] for pts in points.values() for p in pts] or [0.0]
    ys = [p[1] for pts in points.values() for p in pts] or [0.0]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    probe = Frame(width, height, (0.0, 1.0), (0.0, 1.0))
    plot_w = width - probe.left - probe.right
    plot_h = height - probe.top - probe.bottom
    # One scale for both axes (distances on the map stay comparable), with a 5% margin.
    per_unit = (
        min(plot_w / max(max(xs) - min(xs), 1e-6), plot_h / max(max(ys) - min(ys), 1e-6)) / 1.1
    )
    half_x, half_y = plot_w / 2 / per_unit, plot_h / 2 / per_unit
    frame = Frame(width, height, (cx - half_x, cx + half_x), (cy - half_y, cy + half_y))
    parts = frame.axes(title, "PC 1", "PC 2")
    for name, pts in points.items():
        for x, y in pts:
            parts.append(
                f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="2.6" '
                f'fill="{colors[name]}" fill-opacity="0.6"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def legend(colors: dict[str, str]) -> str:
    """A row of colour swatches with their series names."""
    items = "".join(
        f'<span><i class="swatch" style="background:{c}"></i>{esc(n)}</span>'
        for n, c in colors.items()
    )
    return f'<div class="legend">{items}</div>'


def matrix_table(names: Sequence[str], matrix: Sequence[Sequence[float]], caption: str) -> str:
    """A captioned square table of values in 0..1, shaded by value."""
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    body = []
    for name, values in zip(names, matrix, strict=True):
        cells = "".join(
            f'<td style="background: rgba(31,119,180,{min(max(v, 0.0), 1.0) * 0.55:.2f})">'
            f"{fmt(v)}</td>"
            for v in values
        )
        body.append(f'<tr><th class="label">{esc(name)}</th>{cells}</tr>')
    return (
        f'<h3>{esc(caption)}</h3><table><tr><th class="label">rows of ↓ / by →</th>{head}</tr>'
        f"{''.join(body)}</table>"
    )
