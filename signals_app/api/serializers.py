"""Representations of signals, their types and topics in the REST API, and the checks on signals sent to it.

Signals are sent in the ``signals.csv`` shape (one object or a list): ``message_id, account_external_id,
contact_external_id, type, detail, topic ("Line > Type"), direction, source, occurred_at, properties``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, overload

from django.utils.text import slugify
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from klearly.api.fields import JSONObjectField, LookupField, datetime_in_range, json_problem
from signals_app import parsing
from signals_app.choices import Direction, SignalSource
from signals_app.models import Signal, SignalTopic, SignalType
from signals_app.parsing import SIGNAL_COLUMNS

MAX_SIGNALS_PER_REQUEST = 1000
# Longest text accepted per field of a sent signal (the parser truncates labels; ids are looked up as sent).
SIGNAL_TEXT_LIMITS = {
    "message_id": 128,
    "account_external_id": 128,
    "contact_external_id": 128,
    "type": 150,
    "detail": 100,
    "topic": 301,
    "direction": 16,
    "source": 16,
    "occurred_at": 64,
}
ID_FIELDS = {"message_id", "account_external_id", "contact_external_id"}


class SignalTypeSerializer(serializers.ModelSerializer):
    """A kind of interaction. `key` is made from the label when not sent, and fixed once created."""

    key = serializers.SlugField(
        max_length=100,
        required=False,
        help_text='Made from the label when not sent; stored normalised ("pricing_page_view" -> "pricing-page-view").',
    )

    class Meta:
        model = SignalType
        fields = (
            "id", "key", "label", "category", "default_direction", "default_source", "is_key_feature",
            "is_activation_milestone", "created_at",
        )  # fmt: skip
        read_only_fields = ("id", "created_at")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if isinstance(self.instance, SignalType):
            fields["key"].read_only = True
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None:
            key = parsing.signal_type_key(attrs.get("key") or attrs.get("label", ""))
            if not key:
                raise serializers.ValidationError({"label": "has no letters or digits to make a key from"})
            if SignalType.objects.filter(key=key).exists():
                raise serializers.ValidationError({"key": f"a signal type has the key {key!r}"})
            attrs["key"] = key
        return attrs


class SignalTopicSerializer(serializers.ModelSerializer):
    """What signals are about: a product line, or a product type under a line (`parent`). `key` and `parent`
    are fixed once created; the label can be changed."""

    key = serializers.SlugField(max_length=150, required=False, help_text="Made from the line and label when not sent.")
    # A declared field (DRF's metaclass moves it into _declared_fields); django-stubs sees Field.parent.
    parent = LookupField(  # type: ignore[assignment]
        noun="product line",
        label="key",
        slug_field="key",
        queryset=SignalTopic.objects.filter(parent__isnull=True),
        required=False,
        allow_null=True,
        help_text="Key of the product line this product type belongs to; empty for a product line.",
    )
    path = serializers.SerializerMethodField(help_text='"Line > Type", as signals name topics.')

    class Meta:
        model = SignalTopic
        fields = ("id", "key", "label", "parent", "path", "created_at")
        read_only_fields = ("id", "path", "created_at")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if isinstance(self.instance, SignalTopic):
            fields["key"].read_only = True
            fields["parent"].read_only = True
        return fields

    def get_path(self, topic: SignalTopic) -> str:
        return topic_path_text(topic)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None:
            parent = attrs.get("parent")
            key = attrs.get("key")
            if not key:
                own = slugify(attrs.get("label", ""))[:70]
                if not own:
                    raise serializers.ValidationError({"label": "has no letters or digits to make a key from"})
                key = f"{parent.key}--{own}" if parent else own
            limit = SignalTopic._meta.get_field("key").max_length
            assert limit is not None  # a CharField
            if len(key) > limit:
                raise serializers.ValidationError({"key": "would be longer than 150 characters: send a shorter key"})
            if SignalTopic.objects.filter(key=key).exists():
                raise serializers.ValidationError({"key": f"a topic has the key {key!r}"})
            attrs["key"] = key
        return attrs


@overload
def topic_path_text(topic: SignalTopic) -> str: ...
@overload
def topic_path_text(topic: None) -> None: ...
@overload
def topic_path_text(topic: SignalTopic | None) -> str | None: ...
def topic_path_text(topic: SignalTopic | None) -> str | None:
    """A topic as signals name it: "Line > Type", or "Line"."""
    if topic is None:
        return None
    return f"{topic.parent.label} > {topic.label}" if topic.parent is not None else topic.label


class SignalSerializer(serializers.ModelSerializer):
    """A stored signal, in the shape it is sent (ids by external id, type and topic by key)."""

    message_id = serializers.CharField(source="idempotency_key", read_only=True)
    account_external_id = serializers.CharField(source="account.external_id", read_only=True, allow_null=True)
    contact_external_id = serializers.CharField(source="contact.external_id", read_only=True, allow_null=True)
    type: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="key", read_only=True)
    topic: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="key", read_only=True, allow_null=True
    )
    topic_path = serializers.SerializerMethodField(help_text='The topic as "Line > Type".')
    ingestion_source: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="name", read_only=True)
    properties = JSONObjectField(read_only=True)

    class Meta:
        model = Signal
        fields = (
            "id", "message_id", "account_external_id", "contact_external_id", "anonymous_id", "type", "detail",
            "topic", "topic_path", "direction", "source", "occurred_at", "received_at", "properties",
            "ingestion_source",
        )  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_topic_path(self, signal: Signal) -> str | None:
        return topic_path_text(signal.topic)


class SignalInputSerializer(serializers.Serializer):
    """One signal as sent (documentation of the request body; the view checks records in bulk)."""

    message_id = serializers.CharField(
        max_length=128, required=False, help_text="Your id for the event: sending it again stores nothing twice."
    )
    account_external_id = serializers.CharField(max_length=128)
    contact_external_id = serializers.CharField(max_length=128, required=False, allow_null=True, allow_blank=True)
    type = serializers.CharField(max_length=150, help_text="Type name or key; unknown types are created.")
    detail = serializers.CharField(max_length=100, required=False, allow_blank=True)
    topic = serializers.CharField(
        max_length=301, required=False, allow_blank=True, allow_null=True, help_text='"Line > Type" or "Line".'
    )
    direction = serializers.ChoiceField(Direction.choices, required=False, help_text="Default: the type's.")
    # A declared field (DRF's metaclass moves it into _declared_fields); the stubs see Field.source.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        SignalSource.choices, required=False, help_text="Default: the type's."
    )
    occurred_at = serializers.DateTimeField(help_text="ISO-8601; without an offset it is UTC.")
    properties = JSONObjectField(required=False, allow_null=True)


class SignalRejectionSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the signal in the list sent (0 for a single object).")
    # A declared field (DRF's metaclass moves it into _declared_fields); the stubs see Serializer.errors.
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]


class SignalBatchResultSerializer(serializers.Serializer):
    """What a POST of signals did: 201 all stored, 207 some rejected (the rest stored), 400 all rejected."""

    created = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Already stored for this source (same message_id): skipped.")
    rejected = SignalRejectionSerializer(many=True)
    detail = serializers.CharField(required=False, help_text="Why the whole request was refused, if it was.")


@dataclass
class CheckedSignals:
    """Signals sent, sorted into rows to store (parsed once, with their positions) and rejections by position."""

    rows: list[parsing.SignalRow] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    rejected: dict[int, dict[str, list[str]]] = field(default_factory=dict)

    def reject(self, index: int, field_name: str, message: str) -> None:
        self.rejected.setdefault(index, {}).setdefault(field_name, []).append(message)


class SignalBodyInvalid(Exception):
    """The body is neither a signal object nor a list of 1 to 1000 of them."""


def signals_from_body(body: Any) -> list[Any]:
    """The signals in a request body: one object, or a list of them."""
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list):
        if not body:
            raise SignalBodyInvalid("the list is empty: send at least one signal")
        if len(body) > MAX_SIGNALS_PER_REQUEST:
            raise SignalBodyInvalid(
                f"{len(body)} signals in one request; send at most {MAX_SIGNALS_PER_REQUEST} (split the list)"
            )
        return body
    raise SignalBodyInvalid("send a signal object, or a list of up to 1000 of them")


# One check per signal field, each with its message, in one pass (hence the noqa below).
def signals_check(items: list[Any]) -> CheckedSignals:  # noqa: C901, PLR0912 — one check per field, in order
    """Check each sent signal's fields (kinds of values, lengths, dates, what the database can store) and parse it
    once with the CSV rules into the importer's row (``parsing.SignalRow``); names (account, contact) are resolved
    later, when the good ones are stored."""
    checked = CheckedSignals()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            checked.reject(index, "non_field_errors", "each signal must be a JSON object")
            continue
        row: dict[str, str] = {}
        for name, limit in SIGNAL_TEXT_LIMITS.items():
            value = item.get(name)
            if value is None:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and name in ID_FIELDS:
                value = str(value)
            if not isinstance(value, str):
                checked.reject(index, name, "must be a string")
            elif "\x00" in value:
                checked.reject(index, name, "contains a NUL character (\\u0000)")
            elif len(value) > limit:
                checked.reject(index, name, f"is longer than {limit} characters")
            else:
                row[name] = value
        properties = item.get("properties")
        if properties is not None:
            if not isinstance(properties, dict):
                checked.reject(index, "properties", 'must be a JSON object, like {"plan": "pro"}')
            else:
                problem = json_problem(properties)
                if problem:
                    checked.reject(index, "properties", problem)
        if index in checked.rejected:
            continue
        try:
            parsed = parsing.parse_signal(row)
        except parsing.RowInvalid as exc:
            for name, message in exc.errors.items():
                absent = name == "occurred_at" and not row.get(name, "").strip()
                checked.reject(index, name, "is required" if absent else message)
            continue
        if not datetime_in_range(parsed.occurred_at):
            checked.reject(index, "occurred_at", "must be between 1900 and 2200")
            continue
        # In UTC: Python reads offsets up to ±23:59, PostgreSQL stores only up to ±15:59.
        parsed.occurred_at = parsed.occurred_at.astimezone(UTC)
        if properties:
            parsed.properties = properties
            parsed.properties_json = json.dumps(properties, separators=(",", ":"), ensure_ascii=False)
        if not row.get("message_id", "").strip():  # the row's content is its key, as it was sent
            row["occurred_at"] = parsed.occurred_at.isoformat()
            sent = json.dumps(properties) if properties is not None else None
            parsed.idempotency_key = parsing.values_fingerprint([*(row.get(c) for c in SIGNAL_COLUMNS[:-1]), sent])
        checked.rows.append(parsed)
        checked.positions.append(index)
    return checked
