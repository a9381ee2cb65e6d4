"""The admin's GDPR tools: "Forget" and "Export" on contacts (with a confirmation page listing what goes), the page
that finds a person by email or anonymous id, the read-only erasure log, and who sees them."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission

from accounts.models import Contact
from signals_app.models import ErasureRecord, Signal
from tests.factories import AccountFactory, ContactFactory, SignalFactory, UserFactory

pytestmark = pytest.mark.django_db

EMAIL = "grace@navy.test"
CHANGELIST = "/admin/accounts/contact/"
PERSON = "/admin/signals_app/erasurerecord/person/"


@pytest.fixture
def grace(db):
    account = AccountFactory(external_id="navy")
    grace = ContactFactory(external_id="grace", account=account, email=EMAIL, first_name="Grace", last_name="Hopper")
    for n in range(2):
        SignalFactory(account=account, contact=grace, properties={"email": EMAIL, "n": n})
    SignalFactory(account=None, contact=None, anonymous_id="anon-g", properties={"email": EMAIL})
    return grace


def test_forget_action_asks_first_then_forgets(admin_client, grace):
    ask = admin_client.post(CHANGELIST, {"action": "forget_people", "_selected_action": [grace.pk]})
    assert ask.status_code == 200
    page = ask.content.decode()
    assert "Grace Hopper" in page and "anon-g" in page and "signals deleted" in page and "Yes, forget" in page
    assert Contact.objects.filter(pk=grace.pk).exists()  # nothing happened yet

    done = admin_client.post(CHANGELIST, {"action": "forget_people", "_selected_action": [grace.pk],
                                          "keep_anonymous_signals": "", "reason": "ticket 9", "confirm": "1"})  # fmt: skip
    assert done.status_code == 302
    assert not Contact.objects.filter(pk=grace.pk).exists() and not Signal.objects.exists()
    record = ErasureRecord.objects.get()
    assert record.via == "admin" and record.operator_label == "boss" and record.counts["signals_deleted"] == 3
    assert not LogEntry.objects.filter(object_repr__icontains="hopper").exists()
    listing = admin_client.get("/admin/signals_app/erasurerecord/").content.decode()
    assert str(record.erasure_id) in listing and "3 signals deleted" in listing


def test_export_action_downloads_the_json(admin_client, grace):
    response = admin_client.post(CHANGELIST, {"action": "export_people", "_selected_action": [grace.pk]})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["contacts"][0]["external_id"] == "grace" and len(data["signals"]) == 3


def test_the_person_page_finds_someone_by_anonymous_id_and_forgets_after_confirming(admin_client, grace):
    assert admin_client.get(PERSON).status_code == 200
    ask = admin_client.post(PERSON, {"anonymous_id": "anon-g", "forget": "1"})
    assert ask.status_code == 200 and "Yes, forget this person" in ask.content.decode()
    done = admin_client.post(PERSON, {"anonymous_id": "anon-g", "forget": "1", "confirm": "1"})
    assert done.status_code == 302
    assert Signal.objects.count() == 2 and Contact.objects.filter(pk=grace.pk).exists()
    export = admin_client.post(PERSON, {"email": EMAIL, "export": "1"})
    assert len(json.loads(export.content)["signals"]) == 2


def test_the_person_page_says_what_is_wrong_with_a_lookup(admin_client, grace):
    response = admin_client.post(PERSON, {"email": "not an address", "forget": "1"})
    assert response.status_code == 200 and "is not an email address" in response.content.decode()
    assert not ErasureRecord.objects.exists()


def test_staff_without_the_permissions_get_neither_the_actions_nor_the_page(client, grace):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_contact", "change_contact",
                                                                       "view_erasurerecord"]))  # fmt: skip
    client.force_login(user)
    listing = client.get(CHANGELIST).content.decode()
    assert "forget_people" not in listing and "export_people" not in listing
    client.post(CHANGELIST, {"action": "forget_people", "_selected_action": [grace.pk], "confirm": "1"})
    assert Contact.objects.filter(pk=grace.pk).exists()
    assert client.get(PERSON).status_code == 403
    assert "Forget or export a person" not in client.get("/admin/signals_app/erasurerecord/").content.decode()
    user.user_permissions.add(Permission.objects.get(codename="export_person"))
    client.force_login(type(user).objects.get(pk=user.pk))
    assert client.post(PERSON, {"email": EMAIL, "forget": "1", "confirm": "1"}).status_code == 403
    assert Contact.objects.filter(pk=grace.pk).exists()
