"""Webhooks against a real local HTTP server (a thread): signed payloads, retries with backoff, every attempt
logged, gave-up after the limit, no retry for a refusing receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from playbooks.choices import DeliveryStatus
from playbooks.models import WebhookDelivery
from playbooks.runs import playbooks_run_score_changes
from playbooks.webhooks import backoff_seconds, webhook_attempt
from tests.factories import AccountFactory
from tests.playbooks.factories import PlaybookFactory

pytestmark = pytest.mark.django_db
SECRET = "s3cret"


class Receiver:
    """A local HTTP server answering with the queued status codes (then 200), recording each request."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.requests: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                code = outer.codes.pop(0) if outer.codes else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"thanks" if code == 200 else b"nope")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.KLEARLY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # a local receiver is internal: allowed by the operator
    r = Receiver()
    yield r
    r.close()


def fire(url: str) -> WebhookDelivery:
    PlaybookFactory(webhook_url=url, webhook_secret=SECRET, create_task=False)
    account = AccountFactory(external_id="acme")
    change = {"account": account.pk, "before": {"lead": 10.0}, "after": {"lead": 80.0}, "hits_set": [],
              "hits_cleared": []}  # fmt: skip
    stats = playbooks_run_score_changes(changes=[change], computed_at="2026-06-01T12:00:00+00:00")
    return WebhookDelivery.objects.get(pk=stats.deliveries[0])


def test_delivery_is_signed_and_logged(receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the eager delivery task runs after commit
        delivery = fire(receiver.url)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1 and delivery.status_code == 200
    assert delivery.error == "" and len(delivery.log) == 1
    (headers, body) = receiver.requests[0]
    expected = hmac.new(SECRET.encode(), headers["X-Klearly-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Klearly-Signature"] == f"sha256={expected.hexdigest()}"
    payload = json.loads(body)
    assert payload["account"]["external_id"] == "acme" and payload["event"] == "playbook.fired"
    assert payload["reason"]["summary"] == "Lead score rose to 80 (crossed 65)"


def test_failures_retry_with_backoff_then_give_up(receiver, settings):
    settings.KLEARLY_WEBHOOK_MAX_ATTEMPTS = 3
    settings.KLEARLY_WEBHOOK_BACKOFF_SECONDS = 10
    receiver.codes = [503, 500, 502]
    delivery = fire(receiver.url)
    first = webhook_attempt(delivery_id=delivery.pk)
    second = webhook_attempt(delivery_id=delivery.pk)
    assert (first.retry_in, second.retry_in) == (10, 20) == (backoff_seconds(1), backoff_seconds(2))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.next_retry_at is not None
    third = webhook_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert third.retry_in is None and delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3
    assert [entry["status_code"] for entry in delivery.log] == [503, 500, 502]
    assert webhook_attempt(delivery_id=delivery.pk).retry_in is None  # settled: no more requests
    assert len(receiver.requests) == 3


def test_a_refusing_receiver_is_not_retried_and_a_dead_one_is(receiver):
    receiver.codes = [400]
    delivery = fire(receiver.url)
    assert webhook_attempt(delivery_id=delivery.pk).retry_in is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.error == "HTTP 400"
    receiver.close()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.PENDING)
    assert webhook_attempt(delivery_id=delivery.pk).retry_in is not None  # connection refused: worth retrying
    delivery.refresh_from_db()
    assert delivery.error == "connection refused" and delivery.status_code is None


def test_the_task_asks_celery_for_a_retry_after_the_backoff(receiver, monkeypatch):
    """Off eager mode (a worker), a failed attempt becomes a Celery retry with the backoff as countdown (Celery's
    own retry is stood in for: the real one is exercised by the service suite's worker)."""
    from playbooks.tasks import webhook_deliver

    asked = []

    def retry(countdown):
        asked.append(countdown)
        return RuntimeError("retry")

    monkeypatch.setattr(webhook_deliver, "retry", retry)
    receiver.codes = [503]
    delivery = fire(receiver.url)
    webhook_deliver.push_request(is_eager=False, args=[delivery.pk], kwargs={})
    try:
        with pytest.raises(RuntimeError):
            webhook_deliver.run(delivery.pk)
    finally:
        webhook_deliver.pop_request()
    assert asked == [backoff_seconds(1)]


def test_admin_sends_a_failed_delivery_again(receiver, admin_client, django_capture_on_commit_callbacks):
    receiver.codes = [400]
    delivery = fire(receiver.url)
    webhook_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/playbooks/webhookdelivery/", {"action": "send_again", "_selected_action": [delivery.pk]}
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2


def test_the_sweep_requeues_lost_and_overdue_deliveries(receiver, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from playbooks.deliveries import deliveries_pending_ids
    from playbooks.tasks import webhooks_sweep

    delivery = fire(receiver.url)  # its task was never run (no commit here): a lost delivery
    assert deliveries_pending_ids() == []  # too recent: its task may still be on the way
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    assert deliveries_pending_ids() == [delivery.pk]
    assert webhooks_sweep.delay().get() == 1  # eager here: delivered at once
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and len(receiver.requests) == 1
