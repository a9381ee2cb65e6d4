"""The scoring admin: tuning with history, read-only scores with their explanations, fast lists."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scoring.models import ConfigVersion, EngagementRule, ScoringSettings
from scoring.services import accounts_rescore
from tests.factories import AccountFactory, SignalTypeFactory

from .factories import NOW, EngagementRuleFactory, signal

pytestmark = pytest.mark.django_db


def test_a_rule_changed_in_the_admin_is_kept_with_who_and_when_and_bumps_the_version(admin_client, admin_user):
    kind = SignalTypeFactory(key="demo-request", label="Demo request")
    version = ConfigVersion.objects.get().version
    response = admin_client.post(
        "/admin/scoring/engagementrule/add/",
        {
            "signal_type": kind.pk,
            "points": "15",
            "half_life_days": "30",
            "window_days": "",
            "cap": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content
    rule = EngagementRule.objects.get()
    response = admin_client.post(
        f"/admin/scoring/engagementrule/{rule.pk}/change/",
        {
            "signal_type": kind.pk,
            "points": "20",
            "half_life_days": "",
            "window_days": "14",
            "cap": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content
    history = list(rule.history.order_by("history_date"))
    assert [(h.points, h.history_type, h.history_user) for h in history] == [
        (15, "+", admin_user),
        (20, "~", admin_user),
    ]
    assert ConfigVersion.objects.get().version == version + 2
    assert admin_client.get(f"/admin/scoring/engagementrule/{rule.pk}/history/").status_code == 200


def test_a_rule_with_both_a_half_life_and_a_window_is_refused(admin_client):
    kind = SignalTypeFactory()
    response = admin_client.post(
        "/admin/scoring/engagementrule/add/",
        {
            "signal_type": kind.pk,
            "points": "5",
            "half_life_days": "30",
            "window_days": "7",
            "cap": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 200 and b"either a half-life or a window" in response.content


def test_settings_are_one_row_that_can_be_changed_not_added_or_deleted(admin_client):
    settings = ScoringSettings.load()
    assert admin_client.get("/admin/scoring/scoringsettings/add/").status_code == 403
    assert admin_client.get(f"/admin/scoring/scoringsettings/{settings.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/scoring/scoringsettings/{settings.pk}/delete/").status_code == 403


def test_account_scores_list_fast_and_explain_themselves(admin_client, card):
    kind = EngagementRuleFactory(points=10, signal_type__label="Demo request").signal_type

    def make(n):
        accounts = [AccountFactory() for _ in range(n)]
        for account in accounts:
            signal(account, kind, 1)
        accounts_rescore(account_ids=[a.pk for a in accounts], now=NOW)
        return accounts

    accounts = make(2)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get("/admin/scoring/accountscore/?grade__exact=D").status_code == 200
    make(20)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get("/admin/scoring/accountscore/?grade__exact=D").status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
    page = admin_client.get(f"/admin/scoring/accountscore/{accounts[0].pk}/change/")
    assert page.status_code == 200
    assert b"Demo request \xc3\x97 1" in page.content and b"<table>" in page.content
    assert admin_client.get("/admin/scoring/scorehistory/").status_code == 200


@pytest.mark.parametrize(
    "model", ["engagementrule", "topicimportance", "fitrule", "freeemaildomain", "segmentboost", "configversion"]
)
def test_scorecard_pages_render(admin_client, model):
    assert admin_client.get(f"/admin/scoring/{model}/").status_code == 200
    if model != "configversion":
        assert admin_client.get(f"/admin/scoring/{model}/add/").status_code == 200


def test_default_fit_rules_and_free_email_domains_come_with_the_database():
    from scoring.models import FitRule, FreeEmailDomain

    assert FitRule.objects.filter(field="contact.title", operator="contains", value="VP").exists()
    assert FreeEmailDomain.objects.filter(domain="gmail.com").exists()
    for rule in FitRule.objects.all():
        rule.full_clean()
