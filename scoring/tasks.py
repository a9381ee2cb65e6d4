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


@shared_task(acks_late=True)
def rescore_all() -> int:
    """Nightly: rescore every account so decay and windows move scores without new signals."""
    return services.accounts_rescore_all().accounts
