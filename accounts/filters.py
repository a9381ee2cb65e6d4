"""FilterSets for the accounts app's lists, shared by the REST API and (later) the web inbox.

Related rows are named the way people and other systems name them: accounts by external id, stages by key,
owners by email. Lists of values are comma-separated (``?stage=trial,starter``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django_filters.fields import BaseCSVField, IsoDateTimeField
from django_filters.widgets import BooleanWidget
from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .choices import Movement, StageAppliesTo, StageKind
from .models import Account, Contact, JourneyStage, Segment, SegmentMembership, StageTransition

MAX_INT = 2_147_483_647
MAX_LIST_ITEMS = 100


class ItemsCSVField(BaseCSVField):
    """Comma-separated values, each cleaned by the value field it is combined with (see ``InFilter``).

    An empty item (``?priority=,`` or ``3,,4``) is refused rather than sent to the database as "" (which an integer
    column cannot compare with), and so is a list longer than ``MAX_LIST_ITEMS``.
    """

    default_error_messages = {
        "empty_item": "has an empty value: separate values with single commas, e.g. a,b",
        "too_many": f"has more than {MAX_LIST_ITEMS} values",
    }

    def clean(self, value: Any) -> list[Any] | None:
        if value:  # the CSV widget's list of items
            items = [str(item if item is not None else "").strip() for item in value]
            if len(items) == 1 and not items[0]:  # "?priority= " is no filter, like "?priority="
                items = []
            elif not all(items):
                raise ValidationError(self.error_messages["empty_item"], code="empty_item")
            if len(items) > MAX_LIST_ITEMS:
                raise ValidationError(self.error_messages["too_many"], code="too_many")
            value = items
        return super().clean(value)


class InFilter(django_filters.BaseInFilter):
    """Comma-separated values, any of which may match; each is checked by the value filter mixed in after this."""

    base_field_class = ItemsCSVField


class CharInFilter(InFilter, django_filters.CharFilter):
    """Comma-separated text values, any of which may match."""


class IntegerFilter(django_filters.NumberFilter):
    """A whole number within the range of an integer column (declared so in the OpenAPI schema)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_INT)
        super().__init__(*args, **kwargs)
        # An instance-level schema override: the bounds differ per filter, and generated clients and schemathesis
        # then know them (``extend_schema_field`` on the filter method would only say "integer").
        schema = {"type": "integer", "minimum": kwargs["min_value"], "maximum": kwargs["max_value"]}
        if kwargs.get("help_text"):
            schema["description"] = kwargs["help_text"]
        set_override(self, "field", schema)


class IntegerInFilter(InFilter, IntegerFilter):
    """Comma-separated ids (``?playbook=3,4``), each a whole number in range."""


class ChoiceInFilter(InFilter, django_filters.ChoiceFilter):
    """Comma-separated choices (``?grade=A,B``), each checked against the list."""


class UtcDateTimeField(IsoDateTimeField):
    """An ISO-8601 date-time, turned into UTC (PostgreSQL refuses offsets beyond ±15:59 that Python accepts)."""

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError("is out of range", code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """A date-time filter (``?created_after=2026-03-01T00:00:00Z``); any offset is accepted and made UTC."""

    field_class = UtcDateTimeField


class StableOrderingFilter(django_filters.OrderingFilter):
    """``?ordering=-created_at,name``; the primary key always ends the ordering, so pages never repeat or skip."""

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        ordering = [self.get_ordering_value(param) for param in value or () if param]  # "?ordering=," is none
        if not ordering:
            return qs
        ordering.append("-pk" if ordering[-1].startswith("-") else "pk")
        return qs.order_by(*ordering)


class AccountFilterSet(django_filters.FilterSet):
    """Accounts by stage, owner, industry, country, segment, size, dates and a free-text search."""

    stage = CharInFilter(field_name="stage__key", help_text="Journey stage key(s), comma-separated.")
    stage_kind = django_filters.ChoiceFilter(field_name="stage__kind", choices=StageKind.choices)
    owner = django_filters.CharFilter(field_name="owner__email", lookup_expr="iexact", help_text="Owner's email.")
    industry = django_filters.CharFilter(lookup_expr="iexact")
    country = django_filters.CharFilter(lookup_expr="iexact")
    segment = IntegerFilter(method="filter_segment", help_text="Id of a segment: its current members.")
    employees_min = IntegerFilter(field_name="employees", lookup_expr="gte")
    employees_max = IntegerFilter(field_name="employees", lookup_expr="lte")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    search = django_filters.CharFilter(
        method="filter_search", help_text="Part of the name or domain, or an external id."
    )
    ordering = StableOrderingFilter(
        fields=("name", "external_id", "created_at", "updated_at", "employees", "annual_revenue", "stage_changed_at")
    )

    class Meta:
        model = Account
        fields: list[str] = []

    @extend_schema_field(OpenApiTypes.INT)
    def filter_segment(self, queryset: QuerySet[Account], name: str, value: int | None) -> QuerySet[Account]:
        if value is None:
            return queryset
        current = SegmentMembership.objects.filter(segment_id=value, account=OuterRef("pk"), exited_at__isnull=True)
        return queryset.filter(Exists(current))

    def filter_search(self, queryset: QuerySet[Account], name: str, value: str) -> QuerySet[Account]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(domain__icontains=value) | Q(external_id=value))


class ContactFilterSet(django_filters.FilterSet):
    """Contacts by account (external id), email, stage and a free-text search."""

    account = django_filters.CharFilter(field_name="account__external_id", help_text="The account's external id.")
    email = django_filters.CharFilter(lookup_expr="iexact")
    stage = CharInFilter(field_name="stage__key", help_text="Journey stage key(s), comma-separated.")
    seen_after = UtcDateTimeFilter(field_name="last_seen_at", lookup_expr="gte")
    search = django_filters.CharFilter(
        method="filter_search", help_text="Part of the name or email, or an external id."
    )
    ordering = StableOrderingFilter(fields=("last_name", "first_name", "email", "created_at", "last_seen_at"))

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet[Contact], name: str, value: str) -> QuerySet[Contact]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
            | Q(external_id=value)
        )


class JourneyStageFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=StageKind.choices)
    applies_to = django_filters.ChoiceFilter(choices=StageAppliesTo.choices)

    class Meta:
        model = JourneyStage
        fields: list[str] = []


class StageTransitionFilterSet(django_filters.FilterSet):
    """Stage transitions by account, stage, movement and time."""

    account = django_filters.CharFilter(field_name="account__external_id", help_text="The account's external id.")
    to_stage = CharInFilter(field_name="to_stage__key", help_text="Stage key(s) moved to, comma-separated.")
    movement = django_filters.MultipleChoiceFilter(choices=Movement.choices)
    changed_after = UtcDateTimeFilter(field_name="changed_at", lookup_expr="gte")
    changed_before = UtcDateTimeFilter(field_name="changed_at", lookup_expr="lt")

    class Meta:
        model = StageTransition
        fields: list[str] = []


class SegmentFilterSet(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter(widget=BooleanWidget())
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Segment
        fields: list[str] = []


class SegmentMembershipFilterSet(django_filters.FilterSet):
    """A segment's members: current ones, or with ``include_past`` every stay with its entered/exited times."""

    include_past = django_filters.BooleanFilter(
        widget=BooleanWidget(), method="filter_include_past", help_text="Include accounts that left."
    )

    class Meta:
        model = SegmentMembership
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[SegmentMembership]) -> QuerySet[SegmentMembership]:
        if not self.form.cleaned_data.get("include_past"):
            queryset = queryset.filter(exited_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_include_past(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        return queryset  # applied in filter_queryset, since its absence filters too
