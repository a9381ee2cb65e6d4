"""Writes of the playbooks app: what operators do to tasks (one at a time and in bulk) and team membership.

Every action checks the task's state and says clearly why it cannot be done (``TaskActionError``, whose
``field`` names the input at fault). Bulk actions are one set-based UPDATE each over the tasks the caller may see.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .choices import ACTIVE_STATUSES, DismissReason, TaskOutcome, TaskStatus
from .models import SavedView, Task, TaskComment
from .selectors import task_visibility_q

MAX_BULK = 1000
MAX_COMMENT = 10_000


class TaskActionError(ValueError):
    """An action that cannot be done; ``field`` names the input at fault (or ``None``)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _require_active(task: Task) -> None:
    if task.status not in ACTIVE_STATUSES:
        raise TaskActionError(f"This task is already {task.get_status_display().lower()}.", field="status")


def _snooze_moment(until: date | datetime) -> datetime:
    if isinstance(until, datetime):
        moment = until if timezone.is_aware(until) else timezone.make_aware(until)
    elif isinstance(until, date):
        moment = timezone.make_aware(datetime.combine(until, time(8, 0)))  # the start of that working day
    else:
        raise TaskActionError("Give a date to snooze until.", field="until")
    if moment <= timezone.now():
        raise TaskActionError("Snooze until a date in the future.", field="until")
    if moment.year > 2200:
        raise TaskActionError("Snooze until a date before 2200.", field="until")
    return moment


def _assignee(user_id: int | None) -> Any:
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise TaskActionError(f"No active user has id {user_id}.", field="assignee")
    return user


def _outcome(outcome: str) -> str:
    if outcome not in TaskOutcome.values:
        raise TaskActionError(
            f"Unknown outcome {outcome!r}: use one of {', '.join(TaskOutcome.values)}.", field="outcome"
        )
    return outcome


def _dismiss_reason(reason: str) -> str:
    if reason not in DismissReason.values or reason == DismissReason.AUTO_CLEARED:
        allowed = [v for v in DismissReason.values if v != DismissReason.AUTO_CLEARED]
        raise TaskActionError(f"Unknown reason {reason!r}: use one of {', '.join(allowed)}.", field="reason")
    return reason


def _comment_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise TaskActionError("A comment cannot be empty.", field="body")
    if len(body) > MAX_COMMENT or "\x00" in body:
        raise TaskActionError(f"A comment is at most {MAX_COMMENT} characters of text.", field="body")
    return body


def _locked(task: Task) -> Task:
    """The task re-read under a row lock, so two people acting at once see each other's change."""
    return Task.objects.select_for_update().get(pk=task.pk)


@transaction.atomic
def task_claim(*, task: Task, user: Any) -> Task:
    """Take an open or snoozed task for yourself."""
    task = _locked(task)
    _require_active(task)
    task.assignee = user
    task.save(update_fields=["assignee", "updated_at"])
    return task


@transaction.atomic
def task_assign(*, task: Task, assignee_id: int | None, by: Any = None) -> Task:
    """Give a task to someone (``None``: back to the team's unassigned list)."""
    task = _locked(task)
    _require_active(task)
    task.assignee = _assignee(assignee_id)
    task.save(update_fields=["assignee", "updated_at"])
    return task


@transaction.atomic
def task_snooze(*, task: Task, until: date | datetime, by: Any = None) -> Task:
    """Hide a task until a date (it comes back open then)."""
    moment = _snooze_moment(until)
    task = _locked(task)
    _require_active(task)
    task.status, task.snoozed_until = TaskStatus.SNOOZED, moment
    task.save(update_fields=["status", "snoozed_until", "updated_at"])
    return task


@transaction.atomic
def task_complete(*, task: Task, outcome: str, by: Any = None, note: str = "") -> Task:
    """Mark a task done with its outcome (and an optional note, kept as a comment)."""
    outcome = _outcome(outcome)
    task = _locked(task)
    _require_active(task)
    task.status, task.outcome, task.closed_at, task.closed_by = TaskStatus.DONE, outcome, timezone.now(), by
    task.snoozed_until = None
    task.save(update_fields=["status", "outcome", "closed_at", "closed_by", "snoozed_until", "updated_at"])
    if note and note.strip():
        TaskComment.objects.create(task=task, author=by, body=_comment_body(note))
    return task


@transaction.atomic
def task_dismiss(*, task: Task, reason: str, by: Any = None, note: str = "") -> Task:
    """Close a task without working it, saying why."""
    reason = _dismiss_reason(reason)
    task = _locked(task)
    _require_active(task)
    task.status, task.dismiss_reason, task.closed_at, task.closed_by = (
        TaskStatus.DISMISSED, reason, timezone.now(), by,
    )  # fmt: skip
    task.snoozed_until = None
    task.save(update_fields=["status", "dismiss_reason", "closed_at", "closed_by", "snoozed_until", "updated_at"])
    if note and note.strip():
        TaskComment.objects.create(task=task, author=by, body=_comment_body(note))
    return task


@transaction.atomic
def task_comment(*, task: Task, body: str, by: Any) -> TaskComment:
    """Add a comment to a task (any status)."""
    return TaskComment.objects.create(task=task, author=by, body=_comment_body(body))


# --- bulk ----------------------------------------------------------------------------------------------------------


def _bulk_targets(task_ids: Iterable[Any], user: Any) -> QuerySet[Task]:
    ids: list[int] = []
    for value in task_ids:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
            raise TaskActionError(f"Task ids are whole numbers (got {value!r}).", field="ids")
        ids.append(int(value))
    if not ids:
        raise TaskActionError("Select at least one task.", field="ids")
    if len(ids) > MAX_BULK:
        raise TaskActionError(f"At most {MAX_BULK} tasks at a time.", field="ids")
    return Task.objects.filter(task_visibility_q(user=user), pk__in=ids, status__in=ACTIVE_STATUSES)


def tasks_bulk_claim(*, task_ids: Iterable[Any], user: Any) -> int:
    """Claim many tasks in one UPDATE; returns how many were claimed (closed or unseen ones are skipped)."""
    return _bulk_targets(task_ids, user).update(assignee=user, updated_at=timezone.now())


def tasks_bulk_assign(*, task_ids: Iterable[Any], assignee_id: int | None, user: Any) -> int:
    """Assign many tasks in one UPDATE."""
    assignee = _assignee(assignee_id)
    return _bulk_targets(task_ids, user).update(assignee=assignee, updated_at=timezone.now())


def tasks_bulk_snooze(*, task_ids: Iterable[Any], until: date | datetime, user: Any) -> int:
    """Snooze many tasks in one UPDATE."""
    moment = _snooze_moment(until)
    return _bulk_targets(task_ids, user).update(
        status=TaskStatus.SNOOZED, snoozed_until=moment, updated_at=timezone.now()
    )


def _closer(user: Any) -> Any:
    """Who closes: the user, or nobody when the caller is not a person (an API key)."""
    return user if user is not None and getattr(user, "_meta", None) is not None else None


def tasks_bulk_complete(*, task_ids: Iterable[Any], outcome: str, user: Any) -> int:
    """Complete many tasks with one outcome in one UPDATE."""
    outcome = _outcome(outcome)
    now = timezone.now()
    return _bulk_targets(task_ids, user).update(
        status=TaskStatus.DONE,
        outcome=outcome,
        closed_at=now,
        closed_by=_closer(user),
        snoozed_until=None,
        updated_at=now,
    )


def tasks_bulk_dismiss(*, task_ids: Iterable[Any], reason: str, user: Any) -> int:
    """Dismiss many tasks with one reason in one UPDATE."""
    reason = _dismiss_reason(reason)
    now = timezone.now()
    return _bulk_targets(task_ids, user).update(
        status=TaskStatus.DISMISSED, dismiss_reason=reason, closed_at=now, closed_by=_closer(user), snoozed_until=None,
        updated_at=now,
    )  # fmt: skip


def tasks_wake(*, now: datetime | None = None) -> int:
    """Reopen snoozed tasks whose date has come (beat, every few minutes): one UPDATE."""
    now = now or timezone.now()
    return Task.objects.filter(status=TaskStatus.SNOOZED, snoozed_until__lte=now).update(
        status=TaskStatus.OPEN, snoozed_until=None, updated_at=now
    )


# --- web UI writes -----------------------------------------------------------------------------------------------


@transaction.atomic
def saved_view_save(*, owner: Any, kind: str, name: str, query: str) -> SavedView:
    """Save a page's filters under a name for its owner; the same name again replaces the filters."""
    view, _ = SavedView.objects.update_or_create(owner=owner, kind=kind, name=name[:80], defaults={"query": query})
    return view


@transaction.atomic
def saved_view_delete(*, saved_view: SavedView) -> None:
    """Forget a saved view."""
    saved_view.delete()
