"""Playbook goals: a pending run reached its goal (a stage movement within the deadline, its task done, a customer
retained past the deadline) or is settled unreached."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone

from accounts.choices import Movement
from accounts.models import StageTransition

from .choices import GoalKind, TaskStatus
from .models import Playbook, PlaybookRun, Task

GOAL_MOVEMENTS = {GoalKind.CONVERTED: Movement.CONVERSION, GoalKind.EXPANDED: Movement.EXPANSION}


def playbook_goals_check(*, now: datetime | None = None, account_ids: Iterable[int] | None = None) -> int:
    """Record goals reached by pending runs (a stage movement within the deadline, a task done), settle runs whose
    deadline passed. A few set-based UPDATEs; ``account_ids`` narrows it (after a stage movement)."""
    now = now or timezone.now()
    pending = PlaybookRun.objects.filter(goal_checked_at__isnull=True, goal_deadline__isnull=False)
    if account_ids is not None:
        pending = pending.filter(account_id__in=list(account_ids))
    goals = dict(Playbook.objects.exclude(goal_kind="").values_list("pk", "goal_kind"))
    stages = dict(Playbook.objects.filter(goal_kind=GoalKind.STAGE_REACHED).values_list("pk", "goal_stage"))
    reached = 0

    def moves(**match: Any):
        return StageTransition.objects.filter(
            account_id=OuterRef("account_id"), changed_at__gte=OuterRef("fired_at"),
            changed_at__lte=OuterRef("goal_deadline"), **match,
        ).order_by("changed_at")  # fmt: skip

    for kind, movement in GOAL_MOVEMENTS.items():
        ids = [pk for pk, k in goals.items() if k == kind]
        if ids:
            first = moves(movement=movement)
            reached += (
                pending.filter(playbook_id__in=ids)
                .filter(Exists(first))
                .update(goal_reached_at=Subquery(first.values("changed_at")[:1]), goal_checked_at=now)
            )
    for playbook_id, stage_key in stages.items():
        first = moves(to_stage__key=stage_key)
        reached += (
            pending.filter(playbook_id=playbook_id)
            .filter(Exists(first))
            .update(goal_reached_at=Subquery(first.values("changed_at")[:1]), goal_checked_at=now)
        )
    done_ids = [pk for pk, k in goals.items() if k == GoalKind.TASK_DONE]
    if done_ids:
        done = Task.objects.filter(
            run_id=OuterRef("pk"), status=TaskStatus.DONE, closed_at__lte=OuterRef("goal_deadline")
        )
        reached += (
            pending.filter(playbook_id__in=done_ids)
            .filter(Exists(done))
            .update(goal_reached_at=Subquery(done.values("closed_at")[:1]), goal_checked_at=now)
        )
    retained = [pk for pk, k in goals.items() if k == GoalKind.RETAINED]
    if retained:
        churned = moves(movement=Movement.CHURN)
        expired = pending.filter(playbook_id__in=retained, goal_deadline__lt=now)
        expired.filter(Exists(churned)).update(goal_checked_at=now)
        reached += expired.filter(~Exists(churned)).update(goal_reached_at=F("goal_deadline"), goal_checked_at=now)
    # Past the deadline without reaching the goal: settled, not reached.
    pending.filter(goal_deadline__lt=now).update(goal_checked_at=now)
    return reached
