"""Previewing a scorecard change in the admin: its effect on today's accounts, and nothing saved."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scoring.models import AccountScore, ConfigVersion, EngagementRule, ScoringSettings, SignalRule
from scoring.services import accounts_rescore
from tests.factories import AccountFactory, SignalFactory, SignalTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(card):
    demo = SignalTypeFactory(key="demo-request", label="Demo request")
    rule = EngagementRule.objects.create(signal_type=demo, points=10, half_life_days=30, cap=100)
    now = timezone.now()
    for i in range(3):
        account = AccountFactory(external_id=f"p-{i}")
        for d in range(i * 3):
            SignalFactory(account=account, type=demo, occurred_at=now - timedelta(days=d))
    from accounts.models import Account

    accounts_rescore(account_ids=list(Account.objects.values_list("pk", flat=True)))
    return rule


def form_data(rule, **changes):
    data = {"signal_type": rule.signal_type_id, "points": rule.points, "half_life_days": rule.half_life_days or "",
            "window_days": rule.window_days or "", "cap": rule.cap, "is_active": "on"}  # fmt: skip
    data.update(changes)
    return data


def test_preview_shows_the_effect_and_saves_nothing(admin_client, rule):
    version = ConfigVersion.objects.get().version
    before = list(AccountScore.objects.order_by("account_id").values_list("lead", "qualified"))
    url = f"/admin/scoring/engagementrule/{rule.pk}/change/"
    page = admin_client.post(url, {**form_data(rule, points=40), "_preview": "1"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Nothing was saved." in html
    assert "would become qualified" in html
    preview = page.context["preview"]
    assert preview.newly_qualified >= 1 and preview.accounts == 3
    rule.refresh_from_db()
    assert rule.points == 10
    assert list(AccountScore.objects.order_by("account_id").values_list("lead", "qualified")) == before
    assert ConfigVersion.objects.get().version == version


def test_an_invalid_change_shows_the_form_errors(admin_client, rule):
    url = f"/admin/scoring/engagementrule/{rule.pk}/change/"
    page = admin_client.post(url, {**form_data(rule, points="lots"), "_preview": "1"})
    assert page.status_code == 200
    assert "Enter a number" in page.content.decode()


def test_signal_rule_preview_counts_hits_that_would_start(admin_client, rule):
    target = SignalRule.objects.get(name="Expansion opportunity")
    shipped = target.conditions
    page = admin_client.post(
        f"/admin/scoring/signalrule/{target.pk}/change/",
        {"name": target.name, "description": "", "is_active": "on", "_preview": "1",
         "conditions": '{"conditions": [{"field": "engagement", "op": "gte", "value": 1}]}'},
    )  # fmt: skip
    assert page.status_code == 200
    assert page.context["preview"].hits_started["Expansion opportunity"] == 2
    target.refresh_from_db()
    assert target.conditions == shipped  # nothing saved
    assert ScoringSettings.objects.count() == 1


def test_a_saved_change_rescores_every_account(admin_client, rule, django_capture_on_commit_callbacks):
    url = f"/admin/scoring/engagementrule/{rule.pk}/change/"
    before = dict(AccountScore.objects.values_list("account_id", "engagement"))
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, {**form_data(rule, points=40), "_save": "1"}).status_code == 302
    after = dict(AccountScore.objects.values_list("account_id", "engagement"))
    assert all(after[a] >= before[a] for a in before) and after != before
    assert set(AccountScore.objects.values_list("config_version", flat=True)) == {ConfigVersion.objects.get().version}


def test_a_preview_says_nothing_was_saved_and_never_that_it_was_changed(admin_client, rule):
    url = f"/admin/scoring/engagementrule/{rule.pk}/change/"
    page = admin_client.post(url, {**form_data(rule, points=40), "_preview": "1"})
    html = page.content.decode()
    assert "Nothing was saved." in html
    assert "changed successfully" not in html
    assert not [str(m) for m in page.context["messages"]]
    later = admin_client.get("/admin/scoring/engagementrule/")  # nor on the next page
    assert "changed successfully" not in later.content.decode()
