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


def write_key_source(*, raw_key: str) -> tuple[int, IngestionSource] | None:
    """The active write key matching a secret and its active source, or None. Marks it used once a minute."""
    from django.utils import timezone

    from .models import WriteKey

    key = (
        WriteKey.objects.select_related("source")
        .filter(key_hash=WriteKey.hash_key(raw_key), revoked_at__isnull=True, source__is_active=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        WriteKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key.pk, key.source
