from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import Account, SegmentMembership, StageTransition
from accounts.services import movement_between, segment_evaluate, stage_history_rebuild, stage_transition_record
from tests.factories import AccountFactory, stage, transition

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("origin", "target", "movement"),
    [
        (None, "lead", "entry"),
        ("lead", "trial", "progression"),
        ("trial", "starter", "conversion"),
        ("freemium", "enterprise", "conversion"),
        ("starter", "corporate", "expansion"),
        ("enterprise", "starter", "contraction"),
        ("starter", "freemium", "contraction"),
        ("corporate", "churn", "churn"),
        ("trial", "churn", "churn"),
        ("churn", "starter", "reactivation"),
        ("churn", "trial", "reactivation"),
        ("starter", "starter", "progression"),
    ],
)
def test_movement_is_derived_from_stage_kinds_and_ranks(origin, target, movement):
    assert movement_between(stage(origin) if origin else None, stage(target)) == movement


def test_history_rebuild_orders_by_time_even_when_recorded_out_of_order():
    account = AccountFactory()
    transition(account, "corporate", T0 + timedelta(days=60))
    transition(account, "trial", T0)
    transition(account, "starter", T0 + timedelta(days=20))

    changed = stage_history_rebuild(account_ids=[account.pk])

    rows = list(
        account.stage_transitions.order_by("changed_at").values_list("from_stage__key", "to_stage__key", "movement")
    )
    assert rows == [(None, "trial", "entry"), ("trial", "starter", "conversion"), ("starter", "corporate", "expansion")]
    account.refresh_from_db()
    assert account.stage.key == "corporate"
    assert account.stage_changed_at == T0 + timedelta(days=60)
    assert changed == 2  # the first was already an entry from nowhere
    assert stage_history_rebuild(account_ids=[account.pk]) == 0  # idempotent


def test_record_is_idempotent_and_rederives_neighbours():
    account = AccountFactory()
    stage_transition_record(account=account, to_stage=stage("trial"), changed_at=T0)
    late = stage_transition_record(account=account, to_stage=stage("churn"), changed_at=T0 + timedelta(days=40))
    assert late.movement == "churn"
    # A conversion reported late, between the two: the churn now comes from a paying stage.
    stage_transition_record(account=account, to_stage=stage("starter"), changed_at=T0 + timedelta(days=10))
    stage_transition_record(account=account, to_stage=stage("starter"), changed_at=T0 + timedelta(days=10))
    assert StageTransition.objects.filter(account=account).count() == 3
    late.refresh_from_db()
    assert late.from_stage.key == "starter"
    assert late.movement == "churn"
    assert Account.objects.get(pk=account.pk).stage.key == "churn"


def test_segment_membership_is_tracked_with_entry_and_exit_times():
    from accounts.models import Segment

    small = AccountFactory(employees=10)
    big = AccountFactory(employees=5000)
    segment = Segment.objects.create(
        name="Large", criteria={"match": "all", "conditions": [{"field": "employees", "op": "gte", "value": 1000}]}
    )
    assert segment_evaluate(segment=segment, now=T0) == (1, 0)
    assert segment_evaluate(segment=segment, now=T0 + timedelta(days=1)) == (0, 0)

    big.employees = 20
    big.save()
    small.employees = 2000
    small.save()
    assert segment_evaluate(segment=segment, now=T0 + timedelta(days=2)) == (1, 1)

    history = list(
        SegmentMembership.objects.order_by("entered_at").values_list("account_id", "entered_at", "exited_at")
    )
    assert history == [
        (big.pk, T0, T0 + timedelta(days=2)),
        (small.pk, T0 + timedelta(days=2), None),
    ]


def test_rescore_marks_are_announced_once_per_committed_transaction(django_capture_on_commit_callbacks):
    from django.db import transaction

    from accounts.hooks import rescore_requested
    from accounts.models import RescoreMark
    from accounts.services import accounts_mark_for_rescore

    a, b = AccountFactory(), AccountFactory()
    heard: list[frozenset] = []

    def listener(sender, account_ids, **kwargs):
        heard.append(account_ids)

    rescore_requested.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
            accounts_mark_for_rescore(account_ids=[a.pk])
            accounts_mark_for_rescore(account_ids=[a.pk, b.pk])
            # (the scoring app consumes the marks as soon as the announcement runs, in eager mode)
            assert set(RescoreMark.objects.values_list("account_id", flat=True)) == {a.pk, b.pk}
        assert len(callbacks) >= 1
        assert heard == [frozenset({a.pk, b.pk})]

        # A rolled-back transaction announces nothing and does not stop the next one from announcing.
        with django_capture_on_commit_callbacks(execute=True):
            try:
                with transaction.atomic():
                    accounts_mark_for_rescore(account_ids=[b.pk])
                    raise RuntimeError("boom")
            except RuntimeError:
                pass
            with transaction.atomic():
                accounts_mark_for_rescore(account_ids=[a.pk])
        assert heard[-1] == frozenset({a.pk})
    finally:
        rescore_requested.disconnect(listener)


def test_marks_are_appended_once_per_account_and_savepoint_level():
    from django.db import transaction

    from accounts.models import RescoreMark
    from accounts.services import accounts_mark_for_rescore

    a, b = AccountFactory(), AccountFactory()
    with transaction.atomic():
        accounts_mark_for_rescore(account_ids=[a.pk])
        accounts_mark_for_rescore(account_ids=[a.pk, b.pk])  # a: already marked in this transaction
        try:
            with transaction.atomic():
                accounts_mark_for_rescore(account_ids=[a.pk])  # nothing new at this level either
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert sorted(RescoreMark.objects.values_list("account_id", flat=True)) == sorted([a.pk, b.pk])


def test_a_mark_lost_with_its_rolled_back_savepoint_is_written_again():
    from django.db import transaction

    from accounts.models import RescoreMark
    from accounts.services import accounts_mark_for_rescore

    a, b = AccountFactory(), AccountFactory()
    with transaction.atomic():
        accounts_mark_for_rescore(account_ids=[b.pk])  # the announcement is registered out here and survives
        try:
            with transaction.atomic():  # e.g. the admin import's savepoint for one row
                accounts_mark_for_rescore(account_ids=[a.pk])
                raise RuntimeError("row refused")
        except RuntimeError:
            pass
        assert list(RescoreMark.objects.values_list("account_id", flat=True)) == [b.pk]
        accounts_mark_for_rescore(account_ids=[a.pk])
    assert sorted(RescoreMark.objects.values_list("account_id", flat=True)) == sorted([a.pk, b.pk])


@pytest.mark.django_db(transaction=True)
def test_marks_from_a_transaction_committing_during_a_rescore_survive_it(request):
    """Real concurrent writers (PostgreSQL): a batch that marks an account, commits after the rescore took its
    watermark (so the rescore's reads missed it), keeps its mark; one that committed before is cleared."""
    import threading

    from django.db import connection, transaction

    from accounts.models import RescoreMark
    from accounts.services import accounts_mark_for_rescore, marks_clear, marks_watermark

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite commits one writer at a time)")
    from accounts.hooks import rescore_requested
    from scoring.receivers import rescore_soon

    early, late = AccountFactory(), AccountFactory()
    # No rescore runs on commit here (eager Celery would run it in the writer's thread): this is about the marks.
    rescore_requested.disconnect(dispatch_uid="scoring.rescore_soon")
    request.addfinalizer(lambda: rescore_requested.connect(rescore_soon, dispatch_uid="scoring.rescore_soon"))
    accounts_mark_for_rescore(account_ids=[early.pk])  # autocommit: committed before the rescore starts
    marked, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                accounts_mark_for_rescore(account_ids=[early.pk, late.pk])
                marked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert marked.wait(10)
    watermark = marks_watermark()  # the writer is still open: its marks are invisible to what the rescore reads
    release.set()
    thread.join(10)
    assert marks_clear(account_ids=[early.pk, late.pk], watermark=watermark) == 1  # early's first mark only
    left = sorted(RescoreMark.objects.values_list("account_id", flat=True))
    assert left == sorted([early.pk, late.pk])  # both marked by the writer, for the next run
    assert marks_clear(account_ids=[early.pk, late.pk], watermark=marks_watermark()) == 2
    assert not RescoreMark.objects.exists()
