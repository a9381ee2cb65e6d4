"""The condition language of signal rules: validation, the data a rule needs, and evaluation for one account.

Plain Python (no database): the scoring app loads, for a chunk of accounts, the values each condition names
(measures and scores, account fields, segment names, signal counts per window) and calls :func:`evaluate`.

A rule is ``{"match": "all"|"any", "conditions": [...]}``; conditions nest and are one of:

- ``{"field": "tenure_days", "op": "gt", "value": 180}`` over a measure or score (tenure_days, size_band,
  activation, engagement, engagement_trend, active_users_7d, active_users_30d, total_users, active_ratio_30d,
  adoption, fit, lead, signal_strength, surging, grade, temperature, qualified), an account field (employees,
  industry, country, annual_revenue, stage, stage_kind, can_expand: true on a paying stage below the top paying
  rank) or ``traits.<name>``; ops eq, ne, in, not_in, gt, gte, lt, lte, missing, present;
- ``{"segment": "Trials"}`` (or ``"op": "not_in"``): open membership of the named segment;
- ``{"signal": {"type": "pricing-page-view", "topic": "analytics", "category": "web_visits"}, "window_days": 7,
  "op": "at_least"|"at_most"|"none", "count": 3}``: signals in the last N days (any of type/topic/category given;
  a type is named however it is written: "pricing_page_view" is "pricing-page-view").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .parsing import signal_type_key

MEASURES = (
    "tenure_days", "size_band", "activation", "engagement", "engagement_trend", "active_users_7d",
    "active_users_30d", "total_users", "active_ratio_30d", "adoption", "fit", "lead", "signal_strength", "surging",
    "grade", "temperature", "qualified",
)  # fmt: skip
ACCOUNT_FIELDS = ("employees", "industry", "country", "annual_revenue", "stage", "stage_kind", "can_expand")
FIELD_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "missing", "present")
SIGNAL_OPS = ("at_least", "at_most", "none")
MAX_WINDOW_DAYS = 3650


class RuleConditionError(ValueError):
    """The conditions are not well formed; the message says which one and why."""


@dataclass(frozen=True, slots=True)
class SignalCount:
    """What a signal condition counts: its filter and window (the loader makes one aggregate per distinct one)."""

    type: str | None
    topic: str | None
    category: str | None
    window_days: int

    @property
    def label(self) -> str:
        what = " ".join(p for p in (self.type, self.topic, self.category) if p) or "any signal"
        return f"{what} in {self.window_days} days"


@dataclass(frozen=True, slots=True)
class Needs:
    """Everything a set of rules reads, so a chunk's data is loaded once for all of them."""

    fields: frozenset[str]
    segments: frozenset[str]
    counts: frozenset[SignalCount]


def _check_field(cond: dict, where: str) -> str:
    field, op = cond.get("field"), cond.get("op")
    if not isinstance(field, str) or not (
        field in MEASURES or field in ACCOUNT_FIELDS or (field.startswith("traits.") and len(field) > 7)
    ):
        raise RuleConditionError(f"{where}: unknown field {field!r}")
    if op not in FIELD_OPS:
        raise RuleConditionError(f"{where}: unknown op {op!r} (use {', '.join(FIELD_OPS)})")
    if op in ("in", "not_in") and not isinstance(cond.get("value"), list):
        raise RuleConditionError(f"{where}: '{op}' needs a list value")
    if op in ("gt", "gte", "lt", "lte") and (
        not isinstance(cond.get("value"), (int, float)) or isinstance(cond.get("value"), bool)
    ):
        raise RuleConditionError(f"{where}: '{op}' needs a number")
    return field


def _check_signal(cond: dict, where: str) -> SignalCount:
    what = cond.get("signal")
    if not isinstance(what, dict) or not set(what) <= {"type", "topic", "category"}:
        raise RuleConditionError(f"{where}: 'signal' must be an object with type, topic and/or category")
    if any(v is not None and not isinstance(v, str) for v in what.values()):
        raise RuleConditionError(f"{where}: type, topic and category are keys (text)")
    window = cond.get("window_days")
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= MAX_WINDOW_DAYS:
        raise RuleConditionError(f"{where}: 'window_days' must be a whole number from 1 to {MAX_WINDOW_DAYS}")
    op = cond.get("op", "at_least")
    if op not in SIGNAL_OPS:
        raise RuleConditionError(f"{where}: unknown op {op!r} (use {', '.join(SIGNAL_OPS)})")
    count = cond.get("count", 1)
    if op != "none" and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise RuleConditionError(f"{where}: 'count' must be a whole number")
    kind = what.get("type")
    return SignalCount(signal_type_key(kind) if kind else kind, what.get("topic"), what.get("category"), window)


def _walk(group: Any, where: str, needs: dict[str, set]) -> None:
    if not isinstance(group, dict):
        raise RuleConditionError(f"{where}: a condition must be an object")
    if "conditions" in group:
        if group.get("match", "all") not in ("all", "any"):
            raise RuleConditionError(f"{where}: 'match' must be 'all' or 'any'")
        if not isinstance(group["conditions"], list) or not group["conditions"]:
            raise RuleConditionError(f"{where}: 'conditions' must be a non-empty list")
        for i, cond in enumerate(group["conditions"], 1):
            _walk(cond, f"{where} condition {i}", needs)
    elif "field" in group:
        needs["fields"].add(_check_field(group, where))
    elif "segment" in group:
        if not isinstance(group["segment"], str) or group.get("op", "in") not in ("in", "not_in"):
            raise RuleConditionError(f"{where}: a segment condition is {{'segment': name, 'op': 'in'|'not_in'}}")
        needs["segments"].add(group["segment"])
    elif "signal" in group:
        needs["counts"].add(_check_signal(group, where))
    else:
        raise RuleConditionError(f"{where}: expected 'field', 'segment', 'signal' or a group with 'conditions'")


def compile_conditions(conditions: Any) -> Needs:
    """Validate a rule's conditions and say what data they need."""
    needs: dict[str, set] = {"fields": set(), "segments": set(), "counts": set()}
    _walk(conditions, "conditions", needs)
    return Needs(frozenset(needs["fields"]), frozenset(needs["segments"]), frozenset(needs["counts"]))


def merge(needs: list[Needs]) -> Needs:
    return Needs(
        frozenset().union(*(n.fields for n in needs)),
        frozenset().union(*(n.segments for n in needs)),
        frozenset().union(*(n.counts for n in needs)),
    )


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "missing":
        return actual in (None, "")
    if op == "present":
        return actual not in (None, "")
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if actual is None or isinstance(actual, str):
        return False
    return {"gt": actual > expected, "gte": actual >= expected, "lt": actual < expected, "lte": actual <= expected}[op]


def evaluate(
    conditions: dict, *, fields: dict[str, Any], segments: set[str], counts: dict[SignalCount, int]
) -> tuple[bool, dict[str, Any]]:
    """Whether the conditions hold for one account, and the values they read (what made the rule true)."""
    seen: dict[str, Any] = {}

    def check(cond: dict) -> bool:
        if "conditions" in cond:
            results = (check(c) for c in cond["conditions"])
            return all(results) if cond.get("match", "all") == "all" else any(results)
        if "field" in cond:
            actual = fields.get(cond["field"])
            seen[cond["field"]] = actual
            return _compare(cond["op"], actual, cond.get("value"))
        if "segment" in cond:
            inside = cond["segment"] in segments
            seen[f"segment {cond['segment']}"] = inside
            return inside if cond.get("op", "in") == "in" else not inside
        key = _check_signal(cond, "")
        n = counts.get(key, 0)
        seen[key.label] = n
        op = cond.get("op", "at_least")
        if op == "none":
            return n == 0
        return n >= cond.get("count", 1) if op == "at_least" else n <= cond.get("count", 1)

    return check(conditions), seen
