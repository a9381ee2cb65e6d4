"""The OpenAPI schema generates cleanly and describes the keys; the docs are served without a CDN; API keys are
made in the admin with the secret shown once, and revoked there."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command

from klearly.models import ApiKey

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings_and_validates(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "http", "scheme": "bearer"}
    assert schemes["writeKey"]["scheme"] == "basic" and schemes["cookieAuth"]["in"] == "cookie"
    post_signals = schema["paths"]["/api/v1/signals/"]["post"]
    assert {"writeKey": []} in post_signals["security"]
    assert {"writeKey": []} not in schema["paths"]["/api/v1/signals/"]["get"]["security"]
    assert set(post_signals["responses"]) == {"201", "207", "400"}


def test_schema_endpoint_and_swagger_ui_are_served_locally(client):
    assert client.get("/api/schema/").status_code == 200
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_admin_makes_a_key_and_shows_the_secret_once(admin_client, admin_user):
    response = admin_client.post("/admin/klearly/apikey/add/", {"name": "CRM sync", "scope": "read"})
    assert response.status_code == 200  # the secret is in this body, not behind a redirect with a flash message
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get()
    raw = re.search(r"kla_[A-Za-z0-9_-]{40,}", response.content.decode()).group(0)
    assert ApiKey.hash_key(raw) == key.key_hash and key.prefix == raw[:12]
    assert key.created_by == admin_user and key.scope == "read"
    page = admin_client.get(f"/admin/klearly/apikey/{key.pk}/change/").content.decode()
    assert raw not in page and key.prefix in page
    listing = admin_client.get("/admin/klearly/apikey/")
    assert listing.status_code == 200 and raw not in listing.content.decode()


def test_a_new_api_key_never_travels_in_the_messages_cookie(admin_client):
    """The messages cookie is signed, not encrypted: anyone who sees it (proxy logs, a shared browser) reads it."""
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpRequest

    secret = re.compile(r"kla_[A-Za-z0-9_-]{40,}")
    response = admin_client.post("/admin/klearly/apikey/add/", {"name": "Warehouse", "scope": "admin"})
    cookie = response.cookies.get(CookieStorage.cookie_name)
    sent = CookieStorage(HttpRequest())._decode(cookie.value) if cookie else []  # signed and compressed, yet readable
    assert not any(secret.search(str(message)) for message in sent or [])
    assert not secret.search(str(admin_client.session.get("_messages", "")))  # nor in the session fallback
    raw = secret.search(response.content.decode()).group(0)
    after = admin_client.get("/admin/klearly/apikey/")
    assert raw not in after.content.decode()


def test_admin_revokes_keys_with_an_action(admin_client):
    from tests.api.conftest import bearer
    from tests.api.factories import api_key

    key, raw = api_key(ApiKey.Scope.ADMIN)
    assert bearer(raw).get("/api/v1/accounts/").status_code == 200
    admin_client.post("/admin/klearly/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert bearer(raw).get("/api/v1/accounts/").status_code == 401
