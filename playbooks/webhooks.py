"""Webhook deliveries: a JSON payload per playbook run, signed with HMAC-SHA256 of the body and the playbook's
secret, POSTed through ``egress.webhook_post`` (public addresses only, no redirects), every attempt logged on the
``WebhookDelivery`` row with its status code and a short summary (never the response body).

Receivers verify ``X-Klearly-Signature: sha256=<hex>`` = HMAC-SHA256(secret, timestamp + "." + body), where the
timestamp is ``X-Klearly-Timestamp`` (Unix seconds; refuse old ones to stop replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .choices import DeliveryStatus
from .egress import webhook_post
from .models import PlaybookRun, WebhookDelivery

RETRY_STATUS = {408, 425, 429}  # besides 5xx: worth trying again; other 4xx mean the receiver refuses it


def delivery_payload(*, run: PlaybookRun, detail: dict, account: Mapping[str, Any], score: dict) -> dict[str, Any]:
    """What a webhook receives about a run (plain JSON values)."""
    return {
        "event": "playbook.fired",
        "run": run.pk,
        "fired_at": run.fired_at.isoformat(),
        "playbook": {"id": run.playbook_id, "name": run.playbook.name, "variant": run.variant},
        "account": {
            "id": run.account_id,
            "external_id": account.get("external_id"),
            "name": account.get("name"),
            "owner_email": account.get("owner__email"),
            "stage": account.get("stage__key"),
        },  # fmt: skip
        "reason_key": run.reason_key,
        "reason": detail,
        "scores": {k: score.get(k) for k in ("lead", "fit", "engagement", "grade", "temperature", "qualified")},
    }


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp + "." + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


@dataclass
class Attempt:
    """The result of one delivery attempt: delivered, or when to retry (None: give up or done)."""

    delivered: bool
    retry_in: float | None


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff: base × 2^(attempt − 1) (30 s, 60 s, 120 s… by default)."""
    return float(settings.KLEARLY_WEBHOOK_BACKOFF_SECONDS) * (2 ** max(attempt - 1, 0))


def webhook_attempt(*, delivery_id: int) -> Attempt:
    """POST a delivery once and record the attempt; says whether to retry and after how long."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("playbook")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
            return Attempt(
                delivered=delivery is not None and delivery.status == DeliveryStatus.DELIVERED, retry_in=None
            )
        secret = delivery.playbook.webhook_secret if delivery.playbook else ""
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(timezone.now().timestamp()))
        sig = signature(secret=secret, timestamp=timestamp, body=body)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Klearly-Webhooks/1",
            "X-Klearly-Event": "playbook.fired",
            "X-Klearly-Delivery": str(delivery.pk),
            "X-Klearly-Timestamp": timestamp,
            "X-Klearly-Signature": sig,
        }
        answer = webhook_post(delivery.url, body=body, headers=headers, timeout=settings.KLEARLY_WEBHOOK_TIMEOUT)
        status_code = answer.status_code
        ok = status_code is not None and 200 <= status_code < 300
        error = "" if ok else answer.summary
        now = timezone.now()
        delivery.attempts += 1
        delivery.signature, delivery.status_code = sig, status_code
        delivery.error, delivery.last_attempt_at = error, now
        delivery.log = [*delivery.log, {"at": now.isoformat(), "status_code": status_code, "error": error}][-20:]
        # A refused target (not allowed) and a redirect or other 4xx will not change by trying again.
        retryable = (
            not ok and not answer.refused and (status_code is None or status_code >= 500 or status_code in RETRY_STATUS)
        )
        retry_in = None
        if ok:
            delivery.status, delivery.delivered_at, delivery.next_retry_at = DeliveryStatus.DELIVERED, now, None
        elif retryable and delivery.attempts < settings.KLEARLY_WEBHOOK_MAX_ATTEMPTS:
            retry_in = backoff_seconds(delivery.attempts)
            delivery.status, delivery.next_retry_at = DeliveryStatus.RETRYING, now + timedelta(seconds=retry_in)
        else:
            delivery.status, delivery.next_retry_at = DeliveryStatus.FAILED, None
        delivery.save()
    return Attempt(delivered=ok, retry_in=retry_in)
