"""Writes for accounts: accounts, contacts, journey stages, stage movements, segments and their membership.

Keyword-only, typed, atomic; every write that changes what an account's scores depend on marks the account for
rescoring (``accounts_mark_for_rescore``, once per transaction).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import hooks, upsert
from .choices import Movement, StageKind
from .hooks import rescore_all_requested, rescore_requested
from .models import Account, Contact, JourneyStage, RescoreMark, Segment, SegmentMembership, StageTransition
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


def stage_history_derive(rows: Sequence[Any], stages: dict[int, JourneyStage]) -> tuple[list[Any], list[Any]]:
    """The derivation of one account's stage history (rows with ``id``, ``to_stage_id``, ``changed_at``,
    ``recorded_at``, ``from_accounts_file``, sorted by time then id): which rows to drop, and each kept row's
    ``from_stage_id`` and ``movement`` set. No database.

    - the stage an accounts file gave at the account's creation is dropped once a dated history tells what the
      account did before that file was imported (a row dated before it was recorded): the history says when it got
      there. Kept beside it, that guess made a movement at the creation instant: every converted lead imported with
      its history had a spurious contraction there. A change seen later (a newer accounts file, a live move) is
      dated after it and keeps it;
    - of several rows at one instant, the last recorded is where the account was then; the others are no change;
    - a row to the stage the account was already in is no change.
    """
    dated = [r.changed_at for r in rows if not r.from_accounts_file]
    first_dated = min(dated) if dated else None

    def superseded(r: Any) -> bool:
        return r.from_accounts_file and first_dated is not None and first_dated < r.recorded_at

    dropped = [r for r in rows if superseded(r)]
    kept = [r for r in rows if not superseded(r)]
    previous: int | None = None
    for i, r in enumerate(kept):
        r.from_stage_id = previous
        if i + 1 < len(kept) and kept[i + 1].changed_at == r.changed_at:
            r.movement = Movement.NONE  # a later-recorded row at the same instant wins
        elif previous == r.to_stage_id:
            r.movement = Movement.NONE
        else:
            r.movement = movement_between(stages.get(previous) if previous else None, stages[r.to_stage_id])
            previous = r.to_stage_id
    return dropped, kept


def stage_history_rebuild(*, account_ids: Iterable[int]) -> int:
    """Re-derive the given accounts' stage histories (:func:`stage_history_derive`): ``from_stage`` and ``movement``
    of every transition in time order, the accounts file's stage dropped where a dated history exists, and each
    account's current stage set to the stage of its latest movement. Idempotent; safe after out-of-order imports.

    Returns the number of transitions whose derivation changed (or that were dropped).
    """
    ids = sorted(set(account_ids))
    if not ids:
        return 0
    stages = {s.pk: s for s in JourneyStage.objects.all()}
    changed: list[StageTransition] = []
    dropped: dict[int, int] = {}  # transition id -> account id
    latest: dict[int, StageTransition] = {}
    with transaction.atomic():
        for chunk_start in range(0, len(ids), 2000):
            chunk = ids[chunk_start : chunk_start + 2000]
            rows = (
                StageTransition.objects.filter(account_id__in=chunk)
                .order_by("account_id", "changed_at", "id")
                .only("id", "account_id", "from_stage_id", "to_stage_id", "changed_at", "movement", "recorded_at",
                      "from_accounts_file")
            )  # fmt: skip
            for account_id, grouped in itertools.groupby(rows.iterator(chunk_size=5000), key=lambda t: t.account_id):
                group = list(grouped)
                before = {t.pk: (t.from_stage_id, t.movement) for t in group}
                gone, kept = stage_history_derive(group, stages)
                dropped.update((t.pk, t.account_id) for t in gone)
                changed += [t for t in kept if before[t.pk] != (t.from_stage_id, t.movement)]
                moves = [t for t in kept if t.movement != Movement.NONE]
                if moves:
                    latest[account_id] = moves[-1]
        StageTransition.objects.filter(pk__in=list(dropped)).delete()
        StageTransition.objects.bulk_update(changed, ["from_stage", "movement"], batch_size=1000)
        accounts = Account.objects.filter(pk__in=list(latest)).only("id", "stage_id", "stage_changed_at")
        stale = []
        for account in accounts:
            tr = latest[account.pk]
            if account.stage_id != tr.to_stage_id or account.stage_changed_at != tr.changed_at:
                account.stage_id, account.stage_changed_at = tr.to_stage_id, tr.changed_at
                stale.append(account)
        Account.objects.bulk_update(stale, ["stage", "stage_changed_at"], batch_size=1000)
        accounts_mark_for_rescore(
            account_ids={t.account_id for t in changed} | {a.pk for a in stale} | {*dropped.values()}
        )
        if stale:
            moved = [latest[a.pk] for a in stale]
            movements = [{"account": t.account_id, "from_stage": t.from_stage_id, "to_stage": t.to_stage_id,
                          "movement": t.movement, "changed_at": t.changed_at.isoformat()} for t in moved]  # fmt: skip
            transaction.on_commit(lambda: hooks.stages_moved.send(sender=Account, movements=movements))
    return len(changed) + len(dropped)


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
        if transition.from_accounts_file:  # a dated record confirms the accounts file's stage at creation
            StageTransition.objects.filter(pk=transition.pk).update(from_accounts_file=False)
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
        if entering or leaving:
            left = [a for a, pk in open_members.items() if a not in matching]
            entered = sorted(entering)
            # Segment boosts and signal rules read membership: the accounts that came or went are rescored (one
            # full rescore when they are a large share of all accounts: a new segment, changed criteria).
            accounts_mark_for_rescore(account_ids=[*entered, *left], all_when_most=True)
            transaction.on_commit(
                lambda: hooks.segments_changed.send(
                    sender=Segment, segment=segment.pk, entered=entered, left=left, at=now.isoformat()
                )
            )
    return len(entering), len(leaving)


def segments_evaluate_all(*, now: datetime | None = None) -> dict[str, tuple[int, int]]:
    """Evaluate every segment (inactive ones close their memberships)."""
    return {segment.name: segment_evaluate(segment=segment, now=now) for segment in Segment.objects.all()}


# A one-off change touching at least this many accounts, and this share of all accounts, asks for one full rescore
# instead of marks: a full rescore reads the signals table once, where marked accounts are read a chunk at a time
# (break-even near a third of the accounts on the rescore bench), and no row per account is written.
RESCORE_ALL_MIN_ACCOUNTS = 1000
RESCORE_ALL_MIN_SHARE = 0.25


def accounts_mark_for_rescore(
    *, account_ids: Iterable[int | None], now: datetime | None = None, all_when_most: bool = False
) -> None:
    """Mark accounts for rescoring in the caller's transaction and announce them once when it commits.

    This is the one freshness hook: ingestion, imports and admin edits call it; the scoring app listens to
    ``accounts.hooks.rescore_requested`` and drains ``RescoreMark``. Marks are appended (one statement, no conflict
    handling, no row locks; an account already marked in this transaction is not appended again). ``None`` (a contact
    without an account) is skipped.

    ``all_when_most``: for a one-off change (segment evaluation), when it touches a large share of the accounts
    (``RESCORE_ALL_MIN_SHARE``), announce ``rescore_all_requested`` instead and write no marks. Not for writers that
    commit batch after batch (imports, ingestion): in eager mode each commit would run a full rescore.
    """
    ids = {int(a) for a in account_ids if a is not None}
    if not ids:
        return
    if (
        all_when_most
        and len(ids) >= RESCORE_ALL_MIN_ACCOUNTS
        and len(ids) >= RESCORE_ALL_MIN_SHARE * Account.objects.count()
    ):
        _rescore_all_on_commit()
        return
    connection = transaction.get_connection()
    # One announcement per transaction: the callback registered for this transaction is kept on the connection;
    # if it is gone (it ran, or its savepoint rolled back) the next mark registers a new one.
    current: _RescoreAnnouncement | None = getattr(connection, "_klearly_rescore_announce", None)
    if current is not None and not any(entry[1] is current for entry in connection.run_on_commit):
        current = None
    # Skip accounts already marked at this savepoint level or an enclosing one (their rows are certain to commit
    # with ours); a savepoint rolled back since then took its marks with it, and its level is never reused.
    stack = tuple(connection.savepoint_ids)
    seen: set[int] = set()
    if current is not None:
        seen = set().union(*(m for level, m in current.marked.items() if stack[: len(level)] == level))
    if fresh := sorted(ids - seen):
        now = now or timezone.now()
        if connection.vendor == "postgresql":  # the hot path of ingestion: one statement, no model instances
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {RescoreMark._meta.db_table} (account_id, marked_at, xact) "
                    "SELECT a, %s, pg_current_xact_id()::text::bigint FROM unnest(%s::bigint[]) AS a",
                    [now, fresh],
                )
        else:
            RescoreMark.objects.bulk_create([RescoreMark(account_id=a, marked_at=now) for a in fresh], batch_size=2000)
    if current is None:  # registered after the insert: in autocommit mode it runs at once
        current = _RescoreAnnouncement(connection)
        connection._klearly_rescore_announce = current
        current.pending.update(ids)
        current.marked.setdefault(stack, set()).update(fresh)
        transaction.on_commit(current)
        return
    current.pending.update(ids)
    current.marked.setdefault(stack, set()).update(fresh)


class _RescoreAnnouncement:
    """The commit callback of one transaction's marks: announces every account marked in it, once."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.pending: set[int] = set()
        self.marked: dict[tuple[str, ...], set[int]] = {}  # savepoint stack -> accounts marked at that level

    def __call__(self) -> None:
        if self.connection._klearly_rescore_announce is self:
            self.connection._klearly_rescore_announce = None
        rescore_requested.send(sender=Account, account_ids=frozenset(self.pending))


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


@dataclass(frozen=True)
class MarksWatermark:
    """What a rescore could see when it started reading: the marks it may delete afterwards are exactly those."""

    snapshot: str | None = None  # PostgreSQL: pg_current_snapshot()
    max_id: int = 0  # elsewhere (SQLite commits one writer at a time, so ids are in commit order)


def marks_watermark() -> MarksWatermark:
    """Take before reading the data a rescore computes from; pass to ``marks_clear`` after writing its results."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_snapshot()::text")
            return MarksWatermark(snapshot=cursor.fetchone()[0])
    last = RescoreMark.objects.order_by("-id").values_list("id", flat=True).first()
    return MarksWatermark(max_id=last or 0)


def marks_clear(*, account_ids: Sequence[int], watermark: MarksWatermark, raw: Any = None) -> int:
    """Delete these accounts' marks written by transactions the rescore's reads could see; marks written by a
    transaction still running (or not yet started) when the watermark was taken stay for the next run.
    Returns how many accounts had a mark cleared. ``raw``: a psycopg connection to run on instead of Django's
    (the full rescore writes from a thread of its own)."""
    ids = sorted({int(a) for a in account_ids})
    if not ids:
        return 0
    if watermark.snapshot is not None:
        # Our own transaction's marks are visible to our own reads, but a snapshot lists no xid of its own. A mark
        # without a transaction id is from before they were recorded: long committed.
        sql = (
            f"WITH gone AS (DELETE FROM {RescoreMark._meta.db_table} WHERE account_id = ANY(%s::bigint[]) AND ("
            "xact IS NULL OR pg_visible_in_snapshot(xact::text::xid8, %s::pg_snapshot) "
            "OR xact = pg_current_xact_id_if_assigned()::text::bigint) RETURNING account_id) "
            "SELECT count(DISTINCT account_id) FROM gone"
        )
        if raw is not None:
            return raw.execute(sql, [ids, watermark.snapshot]).fetchone()[0]
        with transaction.get_connection().cursor() as cursor:
            cursor.execute(sql, [ids, watermark.snapshot])
            return cursor.fetchone()[0]
    gone = RescoreMark.objects.filter(account_id__in=ids, id__lte=watermark.max_id)
    cleared = gone.values("account_id").distinct().count()
    gone.delete()
    return cleared


_UNSET: Any = object()


def account_create(
    *,
    external_id: str,
    fields: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    owner: User | None = None,
    stage: JourneyStage | None = None,
) -> Account:
    """Create an account (``accounts.upsert``); a stage given is recorded as its first stage transition (at
    ``created_at``)."""
    values = {name: value for name, value in (fields or {}).items() if name in upsert.ACCOUNT_FIELDS[1:]}
    with transaction.atomic():
        result = upsert.accounts_upsert(
            rows=[upsert.Upsert(external_id=external_id, fields={**values, "owner_id": owner and owner.pk},
                                traits=traits or {})]
        )  # fmt: skip
        account = Account.objects.get(pk=result.ids[external_id])
        if stage is not None:
            stage_transition_record(account=account, to_stage=stage, changed_at=account.created_at)
    account.refresh_from_db()
    return account


def account_update(
    *,
    account: Account,
    fields: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    owner: User | None = _UNSET,
    stage: JourneyStage | None = None,
) -> Account:
    """Change an account's fields, merge its traits, set its owner (``accounts.upsert``); a new stage is recorded
    as a transition now."""
    values = {name: value for name, value in (fields or {}).items() if name in upsert.ACCOUNT_FIELDS}
    if owner is not _UNSET:
        values["owner_id"] = owner and owner.pk
    with transaction.atomic():
        upsert.accounts_upsert(
            rows=[upsert.Upsert(external_id=account.external_id, fields=values, traits=traits or {})]
        )
        account.refresh_from_db()
        if stage is not None and stage.pk != account.stage_id:
            stage_transition_record(account=account, to_stage=stage, changed_at=timezone.now())
    account.refresh_from_db()
    return account


def account_delete(*, account: Account) -> None:
    """Delete an account with its contacts, signals, transitions and memberships."""
    account.delete()


def contact_create(
    *,
    external_id: str,
    account: Account | None = None,
    fields: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    stage: JourneyStage | None = None,
) -> Contact:
    """Create a contact, a person at an account (``accounts.upsert``)."""
    values = {name: value for name, value in (fields or {}).items() if name in upsert.CONTACT_FIELDS[1:]}
    values.update(account_id=account and account.pk, stage_id=stage and stage.pk)
    with transaction.atomic():
        result = upsert.contacts_upsert(
            rows=[upsert.Upsert(external_id=external_id, fields=values, traits=traits or {})]
        )
    return Contact.objects.get(pk=result.ids[external_id])


def contact_update(
    *,
    contact: Contact,
    fields: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    account: Account | None = _UNSET,
    stage: JourneyStage | None = _UNSET,
) -> Contact:
    """Change a contact (``accounts.upsert``); both its old and its new account are marked for rescoring."""
    values = {name: value for name, value in (fields or {}).items() if name in upsert.CONTACT_FIELDS}
    if account is not _UNSET:
        values["account_id"] = account and account.pk
    if stage is not _UNSET:
        values["stage_id"] = stage and stage.pk
    assert contact.external_id is not None  # the API's contacts have one
    with transaction.atomic():
        upsert.contacts_upsert(
            rows=[upsert.Upsert(external_id=contact.external_id, fields=values, traits=traits or {})]
        )
    contact.refresh_from_db()
    return contact


def contact_delete(*, contact: Contact) -> None:
    """Delete a contact (its signals stay, without the contact) and mark its account for rescoring."""
    with transaction.atomic():
        account_id = contact.account_id
        contact.delete()
        accounts_mark_for_rescore(account_ids=[account_id])


def account_stage_record(*, account: Account, stage: JourneyStage, changed_at=None) -> StageTransition:
    """Record a plan change reported by another system: movement and origin are derived from the history."""
    with transaction.atomic():
        transition = stage_transition_record(account=account, to_stage=stage, changed_at=changed_at)
        accounts_mark_for_rescore(account_ids=[account.pk])
    return transition


def journey_stage_create(*, values: dict[str, Any]) -> JourneyStage:
    """Add a stage to the journey (validated by the model: only paying stages are ranked)."""
    stage = JourneyStage(**values)
    stage.full_clean()
    stage.save()
    return stage


def journey_stage_update(*, stage: JourneyStage, values: dict[str, Any]) -> JourneyStage:
    """Rename, re-rank or re-order a stage. A new kind or rank changes what moves through it mean, so the
    histories of the accounts that passed through it are re-derived and those accounts marked for rescoring."""
    rederive = any(name in values and values[name] != getattr(stage, name) for name in ("kind", "rank"))
    with transaction.atomic():
        for name, value in values.items():
            setattr(stage, name, value)
        stage.full_clean()
        stage.save()
        if rederive:
            account_ids = set(
                StageTransition.objects.filter(Q(to_stage=stage) | Q(from_stage=stage)).values_list(
                    "account_id", flat=True
                )
            )
            stage_history_rebuild(account_ids=account_ids)
            accounts_mark_for_rescore(account_ids=account_ids)
    return stage


def segment_create(*, values: dict[str, Any]) -> Segment:
    """Create a segment and evaluate its membership now."""
    with transaction.atomic():
        segment = Segment.objects.create(**values)
        segment_evaluate(segment=segment)
    return segment


def segment_update(*, segment: Segment, values: dict[str, Any]) -> Segment:
    """Change a segment; new criteria or a change of ``is_active`` re-evaluate its membership now."""
    with transaction.atomic():
        reevaluate = any(
            name in values and values[name] != getattr(segment, name) for name in ("criteria", "is_active")
        )
        for name, value in values.items():
            setattr(segment, name, value)
        segment.save()
        if reevaluate:
            segment_evaluate(segment=segment)
    return segment


def segment_delete(*, segment: Segment) -> None:
    """Delete a segment and its membership history."""
    segment.delete()
