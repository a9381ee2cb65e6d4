"""Reads behind the signals API, each a QuerySet with its joins decided here (no N+1 in any list).

Plain Django, no DRF: these belong with ``signals_app/selectors.py`` and can move there as they are.
"""

from __future__ import annotations

from django.db.models import QuerySet

from signals_app.models import Signal, SignalTopic, SignalType


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
