"""Smart-signal candidates: simple conditions that pick out accounts likelier to make a movement.

Over an outcome's training examples (accounts at past cut-offs, features point in time), each candidate condition
— a signal type or topic at least k times in a window (or none at all), a measure above or below a value, a stage,
or two of those together — is counted: *support* (examples matching), *positives* among them, *precision* (their
rate), *lift* (precision / base rate) with a 95% Wilson interval. A candidate is proposed when the interval's lower
end of the lift is above ``min_lift`` and it has enough support (at least ``min_share`` of the examples); they are
ranked by that lower end (a cautious lift), one best condition per signal or measure.

Examples of one account at neighbouring cut-offs are not independent, so the interval is narrower than it should be;
the support is therefore also reported in distinct accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .explain import group_of
from .features import FeatureSpace
from .labels import Examples

COUNT_THRESHOLDS = (1, 2, 3, 5, 10, 20, 50)
QUANTILES = (0.1, 0.25, 0.75, 0.9)
# Measures computed the way the scorecard computes them, so a rule over them means the same thing.
MINABLE_MEASURES = ("engagement_trend", "active_users_7d", "active_users_30d", "adoption", "activation", "tenure_days")
Z = 1.96


def wilson(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of a proportion k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


@dataclass(frozen=True)
class Condition:
    """One test on a column: value >= v, <= v, or == 0 ("none")."""

    column: int
    op: str  # gte | lte | none
    value: float

    def mask(self, x: np.ndarray) -> np.ndarray:
        v = x[:, self.column]
        if self.op == "gte":
            return v >= self.value
        if self.op == "lte":
            return v <= self.value
        return v == 0

    def words(self, space: FeatureSpace) -> str:
        c = space.columns[self.column]
        if c.kind in ("signal_count", "topic_count"):
            if self.op == "none":
                return f"no {c.label.lower()} in {c.window_days} days"
            return f"{c.label} at least {int(self.value)} times in {c.window_days} days"
        if c.kind == "stage":
            return c.label.lower() if c.label else c.key
        shown = f"{100 * self.value:.0f}%" if c.unit == "%" else f"{self.value:.3g}"
        return f"{c.label} {'at least' if self.op == 'gte' else 'at most'} {shown}"

    def rule_condition(self, space: FeatureSpace) -> dict[str, Any]:
        """The condition in the signal-rule language (scoring.conditions, docs/conditions.md)."""
        c = space.columns[self.column]
        if c.kind in ("signal_count", "topic_count"):
            what = {"type": c.key} if c.kind == "signal_count" else {"topic": c.key}
            if self.op == "none":
                return {"signal": what, "window_days": c.window_days, "op": "none"}
            return {"signal": what, "window_days": c.window_days, "op": "at_least", "count": int(self.value)}
        if c.kind == "stage":
            return {"field": "stage", "op": "eq", "value": c.key}
        value = int(self.value) if c.key in ("active_users_7d", "active_users_30d", "tenure_days") else self.value
        return {"field": c.key, "op": self.op, "value": round(float(value), 4)}


@dataclass
class Candidate:
    """A proposed signal: its conditions (all must hold) and the evidence."""

    conditions: tuple[Condition, ...]
    support: int
    accounts: int
    positives: int
    precision: float
    base_rate: float
    lift: float
    lift_low: float
    lift_high: float
    gain: float = 0.0
    title: str = ""
    rule: dict[str, Any] = field(default_factory=dict)


def _singles(ex: Examples, space: FeatureSpace) -> list[Condition]:
    out: list[Condition] = []
    for j, c in enumerate(space.columns):
        v = ex.x[:, j]
        if c.kind in ("signal_count", "topic_count"):
            top = float(np.nanmax(v)) if len(v) else 0.0
            out += [Condition(j, "gte", k) for k in COUNT_THRESHOLDS if k <= top]
            out.append(Condition(j, "none", 0))
        elif c.kind == "measure" and c.key in MINABLE_MEASURES:
            finite = v[np.isfinite(v)]
            if len(finite):
                for q in np.unique(np.quantile(finite, QUANTILES)):
                    out += [Condition(j, "gte", float(q)), Condition(j, "lte", float(q))]
        elif c.kind == "stage":
            out.append(Condition(j, "gte", 1))
    return out


def _evaluate(conds: tuple[Condition, ...], mask: np.ndarray, ex: Examples, base: float) -> Candidate:
    n = int(mask.sum())
    k = int(ex.y[mask].sum())
    lo, hi = wilson(k, n)
    prec = k / n if n else 0.0
    return Candidate(
        conditions=conds, support=n, accounts=int(len(np.unique(ex.account[mask]))), positives=k, precision=prec,
        base_rate=base, lift=prec / base if base else 0.0, lift_low=lo / base if base else 0.0,
        lift_high=hi / base if base else 0.0,
    )  # fmt: skip


def candidates_mine(
    ex: Examples,
    space: FeatureSpace,
    *,
    min_support: int = 20,
    min_positives: int = 3,
    min_lift: float = 1.2,
    min_share: float = 0.01,
    limit: int = 10,
    pair_from: int = 12,
) -> list[Candidate]:
    """The best candidate conditions for an outcome, single and paired, best first."""
    if not len(ex.y) or not ex.y.sum():
        return []
    base = float(ex.y.mean())
    min_support = max(min_support, int(min_share * len(ex.y)))
    scored: list[tuple[Candidate, np.ndarray]] = []
    for cond in _singles(ex, space):
        mask = cond.mask(ex.x)
        cand = _evaluate((cond,), mask, ex, base)
        if cand.support >= min_support and cand.positives >= min_positives and cand.lift_low > min_lift:
            cand.gain = cand.lift_low
            scored.append((cand, mask))
    scored.sort(key=lambda cm: -cm[0].gain)
    best: dict[str, tuple[Candidate, np.ndarray]] = {}
    for cand, mask in scored:  # one condition per signal / measure: its best threshold and window
        best.setdefault(group_of(space.columns[cand.conditions[0].column]), (cand, mask))
    singles = list(best.values())
    pairs: list[tuple[Candidate, np.ndarray]] = []
    top = singles[:pair_from]
    for i in range(len(top)):
        for j in range(i + 1, len(top)):
            a, b = top[i], top[j]
            mask = a[1] & b[1]
            cand = _evaluate(a[0].conditions + b[0].conditions, mask, ex, base)
            if cand.support >= min_support and cand.positives >= min_positives and cand.lift_low > min_lift:
                cand.gain = cand.lift_low
                # a pair is worth proposing only when it says more than either part alone
                if cand.lift_low > max(a[0].lift, b[0].lift):
                    pairs.append((cand, mask))
    chosen = sorted([c for c, _ in singles] + [c for c, _ in pairs], key=lambda c: -c.gain)[:limit]
    for cand in chosen:
        cand.title = " and ".join(c.words(space) for c in cand.conditions)
        cand.title = cand.title[0].upper() + cand.title[1:]
        cand.rule = {"match": "all", "conditions": [c.rule_condition(space) for c in cand.conditions]}
    return chosen
