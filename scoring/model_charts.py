"""The charts of a predictive model version, as inline SVG (no charting library): calibration, lift and impact.

Plain Python over the JSON a ``PredictiveModel`` stores; every text is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

W, H = 420, 300
L, R, T, B = 48, 12, 12, 36
AXIS = 'stroke="#888" stroke-width="1"'
COLOURS = {"raises": "#e07a5f", "lowers": "#3d85c6"}  # mixed: purple; irrelevant: grey


def _frame(inner: str, *, width: int = W, height: int = H, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" style="font:11px sans-serif;background:#fff">{inner}</svg>'
    )


def calibration_svg(bins: list[dict[str, Any]]) -> str:
    """Predicted probability (x) against the observed rate (y) per bin; the diagonal is perfect calibration."""
    if not bins:
        return "<p>No validation examples.</p>"
    top = max(0.05, *(b["predicted"] for b in bins), *(b["observed"] for b in bins))
    top = min(1.0, round(top * 1.1 + 0.005, 2))
    pw, ph = W - L - R, H - T - B

    def x(v: float) -> float:
        return L + pw * v / top

    def y(v: float) -> float:
        return T + ph * (1 - v / top)

    parts = [
        f'<line x1="{L}" y1="{T + ph}" x2="{L + pw}" y2="{T + ph}" {AXIS}/>',
        f'<line x1="{L}" y1="{T}" x2="{L}" y2="{T + ph}" {AXIS}/>',
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(top)}" y2="{y(top)}" stroke="#bbb" stroke-dasharray="4 3"/>',
    ]
    for i in range(5):
        v = top * i / 4
        parts.append(f'<text x="{L - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{100 * v:.0f}%</text>')
        parts.append(f'<text x="{x(v):.1f}" y="{T + ph + 14}" text-anchor="middle">{100 * v:.0f}%</text>')
    points = " ".join(f"{x(b['predicted']):.1f},{y(b['observed']):.1f}" for b in bins)
    parts.append(f'<polyline points="{points}" fill="none" stroke="#2a6fdb" stroke-width="2"/>')
    for b in bins:
        parts.append(
            f'<circle cx="{x(b["predicted"]):.1f}" cy="{y(b["observed"]):.1f}" r="3.5" fill="#2a6fdb">'
            f"<title>predicted {100 * b['predicted']:.1f}%, observed {100 * b['observed']:.1f}% "
            f"({b['n']} examples)</title></circle>"
        )
    parts.append(f'<text x="{L + pw / 2}" y="{H - 4}" text-anchor="middle">predicted probability</text>')
    parts.append(f'<text x="12" y="{T + ph / 2}" transform="rotate(-90 12 {T + ph / 2})" text-anchor="middle">'
                 "observed rate</text>")  # fmt: skip
    return _frame("".join(parts), label="Calibration plot")


def lift_svg(rows: list[dict[str, Any]]) -> str:
    """Lift of each tenth of accounts ranked by probability (bars) and the share of positives found (line)."""
    if not rows:
        return "<p>No positives in the validation period.</p>"
    pw, ph = W - L - R, H - T - B
    top = max(1.0, max(r["lift"] for r in rows)) * 1.1
    bw = pw / len(rows)
    parts = [f'<line x1="{L}" y1="{T + ph}" x2="{L + pw}" y2="{T + ph}" {AXIS}/>',
             f'<line x1="{L}" y1="{T}" x2="{L}" y2="{T + ph}" {AXIS}/>']  # fmt: skip
    one = T + ph * (1 - 1 / top)
    parts.append(f'<line x1="{L}" y1="{one:.1f}" x2="{L + pw}" y2="{one:.1f}" stroke="#bbb" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{L - 4}" y="{one + 4:.1f}" text-anchor="end">1×</text>')
    parts.append(f'<text x="{L - 4}" y="{T + 10}" text-anchor="end">{top:.1f}×</text>')
    line = []
    for i, r in enumerate(rows):
        h = ph * r["lift"] / top
        x0 = L + i * bw
        parts.append(
            f'<rect x="{x0 + 2:.1f}" y="{T + ph - h:.1f}" width="{bw - 4:.1f}" height="{h:.1f}" fill="#7fb3f5">'
            f"<title>tenth {r['decile']}: rate {100 * r['rate']:.1f}%, lift {r['lift']:.2f}×, "
            f"{100 * r['captured']:.0f}% of positives found so far</title></rect>"
        )
        parts.append(f'<text x="{x0 + bw / 2:.1f}" y="{T + ph + 14}" text-anchor="middle">{r["decile"]}</text>')
        line.append(f"{x0 + bw / 2:.1f},{T + ph * (1 - r['captured']):.1f}")
    parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#d9822b" stroke-width="2"/>')
    parts.append(f'<text x="{L + pw / 2}" y="{H - 4}" text-anchor="middle">tenths of accounts, highest probability '
                 "first (bars: lift; line: share of positives found)</text>")  # fmt: skip
    return _frame("".join(parts), label="Lift chart")


def impact_svg(rows: list[dict[str, Any]], *, limit: int = 20) -> str:
    """Horizontal bars of each signal's or measure's impact, with the previous version's as a tick; irrelevant
    ones greyed."""
    rows = rows[:limit]
    if not rows:
        return "<p>No impact measured.</p>"
    label_w, bar_w, row_h = 230, 240, 18
    height = T + row_h * len(rows) + 20
    top = max(max(r["impact"] for r in rows), max((r.get("previous") or 0) for r in rows), 1e-6)
    parts = []
    for i, r in enumerate(rows):
        y0 = T + i * row_h
        w = bar_w * r["impact"] / top
        colour = "#ccc" if r.get("irrelevant") else COLOURS.get(r.get("direction", ""), "#8e7cc3")
        label = escape(r["label"][:38])
        parts.append(f'<text x="{label_w - 6}" y="{y0 + 12}" text-anchor="end">{label}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y0 + 3}" width="{max(w, 1):.1f}" height="{row_h - 6}" fill="{colour}">'
            f"<title>{label}: mean effect {100 * r['impact']:.2f} points, {r.get('direction', '')}</title></rect>"
        )
        if r.get("previous") is not None:
            px = label_w + bar_w * r["previous"] / top
            parts.append(f'<line x1="{px:.1f}" y1="{y0 + 1}" x2="{px:.1f}" y2="{y0 + row_h - 1}" stroke="#222" '
                         'stroke-width="2"><title>previous version</title></line>')  # fmt: skip
        parts.append(f'<text x="{label_w + max(w, 1) + 4:.1f}" y="{y0 + 12}">{100 * r["impact"]:.1f}</text>')
    parts.append(f'<text x="{label_w}" y="{height - 4}">mean effect on the probability (percentage points); '
                 "tick: previous version</text>")  # fmt: skip
    return _frame("".join(parts), width=label_w + bar_w + 60, height=height, label="Impact chart")
