"""Klearly's rule-based scores at a past moment, as features: the scorecard's own judgement, point in time.

The scorecard comes as plain data (:class:`ScorecardSpec`: engagement rules by signal type key, fit rules as
``(field, operator, value, points)``, topic multipliers, the trend windows), so this package stays free of the
database: ``scoring.predictions`` passes the live scorecard (``scoring.scorecard.scorecard_load``) in this form both
when it trains and when it predicts, and the columns mean the same in both.

At a cut-off ``t`` (only signals strictly before it, and contacts created before it):

- engagement = Σ over types of the decayed, topic-weighted points of the type, limited to ±cap, kept within 0–100
  (``scoring.engine.engagement``);
- fit = Σ points of the fit rules that match the account's fields, kept within 0–100. The fields a history knows
  are industry, country, employees, annual revenue, size band, tenure (at ``t``) and the fields of its contacts
  known at ``t`` (``contact.<field>``); rules over other fields (traits, owner...) are left out, and the data-quality
  penalties too (they read contacts' e-mail addresses and names, which a history does not carry);
- lead = fit + engagement within 0–100 (``scoring.engine.lead``);
- signal strength = points of the last ``trend_recent_days`` (undecayed, segment boosts left out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import engine
from .history import DAY, History

# The fields a history knows, by the names fit rules use.
ACCOUNT_FIELDS = ("industry", "country", "employees", "annual_revenue", "size_band", "tenure_days")


# A signal type's engagement rule: (points, half-life days or None, window days or None, cap or None).
EngagementRule = tuple[float, float | None, float | None, float | None]


@dataclass(frozen=True)
class ScorecardSpec:
    """The scorecard as plain data (see the module's docstring)."""

    # type key -> (points, half-life days or None, window days or None, cap or None)
    engagement: dict[str, EngagementRule] = field(default_factory=dict)
    fit_rules: list[tuple[str, str, Any, float]] = field(default_factory=list)  # (field, operator, value, points)
    topic_multiplier: dict[str, float] = field(default_factory=dict)  # topic key -> multiplier (1 when absent)
    trend_recent_days: float = 14.0

    @classmethod
    def from_history(cls, h: History) -> ScorecardSpec:
        """Without a scorecard: engagement from the history's own points and half-lives (one point and a 30-day
        half-life for every type when it has none), no fit rules."""
        rules: dict[str, EngagementRule]
        if np.any(h.type_points):
            rules = {
                k: (float(p), None if np.isnan(hl) else float(hl), None, None)
                for k, p, hl in zip(h.type_keys, h.type_points, h.type_half_life, strict=True)
                if p
            }
        else:
            rules = {k: (1.0, 30.0, None, None) for k in h.type_keys}
        return cls(engagement=rules)


def _size_band(employees: np.ndarray) -> np.ndarray:
    return np.select(
        [np.isnan(employees), employees < 50, employees < 1000], ["unknown", "small", "medium"], "large"
    ).astype(object)


NUMERIC_FIELDS = ("employees", "annual_revenue", "tenure_days")


def _numbers(h: History, name: str, idx: np.ndarray, t: float) -> np.ndarray:
    if name == "employees":
        return h.employees[idx]
    if name == "annual_revenue":
        return h.revenue[idx]
    return np.floor(np.maximum((t - h.created[idx]) / DAY, 0.0))  # tenure in whole days, as the scorecard counts it


def _numeric_matches(v: np.ndarray, operator: str, expected: Any) -> np.ndarray | None:
    """``engine.value_matches`` over a float array (NaN: missing) for the operators that compare numbers; None for
    the others (then compared value by value)."""
    if operator == "missing":
        return np.isnan(v)
    if operator == "range":
        if not isinstance(expected, dict):
            return np.zeros(len(v), bool)
        lo, hi = engine._number(expected.get("min")), engine._number(expected.get("max"))
        with np.errstate(invalid="ignore"):
            return ~np.isnan(v) & (v >= (-np.inf if lo is None else lo)) & (v <= (np.inf if hi is None else hi))
    return None


def _values(h: History, name: str, idx: np.ndarray, t: float) -> list[Any]:
    if name in ("industry", "country"):
        return [v or None for v in (h.industry if name == "industry" else h.country)[idx]]
    if name == "size_band":
        return list(_size_band(h.employees[idx]))
    return [None if np.isnan(x) else float(x) for x in _numbers(h, name, idx, t)]


def fit_at(spec: ScorecardSpec, h: History, t: float, idx: np.ndarray) -> np.ndarray:
    """The fit score of accounts ``idx`` at ``t`` (0–100)."""
    k = len(idx)
    total = np.zeros(k)
    row_of = None
    for field_name, operator, value, points in spec.fit_rules:
        if field_name in ACCOUNT_FIELDS:
            hit = None
            if field_name in NUMERIC_FIELDS:
                hit = _numeric_matches(_numbers(h, field_name, idx, t), operator, value)
            if hit is None:
                hit = engine.matches(_values(h, field_name, idx, t), operator, value)
        elif field_name.startswith("contact.") and field_name[8:] in h.ct_fields:
            if row_of is None:
                row_of = np.full(h.n, -1, np.int64)
                row_of[idx] = np.arange(k)
            rows = row_of[h.ct_account] if len(h.ct_account) else np.zeros(0, np.int64)
            known = (rows >= 0) & (h.ct_created < t)
            values = h.ct_fields[field_name[8:]][known]
            hit = engine.any_per_account(rows[known], engine.matches(list(values), operator, value), k)
        else:
            continue
        total += points * hit
    return np.clip(total, engine.SCORE_MIN, engine.SCORE_MAX)


def _decay(rules: engine.EngagementRules, ev_type: np.ndarray, age: np.ndarray) -> np.ndarray:
    """``engine.decay_factor`` of every signal, in float32 with per-type constants (one pass over the signals: this
    runs over every signal of every account at each cut-off)."""
    has_window = ~np.isnan(rules.window_days)
    inv_half = np.where(np.isnan(rules.half_life_days) | has_window, 0.0, 1.0 / rules.half_life_days)
    decay = np.exp2(-age.astype(np.float32) * inv_half.astype(np.float32)[ev_type])
    if has_window.any():
        window = np.where(has_window, rules.window_days, np.inf).astype(np.float32)[ev_type]
        decay = np.where(has_window[ev_type], (age <= window).astype(np.float32), decay)
    return decay


@dataclass(frozen=True)
class Scores:
    lead: np.ndarray
    fit: np.ndarray
    engagement: np.ndarray
    strength: np.ndarray


def scores_at(
    spec: ScorecardSpec,
    h: History,
    t: float,
    idx: np.ndarray,
    *,
    rows: np.ndarray,
    ev_type: np.ndarray,
    ev_topic: np.ndarray,
    age: np.ndarray,
) -> Scores:
    """Lead, fit, engagement and signal strength of accounts ``idx`` at ``t`` from their signals before ``t``
    (``rows``: each signal's row in ``idx``; ``age`` in days), set-based: one weighted count per (account, type)."""
    k, nt = len(idx), len(h.type_keys)
    rules = engine.EngagementRules.build(
        nt, [(i, *spec.engagement[key]) for i, key in enumerate(h.type_keys) if key in spec.engagement]
    )
    raw = rules.points.astype(np.float32)[ev_type]
    if spec.topic_multiplier:
        topic_mult = np.array([spec.topic_multiplier.get(key, 1.0) for key in h.topic_keys] + [1.0], np.float32)
        raw = raw * topic_mult[ev_topic]  # topic -1 (none) takes the last entry, 1
    by_type = np.bincount(rows * nt + ev_type, weights=raw * _decay(rules, ev_type, age), minlength=k * nt)
    by_type = by_type.reshape(k, nt)
    by_type = np.clip(by_type, -rules.cap, rules.cap)
    engagement = np.clip(by_type.sum(axis=1), engine.SCORE_MIN, engine.SCORE_MAX)
    recent = age < spec.trend_recent_days
    strength = np.bincount(rows[recent], weights=raw[recent], minlength=k)
    fit = fit_at(spec, h, t, idx)
    return Scores(lead=engine.lead(fit, engagement), fit=fit, engagement=engagement, strength=strength)
