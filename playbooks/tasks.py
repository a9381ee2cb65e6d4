"""Celery entry points for playbooks: take plain values, call one service, declare retries."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import OperationalError

from . import deliveries, goals, runs, services, webhooks

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=5, retry_jitter=True, max_retries=5)
def playbooks_run(kind: str, payload: dict[str, Any]) -> int:
    """Run the playbooks for a batch of changes (``kind``: scores, stages or segments); returns the runs created.
    Idempotent: a retried batch (a lost connection, a deadlock, a worker killed before its ack) adds no run, task or
    delivery twice."""
    if kind == "scores":
        stats = runs.playbooks_run_score_changes(changes=payload["changes"], computed_at=payload["computed_at"])
    elif kind == "stages":
        stats = runs.playbooks_run_stage_movements(movements=payload["movements"])
    elif kind == "segments":
        stats = runs.playbooks_run_segment_changes(
            segment_id=payload["segment"], entered=payload["entered"], left=payload["left"], at=payload["at"]
        )
    else:
        raise ValueError(f"unknown change kind {kind!r}")
    return stats.runs


@shared_task(bind=True, acks_late=True, max_retries=None)
def webhook_deliver(self: Any, delivery_id: int) -> bool:
    """POST one webhook delivery; on failure retry with exponential backoff up to KLEARLY_WEBHOOK_MAX_ATTEMPTS.
    In eager mode (no broker) a failed delivery is not retried inline: the row says when it is due, and the
    beat sweep (or an admin) sends it again."""
    attempt = webhooks.webhook_attempt(delivery_id=delivery_id)
    if attempt.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=attempt.retry_in)
    return attempt.delivered


@shared_task(acks_late=True)
def webhooks_sweep() -> int:
    """Queue deliveries that were never attempted or whose retry is long overdue (a lost task, a broker outage)."""
    ids = deliveries.deliveries_pending_ids()
    for delivery_id in ids:
        webhook_deliver.delay(delivery_id)
    return len(ids)


@shared_task(acks_late=True)
def playbook_goals_check() -> int:
    """Record goals reached and settle runs past their deadline (beat, hourly)."""
    return goals.playbook_goals_check()


@shared_task(acks_late=True)
def tasks_wake() -> int:
    """Reopen snoozed tasks whose date has come (beat, every few minutes)."""
    return services.tasks_wake()
