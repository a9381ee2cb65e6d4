"""The one FilterSet of the task inbox, shared by the web inbox, the tasks API and ``selectors.task_list_for_user``.

``?view=mine|team|unassigned|all&status=active&playbook=3,4&segment=2&grade=A,B&due=overdue&ordering=-priority,due_at``
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from accounts.filters import ChoiceInFilter, IntegerFilter, IntegerInFilter, StableOrderingFilter, UtcDateTimeFilter
from accounts.models import SegmentMembership
from scoring.choices import Grade

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
