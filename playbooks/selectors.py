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
