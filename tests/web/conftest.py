"""A small inbox world: a CS team (alice, bob), a Sales team (carol), an admin (boss), tasks and scored accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scoring.models import AccountScore
from tests.factories import AccountFactory, UserFactory
from tests.playbooks.factories import PlaybookFactory, TaskFactory, TeamFactory

# The shape the playbooks engine stores (playbooks/runs.py and reasons.py).
REASON = {
    "summary": "Lead score crossed 65",
    "score": "lead",
    "before": 58,
    "after": 71,
    "threshold": 65,
    "playbook": "Trial to paid",
    "top": [
        {"label": "Pricing page view × 4", "points": 18.5},
        {"label": "Demo request", "points": 12},
        {"label": "Free email address", "points": -5},
    ],
}


def score(account, **values):
    """A current score row for ``account`` (defaults: a grade-C, unqualified account)."""
    defaults = {"lead": 45.0, "fit": 25.0, "engagement": 20.0, "grade": "C", "computed_at": timezone.now()}
    return AccountScore.objects.create(account=account, **{**defaults, **values})


@pytest.fixture
def world(db):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Martin")
    bob = UserFactory(username="bob", first_name="Bob")
    carol = UserFactory(username="carol")
    boss = UserFactory(username="boss", is_staff=True)
    for user in (alice, bob, carol, boss):
        user.set_password("pw")
        user.save()
    cs, sales = TeamFactory(name="CS"), TeamFactory(name="Sales")
    cs.members.add(alice, bob)
    sales.members.add(carol)
    trial = PlaybookFactory(name="Trial to paid", assign_team=cs)
    churn = PlaybookFactory(name="Churn risk", assign_team=cs)
    now = timezone.now()
    mine = TaskFactory(
        title="Call Acme", team=cs, assignee=alice, playbook=trial, priority=3, due_at=now + timedelta(days=1),
        reason=REASON, likelihood=40, account=AccountFactory(name="Acme", owner=alice),
    )  # fmt: skip
    mine_too = TaskFactory(
        title="Call Globex", team=cs, assignee=alice, playbook=churn, priority=2, due_at=now - timedelta(days=1),
        reason=REASON, likelihood=90, account=AccountFactory(name="Globex"),
    )  # fmt: skip
    bobs = TaskFactory(title="Call Initech", team=cs, assignee=bob, playbook=trial, reason=REASON)
    unassigned = TaskFactory(title="Call Umbrella", team=cs, assignee=None, playbook=trial, reason=REASON)
    sales_task = TaskFactory(title="Call Hooli", team=sales, assignee=carol, reason=REASON)
    score(mine.account, grade="A", lead=85, qualified=True)
    score(mine_too.account, grade="B", lead=62)
    return {
        "alice": alice, "bob": bob, "carol": carol, "boss": boss, "cs": cs, "sales": sales, "trial": trial,
        "churn": churn, "mine": mine, "mine_too": mine_too, "bobs": bobs, "unassigned": unassigned,
        "sales_task": sales_task,
    }  # fmt: skip


@pytest.fixture
def alice_client(client, world):
    client.force_login(world["alice"])
    return client


HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _empty_cache():
    """The web layer caches a few facts for a minute (e.g. whether conversion probabilities exist yet)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
