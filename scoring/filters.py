"""FilterSets for scores, shared by the API (and later the inbox's lists)."""

from __future__ import annotations

import django_filters

from .choices import Grade, Health, Temperature
from .models import AccountScore


class AccountScoreFilterSet(django_filters.FilterSet):
    """Current scores by grade, temperature, qualification, surging, size and lead-score range."""

    grade = django_filters.MultipleChoiceFilter(choices=Grade.choices)
    temperature = django_filters.MultipleChoiceFilter(choices=Temperature.choices)
    qualified = django_filters.BooleanFilter()
    surging = django_filters.BooleanFilter()
    lead_min = django_filters.NumberFilter(field_name="lead", lookup_expr="gte")
    lead_max = django_filters.NumberFilter(field_name="lead", lookup_expr="lte")
    stage = django_filters.CharFilter(field_name="account__stage__key")
    health = django_filters.MultipleChoiceFilter(field_name="account__prediction__health", choices=Health.choices)
    churn_min = django_filters.NumberFilter(field_name="account__prediction__churn", lookup_expr="gte")
    conversion_min = django_filters.NumberFilter(field_name="account__prediction__conversion", lookup_expr="gte")
    expansion_min = django_filters.NumberFilter(field_name="account__prediction__expansion", lookup_expr="gte")
    ordering = django_filters.OrderingFilter(
        fields=(("lead", "lead"), ("engagement", "engagement"), ("fit", "fit"), ("signal_strength", "signal_strength"),
                ("computed_at", "computed_at"))
    )  # fmt: skip

    class Meta:
        model = AccountScore
        fields = ["grade", "temperature", "qualified", "surging"]
