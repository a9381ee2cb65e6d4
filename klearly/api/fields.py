"""Serializer fields shared by the apps' APIs: related rows named by their external id or key, JSON objects that
the database can store, and dates in a sane range. Each rejects bad input with a 400 naming the problem."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MIN_YEAR, MAX_YEAR = 1900, 2200
MAX_JSON_DEPTH = 20


@extend_schema_field(OpenApiTypes.STR)
class LookupField(serializers.SlugRelatedField):
    """A related row named by one of its unique fields (an account by external id, a stage by key).

    ``noun`` and ``label`` make the message: "no account has external id 'x'". ``also`` names other lookups tried
    in turn (a stage by key, then by name). Non-text values are refused before they reach the database.
    ``account_path`` (``""`` for accounts): only rows of accounts the caller may see can be named
    (``klearly.api.visibility``); another team's account gets the same answer as one that does not exist.
    """

    def __init__(
        self,
        *,
        noun: str,
        label: str,
        lookup: str = "exact",
        also: tuple[str, ...] = (),
        max_length: int = 255,
        account_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.noun, self.label_text, self.max_length = noun, label, max_length
        self.account_path = account_path
        self.lookups = (f"{kwargs['slug_field']}__{lookup}", *also)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Model:
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            raise serializers.ValidationError(f"must be the {self.label_text} of a {self.noun} (a string)")
        value = str(data).strip()
        if not value:
            raise serializers.ValidationError("may not be blank")
        found = None
        if "\x00" not in value and len(value) <= self.max_length:
            queryset: QuerySet = self.get_queryset()
            for lookup in self.lookups:
                found = queryset.filter(**{lookup: value}).order_by("pk").first()
                if found is not None:
                    break
        if found is None:
            raise serializers.ValidationError(f"no {self.noun} has {self.label_text} {value!r}")
        return found

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        assert queryset is not None  # a writable related field has one (DRF's RelatedField checks it)
        if self.account_path is None:
            return queryset
        from .visibility import visible

        return visible(queryset, self.context.get("request"), account_path=self.account_path)


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JSONObjectField(serializers.JSONField):
    """A JSON object (``{...}``) whose text the database accepts: no NUL characters, bounded nesting."""

    def to_internal_value(self, data: Any) -> Any:
        data = super().to_internal_value(data)
        if data is None:
            return data
        if not isinstance(data, dict):
            raise serializers.ValidationError('must be a JSON object, like {"plan": "pro"}')
        problem = json_problem(data)
        if problem:
            raise serializers.ValidationError(problem)
        return data


def json_problem(value: Any, path: str = "", depth: int = 0) -> str | None:
    """Why a decoded JSON value cannot be stored (PostgreSQL refuses NUL in text and jsonb), or None."""
    if depth > MAX_JSON_DEPTH:
        return f"nests deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        return f"{path or 'the value'} contains a NUL character (\\u0000)" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return f"a key at {path or 'the top level'} contains a NUL character (\\u0000)"
            problem = json_problem(item, where, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = json_problem(item, f"{path}[{index}]", depth + 1)
            if problem:
                return problem
    return None


class BoundedDateTimeField(serializers.DateTimeField):
    """An ISO-8601 date-time between 1900 and 2200 (a time without offset is UTC)."""

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, (str, datetime)):
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]")
        parsed = super().to_internal_value(value)
        if not MIN_YEAR <= parsed.astimezone(UTC).year <= MAX_YEAR:
            raise serializers.ValidationError(f"must be between {MIN_YEAR} and {MAX_YEAR}")
        return parsed


def datetime_in_range(value: datetime) -> bool:
    """Whether an aware date-time is inside the range the API accepts."""
    try:
        return MIN_YEAR <= value.astimezone(UTC).year <= MAX_YEAR
    except (OverflowError, ValueError):
        return False
