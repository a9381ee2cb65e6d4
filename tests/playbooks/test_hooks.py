"""The rescore announces compact score changes after commit; the playbooks hear them on the (eager) worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from playbooks.models import Task
from scoring.hooks import scores_changed
from scoring.models import EngagementRule, FitRule, ScoringSettings
from scoring.services import accounts_rescore
from tests.factories import AccountFactory, SignalFactory, SignalTypeFactory
from tests.playbooks.factories import PlaybookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_type():
    FitRule.objects.all().delete()
    settings = ScoringSettings.load()
    settings.key_fields = []
    settings.save()
    kind = SignalTypeFactory(key="demo-request")
    EngagementRule.objects.update_or_create(signal_type=kind, defaults={"points": 40, "half_life_days": None})
    return kind


def test_changed_accounts_are_announced_after_commit(demo_type, django_capture_on_commit_callbacks):
    heard = []

    def listen(sender, changes, computed_at, **kwargs):
        heard.append((changes, computed_at))

    scores_changed.connect(listen, dispatch_uid="test-listen")
    try:
        busy, quiet = AccountFactory(), AccountFactory()
        accounts_rescore(account_ids=[busy.pk, quiet.pk])  # first scoring: both announced
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            for _ in range(2):
                SignalFactory(account=busy, type=demo_type, occurred_at=timezone.now() - timedelta(hours=1))
            accounts_rescore(account_ids=[busy.pk, quiet.pk])
            assert heard == []  # nothing before the commit
        for callback in callbacks:
            callback()
    finally:
        scores_changed.disconnect(dispatch_uid="test-listen")
    changes, computed_at = heard[-1]
    assert [c["account"] for c in changes] == [busy.pk]  # the quiet account did not change
    (c,) = changes
    assert c["before"]["engagement"] == 0 and c["after"]["engagement"] == 80
    assert set(c["after"]) >= {"lead", "fit", "engagement", "signal_strength", "grade", "temperature", "qualified"}
    assert computed_at


def test_a_rescore_opens_the_playbook_task(demo_type, django_capture_on_commit_callbacks):
    pb = PlaybookFactory(trigger_params={"score": "engagement", "threshold": 50, "direction": "up"})
    account = AccountFactory(name="Acme")
    SignalFactory(account=account, type=demo_type, occurred_at=timezone.now() - timedelta(hours=1))
    SignalFactory(account=account, type=demo_type, occurred_at=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        accounts_rescore(account_ids=[account.pk])
    (task,) = Task.objects.filter(playbook=pb)
    assert task.account == account and task.title == "Call Acme"
    assert task.reason["top"][0]["label"].startswith("Demo Request")
