"""Conditions over scoring's numbers: the language of signal rules and playbook conditions, and the set-based
evaluation both use.

The operators, groups and messages are ``accounts.conditions``' (the one condition language, docs/conditions.md);
this module adds what scoring knows: its fields (measures and scores, account fields, ``can_expand``), segment
membership and signal counts in windows. Conditions nest and are one of:

- ``{"field": "tenure_days", "op": "gt", "value": 180}`` over a measure or score (tenure_days, size_band,
  activation, engagement, engagement_trend, active_users_7d, active_users_30d, total_users, active_ratio_30d,
  adoption, fit, lead, signal_strength, surging, grade, temperature, qualified), an account field (employees,
  industry, country, annual_revenue, stage, stage_kind, can_expand: true on a paying stage below the top paying
  rank) or ``traits.<name>``; playbooks name more fields (``extra_fields``);
- ``{"segment": "Trials"}`` (or ``"op": "not_in"``): open membership of the named segment;
- ``{"signal": {"type": "pricing-page-view", "topic": "analytics", "category": "web_visits"}, "window_days": 7,
  "op": "at_least"|"at_most"|"none", "count": 3}``: signals in the last N days (any of type/topic/category given;
  a type is named however it is written: "pricing_page_view" is "pricing-page-view").

The public functions: :func:`compile_conditions` (a signal rule's) and :func:`conditions_needs` check conditions and
say what they read; :func:`signal_counts` reads the counts; :func:`columns_by_field` / :func:`columns_by_account`
lay the values out as arrays and :func:`columns_mask` decides every account at once; :func:`conditions_evaluate`
walks one account and records the values it read (what made a rule true). Both agree (a test holds them equal).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db.models import Count, Q

from accounts.conditions import (
    ORDER_OPS,
    ConditionError,
    as_number,
    condition_object,
    field_check,
    group_conditions,
    is_group,
    unknown_kind,
    value_holds,
)
from signals_app.models import Signal
from signals_app.parsing import signal_type_key

__all__ = [
    "ACCOUNT_FIELDS",
    "MEASURES",
    "ConditionError",
    "Needs",
    "SignalCount",
    "columns_by_account",
    "columns_by_field",
    "columns_mask",
    "compile_conditions",
    "conditions_evaluate",
    "conditions_needs",
    "needs_merge",
    "plain_value",
    "signal_counts",
]

MEASURES = (
    "tenure_days", "size_band", "activation", "engagement", "engagement_trend", "active_users_7d",
    "active_users_30d", "total_users", "active_ratio_30d", "adoption", "fit", "lead", "signal_strength", "surging",
    "grade", "temperature", "qualified",
)  # fmt: skip
ACCOUNT_FIELDS = ("employees", "industry", "country", "annual_revenue", "stage", "stage_kind", "can_expand")
SIGNAL_OPS = ("at_least", "at_most", "none")
MAX_WINDOW_DAYS = 3650
KINDS = ("field", "segment", "signal")


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
    """Everything a set of conditions reads, so a chunk's data is loaded once for all of them."""

    fields: frozenset[str]
    segments: frozenset[str]
    counts: frozenset[SignalCount]


def _check_signal(cond: dict, where: str) -> SignalCount:
    what = cond.get("signal")
    if not isinstance(what, dict) or not set(what) <= {"type", "topic", "category"}:
        raise ConditionError(f"{where}: 'signal' must be an object with type, topic and/or category")
    if any(v is not None and not isinstance(v, str) for v in what.values()):
        raise ConditionError(f"{where}: type, topic and category are keys (text)")
    window = cond.get("window_days")
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= MAX_WINDOW_DAYS:
        raise ConditionError(f"{where}: 'window_days' must be a whole number from 1 to {MAX_WINDOW_DAYS}")
    op = cond.get("op", "at_least")
    if op not in SIGNAL_OPS:
        raise ConditionError(f"{where}: unknown op {op!r} (use {', '.join(SIGNAL_OPS)})")
    count = cond.get("count", 1)
    if op != "none" and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise ConditionError(f"{where}: 'count' must be a whole number")
    kind = what.get("type")
    return SignalCount(signal_type_key(kind) if kind else kind, what.get("topic"), what.get("category"), window)


def _walk(cond: Any, where: str, known: Collection[str], needs: dict[str, set]) -> None:
    cond = condition_object(cond, where)
    if is_group(cond):
        for i, inner in enumerate(group_conditions(cond, where), 1):
            _walk(inner, f"{where} condition {i}", known, needs)
    elif "field" in cond:
        needs["fields"].add(field_check(cond, where, known)[0])
    elif "segment" in cond:
        if not isinstance(cond["segment"], str) or cond.get("op", "in") not in ("in", "not_in"):
            raise ConditionError(f"{where}: a segment condition is {{'segment': name, 'op': 'in'|'not_in'}}")
        needs["segments"].add(cond["segment"])
    elif "signal" in cond:
        needs["counts"].add(_check_signal(cond, where))
    else:
        raise unknown_kind(where, KINDS)


def conditions_needs(conditions: Any, *, extra_fields: Collection[str] = ()) -> Needs:
    """Check conditions over scoring's fields (and ``extra_fields``) and say what they read; raise ConditionError."""
    needs: dict[str, set] = {"fields": set(), "segments": set(), "counts": set()}
    _walk(conditions, "conditions", tuple(dict.fromkeys((*MEASURES, *ACCOUNT_FIELDS, *extra_fields))), needs)
    return Needs(frozenset(needs["fields"]), frozenset(needs["segments"]), frozenset(needs["counts"]))


def compile_conditions(conditions: Any) -> Needs:
    """Check a signal rule's conditions (a rule needs at least one) and say what data they need."""
    if isinstance(conditions, dict) and is_group(conditions) and not group_conditions(conditions, "conditions"):
        raise ConditionError("conditions: 'conditions' must be a non-empty list")
    return conditions_needs(conditions)


def needs_merge(needs: list[Needs]) -> Needs:
    """What several sets of conditions read together."""
    return Needs(
        frozenset().union(*(n.fields for n in needs)),
        frozenset().union(*(n.segments for n in needs)),
        frozenset().union(*(n.counts for n in needs)),
    )


def _signal_holds(cond: dict, n: Any) -> Any:
    op = cond.get("op", "at_least")
    if op == "none":
        return n == 0
    return n >= cond.get("count", 1) if op == "at_least" else n <= cond.get("count", 1)


def conditions_evaluate(
    conditions: dict, *, fields: dict[str, Any], segments: set[str], counts: dict[SignalCount, int], now: datetime
) -> tuple[bool, dict[str, Any]]:
    """Whether the conditions hold for one account, and the values they read (what made the rule true)."""
    seen: dict[str, Any] = {}

    def check(cond: dict) -> bool:
        if is_group(cond):
            inner = cond.get("conditions", [])
            if not inner:
                return True  # an empty group holds for every account
            results = (check(c) for c in inner)
            return all(results) if cond.get("match", "all") == "all" else any(results)
        if "field" in cond:
            actual = fields.get(cond["field"])
            seen[cond["field"]] = actual
            return value_holds(cond["op"], actual, cond.get("value"), now)
        if "segment" in cond:
            inside = cond["segment"] in segments
            seen[f"segment {cond['segment']}"] = inside
            return inside if cond.get("op", "in") == "in" else not inside
        key = _check_signal(cond, "")
        n = counts.get(key, 0)
        seen[key.label] = n
        return bool(_signal_holds(cond, n))

    return check(conditions), seen


def plain_value(value: Any) -> Any:
    """A JSON-friendly value: Decimals as floats, NaN as None."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value != value:
        return None
    return value


def signal_counts(account_ids: Sequence[int], keys: frozenset[SignalCount], now: datetime) -> dict[SignalCount, dict]:
    """Per signal count the conditions name, the number of signals of each account in its window (one aggregate
    query per count; accounts without any are absent)."""
    result = {}
    for key in keys:
        # the window ends at ``now``: a backtest's cut-off is in the past, and later signals were not known then
        query = Q(account_id__in=account_ids, occurred_at__gte=now - timedelta(days=key.window_days))
        query &= Q(occurred_at__lte=now)
        if key.type:
            query &= Q(type__key=key.type)
        if key.topic:
            query &= Q(topic__key=key.topic) | Q(topic__parent__key=key.topic)
        if key.category:
            query &= Q(type__category=key.category)
        rows = Signal.objects.filter(query).values("account_id").annotate(n=Count("id")).values_list("account_id", "n")
        result[key] = dict(rows)
    return result


Columns = dict[Any, np.ndarray]  # ("field", name) / ("segment", name) / ("count", SignalCount) -> one value per account


def columns_by_account(
    ids: list[int], fields: dict[int, dict[str, Any]], segments: dict[int, set[str]], counts: dict[SignalCount, dict]
) -> Columns:
    """The values as one array per field, segment and signal count, in the order of ``ids``, from fields given per
    account (``fields[account_id][name]``)."""
    names = set().union(*(f.keys() for f in fields.values())) if fields else set()
    by_field = {name: [fields.get(a, {}).get(name) for a in ids] for name in names}
    return columns_by_field(ids, by_field, segments, counts)


def columns_by_field(
    ids: list[int], fields: dict[str, list[Any]], segments: dict[int, set[str]], counts: dict[SignalCount, dict]
) -> Columns:
    """The values as one array per field, segment and signal count, in the order of ``ids`` (``fields``: a column
    per field already)."""
    columns: Columns = {}
    for name, values in fields.items():
        column = np.empty(len(ids), dtype=object)
        column[:] = values
        columns[("field", name)] = column
    for name in set().union(*segments.values()) if segments else set():
        columns[("segment", name)] = np.array([name in segments.get(a, ()) for a in ids], dtype=bool)
    for key, per in counts.items():
        columns[("count", key)] = np.array([per.get(a, 0) for a in ids], dtype=np.int64)
    return columns


def columns_mask(cond: dict, columns: Columns, n: int, *, now: datetime) -> np.ndarray:
    """Where checked conditions hold, for every account of the chunk at once (same meaning as
    :func:`conditions_evaluate`)."""
    if is_group(cond):
        masks = [columns_mask(c, columns, n, now=now) for c in cond.get("conditions", [])]
        if not masks:
            return np.ones(n, dtype=bool)  # an empty group holds for every account
        return np.logical_and.reduce(masks) if cond.get("match", "all") == "all" else np.logical_or.reduce(masks)
    if "segment" in cond:
        inside = columns.get(("segment", cond["segment"]), np.zeros(n, dtype=bool))
        return inside if cond.get("op", "in") == "in" else ~inside
    if "signal" in cond:
        counted = columns.get(("count", _check_signal(cond, "")), np.zeros(n, dtype=np.int64))
        return _signal_holds(cond, counted)
    values = columns.get(("field", cond["field"]))
    if values is None:
        values = np.full(n, None, dtype=object)
    return _field_mask(cond["op"], cond.get("value"), values, now)


def _field_mask(op: str, expected: Any, values: np.ndarray, now: datetime) -> np.ndarray:
    """:func:`value_holds` over a column: comparisons with a number in NumPy, every other operator value by value."""
    number = as_number(expected)
    if op not in ORDER_OPS or number is None:
        return np.fromiter((value_holds(op, v, expected, now) for v in values), dtype=bool, count=len(values))
    numeric = np.array(
        [float(v) if isinstance(v, (int, float)) and not isinstance(v, str) else np.nan for v in values], dtype=float
    )
    with np.errstate(invalid="ignore"):
        result = {"gt": numeric > number, "gte": numeric >= number, "lt": numeric < number,
                  "lte": numeric <= number}[op]  # fmt: skip
    return result & ~np.isnan(numeric)
