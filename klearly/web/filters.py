"""The FilterSet of the web's account lists (call list, expansion, surging, at risk, all accounts and saved views):
the API's score filters (``scoring.filters.AccountScoreFilterSet``) plus what only these pages offer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from accounts.filters import IntegerFilter, StableOrderingFilter
from accounts.models import SegmentMembership
from accounts.stages import expandable_q, paying_q, pre_sale_q
from scoring import models as scoring_models
from scoring.filters import AccountScoreFilterSet

# Probabilities and health live in scoring.AccountPrediction (``account.prediction``). Each probability is stored
# only where it applies to the account's stage (``accounts.stages``): null elsewhere, and such rows sort last.
AT_RISK_RULE = "Potential problem account"
PROBABILITY_COLUMNS = {"conversion": "account__prediction__conversion", "expansion": "account__prediction__expansion",
                       "churn": "account__prediction__churn"}  # fmt: skip


def probability_known(outcome: str) -> bool:
    """Whether any account has this probability yet (kept a minute in the cache: a model either exists or not for
    days). Until then a list ranked by it falls back to a score (a list says which it ranks by)."""
    import contextlib

    from django.core.cache import cache

    from klearly.outages import CACHE_ERRORS

    key = f"klearly:web:{outcome}-known"
    try:
        known = cache.get(key)
    except CACHE_ERRORS:  # Redis down: ask the database (one EXISTS) rather than fail the page
        known = None
    if known is None:
        known = scoring_models.AccountPrediction.objects.filter(**{f"{outcome}__isnull": False}).exists()
        with contextlib.suppress(*CACHE_ERRORS):
            cache.set(key, known, 60)
    return known


class ProbabilityOrderingFilter(StableOrderingFilter):
    """Orderings where a probability (null where it does not apply) sorts its nulls last in either direction, on
    every database (PostgreSQL puts nulls first in a descending sort)."""

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        ordering = [self.get_ordering_value(param) for param in value or () if param]
        if not ordering:
            return qs
        tail = "-pk" if ordering[-1].startswith("-") else "pk"
        terms: list[Any] = []
        for term in ordering:
            name = term.lstrip("-")
            if name in PROBABILITY_COLUMNS.values():
                column = F(name)
                terms.append(column.desc(nulls_last=True) if term.startswith("-") else column.asc(nulls_last=True))
            else:
                terms.append(term)
        return qs.order_by(*terms, tail)


class AccountListFilterSet(AccountScoreFilterSet):
    """The account lists (call list, expansion, surging, at risk, all accounts and saved views) over current scores:
    the score filters of the API plus search, segment, owner, stage standing (pre-sale, can expand, paying), at-risk,
    signal strength and "signals of a type in a window"."""

    q = django_filters.CharFilter(method="filter_q", label="Search", help_text="Part of the name, domain or id.")
    segment = IntegerFilter(method="filter_segment", label="Segment", help_text="Id of a segment: its current members.")
    owner = django_filters.CharFilter(field_name="account__owner__username", label="Owner")
    pre_sale = django_filters.BooleanFilter(method="filter_pre_sale", label="Not paying yet")
    expandable = django_filters.BooleanFilter(method="filter_expandable", label="Can expand")
    at_risk = django_filters.BooleanFilter(method="filter_at_risk", label="At risk")
    strength_min = django_filters.NumberFilter(field_name="signal_strength", lookup_expr="gte", label="Strength from")
    signal_type = django_filters.CharFilter(method="filter_signals", label="Signal type")
    signal_days = IntegerFilter(method="filter_noop", label="Within days", min_value=1, max_value=3650)
    signal_min = IntegerFilter(method="filter_noop", label="At least", min_value=1, max_value=100_000)
    ordering = ProbabilityOrderingFilter(
        fields=(*((column, outcome) for outcome, column in PROBABILITY_COLUMNS.items()),
                ("lead", "lead"), ("engagement", "engagement"), ("fit", "fit"),
                ("signal_strength", "signal_strength"), ("account__name", "name"), ("qualified_at", "qualified_at"))
    )  # fmt: skip

    health = django_filters.CharFilter(method="filter_health", label="Health")

    class Meta(AccountScoreFilterSet.Meta):
        fields = ["grade", "temperature", "qualified", "surging"]

    def filter_pre_sale(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(pre_sale_q("account__")) if value else queryset.exclude(pre_sale_q("account__"))

    def filter_expandable(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(expandable_q("account__")) if value else queryset.exclude(expandable_q("account__"))

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()[:100]
        if not value:
            return queryset
        return queryset.filter(
            Q(account__name__icontains=value) | Q(account__domain__icontains=value) | Q(account__external_id=value)
        )

    @extend_schema_field(OpenApiTypes.INT)
    def filter_segment(self, queryset: QuerySet, name: str, value: int | None) -> QuerySet:
        if value is None:
            return queryset
        members = SegmentMembership.objects.filter(segment_id=value, exited_at__isnull=True).values("account_id")
        return queryset.filter(account_id__in=members)

    def filter_at_risk(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        """Live paying customers likely to churn: an open "Potential problem account" hit or bad health (a churned
        account has nothing left to lose; a prospect is not a customer yet)."""
        if not value:
            return queryset
        from scoring.models import RuleHit

        hits = RuleHit.objects.filter(rule__name=AT_RISK_RULE, cleared_at__isnull=True).values("account_id")
        return queryset.filter(paying_q("account__")).filter(
            Q(account_id__in=hits) | Q(account__prediction__health="bad")
        )

    def filter_health(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        wanted = [v.strip() for v in value.split(",") if v.strip()]
        return queryset.filter(account__prediction__health__in=wanted) if wanted else queryset

    def filter_noop(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset  # read by filter_signals

    def filter_signals(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Accounts with at least ``signal_min`` (1) signals of the type in the last ``signal_days`` (30): one
        grouped subquery over the (type, time) index."""
        from django.db.models import Count

        from signals_app.models import Signal, SignalType
        from signals_app.parsing import signal_type_key

        key = value.strip()
        if not key:
            return queryset
        type_id = SignalType.objects.filter(key=signal_type_key(key)).values_list("pk", flat=True).first()
        if type_id is None:
            return queryset.none()
        days = self.form.cleaned_data.get("signal_days") or 30
        at_least = self.form.cleaned_data.get("signal_min") or 1
        since = timezone.now() - timedelta(days=days)
        matching = (
            Signal.objects.filter(type_id=type_id, occurred_at__gte=since, account_id__isnull=False)
            .values("account_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=at_least)
            .values("account_id")
        )
        return queryset.filter(account_id__in=matching)
