"""The inbox list: who sees what, the shared FilterSet, and a query count that does not grow with the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Segment, SegmentMembership
from playbooks.choices import TaskStatus
from playbooks.filters import TaskFilterSet
from playbooks.selectors import account_list_for_user, task_counts_for_user, task_list_for_user
from scoring.models import AccountScore
from tests.factories import AccountFactory, UserFactory
from tests.playbooks.factories import PlaybookFactory, TaskFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    alice, bob, carol = UserFactory(username="alice"), UserFactory(username="bob"), UserFactory(username="carol")
    boss = UserFactory(username="boss", is_staff=True)
    cs, sales = TeamFactory(name="CS"), TeamFactory(name="Sales")
    cs.members.add(alice, bob)
    sales.members.add(carol)
    return {"alice": alice, "bob": bob, "carol": carol, "boss": boss, "cs": cs, "sales": sales}


def test_operators_see_their_team_admins_see_all(world):
    a = TaskFactory(team=world["cs"], assignee=world["alice"])
    b = TaskFactory(team=world["cs"])
    c = TaskFactory(team=world["sales"], assignee=world["carol"])
    assert set(task_list_for_user(user=world["bob"])) == {a, b}
    assert set(task_list_for_user(user=world["carol"])) == {c}
    assert set(task_list_for_user(user=world["boss"])) == {a, b, c}
    assert set(task_list_for_user(user=world["bob"], filters={"view": "mine"})) == set()
    assert set(task_list_for_user(user=world["alice"], filters={"view": "mine"})) == {a}
    assert set(task_list_for_user(user=world["bob"], filters={"view": "unassigned"})) == {b}
    assert task_counts_for_user(user=world["alice"]) == {"mine": 1, "team": 2, "unassigned": 1, "all": 2}


def test_accounts_visible_through_owner_or_team_task(world):
    owned_by_bob = AccountFactory(owner=world["bob"])
    with_cs_task = TaskFactory(team=world["cs"]).account
    sales_only = AccountFactory(owner=world["carol"])
    assert set(account_list_for_user(user=world["alice"])) == {owned_by_bob, with_cs_task}
    assert sales_only in set(account_list_for_user(user=world["boss"]))


def test_filters(world):
    now = timezone.now()
    overdue = TaskFactory(due_at=now - timedelta(hours=2), priority=4)
    today = TaskFactory(due_at=timezone.localtime(now).replace(hour=23, minute=59), priority=1)
    none = TaskFactory(due_at=None, status=TaskStatus.SNOOZED)
    done = TaskFactory(status=TaskStatus.DONE)
    AccountScore.objects.create(account=overdue.account, grade="A", lead=90, computed_at=now)
    segment = Segment.objects.create(name="Trials")
    SegmentMembership.objects.create(segment=segment, account=today.account, entered_at=now)
    boss = world["boss"]

    def ids(**params):
        return {t.pk for t in task_list_for_user(user=boss, filters=params)}

    assert ids(due="overdue") == {overdue.pk}
    assert today.pk in ids(due="today") and overdue.pk not in ids(due="week") - {overdue.pk}
    assert ids(due="none") == {none.pk, done.pk}
    assert ids(status="active") == {overdue.pk, today.pk, none.pk}
    assert ids(status="done") == {done.pk}
    assert ids(grade="A") == {overdue.pk}
    assert ids(segment=str(segment.pk)) == {today.pk}
    assert ids(playbook=str(overdue.playbook_id)) == {overdue.pk}
    ordered = [t.pk for t in task_list_for_user(user=boss, filters={"ordering": "-priority", "status": "open"})]
    assert ordered[0] == overdue.pk and ordered[-1] == today.pk
    assert ids(due="someday") == set()  # a bad value filters everything out rather than failing
    assert not TaskFilterSet({"due": "someday"}, queryset=today.__class__.objects.all()).is_valid()


def test_list_query_count_does_not_grow(world, django_assert_num_queries):
    playbook = PlaybookFactory()
    for _ in range(3):
        TaskFactory(team=world["cs"], playbook=playbook, assignee=world["alice"])

    def run():
        user = world["alice"].__class__.objects.get(pk=world["alice"].pk)
        return [(t.account.name, t.account.owner, t.playbook.name, t.assignee, t.team) for t in
                task_list_for_user(user=user, filters={"view": "team"})]  # fmt: skip

    with django_assert_num_queries(3):  # the user, their teams, the page
        assert len(run()) == 3
    for _ in range(10):
        TaskFactory(team=world["cs"], playbook=PlaybookFactory(), assignee=world["bob"])
    with django_assert_num_queries(3):
        assert len(run()) == 13
