"""The playbooks admin: every page answers, and a bad playbook is refused with its message, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from playbooks.models import Playbook
from tests.playbooks.factories import PlaybookFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["team", "experimentgroup", "playbook", "playbookrun", "task", "webhookdelivery"])
def test_changelists_answer(admin_client, model):
    TaskFactory()
    assert admin_client.get(reverse(f"admin:playbooks_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:playbooks_{model}_changelist") + "?q=x").status_code == 200


def test_bad_playbook_is_refused_with_messages(admin_client):
    data = {
        "name": "Broken", "is_active": "on", "trigger_kind": "score_crossing",
        "trigger_params": '{"score": "lead", "threshold": "high"}', "conditions": '{"field": "karma"}',
        "create_task": "on", "task_title_template": "Call {{ account.name|shout }}", "task_body_template": "",
        "assign_mode": "owner", "due_in_business_days": "1", "priority": "2", "cooldown_days": "7",
        "goal_kind": "", "goal_within_days": "21",
    }  # fmt: skip
    response = admin_client.post(reverse("admin:playbooks_playbook_add"), data)
    assert response.status_code == 200
    text = response.content.decode()
    assert "&#x27;threshold&#x27; must be a number" in text
    assert "unknown field" in text
    assert "Invalid filter" in text
    assert not Playbook.objects.filter(name="Broken").exists()
    data.update(trigger_params='{"score": "lead", "threshold": 65}', conditions="{}", task_title_template="Call")
    assert admin_client.post(reverse("admin:playbooks_playbook_add"), data).status_code == 302
    assert admin_client.get(reverse("admin:playbooks_playbook_change", args=[PlaybookFactory().pk])).status_code == 200


@pytest.mark.parametrize("model", ["task", "playbookrun", "webhookdelivery", "playbook"])
def test_changelists_do_not_grow_queries_with_rows(admin_client, model):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from playbooks.models import PlaybookRun, WebhookDelivery

    def add(n: int) -> None:
        for _ in range(n):
            task = TaskFactory()
            run = PlaybookRun.objects.create(playbook=task.playbook, account=task.account, reason_key="r",
                                             source_key=f"r@{task.pk}")  # fmt: skip
            WebhookDelivery.objects.create(playbook=task.playbook, run=run, url="http://127.0.0.1:9/h")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(reverse(f"admin:playbooks_{model}_changelist")).status_code == 200
        return len(ctx.captured_queries)

    add(2)
    few = count()
    add(15)
    assert count() == few


def test_webhook_secret_is_masked_and_kept_when_left_blank(admin_client):
    playbook = PlaybookFactory(webhook_url="https://hooks.example.com/k", webhook_secret="s3cret-Value-42")
    url = reverse("admin:playbooks_playbook_change", args=[playbook.pk])
    page = admin_client.get(url).content.decode()
    assert "s3cret-Value-42" not in page
    assert 'type="password" name="webhook_secret"' in page and "A secret is set" in page

    data = {
        "name": playbook.name, "is_active": "on", "trigger_kind": "score_crossing",
        "trigger_params": '{"score": "lead", "threshold": 65, "direction": "up"}', "conditions": "{}",
        "create_task": "on", "task_title_template": "Call", "task_body_template": "", "assign_mode": "owner",
        "due_in_business_days": "1", "priority": "2", "cooldown_days": "7", "goal_kind": "", "goal_within_days": "21",
        "webhook_url": "https://hooks.example.com/k", "webhook_secret": "",
    }  # fmt: skip
    assert admin_client.post(url, data).status_code == 302
    assert Playbook.objects.get(pk=playbook.pk).webhook_secret == "s3cret-Value-42"  # blank keeps it
    assert admin_client.post(url, {**data, "webhook_secret": "new-one"}).status_code == 302
    assert Playbook.objects.get(pk=playbook.pk).webhook_secret == "new-one"
    refused = admin_client.post(url, {**data, "clear_webhook_secret": "on"})  # a webhook needs a secret
    assert refused.status_code == 200 and "A webhook needs a secret" in refused.content.decode()
    assert "new-one" not in refused.content.decode()  # not even in a form sent back with errors
    cleared = admin_client.post(url, {**data, "webhook_url": "", "clear_webhook_secret": "on"})
    assert cleared.status_code == 302
    assert Playbook.objects.get(pk=playbook.pk).webhook_secret == ""
