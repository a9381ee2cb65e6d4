"""Forgetting and exporting a person (GDPR): every trace gone, the audit keeps nothing about them, the accounts are
rescored and the training data no longer has them; the export holds all of it. Data arrives the way it does in
production: through the Segment-compatible endpoint (anonymous events before identification, identify, group)."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta

import orjson
import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Contact, RescoreMark
from playbooks.models import TaskComment
from scoring import predictions
from scoring.models import AccountScore, ContactScore
from scoring.services import accounts_rescore
from signals_app.models import ErasureRecord, ImportJob, IngestionSource, Signal, TraitsHistory
from signals_app.privacy import Mentions, PersonLookupError, PersonQuery, person_export, person_find, person_forget
from signals_app.services import write_key_create
from tests.factories import UserFactory
from tests.playbooks.factories import TaskFactory

pytestmark = pytest.mark.django_db

EMAIL = "ada.l@acme.test"
IP = "203.0.113.7"
# What must not survive anywhere once Ada is forgotten (lower case: the dump is searched without case).
ADA_TRACES = (EMAIL, IP, "lovelace-privacy", "adabrowser", "+44 20 7946", "u-ada", "anon-ada-2")
# Not hers: must survive.
OTHERS = ("val-ada-address", "bob@acme.test", "carl@acme.test", "builder")


def _post(client, key: str, batch: list[dict]) -> dict:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    response = client.post("/ingest/v1/batch", data=orjson.dumps({"batch": batch}), content_type="application/json",
                           HTTP_AUTHORIZATION=auth)  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["rejected"] == []
    return response.json()


def _at(days_ago: float) -> str:
    return (timezone.now() - timedelta(days=days_ago)).isoformat()


def ingest_ada(client, *, extra_signals: int = 0) -> dict:
    """Ada, as a product would send her: anonymous visits (one id linked by identify, one never linked but carrying
    her email), identify with traits, group, tracked events with IP and user agent; Bob invites her; Val's email
    contains hers as a substring."""
    source = IngestionSource.objects.create(name="Website", kind="segment")
    key = write_key_create(source=source)[1]
    batch = [
        {"type": "page", "messageId": "p1", "anonymousId": "anon-ada-1", "name": "Pricing", "timestamp": _at(9),
         "properties": {"path": "/pricing", "ip": IP}},
        {"type": "track", "messageId": "t0", "anonymousId": "anon-ada-2", "event": "Newsletter Signup",
         "timestamp": _at(8), "properties": {"email": EMAIL.upper(), "ip": IP}},
        {"type": "page", "messageId": "p2", "anonymousId": "anon-ada-2", "name": "Docs", "timestamp": _at(8),
         "properties": {"path": "/docs", "ip": IP}},
        {"type": "group", "messageId": "g1", "userId": "u-ada", "groupId": "acme", "timestamp": _at(7),
         "traits": {"name": "Acme", "employees": 40, "billing_email": EMAIL}},
        {"type": "identify", "messageId": "i1", "userId": "u-ada", "anonymousId": "anon-ada-1", "timestamp": _at(7),
         "context": {"groupId": "acme"},
         "traits": {"email": "Ada.L@acme.test", "firstName": "Ada", "lastName": "Lovelace-Privacy",
                    "phone": "+44 20 7946 0000", "ip": IP}},
        {"type": "identify", "messageId": "i2", "userId": "u-bob", "timestamp": _at(7), "context": {"groupId": "acme"},
         "traits": {"email": "bob@acme.test", "firstName": "Bob", "lastName": "Builder", "referred_by": EMAIL}},
        {"type": "track", "messageId": "t2", "userId": "u-bob", "groupId": "acme", "event": "Teammate Invited",
         "timestamp": _at(6), "properties": {"invitee": "ADA.L@acme.test", "list": [EMAIL, "carl@acme.test"],
                                              "note": f"invited {EMAIL} and carl@acme.test"}},
        {"type": "track", "messageId": "t3", "userId": "u-val", "event": "Signed Up", "timestamp": _at(6),
         "properties": {"email": "val-ada.l@acme.test"}},
    ]  # fmt: skip
    batch += [
        {"type": "track", "messageId": f"t-ada-{n}", "userId": "u-ada", "groupId": "acme", "event": "Report Exported",
         "timestamp": _at(5 - n / 1000), "properties": {"ip": IP, "email": EMAIL, "userAgent": "Mozilla/5.0 AdaBrowser",
                                                       "plan": "pro"}}
        for n in range(3 + extra_signals)
    ]  # fmt: skip
    _post(client, key, batch)
    # A second source also reports her (whatever a source may not overwrite is kept as traits history: that must be
    # forgotten too).
    mobile = write_key_create(source=IngestionSource.objects.create(name="Mobile app", kind="segment"))[1]
    _post(client, mobile, [
        {"type": "identify", "messageId": "m-i1", "userId": "u-ada", "timestamp": _at(4),
         "traits": {"email": EMAIL, "phone": "+44 20 7946 0000", "title": "CTO", "ip": IP}},
        {"type": "group", "messageId": "m-g1", "userId": "u-ada", "groupId": "acme", "timestamp": _at(4),
         "traits": {"billing_email": EMAIL, "support_contact": f"Ada Lovelace-Privacy <{EMAIL}>"}},
    ])  # fmt: skip
    ada = Contact.objects.get(external_id="u-ada")
    acme = Account.objects.get(external_id="acme")
    # What operators and other parts add: scores, a task and a comment naming her, the admin's change log, an import
    # error quoting her address.
    accounts_rescore(account_ids=[acme.pk])
    task = TaskFactory(account=acme, title="Follow up", body=f"Call {EMAIL} about the renewal",
                       reason={"summary": f"{EMAIL} exported 3 reports"})  # fmt: skip
    TaskComment.objects.create(task=task, body="Spoke to Ada.L@acme.test, she wants a demo")
    TaskFactory(account=acme, title="Unrelated", body="Nothing personal")
    LogEntry.objects.create(user=UserFactory(), content_type=ContentType.objects.get_for_model(Contact),
                            object_id=str(ada.pk), object_repr=str(ada), action_flag=CHANGE,
                            change_message='[{"changed": {"fields": ["Title"]}}]')  # fmt: skip
    ImportJob.objects.create(kind="contacts", file="imports/x.csv",
                             errors=[{"line": 3, "field": "email", "message": f"{EMAIL} is already used"},
                                     {"line": 4, "field": "email", "message": "'zz' is not an email address"}])  # fmt: skip
    return {"ada": ada, "acme": acme, "task": task}


def dump() -> str:
    """Every table of the database as text, lower case (Val's address, which contains Ada's, taken out once
    counted, so a search for Ada's address finds only hers)."""
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    text = out.getvalue().lower()
    return text.replace("val-ada.l@acme.test", "val-ada-address") if "val-ada.l@acme.test" in text else text


def test_the_data_really_holds_her_before(client):
    """The test below would prove nothing if the traces were not there to begin with."""
    ingest_ada(client)
    text = dump()
    for trace in ADA_TRACES + OTHERS:
        assert trace in text, trace
    assert ContactScore.objects.filter(contact__external_id="u-ada").exists()


def test_forgetting_leaves_no_trace_of_her_anywhere_in_the_database(client):
    world = ingest_ada(client)
    acme = world["acme"]
    before = Signal.objects.count()

    record = person_forget(query=PersonQuery(email=EMAIL), via="command", reason=f"ticket 42 from {EMAIL}")

    text = dump()
    for trace in ADA_TRACES:
        assert trace not in text, f"{trace!r} is still in the database"
    for trace in OTHERS:
        assert trace in text, f"{trace!r} (not hers) was erased"
    # Her 3 tracked events, the linked page view and both signals of the never-linked anonymous id went.
    assert before - Signal.objects.count() == 6
    assert not Contact.objects.filter(external_id="u-ada").exists()
    assert Contact.objects.filter(external_id="u-bob").exists()
    assert RescoreMark.objects.filter(account=acme).exists()
    invite = Signal.objects.get(idempotency_key="t2").properties
    assert invite == {"invitee": "[erased]", "list": ["[erased]", "carl@acme.test"],
                      "note": "invited [erased] and carl@acme.test"}  # fmt: skip
    traits = Account.objects.get(pk=acme.pk).traits
    assert traits["billing_email"] == "[erased]"
    # The second source may not change an account it did not create: its traits wait in the traits history, scrubbed.
    assert "support_contact" not in traits
    held = TraitsHistory.objects.get(account=acme).changes
    assert held == {"traits": {"support_contact": "[erased] <[erased]>"}}
    assert record.counts["traits_history_scrubbed"] == 1
    assert TaskComment.objects.get().body == "Spoke to [erased], she wants a demo"
    assert record.counts["contacts_deleted"] == 1
    assert record.counts["signals_deleted"] == 6
    assert record.counts["anonymous_ids"] == 1
    assert record.counts["signals_mentioning_scrubbed"] == 1
    assert record.counts["tasks_scrubbed"] == 1 and record.counts["task_comments_scrubbed"] == 1
    assert record.counts["admin_log_entries_scrubbed"] == 1
    assert record.counts["import_jobs_scrubbed"] == 1


def test_the_audit_entry_keeps_nothing_about_her(client):
    ingest_ada(client)
    record = person_forget(query=PersonQuery(email=EMAIL), via="api", reason=f"request from {EMAIL} ({IP})")
    stored = json.dumps(
        {f.name: str(getattr(record, f.attname)) for f in ErasureRecord._meta.concrete_fields}
    ).lower()  # fmt: skip
    for trace in (EMAIL, "u-ada", "lovelace", "anon-ada", "acme"):
        assert trace not in stored, trace
    assert record.reason.startswith("request from [erased]")
    # Numbers only: no ids of her contact or account, no hash of her address.
    assert all(isinstance(v, int) and not isinstance(v, bool) for v in record.counts.values())
    assert {f.name for f in ErasureRecord._meta.concrete_fields} == {
        "id", "erasure_id", "erased_at", "operator", "operator_label", "via", "reason", "signals_kept_anonymous",
        "counts",
    }  # fmt: skip


def test_the_next_training_no_longer_sees_her(client):
    world = ingest_ada(client)
    now = timezone.now() + timedelta(days=1)
    since = now - timedelta(days=365)
    before = predictions.history_load(account_ids=None, since=since, now=now)
    assert world["ada"].pk in set(before.ev_contact.tolist())

    person_forget(query=PersonQuery(email=EMAIL), via="command")

    after = predictions.history_load(account_ids=None, since=since, now=now)
    assert world["ada"].pk not in set(after.ev_contact.tolist())
    # Of acme's signals (she had 4 there: 3 events and the linked page view), only Bob's invitation remains.
    acme = int(list(after.account_ids).index(world["acme"].pk))
    assert (before.ev_account == acme).sum() == 5 and (after.ev_account == acme).sum() == 1
    accounts_rescore(account_ids=[world["acme"].pk])
    assert AccountScore.objects.get(pk=world["acme"].pk).total_users == 1  # Bob alone now


def test_keeping_anonymous_signals_keeps_the_accounts_counts_without_her(client):
    world = ingest_ada(client)
    acme = world["acme"]
    at_acme = Signal.objects.filter(account=acme).count()

    record = person_forget(query=PersonQuery(external_id="u-ada"), via="admin", keep_anonymous_signals=True)

    assert Signal.objects.filter(account=acme).count() == at_acme  # still counted for the account
    kept = list(Signal.objects.filter(idempotency_key__startswith="t-ada-"))
    assert len(kept) == 3
    assert all(s.contact_id is None and s.anonymous_id == "" and s.properties == {"plan": "pro"} for s in kept)
    # The never-linked anonymous signals had no account: counted for nothing, so deleted.
    assert not Signal.objects.filter(idempotency_key__in=["t0", "p2"]).exists()
    assert record.signals_kept_anonymous and record.counts["signals_anonymised"] == 4
    text = dump()
    for trace in ADA_TRACES:
        assert trace not in text, trace


def test_export_holds_all_of_her_data(client):
    world = ingest_ada(client)
    data = person_export(query=PersonQuery(email=EMAIL))
    json.dumps(data)  # plain JSON values
    assert [c["external_id"] for c in data["contacts"]] == ["u-ada"]
    assert data["contacts"][0]["traits"]["phone"] == "+44 20 7946 0000"
    assert data["anonymous_ids"] == ["anon-ada-2"]
    assert sorted(s["message_id"] for s in data["signals"]) == ["p1", "p2", "t-ada-0", "t-ada-1", "t-ada-2", "t0"]
    assert {s["properties"].get("ip") for s in data["signals"]} == {IP}
    assert data["mentions"]["signals"][0]["values"] == {
        "invitee": "ADA.L@acme.test", "list[0]": EMAIL, "note": f"invited {EMAIL} and carl@acme.test"
    }  # fmt: skip
    assert data["mentions"]["account_traits"] == [{"account_external_id": "acme", "traits": {
        "billing_email": EMAIL}}]  # fmt: skip
    # what the second source sent about her but could not apply (traits history) is hers too
    [held] = data["mentions"]["traits_history"]
    assert held["account_external_id"] == "acme"
    assert held["changes"] == {"traits.support_contact": f"Ada Lovelace-Privacy <{EMAIL}>"}
    assert [s["contact_external_id"] for s in data["contact_scores"]] == ["u-ada"]
    assert [t["id"] for t in data["tasks"]] == [world["task"].pk]
    assert data["tasks"][0]["comments"][0]["body"].startswith("Spoke to Ada.L")


def test_a_person_found_by_anonymous_id_alone(client):
    ingest_ada(client)
    person = person_find(query=PersonQuery(anonymous_id="anon-ada-2"))
    assert person.contact_ids == [] and person.anonymous_ids == ["anon-ada-2"]
    record = person_forget(query=PersonQuery(anonymous_id="anon-ada-2"), via="command")
    assert record.counts["signals_deleted"] == 2
    assert Contact.objects.filter(external_id="u-ada").exists()


def test_a_lookup_that_finds_nobody_is_recorded_as_handled(client):
    record = person_forget(query=PersonQuery(email="nobody@example.test"), via="command")
    assert not any(record.counts.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "name the person"),
        ({"email": "not-an-address"}, "is not an email address"),
        ({"external_id": "x" * 129}, "longer than 128"),
        ({"anonymous_id": "a\x00b"}, "NUL"),
        ({"contact_id": 0}, "cannot exist"),
    ],
)
def test_a_bad_lookup_says_what_is_wrong(kwargs, message):
    with pytest.raises(PersonLookupError, match=message):
        PersonQuery(**kwargs)


def test_mentions_match_whole_addresses_in_any_case_and_encoding():
    m = Mentions(["Al@X.com"])
    assert m.in_text("write to AL@x.COM.") and m.in_text("?email=al%40x.com&a=1") and m.in_text("<al@x.com>")
    assert not m.in_text("val@x.com") and not m.in_text("al@x.community") and not m.in_text("al@x.com.evil.org")
    assert m.scrub({"al@x.com": 1, "to": ["al@x.com", "b@x.com"], "ip": "1.2.3.4"}, frozenset({"ip"})) == {
        "to": ["[erased]", "b@x.com"]
    }


def test_a_full_name_is_erased_only_beside_the_address():
    m = Mentions(["al@x.com"], ["Al Capone", "Al"])
    assert m.text("From: AL  Capone <al@x.com>; cc Al Caponey") == "From: [erased] <[erased]>; cc Al Caponey"
    assert m.text("Al Capone called") == "Al Capone called"  # another Al Capone, perhaps


def test_exporting_and_forgetting_cost_the_same_queries_for_few_or_many_signals(client):
    def queries(extra: int) -> tuple[int, int]:
        ingest_ada(client, extra_signals=extra)
        with CaptureQueriesContext(connection) as export:
            person_export(query=PersonQuery(email=EMAIL))
        with CaptureQueriesContext(connection) as forget:
            person_forget(query=PersonQuery(email=EMAIL), via="command")
        # Start the next round from an empty database.
        for model in (Signal, Contact, Account, ImportJob, LogEntry, TaskComment, IngestionSource, ErasureRecord):
            model.objects.all().delete()
        return len(export.captured_queries), len(forget.captured_queries)

    few, many = queries(0), queries(60)
    assert few == many, (few, many)
    assert few[0] < 20 and few[1] < 40, few


def test_the_commands_forget_and_export(client, tmp_path):
    ingest_ada(client)
    out = io.StringIO()
    call_command("forget_person", "--email", EMAIL, "--dry-run", stdout=out)
    assert "contacts_deleted: 1" in out.getvalue() and "Dry run" in out.getvalue()
    assert Contact.objects.filter(external_id="u-ada").exists() and not ErasureRecord.objects.exists()

    target = tmp_path / "ada.json"
    call_command("export_person", "--external-id", "u-ada", "-o", str(target), stderr=io.StringIO())
    assert len(json.loads(target.read_text())["signals"]) == 6

    out = io.StringIO()
    call_command("forget_person", "--email", EMAIL, "--reason", "ticket 7", stdout=out)
    record = ErasureRecord.objects.get()
    assert str(record.erasure_id) in out.getvalue()
    assert record.via == "command" and record.operator_label.startswith("command")
    assert not Contact.objects.filter(external_id="u-ada").exists()


def test_the_command_refuses_a_bad_lookup():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="name the person"):
        call_command("forget_person")
