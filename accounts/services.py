"""Writes for accounts: stage movements, segment membership. Keyword-only, typed, atomic."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .choices import Movement, StageKind
from .hooks import rescore_all_requested, rescore_requested
from .models import Account, JourneyStage, RescoreMark, Segment, SegmentMembership, StageTransition
from .segments import criteria_to_q


def movement_between(from_stage: JourneyStage | None, to_stage: JourneyStage) -> str:
    """The movement a change of stage is: derived from the two stages' kinds and paying ranks."""
    if from_stage is None:
        return Movement.ENTRY
    if to_stage.kind == StageKind.CHURN:
        return Movement.CHURN if from_stage.kind != StageKind.CHURN else Movement.PROGRESSION
    if from_stage.kind == StageKind.CHURN:
        return Movement.REACTIVATION
    if from_stage.kind == StageKind.FREE and to_stage.kind == StageKind.PAYING:
        return Movement.CONVERSION
    if from_stage.kind == StageKind.PAYING and to_stage.kind == StageKind.FREE:
        return Movement.CONTRACTION
    if from_stage.kind == StageKind.PAYING and to_stage.kind == StageKind.PAYING:
        if to_stage.rank > from_stage.rank:
            return Movement.EXPANSION
        if to_stage.rank < from_stage.rank:
            return Movement.CONTRACTION
    return Movement.PROGRESSION


def stage_history_rebuild(*, account_ids: Iterable[int]) -> int:
    """Re-derive ``from_stage`` and ``movement`` of the given accounts' transitions in time order, and set
    each account's current stage to its latest one. Idempotent; safe after out-of-order imports.

    Returns the number of transitions whose derivation changed.
    """
    ids = sorted(set(account_ids))
    if not ids:
        return 0
    stages = {s.pk: s for s in JourneyStage.objects.all()}
    changed: list[StageTransition] = []
    latest: dict[int, StageTransition] = {}
    with transaction.atomic():
        for chunk_start in range(0, len(ids), 2000):
            chunk = ids[chunk_start : chunk_start + 2000]
            previous_account, previous_stage = None, None
            rows = (
                StageTransition.objects.filter(account_id__in=chunk)
                .order_by("account_id", "changed_at", "id")
                .only("id", "account_id", "from_stage_id", "to_stage_id", "changed_at", "movement")
            )
            for tr in rows.iterator(chunk_size=5000):
                if tr.account_id != previous_account:
                    previous_account, previous_stage = tr.account_id, None
                from_id = previous_stage
                movement = movement_between(stages.get(from_id) if from_id else None, stages[tr.to_stage_id])
                if tr.from_stage_id != from_id or tr.movement != movement:
                    tr.from_stage_id, tr.movement = from_id, movement
                    changed.append(tr)
                previous_stage = tr.to_stage_id
                latest[tr.account_id] = tr
        StageTransition.objects.bulk_update(changed, ["from_stage", "movement"], batch_size=1000)
        accounts = Account.objects.filter(pk__in=list(latest)).only("id", "stage_id", "stage_changed_at")
        stale = []
        for account in accounts:
            tr = latest[account.pk]
            if account.stage_id != tr.to_stage_id or account.stage_changed_at != tr.changed_at:
                account.stage_id, account.stage_changed_at = tr.to_stage_id, tr.changed_at
                stale.append(account)
        Account.objects.bulk_update(stale, ["stage", "stage_changed_at"], batch_size=1000)
        accounts_mark_for_rescore(account_ids={t.account_id for t in changed} | {a.pk for a in stale})
    return len(changed)


def stage_transition_record(
    *, account: Account, to_stage: JourneyStage, changed_at: datetime | None = None
) -> StageTransition:
    """Record that an account moved to a stage (idempotent for the same stage and time)."""
    changed_at = changed_at or timezone.now()
    with transaction.atomic():
        transition, _ = StageTransition.objects.get_or_create(
            account=account,
            to_stage=to_stage,
            changed_at=changed_at,
            defaults={"movement": Movement.PROGRESSION},
        )
        stage_history_rebuild(account_ids=[account.pk])
    transition.refresh_from_db()
    return transition


def segment_evaluate(*, segment: Segment, now: datetime | None = None) -> tuple[int, int]:
    """Bring a segment's open memberships in line with its criteria. Returns (entered, exited)."""
    now = now or timezone.now()
    with transaction.atomic():
        matching = set(
            Account.objects.filter(criteria_to_q(segment.criteria)).values_list("pk", flat=True)
            if segment.is_active
            else []
        )
        open_members = dict(
            SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list("account_id", "pk")
        )
        leaving = [pk for account_id, pk in open_members.items() if account_id not in matching]
        entering = matching.difference(open_members)
        SegmentMembership.objects.filter(pk__in=leaving).update(exited_at=now)
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, account_id=a, entered_at=now) for a in sorted(entering)],
            batch_size=1000,
        )
        Segment.objects.filter(pk=segment.pk).update(evaluated_at=now)
        # Segment boosts and signal rules read membership: the accounts that came or went are rescored.
        accounts_mark_for_rescore(account_ids=entering | {a for a in open_members if a not in matching})
    return len(entering), len(leaving)


def segments_evaluate_all(*, now: datetime | None = None) -> dict[str, tuple[int, int]]:
    """Evaluate every segment (inactive ones close their memberships)."""
    return {segment.name: segment_evaluate(segment=segment, now=now) for segment in Segment.objects.all()}


# A change touching at least this many accounts, and at least this share of all accounts, asks for one full rescore
# instead of marks: a full rescore reads the signals table once, where marked accounts are read a chunk at a time
# (break-even near a third of the accounts on the rescore bench), and no row per account is written.
RESCORE_ALL_MIN_ACCOUNTS = 1000
RESCORE_ALL_MIN_SHARE = 0.25


def accounts_mark_for_rescore(*, account_ids: Iterable[int], now: datetime | None = None) -> None:
    """Mark accounts for rescoring (idempotent, set-based) and announce them once when the transaction commits.

    This is the one freshness hook: ingestion, imports and admin edits call it; the scoring issue listens to
    ``accounts.hooks.rescore_requested`` and drains ``RescoreMark``. A change touching a large share of the accounts
    (see ``RESCORE_ALL_MIN_SHARE``) announces ``rescore_all_requested`` instead and writes no marks.
    """
    ids = {int(a) for a in account_ids if a is not None}
    if not ids:
        return
    if len(ids) >= RESCORE_ALL_MIN_ACCOUNTS and len(ids) >= RESCORE_ALL_MIN_SHARE * Account.objects.count():
        _rescore_all_on_commit()
        return
    now = now or timezone.now()
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":  # the hot path of ingestion: one statement, no model instances
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {RescoreMark._meta.db_table} (account_id, marked_at) "
                # DO NOTHING inside the writer's transaction: updating marks here would make concurrent ingestion
                # batches queue on the same rows. The time is moved forward right after commit (below).
                "SELECT unnest(%s::bigint[]), %s ON CONFLICT DO NOTHING",
                [sorted(ids), now],
            )
    else:
        RescoreMark.objects.bulk_create(
            [RescoreMark(account_id=a, marked_at=now) for a in sorted(ids)], ignore_conflicts=True, batch_size=2000
        )
    # One announcement per transaction: the callback registered for this transaction is kept on the connection;
    # if it is gone (it ran, or its savepoint rolled back) the next mark registers a new one.
    current = getattr(connection, "_klearly_rescore_announce", None)
    if current is None or not any(entry[1] is current for entry in connection.run_on_commit):
        pending: set[int] = set()

        def announce() -> None:
            if connection._klearly_rescore_announce is announce:
                connection._klearly_rescore_announce = None
            _marks_move_forward(sorted(pending))
            rescore_requested.send(sender=Account, account_ids=frozenset(pending))

        announce.pending = pending  # type: ignore[attr-defined]
        connection._klearly_rescore_announce = announce
        pending.update(ids)
        transaction.on_commit(announce)
    else:
        current.pending.update(ids)


def _rescore_all_on_commit() -> None:
    """Announce ``rescore_all_requested`` once when the current transaction commits."""
    connection = transaction.get_connection()
    current = getattr(connection, "_klearly_rescore_all_announce", None)
    if current is not None and any(entry[1] is current for entry in connection.run_on_commit):
        return

    def announce() -> None:
        connection._klearly_rescore_all_announce = None
        rescore_all_requested.send(sender=Account)

    connection._klearly_rescore_all_announce = announce
    transaction.on_commit(announce)


def _marks_move_forward(account_ids: list[int]) -> None:
    """After commit: set these accounts' marks to now, so a rescore that started before the change (and clears only
    marks set before it started) leaves them for the next run. One short statement, rows locked in id order."""
    now = timezone.now()
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {RescoreMark._meta.db_table} (account_id, marked_at) "
                f"SELECT a, %s FROM unnest(%s::bigint[]) AS a WHERE EXISTS (SELECT 1 FROM "
                f"{Account._meta.db_table} WHERE id = a) ORDER BY a "
                "ON CONFLICT (account_id) DO UPDATE SET marked_at = EXCLUDED.marked_at",
                [now, account_ids],
            )
    else:
        existing = set(Account.objects.filter(pk__in=account_ids).values_list("pk", flat=True))
        RescoreMark.objects.bulk_create(
            [RescoreMark(account_id=a, marked_at=now) for a in account_ids if a in existing],
            update_conflicts=True,
            unique_fields=["account"],
            update_fields=["marked_at"],
            batch_size=2000,
        )
