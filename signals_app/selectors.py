"""Reads for signals."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import IngestionSource, Signal


def signal_list_for_account(*, account_id: int, limit: int = 30) -> QuerySet[Signal]:
    """An account's latest signals with type, topic and contact joined (one query)."""
    return (
        Signal.objects.filter(account_id=account_id)
        .select_related("type", "topic", "topic__parent", "contact")
        .order_by("-occurred_at", "-id")[:limit]
    )


class _KeyCache(dict):
    """secret hash -> (expires at, key id, source): write keys are checked on every event request."""

    TTL = 30.0


WRITE_KEYS = _KeyCache()


def write_key_source(*, raw_key: str) -> tuple[int, IngestionSource] | None:
    """The active write key matching a secret and its active source, or None. Marks it used once a minute.

    Answers are kept for 30 s per process; a revocation in the admin clears this process's cache at once."""
    import time

    from django.utils import timezone

    from .models import WriteKey

    digest = WriteKey.hash_key(raw_key)
    cached = WRITE_KEYS.get(digest)
    if cached and cached[0] > time.monotonic():
        return cached[1], cached[2]
    key = (
        WriteKey.objects.select_related("source")
        .filter(key_hash=digest, revoked_at__isnull=True, source__is_active=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        WriteKey.objects.filter(pk=key.pk).update(last_used_at=now)
    if len(WRITE_KEYS) > 10_000:
        WRITE_KEYS.clear()
    WRITE_KEYS[digest] = (time.monotonic() + WRITE_KEYS.TTL, key.pk, key.source)
    return key.pk, key.source
