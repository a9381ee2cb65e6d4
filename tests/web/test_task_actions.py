"""Task actions from the inbox: through the playbooks services, htmx fragments or redirects, clear field errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from playbooks.choices import TaskStatus
from playbooks.models import Task, TaskComment
from tests.web.conftest import HTMX

pytestmark = pytest.mark.django_db


def act(client, task, action, htmx=True, **data):
    url = reverse("web:task_action", args=[task.pk, action])
    return client.post(url, {"q": "view=mine", **data}, **(HTMX if htmx else {}))


def test_complete_with_outcome_and_note_answers_htmx_with_the_changed_fragments(alice_client, world):
    response = act(alice_client, world["mine"], "complete", outcome="meeting_booked", note="Booked for Tuesday")
    assert response.status_code == 200
    task = Task.objects.get(pk=world["mine"].pk)
    assert task.status == TaskStatus.DONE and task.outcome == "meeting_booked" and task.closed_by == world["alice"]
    assert TaskComment.objects.get(task=task).body == "Booked for Tuesday"
    body = response.content.decode()
    assert "Done: Meeting booked" in body
    assert f'id="task-{task.pk}"' in body and 'hx-swap-oob="true"' in body  # the row, out of band
    assert 'id="views-nav"' in body  # the counts, out of band
    assert "Completed: Meeting booked." in body  # the message


def test_complete_without_outcome_names_the_field(alice_client, world):
    response = act(alice_client, world["mine"], "complete", outcome="")
    assert response.status_code == 422
    assert "Outcome: This field is required." in response.content.decode()
    assert Task.objects.get(pk=world["mine"].pk).status == TaskStatus.OPEN
    forged = act(alice_client, world["mine"], "complete", outcome="won-the-lottery")
    assert forged.status_code == 422 and "Select a valid choice" in forged.content.decode()


def test_without_javascript_an_action_redirects_back_with_a_message(alice_client, world):
    response = act(alice_client, world["mine"], "complete", htmx=False, outcome="no_answer", next="/?view=team")
    assert response.status_code == 302 and response["Location"] == "/?view=team"
    page = alice_client.get(response["Location"])
    assert "Completed: No answer." in page.content.decode()
    # Bad input without JavaScript: the task page with the error by field, not a 500.
    error = act(alice_client, world["mine_too"], "snooze", htmx=False, until="not a date")
    assert error.status_code == 422 and "Snooze until: Enter a valid date." in error.content.decode()


def test_next_never_leaves_the_site(alice_client, world):
    response = act(alice_client, world["mine"], "claim", htmx=False, next="https://evil.example.com/")
    assert response.status_code == 302 and response["Location"] == "/?view=mine"


def test_snooze_until_a_future_day(alice_client, world):
    past = act(alice_client, world["mine"], "snooze", until=(timezone.localdate() - timedelta(days=1)).isoformat())
    assert past.status_code == 422 and "Pick a day after today." in past.content.decode()
    day = timezone.localdate() + timedelta(days=3)
    assert act(alice_client, world["mine"], "snooze", until=day.isoformat()).status_code == 200
    task = Task.objects.get(pk=world["mine"].pk)
    assert task.status == TaskStatus.SNOOZED and timezone.localtime(task.snoozed_until).date() == day


def test_dismiss_with_a_reason_people_may_pick(alice_client, world):
    refused = act(alice_client, world["mine"], "dismiss", reason="auto_cleared")
    assert refused.status_code == 422 and "Reason: Select a valid choice" in refused.content.decode()
    assert act(alice_client, world["mine"], "dismiss", reason="duplicate", note="").status_code == 200
    task = Task.objects.get(pk=world["mine"].pk)
    assert task.status == TaskStatus.DISMISSED and task.dismiss_reason == "duplicate"
    again = act(alice_client, world["mine"], "complete", outcome="other")
    assert again.status_code == 422 and "already dismissed" in again.content.decode()


def test_claim_and_assign_only_to_teammates(alice_client, world):
    assert act(alice_client, world["unassigned"], "claim").status_code == 200
    assert Task.objects.get(pk=world["unassigned"].pk).assignee == world["alice"]
    assert act(alice_client, world["unassigned"], "assign", assignee=world["bob"].pk).status_code == 200
    assert Task.objects.get(pk=world["unassigned"].pk).assignee == world["bob"]
    outsider = act(alice_client, world["unassigned"], "assign", assignee=world["carol"].pk)
    assert outsider.status_code == 422 and "Assignee: Select a valid choice" in outsider.content.decode()
    assert Task.objects.get(pk=world["unassigned"].pk).assignee == world["bob"]


def test_comment(alice_client, world):
    blank = act(alice_client, world["mine"], "comment", body="   ")
    assert blank.status_code == 422 and "Comment:" in blank.content.decode()
    assert act(alice_client, world["mine"], "comment", body="Left a voicemail").status_code == 200
    assert list(world["mine"].comments.values_list("body", flat=True)) == ["Left a voicemail"]
    detail = alice_client.get(reverse("web:task", args=[world["mine"].pk]), **HTMX).content.decode()
    assert "Left a voicemail" in detail and "Alice Martin" in detail


def test_actions_on_tasks_out_of_sight_are_404_and_unknown_actions_too(alice_client, world):
    assert act(alice_client, world["sales_task"], "claim").status_code == 404
    assert act(alice_client, world["mine"], "explode").status_code == 404
    assert alice_client.get(reverse("web:task_action", args=[world["mine"].pk, "claim"])).status_code == 405


def test_bulk_actions_touch_only_what_the_user_may_see(alice_client, world):
    ids = [world["mine"].pk, world["mine_too"].pk, world["sales_task"].pk]
    response = alice_client.post(
        reverse("web:tasks_bulk"), {"task": ids, "action": "complete", "outcome": "reached", "q": "view=mine"}
    )
    assert response.status_code == 302 and response["Location"] == "/?view=mine"
    statuses = dict(Task.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses == {world["mine"].pk: "done", world["mine_too"].pk: "done", world["sales_task"].pk: "open"}
    page = alice_client.get("/?view=mine&status=done").content.decode()
    assert "2 tasks completed (1 skipped" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "claim"}, "Select tasks first"),
        ({"action": "snooze", "task": ["1"]}, "Snooze until: Choose the day the tasks come back."),
        ({"action": "assign", "task": ["1"]}, "Assignee: Choose who gets the tasks."),
        ({"action": "complete", "task": ["abc"]}, "is not a task number"),
        ({"action": "launch", "task": ["1"]}, "Action: Select a valid choice"),
    ],
)
def test_bulk_bad_input_is_a_message_by_field(alice_client, world, data, message):
    response = alice_client.post(reverse("web:tasks_bulk"), data, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_bulk_snooze_and_assign(alice_client, world):
    ids = [world["mine"].pk, world["unassigned"].pk]
    day = (timezone.localdate() + timedelta(days=2)).isoformat()
    alice_client.post(reverse("web:tasks_bulk"), {"task": ids, "action": "snooze", "until": day})
    assert set(Task.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"snoozed"}
    alice_client.post(reverse("web:tasks_bulk"), {"task": ids, "action": "assign", "assignee": world["bob"].pk})
    assert set(Task.objects.filter(pk__in=ids).values_list("assignee__username", flat=True)) == {"bob"}


def test_bulk_with_htmx_answers_with_the_list(alice_client, world):
    response = alice_client.post(
        reverse("web:tasks_bulk"), {"task": [world["mine"].pk], "action": "claim", "q": "view=team"}, **HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and "Call Initech" in body and 'id="views-nav"' in body
