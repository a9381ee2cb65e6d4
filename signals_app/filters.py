"""FilterSets for signals, their types and topics, shared by the REST API and (later) the web inbox."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django_filters.widgets import BooleanWidget

from accounts.filters import CharInFilter, StableOrderingFilter, UtcDateTimeFilter

from .choices import Direction, SignalCategory, SignalSource
from .models import Signal, SignalTopic, SignalType
from .parsing import signal_type_key


class SignalFilterSet(django_filters.FilterSet):
    """Signals by account and contact (external ids), type and topic (keys), direction, source and time."""

    account = django_filters.CharFilter(field_name="account__external_id", help_text="The account's external id.")
    contact = django_filters.CharFilter(field_name="contact__external_id", help_text="The contact's external id.")
    type = CharInFilter(
        label="Type",
        method="filter_type",
        help_text='Signal type key(s), comma-separated ("pricing_page_view" is "pricing-page-view").',
    )
    category = django_filters.ChoiceFilter(field_name="type__category", choices=SignalCategory.choices)
    topic = CharInFilter(
        method="filter_topic",
        label="Topic",
        help_text="Topic key(s), comma-separated; a product line includes the product types under it.",
    )
    direction = django_filters.ChoiceFilter(choices=Direction.choices)
    source = django_filters.ChoiceFilter(choices=SignalSource.choices)
    occurred_after = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Signal
        fields: list[str] = []

    def filter_type(self, queryset: QuerySet[Signal], name: str, value: list[str]) -> QuerySet[Signal]:
        if not value:
            return queryset
        return queryset.filter(type__key__in=[signal_type_key(v) for v in value])

    def filter_topic(self, queryset: QuerySet[Signal], name: str, value: list[str]) -> QuerySet[Signal]:
        if not value:
            return queryset
        return queryset.filter(Q(topic__key__in=value) | Q(topic__parent__key__in=value))


class SignalTypeFilterSet(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=SignalCategory.choices)
    is_key_feature = django_filters.BooleanFilter(widget=BooleanWidget())
    is_activation_milestone = django_filters.BooleanFilter(widget=BooleanWidget())
    search = django_filters.CharFilter(method="filter_search", help_text="Part of the key or label.")
    ordering = StableOrderingFilter(fields=("label", "key", "created_at"))

    class Meta:
        model = SignalType
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet[SignalType], name: str, value: str) -> QuerySet[SignalType]:
        value = value.strip()
        return queryset.filter(Q(key__icontains=value) | Q(label__icontains=value)) if value else queryset


class SignalTopicFilterSet(django_filters.FilterSet):
    """Topics: product lines only (``lines_only``), or the product types under one line (``parent``)."""

    parent = django_filters.CharFilter(field_name="parent__key", help_text="Key of a product line: its types.")
    lines_only = django_filters.BooleanFilter(
        widget=BooleanWidget(), field_name="parent", lookup_expr="isnull", help_text="Product lines only."
    )
    search = django_filters.CharFilter(method="filter_search", help_text="Part of the key or label.")

    class Meta:
        model = SignalTopic
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet[SignalTopic], name: str, value: str) -> QuerySet[SignalTopic]:
        value = value.strip()
        return queryset.filter(Q(key__icontains=value) | Q(label__icontains=value)) if value else queryset
