"""Freshness end to end: a signal posted to the REST API over real HTTP shows in the account's scores within
2 seconds, rescored by a real Celery worker over Redis, on PostgreSQL."""

import time

import pytest
import requests

from scoring.models import AccountScore, EngagementRule
from tests.api.factories import api_key
from tests.factories import AccountFactory, SignalTypeFactory
from tests.services.conftest import wait_for

pytestmark = pytest.mark.services


def post_signal(live_server, key: str, message_id: str) -> None:
    response = requests.post(
        f"{live_server.url}/api/v1/signals/",
        json={"message_id": message_id, "account_external_id": "fresh", "type": "Demo request",
              "occurred_at": "2026-11-01T10:00:00Z"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )  # fmt: skip
    assert response.status_code == 201, response.text


def test_a_posted_signal_reaches_the_scores_within_two_seconds(celery_worker_process, live_server, settings):
    # The web process and the worker must share the cache that debounces rescoring (as in production).
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.CELERY_BROKER_URL,
                    "KEY_PREFIX": "klearly"}
    }  # fmt: skip
    from django.core.cache import cache

    from scoring.tasks import LOCK_KEY

    cache.delete(LOCK_KEY)  # not clear(): the cache shares its Redis database with the broker's queues
    demo = SignalTypeFactory(key="demo-request", label="Demo request")
    EngagementRule.objects.create(signal_type=demo, points=10, half_life_days=365, cap=100)
    account = AccountFactory(external_id="fresh")
    key = api_key("admin")[1]

    post_signal(live_server, key, "warm-up")  # the worker may still be starting: wait for its first rescore
    first = wait_for(lambda: AccountScore.objects.filter(account=account, engagement__gt=0).first(), timeout=90)

    started = time.monotonic()
    post_signal(live_server, key, "timed")
    after = wait_for(
        lambda: AccountScore.objects.filter(account=account, engagement__gt=first.engagement).first(),
        timeout=10,
        interval=0.05,
    )
    elapsed = time.monotonic() - started
    assert celery_worker_process.poll() is None
    assert elapsed <= 2.0, f"the score moved after {elapsed:.2f}s"
    assert after.engagement > first.engagement
