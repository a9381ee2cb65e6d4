"""Who gets a new task: the account's owner, a round-robin member of the playbook's team (turns reserved under a row
lock), a named person, or nobody; and the team of a task given to a person."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from .choices import AssignMode
from .matching import Firing
from .models import PlaybookRun, Team


def task_assignees(
    with_task: list[tuple[Firing, PlaybookRun]], accounts: Mapping[int, Mapping[str, Any]]
) -> dict[int, int | None]:
    """Assignee per firing (by position): the owner, a round-robin member of the team, a named person, or nobody."""
    result: dict[int, int | None] = {}
    round_robin: dict[int, list[int]] = defaultdict(list)  # team id -> positions waiting for a member
    for i, (f, _) in enumerate(with_task):
        pb = f.playbook
        account = accounts.get(f.account_id) or {}
        if pb.assign_mode == AssignMode.USER:
            result[i] = pb.assign_user_id
        elif pb.assign_mode == AssignMode.OWNER and account.get("owner_id") and account.get("owner__is_active"):
            result[i] = account["owner_id"]
        elif pb.assign_mode in (AssignMode.OWNER, AssignMode.ROUND_ROBIN) and pb.assign_team_id:
            round_robin[pb.assign_team_id].append(i)
            result[i] = None
        else:
            result[i] = None
    if round_robin:
        members: dict[int, list[int]] = defaultdict(list)
        for team_id, user_id in (
            Team.members.through.objects.filter(team_id__in=list(round_robin), user__is_active=True)
            .order_by("team_id", "user_id")
            .values_list("team_id", "user_id")
        ):
            members[team_id].append(user_id)
        for team_id, positions in round_robin.items():
            people = members.get(team_id)
            if not people:
                continue
            start = cursor_advance(team_id, len(positions))
            for k, i in enumerate(positions):
                result[i] = people[(start + k) % len(people)]
    return result


def cursor_advance(team_id: int, n: int) -> int:
    """Reserve ``n`` round-robin turns of a team; returns the first. Row-locked, so concurrent workers never hand out
    the same turns (on SQLite the write lock serialises them)."""
    team = Team.objects.select_for_update().only("round_robin_cursor").get(pk=team_id)
    start = team.round_robin_cursor
    Team.objects.filter(pk=team_id).update(round_robin_cursor=start + n)
    return start


def first_teams(user_ids: set[int]) -> dict[int, int]:
    """Each user's first team (by name), for tasks assigned to a person without a playbook team."""
    if not user_ids:
        return {}
    result: dict[int, int] = {}
    for user_id, team_id in (
        Team.members.through.objects.filter(user_id__in=user_ids)
        .order_by("team__name")
        .values_list("user_id", "team_id")
    ):
        result.setdefault(user_id, team_id)
    return result
