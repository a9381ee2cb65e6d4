"""Every list endpoint makes the same number of queries for 2 rows as for 20 (no N+1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import JourneyStage, Segment, SegmentMembership, StageTransition
from tests.factories import (
    AccountFactory,
    ContactFactory,
    IngestionSourceFactory,
    SignalFactory,
    SignalTopicFactory,
    SignalTypeFactory,
    UserFactory,
    stage,
)

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def accounts(n: int, start: int) -> None:
    for i in range(start, start + n):
        AccountFactory(owner=UserFactory(), stage=stage("trial" if i % 2 else "starter"))


def contacts(n: int, start: int) -> None:
    for i in range(start, start + n):
        ContactFactory(stage=stage("lead" if i % 2 else "trial"))


def signals(n: int, start: int) -> None:
    line = SignalTopicFactory(key="line", label="Line")
    for i in range(start, start + n):
        account = AccountFactory()
        SignalFactory(
            account=account,
            contact=ContactFactory(account=account),
            type=SignalTypeFactory(key=f"type-{i}"),
            topic=SignalTopicFactory(key=f"line--t{i}", parent=line),
            ingestion_source=IngestionSourceFactory(name=f"source {i}"),
            occurred_at=T0 + timedelta(hours=i),
        )


def signal_types(n: int, start: int) -> None:
    for i in range(start, start + n):
        SignalTypeFactory(key=f"t-{i}")


def signal_topics(n: int, start: int) -> None:
    for i in range(start, start + n):
        SignalTopicFactory(key=f"l{i}--x", parent=SignalTopicFactory(key=f"l{i}"))


def journey_stages(n: int, start: int) -> None:
    for i in range(start, start + n):
        JourneyStage.objects.create(key=f"s{i}", name=f"S{i}", position=100 + i)


def stage_transitions(n: int, start: int) -> None:
    for _ in range(n):
        StageTransition.objects.create(
            account=AccountFactory(), from_stage=stage("trial"), to_stage=stage("starter"), changed_at=T0,
            movement="conversion",
        )  # fmt: skip


def segments(n: int, start: int) -> None:
    for i in range(start, start + n):
        segment = Segment.objects.create(name=f"Segment {i}")
        SegmentMembership.objects.create(segment=segment, account=AccountFactory(), entered_at=T0)


def members(n: int, start: int) -> None:
    segment, _ = Segment.objects.get_or_create(name="Members", defaults={"id": 4242})
    for _ in range(n):
        SegmentMembership.objects.create(segment=segment, account=AccountFactory(), entered_at=T0)


ENDPOINTS: list[tuple[str, Callable[[int, int], None]]] = [
    ("/api/v1/accounts/", accounts),
    ("/api/v1/contacts/", contacts),
    ("/api/v1/signals/", signals),
    ("/api/v1/signal-types/", signal_types),
    ("/api/v1/signal-topics/", signal_topics),
    ("/api/v1/journey-stages/", journey_stages),
    ("/api/v1/stage-transitions/", stage_transitions),
    ("/api/v1/segments/", segments),
    ("/api/v1/segments/4242/members/?include_past=true", members),
]


def count_queries(client, url: str, rows: int) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) >= rows
    return len(ctx.captured_queries)


@pytest.mark.parametrize(("url", "make"), ENDPOINTS, ids=[url for url, _ in ENDPOINTS])
def test_list_queries_do_not_grow_with_rows(url, make, superuser_api):
    make(2, 0)
    superuser_api.get(url)  # warm up the session and content types
    few = count_queries(superuser_api, url, 2)
    make(18, 2)
    many = count_queries(superuser_api, url, 20)
    assert few == many, f"{url}: {few} queries for 2 rows, {many} for 20"
    assert many <= 6


@pytest.mark.parametrize("url", ["/api/v1/accounts/", "/api/v1/signals/"])
def test_key_authenticated_lists_cost_one_query_more_than_sessions_at_most(url, admin_api):
    signals(3, 0)
    admin_api.get(url)  # the first request of the minute records last_used_at
    with CaptureQueriesContext(connection) as ctx:
        assert admin_api.get(url).status_code == 200
    assert len(ctx.captured_queries) <= 4


@pytest.mark.parametrize(("url", "make"), ENDPOINTS, ids=[url for url, _ in ENDPOINTS])
def test_an_operators_lists_do_not_grow_with_rows_either(url, make, operator):
    """Visibility (klearly.api.visibility) is conditions in the same query, not a query per row."""
    from accounts.models import Account
    from tests.playbooks.factories import TeamFactory

    TeamFactory(name="Mine").members.add(operator.user, UserFactory(username="teammate"))
    make(2, 0)
    Account.objects.update(owner=operator.user)  # the operator sees every account made here
    operator.get(url)
    few = count_queries(operator, url, 2)
    make(18, 2)
    Account.objects.update(owner=operator.user)
    many = count_queries(operator, url, 20)
    assert few == many, f"{url}: {few} queries for 2 rows, {many} for 20"
    assert many <= 8
