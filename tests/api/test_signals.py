"""Signals over the API: sent one or many (partial failures, idempotent retries, the caller's ingestion source),
listed newest first with a cursor, filtered by account, contact, type, topic, direction, source and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signals_app.models import IngestionSource, Signal, SignalTopic, SignalType
from tests.api.conftest import bearer
from tests.api.factories import write_key
from tests.factories import (
    AccountFactory,
    ContactFactory,
    SignalFactory,
    SignalTopicFactory,
    SignalTypeFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    account = AccountFactory(external_id="acme")
    ContactFactory(external_id="ada", account=account)
    ContactFactory(external_id="grace", account=AccountFactory(external_id="other"))
    return account


def signal(**overrides) -> dict:
    return {
        "message_id": "m-1",
        "account_external_id": "acme",
        "contact_external_id": "ada",
        "type": "Pricing page view",
        "detail": "annual",
        "topic": "Analytics > Dashboards",
        "direction": "inbound",
        "source": "product",
        "occurred_at": "2026-03-01T10:00:00Z",
        "properties": {"path": "/pricing", "nested": {"ok": [1, 2]}},
        **overrides,
    }


def test_one_signal_is_stored_with_its_type_and_topic_created(admin_api, acme):
    response = admin_api.post("/api/v1/signals/", signal(), format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 1, "duplicates": 0, "rejected": []}
    stored = Signal.objects.get()
    assert stored.account == acme and stored.contact.external_id == "ada"
    assert stored.type.key == "pricing-page-view" and stored.type.label == "Pricing page view"
    assert stored.topic.key == "analytics--dashboards" and stored.topic.parent.key == "analytics"
    assert stored.properties == {"path": "/pricing", "nested": {"ok": [1, 2]}}
    assert stored.idempotency_key == "m-1" and stored.ingestion_source.name == "REST API"
    assert stored.ingestion_source.kind == "api"
    assert stored.occurred_at == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_many_signals_with_some_bad_are_207_and_the_good_ones_are_stored(admin_api, acme):
    body = [
        signal(message_id="ok-1"),
        signal(message_id="bad-account", account_external_id="nobody"),
        signal(message_id="ok-2", contact_external_id=None, topic=None, properties=None),
        signal(message_id="bad-many", type="", occurred_at="yesterday", direction="sideways"),
        "not an object",
        signal(message_id="bad-contact", contact_external_id="grace"),
        signal(message_id="bad-props", properties=[1]),
        signal(message_id=12345, account_external_id="acme"),
        signal(message_id="bad-types", detail=7, topic={"a": 1}),
    ]
    response = admin_api.post("/api/v1/signals/", body, format="json")
    assert response.status_code == 207, response.content
    result = response.json()
    assert result["created"] == 3 and result["duplicates"] == 0
    rejected = {r["index"]: r["errors"] for r in result["rejected"]}
    assert rejected == {
        1: {"account_external_id": ["no account has external id 'nobody'"]},
        3: {
            "type": ["is required"],
            "direction": ["'sideways' is not one of inbound, outbound"],
            "occurred_at": ["'yesterday' is not an ISO-8601 date or time (e.g. 2026-03-01T14:30:00Z)"],
        },
        4: {"non_field_errors": ["each signal must be a JSON object"]},
        5: {"contact_external_id": ["'grace' belongs to another account"]},
        6: {"properties": ['must be a JSON object, like {"plan": "pro"}']},
        8: {"detail": ["must be a string"], "topic": ["must be a string"]},
    }
    assert set(Signal.objects.values_list("idempotency_key", flat=True)) == {"ok-1", "ok-2", "12345"}


def test_retrying_the_same_request_stores_nothing_twice(admin_api, acme):
    body = [signal(message_id=f"m-{i}") for i in range(5)]
    assert admin_api.post("/api/v1/signals/", body, format="json").json()["created"] == 5
    again = admin_api.post("/api/v1/signals/", body, format="json")
    assert again.status_code == 201
    assert again.json() == {"created": 0, "duplicates": 5, "rejected": []}
    assert Signal.objects.count() == 5


def test_signals_without_message_id_are_deduplicated_by_their_content(admin_api, acme):
    body = signal(message_id=None)
    admin_api.post("/api/v1/signals/", body, format="json")
    assert admin_api.post("/api/v1/signals/", body, format="json").json()["duplicates"] == 1
    assert Signal.objects.count() == 1


def test_the_same_message_id_from_different_sources_is_two_signals(admin_api, acme):
    key, raw = write_key("Website")
    assert bearer(raw).post("/api/v1/signals/", signal(), format="json").status_code == 201
    assert admin_api.post("/api/v1/signals/", signal(), format="json").status_code == 201
    assert sorted(Signal.objects.values_list("ingestion_source__name", flat=True)) == ["REST API", "Website"]


def test_all_bad_is_400_with_the_same_shape(admin_api, acme):
    response = admin_api.post("/api/v1/signals/", [signal(account_external_id="x"), {}], format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["created"] == 0 and [r["index"] for r in body["rejected"]] == [0, 1]
    assert body["rejected"][1]["errors"] == {
        "account_external_id": ["is required"],
        "type": ["is required"],
        "occurred_at": ["is required"],
    }
    assert not Signal.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [([], "empty"), ("text", "signal object"), (7, "signal object"), ([{}] * 1001, "at most 1000")],
)
def test_bodies_that_are_not_signals_are_400(admin_api, body, message):
    response = admin_api.post("/api/v1/signals/", body, format="json")
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert response.json()["rejected"] == []


def test_a_thousand_signals_in_one_request(admin_api, acme):
    body = [signal(message_id=f"bulk-{i}", properties={"i": i}) for i in range(1000)]
    response = admin_api.post("/api/v1/signals/", body, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 1000


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("account_external_id", "a\x00b", "NUL"),
        ("type", "x" * 151, "longer than 150"),
        ("message_id", "m" * 129, "longer than 128"),
        ("properties", {"k": "v\x00"}, "NUL"),
        ("properties", {"k\x00": 1}, "NUL"),
        ("occurred_at", "0001-01-01T00:00:00+05:00", "between 1900 and 2200"),
        ("occurred_at", "9999-12-31T23:59:59-05:00", "must be between 1900 and 2200"),
        ("occurred_at", "2031-05-01T10:00:00Z", "more than a day in the future"),  # as the event endpoint says
        ("occurred_at", 20260301, "must be a string"),
        ("source", "crm", "is not one of"),
    ],
)
def test_each_bad_field_is_named_with_its_index(admin_api, acme, field, value, message):
    response = admin_api.post("/api/v1/signals/", [signal(message_id="good"), signal(**{field: value})], format="json")
    assert response.status_code == 207, response.content
    [rejection] = response.json()["rejected"]
    assert rejection["index"] == 1
    assert message in rejection["errors"][field][0]


def test_session_users_with_permission_post_into_the_rest_api_source(operator, acme):
    from tests.api.conftest import grant

    grant(operator.user, "signals_app.add_signal")
    acme.owner = operator.user  # an operator sends signals for the accounts they see (tests/api/test_visibility.py)
    acme.save(update_fields=["owner"])
    assert operator.post("/api/v1/signals/", signal(), format="json").status_code == 201
    assert IngestionSource.objects.get(name="REST API").kind == "api"


@pytest.fixture
def catalogue(acme):
    """Signals of two accounts over five days, two types, a product line with two product types."""
    line = SignalTopicFactory(key="analytics", label="Analytics")
    dashboards = SignalTopicFactory(key="analytics--dashboards", label="Dashboards", parent=line)
    billing = SignalTopicFactory(key="billing", label="Billing")
    view, demo = SignalTypeFactory(key="page-view"), SignalTypeFactory(key="demo")
    other = AccountFactory(external_id="beta")
    ada = acme.contacts.get(external_id="ada")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        (acme, ada, view, dashboards, "inbound", "product", 0),
        (acme, None, demo, line, "inbound", "sales", 1),
        (acme, ada, view, billing, "outbound", "marketing", 2),
        (other, None, demo, None, "inbound", "sales", 3),
        (other, None, view, dashboards, "inbound", "product", 4),
    ]
    for i, (account, contact, kind, topic, direction, source, day) in enumerate(rows):
        SignalFactory(
            account=account, contact=contact, type=kind, topic=topic, direction=direction, source=source,
            occurred_at=start + timedelta(days=day), idempotency_key=f"s{i}",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["s4", "s3", "s2", "s1", "s0"]),
        ("account=acme", ["s2", "s1", "s0"]),
        ("contact=ada", ["s2", "s0"]),
        ("type=demo", ["s3", "s1"]),
        ("type=demo,page-view", ["s4", "s3", "s2", "s1", "s0"]),
        ("topic=analytics", ["s4", "s1", "s0"]),
        ("topic=analytics--dashboards", ["s4", "s0"]),
        ("topic=billing,analytics--dashboards", ["s4", "s2", "s0"]),
        ("direction=outbound", ["s2"]),
        ("source=sales", ["s3", "s1"]),
        ("occurred_after=2026-03-02T00:00:00Z&occurred_before=2026-03-04T00:00:00Z", ["s2", "s1"]),
        ("account=acme&type=page-view&direction=inbound", ["s0"]),
        ("account=nobody", []),
    ],
)
def test_signal_filters(admin_api, catalogue, query, expected):
    response = admin_api.get(f"/api/v1/signals/?{query}")
    assert response.status_code == 200, response.content
    assert [s["message_id"] for s in response.json()["results"]] == expected


@pytest.mark.parametrize("query", ["direction=up", "source=crm", "occurred_after=soon", "category=nope"])
def test_bad_signal_filters_are_400(admin_api, query):
    assert admin_api.get(f"/api/v1/signals/?{query}").status_code == 400


def test_signal_representation(admin_api, catalogue):
    first = admin_api.get("/api/v1/signals/?contact=ada&topic=analytics").json()["results"][0]
    assert first["account_external_id"] == "acme" and first["contact_external_id"] == "ada"
    assert first["type"] == "page-view" and first["topic"] == "analytics--dashboards"
    assert first["topic_path"] == "Analytics > Dashboards"
    assert first["ingestion_source"] == "Tests" and isinstance(first["id"], int)
    detail = admin_api.get(f"/api/v1/signals/{first['id']}/")
    assert detail.json() == first


def test_cursor_pagination_walks_every_signal_once_newest_first(admin_api, acme):
    same_time = datetime(2026, 3, 1, tzinfo=UTC)
    for i in range(25):  # ten share one timestamp: ties are ordered by id
        when = same_time if i < 10 else same_time + timedelta(hours=i)
        SignalFactory(account=acme, occurred_at=when, idempotency_key=f"p{i}")
    seen, url, pages = [], "/api/v1/signals/?page_size=4", 0
    while url:
        body = admin_api.get(url).json()
        assert "count" not in body
        seen.extend(s["id"] for s in body["results"])
        url, pages = body["next"], pages + 1
    assert pages == 7
    expected = list(Signal.objects.order_by("-occurred_at", "-id").values_list("id", flat=True))
    assert seen == expected
    assert admin_api.get("/api/v1/signals/?cursor=garbage").status_code == 404
    assert len(admin_api.get("/api/v1/signals/?page_size=5000").json()["results"]) == 25


def test_signals_cannot_be_changed_or_deleted(admin_api, catalogue):
    pk = Signal.objects.first().pk
    assert admin_api.patch(f"/api/v1/signals/{pk}/", {"detail": "x"}, format="json").status_code == 405
    assert admin_api.delete(f"/api/v1/signals/{pk}/").status_code == 405
    assert admin_api.get("/api/v1/signals/99999999999999999999999/").status_code == 404
    assert admin_api.get("/api/v1/signals/abc/").status_code == 404


def test_signal_types_crud_by_key(admin_api):
    created = admin_api.post("/api/v1/signal-types/", {"label": "Webinar attended", "category": "webinars"})
    assert created.status_code == 201, created.content
    assert created.json()["key"] == "webinar-attended"
    clash = admin_api.post("/api/v1/signal-types/", {"label": "Webinar Attended"})
    assert clash.status_code == 400 and "webinar-attended" in clash.json()["key"][0]
    assert admin_api.post("/api/v1/signal-types/", {"label": "!!!"}).status_code == 400
    renamed = admin_api.patch("/api/v1/signal-types/webinar-attended/", {"label": "Webinar", "key": "new-key"})
    assert renamed.status_code == 200
    assert renamed.json()["label"] == "Webinar" and renamed.json()["key"] == "webinar-attended"
    assert admin_api.get("/api/v1/signal-types/?search=webin").json()["count"] == 1
    assert admin_api.get("/api/v1/signal-types/?category=webinars").json()["count"] == 1


def test_a_signal_type_in_use_cannot_be_deleted(admin_api, catalogue):
    response = admin_api.delete("/api/v1/signal-types/demo/")
    assert response.status_code == 409
    assert "signals" in response.json()["detail"]
    assert SignalType.objects.filter(key="demo").exists()


def test_signal_topics_lines_and_types(admin_api):
    line = admin_api.post("/api/v1/signal-topics/", {"label": "Analytics"})
    assert line.status_code == 201 and line.json()["key"] == "analytics" and line.json()["parent"] is None
    child = admin_api.post("/api/v1/signal-topics/", {"label": "Dashboards", "parent": "analytics"})
    assert child.status_code == 201, child.content
    assert child.json()["key"] == "analytics--dashboards" and child.json()["path"] == "Analytics > Dashboards"
    too_deep = admin_api.post("/api/v1/signal-topics/", {"label": "Widgets", "parent": "analytics--dashboards"})
    assert too_deep.status_code == 400
    assert too_deep.json()["parent"] == ["no product line has key 'analytics--dashboards'"]
    relabel = admin_api.patch("/api/v1/signal-topics/analytics--dashboards/", {"label": "Boards", "parent": None})
    assert relabel.status_code == 200
    assert relabel.json()["parent"] == "analytics" and relabel.json()["path"] == "Analytics > Boards"
    assert [t["key"] for t in admin_api.get("/api/v1/signal-topics/?parent=analytics").json()["results"]] == [
        "analytics--dashboards"
    ]
    assert admin_api.get("/api/v1/signal-topics/?lines_only=true").json()["count"] == 1
    assert admin_api.delete("/api/v1/signal-topics/analytics/").status_code == 204
    assert not SignalTopic.objects.exists()


def test_offsets_python_reads_but_postgresql_would_refuse_are_stored_in_utc(admin_api, acme):
    response = admin_api.post("/api/v1/signals/", signal(occurred_at="2026-03-01T23:30:00+20:30"), format="json")
    assert response.status_code == 201, response.content
    assert Signal.objects.get().occurred_at == datetime(2026, 3, 1, 3, tzinfo=UTC)
    listed = admin_api.get("/api/v1/signals/?occurred_after=2026-03-01T23:00:00%2B20:30")
    assert listed.status_code == 200 and len(listed.json()["results"]) == 1
    assert admin_api.get("/api/v1/signals/?occurred_after=0001-01-01T00:00:00%2B05:00").status_code == 400


def test_a_derived_topic_key_too_long_for_the_column_is_a_400(admin_api):
    line = admin_api.post("/api/v1/signal-topics/", {"key": "l" * 150, "label": "Long line"})
    assert line.status_code == 201
    child = admin_api.post("/api/v1/signal-topics/", {"label": "Dashboards", "parent": "l" * 150})
    assert child.status_code == 400 and "150" in child.json()["key"][0]


def test_each_signal_is_parsed_once_and_its_properties_stored_as_sent(admin_api, acme, monkeypatch):
    from signals_app import parsing

    calls = []
    real = parsing.parse_signal
    monkeypatch.setattr(parsing, "parse_signal", lambda row: calls.append(row) or real(row))
    body = [signal(message_id=f"p-{i}", properties={"n": i, "é": [1.5, None, {"x": "y"}]}) for i in range(3)]
    assert admin_api.post("/api/v1/signals/", body, format="json").status_code == 201
    assert len(calls) == 3 and all("properties" not in row for row in calls)
    stored = Signal.objects.get(idempotency_key="p-2")
    assert stored.properties == {"n": 2, "é": [1.5, None, {"x": "y"}]}


def test_a_signal_without_message_id_keeps_the_key_its_content_always_gave(admin_api, acme):
    from signals_app import parsing

    sent = signal(message_id=None, occurred_at="2026-03-01T12:00:00+02:00", properties={"plan": "pro"})
    assert admin_api.post("/api/v1/signals/", sent, format="json").status_code == 201
    as_text = {**{k: v for k, v in sent.items() if v is not None}, "occurred_at": "2026-03-01T10:00:00+00:00",
               "properties": '{"plan": "pro"}'}  # fmt: skip
    assert Signal.objects.get().idempotency_key == parsing.row_fingerprint(as_text, parsing.SIGNAL_COLUMNS)
