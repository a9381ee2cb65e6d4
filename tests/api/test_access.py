"""Who may do what, on every endpoint: write keys (ingest scope), read keys, admin keys, operators' sessions with
and without model permissions, anonymous callers, unknown and revoked keys. Plus throttling and last-used times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from klearly.models import ApiKey
from klearly.services import api_key_revoke
from signals_app.models import Signal, WriteKey
from signals_app.services import write_key_revoke
from tests.api.conftest import basic, bearer, grant
from tests.api.factories import api_key, write_key
from tests.factories import IngestionSourceFactory, UserFactory

pytestmark = pytest.mark.django_db

SIGNAL = {"message_id": "m-1", "account_external_id": "acme", "type": "Demo request", "occurred_at": "2026-03-01"}


@dataclass(frozen=True)
class Op:
    method: str
    url: str
    ok: int  # the status of a caller who may do it
    perm: str | None = None  # the Django model permission an operator needs (None: a read)
    body: dict | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.url}"

    def call(self, client: APIClient, world: dict):
        url = self.url.format(transition=world["transition"].pk, segment=world["segment"].pk, signal=world["signal"].pk)
        return getattr(client, self.method.lower())(url, self.body, format="json")


def crud(base: str, item: str, app: str, model: str, create: dict, change: dict, replace: dict) -> list[Op]:
    return [
        Op("GET", base, 200),
        Op("GET", f"{base}{item}/", 200),
        Op("POST", base, 201, f"{app}.add_{model}", create),
        Op("PUT", f"{base}{item}/", 200, f"{app}.change_{model}", replace),
        Op("PATCH", f"{base}{item}/", 200, f"{app}.change_{model}", change),
        Op("DELETE", f"{base}{item}/", 204, f"{app}.delete_{model}"),
    ]


OPS = [
    *crud("/api/v1/accounts/", "acme", "accounts", "account", {"external_id": "new"}, {"name": "Acme Inc"},
          {"external_id": "acme", "name": "Acme Inc"}),
    *crud("/api/v1/contacts/", "ada", "accounts", "contact", {"external_id": "new", "account_external_id": "acme"},
          {"title": "CTO"}, {"external_id": "ada", "title": "CTO"}),
    Op("GET", "/api/v1/signals/", 200),
    Op("GET", "/api/v1/signals/{signal}/", 200),
    Op("POST", "/api/v1/signals/", 201, "signals_app.add_signal", SIGNAL),
    *crud("/api/v1/signal-types/", "demo", "signals_app", "signaltype", {"label": "Webinar"}, {"label": "Demo"},
          {"label": "Demo"})[:5],
    Op("DELETE", "/api/v1/signal-types/unused/", 204, "signals_app.delete_signaltype"),
    *crud("/api/v1/signal-topics/", "spare", "signals_app", "signaltopic", {"label": "Billing"}, {"label": "Extra"},
          {"label": "Extra"}),
    Op("GET", "/api/v1/journey-stages/", 200),
    Op("GET", "/api/v1/journey-stages/trial/", 200),
    Op("POST", "/api/v1/journey-stages/", 201, "accounts.add_journeystage", {"key": "pilot", "name": "Pilot"}),
    Op("PUT", "/api/v1/journey-stages/trial/", 200, "accounts.change_journeystage",
       {"key": "trial", "name": "Free trial", "kind": "free"}),
    Op("PATCH", "/api/v1/journey-stages/trial/", 200, "accounts.change_journeystage", {"name": "Free trial"}),
    Op("GET", "/api/v1/stage-transitions/", 200),
    Op("GET", "/api/v1/stage-transitions/{transition}/", 200),
    Op("POST", "/api/v1/stage-transitions/", 201, "accounts.add_stagetransition",
       {"account_external_id": "acme", "stage": "starter", "changed_at": "2026-02-01T00:00:00Z"}),
    *crud("/api/v1/segments/", "{segment}", "accounts", "segment", {"name": "Big"}, {"description": "all"},
          {"name": "Everyone", "is_active": False}),
    Op("GET", "/api/v1/segments/{segment}/members/", 200),
]  # fmt: skip
READS = [op for op in OPS if op.method == "GET"]
WRITES = [op for op in OPS if op.method != "GET"]


@pytest.mark.parametrize("op", OPS, ids=str)
def test_admin_key_may_do_everything(op, world, admin_api):
    response = op.call(admin_api, world)
    assert response.status_code == op.ok, response.content


@pytest.mark.parametrize("op", READS, ids=str)
def test_read_key_reads_everything(op, world, read_api):
    assert op.call(read_api, world).status_code == 200


@pytest.mark.parametrize("op", WRITES, ids=str)
def test_read_key_writes_nothing(op, world, read_api):
    response = op.call(read_api, world)
    assert response.status_code == 403
    assert "read scope" in response.json()["detail"]


@pytest.mark.parametrize("op", [op for op in OPS if str(op) != "POST /api/v1/signals/"], ids=str)
def test_write_key_may_do_nothing_but_send_signals(op, world, write_api):
    response = op.call(write_api, world)
    assert response.status_code == 403
    assert "write key may only send signals" in response.json()["detail"]


def test_write_key_sends_signals_as_bearer_and_as_basic_username(world):
    key, raw = write_key()
    assert bearer(raw).post("/api/v1/signals/", SIGNAL, format="json").status_code == 201
    response = basic(raw).post("/api/v1/signals/", {**SIGNAL, "message_id": "m-2"}, format="json")
    assert response.status_code == 201
    assert Signal.objects.filter(ingestion_source=key.source).count() == 2


@pytest.mark.parametrize("op", OPS, ids=str)
def test_anonymous_callers_are_asked_to_authenticate(op, world):
    response = op.call(APIClient(), world)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def own(world: dict, user) -> None:
    """Make the operator the owner of the world's account: the web shows it to them (tests/api/test_visibility.py
    covers the accounts they may not see)."""
    world["acme"].owner = user
    world["acme"].save(update_fields=["owner"])


@pytest.mark.parametrize("op", READS, ids=str)
def test_operator_session_reads_what_the_web_shows_them(op, world, operator):
    own(world, operator.user)
    assert op.call(operator, world).status_code == 200


@pytest.mark.parametrize("op", WRITES, ids=str)
def test_operator_session_needs_the_model_permission_to_write(op, world, operator):
    own(world, operator.user)
    denied = op.call(operator, world)
    assert denied.status_code == 403
    assert op.perm in denied.json()["detail"]
    grant(operator.user, op.perm)
    operator.force_login(type(operator.user).objects.get(pk=operator.user.pk))  # a fresh user: no perm cache
    assert op.call(operator, world).status_code == op.ok


@pytest.mark.parametrize("op", OPS, ids=str)
def test_superuser_session_may_do_everything(op, world, superuser_api):
    assert op.call(superuser_api, world).status_code == op.ok


@pytest.mark.parametrize("op", [OPS[0], OPS[2], OPS[14]], ids=str)
def test_unknown_and_revoked_keys_get_401_with_the_reason(op, world):
    unknown = op.call(bearer("kla_not-a-key"), world)
    assert unknown.status_code == 401
    assert "unknown key" in unknown.json()["detail"]
    assert op.call(bearer("kl_not-a-write-key"), world).status_code == 401

    key, raw = api_key(ApiKey.Scope.ADMIN)
    api_key_revoke(key=key)
    revoked = op.call(bearer(raw), world)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["detail"]

    wkey, wraw = write_key()
    write_key_revoke(key=wkey)
    assert "revoked" in op.call(basic(wraw), world).json()["detail"]


@pytest.mark.parametrize(
    "header",
    ["Token abc", "Bearer", "Bearer a b", "Basic !!!notbase64", "Basic " + "Og==", "Bearer " + "x" * 500],
)
def test_malformed_authorization_headers_get_401(header, world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_write_key_of_a_disabled_source_is_refused(world):
    key, raw = write_key()
    IngestionSourceFactory._meta.model.objects.filter(pk=key.source_id).update(is_active=False)
    response = bearer(raw).post("/api/v1/signals/", SIGNAL, format="json")
    assert response.status_code == 401
    assert "disabled" in response.json()["detail"]


def test_last_used_at_is_written_at_most_once_a_minute_per_key(world, django_assert_num_queries):
    key, raw = api_key(ApiKey.Scope.READ)
    client = bearer(raw)
    assert client.get("/api/v1/journey-stages/").status_code == 200
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    for _ in range(3):
        client.get("/api/v1/journey-stages/")
    key.refresh_from_db()
    assert key.last_used_at == first  # no write per request

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/journey-stages/")
    key.refresh_from_db()
    assert key.last_used_at > first

    wkey, wraw = write_key()
    bearer(wraw).post("/api/v1/signals/", SIGNAL, format="json")
    assert WriteKey.objects.get(pk=wkey.pk).last_used_at is not None


def test_a_request_within_the_minute_makes_no_write(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    key, raw = api_key(ApiKey.Scope.READ)
    client = bearer(raw)
    client.get("/api/v1/journey-stages/")
    with CaptureQueriesContext(connection) as ctx:
        client.get("/api/v1/journey-stages/")
    assert not [q for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]


@override_settings(KLEARLY_API_RATE="3/min")
def test_an_api_key_over_its_rate_gets_429_with_retry_after(world):
    key, raw = api_key(ApiKey.Scope.READ)
    client = bearer(raw)
    for _ in range(3):
        assert client.get("/api/v1/accounts/").status_code == 200
    throttled = client.get("/api/v1/accounts/")
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 60
    # The budget is per key: another key is not throttled.
    assert bearer(api_key(ApiKey.Scope.READ)[1]).get("/api/v1/accounts/").status_code == 200


@override_settings(KLEARLY_INGEST_RATE="2/min", KLEARLY_API_RATE="1000/min")
def test_write_keys_have_their_own_ingest_rate(world):
    key, raw = write_key()
    client = bearer(raw)
    for i in range(2):
        assert client.post("/api/v1/signals/", {**SIGNAL, "message_id": f"r{i}"}, format="json").status_code == 201
    throttled = client.post("/api/v1/signals/", {**SIGNAL, "message_id": "r3"}, format="json")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1


@override_settings(KLEARLY_API_RATE="2/min")
def test_sessions_are_throttled_per_operator(world):
    first, second = APIClient(), APIClient()
    first.force_login(UserFactory(username="one"))
    second.force_login(UserFactory(username="two"))
    assert [first.get("/api/v1/accounts/").status_code for _ in range(3)] == [200, 200, 429]
    assert second.get("/api/v1/accounts/").status_code == 200


@override_settings(KLEARLY_API_RATE="")
def test_an_empty_rate_turns_throttling_off(world, read_api):
    assert {read_api.get("/api/v1/journey-stages/").status_code for _ in range(5)} == {200}


def test_api_key_secret_is_hashed_and_prefixed(db):
    key, raw = api_key(ApiKey.Scope.READ)
    assert raw.startswith("kla_") and len(raw) > 40
    assert key.key_hash == ApiKey.hash_key(raw) and raw not in key.key_hash
    assert key.prefix == raw[:12]
    assert timezone.now() - key.created_at < timedelta(minutes=1)


@pytest.mark.parametrize("op", READS, ids=str)
def test_options_and_head_answer_every_reader(op, world, read_api):
    url = op.url.format(transition=world["transition"].pk, segment=world["segment"].pk, signal=world["signal"].pk)
    assert read_api.options(url).status_code == 200
    assert read_api.head(url).status_code == 200


def test_the_api_index_lists_the_endpoints_to_readers_only(world, read_api, write_api):
    index = read_api.get("/api/v1/")
    assert index.status_code == 200
    assert index.json()["accounts"].endswith("/api/v1/accounts/")
    assert APIClient().get("/api/v1/").status_code == 401
    assert write_api.get("/api/v1/").status_code == 403
