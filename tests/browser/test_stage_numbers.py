"""The numbers a CS person reads, in a real browser, on a world made here (not the demo): each list and page shows
the numbers that fit the account's stage, the score history ends at the live score, and long text wraps."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import log_in, shipped_rule

pytestmark = pytest.mark.services


@pytest.fixture
def stage_world(migrated_db):
    """Alice's accounts at three stages (trial, paying, churned), each active enough to pass the qualification
    threshold, scored by the real rescore with six weeks of score history; the probabilities a model would give are
    written as a rescore stores them (training one is not this test's subject)."""
    from accounts.models import JourneyStage
    from scoring.models import AccountPrediction, AccountScore, RuleHit, ScoringSettings
    from scoring.services import accounts_rescore, score_history_backfill
    from tests.factories import AccountFactory, SignalFactory, SignalTypeFactory, UserFactory

    alice = UserFactory(username="cs.alice", first_name="Alice", last_name="Martin")
    alice.set_password("klearly-demo")
    alice.save()
    # The scorecard without saving through the model (a save queues a full rescore): the customer's own event type
    # counts through the default weight, strongly enough that every account here passes the threshold on activity.
    card = {"key_fields": [], "default_points": 25, "default_half_life_days": 3650, "default_cap": None}
    assert ScoringSettings.objects.filter(pk=1).update(**card) == 1  # the default scorecard a data migration made
    trial, starter, churned = (
        JourneyStage.objects.update_or_create(key=key, defaults={"name": name, "kind": kind, "rank": rank})[0]
        for key, name, kind, rank in (("trial", "Trial", "free", 0), ("starter", "Starter", "paying", 1),
                                      ("churned", "Churned", "churn", 0))
    )  # fmt: skip
    kind = SignalTypeFactory(key="feature-used", label="Feature used")
    now = timezone.now()
    accounts = {}
    for name, stage in (("Trial Co", trial), ("Paying Co", starter), ("Gone Co", churned)):
        account = AccountFactory(name=name, owner=alice, stage=stage, created_at=now - timedelta(days=120))
        for days in (40, 30, 20, 10, 2):
            SignalFactory(account=account, type=kind, occurred_at=now - timedelta(days=days))
        accounts[name] = account
    ids = [a.pk for a in accounts.values()]
    score_history_backfill(moments=[now - timedelta(days=d) for d in (35, 25, 15, 5)])
    accounts_rescore(account_ids=ids, now=now)
    assert all(AccountScore.objects.get(account=a).lead >= 65 for a in accounts.values())
    ok, na = "ok", "not_applicable"
    for name, (conversion, expansion, churn, health) in {
        "Trial Co": ((0.42, ok), (None, na), (None, na), "normal"),
        "Paying Co": ((None, na), (0.18, ok), (0.35, ok), "bad"),
        "Gone Co": ((None, na), (None, na), (None, na), "bad"),
    }.items():
        values = {}
        outcomes = (("conversion", conversion), ("expansion", expansion), ("churn", churn))
        for outcome, (value, status) in outcomes:
            values[outcome], values[f"{outcome}_status"] = value, status
        AccountPrediction.objects.update_or_create(
            account=accounts[name],
            defaults={**values, "health": health, "health_since": now, "computed_at": now, "reasons": {},
                      "health_reasons": []},
        )  # fmt: skip
    # The rule the at-risk list reads, holding for the churned account as it did on the demo.
    rule = shipped_rule("Potential problem account")
    RuleHit.objects.create(rule=rule, account=accounts["Gone Co"], set_at=now, evaluated_at=now)
    return {"accounts": accounts}


def marker_titles(chart) -> list[str]:
    """The chart's point markers as their tooltips say them ("Engagement 2026-12-06: 58"), in time order."""
    return chart.locator("circle title").evaluate_all("titles => titles.map(t => t.textContent)")


def list_names(page) -> list[str]:
    return page.locator("#account-list tbody tr td:first-child a").all_inner_texts()


def row_of(page, name: str):
    return page.locator("#account-list tbody tr", has=page.locator(f"a:text-is('{name}')"))


def test_the_history_charts_engagement_ends_at_the_live_score(page, stage_world):
    from scoring.models import AccountScore

    log_in(page)
    for account in stage_world["accounts"].values():
        live = AccountScore.objects.get(account=account).engagement
        page.goto(f"/accounts/{account.pk}/")
        tile = page.locator("#scores section[aria-label='Engagement'] .big")
        expect(tile).to_contain_text(f"{live:.0f}")
        chart = page.locator("section[aria-label='Score history'] svg.chart")
        points = marker_titles(chart)
        engagement = [t for t in points if t.startswith("Engagement ")]
        assert engagement, points
        last = engagement[-1]  # "Engagement 2026-12-06: 125" (markers in time order)
        assert last.startswith(f"Engagement {timezone.localdate():%Y-%m-%d}: ")
        assert float(last.rsplit(": ", 1)[1]) == pytest.approx(min(live, 100), abs=0.051)


def test_a_churned_accounts_page_has_no_conversion_or_expansion_probability(page, stage_world):
    gone = stage_world["accounts"]["Gone Co"]
    log_in(page)
    page.goto(f"/accounts/{gone.pk}/")
    expect(page.locator("h1")).to_have_text("Gone Co")
    # The tiles stay in place (the page's layout does not jump) but hold no number: "—", and why.
    for outcome in ("Conversion", "Expansion", "Churn"):
        tile = page.locator(f"section[aria-label='{outcome} probability']")
        expect(tile).to_have_attribute("data-applies", "false")
        expect(tile).to_contain_text("Not applicable at this stage")
        expect(tile.locator(".big")).to_have_text("—")


def test_lists_and_badges_show_what_fits_each_stage(page, stage_world):
    log_in(page)
    # The call list: only accounts that have not paid yet, ranked by one labelled unit (conversion probability).
    page.goto("/lists/call/")
    assert list_names(page) == ["Trial Co"]
    expect(page.locator("#account-list thead")).to_contain_text("Chance to convert")
    expect(row_of(page, "Trial Co")).to_contain_text("42%")
    # At risk: live paying customers likely to churn, with their churn probability (never a churned account).
    page.goto("/lists/at-risk/")
    assert list_names(page) == ["Paying Co"]
    expect(row_of(page, "Paying Co")).to_contain_text("35%")
    # A churned account has nothing to buy: no "Qualified" badge.
    page.goto(f"/accounts/{stage_world['accounts']['Gone Co'].pk}/")
    expect(page.locator(".badges")).not_to_contain_text("Qualified")


def test_the_history_before_today_has_the_engagement_of_its_time(page, stage_world):
    log_in(page)
    page.goto(f"/accounts/{stage_world['accounts']['Trial Co'].pk}/")
    points = marker_titles(page.locator("section[aria-label='Score history'] svg.chart"))
    past = [float(t.rsplit(": ", 1)[1]) for t in points if t.startswith("Engagement ")][:-1]
    assert len(past) == 4 and all(value > 0 for value in past), past  # signals were there at every moment


def test_a_5000_character_comment_wraps_on_the_task_page(page, stage_world):
    from playbooks.models import TaskComment
    from tests.factories import UserFactory
    from tests.playbooks.factories import TaskFactory

    alice = UserFactory._meta.model.objects.get(username="cs.alice")
    account = stage_world["accounts"]["Trial Co"]
    account.name = "N" * 250  # a name without a space, too
    account.save(update_fields=["name"])
    task = TaskFactory(account=account, assignee=alice, title="T" * 290, body="B" * 3000)
    TaskComment.objects.create(task=task, author=alice, body="x" * 5000)
    log_in(page)
    for path in (f"/tasks/{task.pk}/", "/", f"/accounts/{account.pk}/", "/accounts/"):
        page.goto(path)
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{path}: the page is {width[0]} px wide in a {width[1]} px window"
    page.goto(f"/tasks/{task.pk}/")
    expect(page.locator(".comments")).to_contain_text("x" * 100)


def test_an_unknown_address_shows_the_products_page(page, stage_world, settings):
    settings.DEBUG = True  # as the demo runs
    log_in(page)
    response = page.goto("/no/such/page/")
    assert response.status == 404
    expect(page.locator(".topbar .brand")).to_have_text("Klearly")
    expect(page.locator("main")).to_contain_text("Page not found")
    assert not re.search(r"URLconf|Using the URLconf", page.content())
