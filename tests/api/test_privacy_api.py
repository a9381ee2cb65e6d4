"""Forgetting and exporting a person over the API: who may (admin keys, staff with the permission), what it answers,
and that it is in the schema."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Contact
from klearly.models import ApiKey
from signals_app.models import ErasureRecord, Signal
from tests.api.conftest import bearer, grant
from tests.api.factories import api_key, write_key
from tests.factories import AccountFactory, ContactFactory, SignalFactory, UserFactory

pytestmark = pytest.mark.django_db

EMAIL = "ada@acme.test"


@pytest.fixture
def ada(db):
    acme = AccountFactory(external_id="acme")
    ada = ContactFactory(external_id="ada", account=acme, email=EMAIL)
    SignalFactory(account=acme, contact=ada, properties={"email": EMAIL, "ip": "198.51.100.4"})
    SignalFactory(account=acme, contact=None, anonymous_id="anon-9", properties={"email": EMAIL})
    SignalFactory(account=acme, contact=None, anonymous_id="anon-9", properties={"path": "/pricing"})
    return ada


FORGET_BY_EMAIL = ("post", "/api/v1/privacy/forget/", {"email": EMAIL})
FORGET_CONTACT = ("post", "/api/v1/contacts/ada/forget/", {})
EXPORT_BY_EMAIL = ("post", "/api/v1/privacy/export/", {"email": EMAIL})
EXPORT_CONTACT = ("get", "/api/v1/contacts/ada/export/", None)
CALLS = [FORGET_BY_EMAIL, FORGET_CONTACT, EXPORT_BY_EMAIL, EXPORT_CONTACT]


def call(client: APIClient, how: tuple):
    method, url, body = how
    return getattr(client, method)(url, body, format="json")


def staff(*perms: str) -> APIClient:
    user = UserFactory(is_staff=True)
    grant(user, *perms)
    client = APIClient()
    client.force_login(user)
    return client


def test_an_admin_key_forgets_a_person_by_email(ada):
    response = call(bearer(api_key(ApiKey.Scope.ADMIN)[1]), FORGET_BY_EMAIL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["found"] is True and body["via"] == "api"
    assert body["counts"]["contacts_deleted"] == 1 and body["counts"]["signals_deleted"] == 3
    assert body["operator_label"].startswith("api-key:")
    assert not Contact.objects.exists() and not Signal.objects.exists()


def test_a_staff_operator_with_the_permission_forgets_a_contact_keeping_anonymous_signals(ada):
    client = staff("signals_app.forget_person")
    response = client.post("/api/v1/contacts/ada/forget/", {"keep_anonymous_signals": True, "reason": "T-1"},
                           format="json")  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["signals_kept_anonymous"] is True
    assert Signal.objects.count() == 3
    assert not Signal.objects.filter(properties__has_key="email").exists()
    record = ErasureRecord.objects.get()
    assert record.operator is not None and record.reason == "T-1"


def test_export_answers_the_persons_data(ada):
    client = bearer(api_key(ApiKey.Scope.ADMIN)[1])
    by_contact = call(client, EXPORT_CONTACT)
    by_email = call(client, EXPORT_BY_EMAIL)
    assert by_contact.status_code == by_email.status_code == 200
    assert len(by_contact.json()["signals"]) == len(by_email.json()["signals"]) == 3
    assert by_email.json()["anonymous_ids"] == ["anon-9"]
    assert by_email.json()["contacts"][0]["email"] == EMAIL


@pytest.mark.parametrize("how", CALLS, ids=lambda c: f"{c[0]} {c[1]}")
def test_a_read_key_a_write_key_and_operators_without_staff_or_permission_are_refused(how, ada):
    needed = "signals_app.forget_person" if "forget" in how[1] else "signals_app.export_person"
    refused = {
        "read key": bearer(api_key(ApiKey.Scope.READ)[1]),
        "write key": bearer(write_key()[1]),
        "staff without the permission": staff(),
    }
    not_staff = UserFactory(is_staff=False)
    grant(not_staff, needed)
    refused["operator with the permission, not staff"] = APIClient()
    refused["operator with the permission, not staff"].force_login(not_staff)
    for who, client in refused.items():
        response = call(client, how)
        assert response.status_code == 403, who
        assert response.json()["detail"], who
    assert call(APIClient(), how).status_code == 401
    assert Contact.objects.filter(external_id="ada").exists() and not ErasureRecord.objects.exists()
    assert call(staff(needed), how).status_code == 200


def test_bad_lookups_are_400_with_the_reason_and_unknown_contacts_404(ada):
    client = bearer(api_key(ApiKey.Scope.ADMIN)[1])
    empty = client.post("/api/v1/privacy/forget/", {}, format="json")
    assert empty.status_code == 400 and "name the person" in str(empty.json())
    bad = client.post("/api/v1/privacy/export/", {"email": "nope"}, format="json")
    assert bad.status_code == 400 and "not an email address" in str(bad.json())
    assert client.post("/api/v1/privacy/forget/", {"contact_id": "x"}, format="json").status_code == 400
    assert client.post("/api/v1/contacts/nobody/forget/", {}, format="json").status_code == 404
    assert client.get("/api/v1/contacts/nobody/export/").status_code == 404
    assert not ErasureRecord.objects.exists()


def test_the_endpoints_are_in_the_schema(admin_client):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/v1/privacy/forget/", "/api/v1/privacy/export/", "/api/v1/contacts/{external_id}/forget/",
                 "/api/v1/contacts/{external_id}/export/"):  # fmt: skip
        assert path in schema["paths"], path
