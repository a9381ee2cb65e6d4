"""Klearly's rule-based scores at a past moment, as features: the scorecard's own judgement, point in time.

The scorecard comes as plain data (:class:`ScorecardSpec`: engagement rules by signal type key, fit rules as
``(field, operator, value, points)``, topic multipliers, the trend windows), so this package stays free of the
database: ``scoring.predictions`` passes the live scorecard (``scoring.services.scorecard_load``) in this form both
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


@dataclass(frozen=True)
class ScorecardSpec:
    """The scorecard as plain data (see the module's docstring)."""

    # type key -> (points, half-life days or None, window days or None, cap or None)
    engagement: dict[str, tuple[float, float | None, float | None, float | None]] = field(default_factory=dict)
    fit_rules: list[tuple[str, str, Any, float]] = field(default_factory=list)  # (field, operator, value, points)
    topic_multiplier: dict[str, float] = field(default_factory=dict)  # topic key -> multiplier (1 when absent)
    trend_recent_days: float = 14.0

    @classmethod
    def from_history(cls, h: History) -> ScorecardSpec:
        """Without a scorecard: engagement from the history's own points and half-lives (one point and a 30-day
        half-life for every type when it has none), no fit rules."""
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


def _values(h: History, name: str, idx: np.ndarray, t: float) -> list[Any]:
    if name == "industry":
        return [v or None for v in h.industry[idx]]
    if name == "country":
        return [v or None for v in h.country[idx]]
    if name in ("employees", "annual_revenue"):
        v = h.employees[idx] if name == "employees" else h.revenue[idx]
        return [None if np.isnan(x) else float(x) for x in v]
    if name == "size_band":
        return list(_size_band(h.employees[idx]))
    return [float(max((t - c) / DAY, 0.0) // 1) for c in h.created[idx]]  # tenure_days, whole days as the scorecard


def fit_at(spec: ScorecardSpec, h: History, t: float, idx: np.ndarray) -> np.ndarray:
    """The fit score of accounts ``idx`` at ``t`` (0–100)."""
    k = len(idx)
    total = np.zeros(k)
    row_of = None
    for field_name, operator, value, points in spec.fit_rules:
        if field_name in ACCOUNT_FIELDS:
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
    topic_mult = np.array([spec.topic_multiplier.get(key, 1.0) for key in h.topic_keys] + [1.0])
    mult = topic_mult[ev_topic]  # topic -1 (none) takes the last entry, 1
    raw = rules.points[ev_type] * mult
    decay = engine.decay_factor(age, rules.half_life_days[ev_type], rules.window_days[ev_type])
    by_type = np.bincount(rows * nt + ev_type, weights=raw * decay, minlength=k * nt).reshape(k, nt)
    by_type = np.clip(by_type, -rules.cap, rules.cap)
    engagement = np.clip(by_type.sum(axis=1), engine.SCORE_MIN, engine.SCORE_MAX)
    recent = age < spec.trend_recent_days
    strength = np.bincount(rows[recent], weights=raw[recent], minlength=k)
    fit = fit_at(spec, h, t, idx)
    return Scores(lead=engine.lead(fit, engagement), fit=fit, engagement=engagement, strength=strength)
