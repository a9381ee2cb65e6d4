"""Freshness: marks and the debounced task (eager Celery), the nightly task, and the rescore command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import RescoreMark
from accounts.services import accounts_mark_for_rescore
from scoring import tasks
from scoring.models import AccountScore
from signals_app.api.serializers import signals_check
from signals_app.services import rest_api_source, signals_submit
from tests.factories import AccountFactory, SignalTypeFactory

from .factories import EngagementRuleFactory

pytestmark = pytest.mark.django_db


def test_a_recorded_signal_marks_its_account_and_is_scored_after_commit(card, django_capture_on_commit_callbacks):
    demo = EngagementRuleFactory(points=20, signal_type=SignalTypeFactory(key="demo-request")).signal_type
    account = AccountFactory(external_id="acme")
    record = {
        "message_id": "m-1", "account_external_id": "acme", "type": demo.key,
        "occurred_at": timezone.now().isoformat(),
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        created, _ = signals_submit(checked=signals_check([record]), source=rest_api_source())
        assert RescoreMark.objects.filter(account=account).exists()  # the durable to-do, in the same transaction
        assert not AccountScore.objects.filter(account=account).exists()
    assert created == 1 and len(callbacks) >= 1
    assert AccountScore.objects.get(account=account).engagement == pytest.approx(20, abs=0.1)
    assert not RescoreMark.objects.exists()


def test_bursts_collapse_into_one_queued_task(monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.rescore_marked, "apply_async", lambda **kw: queued.append(kw))
    cache.delete(tasks.LOCK_KEY)
    assert tasks.rescore_marked_enqueue() is True
    assert tasks.rescore_marked_enqueue() is False
    assert queued == [{"countdown": tasks.DEBOUNCE_SECONDS}]
    cache.delete(tasks.LOCK_KEY)  # the task releases the lock when it starts
    assert tasks.rescore_marked_enqueue() is True


def test_the_task_drains_marks_and_queues_itself_again_when_some_remain(card, monkeypatch):
    accounts = [AccountFactory() for _ in range(3)]
    accounts_mark_for_rescore(account_ids=[a.pk for a in accounts], now=timezone.now())
    requeued = []
    monkeypatch.setattr(tasks, "CHUNKS_PER_RUN", 1)
    monkeypatch.setattr(tasks.services, "CHUNK_SIZE", 2)
    monkeypatch.setattr(tasks, "rescore_marked_enqueue", lambda **kw: requeued.append(kw))
    assert tasks.rescore_marked.apply().get() == 2
    assert requeued == [{"countdown": 0}] and RescoreMark.objects.count() == 1
    assert tasks.rescore_marked.apply().get() == 1
    assert tasks.rescore_all.apply().get() == 3
    assert not RescoreMark.objects.exists()


def test_the_rescore_command(card):
    accounts = [AccountFactory(external_id=f"acc-{i}") for i in range(3)]
    out = StringIO()
    call_command("rescore", "--account", "acc-1", "--account", "acc-2", stdout=out, stderr=StringIO())
    assert "Rescored 2 accounts" in out.getvalue()
    assert set(AccountScore.objects.values_list("account__external_id", flat=True)) == {"acc-1", "acc-2"}
    call_command("rescore", "--all", stdout=out, stderr=StringIO())
    assert AccountScore.objects.count() == 3
    accounts_mark_for_rescore(account_ids=[accounts[0].pk])
    call_command("rescore", stdout=(out := StringIO()), stderr=StringIO())
    assert "Rescored 1 accounts" in out.getvalue() and not RescoreMark.objects.exists()
    with pytest.raises(CommandError, match="'nope'"):
        call_command("rescore", "--account", "nope", stdout=StringIO(), stderr=StringIO())


def test_a_failing_rescore_never_fails_the_write_that_announced_it(
    card, monkeypatch, django_capture_on_commit_callbacks
):
    account = AccountFactory()

    def broken(**kwargs):
        raise RuntimeError("scoring bug")

    monkeypatch.setattr(tasks.services, "accounts_rescore_marked", broken)
    cache.delete(tasks.LOCK_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        accounts_mark_for_rescore(account_ids=[account.pk])
    assert RescoreMark.objects.filter(account=account).exists()  # kept for the next run


@pytest.fixture
def queued_full(monkeypatch):
    """Full rescores queued (recorded instead of run)."""
    queued = []
    monkeypatch.setattr(tasks.rescore_all, "apply_async", lambda **kw: queued.append(kw))
    cache.delete(tasks.ALL_LOCK_KEY)
    yield queued
    cache.delete(tasks.ALL_LOCK_KEY)


def test_a_signal_type_becoming_a_milestone_queues_one_full_rescore_and_a_new_version(
    card, queued_full, django_capture_on_commit_callbacks
):
    from scoring.models import ConfigVersion

    kind = SignalTypeFactory(key="invite")
    version = ConfigVersion.objects.get().version
    with django_capture_on_commit_callbacks(execute=True):
        kind.category = kind.category  # saved without a change scores read: nothing to do
        kind.save()
    assert queued_full == [] and ConfigVersion.objects.get().version == version
    with django_capture_on_commit_callbacks(execute=True):
        kind.is_activation_milestone = True
        kind.save()
        cache.delete(tasks.ALL_LOCK_KEY)
        kind.is_key_feature = True
        kind.save()
    assert queued_full == [{"countdown": tasks.ALL_DEBOUNCE_SECONDS}]  # debounced: one for the burst
    assert ConfigVersion.objects.get().version == version + 2
    assert not RescoreMark.objects.exists()  # no mark per account


def test_a_milestone_flag_moves_activation_through_the_eager_full_rescore(card, django_capture_on_commit_callbacks):
    from tests.scoring.factories import signal

    invite = SignalTypeFactory(key="invite")
    other = SignalTypeFactory(key="other", is_activation_milestone=True)
    account = AccountFactory()
    signal(account, invite, 3, now=timezone.now())
    cache.delete(tasks.ALL_LOCK_KEY)
    tasks.rescore_all.apply()
    assert AccountScore.objects.get(account=account).activation == 0
    with django_capture_on_commit_callbacks(execute=True):
        invite.is_activation_milestone = True
        invite.save()
    assert AccountScore.objects.get(account=account).activation == 0.5
    assert other.is_activation_milestone


def test_a_saved_signal_rule_queues_a_full_rescore(card, queued_full, django_capture_on_commit_callbacks):
    from scoring.models import SignalRule

    with django_capture_on_commit_callbacks(execute=True):
        SignalRule.objects.create(name="Busy", conditions={"field": "engagement", "op": "gte", "value": 50})
    assert len(queued_full) == 1


def test_segment_changes_mark_the_accounts_that_came_or_went(card, django_capture_on_commit_callbacks, monkeypatch):
    from accounts.models import Segment
    from accounts.services import segment_evaluate

    monkeypatch.setattr(tasks, "rescore_marked_enqueue", lambda **kw: None)  # keep the marks to look at them
    big, small = AccountFactory(employees=500), AccountFactory(employees=5)
    AccountFactory(employees=8)
    segment = Segment.objects.create(
        name="Big", criteria={"match": "all", "conditions": [{"field": "employees", "op": "gte", "value": 100}]}
    )
    segment_evaluate(segment=segment)
    assert set(RescoreMark.objects.values_list("account_id", flat=True)) == {big.pk}
    RescoreMark.objects.all().delete()
    big.employees, small.employees = 50, 200
    big.save()
    small.save()
    RescoreMark.objects.all().delete()
    segment_evaluate(segment=segment)
    assert set(RescoreMark.objects.values_list("account_id", flat=True)) == {big.pk, small.pk}


def test_a_change_touching_most_accounts_asks_for_one_full_rescore_instead_of_marks(
    card, queued_full, django_capture_on_commit_callbacks, monkeypatch
):
    from accounts import services as account_services

    monkeypatch.setattr(account_services, "RESCORE_ALL_MIN_ACCOUNTS", 3)
    monkeypatch.setattr(tasks, "rescore_marked_enqueue", lambda **kw: None)  # keep the marks to count them
    accounts = [AccountFactory() for _ in range(8)]
    with django_capture_on_commit_callbacks(execute=True):
        accounts_mark_for_rescore(account_ids=[a.pk for a in accounts[:2]], all_when_most=True)  # a few: marks
    assert RescoreMark.objects.count() == 2 and queued_full == []
    with django_capture_on_commit_callbacks(execute=True):
        accounts_mark_for_rescore(account_ids=[a.pk for a in accounts[:4]], all_when_most=True)
        accounts_mark_for_rescore(account_ids=[a.pk for a in accounts[4:]], all_when_most=True)
    assert RescoreMark.objects.count() == 2  # no mark per account
    assert queued_full == [{"countdown": tasks.ALL_DEBOUNCE_SECONDS}]
    with django_capture_on_commit_callbacks(execute=True):
        accounts_mark_for_rescore(account_ids=[a.pk for a in accounts])  # a batch writer (import): always marks
    assert RescoreMark.objects.count() == 10 and len(queued_full) == 1


def test_default_rules_created_in_one_transaction_rescore_everything_once(
    card, monkeypatch, django_capture_on_commit_callbacks
):
    """Eager mode (the embedded default) runs a queued full rescore at once; the 16 default rules must not each
    run one (seed_demo used to rescore the whole demo once per rule)."""
    from scoring.defaults import DEFAULT_ENGAGEMENT_RULES
    from scoring.models import EngagementRule, ScoringSettings
    from scoring.services import scoring_defaults_ensure

    for key in list(DEFAULT_ENGAGEMENT_RULES)[:4]:
        SignalTypeFactory(key=key)
    EngagementRule.objects.all().delete()
    ScoringSettings.objects.update(defaults_applied_at=None)
    runs = []
    real = tasks.services.accounts_rescore_all
    monkeypatch.setattr(tasks.services, "accounts_rescore_all", lambda **kw: runs.append(1) or real(**kw))
    cache.delete(tasks.ALL_LOCK_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        created = scoring_defaults_ensure()
    assert created == 4 and EngagementRule.objects.count() == 4
    assert len(runs) == 1


# --- work left behind: a killed worker, a broker outage ---------------------------------------------------------------


def test_a_starting_worker_rescores_the_marks_a_killed_one_left(card):
    """A worker killed mid-rescore leaves marks and its message held by Redis for the visibility timeout: the next
    worker to start queues a rescore at once (eager here: it runs)."""
    from klearly.celery import _rescore_left_marks

    account = AccountFactory()
    accounts_mark_for_rescore(account_ids=[account.pk])  # committed, no task queued (none ran on commit)
    cache.set(tasks.LOCK_KEY, 1, 60)  # and the lost task's debounce lock is still held
    cache.delete(tasks.WORKER_START_KEY)

    _rescore_left_marks()

    assert not RescoreMark.objects.exists()
    assert AccountScore.objects.filter(account=account).exists()


def test_workers_starting_together_queue_one_rescore(monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.rescore_marked, "apply_async", lambda **kw: queued.append(kw))
    accounts_mark_for_rescore(account_ids=[AccountFactory().pk])
    cache.delete(tasks.WORKER_START_KEY)
    assert tasks.rescore_marked_on_worker_start() is True
    assert tasks.rescore_marked_on_worker_start() is False
    assert queued == [{"countdown": 0}]
    cache.delete_many([tasks.LOCK_KEY, tasks.WORKER_START_KEY])  # the recorded task never ran to release them


def test_a_worker_start_without_marks_queues_nothing(monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.rescore_marked, "apply_async", lambda **kw: queued.append(kw))
    assert tasks.rescore_marked_on_worker_start() is False and queued == []


def test_beat_rescores_marks_older_than_a_minute_only(card):
    from datetime import timedelta

    fresh, old = AccountFactory(), AccountFactory()
    accounts_mark_for_rescore(account_ids=[fresh.pk])
    cache.delete(tasks.LOCK_KEY)
    assert tasks.rescore_marked_sweep.apply().get() is False  # the debounced path is on it
    accounts_mark_for_rescore(account_ids=[old.pk], now=timezone.now() - timedelta(seconds=90))
    assert tasks.rescore_marked_sweep.apply().get() is True
    assert not RescoreMark.objects.exists()


def test_the_sweeps_are_in_the_beat_schedule(settings):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["scoring.tasks.rescore_marked_sweep"] == 60.0
    assert schedule["signals_app.tasks.jobs_sweep"] == 60.0
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == 15 * 60
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_BROKER_CONNECTION_MAX_RETRIES is None


def test_a_broker_outage_releases_the_debounce_lock_and_never_raises(monkeypatch):
    from kombu.exceptions import OperationalError as BrokerDown

    def refused(**kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.rescore_marked, "apply_async", refused)
    monkeypatch.setattr(tasks.rescore_all, "apply_async", refused)
    cache.delete(tasks.LOCK_KEY)
    cache.delete(tasks.ALL_LOCK_KEY)
    assert tasks.rescore_marked_enqueue() is False
    assert tasks.rescore_all_enqueue() is False
    assert cache.add(tasks.LOCK_KEY, 1) and cache.add(tasks.ALL_LOCK_KEY, 1)  # free: the next write queues again
    cache.delete_many([tasks.LOCK_KEY, tasks.ALL_LOCK_KEY])  # (the memory cache outlives the test)
