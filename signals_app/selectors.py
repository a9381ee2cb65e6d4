"""Reads for signals."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Signal


def signal_list_for_account(*, account_id: int, limit: int = 30) -> QuerySet[Signal]:
    """An account's latest signals with type, topic and contact joined (one query)."""
    return (
        Signal.objects.filter(account_id=account_id)
        .select_related("type", "topic", "topic__parent", "contact")
        .order_by("-occurred_at", "-id")[:limit]
    )
