"""Signal rules: validated conditions, hits set and cleared with their times and the values that made them true."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Segment
from accounts.services import segment_evaluate
from scoring.conditions import ConditionError, compile_conditions
from scoring.models import AccountScore, RuleHit, SignalRule
from scoring.rules import rule_hits_evaluate
from tests.factories import AccountFactory, SignalFactory, SignalTypeFactory, stage

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def score(account, **measures):
    values = {"tenure_days": 400, "size_band": "medium", "engagement": 55.0, "active_users_30d": 25,
              "adoption": 0.8, "engagement_trend": 1.0, "computed_at": NOW, **measures}  # fmt: skip
    AccountScore.objects.update_or_create(account=account, defaults=values)


def hits(rule_name: str) -> list[tuple]:
    return list(
        RuleHit.objects.filter(rule__name=rule_name)
        .order_by("set_at")
        .values_list("account__external_id", "cleared_at")
    )


def test_the_shipped_examples_hit_and_clear_with_their_times():
    # (the shipped examples are for customers: the problem rule for paying ones, expansion below the top plan)
    grower = AccountFactory(external_id="grower", stage=stage("starter"))
    quiet = AccountFactory(external_id="quiet", stage=stage("corporate"))
    gone = AccountFactory(external_id="gone", stage=stage("churn"))
    top = AccountFactory(external_id="top", stage=stage("enterprise"))
    score(grower)
    score(top)
    for account in (quiet, gone):
        score(account, engagement=5.0, engagement_trend=0.3, active_users_30d=1, adoption=0.1)

    stats = rule_hits_evaluate(account_ids=[grower.pk, quiet.pk, gone.pk, top.pk], now=NOW)

    assert (stats.opened, stats.cleared) == (2, 0)
    assert hits("Expansion opportunity") == [("grower", None)]  # not "top": nothing to expand to
    assert hits("Potential problem account") == [("quiet", None)]  # not "gone": a churned account left already
    hit = RuleHit.objects.get(rule__name="Expansion opportunity")
    assert hit.set_at == NOW
    assert hit.values == {"can_expand": True, "tenure_days": 400, "size_band": "medium", "engagement": 55.0,
                          "active_users_30d": 25, "adoption": 0.8}  # fmt: skip

    again = rule_hits_evaluate(account_ids=[grower.pk, quiet.pk], now=NOW + timedelta(hours=1))
    assert (again.opened, again.cleared, again.open) == (0, 0, 2)  # idempotent: refreshed, not duplicated

    score(grower, active_users_30d=12)
    later = NOW + timedelta(days=1)
    assert rule_hits_evaluate(account_ids=[grower.pk], now=later).cleared == 1
    assert hits("Expansion opportunity") == [("grower", later)]


def test_signal_counts_in_windows_and_segments():
    pricing = SignalTypeFactory(key="pricing-page-view")
    hot, cold = AccountFactory(external_id="hot", employees=30), AccountFactory(external_id="cold", employees=30)
    for days in (1, 2, 3):
        SignalFactory(account=hot, type=pricing, occurred_at=NOW - timedelta(days=days))
    SignalFactory(account=cold, type=pricing, occurred_at=NOW - timedelta(days=20))
    segment = Segment.objects.create(
        name="Small", criteria={"conditions": [{"field": "employees", "op": "lt", "value": 50}]}
    )
    segment_evaluate(segment=segment, now=NOW - timedelta(days=1))  # members by NOW
    SignalRule.objects.create(
        name="Pricing 3x in 7 days (small)",
        conditions={"match": "all", "conditions": [
            {"segment": "Small"},
            {"signal": {"type": "pricing-page-view"}, "window_days": 7, "op": "at_least", "count": 3},
        ]},
    )  # fmt: skip
    SignalRule.objects.create(
        name="Silent for a week",
        conditions={"conditions": [{"signal": {"type": "pricing-page-view"}, "window_days": 7, "op": "none"}]},
    )
    rule_hits_evaluate(account_ids=[hot.pk, cold.pk], now=NOW)
    assert hits("Pricing 3x in 7 days (small)") == [("hot", None)]
    assert RuleHit.objects.get(rule__name="Pricing 3x in 7 days (small)").values == {
        "segment Small": True,
        "pricing-page-view in 7 days": 3,
    }
    assert hits("Silent for a week") == [("cold", None)]


def test_switching_a_rule_off_clears_its_hits():
    account = AccountFactory(stage=stage("starter"))
    score(account)
    rule_hits_evaluate(account_ids=[account.pk], now=NOW)
    SignalRule.objects.filter(name="Expansion opportunity").update(is_active=False)
    assert rule_hits_evaluate(account_ids=[account.pk], now=NOW).cleared == 1


def test_queries_do_not_grow_with_accounts():
    SignalTypeFactory(key="pricing-page-view")
    SignalRule.objects.create(
        name="Any pricing", conditions={"conditions": [{"signal": {"type": "pricing-page-view"}, "window_days": 7}]}
    )
    few = [AccountFactory() for _ in range(3)]
    many = [AccountFactory() for _ in range(30)]
    for account in few + many:
        score(account)
    with CaptureQueriesContext(connection) as small:
        rule_hits_evaluate(account_ids=[a.pk for a in few], now=NOW)
    with CaptureQueriesContext(connection) as big:
        rule_hits_evaluate(account_ids=[a.pk for a in many], now=NOW)
    assert len(big.captured_queries) == len(small.captured_queries)


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"conditions": [{"field": "shoe_size", "op": "gt", "value": 1}]}, "condition 1: unknown field 'shoe_size'"),
        ({"conditions": [{"field": "engagement", "op": "gt", "value": "high"}]}, "'gt' needs a number"),
        ({"conditions": [{"signal": {"type": "x"}, "window_days": 0}]}, "'window_days' must be a whole number"),
        ({"conditions": [{"signal": {"type": "x"}, "window_days": 7, "op": "often"}]}, "unknown op 'often'"),
        ({"conditions": []}, "'conditions' must be a non-empty list"),
        ({"conditions": [{"colour": "red"}]}, "expected 'field', 'segment', 'signal'"),
    ],
)
def test_bad_conditions_say_what_and_where(conditions, message):
    with pytest.raises(ConditionError, match=message):
        compile_conditions(conditions)
    with pytest.raises(ValidationError):
        SignalRule(name="x", conditions=conditions).full_clean()


def test_rescoring_evaluates_the_rules():
    from scoring.services import accounts_rescore

    account = AccountFactory(external_id="r1")
    SignalRule.objects.create(name="Scored", conditions={"conditions": [{"field": "lead", "op": "gte", "value": 0}]})
    accounts_rescore(account_ids=[account.pk])
    assert hits("Scored") == [("r1", None)]


def test_the_chunk_wide_evaluation_agrees_with_the_one_account_evaluation():
    """The vectorised masks and the per-account walk (which records the values) must never disagree."""
    import random

    from scoring.conditions import SignalCount, columns_by_account, columns_mask, conditions_evaluate

    rng = random.Random(7)
    pick = [None, "", 0, 1, 2.5, 180, 400, True, False, "medium", "small", float("nan"), "2025-12-01",
            datetime(2025, 6, 1, tzinfo=UTC), "Medium-sized", "not a date"]  # fmt: skip
    count_key = SignalCount("pricing-page-view", None, None, 7)
    leaves = [
        {"field": "tenure_days", "op": op, "value": 180} for op in ("gt", "gte", "lt", "lte")
    ] + [
        {"field": "size_band", "op": "eq", "value": "medium"},
        {"field": "size_band", "op": "ne", "value": "medium"},
        {"field": "size_band", "op": "in", "value": ["medium", "small"]},
        {"field": "size_band", "op": "not_in", "value": ["small"]},
        {"field": "adoption", "op": "missing"},
        {"field": "adoption", "op": "present"},
        {"segment": "Trials"},
        {"segment": "Trials", "op": "not_in"},
        {"signal": {"type": "pricing-page-view"}, "window_days": 7, "op": "at_least", "count": 2},
        {"signal": {"type": "pricing-page-view"}, "window_days": 7, "op": "none"},
        {"field": "size_band", "op": "contains", "value": "MEDIUM"},
        {"field": "adoption", "op": "within_days", "value": 30},
        {"field": "adoption", "op": "older_than_days", "value": 30},
        {"field": "adoption", "op": "gte", "value": "2025-11-30"},
        {"field": "tenure_days", "op": "lt", "value": "200"},
        {"match": "any", "conditions": []},
    ]  # fmt: skip
    ids = list(range(1, 41))
    fields = {a: {"tenure_days": rng.choice(pick), "size_band": rng.choice(pick), "adoption": rng.choice(pick)}
              for a in ids}  # fmt: skip
    segments = {a: {"Trials"} for a in ids if rng.random() < 0.5}
    counts = {count_key: {a: rng.randint(0, 3) for a in ids}}
    columns = columns_by_account(ids, fields, segments, counts)
    for _ in range(200):
        conditions = {"match": rng.choice(["all", "any"]), "conditions": rng.sample(leaves, rng.randint(1, 4))}
        mask = columns_mask(conditions, columns, len(ids), now=NOW)
        for position, a in enumerate(ids):
            expected, _ = conditions_evaluate(conditions, fields=fields[a], segments=segments.get(a, set()),
                                              counts={count_key: counts[count_key][a]}, now=NOW)  # fmt: skip
            assert bool(mask[position]) == expected, (conditions, fields[a])
