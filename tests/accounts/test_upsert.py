"""The one account and contact upsert (``accounts.upsert``): every door treats absent and null values alike, and
write keys change only what their source may."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Contact
from accounts.upsert import Upsert, accounts_upsert, contacts_upsert, traits_merge
from klearly.models import ApiKey
from signals_app.importing import import_csv_stream
from signals_app.models import IngestionSource
from signals_app.services import write_key_create
from tests.api.conftest import bearer
from tests.api.factories import api_key
from tests.factories import AccountFactory, ContactFactory
from tests.signals_app.test_ingest import post

pytestmark = pytest.mark.django_db


def _rest(kind: str, client) -> None:
    path = "accounts/acme" if kind == "account" else "contacts/ada"
    field = {"employees": None} if kind == "account" else {"title": ""}
    response = bearer(api_key(ApiKey.Scope.ADMIN)[1]).patch(
        f"/api/v1/{path}/", {**field, "traits": {"drop": None, "new": "x"}}, format="json"
    )
    assert response.status_code == 200, response.json()


def _events(kind: str, client) -> None:
    source = IngestionSource.objects.create(name="Website", kind="segment", update_policy="all")
    key = write_key_create(source=source)[1]
    if kind == "account":
        event = {"type": "group", "messageId": "g1", "groupId": "acme", "traits": {"employees": None}}
    else:
        event = {"type": "identify", "messageId": "i1", "userId": "ada", "traits": {"title": None}}
    event["traits"].update(drop=None, new="x")
    assert post(client, "batch", {"batch": [event]}, key).json()["rejected"] == []


def _csv(kind: str, client) -> None:
    text = (
        "external_id,employees,drop,new\nacme,,,x\n" if kind == "account" else "external_id,title,drop,new\nada,,,x\n"
    )
    report = import_csv_stream(kind=f"{kind}s", stream=io.StringIO(text))
    assert (report.updated, report.failed) == (1, 0), report.errors


def _upsert(kind: str, client) -> None:  # the demo and any other writer call it directly
    if kind == "account":
        accounts_upsert(rows=[Upsert("acme", {"employees": None}, {"drop": None, "new": "x"})])
    else:
        contacts_upsert(rows=[Upsert("ada", {"title": None}, {"drop": None, "new": "x"})])


@pytest.mark.parametrize("kind", ["account", "contact"])
@pytest.mark.parametrize("door", [_rest, _events, _csv, _upsert], ids=["rest", "events", "csv", "upsert"])
def test_every_door_keeps_what_is_absent_and_clears_what_is_null(client, door, kind):
    acme = AccountFactory(external_id="acme", name="Acme", employees=50, traits={"keep": "k", "drop": "d"})
    ada = ContactFactory(
        external_id="ada", account=acme, first_name="Ada", title="CTO", traits={"keep": "k", "drop": "d"}
    )
    door(kind, client)
    if kind == "account":
        acme.refresh_from_db()
        assert (acme.name, acme.employees, acme.traits) == ("Acme", None, {"keep": "k", "new": "x"})
    else:
        ada.refresh_from_db()
        assert (ada.first_name, ada.title, ada.account_id) == ("Ada", "", acme.pk)
        assert ada.traits == {"keep": "k", "new": "x"}


def test_traits_merge_adds_replaces_and_removes_nulls():
    assert traits_merge({"a": 1, "b": 2}, {"b": 3, "a": None, "c": None, "d": 4}) == {"b": 3, "d": 4}
    assert traits_merge({"a": 1}, None) == {"a": 1}


def test_a_batch_costs_a_few_queries_whatever_its_size():
    AccountFactory.create_batch(3)
    rows = [Upsert(f"acc-{n}", {"name": f"Account {n}"}, {"n": n}) for n in range(200)]
    with CaptureQueriesContext(connection) as first:
        accounts_upsert(rows=rows)
    rows = [Upsert(f"acc-{n}", {"name": f"Renamed {n}"}, {"n": None}) for n in range(200)]
    with CaptureQueriesContext(connection) as second:
        result = accounts_upsert(rows=rows)
    assert len(first) <= 8 and len(second) <= 8  # reads, bulk writes (with their savepoints), rescore marks
    assert len(result.updated) == 200 and Account.objects.get(external_id="acc-7").traits == {}


def test_a_source_changes_only_what_it_may_and_the_rest_is_held():
    source = IngestionSource.objects.create(name="Website", kind="segment", owned_fields=["contact.title"])
    ada = ContactFactory(external_id="ada", email="ada@acme.com", title="CTO", traits={})
    result = contacts_upsert(
        rows=[Upsert("ada", {"email": "eve@evil.example", "title": "CEO"}, {"plan": "pro", "gone": None}, ref="i1"),
              Upsert("new", {"email": "New@Example.com"}, ref="i2")],
        source=source,
    )  # fmt: skip
    ada.refresh_from_db()
    assert (ada.email, ada.title, ada.traits) == ("ada@acme.com", "CEO", {})
    assert [(h.ref, h.record_id, h.changes) for h in result.held] == [
        ("i1", ada.pk, {"email": "eve@evil.example", "traits": {"plan": "pro"}})
    ]
    new = Contact.objects.get(external_id="new")
    assert (new.email, new.origin_source_id) == ("new@example.com", source.pk)


def test_new_records_get_their_ids_in_the_order_of_the_rows():
    # The demo builds the same world (same ids) from the same seed: ids follow the rows, not a set's order.
    names = [f"acc-{n}" for n in (5, 1, 9, 3, 7, 2, 8)]
    accounts = accounts_upsert(rows=[Upsert(ext, {"name": ext}) for ext in names], bare=["zz", "aa"])
    assert sorted(accounts.ids, key=accounts.ids.__getitem__) == [*names, "aa", "zz"]
    contacts = contacts_upsert(rows=[Upsert(ext, {"account_id": accounts.ids[ext]}) for ext in reversed(names)])
    assert sorted(contacts.ids, key=contacts.ids.__getitem__) == names[::-1]
