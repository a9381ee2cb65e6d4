"""/api/v1/tasks/ and /api/v1/playbooks/: visibility, scopes, every action with clear 400s, bulk, query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from playbooks.choices import TaskStatus
from playbooks.models import Playbook, Task
from tests.api.conftest import bearer
from tests.api.factories import api_key
from tests.factories import UserFactory
from tests.playbooks.factories import PlaybookFactory, TaskFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    alice, carol = UserFactory(username="alice"), UserFactory(username="carol")
    cs, sales = TeamFactory(name="CS"), TeamFactory(name="Sales")
    cs.members.add(alice)
    sales.members.add(carol)
    return {"alice": alice, "carol": carol, "cs": cs, "sales": sales}


def login(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_operators_see_and_work_their_team_tasks_only(people):
    mine = TaskFactory(team=people["cs"])
    theirs = TaskFactory(team=people["sales"])
    alice = login(people["alice"])
    listed = alice.get("/api/v1/tasks/").json()
    assert [t["id"] for t in listed["results"]] == [mine.pk]
    assert alice.get(f"/api/v1/tasks/{theirs.pk}/").status_code == 404
    assert alice.post(f"/api/v1/tasks/{theirs.pk}/claim/").status_code == 404
    claimed = alice.post(f"/api/v1/tasks/{mine.pk}/claim/")
    assert claimed.status_code == 200 and claimed.json()["assignee_username"] == "alice"
    assert alice.get("/api/v1/tasks/?view=mine").json()["count"] == 1
    done = alice.post(f"/api/v1/tasks/{mine.pk}/complete/", {"outcome": "meeting_booked", "note": "Tuesday"})
    assert done.status_code == 200 and done.json()["status"] == "done"
    again = alice.post(f"/api/v1/tasks/{mine.pk}/complete/", {"outcome": "meeting_booked"})
    assert again.status_code == 400 and again.json()["status"] == ["This task is already done."]
    comments = alice.get(f"/api/v1/tasks/{mine.pk}/comments/").json()
    assert [c["body"] for c in comments["results"]] == ["Tuesday"]


def test_actions_validate_their_input(people):
    task = TaskFactory(team=people["cs"])
    alice = login(people["alice"])
    url = f"/api/v1/tasks/{task.pk}"
    assert alice.post(f"{url}/complete/", {"outcome": "won"}).json()["outcome"][0].startswith('"won" is not')
    past = (timezone.now() - timedelta(days=1)).isoformat()
    assert alice.post(f"{url}/snooze/", {"until": past}).json() == {"until": ["Snooze until a date in the future."]}
    assert "until" in alice.post(f"{url}/snooze/", {"until": "tomorrow"}).json()
    assert "reason" in alice.post(f"{url}/dismiss/", {"reason": "auto_cleared"}).json()
    assert "assignee" in alice.post(f"{url}/assign/", {"assignee": "nobody"}).json()
    assert alice.post(f"{url}/comments/", {"body": ""}).status_code == 400
    future = (timezone.now() + timedelta(days=2)).isoformat()
    snoozed = alice.post(f"{url}/snooze/", {"until": future}).json()
    assert snoozed["status"] == "snoozed"
    assert alice.post(f"{url}/assign/", {"assignee": "alice"}).json()["assignee_username"] == "alice"
    assert alice.post(f"{url}/comments/", {"body": "Called, left a message"}).status_code == 201


def test_bulk_is_one_action_over_visible_tasks(people):
    ids = [TaskFactory(team=people["cs"]).pk for _ in range(3)]
    hidden = TaskFactory(team=people["sales"])
    alice = login(people["alice"])
    response = alice.post("/api/v1/tasks/bulk/", {"action": "dismiss", "ids": [*ids, hidden.pk],
                                                  "reason": "duplicate"}, format="json")  # fmt: skip
    assert response.json() == {"updated": 3}
    assert Task.objects.get(pk=hidden.pk).status == TaskStatus.OPEN
    bad = alice.post("/api/v1/tasks/bulk/", {"action": "complete", "ids": ids}, format="json")
    assert bad.status_code == 400 and bad.json() == {"outcome": ["'complete' needs 'outcome'."]}
    assert alice.post("/api/v1/tasks/bulk/", {"action": "claim", "ids": []}, format="json").status_code == 400


def test_key_scopes(people):
    task = TaskFactory(team=people["sales"])
    read = bearer(api_key("read")[1])
    admin = bearer(api_key("admin")[1])
    assert read.get("/api/v1/tasks/").json()["count"] == 1  # keys see every task
    assert read.get("/api/v1/tasks/?view=mine").json()["count"] == 0  # a key is nobody
    assert read.post(f"/api/v1/tasks/{task.pk}/dismiss/", {"reason": "duplicate"}).status_code == 403
    assert admin.post(f"/api/v1/tasks/{task.pk}/claim/").status_code == 400
    assert admin.post(f"/api/v1/tasks/{task.pk}/assign/", {"assignee": "carol"}).status_code == 200
    assert admin.post("/api/v1/tasks/bulk/", {"action": "complete", "ids": [task.pk], "outcome": "reached"},
                      format="json").json() == {"updated": 1}  # fmt: skip
    assert APIClient().get("/api/v1/tasks/").status_code == 401


def test_playbooks_read_and_write_with_clear_errors(people):
    PlaybookFactory(name="Trial to paid")
    read, admin = bearer(api_key("read")[1]), bearer(api_key("admin")[1])
    assert [p["name"] for p in read.get("/api/v1/playbooks/").json()["results"]] == ["Trial to paid"]
    body = {
        "name": "Expansion",
        "trigger_kind": "rule_hit",
        "trigger_params": {"rule": "Expansion opportunity"},
        "task_title_template": "Expand {{ account.name }}",
        "assign_mode": "round_robin",
        "assign_team": "CS",
    }
    assert read.post("/api/v1/playbooks/", body, format="json").status_code == 403
    created = admin.post("/api/v1/playbooks/", body, format="json")
    assert created.status_code == 201, created.json()
    bad = admin.post("/api/v1/playbooks/", {**body, "name": "Bad", "trigger_params": {"rule": 3},
                                            "conditions": {"field": "karma"}}, format="json")  # fmt: skip
    assert bad.status_code == 400
    assert "'rule' must be the name" in bad.json()["trigger_params"][0] and "karma" in bad.json()["conditions"][0]
    patched = admin.patch(f"/api/v1/playbooks/{created.json()['id']}/", {"cooldown_days": 3}, format="json")
    assert patched.status_code == 200 and Playbook.objects.get(name="Expansion").cooldown_days == 3
    operator = login(people["alice"])
    assert operator.get("/api/v1/playbooks/").status_code == 200
    assert operator.post("/api/v1/playbooks/", body, format="json").status_code == 403


def test_task_list_query_count_does_not_grow(people):
    alice = people["alice"]
    client = login(alice)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/tasks/?status=active&ordering=-likelihood").status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        TaskFactory(team=people["cs"], assignee=alice)
    small = count()
    for _ in range(20):
        TaskFactory(team=people["cs"], playbook=PlaybookFactory(), assignee=UserFactory())
    assert count() == small


@pytest.mark.parametrize(
    "query, field",
    [("priority=,", "priority"), ("priority=3,,4", "priority"), ("playbook=1,", "playbook"),
     ("playbook=99999999999999999999", "playbook"), ("status=open,", "status"), ("grade=A,,B", "grade")],
)  # fmt: skip
def test_a_malformed_list_filter_is_a_400_naming_it(query, field):
    """``?priority=,`` used to reach the database as priority IN ('', '') and answer 500."""
    client = bearer(api_key("read")[1])
    response = client.get(f"/api/v1/tasks/?{query}")
    assert response.status_code == 400 and list(response.json()) == [field]
    assert "empty value" in response.json()[field][0] or "less than or equal" in response.json()[field][0]


def test_list_filters_take_several_values_and_ignore_an_empty_one():
    urgent, high, _low = TaskFactory(priority=4), TaskFactory(priority=3), TaskFactory(priority=1)
    client = bearer(api_key("read")[1])
    listed = client.get("/api/v1/tasks/?priority=3,4&view=all").json()["results"]
    assert sorted(t["id"] for t in listed) == sorted([urgent.pk, high.pk])
    assert client.get("/api/v1/tasks/?priority=&view=all").json()["count"] == 3
