"""The one condition language of segments, signal rules and playbook conditions: its operators, groups, checks and
messages (docs/conditions.md describes it for users).

A condition is ``{"field": name, "op": op, "value": ...}`` or a group ``{"match": "all"|"any", "conditions": [...]}``
(groups nest; an empty group holds for every account). Each context says which fields it knows and which other
kinds of condition it takes (signal rules and playbooks add segment membership and signal counts, in
``scoring.conditions``); the operators, what they need and the words of every refusal are the ones here, so the same
operator means the same thing everywhere and the same bad input gets the same message.

Segments compile a condition to SQL (``accounts.segments``); signal rules and playbooks evaluate it in memory with
:func:`value_holds` (or NumPy masks with the same meaning).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

# Every operator a field condition may use, and what it means (the documentation's table says the same).
FIELD_OPS: dict[str, str] = {
    "eq": "equal to the value",
    "ne": "not equal to the value (a missing value is not equal)",
    "in": "one of the values (a list)",
    "not_in": "none of the values (a list; a missing value is none of them)",
    "gt": "greater than the value (a number, or a date)",
    "gte": "greater than or equal to the value",
    "lt": "less than the value",
    "lte": "less than or equal to the value",
    "contains": "contains the value as text, ignoring case",
    "missing": "has no value (null or empty text); takes no value",
    "present": "has a value; takes no value",
    "within_days": "a date no more than this many days before now",
    "older_than_days": "a date more than this many days before now",
}
ORDER_OPS = ("gt", "gte", "lt", "lte")
DAYS_OPS = ("within_days", "older_than_days")
TRAITS = "traits."


class ConditionError(ValueError):
    """The conditions are not well formed; the message says which one and why."""


def is_group(cond: dict) -> bool:
    """Whether a condition object is a group (``conditions`` given, or nothing but ``match``)."""
    return "conditions" in cond or set(cond) <= {"match"}


def group_conditions(group: dict, where: str) -> list[Any]:
    """The conditions of a group, after checking its ``match`` and ``conditions``."""
    if group.get("match", "all") not in ("all", "any"):
        raise ConditionError(f"{where}: 'match' must be 'all' or 'any'")
    conditions = group.get("conditions", [])
    if not isinstance(conditions, list):
        raise ConditionError(f"{where}: 'conditions' must be a list")
    return conditions


def condition_object(cond: Any, where: str) -> dict:
    """``cond`` if it is an object, else the refusal every context gives."""
    if not isinstance(cond, dict):
        raise ConditionError(f"{where}: a condition must be an object")
    return cond


def unknown_kind(where: str, kinds: Collection[str]) -> ConditionError:
    """The refusal of a condition that is none of the kinds a context takes."""
    return ConditionError(f"{where}: expected {', '.join(repr(k) for k in kinds)} or a group with 'conditions'")


def as_number(value: Any) -> float | None:
    """A number given as a number or as text ("50"); None for anything else (true and false are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_datetime(value: Any) -> datetime | None:
    """A moment from a datetime, a date (midnight UTC) or ISO text ("2026-01-31", "2026-01-31T09:00:00Z");
    naive moments are read as UTC. None for anything else."""
    if isinstance(value, str):
        try:
            value = parse_datetime(value) or parse_date(value)
        except ValueError:  # well formed but impossible, like 2026-02-30
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def field_check(cond: dict, where: str, fields: Collection[str]) -> tuple[str, str, Any]:
    """Check a field condition against the fields a context knows (and ``traits.<name>``); return field, op, value."""
    field, op, value = cond.get("field"), cond.get("op"), cond.get("value")
    if not isinstance(field, str) or not field:
        raise ConditionError(f"{where}: 'field' must be the name of a field")
    if field not in fields and not (field.startswith(TRAITS) and len(field) > len(TRAITS)):
        raise ConditionError(f"{where}: unknown field {field!r} (use {', '.join(fields)} or traits.<name>)")
    if op not in FIELD_OPS:
        raise ConditionError(f"{where}: unknown op {op!r} (use {', '.join(FIELD_OPS)})")
    if op in ("in", "not_in") and not isinstance(value, list):
        raise ConditionError(f"{where}: '{op}' needs a list value")
    if op in ORDER_OPS and as_number(value) is None and as_datetime(value) is None:
        raise ConditionError(f"{where}: '{op}' needs a number or a date (like 2026-01-31)")
    days = None if isinstance(value, str) else as_number(value)
    if op in DAYS_OPS and (days is None or days < 0):
        raise ConditionError(f"{where}: '{op}' needs a number of days")
    if op == "contains" and (value is None or isinstance(value, (list, dict))):
        raise ConditionError(f"{where}: 'contains' needs a text")
    return field, op, value


def days_cutoff(days: float, now: datetime) -> datetime:
    """The moment ``days`` days before ``now`` (``within_days`` is at or after it, ``older_than_days`` before)."""
    return now - timedelta(days=days)


def value_holds(op: str, actual: Any, expected: Any, now: datetime) -> bool:
    """Whether a field condition holds for one value (the meaning of each operator, in Python)."""
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
    if op == "contains":
        return actual is not None and str(expected).lower() in str(actual).lower()
    if op in DAYS_OPS:
        moment = as_datetime(actual)
        if moment is None:
            return False
        cutoff = days_cutoff(expected, now)
        return moment >= cutoff if op == "within_days" else moment < cutoff
    number = as_number(expected)
    if number is not None:  # numbers compare with numbers only (true and false count as 1 and 0)
        return isinstance(actual, (int, float)) and _ordered(op, actual, number)
    moment, bound = as_datetime(actual), as_datetime(expected)  # a date: compared with dates (or ISO text) only
    return moment is not None and bound is not None and _ordered(op, moment, bound)


def _ordered(op: str, left: Any, right: Any) -> bool:
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]
