"""Backtesting the qualification threshold against later conversions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import stage_history_rebuild
from scoring.backtest import threshold_backtest
from tests.factories import AccountFactory, SignalFactory, SignalTypeFactory, transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    from scoring.models import EngagementRule

    demo = SignalTypeFactory(key="demo-request", label="Demo request")
    EngagementRule.objects.create(signal_type=demo, points=25, half_life_days=30, cap=100)
    now = timezone.now()
    start = now - timedelta(days=100)
    buyers, browsers = [], []
    for i in range(4):
        buyer = AccountFactory(external_id=f"buyer-{i}", created_at=start - timedelta(days=10))
        transition(buyer, "trial", start - timedelta(days=5))
        for d in range(4):  # busy right before the cut-off
            SignalFactory(account=buyer, type=demo, occurred_at=start - timedelta(days=d + 1))
        transition(buyer, "starter", start + timedelta(days=10))
        buyers.append(buyer)
    for i in range(6):
        browser = AccountFactory(external_id=f"browser-{i}", created_at=start - timedelta(days=10))
        transition(browser, "trial", start - timedelta(days=5))
        browsers.append(browser)
    transition(browsers[0], "starter", start + timedelta(days=12))  # a quiet account that converts: a miss
    stage_history_rebuild(account_ids=[a.pk for a in buyers + browsers])
    return start


def test_precision_recall_and_lift(world, card):
    result = threshold_backtest(start=world, end=world + timedelta(days=1), threshold=50, horizon_days=30)
    assert (result.cutoffs, result.examples, result.positives) == (1, 10, 5)
    assert (result.qualified, result.true_positives) == (4, 4)
    assert result.precision == 1.0
    assert result.recall == 0.8
    assert result.base_rate == 0.5
    assert result.lift == 2.0


def test_signals_after_the_cutoff_do_not_count(world, card):
    from signals_app.models import SignalType

    demo = SignalType.objects.get(key="demo-request")
    late = AccountFactory(external_id="late", created_at=world - timedelta(days=10))
    transition(late, "trial", world - timedelta(days=5))
    stage_history_rebuild(account_ids=[late.pk])
    for d in range(6):
        SignalFactory(account=late, type=demo, occurred_at=world + timedelta(days=d + 1))
    result = threshold_backtest(start=world, end=world + timedelta(days=1), threshold=50)
    assert result.qualified == 4  # "late" was busy only after the cut-off


def test_admin_page(admin_client, world, card):
    page = admin_client.get(
        "/admin/scoring/scoringsettings/backtest/",
        {"start": (world).strftime("%Y-%m-%d %H:%M"), "end": (world + timedelta(days=8)).strftime("%Y-%m-%d"),
         "threshold": "50", "step_days": "7", "horizon_days": "30"},
    )  # fmt: skip
    assert page.status_code == 200
    html = page.content.decode()
    assert "Lift over base rate" in html and "2.00×" in html
    bad = admin_client.get("/admin/scoring/scoringsettings/backtest/", {"start": "2026-01-02", "end": "2026-01-01",
                                                                         "step_days": "7", "horizon_days": "30"})  # fmt: skip
    assert "must be after the start" in bad.content.decode()


@pytest.fixture
def paying_world():
    """Ten paying accounts at the cut-off; four invited many users before it and expanded within 30 days after."""
    from accounts.models import Segment, SegmentMembership

    invite = SignalTypeFactory(key="invite-user", label="Invite user")
    now = timezone.now()
    start = now - timedelta(days=100)
    big = Segment.objects.create(name="Big")
    accounts = []
    for i in range(10):
        account = AccountFactory(external_id=f"p-{i}", created_at=start - timedelta(days=60))
        transition(account, "starter", start - timedelta(days=30))
        accounts.append(account)
    for account in accounts[:4]:
        for d in range(3):
            SignalFactory(account=account, type=invite, occurred_at=start - timedelta(days=d + 1))
        transition(account, "corporate", start + timedelta(days=10))
    transition(accounts[4], "corporate", start + timedelta(days=20))  # expands without the sign: a miss
    for d in range(3):  # busy only after the cut-off: not known then
        SignalFactory(account=accounts[5], type=invite, occurred_at=start + timedelta(days=d + 1))
    # In the segment at the cut-off: accounts 0-3 and 6 (6 left later); 7 entered only after it.
    for account in (*accounts[:4], accounts[6]):
        SegmentMembership.objects.create(
            segment=big, account=account, entered_at=start - timedelta(days=20),
            exited_at=start + timedelta(days=5) if account is accounts[6] else None,
        )  # fmt: skip
    SegmentMembership.objects.create(segment=big, account=accounts[7], entered_at=start + timedelta(days=1))
    stage_history_rebuild(account_ids=[a.pk for a in accounts])
    return start


def test_a_signal_rule_backtest_against_expansions(paying_world, card):
    from scoring.backtest import rule_backtest
    from scoring.models import SignalRule

    rule = SignalRule.objects.create(
        name="Inviting", is_active=False,
        conditions={"signal": {"type": "invite-user"}, "op": "at_least", "count": 3, "window_days": 14},
    )  # fmt: skip
    result = rule_backtest(rule=rule, movement="expansion", start=paying_world, end=paying_world + timedelta(days=1))
    assert (result.cutoffs, result.examples, result.positives) == (1, 10, 5)
    assert (result.qualified, result.true_positives) == (4, 4)  # account 5's invites came after the cut-off
    assert (result.precision, result.recall, result.base_rate, result.lift) == (1.0, 0.8, 0.5, 2.0)
    conversions = rule_backtest(rule=rule, movement="conversion", start=paying_world, end=paying_world + timedelta(1))
    assert conversions.examples == 0  # no free account at the cut-off


def test_a_rule_backtest_reads_segments_and_stages_as_they_were(paying_world, card):
    from scoring.backtest import rule_backtest
    from scoring.models import SignalRule

    rule = SignalRule.objects.create(
        name="Big starter",
        conditions={"match": "all", "conditions": [{"segment": "Big"}, {"field": "stage", "op": "eq", "value": "starter"}]},
    )  # fmt: skip
    result = rule_backtest(rule=rule, movement="expansion", start=paying_world, end=paying_world + timedelta(days=1))
    # 0-3 and 6 were in the segment then (6 has left since, 7 joined later); all were starters then (some are
    # corporate today)
    assert (result.qualified, result.true_positives) == (5, 4)


def test_the_admin_page_backtests_a_rule(admin_client, paying_world, card):
    from scoring.models import SignalRule

    rule = SignalRule.objects.create(
        name="Inviting", conditions={"signal": {"type": "invite-user"}, "op": "at_least", "count": 3, "window_days": 14}
    )
    page = admin_client.get(
        "/admin/scoring/scoringsettings/backtest/",
        {"rule-rule": rule.pk, "rule-movement": "expansion", "rule-start": paying_world.strftime("%Y-%m-%d %H:%M"),
         "rule-end": (paying_world + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"), "rule-step_days": "7",
         "rule-horizon_days": "30"},
    )  # fmt: skip
    html = page.content.decode()
    assert page.status_code == 200
    assert "Rule “Inviting” against expansion" in html and "2.00×" in html
    bad = admin_client.get("/admin/scoring/scoringsettings/backtest/", {"rule-movement": "nope"})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()
