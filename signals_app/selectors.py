"""Reads for signals: signals (an account's, the API's lists), types and topics, the traits history, write keys."""

from __future__ import annotations

import time

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account, Contact

from .models import IngestionSource, Signal, SignalTopic, SignalType, WriteKey


def signal_list_for_account(*, account_id: int, limit: int = 30) -> QuerySet[Signal]:
    """An account's latest signals with type, topic and contact joined (one query)."""
    return (
        Signal.objects.filter(account_id=account_id)
        .select_related("type", "topic", "topic__parent", "contact")
        .order_by("-occurred_at", "-id")[:limit]
    )


def signal_list() -> QuerySet[Signal]:
    """Signals, newest first, with account, contact, type, topic (and its line) and source joined."""
    return Signal.objects.select_related(
        "account", "contact", "type", "topic", "topic__parent", "ingestion_source"
    ).order_by("-occurred_at", "-id")


def signal_type_list() -> QuerySet[SignalType]:
    """Signal types by label."""
    return SignalType.objects.order_by("label", "id")


def signal_topic_list() -> QuerySet[SignalTopic]:
    """Topics by key (a product line before its types), with the line joined."""
    return SignalTopic.objects.select_related("parent").order_by("key", "id")


def traits_history_for(*, account: Account | None = None, contact: Contact | None = None, limit: int = 20) -> QuerySet:
    """The latest changes sources sent for an account or a contact but may not make, newest first, source joined."""
    from .models import TraitsHistory

    rows = TraitsHistory.objects.select_related("source").order_by("-received_at", "-id")
    rows = rows.filter(account=account) if account is not None else rows.filter(contact=contact)
    return rows[:limit]


class _KeyCache(dict):
    """secret hash -> (expires at, write key with its source): the ORM lookup of a write key, kept per process. Each
    use is confirmed by one indexed query (``_key_still_valid``), so a key revoked or a source disabled or
    reconfigured in any process is seen by every process at its next request."""

    TTL = 30.0


WRITE_KEYS = _KeyCache()


class WriteKeyRefused(Exception):
    """A secret that is not a usable write key; the message says why (unknown, revoked, source disabled)."""


def write_key_get(*, raw_key: str) -> WriteKey:
    """The active write key for a secret, with its active source; raises WriteKeyRefused saying why not. The one
    lookup of write keys: the event endpoint and the REST API's authentication use it. Marks the key used once a
    minute.

    Revocation is immediate in every process: a key found in this process's cache is confirmed in the database on
    every request (one primary-key query, a fraction of a millisecond, which also refreshes the source's update
    settings); only the ORM lookup and the source object are reused."""
    digest = WriteKey.hash_key(raw_key)
    cached = WRITE_KEYS.get(digest)
    if cached and cached[0] > time.monotonic():
        if _key_still_valid(key_id=cached[1].pk, source=cached[1].source):
            return cached[1]
        WRITE_KEYS.pop(digest, None)
    key = WriteKey.objects.select_related("source").filter(key_hash=digest).first()
    if key is None:
        raise WriteKeyRefused(
            f"unknown key {raw_key[:11]}…: check it, or make a new one in the admin (API keys, or write keys on an "
            "ingestion source)"
        )
    if key.revoked_at is not None:
        raise WriteKeyRefused(f"key {key.prefix}… was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC")
    if not key.source.is_active:
        raise WriteKeyRefused(f"the ingestion source '{key.source}' of this write key is disabled")
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        WriteKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    if len(WRITE_KEYS) > 10_000:
        WRITE_KEYS.clear()
    WRITE_KEYS[digest] = (time.monotonic() + WRITE_KEYS.TTL, key)
    return key


def _key_still_valid(*, key_id: int, source: IngestionSource) -> bool:
    """Whether a cached write key is still active with an active source (one indexed query, without the ORM's cost
    per call); refreshes the cached source's update settings from the same row."""
    field = IngestionSource._meta.get_field("owned_fields")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.update_policy, s.owned_fields FROM {WriteKey._meta.db_table} k "
            f"JOIN {IngestionSource._meta.db_table} s ON s.id = k.source_id "
            "WHERE k.id = %s AND k.revoked_at IS NULL AND s.is_active",
            [key_id],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    source.update_policy = row[0]
    # JSONField.from_db_value never reads its expression argument; django-stubs requires one
    source.owned_fields = field.from_db_value(row[1], None, connection)  # type: ignore[arg-type]
    return True
