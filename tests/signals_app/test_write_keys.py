"""Write keys: made in the admin with the secret shown once in the page (never in the messages cookie), and refused
by every process as soon as they are revoked or their source is disabled, for the same reason everywhere."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest
from django.utils import timezone

from signals_app import selectors
from signals_app.choices import UpdatePolicy
from signals_app.models import IngestionSource, Signal, WriteKey
from signals_app.services import write_key_create
from tests.signals_app.test_ingest import post, track

pytestmark = pytest.mark.django_db
SECRET = re.compile(r"kl_[A-Za-z0-9_-]{40,}")


def test_the_admin_action_shows_new_write_keys_once_in_the_page(admin_client):
    web = IngestionSource.objects.create(name="Website", kind="segment")
    app = IngestionSource.objects.create(name="App", kind="segment")
    response = admin_client.post(
        "/admin/signals_app/ingestionsource/", {"action": "create_write_key", "_selected_action": [web.pk, app.pk]}
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    cookie = response.cookies.get(CookieStorage.cookie_name)
    sent = CookieStorage(HttpRequest())._decode(cookie.value) if cookie else []
    assert not any(SECRET.search(str(message)) for message in sent or [])
    shown = SECRET.findall(response.content.decode())
    assert len(shown) == 2
    assert {WriteKey.hash_key(raw) for raw in shown} == set(WriteKey.objects.values_list("key_hash", flat=True))
    listing = admin_client.get("/admin/signals_app/ingestionsource/").content.decode()
    assert not SECRET.search(listing)


class Process:
    """Another web process: its own cache of key lookups (what ``selectors.WRITE_KEYS`` is in each gunicorn worker);
    the database is the one thing processes share."""

    def __init__(self) -> None:
        self.cache = selectors._KeyCache()

    def lookup(self, raw: str):
        saved = selectors.WRITE_KEYS
        selectors.WRITE_KEYS = self.cache
        try:
            key = selectors.write_key_get(raw_key=raw)
            return key.pk, key.source
        except selectors.WriteKeyRefused:
            return None
        finally:
            selectors.WRITE_KEYS = saved


def revoke_elsewhere(key: WriteKey) -> None:
    """Revoke as another process does: a row update whose model signals never reach this process's caches."""
    WriteKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())


def test_a_revoked_key_is_refused_at_once_by_a_process_that_had_it_cached():
    source = IngestionSource.objects.create(name="Website", kind="segment")
    key, raw = write_key_create(source=source)
    web1, web2 = Process(), Process()
    assert web1.lookup(raw)[0] == key.pk and web2.lookup(raw)[0] == key.pk
    assert web2.cache  # warm: the lookup is cached for 30 s, and confirmed on every use
    revoke_elsewhere(key)
    assert web2.lookup(raw) is None
    assert web1.lookup(raw) is None


def test_a_disabled_source_and_its_new_settings_are_seen_at_once():
    source = IngestionSource.objects.create(name="Website", kind="segment")
    _, raw = write_key_create(source=source)
    web = Process()
    web.lookup(raw)
    IngestionSource.objects.filter(pk=source.pk).update(update_policy=UpdatePolicy.ALL, owned_fields=["account.name"])
    cached_source = web.lookup(raw)[1]
    assert (cached_source.update_policy, cached_source.owned_fields) == (UpdatePolicy.ALL, ["account.name"])
    IngestionSource.objects.filter(pk=source.pk).update(is_active=False)
    assert web.lookup(raw) is None


def test_the_event_endpoint_refuses_a_key_revoked_by_another_process(client):
    source = IngestionSource.objects.create(name="Website", kind="segment")
    key, raw = write_key_create(source=source)
    assert post(client, "track", track(1), raw).status_code == 200  # now in this process's cache
    revoke_elsewhere(key)
    response = post(client, "track", track(2), raw)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_write_key")
    assert Signal.objects.count() == 1


def test_a_cached_key_costs_one_query_to_confirm(client, django_assert_num_queries):
    source = IngestionSource.objects.create(name="Website", kind="segment")
    _, raw = write_key_create(source=source)
    selectors.write_key_get(raw_key=raw)
    with django_assert_num_queries(1):
        selectors.write_key_get(raw_key=raw)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda key: None, "unknown key"),
        (lambda key: WriteKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now()), "was revoked on"),
        (lambda key: IngestionSource.objects.filter(pk=key.source_id).update(is_active=False), "is disabled"),
    ],
)
def test_the_event_endpoint_and_the_rest_api_refuse_a_key_for_the_same_reason(client, make, reason):
    from tests.api.conftest import bearer

    key, raw = write_key_create(source=IngestionSource.objects.create(name="Server", kind="api"))
    make(key)
    raw = raw if reason != "unknown key" else raw[:-4] + "nope"
    with pytest.raises(selectors.WriteKeyRefused, match=reason):
        selectors.write_key_get(raw_key=raw)
    events = post(client, "track", track(1), raw)
    assert (events.status_code, events.json()["code"]) == (401, "invalid_write_key")
    assert reason in events.json()["message"]
    api = bearer(raw).post("/api/v1/signals/", {}, format="json")
    assert api.status_code == 401 and reason in api.json()["detail"]


def test_the_rest_api_refuses_a_key_revoked_by_another_process(db):
    from tests.api.conftest import bearer

    key, raw = write_key_create(source=IngestionSource.objects.create(name="Server", kind="api"))
    body = {"message_id": "m", "account_external_id": "nobody", "type": "Demo", "occurred_at": "2026-03-01"}
    assert bearer(raw).post("/api/v1/signals/", body, format="json").status_code == 400  # accepted key, bad row
    revoke_elsewhere(key)
    assert bearer(raw).post("/api/v1/signals/", body, format="json").status_code == 401
