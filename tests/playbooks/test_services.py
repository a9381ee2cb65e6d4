"""Task actions: state checks with clear messages, bulk actions as one UPDATE over what the caller may see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from playbooks import services
from playbooks.choices import TaskStatus
from playbooks.services import TaskActionError
from tests.factories import UserFactory
from tests.playbooks.factories import TaskFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    user = UserFactory(username="alice")
    TeamFactory(name="CS").members.add(user)
    return user


def test_claim_assign_snooze_complete(alice):
    task = TaskFactory(team=alice.klearly_teams.get())
    task = services.task_claim(task=task, user=alice)
    assert task.assignee == alice
    task = services.task_snooze(task=task, until=timezone.localdate() + timedelta(days=3))
    assert task.status == TaskStatus.SNOOZED and task.snoozed_until > timezone.now()
    task = services.task_complete(task=task, outcome="meeting_booked", by=alice, note="Booked for Tuesday")
    assert (task.status, task.outcome, task.closed_by) == (TaskStatus.DONE, "meeting_booked", alice)
    assert task.comments.get().body == "Booked for Tuesday"
    with pytest.raises(TaskActionError, match="already done"):
        services.task_claim(task=task, user=alice)


def test_validation_messages_name_the_field(alice):
    task = TaskFactory()
    with pytest.raises(TaskActionError, match="future") as err:
        services.task_snooze(task=task, until=timezone.localdate() - timedelta(days=1))
    assert err.value.field == "until"
    with pytest.raises(TaskActionError, match="Unknown outcome 'won'") as err:
        services.task_complete(task=task, outcome="won")
    assert err.value.field == "outcome"
    with pytest.raises(TaskActionError, match="Unknown reason") as err:
        services.task_dismiss(task=task, reason="auto_cleared")
    with pytest.raises(TaskActionError, match="empty"):
        services.task_comment(task=task, body="  ", by=alice)
    with pytest.raises(TaskActionError, match="No active user"):
        services.task_assign(task=task, assignee_id=999999)
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_dismiss_keeps_reason_and_frees_the_reason_key(alice):
    task = TaskFactory(reason_key="rule:1")
    services.task_dismiss(task=task, reason="not_relevant", by=alice)
    task.refresh_from_db()
    assert (task.status, task.dismiss_reason) == (TaskStatus.DISMISSED, "not_relevant")
    # A closed task does not block a new one for the same reason.
    TaskFactory(account=task.account, playbook=task.playbook, reason_key="rule:1")


def test_one_active_task_per_account_playbook_and_reason():
    task = TaskFactory(reason_key="rule:1")
    with pytest.raises(IntegrityError), transaction.atomic():
        TaskFactory(account=task.account, playbook=task.playbook, reason_key="rule:1", status=TaskStatus.SNOOZED)


def test_bulk_actions_are_one_update_over_visible_active_tasks(alice, django_assert_num_queries):
    team = alice.klearly_teams.get()
    mine = [TaskFactory(team=team) for _ in range(3)]
    other_team = TaskFactory(team=TeamFactory(name="Sales"))
    closed = TaskFactory(team=team, status=TaskStatus.DONE)
    ids = [t.pk for t in mine] + [other_team.pk, closed.pk]
    alice._klearly_team_ids = [team.pk]  # as a request would have cached it
    with django_assert_num_queries(1):
        assert services.tasks_bulk_claim(task_ids=ids, user=alice) == 3
    assert services.tasks_bulk_complete(task_ids=ids, outcome="reached", user=alice) == 3
    other_team.refresh_from_db()
    assert other_team.status == TaskStatus.OPEN and other_team.assignee is None
    with pytest.raises(TaskActionError, match="whole numbers"):
        services.tasks_bulk_dismiss(task_ids=["x"], reason="duplicate", user=alice)
    with pytest.raises(TaskActionError, match="at least one"):
        services.tasks_bulk_snooze(task_ids=[], until=timezone.localdate() + timedelta(days=1), user=alice)


def test_snoozed_tasks_wake_up():
    task = TaskFactory(status=TaskStatus.SNOOZED, snoozed_until=timezone.now() - timedelta(minutes=1))
    later = TaskFactory(status=TaskStatus.SNOOZED, snoozed_until=timezone.now() + timedelta(days=1))
    assert services.tasks_wake() == 1
    task.refresh_from_db()
    later.refresh_from_db()
    assert task.status == TaskStatus.OPEN and later.status == TaskStatus.SNOOZED
