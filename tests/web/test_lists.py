"""Account lists: call list, surging, at risk, all accounts with filters (signals of a type in a window, strength),
and saved views."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from playbooks.models import SavedView
from scoring.models import RuleHit, SignalRule
from tests.factories import AccountFactory, SignalFactory, SignalTypeFactory, stage
from tests.web.conftest import score

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    return re.findall(r'<td><a href="/accounts/\d+/">([^<]+)</a>', response.content.decode())


@pytest.fixture
def accounts(world):
    """Five accounts owned in the CS team (visible to alice) and one of the Sales team."""
    made = {}
    for name, values in {
        "Hot qualified": {"lead": 91, "qualified": True, "grade": "A", "signal_strength": 12},
        "Warm qualified": {"lead": 70, "qualified": True, "grade": "B", "signal_strength": 40, "surging": True},
        "Surging only": {"lead": 30, "grade": "D", "signal_strength": 25, "surging": True},
        "Quiet": {"lead": 10, "grade": "D"},
        "Risky": {"lead": 50, "grade": "C"},
    }.items():
        made[name] = AccountFactory(name=name, owner=world["bob"])
        score(made[name], **values)
    made["Risky"].stage = stage("starter")  # at risk: a paying customer (accounts.stages)
    made["Risky"].save()
    made["Sales qualified"] = AccountFactory(name="Sales qualified", owner=world["carol"])
    score(made["Sales qualified"], lead=99, qualified=True, grade="A")
    rule = SignalRule.objects.get(name="Potential problem account")
    RuleHit.objects.create(rule=rule, account=made["Risky"], set_at=timezone.now(), evaluated_at=timezone.now())
    return made


def test_call_list_is_qualified_accounts_most_likely_first_within_the_team(alice_client, accounts):
    # Acme (from the world, lead 85, qualified, owned by alice) sits between the two.
    assert names(alice_client.get(reverse("web:call"))) == ["Hot qualified", "Acme", "Warm qualified"]


def test_admins_see_every_account(client, world, accounts):
    client.force_login(world["boss"])
    assert names(client.get(reverse("web:call")))[0] == "Sales qualified"


def test_surging_and_at_risk(alice_client, accounts):
    assert names(alice_client.get(reverse("web:surging"))) == ["Warm qualified", "Surging only"]
    assert names(alice_client.get(reverse("web:at_risk"))) == ["Risky"]


def test_filters_of_the_account_list(alice_client, accounts):
    url = reverse("web:accounts")
    assert names(alice_client.get(url, {"grade": "D", "ordering": "name"})) == ["Quiet", "Surging only"]
    assert names(alice_client.get(url, {"strength_min": "20", "ordering": "-signal_strength"})) == [
        "Warm qualified", "Surging only",
    ]  # fmt: skip
    assert names(alice_client.get(url, {"q": "risk"})) == ["Risky"]


def test_signals_of_a_type_in_a_window(alice_client, accounts):
    pricing = SignalTypeFactory(key="pricing-page-view")
    now = timezone.now()
    for days in (1, 2, 3):
        SignalFactory(account=accounts["Quiet"], type=pricing, occurred_at=now - timedelta(days=days))
    SignalFactory(account=accounts["Risky"], type=pricing, occurred_at=now - timedelta(days=2))
    SignalFactory(account=accounts["Hot qualified"], type=pricing, occurred_at=now - timedelta(days=20))
    url = reverse("web:accounts")
    week = {"signal_type": "pricing-page-view", "signal_days": "7", "ordering": "name"}
    assert names(alice_client.get(url, week)) == ["Quiet", "Risky"]
    assert names(alice_client.get(url, {**week, "signal_min": "3"})) == ["Quiet"]
    assert names(alice_client.get(url, {**week, "signal_days": "30"})) == ["Hot qualified", "Quiet", "Risky"]
    assert names(alice_client.get(url, {"signal_type": "no-such-type"})) == []


def test_bad_list_filters_are_named_not_a_500(alice_client, accounts):
    response = alice_client.get(
        reverse("web:accounts"), {"strength_min": "lots", "signal_days": "-4", "segment": "x", "ordering": "evil"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("(left out)") == 4 and "Strength from" in body and "Within days" in body


def test_empty_lists_say_what_to_do(client, world):
    client.force_login(world["carol"])
    body = client.get(reverse("web:surging")).content.decode()
    assert "No account is surging right now" in body


def test_saved_views(alice_client, world, accounts):
    query = "signal_type=pricing-page-view&signal_days=7&signal_min=3"
    response = alice_client.post(
        reverse("web:saved_view_create"), {"name": "  Pricing 3x  this week ", "kind": "accounts", "q": query}
    )
    assert response.status_code == 302 and response["Location"] == f"/accounts/?{query}"
    saved = SavedView.objects.get(owner=world["alice"])
    assert saved.name == "Pricing 3x this week" and saved.query == query
    page = alice_client.get(reverse("web:call")).content.decode()
    assert f'href="/accounts/?{query.replace("&", "&amp;")}"' in page and "Pricing 3x this week" in page
    # Saving the same name again replaces the filters; an empty name is refused with a message.
    alice_client.post(
        reverse("web:saved_view_create"), {"name": "Pricing 3x this week", "kind": "accounts", "q": "grade=A"}
    )
    assert SavedView.objects.get(owner=world["alice"]).query == "grade=A"
    refused = alice_client.post(reverse("web:saved_view_create"), {"name": " ", "kind": "inbox", "q": ""}, follow=True)
    assert (
        "Name: This field is required." in refused.content.decode()
        or "Name: Give the view a name." in refused.content.decode()
    )
    # Inbox views show in the inbox's side bar; nobody else can delete them.
    alice_client.post(reverse("web:saved_view_create"), {"name": "Overdue", "kind": "inbox", "q": "due=overdue"})
    assert "Overdue" in alice_client.get("/").content.decode()
    inbox_view = SavedView.objects.get(name="Overdue")
    alice_client.force_login(world["bob"])
    assert alice_client.post(reverse("web:saved_view_delete", args=[inbox_view.pk])).status_code == 404
    alice_client.force_login(world["alice"])
    assert alice_client.post(reverse("web:saved_view_delete", args=[inbox_view.pk])).status_code == 302
    assert not SavedView.objects.filter(name="Overdue").exists()
