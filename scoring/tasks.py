"""Celery entry points for scoring: take ids (or nothing), call one service."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from accounts.selectors import marks_waiting
from klearly.outages import BROKER_ERRORS, CACHE_ERRORS, warn_unavailable

from . import services

logger = logging.getLogger(__name__)

LOCK_KEY = "scoring:rescore-marked-queued"
LOCK_SECONDS = 60  # a lost task (worker killed before it started) blocks new ones at most this long
DEBOUNCE_SECONDS = 1  # a burst of commits within this time is rescored by one task
CHUNKS_PER_RUN = 5  # then the task queues itself again, so other work on the queue is not starved
SWEEP_AFTER_SECONDS = 60  # marks older than this were missed by the debounced path (broker down, task lost)
WORKER_START_KEY = "scoring:rescore-on-worker-start"
WORKER_START_SECONDS = 30  # several workers starting together queue one rescore


def _enqueue_once(task: Any, *, lock_key: str, lock_seconds: int, countdown: float, force: bool, what: str) -> bool:
    """Queue ``task`` unless its cache lock says one is already queued (``force`` queues it even so). Never raises
    because Redis is down: without the cache it is queued without the debounce; without the broker nothing is
    queued, the lock is released and the marks (in PostgreSQL) wait for the next enqueue or a sweep."""
    try:
        if not cache.add(lock_key, 1, timeout=lock_seconds) and not force:
            return False
    except CACHE_ERRORS as exc:
        warn_unavailable(logger, "cache", f"{what} are queued without the debounce", exc)
    try:
        task.apply_async(countdown=countdown)
    except BROKER_ERRORS as exc:
        warn_unavailable(logger, "broker", f"{what} are not queued; the sweeps catch up", exc)
        _lock_release(lock_key)
        return False
    return True


def rescore_marked_enqueue(*, countdown: float = DEBOUNCE_SECONDS, force: bool = False) -> bool:
    """Queue ``rescore_marked`` unless one is already queued (a cache lock collapses bursts into one task); ``force``
    queues one even so (the lock may belong to a message lost with a killed worker). Never raises."""
    return _enqueue_once(
        rescore_marked, lock_key=LOCK_KEY, lock_seconds=LOCK_SECONDS, countdown=countdown, force=force,
        what="rescores",
    )  # fmt: skip


def _lock_release(key: str) -> None:
    try:
        cache.delete(key)
    except CACHE_ERRORS as exc:
        warn_unavailable(logger, "cache", "a rescore lock could not be released (it expires by itself)", exc)


def rescore_marked_on_worker_start() -> bool:
    """A worker started: queue a rescore if accounts are marked (work a killed worker left, whose message Redis only
    gives back after the visibility timeout). Once for several workers starting within 30 s."""
    if not marks_waiting():
        return False
    try:
        if not cache.add(WORKER_START_KEY, 1, timeout=WORKER_START_SECONDS):
            return False
    except CACHE_ERRORS as exc:
        warn_unavailable(logger, "cache", "rescore on worker start without dedupe", exc)
    return rescore_marked_enqueue(countdown=0, force=True)


@shared_task(acks_late=True)
def rescore_marked() -> int:
    """Rescore marked accounts a few chunks at a time; queue another run if marks remain."""
    # Released first: marks committed from now on queue a new run, this one may not see them.
    _lock_release(LOCK_KEY)
    stats = services.accounts_rescore_marked(limit=CHUNKS_PER_RUN * services.CHUNK_SIZE)
    if stats.accounts >= CHUNKS_PER_RUN * services.CHUNK_SIZE:
        rescore_marked_enqueue(countdown=0)
    return stats.accounts


@shared_task(acks_late=True)
def rescore_marked_sweep() -> bool:
    """Beat, every minute: queue a rescore when marks have waited longer than the debounced path takes (the broker
    was down when they were written, or their task was lost with a killed worker). One EXISTS when there are none."""
    if not marks_waiting(marked_before=timezone.now() - timedelta(seconds=SWEEP_AFTER_SECONDS)):
        return False
    return rescore_marked_enqueue(countdown=0)


ALL_LOCK_KEY = "scoring:rescore-all-queued"
ALL_DEBOUNCE_SECONDS = 5  # an admin saving several rules in a row gets one full rescore


def rescore_all_enqueue(*, countdown: float = ALL_DEBOUNCE_SECONDS) -> bool:
    """Queue a full rescore (after a configuration change) unless one is already queued; never raises (broker down:
    the nightly rescore catches up)."""
    return _enqueue_once(
        rescore_all, lock_key=ALL_LOCK_KEY, lock_seconds=3600, countdown=countdown, force=False,
        what="full rescores",
    )  # fmt: skip


@shared_task(acks_late=True)
def rescore_all() -> int:
    """Rescore every account: nightly (decay and windows move scores without new signals) and after a change to
    the scorecard."""
    _lock_release(ALL_LOCK_KEY)
    return services.accounts_rescore_all().accounts


@shared_task(acks_late=True)
def train_models() -> dict[str, str]:
    """Train new predictive model versions (weekly), activating them per the prediction settings; activation
    queues a full rescore. Returns each outcome's result in words."""
    from .predictions import models_train

    report = models_train()
    done = {o: f"v{m.version} ({'active' if o in report.activated else 'stored'})" for o, m in report.trained.items()}
    return {**done, **report.skipped}
