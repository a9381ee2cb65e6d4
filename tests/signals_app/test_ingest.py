"""The Segment-compatible event endpoint, through Django's test client (real client libraries: tests/services)."""

import base64
import gzip
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.utils import timezone

from accounts.models import Account, Contact, RescoreMark
from signals_app.models import EventMapping, IngestionSource, Signal, SignalTopic, SignalType
from signals_app.services import write_key_create, write_key_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def key():
    source = IngestionSource.objects.create(name="Website", kind="segment")
    return write_key_create(source=source)[1]


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def post(client, path: str, body, key: str | None = None, **headers):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    if key:
        headers.setdefault("HTTP_AUTHORIZATION", basic(key))
    return client.post(f"/ingest/v1/{path}", data=data, content_type="application/json", **headers)


def track(n: int, **extra):
    return {"type": "track", "messageId": f"m{n}", "userId": "u1", "event": "Report Exported",
            "timestamp": "2026-03-01T10:00:00Z", **extra}  # fmt: skip


def test_a_batch_is_stored_once_even_when_retried(client, key):
    body = {"batch": [track(1), track(2)], "sentAt": "2026-03-01T10:00:00Z"}
    first = post(client, "batch", body, key)
    assert first.status_code == 200
    assert first.json() == {"success": True, "received": 2, "stored": 2, "duplicates": 0, "rejected": []}
    again = post(client, "batch", body, key)
    assert again.json()["duplicates"] == 2
    assert Signal.objects.count() == 2
    signal = Signal.objects.first()
    assert signal.type.key == "report-exported" and signal.type.label == "Report Exported"
    assert signal.contact.external_id == "u1"


def test_bad_events_are_refused_one_by_one(client, key):
    body = {
        "batch": [
            track(1),
            {"type": "track", "messageId": "x", "userId": "u1"},
            {"type": "teleport", "messageId": "y", "userId": "u1"},
            {"type": "track", "event": "E", "messageId": "z"},
            "not an object",
            track(5, timestamp="yesterday"),
            track(6, properties=[1]),
        ]
    }
    response = post(client, "batch", body, key)
    assert response.status_code == 200
    assert response.json()["stored"] == 1
    assert response.json()["rejected"] == [
        {"index": 1, "messageId": "x", "reason": "track needs an event name", "field": "event"},
        {
            "index": 2,
            "messageId": "y",
            "reason": "type 'teleport' is not one of identify, track, group, page, screen, alias",
            "field": "type",
        },
        {"index": 3, "messageId": "z", "reason": "userId or anonymousId is required", "field": "userId"},
        {"index": 4, "messageId": None, "reason": "an event must be a JSON object", "field": None},
        {
            "index": 5,
            "messageId": "m5",
            "reason": "timestamp 'yesterday' is not an ISO-8601 time",
            "field": "timestamp",
        },
        {"index": 6, "messageId": "m6", "reason": "properties must be an object", "field": "properties"},
    ]


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{not json", {}, 400, "invalid_json"),
        (b"", {}, 400, "invalid_request"),
        (b"[1]", {}, 400, "invalid_request"),
        (b'{"batch": 5}', {}, 400, "invalid_request"),
        (b"\x1f\x8b garbage", {"HTTP_CONTENT_ENCODING": "gzip"}, 400, "invalid_encoding"),
        (b"{}", {"HTTP_CONTENT_ENCODING": "br"}, 415, "unsupported_encoding"),
        (b'{"batch": [{"type": "track"}]}', {}, 400, "invalid_events"),
    ],
)
def test_bad_requests_get_a_code_and_message_never_a_500(client, key, body, headers, status, code):
    response = post(client, "batch", body, key, **headers)
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["message"]


def test_write_keys_are_accepted_every_way_clients_send_them(client, key):
    assert post(client, "track", track(1), key).status_code == 200
    assert post(client, "track", track(2), HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    assert post(client, "track", {**track(3), "writeKey": key}).status_code == 200
    assert Signal.objects.count() == 3


def test_unknown_missing_and_revoked_keys_are_refused(client, key):
    assert post(client, "track", track(1)).json()["code"] == "missing_write_key"
    assert post(client, "track", track(1), "kl_nope").status_code == 401
    from signals_app.models import WriteKey

    write_key_revoke(key=WriteKey.objects.get())
    response = post(client, "track", track(1), key)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_write_key")
    assert Signal.objects.count() == 0


def test_gzip_bodies_and_limits(client, key):
    body = gzip.compress(orjson.dumps({"batch": [track(1)]}))
    assert post(client, "batch", body, key, HTTP_CONTENT_ENCODING="gzip").json()["stored"] == 1
    huge = track(2, properties={"blob": "x" * 40_000})
    response = post(client, "batch", {"batch": [huge, track(3)]}, key)
    assert response.json()["rejected"] == [
        {"index": 0, "messageId": "m2", "reason": "the event is over 32 KB", "field": None}
    ]
    bomb = gzip.compress(b'{"batch": [' + b" " * (5 * 1024 * 1024) + b"]}")
    assert post(client, "batch", bomb, key, HTTP_CONTENT_ENCODING="gzip").status_code == 413


def test_client_clock_skew_is_corrected_from_sent_at(client, key):
    now = timezone.now()
    skewed_sent = now + timedelta(hours=2)  # the client's clock is two hours fast
    event = track(1, timestamp=(skewed_sent - timedelta(minutes=5)).isoformat())
    post(client, "batch", {"batch": [event], "sentAt": skewed_sent.isoformat()}, key)
    occurred = Signal.objects.get().occurred_at
    assert abs(occurred - (now - timedelta(minutes=5))) < timedelta(seconds=5)


def test_historical_backfill_keeps_old_timestamps(client, key):
    post(client, "batch", {"batch": [track(1, timestamp="2024-01-02T03:04:05Z")]}, key)
    assert Signal.objects.get().occurred_at.date() == datetime(2024, 1, 2, tzinfo=UTC).date()
    future = (timezone.now() + timedelta(days=3)).isoformat()
    assert "in the future" in post(client, "track", track(2, timestamp=future), key).json()["rejected"][0]["reason"]


def test_identify_group_and_anonymous_history(client, key):
    anon = {"type": "page", "messageId": "p1", "anonymousId": "anon-1", "name": "Pricing",
            "properties": {"path": "/pricing"}, "timestamp": "2026-03-01T10:00:00Z"}  # fmt: skip
    post(client, "page", anon, key)
    kept = Signal.objects.get()
    assert (kept.account, kept.contact, kept.anonymous_id) == (None, None, "anon-1")
    assert (kept.type.key, kept.properties["path"]) == ("page-view", "/pricing")

    batch = [
        {"type": "identify", "messageId": "i1", "userId": "u1", "anonymousId": "anon-1",
         "traits": {"email": "Ann@Acme.com", "firstName": "Ann", "lastName": "Lee", "title": "CTO", "plan": "pro"}},
        {"type": "group", "messageId": "g1", "userId": "u1", "groupId": "acme",
         "traits": {"name": "Acme", "website": "https://www.acme.com/", "employees": "120", "industry": "Software",
                    "tier": "gold"}},
    ]  # fmt: skip
    assert post(client, "batch", {"batch": batch}, key).json()["stored"] == 0  # no signals, only people
    ann = Contact.objects.get(external_id="u1")
    assert (ann.email, ann.first_name, ann.title, ann.traits) == ("ann@acme.com", "Ann", "CTO", {"plan": "pro"})
    acme = Account.objects.get(external_id="acme")
    assert (acme.name, acme.domain, acme.employees, acme.traits) == ("Acme", "acme.com", 120, {"tier": "gold"})
    assert ann.account == acme
    kept.refresh_from_db()
    assert (kept.contact, kept.account, kept.anonymous_id) == (ann, acme, "")
    assert RescoreMark.objects.filter(account=acme).exists()


def test_alias_links_an_anonymous_id(client, key):
    post(client, "track", {**track(1), "userId": None, "anonymousId": "a-9"}, key)
    post(client, "alias", {"type": "alias", "previousId": "a-9", "userId": "u7", "messageId": "al"}, key)
    assert Signal.objects.get().contact.external_id == "u7"


def test_track_before_group_joins_the_account_later(client, key):
    post(client, "track", track(1, userId="u2"), key)
    post(client, "group", {"type": "group", "userId": "u2", "groupId": "beta", "messageId": "g"}, key)
    assert Signal.objects.get().account.external_id == "beta"


def test_mappings_choose_type_topic_and_detail(client, key):
    pricing = SignalType.objects.create(key="pricing-page-view", label="Pricing page", category="web_visits",
                                        default_direction="inbound", default_source="marketing")  # fmt: skip
    order = SignalType.objects.create(key="order", label="Order", category="orders", default_source="sales")
    topic = SignalTopic.objects.create(key="billing", label="Billing")
    EventMapping.objects.create(kind="page", pattern="/pricing*", signal_type=pricing)
    EventMapping.objects.create(kind="track", pattern="subscription renewed", signal_type=order, detail="renewal",
                                topic=topic)  # fmt: skip
    page = {"type": "page", "messageId": "p", "userId": "u1", "properties": {"path": "/pricing/enterprise"}}
    post(client, "batch", {"batch": [page, track(2, event="Subscription Renewed")]}, key)
    got = {s.type.key: s for s in Signal.objects.select_related("type", "topic")}
    assert got["pricing-page-view"].source == "marketing"
    assert (got["order"].detail, got["order"].topic, got["order"].source) == ("renewal", topic, "sales")


def test_rate_limit_answers_429_with_retry_after(client, key, settings):
    settings.KLEARLY_INGEST_RATE = "2/min"
    from django.core.cache import cache

    cache.clear()
    assert post(client, "track", track(1), key).status_code == 200
    assert post(client, "track", track(2), key).status_code == 200
    limited = post(client, "track", track(3), key)
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    assert limited.json()["code"] == "rate_limited"


def test_a_nul_character_refuses_only_its_event(client, key):
    body = (
        b'{"batch": ['
        + orjson.dumps(track(1))
        + b', {"type": "track", "messageId": "n", "userId": "u1", "event": "A\\u0000B"}]}'
    )
    response = post(client, "batch", body, key)
    assert response.json()["stored"] == 1
    assert (
        response.json()["rejected"][0]["reason"]
        == "the event contains a NUL character (\\u0000), which cannot be stored"
    )


def test_contacts_last_activity_follows_committed_signals(client, key, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(
            client,
            "identify",
            {"type": "identify", "userId": "u1", "messageId": "i", "context": {"groupId": "acme"}},
            key,
        )
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "batch", {"batch": [track(1, timestamp="2026-03-02T10:00:00Z"), track(2)]}, key)
    assert Contact.objects.get(external_id="u1").last_seen_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "track", track(3, timestamp="2026-01-01T00:00:00Z"), key)  # older: last activity stays
    assert Contact.objects.get(external_id="u1").last_seen_at == datetime(2026, 3, 2, 10, tzinfo=UTC)


def group(n: int, **traits):
    return {"type": "group", "messageId": f"g{n}", "groupId": f"acc{n}", "userId": f"u{n}", "traits": traits,
            "timestamp": "2026-03-01T10:00:00Z"}  # fmt: skip


def identify(n: int, **traits):
    return {"type": "identify", "messageId": f"i{n}", "userId": f"p{n}", "traits": traits}


# Each used to fail the whole batch with a 500 (OverflowError, or a database refusal on PostgreSQL).
VALUES_NO_COLUMN_HOLDS = [
    (track(10, timestamp="0001-01-01T00:00:00Z", sentAt="2026-03-01T10:00:00Z"), "timestamp", "after 1900"),
    (track(11, timestamp="9999-12-31T23:59:59Z", sentAt="2020-03-01T10:00:00Z"), "timestamp", "after 1900"),
    (track(12, timestamp="9999-12-31T23:59:59Z"), "timestamp", "in the future"),
    (track(13, sentAt="0001-01-01T00:00:00Z"), "timestamp", "corrected by sentAt 0001-01-01"),
    (group(1, employees="1e400"), "traits.employees", "'1e400' is out of range (at most 2147483647)"),
    (group(2, employees=1e308), "traits.employees", "must be at most 2147483647"),
    (group(3, employees=99999999999), "traits.employees", "must be at most 2147483647"),
    (group(4, employees="-3"), "traits.employees", "must be at least 0"),
    (group(5, annualRevenue="1e20"), "traits.annualRevenue", "out of range"),
    (group(6, country="x" * 100), "traits.country", "longer than 64 characters"),
    (group(7, address={"country": "y" * 65}), "traits.address.country", "longer than 64 characters"),
    (group(8, name="n" * 256), "traits.name", "longer than 255 characters"),
    (identify(1, firstName="f" * 101), "traits.firstName", "longer than 100 characters"),
    (identify(2, email="a" * 250 + "@b.co"), "traits.email", "longer than 254 characters"),
]


def test_values_no_column_can_hold_refuse_their_event_and_the_rest_is_stored(client, key):
    bad = [event for event, _, _ in VALUES_NO_COLUMN_HOLDS]
    body = {"batch": [track(1), *bad, group(50, employees="120", country="FR"), track(2)]}
    response = post(client, "batch", body, key)
    assert response.status_code == 200
    rejected = response.json()["rejected"]
    assert [r["index"] for r in rejected] == list(range(1, len(bad) + 1))
    for refused, (event, field, words) in zip(rejected, VALUES_NO_COLUMN_HOLDS, strict=True):
        assert refused["messageId"] == event["messageId"] and refused["field"] == field, refused
        assert words in refused["reason"], refused
    assert response.json()["stored"] == 2
    assert sorted(Signal.objects.values_list("idempotency_key", flat=True)) == ["m1", "m2"]
    assert Account.objects.filter(external_id="acc50", employees=120, country="FR").exists()
    assert not Account.objects.filter(external_id__in=["acc1", "acc6", "acc8"]).exists()


def test_a_number_out_of_json_range_refuses_only_its_event(client, key):
    """orjson refuses 1e400; the body is read again leniently so only the event holding it is refused."""
    body = (
        b'{"batch": [' + orjson.dumps(track(1)) + b', {"type": "group", "messageId": "g", "groupId": "acme", '
        b'"userId": "u1", "traits": {"employees": 1e400}}, '
        b'{"type": "track", "messageId": "big", "userId": "u1", "event": "E", "properties": {"n": 1e99999}}, '
        b'{"type": "track", "messageId": "int", "userId": "u1", "event": "E", "properties": {"n": 123456789012345678901234567890}}, '
        + orjson.dumps(track(2)) + b"]}"
    )  # fmt: skip
    response = post(client, "batch", body, key)
    assert response.status_code == 200 and response.json()["stored"] == 2
    assert [(r["index"], r["field"]) for r in response.json()["rejected"]] == [
        (1, "traits.employees"), (2, "properties.n"), (3, "properties.n")
    ]  # fmt: skip
    assert "holds the number 1e400, out of range" in response.json()["rejected"][0]["reason"]
    assert post(client, "batch", b'{"batch": [NaN]}', key).json()["code"] == "invalid_json"


def test_a_value_that_is_not_a_number_stays_a_trait(client, key):
    post(client, "group", group(1, employees="about fifty"), key)
    account = Account.objects.get(external_id="acc1")
    assert account.employees is None and account.traits == {"employees": "about fifty"}
