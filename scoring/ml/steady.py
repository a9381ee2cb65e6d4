"""Steady numbers: smoothed probabilities and health bands with hysteresis.

**Smoothing.** A probability shown is an exponential moving average in time of the model's raw output:
``shown = previous + clip(α · (raw − previous), −max_step, +max_step)`` with ``α = 1 − 0.5 ** (hours since the
previous value / half_life_hours)``. Because α depends on the time elapsed, not on how often accounts are rescored,
ten rescores in a minute move the number no more than one; and whatever happens, one update moves it by at most
``max_step``. An account seen for the first time shows the raw value. ``half_life_hours = 0`` turns smoothing off.

**Health.** Good / normal / bad from the (smoothed) churn probability and the engagement trend, with separate
thresholds to enter and to leave each band, so an account near a boundary does not flap:

- bad when churn ≥ ``bad_enter`` (or the trend is ≤ ``trend_bad`` while churn ≥ ``good_exit``); a bad account
  stays bad until churn < ``bad_exit`` and the trend is above ``trend_bad``;
- good when churn ≤ ``good_enter`` and the trend ≥ ``trend_good``; a good account stays good until churn >
  ``good_exit`` or the trend falls below ``trend_bad``;
- normal otherwise. Without a churn probability (too little history), only the trend decides, with the same
  hysteresis.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

GOOD, NORMAL, BAD = "good", "normal", "bad"


def smooth(
    raw: np.ndarray,
    previous: np.ndarray,
    hours: np.ndarray,
    *,
    half_life_hours: float,
    max_step: float,
) -> np.ndarray:
    """Smoothed probabilities (NaN previous: first value, shown raw; NaN raw: stays NaN)."""
    raw = np.asarray(raw, dtype=np.float64)
    previous = np.asarray(previous, dtype=np.float64)
    if half_life_hours <= 0:
        alpha = np.ones_like(raw)
    else:
        alpha = 1.0 - 0.5 ** (np.maximum(np.asarray(hours, dtype=np.float64), 0.0) / half_life_hours)
    step = np.clip(alpha * (raw - previous), -max_step, max_step)
    out = np.where(np.isnan(previous), raw, previous + step)
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class HealthThresholds:
    """Where health bands start and end (see the module's docstring)."""

    bad_enter: float = 0.30
    bad_exit: float = 0.20
    good_enter: float = 0.08
    good_exit: float = 0.14
    trend_bad: float = 0.6
    trend_good: float = 0.9


def health(
    churn: np.ndarray, trend: np.ndarray, previous: Iterable[str | None], th: HealthThresholds = HealthThresholds()
) -> np.ndarray:
    """The health band of each account, given its previous band ("" or None when it has none)."""
    churn = np.asarray(churn, dtype=np.float64)
    trend = np.nan_to_num(np.asarray(trend, dtype=np.float64), nan=1.0)
    prev = np.asarray([p or "" for p in previous], dtype=object)
    known = ~np.isnan(churn)
    c = np.where(known, churn, 0.0)
    falling = trend <= th.trend_bad
    # entering a band (from anywhere)
    enter_bad = np.where(known, (c >= th.bad_enter) | (falling & (c >= th.good_exit)), trend <= th.trend_bad / 2)
    enter_good = np.where(known, (c <= th.good_enter) & (trend >= th.trend_good), trend >= th.trend_good * 1.2)
    # staying in one (looser conditions)
    stay_bad = np.where(known, (c >= th.bad_exit) | falling, trend <= th.trend_bad)
    stay_good = np.where(known, (c <= th.good_exit) & ~falling, trend >= th.trend_good)
    out = np.full(len(c), NORMAL, dtype=object)
    out[enter_good] = GOOD
    out[enter_bad] = BAD
    was_bad, was_good = prev == BAD, prev == GOOD
    out[was_bad & stay_bad] = BAD
    out[was_good & stay_good & ~enter_bad] = GOOD
    return out


def health_reasons(churn: float, trend: float, band: str, previous: str | None, th: HealthThresholds) -> list[str]:
    """Why an account has its band, in words."""
    words = []
    if churn != churn:  # NaN (math.isnan without a NumPy call per account)
        words.append("No churn probability yet (too little history): health from the engagement trend only")
    else:
        words.append(f"Churn probability {100 * churn:.0f}%")
    if trend == trend:
        words.append(f"Engagement trend ×{trend:.2f} (recent points per day against the weeks before)")
    if previous and previous != band:
        words.append(f"Moved from {previous} to {band}")
    elif previous == band and band != NORMAL:
        words.append(f"Stays {band} until it clearly leaves the band (hysteresis)")
    return words
