"""Every page costs the same number of queries for a short and a long page (no N+1), under a fixed ceiling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Segment, SegmentMembership
from playbooks.models import TaskComment
from scoring.models import ContactScore, RuleHit, ScoreHistory, SignalRule
from tests.factories import AccountFactory, ContactFactory, SignalFactory, SignalTopicFactory, SignalTypeFactory
from tests.playbooks.factories import TaskFactory
from tests.web.conftest import REASON, score

pytestmark = pytest.mark.django_db

PAGE_CEILING = 25  # queries per page, whatever its size (session, user, teams, the page's reads)


def queries(client, url: str, **extra) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **extra)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def add_tasks(world, n: int) -> None:
    for i in range(n):
        account = AccountFactory(owner=world["bob"])
        score(account, grade="ABCD"[i % 4], lead=i)
        SegmentMembership.objects.create(
            segment=Segment.objects.get_or_create(name="S")[0], account=account, entered_at=timezone.now()
        )
        TaskFactory(team=world["cs"], assignee=world["alice"], reason=REASON, playbook=world["trial"], account=account)


@pytest.mark.parametrize(
    "path", ["/", "/?view=team&sort=likelihood", "/?grade=A,B&due=week&segment=1", "/?status=done"]
)
def test_inbox_queries_do_not_grow_with_the_page(alice_client, world, path, django_assert_max_num_queries):
    add_tasks(world, 2)
    few = queries(alice_client, path)
    add_tasks(world, 30)
    with django_assert_max_num_queries(PAGE_CEILING):
        many = queries(alice_client, path)
    assert many == few


def test_task_detail_and_actions_do_not_grow_with_comments(alice_client, world):
    task = world["mine"]
    url = reverse("web:task", args=[task.pk])
    TaskComment.objects.create(task=task, author=world["bob"], body="one")
    few = queries(alice_client, url, HTTP_HX_REQUEST="true")
    for i in range(20):
        TaskComment.objects.create(task=task, author=world["alice" if i % 2 else "bob"], body=f"c{i}")
    assert queries(alice_client, url, HTTP_HX_REQUEST="true") == few <= PAGE_CEILING


def fill_account(account, n: int, start: int) -> None:
    today = timezone.localdate()
    kind, topic = SignalTypeFactory(key=f"t{start}"), SignalTopicFactory(key=f"p{start}")
    rule = SignalRule.objects.create(name=f"rule {start}", conditions={"match": "all", "conditions": []})
    RuleHit.objects.create(rule=rule, account=account, set_at=timezone.now(), evaluated_at=timezone.now())
    for i in range(n):
        contact = ContactFactory(account=account)
        ContactScore.objects.create(contact=contact, account=account, engagement=i, computed_at=timezone.now())
        SignalFactory(
            account=account,
            contact=contact,
            type=kind,
            topic=topic,
            occurred_at=timezone.now() - timedelta(hours=start + i),
        )
        ScoreHistory.objects.create(
            account=account, date=today - timedelta(days=start + i), fit=1, engagement=1, lead=2, signal_strength=0,
            grade="D", temperature="cold", qualified=False, surging=False, config_version=1, computed_at=timezone.now(),
        )  # fmt: skip
        TaskFactory(account=account, team=account.tasks.first().team, reason=REASON)


def test_account_page_queries_do_not_grow(alice_client, world, django_assert_max_num_queries):
    account = world["mine"].account
    url = reverse("web:account", args=[account.pk])
    fill_account(account, 2, 0)
    few = queries(alice_client, url)
    fill_account(account, 30, 100)
    with django_assert_max_num_queries(PAGE_CEILING):
        many = queries(alice_client, url)
    assert many == few


@pytest.mark.parametrize("name", ["web:call", "web:surging", "web:at_risk", "web:accounts"])
def test_list_queries_do_not_grow(alice_client, world, name, django_assert_max_num_queries):
    rule = SignalRule.objects.get(name="Potential problem account")

    def make(n: int) -> None:
        for _ in range(n):
            account = AccountFactory(owner=world["bob"])
            score(account, qualified=True, surging=True)
            RuleHit.objects.create(rule=rule, account=account, set_at=timezone.now(), evaluated_at=timezone.now())

    make(2)
    queries(alice_client, reverse(name))  # the first request of the minute also asks whether probabilities exist
    few = queries(alice_client, reverse(name))
    make(30)
    with django_assert_max_num_queries(PAGE_CEILING):
        many = queries(alice_client, reverse(name))
    assert many == few
