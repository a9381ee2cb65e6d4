"""Segment entry criteria compiled to a Django ``Q`` (set-based, no Python loop).

Criteria are written in the condition language of ``accounts.conditions`` (docs/conditions.md) over the account
fields below and ``traits.<name>``, e.g. ``{"match": "all", "conditions": [{"field": "employees", "op": "gte",
"value": 50}]}``; groups nest.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from .conditions import (
    DAYS_OPS,
    TRAITS,
    condition_object,
    days_cutoff,
    field_check,
    group_conditions,
    is_group,
    unknown_kind,
)

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
TEXT_FIELDS = {"external_id", "name", "domain", "industry", "country", "stage", "stage_kind", "owner_email"}


def _lookup(field: str) -> str:
    if field in FIELDS:
        return FIELDS[field]
    return "traits__" + field[len(TRAITS) :].replace(".", "__")  # a field check let only traits.<name> through


def _condition_q(cond: Any, where: str) -> Q:
    cond = condition_object(cond, where)
    if is_group(cond):
        return _group_q(cond, where)
    if "field" not in cond:
        raise unknown_kind(where, ["field"])
    field, op, value = field_check(cond, where, FIELDS)
    lookup = _lookup(field)
    if op in ("missing", "present") or (op in ("eq", "ne") and value is None):
        # As the in-memory evaluation of rules and playbooks reads it: "eq null" is no value at all (a null field;
        # a trait absent or JSON null), "missing" also counts empty text; "ne null" and "present" are their opposites.
        none = Q(**{f"{lookup}__isnull": True})
        if field.startswith(TRAITS):
            none |= Q(**{lookup: None})
        if op in ("missing", "present") and (field in TEXT_FIELDS or field.startswith(TRAITS)):
            none |= Q(**{lookup: ""})
        return none if op in ("missing", "eq") else ~none
    if op in ("in", "not_in"):
        q = Q(**{f"{lookup}__in": value})
        # "not in" includes accounts where the value is missing, as a person reading the rule expects.
        return q if op == "in" else ~q | Q(**{f"{lookup}__isnull": True})
    if op in DAYS_OPS:
        cutoff = days_cutoff(value, timezone.now())
        return Q(**{f"{lookup}__gte" if op == "within_days" else f"{lookup}__lt": cutoff})
    if op == "eq":
        return Q(**{lookup: value})
    if op == "ne":
        return ~Q(**{lookup: value}) | Q(**{f"{lookup}__isnull": True})
    if op == "contains":
        return Q(**{f"{lookup}__icontains": value})
    return Q(**{f"{lookup}__{op}": value})


def _group_q(group: dict, where: str) -> Q:
    match = group.get("match", "all")
    result = Q()
    for i, cond in enumerate(group_conditions(group, where), 1):
        q = _condition_q(cond, f"{where} condition {i}")
        result = (result & q) if match == "all" or not result else (result | q)
    return result


def criteria_to_q(criteria: Any) -> Q:
    """Compile segment criteria to a ``Q`` over Account. Empty criteria match every account."""
    if criteria in (None, {}, []):
        return Q()
    return _condition_q(criteria, "criteria")
