"""Factories for playbooks tests."""

from __future__ import annotations

import factory
from django.utils import timezone

from playbooks.models import Playbook, Task, Team
from tests.factories import AccountFactory


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class PlaybookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Playbook

    name = factory.Sequence(lambda n: f"Playbook {n}")
    trigger_kind = "score_crossing"
    trigger_params = factory.LazyFunction(lambda: {"score": "lead", "threshold": 65, "direction": "up"})
    task_title_template = "Call {{ account.name }}"
    task_body_template = "{{ reason.summary }}"
    cooldown_days = 14


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    account = factory.SubFactory(AccountFactory)
    playbook = factory.SubFactory(PlaybookFactory)
    reason_key = factory.Sequence(lambda n: f"reason-{n}")
    title = factory.LazyAttribute(lambda t: f"Call {t.account.name}")
    created_at = factory.LazyFunction(timezone.now)
