"""Writes behind the signals API: signal types and topics, and the ingestion source of REST callers.

Plain Django, no DRF: these belong with ``signals_app/services.py`` and can move there as they are; they live here
while that module is being changed by parallel work. Signals themselves are written by
``signals_app.services.signals_record``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from signals_app.choices import IngestionKind
from signals_app.models import IngestionSource, SignalTopic, SignalType, WriteKey
from signals_app.services import signals_record

if TYPE_CHECKING:
    from .serializers import CheckedSignals

REST_SOURCE_NAME = "REST API"


def rest_api_source() -> IngestionSource:
    """The ingestion source of signals sent by operators' sessions and admin API keys."""
    source, _ = IngestionSource.objects.get_or_create(name=REST_SOURCE_NAME, defaults={"kind": IngestionKind.API})
    return source


def ingestion_source_for(*, key: Any) -> IngestionSource:
    """Where a caller's signals are stored: a write key's own source, else the shared "REST API" source.

    The source scopes idempotency: a ``message_id`` is unique within it.
    """
    if isinstance(key, WriteKey):
        return key.source
    return rest_api_source()


def signals_submit(*, checked: CheckedSignals, source: IngestionSource) -> tuple[int, int]:
    """Store the signals that passed the API's checks with ``signals_record`` (CSV rules, dedupe by message_id per
    source); the ones it rejects (unknown account or contact) join ``checked.rejected`` at their position.

    Returns (created, duplicates).
    """
    if not checked.records:
        return 0, 0
    report = signals_record(records=checked.records, source=source)
    for error in report.errors:
        checked.reject(checked.positions[error["line"]], error["field"], error["message"])
    return report.created, report.skipped


def signal_type_create(*, values: dict[str, Any]) -> SignalType:
    """Add a signal type (types named in imports and events are also created on the fly)."""
    return SignalType.objects.create(**values)


def signal_type_update(*, signal_type: SignalType, values: dict[str, Any]) -> SignalType:
    """Relabel or re-categorise a signal type; its key never changes."""
    for name, value in values.items():
        if name != "key":
            setattr(signal_type, name, value)
    signal_type.save()
    return signal_type


def signal_type_delete(*, signal_type: SignalType) -> None:
    """Delete a signal type no signal uses (the database refuses otherwise)."""
    signal_type.delete()


def signal_topic_create(*, values: dict[str, Any]) -> SignalTopic:
    """Add a topic: a product line, or a product type under a line (``parent``)."""
    with transaction.atomic():
        return SignalTopic.objects.create(**values)


def signal_topic_update(*, topic: SignalTopic, values: dict[str, Any]) -> SignalTopic:
    """Relabel a topic; its key and line never change."""
    if "label" in values:
        topic.label = values["label"]
        topic.save(update_fields=["label"])
    return topic


def signal_topic_delete(*, topic: SignalTopic) -> None:
    """Delete a topic (and the product types under a line); its signals keep no topic."""
    topic.delete()
