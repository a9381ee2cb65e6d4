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
