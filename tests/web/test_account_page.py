"""The account page: badges, scores with explanations, the history chart, rule hits, timeline, tasks, contacts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Segment, SegmentMembership
from scoring.models import ContactScore, RuleHit, ScoreHistory, SignalRule
from tests.factories import AccountFactory, ContactFactory, SignalFactory, SignalTypeFactory
from tests.web.conftest import HTMX, score

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(world):
    account = world["mine"].account
    account.score.contributions = {
        "lead": [{"source": "score", "label": "Fit", "points": 50}, {"source": "score", "label": "Engagement", "points": 35}],
        "fit": [{"source": "fit_rule", "label": "Software company", "points": 30}, {"source": "penalty", "label": "Missing country", "points": -5}],
        "engagement": [{"source": "engagement_rule", "label": "Pricing page view × 3", "points": 21.5}],
        "signal_strength": [],
    }  # fmt: skip
    account.score.save()
    today = timezone.localdate()
    for days, lead in ((20, 40), (10, 58), (0, 85)):
        ScoreHistory.objects.create(
            account=account, date=today - timedelta(days=days), fit=50, engagement=lead - 50, lead=lead,
            signal_strength=3, grade="A", temperature="hot", qualified=lead >= 65, surging=False, config_version=1,
            computed_at=timezone.now(),
        )  # fmt: skip
    rule = SignalRule.objects.get(name="Potential problem account")  # shipped by a migration
    RuleHit.objects.create(rule=rule, account=account, set_at=timezone.now(), evaluated_at=timezone.now())
    SegmentMembership.objects.create(
        segment=Segment.objects.create(name="Trials"), account=account, entered_at=timezone.now()
    )
    ann = ContactFactory(account=account, first_name="Ann", last_name="Lee", title="CTO")
    ContactScore.objects.create(contact=ann, account=account, engagement=42.5, active=True, computed_at=timezone.now())
    pricing, login = (
        SignalTypeFactory(key="pricing-page-view", label="Pricing page view"),
        SignalTypeFactory(key="login", label="Login"),
    )
    for i in range(30):
        SignalFactory(account=account, type=pricing if i % 3 == 0 else login, direction="inbound" if i % 2 else "outbound",
                      occurred_at=timezone.now() - timedelta(hours=i), contact=ann)  # fmt: skip
    return account


def test_account_page_shows_every_part(alice_client, acme):
    response = alice_client.get(reverse("web:account", args=[acme.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    for part in ("Grade A", "Qualified", "Trials", "Owner: Alice Martin", "Potential problem account"):
        assert part in body, part
    # Each score with its explanation.
    assert "Software company" in body and "+30" in body and "Missing country" in body and "−5" in body
    assert "Pricing page view × 3" in body and "+21.5" in body
    # The history chart: an inline SVG with the lead line and the threshold.
    assert '<svg class="chart"' in body and "<polyline" in body and 'class="threshold"' in body
    assert "Lead " + (timezone.localdate()).strftime("%Y-%m-%d") + ": 85" in body
    # Tasks, contacts with engagement, and the timeline.
    assert "Call Acme" in body and "Ann Lee" in body and "42.5" in body
    assert body.count("<time datetime=") == 25  # the first page of the timeline
    assert "Older →" in body


def test_timeline_filters_through_the_signal_filterset_and_pages(alice_client, acme):
    url = reverse("web:account", args=[acme.pk])
    only = alice_client.get(url, {"type": "pricing-page-view"}).content.decode()
    assert only.count("<time datetime=") == 10 and "<strong>Login</strong>" not in only
    inbound = alice_client.get(url, {"direction": "inbound", "type": "login"}).content.decode()
    assert inbound.count("<time datetime=") == 10
    second = alice_client.get(url, {"page": 2}).content.decode()
    assert second.count("<time datetime=") == 5 and "← Newer" in second
    bad = alice_client.get(url, {"direction": "sideways", "source": "x" * 500})
    assert bad.status_code == 200 and "(left out)" in bad.content.decode()


def test_timeline_fragment_for_htmx(alice_client, acme):
    response = alice_client.get(reverse("web:account", args=[acme.pk]), {"page": 2}, HTTP_HX_TARGET="timeline", **HTMX)
    assert response.status_code == 200 and b"<html" not in response.content and b"<time" in response.content


def test_operators_only_open_accounts_of_their_team(client, world):
    outsider = AccountFactory(name="Outsider")
    score(outsider)
    client.force_login(world["alice"])
    assert client.get(reverse("web:account", args=[outsider.pk])).status_code == 404
    assert client.get(reverse("web:account", args=[world["sales_task"].account.pk])).status_code == 404
    assert client.get(reverse("web:account", args=[world["bobs"].account.pk])).status_code == 200  # a team task
    client.force_login(world["boss"])
    assert client.get(reverse("web:account", args=[outsider.pk])).status_code == 200


def test_unscored_account_says_so(alice_client, world):
    body = alice_client.get(reverse("web:account", args=[world["bobs"].account.pk])).content.decode()
    assert "Not scored yet" in body and "No signal" in body


def test_history_with_a_row_at_every_change_is_charted_one_point_per_day(alice_client, acme):
    today = timezone.localdate()
    ScoreHistory.objects.filter(account=acme).delete()
    start = timezone.now() - timedelta(days=1)
    for i, lead in enumerate((10, 20, 30)):  # three rescores yesterday, the last one counts
        ScoreHistory.objects.create(
            account=acme, date=today - timedelta(days=1), fit=1, engagement=1, lead=lead, signal_strength=0, grade="D",
            temperature="cold", qualified=False, surging=False, config_version=1, computed_at=start + timedelta(minutes=i),
        )  # fmt: skip
    body = alice_client.get(reverse("web:account", args=[acme.pk])).content.decode()
    assert f"Lead {(today - timedelta(days=1)).isoformat()}: 30" in body
    assert ": 10<" not in body and ": 20<" not in body
