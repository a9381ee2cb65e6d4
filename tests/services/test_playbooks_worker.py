"""Playbooks end to end: a signal posted to the API over real HTTP moves a score over a threshold, the real Celery
worker rescores the account and runs the playbook, the task appears through the API, and the playbook's webhook is
delivered by the worker to a real local HTTP server after a failed first attempt (Celery retry with backoff)."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from playbooks.choices import DeliveryStatus
from playbooks.models import Playbook, WebhookDelivery
from scoring.models import EngagementRule
from tests.api.factories import api_key
from tests.factories import AccountFactory, SignalTypeFactory, UserFactory
from tests.services.conftest import wait_for

pytestmark = pytest.mark.services


@pytest.fixture
def quick_webhook_retries(monkeypatch):
    """The worker (started after this fixture) retries a failed delivery after 1 s instead of 30 s, and may call the
    local receiver (an internal address, so allowed by name)."""
    monkeypatch.setenv("KLEARLY_WEBHOOK_BACKOFF_SECONDS", "1")
    monkeypatch.setenv("KLEARLY_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")


@pytest.fixture
def receiver():
    """A local HTTP server: 503 to the first request, 200 after; records bodies and signatures."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"body": body, "signature": self.headers["X-Klearly-Signature"]})
            self.send_response(503 if len(seen) == 1 else 200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", seen
    server.shutdown()
    server.server_close()


def test_a_posted_signal_opens_a_task_through_the_worker(quick_webhook_retries, celery_worker_process, live_server,
                                                         settings, receiver):  # fmt: skip
    settings.CACHES = {  # the web process and the worker share the rescoring debounce, as in production
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.CELERY_BROKER_URL,
                    "KEY_PREFIX": "klearly"}
    }  # fmt: skip
    from django.core.cache import cache

    from scoring.tasks import LOCK_KEY

    cache.delete(LOCK_KEY)
    url, seen = receiver
    demo = SignalTypeFactory(key="demo-request", label="Demo request")
    EngagementRule.objects.create(signal_type=demo, points=10, half_life_days=None, cap=100)  # no decay: 20 points
    owner = UserFactory(username="cs.alice")
    AccountFactory(external_id="hot", name="Hot Lead Inc", owner=owner)
    Playbook.objects.create(
        name="Engaged: call now", trigger_kind="score_crossing",
        trigger_params={"score": "engagement", "threshold": 15, "direction": "up"},
        task_title_template="Call {{ account.name }}", task_body_template="{{ reason.summary }}",
        webhook_url=url, webhook_secret="s3cret", cooldown_days=7,
    )  # fmt: skip
    key = api_key("admin")[1]
    signals = [{"message_id": f"m-{i}", "account_external_id": "hot", "type": "Demo request",
                "occurred_at": "2026-11-01T10:00:00Z"} for i in range(2)]  # fmt: skip
    response = requests.post(f"{live_server.url}/api/v1/signals/", json=signals,
                             headers={"Authorization": f"Bearer {key}"}, timeout=10)  # fmt: skip
    assert response.status_code == 201, response.text

    def task_listed():
        listed = requests.get(f"{live_server.url}/api/v1/tasks/?account=hot",
                              headers={"Authorization": f"Bearer {key}"}, timeout=10).json()  # fmt: skip
        return listed["results"]

    (task,) = wait_for(task_listed, timeout=90)
    assert task["title"] == "Call Hot Lead Inc" and task["assignee_username"] == "cs.alice"
    assert task["body"] == "Engagement rose to 20 (crossed 15)"
    # The owner logs in to the web inbox over real HTTP and finds the task in "My tasks", with its reason.
    owner.set_password("klearly-demo")
    owner.save()
    web = requests.Session()
    login = web.get(f"{live_server.url}/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    inbox = web.post(f"{live_server.url}/login/", timeout=10, headers={"Referer": login.url},
                     data={"username": "cs.alice", "password": "klearly-demo", "csrfmiddlewaretoken": token, "next": "/"})  # fmt: skip
    assert inbox.status_code == 200 and inbox.url.rstrip("/") == live_server.url
    assert "Call Hot Lead Inc" in inbox.text and "Engagement rose to 20 (crossed 15)" in inbox.text
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).first(), timeout=60, interval=0.3
    )
    assert delivery.attempts == 2 and [entry["status_code"] for entry in delivery.log] == [503, 200]
    assert len(seen) == 2 and seen[1]["signature"].startswith("sha256=")
    assert celery_worker_process.poll() is None
