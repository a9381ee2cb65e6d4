"""Line charts rendered on the server as SVG (no charting library, nothing to load in the browser).

Plain Python over dates and numbers: the account page hands in the score history and probability trends and
puts the returned markup in the page. Colours come from the stylesheet (classes ``s0``…``s3``), so the chart
follows the page's theme.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from html import escape

PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 38, 12, 10, 24
MAX_MARKERS = 45  # beyond this many points per series only the last one gets a marker


@dataclass(frozen=True)
class Series:
    """One line: a label and its (day, value) points; a value of None leaves a gap."""

    label: str
    points: list[tuple[date, float | None]] = field(default_factory=list)


def _nice_ceiling(value: float) -> float:
    """The next round number at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _fmt(value: float, unit: str) -> str:
    if abs(value - round(value)) < 1e-9:
        text = f"{value:.0f}"
    else:  # 0.25 stays 0.25 (a small axis), 12.5 is 12.5
        text = f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:.1f}"
    return f"{text}{unit}"


def line_chart_svg(  # noqa: C901 — one pass drawing the SVG: axes, ticks, series, labels in paint order
    series: list[Series],
    *,
    title: str,
    y_min: float = 0.0,
    y_max: float | None = 100.0,
    unit: str = "",
    threshold: float | None = None,
    threshold_label: str = "",
    width: int = 640,
    height: int = 220,
) -> str:
    """An SVG line chart of ``series`` over a shared time axis, with a dashed ``threshold`` line when given.

    ``y_max=None`` picks a round ceiling above the largest value. Returns markup ready to be marked safe: every text
    that comes from data is escaped."""
    days = sorted({day for s in series for day, value in s.points if value is not None})
    values = [value for s in series for _, value in s.points if value is not None]
    if y_max is None:
        y_max = _nice_ceiling(max([*values, threshold or 0, 0.0]))
    if y_max <= y_min:
        y_max = y_min + 1
    plot_w, plot_h = width - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM
    first, last = (days[0], days[-1]) if days else (date.min, date.min)  # no days: no point is drawn
    span = (last - first).days if days else 0

    def x_of(day: date) -> float:
        if not span:
            return PAD_LEFT + plot_w / 2
        return PAD_LEFT + plot_w * (day - first).days / span

    def y_of(value: float) -> float:
        clamped = min(max(value, y_min), y_max)
        return PAD_TOP + plot_h * (1 - (clamped - y_min) / (y_max - y_min))

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        '<g class="grid axis">',
    ]
    for k in range(5):
        tick = y_min + (y_max - y_min) * k / 4
        y = y_of(tick)
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_fmt(tick, unit))}</text>'
        )
    if days:
        ticks = [first] if not span else [first, *_middle_ticks(first, last), last]
        seen: set[float] = set()
        for day in ticks:
            x = round(x_of(day), 1)
            if any(abs(x - other) < 60 for other in seen):
                continue
            seen.add(x)
            anchor = "start" if x <= PAD_LEFT + 1 and span else ("end" if x >= width - PAD_RIGHT - 1 else "middle")
            parts.append(f'<text x="{x}" y="{height - 6}" text-anchor="{anchor}">{day:%b} {day.day}</text>')
    parts.append("</g>")
    if threshold is not None and y_min <= threshold <= y_max:
        y = y_of(threshold)
        parts.append(
            f'<line class="threshold" x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}">'
            f"<title>{escape(threshold_label or _fmt(threshold, unit))}</title></line>"
        )
    for index, one in enumerate(series):
        css = index % 4
        runs: list[list[tuple[date, float]]] = [[]]
        for day, value in sorted(one.points, key=lambda point: point[0]):
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((day, value))
        points = [point for run in runs for point in run]
        for run in runs:
            if len(run) > 1:
                coords = " ".join(f"{x_of(day):.1f},{y_of(value):.1f}" for day, value in run)
                parts.append(f'<polyline class="s{css}" points="{coords}"/>')
        marked = points if len(points) <= MAX_MARKERS else points[-1:]
        for day, value in marked:
            parts.append(
                f'<circle class="f{css}" cx="{x_of(day):.1f}" cy="{y_of(value):.1f}" r="2.6">'
                f"<title>{escape(one.label)} {day:%Y-%m-%d}: {escape(_fmt(value, unit))}</title></circle>"
            )
    if not days:
        parts.append(
            f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" class="axis">No history yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _middle_ticks(first: date, last: date) -> list[date]:
    """First days of months strictly between ``first`` and ``last`` (at most four, evenly picked)."""
    months = []
    year, month = first.year, first.month
    while True:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        day = date(year, month, 1)
        if day >= last:
            break
        months.append(day)
    if len(months) > 4:
        step = math.ceil(len(months) / 4)
        months = months[::step]
    return months
