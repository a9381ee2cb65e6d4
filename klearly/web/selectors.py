"""Reads of the web pages: an inbox view's tasks and the counts per view, an account with what its page shows, the
account lists' scores, an account's tasks and signal timeline. Who may see what is the playbooks app's rule
(``playbooks.selectors``), the same as the API's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import Account
from playbooks.models import Task
from playbooks.selectors import TASK_RELATED, account_visibility_q, task_visibility_q, team_ids_for_user, user_sees_all

# Probabilities and health (scoring.AccountPrediction) come with the account in one join.
_PREDICTION = ("prediction",)


def task_inbox_for_user(*, user: Any, view: str) -> QuerySet[Task]:
    """The tasks of one inbox view the user may see, with what a row shows joined in (filter and sort them with
    ``TaskFilterSet``). "Mine" and "my team" are inside what an operator may see by definition, so the view's own
    condition replaces the visibility OR and the database can walk an index in the page's order."""
    from playbooks.choices import InboxView

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

    from playbooks.choices import TaskStatus

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
    from playbooks.choices import ACTIVE_STATUSES

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
