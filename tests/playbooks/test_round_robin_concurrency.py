"""Round-robin turns are never handed out twice when workers assign at the same time (PostgreSQL row lock)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from playbooks.assignment import cursor_advance
from playbooks.models import Team


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_take_distinct_turns():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises every writer anyway)")
    team = Team.objects.create(name="CS")
    starts: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(20):
                with transaction.atomic():
                    start = cursor_advance(team.pk, 3)
                with lock:
                    starts.append(start)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(starts) == list(range(0, 240, 3))  # 80 reservations of 3 turns, none overlapping
    team.refresh_from_db()
    assert team.round_robin_cursor == 240
