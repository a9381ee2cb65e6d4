"""FilterSets for scores, shared by the API (and later the inbox's lists)."""

from __future__ import annotations

import django_filters

from accounts.filters import StableOrderingFilter

from .choices import Grade, Health, Temperature
from .models import AccountScore


class AccountScoreFilterSet(django_filters.FilterSet):
    """Current scores by grade, temperature, qualification, surging, size and lead-score range."""

    grade = django_filters.MultipleChoiceFilter(choices=Grade.choices)
    temperature = django_filters.MultipleChoiceFilter(choices=Temperature.choices)
    qualified = django_filters.BooleanFilter()
    surging = django_filters.BooleanFilter()
    lead_min = django_filters.NumberFilter(field_name="lead", lookup_expr="gte", label="Lead score from")
    lead_max = django_filters.NumberFilter(field_name="lead", lookup_expr="lte", label="Lead score up to")
    stage = django_filters.CharFilter(field_name="account__stage__key", label="Stage")
    health = django_filters.MultipleChoiceFilter(field_name="account__prediction__health", choices=Health.choices)
    churn_min = django_filters.NumberFilter(
        field_name="account__prediction__churn", lookup_expr="gte", label="Churn from"
    )
    conversion_min = django_filters.NumberFilter(
        field_name="account__prediction__conversion", lookup_expr="gte", label="Conversion from"
    )
    expansion_min = django_filters.NumberFilter(
        field_name="account__prediction__expansion", lookup_expr="gte", label="Expansion from"
    )
    ordering = StableOrderingFilter(  # "?ordering=," keeps the list's order, not none at all
        fields=(("lead", "lead"), ("engagement", "engagement"), ("fit", "fit"), ("signal_strength", "signal_strength"),
                ("computed_at", "computed_at"))
    )  # fmt: skip

    class Meta:
        model = AccountScore
        fields = ["grade", "temperature", "qualified", "surging"]
