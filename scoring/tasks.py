"""Celery entry points for scoring: take ids (or nothing), call one service."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from . import services

LOCK_KEY = "scoring:rescore-marked-queued"
LOCK_SECONDS = 60  # a lost task (worker killed before it started) blocks new ones at most this long
DEBOUNCE_SECONDS = 1  # a burst of commits within this time is rescored by one task
CHUNKS_PER_RUN = 5  # then the task queues itself again, so other work on the queue is not starved


def rescore_marked_enqueue(*, countdown: float = DEBOUNCE_SECONDS) -> bool:
    """Queue ``rescore_marked`` unless one is already queued (a cache lock collapses bursts into one task)."""
    if not cache.add(LOCK_KEY, 1, timeout=LOCK_SECONDS):
        return False
    rescore_marked.apply_async(countdown=countdown)
    return True


@shared_task(acks_late=True)
def rescore_marked() -> int:
    """Rescore marked accounts a few chunks at a time; queue another run if marks remain."""
    # Released first: marks committed from now on queue a new run, this one may not see them.
    cache.delete(LOCK_KEY)
    stats = services.accounts_rescore_marked(limit=CHUNKS_PER_RUN * services.CHUNK_SIZE)
    if stats.accounts >= CHUNKS_PER_RUN * services.CHUNK_SIZE:
        rescore_marked_enqueue(countdown=0)
    return stats.accounts


ALL_LOCK_KEY = "scoring:rescore-all-queued"
ALL_DEBOUNCE_SECONDS = 5  # an admin saving several rules in a row gets one full rescore


def rescore_all_enqueue(*, countdown: float = ALL_DEBOUNCE_SECONDS) -> bool:
    """Queue a full rescore (after a configuration change) unless one is already queued."""
    if not cache.add(ALL_LOCK_KEY, 1, timeout=3600):
        return False
    rescore_all.apply_async(countdown=countdown)
    return True


@shared_task(acks_late=True)
def rescore_all() -> int:
    """Rescore every account: nightly (decay and windows move scores without new signals) and after a change to
    the scorecard."""
    cache.delete(ALL_LOCK_KEY)
    return services.accounts_rescore_all().accounts


@shared_task(acks_late=True)
def train_models() -> dict[str, str]:
    """Train new predictive model versions (weekly), activating them per the prediction settings; activation
    queues a full rescore. Returns each outcome's result in words."""
    from .predictions import models_train

    report = models_train()
    done = {o: f"v{m.version} ({'active' if o in report.activated else 'stored'})" for o, m in report.trained.items()}
    return {**done, **report.skipped}
