"""A probability's reasons in one unit that adds up (plain Python, read by the account page and the admin).

A model's reasons are effects in probability: how much lower (or higher) the account's probability would be were
that part of its picture typical. Shown alone they do not add up to anything; here they are put in percentage points
between a typical account's probability and the one shown: typical + reasons + what the shown reasons leave out
(other signals, and reasons overlapping) + smoothing = the probability shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReasonBreakdown:
    """A probability's reasons in one unit that adds up: a typical account's probability (%), then each reason in
    percentage points, what the shown reasons leave out, and the smoothing, summing to the probability shown (%)."""

    typical: float | None  # %, None for reasons stored before typical values were (then no sum is claimed)
    lines: list[tuple[str, float]]  # (text, percentage points)
    total: float | None  # %, the probability shown, to one decimal


def reason_breakdown(entry: dict[str, Any]) -> ReasonBreakdown:
    """The lines of one outcome's entry in ``AccountPrediction.reasons`` (``{probability, raw, typical, up, down}``,
    effects in probability), rounded to a tenth so the lines shown add up exactly to the probability shown."""

    def tenth(value: Any) -> float | None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return round(number * 100, 1) if math.isfinite(number) else None

    lines: list[tuple[str, float]] = []
    for item in [*(entry.get("up") or []), *(entry.get("down") or [])]:
        if isinstance(item, dict) and (points := tenth(item.get("effect"))) is not None:
            lines.append((str(item.get("text") or item.get("label") or ""), points))
    typical, raw, total = tenth(entry.get("typical")), tenth(entry.get("raw")), tenth(entry.get("probability"))
    if typical is None or raw is None or total is None:
        return ReasonBreakdown(None, lines, total)
    smoothing = round(total - raw, 1)
    rest = round(total - typical - sum(points for _, points in lines) - smoothing, 1)
    if rest:
        lines.append(("Everything else about the account (and reasons overlapping)", rest))
    if smoothing:
        lines.append(("Smoothing: a change counts in over hours, not at once", smoothing))
    return ReasonBreakdown(typical, lines, total)
