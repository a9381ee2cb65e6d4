"""One rate limiter (``klearly.rate_limits``): a write key has one budget on the event endpoint and the REST API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings

from klearly.rate_limits import rate_parse, rate_wait
from tests.api.conftest import bearer
from tests.factories import AccountFactory
from tests.signals_app.test_ingest import post, track

pytestmark = pytest.mark.django_db
SIGNAL = {"account_external_id": "acme", "type": "Login", "occurred_at": "2026-03-01T10:00:00Z"}


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


@override_settings(KLEARLY_INGEST_RATE="2/min")
def test_a_write_key_has_one_budget_for_events_and_the_rest_api(client):
    from signals_app.models import IngestionSource
    from signals_app.services import write_key_create

    AccountFactory(external_id="acme")
    _, raw = write_key_create(source=IngestionSource.objects.create(name="Website", kind="segment"))
    assert post(client, "track", track(1), raw).status_code == 200
    assert bearer(raw).post("/api/v1/signals/", {**SIGNAL, "message_id": "a"}, format="json").status_code == 201
    api = bearer(raw).post("/api/v1/signals/", {**SIGNAL, "message_id": "b"}, format="json")
    events = post(client, "track", track(2), raw)
    assert (api.status_code, events.status_code) == (429, 429)
    assert 1 <= int(api["Retry-After"]) <= 60 and 1 <= int(events["Retry-After"]) <= 60


def test_a_window_counts_each_caller_apart():
    assert [rate_wait(ident="a", rate="2/hour") > 0 for _ in range(3)] == [False, False, True]
    assert rate_wait(ident="b", rate="2/hour") == 0
    assert rate_wait(ident="a", rate="") == 0  # an empty rate: no limit
    assert rate_parse("1200/min") == (1200, 60) and rate_parse("5/day") == (5, 86400)


@pytest.mark.parametrize(
    ("env", "rate"),
    [
        ({}, "6000/min"),
        ({"KLEARLY_EVENTS_REQUESTS_PER_MINUTE": "300"}, "300/min"),
        ({"KLEARLY_EVENTS_REQUESTS_PER_MINUTE": "0"}, ""),
        ({"KLEARLY_EVENTS_REQUESTS_PER_MINUTE": "300", "KLEARLY_INGEST_RATE": "50/s"}, "50/s"),
    ],
)
def test_the_older_events_setting_is_read_when_the_ingest_rate_is_not_set(env, rate):
    clean = {
        k: v for k, v in os.environ.items() if k not in ("KLEARLY_INGEST_RATE", "KLEARLY_EVENTS_REQUESTS_PER_MINUTE")
    }
    out = subprocess.run(
        [sys.executable, "-c", "import klearly.settings as s; print(repr(s.KLEARLY_INGEST_RATE))"],
        env={**clean, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == repr(rate)
