"""Reads of the playbooks app: the task inbox (with who may see what), task details, playbooks and runs."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from accounts.models import Account

from .models import Playbook, Task, TaskComment, Team

# What a task row needs for the inbox and the API, joined in the same query.
TASK_RELATED = ("account", "account__stage", "account__owner", "account__score", "playbook", "assignee", "team")


def user_sees_all(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Admins (staff) see every task and account; operators see their teams'."""
    return bool(user is not None and getattr(user, "is_staff", False) and user.is_active)


def team_ids_for_user(*, user: Any) -> list[int]:
    """Ids of the teams a user belongs to (cached on the user object for the request)."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return []
    cached = getattr(user, "_klearly_team_ids", None)
    if cached is None:
        cached = list(Team.objects.filter(members=user).values_list("pk", flat=True))
        user._klearly_team_ids = cached
    return cached


def teammate_ids_for_user(*, user: Any) -> list[int]:
    """The user and everyone who shares a team with them."""
    teams = team_ids_for_user(user=user)
    ids = {user.pk}
    if teams:
        ids |= set(Team.members.through.objects.filter(team_id__in=teams).values_list("user_id", flat=True))
    return sorted(ids)


def task_visibility_q(*, user: Any) -> Q:
    """The tasks a user may see: all for admins; their own and their teams' for operators; none for others."""
    if user_sees_all(user):
        return Q()
    if user is None or not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    teams = team_ids_for_user(user=user)
    return Q(assignee_id=user.pk) | Q(team_id__in=teams) if teams else Q(assignee_id=user.pk)


def account_visibility_q(*, user: Any, prefix: str = "") -> Q:
    """The accounts a user may see: all for admins; for operators those owned by them or a teammate, or with a task
    of their team. ``prefix`` (e.g. ``"account__"``) applies the rule from a related model."""
    if user_sees_all(user):
        return Q()
    if user is None or not getattr(user, "is_authenticated", False):
        return Q(**{f"{prefix}pk__in": []})
    teams = team_ids_for_user(user=user)
    teammates = teammate_ids_for_user(user=user)
    # Each part is an uncorrelated list of account ids the database hashes once (from index-only scans of the task
    # indexes on (assignee, account) and (team, account)); an ordered, limited list then walks its own index and
    # keeps the visible rows, without joining the account table to read the owner of every row.
    field = f"{prefix}pk__in"
    if prefix:
        owned = Q(**{field: Account.objects.filter(owner_id__in=teammates).values("pk")})
    else:
        owned = Q(owner_id__in=teammates)
    visible = owned | Q(**{field: Task.objects.filter(assignee_id=user.pk).values("account_id")})
    if teams:
        visible |= Q(**{field: Task.objects.filter(team_id__in=teams).values("account_id")})
    return visible


def account_list_for_user(*, user: Any) -> QuerySet[Account]:
    """Accounts the user may see: the one rule of the web pages and of ``/api/v1/`` for sessions
    (``klearly.api.visibility`` applies ``account_visibility_q`` to every endpoint)."""
    return Account.objects.filter(account_visibility_q(user=user))


def assignees_for_user(*, user: Any) -> QuerySet:
    """Who the user may hand tasks to (the web's assign form and ``/api/v1/tasks/…/assign/``): every active user
    for admins, their active teammates (and themselves) for operators, nobody for anyone else."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    if user_sees_all(user):
        return users
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return users.none()
    return users.filter(pk__in=teammate_ids_for_user(user=user))


def task_list_for_user(*, user: Any, filters: dict[str, Any] | None = None) -> QuerySet[Task]:
    """The tasks a user may see, filtered with ``TaskFilterSet`` (``filters``: query parameters), with everything a
    row shows joined in: a fixed number of queries whatever the page size."""
    from .filters import TaskFilterSet

    queryset = Task.objects.filter(task_visibility_q(user=user)).select_related(*TASK_RELATED)
    filterset = TaskFilterSet(filters or {}, queryset=queryset, request=None, user=user)
    if not filterset.is_valid():
        # Callers that need the messages build the FilterSet themselves (the API does); here bad values filter
        # nothing rather than failing.
        return queryset.none()
    return filterset.qs


def task_get_for_user(*, user: Any, task_id: int) -> Task | None:
    """One task the user may see, with its related rows, or None."""
    return Task.objects.filter(task_visibility_q(user=user)).select_related(*TASK_RELATED).filter(pk=task_id).first()


def task_comments(*, task: Task) -> QuerySet[TaskComment]:
    """A task's comments, oldest first, with their authors."""
    return task.comments.select_related("author").order_by("created_at", "id")


def task_counts_for_user(*, user: Any) -> dict[str, int]:
    """Open tasks per inbox view (mine, my team, unassigned, all), in one query."""
    from django.db.models import Count

    from .choices import ACTIVE_STATUSES

    active = Task.objects.filter(task_visibility_q(user=user), status__in=ACTIVE_STATUSES)
    teams = team_ids_for_user(user=user)
    pk = getattr(user, "pk", None)
    return active.aggregate(
        mine=Count("pk", filter=Q(assignee_id=pk)),
        team=Count("pk", filter=Q(team_id__in=teams)) if teams else Count("pk", filter=Q(pk__in=[])),
        unassigned=Count("pk", filter=Q(assignee__isnull=True)),
        all=Count("pk"),
    )


def playbook_list() -> QuerySet[Playbook]:
    """Playbooks with their team, named assignee and experiment joined in."""
    return Playbook.objects.select_related("assign_team", "assign_user", "experiment_group").order_by("name")


def playbook_active_list() -> list[Playbook]:
    """The active playbooks (a short list: read once per matching chunk)."""
    return list(playbook_list().filter(is_active=True))


# --- web UI reads ------------------------------------------------------------------------------------------------


# Probabilities and health (scoring.AccountPrediction) come with the account in one join.
_PREDICTION = ("prediction",)


def task_inbox_for_user(*, user: Any, view: str) -> QuerySet[Task]:
    """The tasks of one inbox view the user may see, with what a row shows joined in (filter and sort them with
    ``TaskFilterSet``). "Mine" and "my team" are inside what an operator may see by definition, so the view's own
    condition replaces the visibility OR and the database can walk an index in the page's order."""
    from .choices import InboxView

    # A row shows the grade, not the explanation: the scores' contributions (the widest column) stay in the database.
    base = Task.objects.select_related(*TASK_RELATED).defer("account__score__contributions", "account__traits")
    if user_sees_all(user) or user is None or not getattr(user, "is_authenticated", False):
        return base.filter(task_visibility_q(user=user))
    teams = team_ids_for_user(user=user)
    if view == InboxView.MINE:
        return base.filter(assignee_id=user.pk)
    if view == InboxView.TEAM:
        return base.filter(team_id__in=teams)
    if view == InboxView.UNASSIGNED:  # nobody's, so visible only through the team
        return base.filter(team_id__in=teams, assignee__isnull=True)
    return base.filter(task_visibility_q(user=user))


def task_open_counts_for_user(*, user: Any) -> dict[str, int]:
    """Open (not snoozed, not closed) tasks per inbox view: mine, my team, unassigned, and all for admins (0 where a
    view does not apply). One query of scalar counts, each one a range of an index (no OR for the planner to
    resolve, no table rows to read once the visibility map is current)."""
    from django.db import connection

    from .choices import TaskStatus

    open_tasks = Task.objects.filter(status=TaskStatus.OPEN).order_by()
    teams = team_ids_for_user(user=user)
    pk = getattr(user, "pk", None)
    parts: dict[str, QuerySet[Task] | None] = {
        "mine": open_tasks.filter(assignee_id=pk) if pk else None,
        "team": open_tasks.filter(team_id__in=teams) if teams else None,
    }
    if user_sees_all(user):
        parts["unassigned"] = open_tasks.filter(assignee__isnull=True)
        parts["all"] = open_tasks
    else:  # an operator's unassigned tasks are their teams' (an unassigned task is visible only through its team)
        parts["unassigned"] = open_tasks.filter(team_id__in=teams, assignee__isnull=True) if teams else None
        parts["all"] = None
    selects: list[str] = []
    params: list[Any] = []
    for name, queryset in parts.items():
        if queryset is None:
            selects.append("0")
            continue
        sql, values = queryset.values("pk").query.sql_with_params()
        selects.append(f"(SELECT count(*) FROM ({sql}) AS {name}_tasks)")
        params.extend(values)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(selects)}", params)
        row = cursor.fetchone()
    return dict(zip(parts, (int(n) for n in row), strict=True))


def account_get_for_user(*, user: Any, account_id: int) -> Account | None:
    """One account the user may see, with its stage, owner and current scores joined, or None."""
    return (
        Account.objects.filter(account_visibility_q(user=user), pk=account_id)
        .select_related("stage", "owner", "score", *_PREDICTION)
        .first()
    )


def account_scores_for_user(*, user: Any) -> QuerySet:
    """Current scores of the accounts the user may see, with account, stage and owner joined (the account lists)."""
    from scoring.models import AccountScore

    return (
        AccountScore.objects.filter(account_visibility_q(user=user, prefix="account__"))
        .select_related("account", "account__stage", "account__owner", *(f"account__{name}" for name in _PREDICTION))
        .defer("contributions", "account__traits", *(f"account__{name}__reasons" for name in _PREDICTION))
    )


def account_task_list(*, account_id: int, user: Any, limit: int = 20) -> list[Task]:
    """An account's tasks the user may see: active ones first, then the latest closed."""
    from .choices import ACTIVE_STATUSES

    tasks = Task.objects.filter(task_visibility_q(user=user), account_id=account_id).select_related(
        "playbook", "assignee"
    )
    active = list(tasks.filter(status__in=ACTIVE_STATUSES).order_by("-priority", "due_at", "-id")[:limit])
    closed = list(
        tasks.exclude(status__in=ACTIVE_STATUSES).order_by("-closed_at", "-id")[: max(limit - len(active), 5)]
    )
    return active + closed


def account_signal_timeline(*, account_id: int) -> QuerySet:
    """An account's signals, newest first, with type, topic and contact joined (filtered by ``SignalFilterSet``)."""
    from signals_app.models import Signal

    return (
        Signal.objects.filter(account_id=account_id)
        .select_related("type", "topic", "topic__parent", "contact")
        .order_by("-occurred_at", "-id")
    )
