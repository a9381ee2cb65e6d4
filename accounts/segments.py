"""Segment entry criteria: a small structured language compiled to a Django ``Q`` (set-based, no Python loop).

Criteria look like ``{"match": "all", "conditions": [{"field": "employees", "op": "gte", "value": 50}]}``.
A condition may itself be a group (``{"match": "any", "conditions": [...]}``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

# Fields a condition may name, mapped to ORM lookups on Account.
FIELDS: dict[str, str] = {
    "external_id": "external_id",
    "name": "name",
    "domain": "domain",
    "industry": "industry",
    "employees": "employees",
    "annual_revenue": "annual_revenue",
    "country": "country",
    "created_at": "created_at",
    "stage": "stage__key",
    "stage_kind": "stage__kind",
    "stage_changed_at": "stage_changed_at",
    "owner_email": "owner__email",
}
OPERATORS = (
    "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "missing", "present", "within_days",
    "older_than_days",
)  # fmt: skip
TEXT_FIELDS = {"external_id", "name", "domain", "industry", "country", "stage", "stage_kind", "owner_email"}


class SegmentCriteriaError(ValueError):
    """The criteria are not well formed; the message says which condition and why."""


def _lookup(field: str, where: str) -> str:
    if field in FIELDS:
        return FIELDS[field]
    if field.startswith("traits.") and len(field) > len("traits."):
        return "traits__" + field[len("traits.") :].replace(".", "__")
    raise SegmentCriteriaError(f"{where}: unknown field {field!r} (use {', '.join(FIELDS)} or traits.<name>)")


def _condition_q(cond: Any, where: str) -> Q:
    if not isinstance(cond, dict):
        raise SegmentCriteriaError(f"{where}: a condition must be an object")
    if "conditions" in cond:
        return _group_q(cond, where)
    field, op, value = cond.get("field"), cond.get("op"), cond.get("value")
    if not isinstance(field, str):
        raise SegmentCriteriaError(f"{where}: 'field' is required")
    if op not in OPERATORS:
        raise SegmentCriteriaError(f"{where}: unknown op {op!r} (use {', '.join(OPERATORS)})")
    lookup = _lookup(field, where)
    if op in ("missing", "present"):
        missing = Q(**{f"{lookup}__isnull": True})
        if field in TEXT_FIELDS:
            missing |= Q(**{lookup: ""})
        return missing if op == "missing" else ~missing
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            raise SegmentCriteriaError(f"{where}: '{op}' needs a list value")
        q = Q(**{f"{lookup}__in": value})
        # "not in" includes accounts where the value is missing, as a person reading the rule expects.
        return q if op == "in" else ~q | Q(**{f"{lookup}__isnull": True})
    if op in ("within_days", "older_than_days"):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise SegmentCriteriaError(f"{where}: '{op}' needs a number of days")
        cutoff = timezone.now() - timedelta(days=value)
        return Q(**{f"{lookup}__gte" if op == "within_days" else f"{lookup}__lt": cutoff})
    if value is None:
        raise SegmentCriteriaError(f"{where}: '{op}' needs a value")
    if op == "eq":
        return Q(**{lookup: value})
    if op == "ne":
        return ~Q(**{lookup: value}) | Q(**{f"{lookup}__isnull": True})
    if op == "contains":
        return Q(**{f"{lookup}__icontains": value})
    return Q(**{f"{lookup}__{op}": value})


def _group_q(group: dict, where: str) -> Q:
    match = group.get("match", "all")
    if match not in ("all", "any"):
        raise SegmentCriteriaError(f"{where}: 'match' must be 'all' or 'any'")
    conditions = group.get("conditions", [])
    if not isinstance(conditions, list):
        raise SegmentCriteriaError(f"{where}: 'conditions' must be a list")
    result = Q()
    for i, cond in enumerate(conditions, 1):
        q = _condition_q(cond, f"{where} condition {i}")
        result = (result & q) if match == "all" or not result else (result | q)
    return result


def criteria_to_q(criteria: Any) -> Q:
    """Compile segment criteria to a ``Q`` over Account. Empty criteria match every account."""
    if criteria in (None, {}, []):
        return Q()
    if not isinstance(criteria, dict):
        raise SegmentCriteriaError("criteria must be an object with 'match' and 'conditions'")
    return _group_q(criteria, "criteria")
