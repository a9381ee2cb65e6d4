"""One condition language: segments (SQL), signal rules and playbook conditions (NumPy) give the same operator the
same meaning and the same bad input the same message."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.conditions import FIELD_OPS, ConditionError
from accounts.models import Account
from accounts.segments import criteria_to_q
from playbooks.conditions import conditions_compile, conditions_mask
from scoring.conditions import compile_conditions
from tests.factories import AccountFactory, stage

pytestmark = pytest.mark.django_db


def _message(check, conditions) -> str:
    with pytest.raises(ConditionError) as exc:
        check(conditions)
    said = str(exc.value).split(": ", 1)[1]  # without "criteria"/"conditions", the name of the top level
    # each context lists the fields it knows
    return said.split(" (use ")[0] if said.startswith("unknown field") else said


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "shoe_size", "op": "eq", "value": 1}, "unknown field 'shoe_size'"),
        ({"field": "employees", "op": "between", "value": 1}, "unknown op 'between'"),
        ({"field": "employees", "op": "in", "value": 5}, "'in' needs a list value"),
        ({"field": "employees", "op": "gt", "value": "many"}, "'gt' needs a number or a date"),
        ({"field": "employees", "op": "lte", "value": [1]}, "'lte' needs a number or a date"),
        ({"field": "employees", "op": "within_days", "value": -1}, "'within_days' needs a number of days"),
        ({"field": "employees", "op": "older_than_days", "value": "3"}, "'older_than_days' needs a number of days"),
        ({"field": "industry", "op": "contains"}, "'contains' needs a text"),
        ({"field": 3, "op": "eq", "value": 1}, "'field' must be the name of a field"),
        ({"match": "some", "conditions": [{"field": "employees", "op": "present"}]}, "'match' must be 'all' or 'any'"),
        ({"match": "any", "conditions": "employees"}, "'conditions' must be a list"),
        ("employees > 5", "a condition must be an object"),
    ],
)
def test_the_same_bad_condition_gets_the_same_message_everywhere(condition, message):
    conditions = {"match": "all", "conditions": [condition]}
    said = [_message(check, conditions) for check in (criteria_to_q, compile_conditions, conditions_compile)]
    assert said[0] == said[1] == said[2], said
    assert message in said[0]


def test_the_operators_are_one_set():
    assert set(FIELD_OPS) == {
        "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "missing", "present", "within_days",
        "older_than_days",
    }  # fmt: skip


NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def world():
    AccountFactory(external_id="a", employees=10, industry="Software", country="FR", stage=stage("trial"),
                   traits={"plan": "Free trial", "seats": 4, "renewal": "2026-02-20"})  # fmt: skip
    AccountFactory(external_id="b", employees=2000, industry="", country="DE", stage=stage("enterprise"),
                   traits={"plan": "enterprise", "seats": 40, "renewal": "2025-06-01"})  # fmt: skip
    AccountFactory(external_id="c", employees=None, industry="Retail", country="", stage=None, traits={})
    AccountFactory(external_id="d", employees=5, industry="Retail", country="FR", stage=None,
                   traits={"plan": None, "note": ""})  # fmt: skip


LEAVES = [
    {"field": "employees", "op": op, "value": 50} for op in ("eq", "ne", "gt", "gte", "lt", "lte")
] + [
    {"field": "employees", "op": "gt", "value": "50"},
    {"field": "employees", "op": "in", "value": [10, 20]},
    {"field": "employees", "op": "not_in", "value": [10]},
    {"field": "employees", "op": "missing"},
    {"field": "industry", "op": "missing"},
    {"field": "industry", "op": "present"},
    {"field": "industry", "op": "contains", "value": "SOFT"},
    {"field": "industry", "op": "ne", "value": "Retail"},
    {"field": "industry", "op": "eq"},
    {"field": "industry", "op": "ne"},
    {"field": "country", "op": "in", "value": ["FR", "DE"]},
    {"field": "stage", "op": "eq", "value": "trial"},
    {"field": "stage_kind", "op": "not_in", "value": ["paying"]},
    {"field": "traits.plan", "op": "contains", "value": "trial"},
    {"field": "traits.plan", "op": "ne", "value": "enterprise"},
    {"field": "traits.seats", "op": "gte", "value": 5},
    {"field": "traits.seats", "op": "present"},
    {"field": "traits.seats", "op": "missing"},
    {"field": "traits.plan", "op": "missing"},
    {"field": "traits.plan", "op": "present"},
    {"field": "traits.plan", "op": "eq"},
    {"field": "traits.plan", "op": "ne"},
    {"field": "traits.plan", "op": "not_in", "value": ["enterprise"]},
    {"field": "traits.note", "op": "missing"},
    {"field": "traits.note", "op": "present"},
    {"field": "traits.note", "op": "eq"},
    {"field": "traits.note", "op": "eq", "value": ""},
    {"match": "any", "conditions": []},
]  # fmt: skip


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda c: " ".join(str(v) for v in c.values()))
def test_segments_and_playbooks_agree_on_every_operator(world, leaf):
    """The SQL of segments and the NumPy of playbooks (and signal rules) select the same accounts."""
    conditions = {"match": "all", "conditions": [leaf]}
    by_sql = set(Account.objects.filter(criteria_to_q(conditions)).values_list("external_id", flat=True))
    accounts = list(Account.objects.order_by("pk").values_list("pk", "external_id"))
    mask = conditions_mask(conditions, [pk for pk, _ in accounts], NOW)
    assert {external_id for (_, external_id), holds in zip(accounts, mask, strict=True) if holds} == by_sql


def test_dates_and_days_in_rules_and_playbooks():
    now = timezone.now()
    AccountFactory(external_id="soon", traits={"renewal": (now - timedelta(days=3)).isoformat()})
    AccountFactory(external_id="long-ago", traits={"renewal": "2020-01-01"})
    AccountFactory(external_id="never", traits={"renewal": "not a date"})
    accounts = list(Account.objects.order_by("pk").values_list("pk", "external_id"))

    def holding(condition) -> set[str]:
        conditions_compile(condition)  # valid
        mask = conditions_mask(condition, [pk for pk, _ in accounts], now)
        return {external_id for (_, external_id), holds in zip(accounts, mask, strict=True) if holds}

    assert holding({"field": "traits.renewal", "op": "within_days", "value": 7}) == {"soon"}
    assert holding({"field": "traits.renewal", "op": "older_than_days", "value": 7}) == {"long-ago"}
    assert holding({"field": "traits.renewal", "op": "lt", "value": "2021-01-01"}) == {"long-ago"}
    assert holding({"field": "traits.renewal", "op": "gte", "value": "2021-01-01"}) == {"soon"}
