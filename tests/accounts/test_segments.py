from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.conditions import ConditionError
from accounts.models import Account, Segment
from accounts.segments import criteria_to_q
from tests.factories import AccountFactory, stage

pytestmark = pytest.mark.django_db


def matching(criteria) -> set[str]:
    return set(Account.objects.filter(criteria_to_q(criteria)).values_list("external_id", flat=True))


@pytest.fixture
def world():
    AccountFactory(
        external_id="trial-small",
        employees=10,
        stage=stage("trial"),
        traits={"plan": "free"},
        created_at=timezone.now() - timedelta(days=30),
    )
    AccountFactory(
        external_id="paying-big",
        employees=2000,
        industry="",
        stage=stage("enterprise"),
        traits={"plan": "enterprise", "seats": 40},
        created_at=timezone.now() - timedelta(days=400),
    )
    AccountFactory(external_id="no-size", employees=None, stage=None, created_at=timezone.now() - timedelta(days=3))


def test_operators(world):
    assert matching({"conditions": [{"field": "stage", "op": "in", "value": ["trial", "starter"]}]}) == {"trial-small"}
    assert matching({"conditions": [{"field": "stage_kind", "op": "eq", "value": "paying"}]}) == {"paying-big"}
    assert matching({"conditions": [{"field": "employees", "op": "missing"}]}) == {"no-size"}
    assert matching({"conditions": [{"field": "industry", "op": "missing"}]}) == {"paying-big"}
    assert matching({"conditions": [{"field": "traits.seats", "op": "gt", "value": 10}]}) == {"paying-big"}
    assert matching({"conditions": [{"field": "traits.plan", "op": "ne", "value": "free"}]}) == {
        "paying-big",
        "no-size",
    }
    assert matching({"conditions": [{"field": "created_at", "op": "older_than_days", "value": 180}]}) == {"paying-big"}
    assert matching({"conditions": [{"field": "created_at", "op": "within_days", "value": 7}]}) == {"no-size"}


def test_all_any_and_nested_groups(world):
    any_group = {
        "match": "any",
        "conditions": [
            {"field": "employees", "op": "lt", "value": 50},
            {"field": "traits.plan", "op": "eq", "value": "enterprise"},
        ],
    }
    assert matching(any_group) == {"trial-small", "paying-big"}
    nested = {"match": "all", "conditions": [any_group, {"field": "stage", "op": "eq", "value": "trial"}]}
    assert matching(nested) == {"trial-small"}
    assert matching({}) == {"trial-small", "paying-big", "no-size"}


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"conditions": [{"field": "shoe_size", "op": "eq", "value": 1}]}, "condition 1: unknown field 'shoe_size'"),
        ({"conditions": [{"field": "employees", "op": "between", "value": 1}]}, "unknown op 'between'"),
        ({"conditions": [{"field": "stage", "op": "in", "value": "trial"}]}, "'in' needs a list value"),
        ({"match": "some", "conditions": []}, "'match' must be 'all' or 'any'"),
        ("stage=trial", "criteria: a condition must be an object"),
    ],
)
def test_bad_criteria_say_what_and_where(criteria, message):
    with pytest.raises(ConditionError, match=message):
        criteria_to_q(criteria)
    with pytest.raises(ValidationError) as exc:
        Segment(name="x", criteria=criteria).full_clean()
    assert message in str(exc.value.message_dict["criteria"])


def test_size_band():
    assert Account(employees=None).size_band == "unknown"
    assert Account(employees=49).size_band == "small"
    assert Account(employees=50).size_band == "medium"
    assert Account(employees=1000).size_band == "large"
