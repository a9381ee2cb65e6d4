"""The one FilterSet of the task inbox, shared by the web inbox, the tasks API and ``selectors.task_list_for_user``.

``?view=mine|team|unassigned|all&status=active&playbook=3,4&segment=2&grade=A,B&due=overdue&ordering=-priority,due_at``
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import django_filters
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from accounts.filters import ChoiceInFilter, IntegerFilter, IntegerInFilter, StableOrderingFilter, UtcDateTimeFilter
from accounts.models import SegmentMembership
from accounts.stages import expandable_q, paying_q, pre_sale_q
from scoring import models as scoring_models
from scoring.choices import Grade
from scoring.filters import AccountScoreFilterSet

from .choices import ACTIVE_STATUSES, DueFilter, InboxView, Priority, TaskStatus
from .models import Task
from .selectors import team_ids_for_user

STATUS_CHOICES = [("active", "Open or snoozed"), *TaskStatus.choices]


def _day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Start of today and of tomorrow in the current time zone."""
    local = timezone.localtime(now)
    start = timezone.make_aware(datetime.combine(local.date(), time.min), local.tzinfo)
    return start, start + timedelta(days=1)


class TaskFilterSet(django_filters.FilterSet):
    """Tasks by inbox view, status, playbook, account segment, grade, health, due date; sorted by priority, due date
    or likelihood. Pass ``user=`` (or a ``request``) for the views that depend on who asks."""

    view = django_filters.ChoiceFilter(
        choices=InboxView.choices, method="filter_view", label="View", help_text="Inbox view."
    )
    status = ChoiceInFilter(
        choices=STATUS_CHOICES,
        method="filter_status",
        label="Status",
        help_text="Comma-separated; 'active' is open or snoozed.",
    )
    playbook = IntegerInFilter(field_name="playbook_id", label="Playbook", help_text="Playbook id(s), comma-separated.")
    segment = IntegerFilter(
        method="filter_segment", label="Segment", help_text="Id of a segment: tasks of its current members."
    )
    grade = ChoiceInFilter(
        field_name="account__score__grade", choices=Grade.choices, label="Grade", help_text="e.g. A,B"
    )
    due = django_filters.ChoiceFilter(choices=DueFilter.choices, method="filter_due", label="Due")
    priority = ChoiceInFilter(
        choices=[(str(v), label) for v, label in Priority.choices], label="Priority", help_text="1-4, e.g. 3,4"
    )
    account = django_filters.CharFilter(field_name="account__external_id", help_text="The account's external id.")
    assignee = django_filters.CharFilter(field_name="assignee__username", help_text="The assignee's username.")
    team = IntegerFilter(field_name="team_id")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte", label="Created after")
    search = django_filters.CharFilter(
        method="filter_search", label="Search", help_text="Part of the title or the account's name."
    )
    ordering = StableOrderingFilter(
        fields=(("priority", "priority"), ("due_at", "due_at"), ("likelihood", "likelihood"),
                ("created_at", "created_at"), ("account__name", "account"))
    )  # fmt: skip

    health = django_filters.CharFilter(
        method="filter_health", label="Health", help_text="good, normal or bad (comma-separated)."
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user if user is not None else getattr(self.request, "user", None)

    def filter_view(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        user = self.user
        if not value or value == InboxView.ALL:
            return queryset
        if value == InboxView.UNASSIGNED:
            return queryset.filter(assignee__isnull=True)
        if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
            return queryset.none()  # nobody (an API key) has tasks of their own or a team
        if value == InboxView.MINE:
            return queryset.filter(assignee_id=user.pk)
        return queryset.filter(team_id__in=team_ids_for_user(user=user))

    def filter_status(self, queryset: QuerySet[Task], name: str, value: list[str]) -> QuerySet[Task]:
        if not value:
            return queryset
        statuses = set(value)
        if "active" in statuses:
            statuses.discard("active")
            statuses |= set(ACTIVE_STATUSES)
        return queryset.filter(status__in=sorted(statuses))

    @extend_schema_field(OpenApiTypes.INT)
    def filter_segment(self, queryset: QuerySet[Task], name: str, value: int | None) -> QuerySet[Task]:
        if value is None:
            return queryset
        current = SegmentMembership.objects.filter(
            segment_id=value, account_id=OuterRef("account_id"), exited_at__isnull=True
        )
        return queryset.filter(Exists(current))

    def filter_due(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        now = timezone.now()
        start, tomorrow = _day_bounds(now)
        if value == DueFilter.OVERDUE:
            return queryset.filter(due_at__lt=now)
        if value == DueFilter.TODAY:
            return queryset.filter(due_at__gte=start, due_at__lt=tomorrow)
        if value == DueFilter.WEEK:
            return queryset.filter(due_at__gte=start, due_at__lt=start + timedelta(days=7))
        if value == DueFilter.NONE:
            return queryset.filter(due_at__isnull=True)
        return queryset

    def filter_health(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        wanted = [v.strip() for v in value.split(",") if v.strip()]
        return queryset.filter(account__prediction__health__in=wanted) if wanted else queryset

    def filter_search(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(title__icontains=value) | Q(account__name__icontains=value))


# Priorities are sent and stored as numbers: say so in the OpenAPI schema (the choices are matched as text).
set_override(
    TaskFilterSet.base_filters["priority"],
    "field",
    {"type": "integer", "enum": Priority.values, "description": "1 low, 2 normal, 3 high, 4 urgent; e.g. 3,4"},
)


# --- web UI account lists ----------------------------------------------------------------------------------------

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
        from signals_app.models import RuleHit

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
