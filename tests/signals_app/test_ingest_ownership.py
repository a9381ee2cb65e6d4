"""A write key (often public: in a browser, in an app) may create accounts and contacts, but change only those its
source created, or the fields its source owns; other changes are kept in the traits history (issue 12, item 2)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Contact
from signals_app.choices import UpdatePolicy
from signals_app.models import IngestionSource, TraitsHistory
from signals_app.services import write_key_create
from tests.factories import AccountFactory, ContactFactory
from tests.signals_app.test_ingest import post

pytestmark = pytest.mark.django_db

RENAME = {"type": "group", "messageId": "g1", "userId": "u1", "groupId": "acme",
          "traits": {"name": "Pwned Inc", "website": "https://evil.example", "tier": "free"}}  # fmt: skip
NEW_EMAIL = {"type": "identify", "messageId": "i1", "userId": "ada",
             "traits": {"email": "attacker@evil.example", "firstName": "Eve", "plan": "enterprise"}}  # fmt: skip
MOVE = {"type": "group", "messageId": "g2", "userId": "ada", "groupId": "other"}


def source_key(name: str = "Website", **settings) -> tuple[IngestionSource, str]:
    source = IngestionSource.objects.create(name=name, kind="segment", **settings)
    return source, write_key_create(source=source)[1]


@pytest.fixture
def crm():
    """An account and a contact from the CRM (an import, the API or the admin: no ingestion source)."""
    acme = AccountFactory(external_id="acme", name="Acme", domain="acme.com", traits={"tier": "gold"})
    AccountFactory(external_id="other", name="Other")
    ada = ContactFactory(external_id="ada", account=acme, email="ada@acme.com", first_name="Ada", traits={})
    return {"acme": acme, "ada": ada}


def test_group_cannot_rename_an_account_it_did_not_create(client, crm):
    source, key = source_key()
    response = post(client, "group", RENAME, key)
    assert response.status_code == 200 and response.json()["rejected"] == []
    acme = Account.objects.get(external_id="acme")
    assert (acme.name, acme.domain, acme.traits) == ("Acme", "acme.com", {"tier": "gold"})
    held = TraitsHistory.objects.get(account=acme)
    assert held.source == source and held.message_id == "g1"
    assert held.changes == {"name": "Pwned Inc", "domain": "evil.example", "traits": {"tier": "free"}}


def test_identify_cannot_change_an_email_or_move_a_person(client, crm):
    source, key = source_key()
    post(client, "batch", {"batch": [NEW_EMAIL, MOVE]}, key)
    ada = Contact.objects.get(external_id="ada")
    assert (ada.email, ada.first_name, ada.traits, ada.account.external_id) == ("ada@acme.com", "Ada", {}, "acme")
    changes = [h.changes for h in TraitsHistory.objects.filter(contact=ada).order_by("id")]
    assert changes == [
        {"email": "attacker@evil.example", "first_name": "Eve", "traits": {"plan": "enterprise"}},
        {"account": "other"},
    ]


def test_a_source_creates_and_keeps_updating_its_own_records(client):
    source, key = source_key()
    post(client, "batch", {"batch": [{**NEW_EMAIL, "traits": {"email": "ada@new.example"}}, MOVE]}, key)
    ada = Contact.objects.get(external_id="ada")
    assert ada.origin_source_id == source.pk and ada.account.origin_source_id == source.pk
    post(client, "batch", {"batch": [{**NEW_EMAIL, "messageId": "i2"}, {**RENAME, "groupId": "other"}]}, key)
    ada.refresh_from_db()
    assert (ada.email, ada.first_name, ada.traits) == ("attacker@evil.example", "Eve", {"plan": "enterprise"})
    assert Account.objects.get(external_id="other").name == "Pwned Inc"
    assert not TraitsHistory.objects.exists()


def test_another_source_cannot_update_them(client):
    _, first = source_key("Server")
    other, second = source_key("Browser")
    post(client, "group", {**RENAME, "traits": {"name": "Acme"}}, first)
    post(client, "group", RENAME, second)
    assert Account.objects.get(external_id="acme").name == "Acme"
    assert TraitsHistory.objects.get().source == other


def test_owned_fields_may_be_changed_on_any_record(client, crm):
    _, key = source_key(owned_fields=["account.domain", "contact.title", "contact.account"])
    post(client, "batch", {"batch": [RENAME, {**NEW_EMAIL, "traits": {"title": "CTO", "email": "x@y.example"}},
                                     MOVE]}, key)  # fmt: skip
    acme = Account.objects.get(external_id="acme")
    assert (acme.name, acme.domain) == ("Acme", "evil.example")
    ada = Contact.objects.get(external_id="ada")
    assert (ada.title, ada.email, ada.account.external_id) == ("CTO", "ada@acme.com", "other")
    assert TraitsHistory.objects.get(contact=ada).changes == {"email": "x@y.example"}


def test_a_trusted_source_may_update_everything(client, crm):
    _, key = source_key(update_policy=UpdatePolicy.ALL)
    post(client, "batch", {"batch": [RENAME, NEW_EMAIL, MOVE]}, key)
    acme = Account.objects.get(external_id="acme")
    assert (acme.name, acme.domain, acme.traits) == ("Pwned Inc", "evil.example", {"tier": "free"})
    ada = Contact.objects.get(external_id="ada")
    assert (ada.email, ada.account.external_id) == ("attacker@evil.example", "other")
    assert not TraitsHistory.objects.exists()


def test_the_safe_setting_is_the_default(db):
    assert IngestionSource.objects.create(name="New").update_policy == UpdatePolicy.OWN_RECORDS
    assert IngestionSource.objects.get(name="New").owned_fields == []


def test_values_already_stored_are_not_history(client, crm):
    _, key = source_key()
    same = {**RENAME, "traits": {"name": "Acme", "website": "acme.com", "tier": "gold"}}
    for n in range(3):
        post(client, "group", {**same, "messageId": f"g{n}"}, key)
        post(client, "group", {**MOVE, "groupId": "acme", "messageId": f"m{n}"}, key)
    assert not TraitsHistory.objects.exists()
    batch = [{**RENAME, "messageId": f"r{n}"} for n in range(5)]
    post(client, "batch", {"batch": batch}, key)
    assert TraitsHistory.objects.count() == 1  # the same change five times in a batch is kept once


def test_signals_of_events_still_reach_existing_records(client, crm):
    _, key = source_key()
    event = {"type": "track", "messageId": "t1", "userId": "ada", "event": "Report Exported"}
    assert post(client, "track", event, key).json()["stored"] == 1
    from signals_app.models import Signal

    signal = Signal.objects.get()
    assert (signal.contact.external_id, signal.account.external_id) == ("ada", "acme")


def test_held_changes_are_set_based(client):
    """The queries of a batch of identify events on records the source may not change do not grow with the batch."""
    _, key = source_key()

    def run(n: int, tag: str) -> int:
        for i in range(n):
            ContactFactory(external_id=f"{tag}{i}", account=AccountFactory(external_id=f"{tag}-acc{i}"))
        batch = [{"type": "identify", "messageId": f"{tag}{i}", "userId": f"{tag}{i}",
                  "traits": {"email": f"new{i}@evil.example", "plan": "x"}} for i in range(n)]  # fmt: skip
        with CaptureQueriesContext(connection) as ctx:
            assert post(client, "batch", {"batch": batch}, key).status_code == 200
        return len(ctx.captured_queries)

    run(1, "w")  # the key's first use of the minute records last_used_at
    assert run(3, "a") == run(30, "b")
    assert TraitsHistory.objects.count() == 34


def test_an_admin_sees_the_history_and_sets_what_a_source_owns(admin_client, client, crm):
    source, key = source_key()
    post(client, "group", RENAME, key)
    listing = admin_client.get("/admin/signals_app/traitshistory/").content.decode()
    assert "Pwned Inc" in listing
    page = admin_client.get(f"/admin/accounts/account/{crm['acme'].pk}/change/").content.decode()
    assert "Pwned Inc" in page and "An import, the API or the admin" in page

    form = {"name": source.name, "kind": "segment", "is_active": "on", "update_policy": "own",
            "owned_fields": ["account.industry", "contact.title"],
            "write_keys-TOTAL_FORMS": "1", "write_keys-INITIAL_FORMS": "1", "write_keys-MIN_NUM_FORMS": "0",
            "write_keys-MAX_NUM_FORMS": "1000", "write_keys-0-id": str(source.write_keys.get().pk),
            "write_keys-0-source": str(source.pk), "write_keys-0-label": ""}  # fmt: skip
    response = admin_client.post(f"/admin/signals_app/ingestionsource/{source.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    source.refresh_from_db()
    assert source.owned_fields == ["account.industry", "contact.title"]
    bad = admin_client.post(f"/admin/signals_app/ingestionsource/{source.pk}/change/",
                            {**form, "owned_fields": ["account.owner"]})  # fmt: skip
    assert bad.status_code == 200 and "account.owner is not one of the available choices" in bad.content.decode()


def test_owned_fields_are_checked_on_the_model(db):
    from django.core.exceptions import ValidationError

    source = IngestionSource(name="X", owned_fields=["account.owner"])
    with pytest.raises(ValidationError, match="Unknown field"):
        source.full_clean()
