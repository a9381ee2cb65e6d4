"""Webhook deliveries of new runs: one pending row per run of a playbook with a webhook, a task queued per row
after commit, and the sweep's list of deliveries never attempted or overdue (``webhooks`` sends them)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from .choices import DeliveryStatus
from .matching import Firing
from .models import PlaybookRun, WebhookDelivery

logger = logging.getLogger(__name__)


def deliveries_create(
    new: list[tuple[Firing, PlaybookRun]],
    now: datetime,
    accounts: Mapping[int, Mapping[str, Any]],
    scores: dict[int, dict],
) -> list[int]:
    """One pending delivery per new run of a playbook with a webhook (one insert); returns their ids."""
    from .webhooks import delivery_payload

    rows = [
        WebhookDelivery(
            playbook=f.playbook,
            run=run,
            url=f.playbook.webhook_url,
            payload=delivery_payload(
                run=run, detail=f.detail, account=accounts.get(f.account_id) or {}, score=scores.get(f.account_id) or {}
            ),
            status=DeliveryStatus.PENDING,
            created_at=now,
        )  # fmt: skip
        for f, run in new
        if f.playbook.webhook_url
    ]
    if not rows:
        return []
    created = WebhookDelivery.objects.bulk_create(rows, batch_size=1000)
    if created and created[0].pk is None:  # a backend that does not return ids
        return list(
            WebhookDelivery.objects.filter(created_at=now, run__in=[r.run for r in rows]).values_list("pk", flat=True)
        )
    return [d.pk for d in created]


def deliveries_enqueue(ids: list[int]) -> None:
    """Queue a delivery task per id (after commit); a broker failure leaves the rows for the sweep."""
    from .tasks import webhook_deliver

    for delivery_id in ids:
        try:
            webhook_deliver.delay(delivery_id)
        except Exception:  # broker down: the delivery row stays pending; the beat sweep sends it later
            logger.exception("Could not queue webhook delivery %s", delivery_id)


def deliveries_pending_ids(*, older_than: timedelta = timedelta(minutes=5)) -> list[int]:
    """Deliveries never attempted (their task was lost, or the broker was down) or due for a retry."""
    now = timezone.now()
    late = Q(status=DeliveryStatus.PENDING, created_at__lt=now - older_than) | Q(
        status=DeliveryStatus.RETRYING, next_retry_at__lt=now - older_than
    )
    return list(WebhookDelivery.objects.filter(late).values_list("pk", flat=True)[:1000])
