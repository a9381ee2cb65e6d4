"""Writes for scoring: rescoring accounts (set-based, chunked, idempotent), the configuration version, defaults.

A rescore of a chunk of accounts reads everything it needs with a fixed number of queries (accounts, contacts, one
aggregate over their signals by account, contact, type, topic, direction and day, milestones reached, segment
members, previous scores), computes with ``scoring.engine`` over arrays, and writes with bulk upserts.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
import psycopg
from django.db import connection, models, transaction
from django.db.models import Count, ExpressionWrapper, F, FloatField, Func, Max, OuterRef, Q, Subquery
from django.db.models.functions import Substr, TruncDate
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from accounts.choices import SizeBand
from accounts.models import Account, Contact, SegmentMembership
from accounts.selectors import marked_account_ids
from accounts.services import MarksWatermark, marks_clear, marks_watermark
from signals_app.choices import Direction
from signals_app.models import Signal, SignalTopic, SignalType

from . import engine
from .choices import ContributionSource as Src
from .defaults import DEFAULT_ENGAGEMENT_RULES
from .hooks import ANNOUNCED_SCORE_FIELDS, score_changes, scores_changed_announce
from .models import (
    AccountScore,
    ConfigVersion,
    ContactScore,
    EngagementRule,
    FitRule,
    FreeEmailDomain,
    ScoreHistory,
    ScoringSettings,
    SegmentBoost,
    TopicImportance,
)
from .pgarrays import binary_array
from .pgarrays import register as register_arrays
from .rules import Measures, RuleStats, rule_hits_evaluate, rule_measures

CHUNK_SIZE = 5000
# Signals older than this count for nothing worth storing (0.5 ** (365 / 30) < 0.0003 of their points), unless a
# rule's window or half-life reaches further: the horizon grows with the configuration.
MIN_HORIZON_DAYS = 365
DAY_SECONDS = 86_400.0

Progress = Callable[[int], object]


@dataclass
class RescoreStats:
    """What a rescore did."""

    accounts: int = 0
    chunks: int = 0
    marks_cleared: int = 0
    newly_qualified: int = 0
    config_version: int = 0

    def add(self, other: RescoreStats) -> None:
        self.accounts += other.accounts
        self.chunks += other.chunks
        self.marks_cleared += other.marks_cleared
        self.newly_qualified += other.newly_qualified
        self.config_version = other.config_version or self.config_version


# --- configuration ---------------------------------------------------------------------------------------------


def config_version_bump() -> int:
    """Increase the scoring configuration version (called on every save or delete of a config model)."""
    updated = ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1, changed_at=timezone.now())
    if not updated:
        ConfigVersion.objects.get_or_create(pk=1, defaults={"version": 2})
    return ConfigVersion.objects.values_list("version", flat=True).get(pk=1)


def scoring_defaults_ensure(*, force: bool = False) -> int:
    """Create the default engagement rules for the signal types that exist and have no rule yet.

    Runs once per database (``ScoringSettings.defaults_applied_at``), so rules an admin deleted stay deleted;
    ``force`` runs it again. The ``rescore`` command and the nightly rescore call it: signal types appear after
    migrations (seed_demo, imports, events), so a migration alone cannot create their rules. Returns rules created.
    """
    with transaction.atomic():
        settings = ScoringSettings.load()
        if settings.defaults_applied_at and not force:
            return 0
        created = engagement_rules_ensure(rules=DEFAULT_ENGAGEMENT_RULES, reason="default rules")
        if created or SignalType.objects.filter(key__in=list(DEFAULT_ENGAGEMENT_RULES)).exists():
            ScoringSettings.objects.filter(pk=settings.pk).update(defaults_applied_at=timezone.now())
    return created


def engagement_rules_ensure(
    *, rules: dict[str, tuple[float, float | None, int | None, float | None]], reason: str, rescore: bool = True
) -> int:
    """Create an engagement rule (points, half-life, window, cap) for each type key given whose type exists and has
    no rule yet; rules that exist are left as an admin tuned them. ``rescore``: queue a full rescore after commit
    (a caller that rescores everything itself says no). Returns rules created."""
    with transaction.atomic():
        have = set(EngagementRule.objects.values_list("signal_type_id", flat=True))
        created = []
        for t in SignalType.objects.filter(key__in=list(rules)).order_by("pk"):
            if t.pk not in have:
                points, half_life, window, cap = rules[t.key]
                created.append(
                    EngagementRule(signal_type=t, points=points, half_life_days=half_life, window_days=window, cap=cap)
                )
        if created:
            # One insert with a history row per rule, one new configuration version and one full rescore after
            # commit (saving them one by one ran a full rescore per rule in eager mode).
            bulk_create_with_history(created, EngagementRule, default_change_reason=reason)
            config_version_bump()
            if rescore:
                rescore_all_after_commit()
    return len(created)


def rescore_all_after_commit() -> None:
    """Queue one debounced full rescore when the current transaction commits (a configuration or model change)."""

    def enqueue() -> None:
        from .tasks import rescore_all_enqueue  # tasks import this module

        rescore_all_enqueue()

    transaction.on_commit(enqueue)


@dataclass(frozen=True)
class Boost:
    """A segment boost as the engine needs it."""

    segment_id: int
    type_index: int
    multiplier: float
    window_days: float


@dataclass(frozen=True)
class Scorecard:
    """The whole configuration, loaded once per rescore, as arrays indexed by signal type."""

    settings: ScoringSettings
    version: int
    type_ids: np.ndarray  # sorted SignalType ids; a type's index is its position
    type_labels: list[str]
    rules: engine.EngagementRules
    key_feature: np.ndarray
    milestone: np.ndarray
    topic_multiplier: dict[int, float]
    fit_rules: list[FitRule]
    free_domains: frozenset[str]
    boosts: list[Boost]
    horizon_days: float

    def type_index(self, type_ids: np.ndarray) -> np.ndarray:
        """Indexes of the given type ids (-1 for a type created after the scorecard was loaded)."""
        if not len(self.type_ids):
            return np.full(len(type_ids), -1, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.type_ids, type_ids), 0, len(self.type_ids) - 1)
        return np.where(self.type_ids[pos] == type_ids, pos, -1)


def scorecard_load() -> Scorecard:
    """Read the configuration (a fixed number of queries, whatever the number of accounts)."""
    settings = ScoringSettings.load()
    version = ConfigVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0
    types = list(
        SignalType.objects.order_by("pk").values_list("pk", "label", "is_key_feature", "is_activation_milestone")
    )
    type_ids = np.array([t[0] for t in types], dtype=np.int64)
    position = {t[0]: i for i, t in enumerate(types)}
    rule_rows = EngagementRule.objects.values_list(
        "signal_type_id", "points", "half_life_days", "window_days", "cap", "is_active"
    )
    # A type with a rule follows it (a rule switched off counts nothing); a type without one takes the default weight.
    rules = engine.EngagementRules.build(
        len(types),
        [(position[r[0]], *r[1:5]) if r[5] else (position[r[0]], 0.0, None, None, None) for r in rule_rows],
        default=(settings.default_points, settings.default_half_life_days, None, settings.default_cap),
    )
    own = dict(TopicImportance.objects.values_list("topic_id", "multiplier"))
    topic_multiplier = dict(own)
    if own:  # a product type without its own importance takes its product line's
        for topic_id, parent_id in SignalTopic.objects.filter(parent_id__in=list(own)).values_list("pk", "parent_id"):
            topic_multiplier.setdefault(topic_id, own[parent_id])
    boosts = [
        Boost(b.segment_id, position[b.signal_type_id], b.multiplier, b.window_days)
        for b in SegmentBoost.objects.filter(is_active=True).order_by("pk")
    ]
    reach: list[float] = [
        MIN_HORIZON_DAYS,
        settings.trend_recent_days + settings.trend_baseline_days,
        settings.active_long_days,
    ]
    reach += [w for w in rules.window_days if not math.isnan(w)]
    reach += [8 * h for h in rules.half_life_days if not math.isnan(h)]  # 8 half-lives: < 0.4% left
    reach += [b.window_days for b in boosts]
    return Scorecard(
        settings=settings,
        version=version,
        type_ids=type_ids,
        type_labels=[t[1] for t in types],
        rules=rules,
        key_feature=np.array([t[2] for t in types], dtype=bool),
        milestone=np.array([t[3] for t in types], dtype=bool),
        topic_multiplier=topic_multiplier,
        fit_rules=list(FitRule.objects.filter(is_active=True).order_by("pk")),
        free_domains=frozenset(FreeEmailDomain.objects.values_list("domain", flat=True)),
        boosts=boosts,
        horizon_days=float(min(max(reach), 3650)),
    )


# The score columns history copies from AccountScore (probabilities are added by the prediction step).
HISTORY_FIELDS = [
    f.name
    for f in ScoreHistory._meta.concrete_fields
    if f.name not in ("id", "account", "date", "conversion", "expansion", "churn")
]
# A history row is added when one of these differs from the account's current scores (or on its first rescore of a
# day): the configuration version and the time alone are no change.
CHANGE_FIELDS = [f for f in HISTORY_FIELDS if f not in ("config_version", "computed_at")]
# What a chunk reads of its accounts' current scores: the history's fields, then those ``scores_changed`` reports.
PREVIOUS_FIELDS = [*CHANGE_FIELDS, *(f for f in ANNOUNCED_SCORE_FIELDS if f not in CHANGE_FIELDS)]

# --- reading a chunk ---------------------------------------------------------------------------------------------

ACCOUNT_COLUMNS = (
    "pk", "name", "domain", "industry", "employees", "annual_revenue", "country", "created_at", "traits",
    "stage__key", "stage__kind", "owner__email",
)  # fmt: skip
CONTACT_COLUMNS = ("pk", "account_id", "email", "first_name", "last_name", "title", "last_seen_at")


def _size_band(employees: int | None) -> str:
    if employees is None:
        return SizeBand.UNKNOWN
    return SizeBand.SMALL if employees < 50 else SizeBand.MEDIUM if employees < 1000 else SizeBand.LARGE


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _trait(traits: Any, path: str) -> Any:
    value = traits
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


Columns = dict[str, list[Any]]  # field name -> one value per row


def account_field_values(accounts: Columns, name: str, now: datetime) -> list[Any]:
    """The values of one fit field (account field or traits.<name>) for each account."""
    if name.startswith("traits."):
        path = name[len("traits.") :]
        return [_trait(t, path) for t in accounts["traits"]]
    if name == "stage":
        return accounts["stage__key"]
    if name == "stage_kind":
        return accounts["stage__kind"]
    if name == "owner_email":
        return accounts["owner__email"]
    if name == "size_band":
        return [_size_band(e) for e in accounts["employees"]]
    if name == "tenure_days":
        return [max((now - c).days, 0) for c in accounts["created_at"]]
    values = accounts.get(name) or [None] * len(accounts["pk"])
    return [_plain(v) for v in values] if name == "annual_revenue" else values


def contact_field_values(contacts: Columns, name: str) -> list[Any]:
    """The values of one contact field for each contact."""
    if name == "email_domain":
        return [(e or "").rpartition("@")[2].lower() or None for e in contacts["email"]]
    return contacts.get(name) or [None] * len(contacts["pk"])


def _columns_of(queryset: models.QuerySet, names: Sequence[str]) -> Columns:
    """The rows of ``queryset.values_list(*names)`` as columns. On PostgreSQL the query runs through psycopg's binary
    protocol, whose C loaders build the values (Django's iteration converts each value in Python: most of the time of
    reading a chunk's accounts, contacts and previous scores)."""
    queryset = queryset.values_list(*names)
    if connection.vendor == "postgresql":
        sql, params = queryset.query.sql_with_params()
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            rows = cursor.execute(sql, params, binary=True).fetchall()
    else:
        rows = list(queryset)
    if not rows:
        return {name: [] for name in names}
    return {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}


@dataclass(frozen=True)
class Previous:
    """An account's scores before this rescore (what it had when its chunk was read)."""

    qualified_at: datetime | None
    computed_at: datetime
    values: tuple  # PREVIOUS_FIELDS, in order

    @property
    def qualified(self) -> bool:
        return self.values[PREVIOUS_FIELDS.index("qualified")]


@dataclass
class Chunk:
    """Everything read for a chunk of accounts."""

    accounts: Columns  # ACCOUNT_COLUMNS, in id order
    contacts: Columns  # CONTACT_COLUMNS, in id order
    rows: engine.SignalRows
    milestones: tuple[np.ndarray, np.ndarray]
    members: dict[int, np.ndarray]  # segment id -> bool per account
    previous: dict[int, Previous]
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # account ids, sorted
    signals: SignalArrays | None = None  # the chunk's raw signals when it read them itself (PostgreSQL)


def _day_and_epoch_expressions() -> tuple[Any, Any]:
    """The day of a signal, and the newest signal time of a group in Unix seconds, computed by the database.

    SQLite stores datetimes as UTC text, so the day is its first ten characters and ``julianday`` turns the time into
    a number there; Django's own TruncDate and datetime conversion would run Python code for every signal and row.
    """
    if connection.vendor == "sqlite":
        day: Func = Substr("occurred_at", 1, 10)
        epoch = Func(Max("occurred_at"), template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)")
    else:
        day = TruncDate("occurred_at", tzinfo=UTC)
        epoch = Func(Max("occurred_at"), template="EXTRACT(EPOCH FROM %(expressions)s)")
    return day, ExpressionWrapper(epoch, output_field=FloatField())


def _among(field: str, ids: Sequence[int]) -> Q:
    """``field`` in these ids: a range when they are all the ids between two (a keyset chunk), else an IN list."""
    if len(ids) > 1:
        lo, hi = min(ids), max(ids)
        if hi - lo + 1 == len(set(ids)):
            return Q(**{f"{field}__gte": lo, f"{field}__lte": hi})
    return Q(**{f"{field}__in": list(ids)})


def _rows_by_orm(
    ids: list[int], index: dict[int, int], contacts: Columns, card: Scorecard, since: datetime, now: datetime
) -> engine.SignalRows:
    """The signal groups with one aggregate query through the ORM (SQLite and other databases)."""
    contact_index = {pk: i for i, pk in enumerate(contacts["pk"])}
    day, last_epoch = _day_and_epoch_expressions()
    groups = (
        Signal.objects.filter(account_id__in=ids, occurred_at__gte=since, occurred_at__lte=now)
        .order_by()
        .annotate(day=day)
        .values("account_id", "contact_id", "type_id", "topic_id", "direction", "day")
        .annotate(n=Count("pk"), last=last_epoch)
        .order_by("account_id", "type_id", "day", "contact_id", "topic_id", "direction")
        .values_list("account_id", "contact_id", "type_id", "topic_id", "direction", "n", "last")
    )
    fetched = list(groups)
    columns = list(zip(*fetched, strict=True)) if fetched else [()] * 7
    type_idx = card.type_index(np.array(columns[2], dtype=np.int64))
    keep = type_idx >= 0
    return engine.SignalRows(
        account=np.array([index[a] for a in columns[0]], dtype=np.int64)[keep],
        type=type_idx[keep],
        age_days=((now.timestamp() - np.array(columns[6], dtype=np.float64)) / DAY_SECONDS)[keep],
        topic_multiplier=np.array([card.topic_multiplier.get(t, 1.0) for t in columns[3]], dtype=np.float64)[keep],
        count=np.array(columns[5], dtype=np.float64)[keep],
        contact=np.array([contact_index.get(c, -1) for c in columns[1]], dtype=np.int64)[keep],
        inbound=(np.array(columns[4], dtype=object) == Direction.INBOUND).astype(bool)[keep],
    )


# Raw signals of many accounts, fetched from PostgreSQL as one row of binary columns (``string_agg`` of each
# value's binary form) straight into NumPy, and grouped there: the database only filters and streams (no sort or hash
# of millions of groups), NumPy groups in C, and no Python object is made per signal (COPY would cost one per row).
_DIRECTION_CODE = "CASE s.direction WHEN 'inbound' THEN 1 WHEN 'outbound' THEN 0 ELSE 2 END"
_PG_EPOCH_2000 = 946_684_800.0  # timestamptz's binary form counts microseconds from 2000-01-01 UTC


@dataclass
class SignalArrays:
    """Raw signals (one entry per signal, in no order): ids as in the database, -1 for no contact or topic."""

    account: np.ndarray
    contact: np.ndarray
    type: np.ndarray
    topic: np.ndarray
    direction: np.ndarray  # 1 inbound, 0 outbound, 2 anything else
    epoch: np.ndarray  # occurred_at in Unix seconds

    def take(self, ids: np.ndarray) -> SignalArrays:
        """The signals of these (sorted) account ids (a scan of the account column: no sort of all signals)."""
        if not len(ids):
            return self._select(slice(0, 0))
        which = np.flatnonzero((self.account >= ids[0]) & (self.account <= ids[-1]))
        if len(which) and len(ids) != ids[-1] - ids[0] + 1:  # sparse ids: keep only theirs
            which = which[np.isin(self.account[which], ids)]
        return self._select(which)

    def _select(self, which: Any) -> SignalArrays:
        return SignalArrays(
            self.account[which], self.contact[which], self.type[which], self.topic[which], self.direction[which],
            self.epoch[which],
        )  # fmt: skip


def signals_fetch(
    *, account_ids: Sequence[int] | None, since: datetime, now: datetime, part: tuple[int, int] = (0, 1)
) -> SignalArrays:
    """The signals of these accounts (None: of every account) in [since, now], with one query (PostgreSQL only);
    ``part`` (k, n): only those in the k-th of n equal ranges of the table's pages (a TID range scan: each reader of
    a part scans only its pages; the last range is open, for pages added since).

    Each column comes as one bytea of big-endian values (at most 1 GB each: over 130 million signals).
    """
    where = "s.account_id IS NOT NULL" if account_ids is None else "s.account_id = ANY(%s::bigint[])"
    params: list[Any] = [] if account_ids is None else [list(account_ids)]
    connection.ensure_connection()
    if part[1] > 1:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_relation_size(%s) / current_setting('block_size')::bigint", [Signal._meta.db_table]
            )
            pages = cursor.fetchone()[0]
        k, n = int(part[0]), int(part[1])
        first, end = pages * k // n, pages * (k + 1) // n
        where += f" AND s.ctid >= '({first},0)'::tid" + (f" AND s.ctid < '({end},0)'::tid" if k + 1 < n else "")
    # A server-side binding cursor of psycopg itself (Django's is client-side): binary results, bytes as they are
    with psycopg.Cursor(connection.connection) as cursor:
        # Ids go as 4 bytes when every id fits (half the bytes to send: sending, not scanning, is most of the time)
        tables = (Account, Contact, SignalType, SignalTopic)
        maxima = cursor.execute(
            "SELECT " + ", ".join(f"(SELECT max(id) FROM {m._meta.db_table})" for m in tables)
        ).fetchone()
        assert maxima is not None  # scalar subqueries: always one row
        most = max(v or 0 for v in maxima)
        width, send = (4, "int4send(({})::int4)") if most < 2**28 else (8, "int8send(({})::int8)")
        columns = [
            send.format(c) for c in ("s.account_id", "COALESCE(s.contact_id, -1)", f"s.type_id * 4 + {_DIRECTION_CODE}")
        ] + [send.format("COALESCE(s.topic_id, -1)"), "timestamptz_send(s.occurred_at)"]
        aggregates = ", ".join(f"string_agg({c}, '')" for c in columns)
        sql = (
            f"SELECT {aggregates} FROM {Signal._meta.db_table} s "
            f"WHERE {where} AND s.occurred_at >= %s AND s.occurred_at <= %s"
        )
        if account_ids is not None and connection.in_atomic_block:
            # The planner guesses few signals for an id list, so it reads their scattered heap pages in one process;
            # a parallel bitmap scan lets another core read half of them. For this statement only.
            cursor.execute("SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0; SET LOCAL jit = off")
            row = cursor.execute(sql, [*params, since, now], binary=True).fetchone()
            cursor.execute("RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET jit")
        else:
            row = cursor.execute(sql, [*params, since, now], binary=True).fetchone()
    assert row is not None  # aggregates without GROUP BY: always one row
    if row[0] is None:
        empty = np.zeros(0, np.int64)
        return SignalArrays(empty, empty, empty, empty, empty, np.zeros(0))
    ids, native = f">i{width}", np.int32 if width == 4 else np.int64  # 4-byte ids stay 4 bytes: less to move
    type_direction: np.ndarray = np.frombuffer(row[2], dtype=ids).astype(native)
    return SignalArrays(
        np.frombuffer(row[0], dtype=ids).astype(native),
        np.frombuffer(row[1], dtype=ids).astype(native),
        type_direction >> 2,
        np.frombuffer(row[3], dtype=ids).astype(native),
        type_direction & 3,
        np.frombuffer(row[4], dtype=">i8") / 1e6 + _PG_EPOCH_2000,
    )


@dataclass
class SignalBuckets:
    """Every account's signals, sorted by chunk of accounts once (``bounds``: each chunk's first account id), so a
    chunk's signals are slices rather than a scan of all signals per chunk. ``parts``: the signals as read (one per
    connection that read them), each sorted by chunk, with the offsets of each chunk's slice."""

    bounds: np.ndarray
    parts: list[tuple[SignalArrays, np.ndarray]]

    @staticmethod
    def sort(signals: SignalArrays, bounds: np.ndarray) -> tuple[SignalArrays, np.ndarray]:
        """``signals`` in chunk order (a stable radix sort on the chunk number), with each chunk's offsets."""
        bucket = np.searchsorted(bounds, signals.account, side="right") - 1  # -1: below the first chunk
        bucket = (bucket + 1).astype(np.uint16 if len(bounds) < 2**16 - 1 else np.int64)
        order = np.argsort(bucket, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(bucket, minlength=len(bounds) + 1))])
        return signals._select(order), offsets[1:]  # bucket 0 (below the first chunk) left out

    def take(self, ids: np.ndarray) -> SignalArrays:
        """The signals of these (sorted) account ids: the slice of the chunk starting at ``ids[0]``."""
        if not len(ids):
            return self.parts[0][0]._select(slice(0, 0))
        k = int(np.searchsorted(self.bounds, ids[0], side="right")) - 1
        slices = [part._select(slice(offsets[k], offsets[k + 1])) for part, offsets in self.parts]
        taken = SignalArrays(
            *(np.concatenate([getattr(p, f.name) for p in slices]) for f in dataclasses.fields(SignalArrays))
        )
        if self.bounds[k] != ids[0] or (k + 1 < len(self.bounds) and ids[-1] >= self.bounds[k + 1]):
            raise ValueError("account ids do not match a chunk of the buckets")
        if len(ids) == ids[-1] - ids[0] + 1 and (not len(taken.account) or taken.account.max() <= ids[-1]):
            return taken
        return taken.take(ids)  # signals of accounts that are not in the chunk (deleted, or created since) left out


def _signals_fetch_all(*, since: datetime, now: datetime, bounds: np.ndarray) -> SignalBuckets:
    """Every account's signals, half of them read by a second connection at the same time (each query scans the whole
    table but sends only half of it, and sending is most of the time), each half sorted by chunk by the thread that
    read it (NumPy releases the GIL). Outside any transaction only: the second connection sees only committed rows."""

    def other_half(result: dict[str, Any]) -> None:
        try:
            fetched = signals_fetch(account_ids=None, since=since, now=now, part=(1, 2))
            result["signals"] = SignalBuckets.sort(fetched, bounds)
        except BaseException as error:  # re-raised by the caller
            result["error"] = error
        finally:
            connection.close()  # this thread's own connection

    result: dict[str, Any] = {}
    thread = threading.Thread(target=other_half, args=(result,), name="rescore-reader")
    thread.start()
    try:
        mine = SignalBuckets.sort(signals_fetch(account_ids=None, since=since, now=now, part=(0, 2)), bounds)
    finally:
        thread.join()
    if "error" in result:
        raise result["error"]
    return SignalBuckets(bounds, [mine, result["signals"]])


def _group_signals(
    signals: SignalArrays, *, ids: np.ndarray, contact_ids: np.ndarray, card: Scorecard, now: datetime
) -> engine.SignalRows:
    """Groups of signals by (account, contact, type, topic, direction, day), as the aggregate query makes them."""
    type_idx = card.type_index(signals.type)
    keep = type_idx >= 0
    account = np.searchsorted(ids, signals.account[keep])
    type_idx, contact, topic = type_idx[keep], signals.contact[keep], signals.topic[keep]
    direction, epoch = signals.direction[keep], signals.epoch[keep]
    if not len(account):
        return engine.SignalRows(account=account, type=type_idx, age_days=np.zeros(0), count=np.zeros(0))
    day = np.floor(epoch / DAY_SECONDS).astype(np.int64)
    day -= day.min()
    # account (< 2^24) | type (< 2^14) | day (< 2^22) | direction (2 bits) in one key; contact and topic apart
    packed = (account << 38) | (type_idx << 24) | (day << 2) | direction
    # One sort of one 64-bit key when the ranks of contact and topic fit beside it (the usual case: a third of the
    # time of sorting three keys); the same groups, in the same order.
    contact_rank = np.unique(contact, return_inverse=True)[1].reshape(-1)
    topic_rank = np.unique(topic, return_inverse=True)[1].reshape(-1)
    widths = [int(v.max()).bit_length() for v in (account, type_idx, day, contact_rank, topic_rank)]
    if sum(widths) + 2 <= 63:
        key = account
        for part, width in zip((type_idx, day), widths[1:3], strict=True):
            key = (key << width) | part
        key = (((key << 2) | direction) << widths[3] | contact_rank) << widths[4] | topic_rank
        order = np.argsort(key)
        key = key[order]
        change = np.ones(len(order), dtype=bool)
        change[1:] = key[1:] != key[:-1]
        packed, contact, topic = packed[order], contact[order], topic[order]
    else:
        order = np.lexsort((topic, contact, packed))
        packed, contact, topic = packed[order], contact[order], topic[order]
        change = np.ones(len(order), dtype=bool)
        change[1:] = (packed[1:] != packed[:-1]) | (contact[1:] != contact[:-1]) | (topic[1:] != topic[:-1])
    starts = np.flatnonzero(change)
    last = np.maximum.reduceat(epoch[order], starts)
    count = np.diff(np.append(starts, len(order))).astype(np.float64)
    packed, contact, topic = packed[starts], contact[starts], topic[starts]
    if len(card.topic_multiplier):
        topics, inverse = np.unique(topic, return_inverse=True)
        multiplier = np.array([card.topic_multiplier.get(int(t), 1.0) for t in topics], dtype=np.float64)[inverse]
    else:
        multiplier = np.ones(len(topic))
    pos = np.clip(np.searchsorted(contact_ids, contact), 0, max(len(contact_ids) - 1, 0))
    known = (contact >= 0) & (contact_ids[pos] == contact) if len(contact_ids) else np.zeros(len(contact), bool)
    return engine.SignalRows(
        account=packed >> 38,
        type=(packed >> 24) & ((1 << 14) - 1),
        age_days=(now.timestamp() - last) / DAY_SECONDS,
        topic_multiplier=multiplier,
        count=count,
        contact=np.where(known, pos, -1),
        inbound=(packed & 3) == 1,
    )


def chunk_read(
    *,
    account_ids: Sequence[int],
    card: Scorecard,
    now: datetime,
    signals: SignalArrays | SignalBuckets | None = None,
) -> Chunk:
    """Read a chunk of accounts with a fixed number of queries (``signals``: already fetched for a full rescore)."""
    accounts = _columns_of(Account.objects.filter(_among("pk", account_ids)).order_by("pk"), ACCOUNT_COLUMNS)
    ids = accounts["pk"]
    index = {pk: i for i, pk in enumerate(ids)}
    contacts = _columns_of(Contact.objects.filter(_among("account_id", ids)).order_by("pk"), CONTACT_COLUMNS)
    since = now - timedelta(days=card.horizon_days)
    if connection.vendor == "postgresql":
        id_array = np.array(ids, dtype=np.int64)
        own = None
        if signals is None:
            signals = own = signals_fetch(account_ids=ids, since=since, now=now)
        rows = _group_signals(
            signals.take(id_array),
            ids=id_array,
            contact_ids=np.array(contacts["pk"], dtype=np.int64),
            card=card,
            now=now,
        )
    else:
        own = None
        rows = _rows_by_orm(ids, index, contacts, card, since, now)
    milestone_ids = card.type_ids[card.milestone].tolist()
    reached: list[tuple[int, int]] = []
    if milestone_ids:  # activation counts milestones ever reached (by ``now``), not only within the horizon
        reached = list(
            Signal.objects.filter(_among("account_id", ids), type_id__in=milestone_ids, occurred_at__lte=now)
            .order_by()
            .values_list("account_id", "type_id")
            .distinct()
        )
    milestones = (
        np.array([index[a] for a, _ in reached], dtype=np.int64),
        card.type_index(np.array([t for _, t in reached], dtype=np.int64)),
    )
    members: dict[int, np.ndarray] = {}
    segment_ids = sorted({b.segment_id for b in card.boosts})
    if segment_ids:
        for segment_id in segment_ids:
            members[segment_id] = np.zeros(len(ids), dtype=bool)
        # Members as of ``now`` (a backtest's cut-off is in the past): entered by then, not left by then.
        for segment_id, account_id in SegmentMembership.objects.filter(
            _among("account_id", ids),
            Q(exited_at__isnull=True) | Q(exited_at__gt=now),
            segment_id__in=segment_ids,
            entered_at__lte=now,
        ).values_list("segment_id", "account_id"):
            members[segment_id][index[account_id]] = True
    before = _columns_of(
        AccountScore.objects.filter(_among("account_id", ids)),
        ["account_id", "qualified_at", "computed_at", *PREVIOUS_FIELDS],
    )
    previous = {
        a: Previous(q, c, values)
        for a, q, c, values in zip(
            before["account_id"], before["qualified_at"], before["computed_at"],
            zip(*(before[f] for f in PREVIOUS_FIELDS), strict=True), strict=True,
        )
    }  # fmt: skip
    return Chunk(accounts, contacts, rows, milestones, members, previous, np.array(ids, dtype=np.int64), own)


# --- computing ---------------------------------------------------------------------------------------------------


def _round2(values: np.ndarray) -> list:
    """``round(x, 2)`` of every value as Python floats (nested lists), the same as Python's own rounding.

    NumPy's ``round`` scales by 100 first, which can land a value just off a half; those few are rounded by Python.
    """
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values * 100.0
        rounded = np.rint(scaled) / 100.0
        near_half = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6
    near_half |= ~(np.abs(scaled) < 1e8)  # large or not finite: Python decides
    out = rounded.tolist()
    for index in zip(*np.nonzero(near_half), strict=True):
        target = out
        for k in index[:-1]:
            target = target[k]
        target[index[-1]] = round(float(values[index]), 2)
    return out


@dataclass
class Computed:
    """What a chunk's rescore writes: AccountScore values as columns (``account_id`` first; ``contributions`` as JSON
    text, built without a Python object per explanation line) and ContactScore columns."""

    scores: dict[str, list[Any]]
    contact_scores: dict[str, list[Any]]
    today: date
    newly_qualified: int
    history: list[int] = field(default_factory=list)  # positions of the accounts that get a ScoreHistory row
    changed: dict[int, Previous | None] = field(default_factory=dict)  # account id -> scores before (None: new)
    previous: dict[int, Previous] = field(default_factory=dict)  # every account's scores before (read with it)

    @property
    def account_ids(self) -> list[int]:
        return self.scores["account_id"]

    @property
    def account_scores(self) -> list[dict[str, Any]]:
        """One dict of AccountScore values per account, explanations parsed (for callers that want rows)."""
        names = list(self.scores)
        rows = [dict(zip(names, values, strict=True)) for values in zip(*self.scores.values(), strict=True)]
        for row in rows:
            row["contributions"] = orjson.loads(row["contributions"])
        return rows

    def account_score_objects(self) -> list[AccountScore]:
        return [AccountScore(**values) for values in self.account_scores]

    def changes(self, hits: RuleStats, ml: Any = None) -> list[dict[str, Any]]:
        """What ``scoring.hooks.scores_changed`` announces: the accounts whose tracked values (scores, and the
        predictions' in ``ml``, a ``scoring.predictions.PredictionChanges``) moved or whose rule hits were set or
        cleared (rows are made for those accounts only)."""
        candidates = set(self.changed) | {a for _, a in hits.opened_pairs} | {a for _, a in hits.cleared_pairs}
        if ml is not None:
            candidates |= {a for a, values in ml.after.items() if ml.before.get(a) != values}
        if not candidates:
            return []
        at = [i for i, a in enumerate(self.account_ids) if a in candidates]
        tracked = [PREVIOUS_FIELDS.index(f) for f in ANNOUNCED_SCORE_FIELDS]
        before = {}
        for i in at:
            account_id = self.account_ids[i]
            was = self.previous.get(account_id)
            if was is not None:
                before[account_id] = tuple(was.values[k] for k in tracked)
        after = [
            {"account_id": self.account_ids[i], **{f: self.scores[f][i] for f in ANNOUNCED_SCORE_FIELDS}} for i in at
        ]
        values = ml.merged(before=before, after=after) if ml is not None else {"before": before, "after": after}
        return score_changes(**values, hits_set=hits.opened_pairs, hits_cleared=hits.cleared_pairs)

    def history_objects(self, positions: Sequence[int] | None = None) -> list[ScoreHistory]:
        """ScoreHistory rows of the accounts at these positions (default: those that get a row, ``history``)."""
        c = self.scores
        return [
            ScoreHistory(account_id=c["account_id"][i], date=self.today, **{f: c[f][i] for f in HISTORY_FIELDS})
            for i in (self.history if positions is None else positions)
        ]

    def contact_score_objects(self) -> list[ContactScore]:
        c = self.contact_scores
        return [ContactScore(**dict(zip(c, values, strict=True))) for values in zip(*c.values(), strict=True)]


def _json_head(source: str, label: str) -> str:
    """The start of an explanation line as JSON text, up to the end of the label (left open to append to it)."""
    return '{"source":' + orjson.dumps(str(source)).decode() + ',"label":' + orjson.dumps(label).decode()[:-1]


def _json_text(text: str) -> str:
    """Text to put inside a JSON string (escaped, no quotes)."""
    return orjson.dumps(text).decode()[1:-1]


def _lines(
    mask: np.ndarray,
    points: np.ndarray,
    heads: Sequence[str],
    *,
    middles: np.ndarray | None = None,
    counted: Sequence[bool] | None = None,
    tails: Sequence[str] = (),
    tailed: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray]:
    """Explanation lines of many accounts at once, as JSON text: for each true cell of ``mask`` (accounts × columns),
    ``heads[column]`` (from ``_json_head``), then the cell's whole number from ``middles`` if given (in the ``counted``
    columns only, if given), then ``tails[column]`` (escaped by ``_json_text``; where ``tailed`` is true, if given),
    closing the label; its points are the cell's of ``points``, rounded to 2 decimals. Returns, per account, its
    lines joined by commas (in column order), and the sum of their rounded points."""
    n = mask.shape[0]
    rows, cols = np.nonzero(mask)
    col_l = cols.tolist()
    values = np.asarray(_round2(points[rows, cols]), dtype=np.float64)
    sums = np.bincount(rows, weights=values, minlength=n) if len(rows) else np.zeros(n)
    head = [heads[c] for c in col_l]
    if middles is None:
        middle: list[Any] = [""] * len(rows)
    else:
        middle = middles[rows, cols].astype(np.int64).tolist()
        if counted is not None:
            middle = [m if counted[c] else "" for c, m in zip(col_l, middle, strict=True)]
    if not tails:
        tail = [""] * len(rows)
    elif tailed is None:
        tail = [tails[c] for c in col_l]
    else:
        tail = [tails[c] if t else "" for c, t in zip(col_l, tailed[rows, cols].tolist(), strict=True)]
    text = [f'{h}{m}{t}","points":{v!r}}}' for h, m, t, v in zip(head, middle, tail, values.tolist(), strict=True)]
    bounds = np.searchsorted(rows, np.arange(n + 1)).tolist()
    return [",".join(text[bounds[i] : bounds[i + 1]]) for i in range(n)], sums


def _clamped(lines: list[str], sums: np.ndarray, scores: np.ndarray, label: str) -> list[str]:
    """Add to each account's lines one for what keeping its score within bounds took away (so they sum to it)."""
    gaps = np.asarray(_round2(scores - sums), dtype=np.float64)
    head = _json_head(Src.CLAMP, label)
    for i in np.flatnonzero(np.abs(gaps) >= 0.01).tolist():
        line = f'{head}","points":{float(gaps[i])!r}}}'
        lines[i] = f"{lines[i]},{line}" if lines[i] else line
    return lines


# The scorecard's formulas in order over arrays; split in issue 13 item 2 (hence the noqa below).
def chunk_compute(*, chunk: Chunk, card: Scorecard, now: datetime) -> Computed:  # noqa: PLR0915
    """Scores, measures and explanations of a chunk, computed over arrays."""
    s = card.settings
    n = len(chunk.ids)
    rows, rules = chunk.rows, card.rules
    eng = engine.engagement(rows, rules, n)
    type_counts = np.zeros((n, rules.n_types))  # signals that count, per type (for "Demo request × 3")
    if rules.defaulted.any():  # an outbound signal of a type on the default weight counts nothing
        counted = ~rules.defaulted[rows.type] | rows.inbound
        np.add.at(type_counts, (rows.account[counted], rows.type[counted]), rows.count[counted])
    else:
        np.add.at(type_counts, (rows.account, rows.type), rows.count)
    trend = engine.trend(
        rows,
        engine.raw_points(rows, rules),
        n,
        recent_days=s.trend_recent_days,
        baseline_days=s.trend_baseline_days,
    )
    boosts = engine.SegmentBoosts(
        type=np.array([b.type_index for b in card.boosts], dtype=np.int64),
        multiplier=np.array([b.multiplier for b in card.boosts], dtype=np.float64),
        window_days=np.array([b.window_days for b in card.boosts], dtype=np.float64),
        members=np.array([chunk.members[b.segment_id] for b in card.boosts]).reshape(len(card.boosts), n),
    )
    strength = engine.signal_strength(
        rows,
        rules,
        boosts,
        n,
        recent_days=s.trend_recent_days,
        baseline_days=s.trend_baseline_days,
        surging_factor=s.surging_factor,
        surging_min_points=s.surging_min_points,
    )
    active_short = engine.active_users(rows, n, window_days=s.active_short_days)
    active_long = engine.active_users(rows, n, window_days=s.active_long_days)
    recent_use = rows.age_days <= s.active_long_days
    adoption = engine.distinct_types_share(rows.account[recent_use], rows.type[recent_use], card.key_feature, n)
    activation = engine.distinct_types_share(*chunk.milestones, card.milestone, n)

    # Fit: rules over account fields, traits and (any of the) contacts' fields; data-quality penalties.
    contacts = chunk.contacts
    n_contacts = len(contacts["pk"])
    contact_account = np.searchsorted(chunk.ids, np.array(contacts["account_id"], dtype=np.int64))
    total_users = np.bincount(contact_account, minlength=n) if n_contacts else np.zeros(n, np.int64)
    rule_matches = np.zeros((len(card.fit_rules), n), dtype=bool)
    for r, rule in enumerate(card.fit_rules):
        if rule.field.startswith("contact."):
            values = contact_field_values(contacts, rule.field[len("contact.") :])
            hit = engine.matches(values, rule.operator, rule.value)
            rule_matches[r] = engine.any_per_account(contact_account, hit, n)
        else:
            rule_matches[r] = engine.matches(
                account_field_values(chunk.accounts, rule.field, now), rule.operator, rule.value
            )
    free = engine.count_per_account(contact_account, engine.free_email(contacts["email"], card.free_domains), n)
    fake = engine.count_per_account(
        contact_account,
        engine.has_no_vowel(contacts["first_name"]) | engine.has_no_vowel(contacts["last_name"]),
        n,
    )
    key_fields = list(s.key_fields or [])
    key_missing = np.array(
        [engine.matches(account_field_values(chunk.accounts, f, now), "missing", None) for f in key_fields], dtype=bool
    ).reshape(len(key_fields), n)
    # One gap, one penalty: a key field that a fit rule already penalises when missing ("No industry known −5")
    # takes no "Missing industry" penalty on top (it still counts against completeness).
    ruled = {rule.field for rule in card.fit_rules if rule.operator == "missing" and rule.points < 0}
    key_penalty = np.array([0.0 if f in ruled else s.missing_key_field_penalty for f in key_fields]).reshape(-1, 1)
    penalties = np.vstack(
        [
            (free > 0) * s.free_email_penalty,
            (fake > 0) * s.no_vowel_name_penalty,
            key_missing * key_penalty,
        ]
    ).reshape(2 + len(key_fields), n)
    fit = engine.fit([rule.points for rule in card.fit_rules], rule_matches, penalties, key_missing)
    lead = engine.lead(fit.score, eng.score)
    grades = engine.grades(lead, a_min=s.grade_a_min, b_min=s.grade_b_min, c_min=s.grade_c_min)
    temps = engine.temperatures(eng.score, hot_min=s.hot_min, warm_min=s.warm_min)
    qualified = lead >= s.qualification_threshold

    contact_act = engine.contact_activity(rows, rules, n_contacts)
    today = timezone.localdate(now)
    ids = chunk.ids.tolist()

    # Explanations, built as JSON text for all accounts at once (one f-string per line, no dict per line).
    f_score, e_score, l_score, sig = (
        np.asarray(_round2(v), dtype=np.float64) for v in (fit.score, eng.score, lead, strength.strength)
    )
    labels = card.type_labels
    fit_heads = [_json_head(Src.FIT_RULE, rule.label) for rule in card.fit_rules]
    with_points = np.array([bool(rule.points) for rule in card.fit_rules], dtype=bool).reshape(-1, 1)
    fit_mask = [(rule_matches & with_points).T]
    fit_points = [fit.rule_points.T]
    fit_counts = [np.zeros((n, len(card.fit_rules)), dtype=np.int64)]
    fit_tails = [""] * len(card.fit_rules)
    for k, (count, penalty, text) in enumerate(
        [
            (free, s.free_email_penalty, " contact(s) with a free email address"),
            (fake, s.no_vowel_name_penalty, " contact(s) with a name without vowels"),
        ]
    ):
        fit_heads.append(_json_head(Src.PENALTY, ""))
        fit_tails.append(_json_text(text))
        fit_mask.append(((count > 0) & bool(penalty)).reshape(n, 1))
        fit_points.append(fit.penalty_points[k].reshape(n, 1))
        fit_counts.append(np.asarray(count, dtype=np.int64).reshape(n, 1))
    for k, name in enumerate(key_fields):
        fit_heads.append(_json_head(Src.PENALTY, f"Missing {name}"))
        fit_tails.append("")
        fit_mask.append((key_missing[k] & bool(key_penalty[k, 0])).reshape(n, 1))
        fit_points.append(fit.penalty_points[2 + k].reshape(n, 1))
        fit_counts.append(np.zeros((n, 1), dtype=np.int64))
    counted = [False] * len(card.fit_rules) + [True, True] + [False] * len(key_fields)  # "2 contact(s) with …"
    fit_lines, fit_sums = _lines(
        np.hstack(fit_mask).reshape(n, -1), np.hstack(fit_points).reshape(n, -1), fit_heads,
        middles=np.hstack(fit_counts).reshape(n, -1), counted=counted, tails=fit_tails,
    )  # fmt: skip
    caps = rules.cap
    capped = np.isfinite(caps)[np.newaxis, :] & (np.abs(eng.by_type) >= np.where(np.isfinite(caps), caps, 0))
    # Types on the default weight say so ("Other activity: Feature used × 12"), so a CS person sees where points
    # come from and an admin which types deserve a rule of their own.
    named = [_json_head(Src.DEFAULT_WEIGHT, f"Other activity: {t}") if d else _json_head(Src.ENGAGEMENT_RULE, t)
             for t, d in zip(labels, rules.defaulted.tolist(), strict=True)]  # fmt: skip
    eng_lines, eng_sums = _lines(
        np.abs(eng.by_type) >= 0.005, eng.by_type, [f"{h} × " for h in named], middles=type_counts,
        tails=[_json_text(f" (capped at {c:g})") for c in caps.tolist()], tailed=capped,
    )  # fmt: skip
    str_lines, str_sums = _lines(
        np.hstack([np.abs(strength.by_type) >= 0.005, np.abs(strength.boost_by_type) >= 0.005]).reshape(n, -1),
        np.hstack([strength.by_type, strength.boost_by_type]).reshape(n, -1),
        named + [_json_head(Src.BOOST, f"{t}: segment boost") for t in labels],
    )  # fmt: skip
    fit_lines = _clamped(fit_lines, fit_sums, f_score, "Fit is kept within 0–100")
    eng_lines = _clamped(eng_lines, eng_sums, e_score, "Engagement is kept within 0–100")
    str_lines = _clamped(str_lines, str_sums, sig, "Signal strength is never below 0")
    lead_fit, lead_eng = _json_head(Src.SCORE, "Fit"), _json_head(Src.SCORE, "Engagement")
    lead_lines = [
        f'{lead_fit}","points":{f!r}}},{lead_eng}","points":{e!r}}}'
        for f, e in zip(f_score.tolist(), e_score.tolist(), strict=True)
    ]
    lead_lines = _clamped(lead_lines, f_score + e_score, l_score, "Lead score is kept within 0–100")
    contributions = [
        f'{{"fit":[{a}],"engagement":[{b}],"lead":[{c}],"signal_strength":[{d}]}}'
        for a, b, c, d in zip(fit_lines, eng_lines, lead_lines, str_lines, strict=True)
    ]

    # Qualification keeps the time the account first crossed the bar while it stays above.
    qualified_l = qualified.tolist()
    qualified_at: list[datetime | None] = []
    newly = 0
    for pk, is_qualified in zip(ids, qualified_l, strict=True):
        before = chunk.previous.get(pk)
        was_qualified = before is not None and before.qualified
        if is_qualified:
            kept = before.qualified_at if before is not None and before.qualified else None
            qualified_at.append(kept or now)
            newly += not was_qualified
        else:
            qualified_at.append(None)
    total_l, long_l = total_users.tolist(), active_long.tolist()
    scores = {
        "account_id": ids,
        "fit": f_score.tolist(),
        "completeness": _round2(fit.completeness),
        "engagement": e_score.tolist(),
        "lead": l_score.tolist(),
        "grade": grades.tolist(),
        "temperature": temps.tolist(),
        "qualified": qualified_l,
        "qualified_at": qualified_at,
        "signal_strength": sig.tolist(),
        "signal_strength_baseline": _round2(strength.baseline),
        "surging": strength.surging.tolist(),
        "tenure_days": account_field_values(chunk.accounts, "tenure_days", now),
        "size_band": account_field_values(chunk.accounts, "size_band", now),
        "activation": _ratios(activation),
        "engagement_trend": _ratios(trend.ratio),
        "active_users_7d": active_short.tolist(),
        "active_users_30d": long_l,
        "total_users": total_l,
        "active_ratio_30d": [round(a / t, 4) if t else 0.0 for a, t in zip(long_l, total_l, strict=True)],
        "adoption": _ratios(adoption),
        "contributions": contributions,
        "config_version": [card.version] * n,
        "computed_at": [now] * n,
    }
    last_seen = contacts["last_seen_at"]
    ages = contact_act.last_age_days
    last_activity = []
    now_ts = now.timestamp()
    for age, seen in zip(ages.tolist(), last_seen, strict=True):
        # Back from days to a time, to the millisecond: SQLite's julianday carries the newest signal time only to
        # ~10 µs, and event times are sent to the millisecond.
        last = datetime.fromtimestamp(round(now_ts - age * DAY_SECONDS, 3), UTC) if math.isfinite(age) else seen
        if seen and last and seen > last:
            last = seen
        last_activity.append(last)
    contact_scores = {
        "contact_id": contacts["pk"],
        "account_id": contacts["account_id"],
        "engagement": [round(e, 2) for e in contact_act.engagement.tolist()],
        "last_activity_at": last_activity,
        "active": (ages <= s.active_long_days).tolist(),
        "computed_at": [now] * n_contacts,
    }
    history, changed = _history_rows(scores, chunk.previous, today)
    return Computed(scores, contact_scores, today, newly, history, changed, chunk.previous)


def _ratios(values: np.ndarray) -> list[float | None]:
    """Shares rounded to 4 decimals, None where undefined (nan)."""
    return [None if math.isnan(v) else round(v, 4) for v in values.tolist()]


def _history_rows(
    scores: dict[str, list[Any]], previous: dict[int, Previous], today: date
) -> tuple[list[int], dict[int, Previous | None]]:
    """Which accounts (positions) get a ScoreHistory row (their numbers changed, or their first rescore of the day),
    and the accounts whose numbers changed with what they had before (None: never scored)."""
    day_start = timezone.make_aware(datetime.combine(today, datetime.min.time()))
    day_end = day_start + timedelta(days=1)
    history: list[int] = []
    changed: dict[int, Previous | None] = {}
    k = len(CHANGE_FIELDS)
    now_values = zip(*(scores[f] for f in PREVIOUS_FIELDS), strict=True)
    for i, (account_id, values) in enumerate(zip(scores["account_id"], now_values, strict=True)):
        before = previous.get(account_id)
        if before is None or before.values != values:
            changed[account_id] = before  # some tracked value moved (playbooks hear of it)
            if before is None or before.values[:k] != values[:k]:
                history.append(i)
                continue
        if not day_start <= before.computed_at < day_end:
            history.append(i)
    return history, changed


# --- writing -----------------------------------------------------------------------------------------------------

ACCOUNT_SCORE_COLUMNS = [f.name for f in AccountScore._meta.concrete_fields if f.name != "account"]
CONTACT_SCORE_FIELDS = ["account", "engagement", "last_activity_at", "active", "computed_at"]


# Column types for the PostgreSQL upserts (``INSERT … SELECT … FROM unnest(arrays) ON CONFLICT DO UPDATE``).
_PG_TYPES = {
    models.FloatField: "float8", models.CharField: "text", models.BooleanField: "bool",
    models.DateTimeField: "timestamptz", models.PositiveIntegerField: "int8", models.JSONField: "jsonb",
    models.OneToOneField: "int8", models.ForeignKey: "int8", models.DateField: "date",
}  # fmt: skip


def _pg_upsert(
    model: type[models.Model],
    columns: dict[str, list[Any]],
    conflict: Sequence[str],
    raw: Any = None,
    *,
    update: bool = True,
) -> None:
    """Insert or update rows given as columns (field attnames) with one statement, no model instances
    (``update=False``: rows already present are left as they are)."""
    names = list(columns)
    fields = {f.attname: f for f in model._meta.concrete_fields}
    types = [_PG_TYPES[type(fields[n])] for n in names]
    # JSON goes as text and is cast per value: an array of jsonb would need every value quoted twice
    select = ", ".join(f"{n}::jsonb" if t == "jsonb" else n for n, t in zip(names, types, strict=True))
    # text goes in binary (%b): a text array literal of JSON, all quotes escaped, takes the server long to parse
    arrays = ", ".join("%b::text[]" if t in ("jsonb", "text") else f"%b::{t}[]" for t in types)
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n not in conflict)
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(names)}) SELECT {select} FROM unnest({arrays}) "
        f"AS t({', '.join(names)}) ON CONFLICT ({', '.join(conflict)}) "
        + (f"DO UPDATE SET {updates}" if update else "DO NOTHING")
    )
    values = [  # JSON given as text (the rescore's explanations) goes as it is
        binary_array([v if isinstance(v, str) else orjson.dumps(v).decode() for v in columns[n]], "text")
        if t == "jsonb"
        else binary_array(columns[n], t)
        for n, t in zip(names, types, strict=True)
    ]
    with psycopg.Cursor(raw or connection.connection) as cursor:  # server-side binding: arrays go as parameters
        register_arrays(cursor.adapters)
        cursor.execute(sql, values)


def _write_pg(computed: Computed, raw: Any = None) -> None:
    score_columns = computed.scores
    _pg_upsert(AccountScore, score_columns, ["account_id"], raw)
    if computed.history:
        history = {n: [score_columns[n][i] for i in computed.history] for n in ["account_id", *HISTORY_FIELDS]}
        history["date"] = [computed.today] * len(computed.history)
        # the same clock twice (a retried task, a backfill): the row holds the latest numbers, no second row
        _pg_upsert(ScoreHistory, history, ["account_id", "computed_at"], raw)
    if computed.contact_scores["contact_id"]:
        _pg_upsert(ContactScore, computed.contact_scores, ["contact_id"], raw)


def _write(computed: Computed) -> None:
    if connection.vendor == "postgresql":
        _write_pg(computed)
        return
    AccountScore.objects.bulk_create(
        computed.account_score_objects(),
        update_conflicts=True,
        unique_fields=["account"],
        update_fields=ACCOUNT_SCORE_COLUMNS,
    )
    ScoreHistory.objects.bulk_create(
        computed.history_objects(),
        update_conflicts=True,
        unique_fields=["account", "computed_at"],
        update_fields=[f for f in HISTORY_FIELDS if f != "computed_at"],
    )
    if computed.contact_scores["contact_id"]:
        ContactScore.objects.bulk_create(
            computed.contact_score_objects(),
            update_conflicts=True,
            unique_fields=["contact"],
            update_fields=CONTACT_SCORE_FIELDS,
        )


def _chunk_rescore(
    *,
    account_ids: Sequence[int],
    card: Scorecard,
    now: datetime,
    signals: SignalBuckets | None = None,
    watermark: MarksWatermark | None = None,
) -> RescoreStats:
    # Marks written by transactions the chunk's reads could not see stay for the next run (``watermark``: taken
    # before ``signals`` were read, for a full rescore that read them all at once).
    with transaction.atomic():
        watermark = watermark or marks_watermark()
        chunk = chunk_read(account_ids=account_ids, card=card, now=now, signals=signals)
        computed = chunk_compute(chunk=chunk, card=card, now=now)
        _write(computed)
        measures = rule_measures(computed.scores)
        hits = rule_hits_evaluate(account_ids=computed.account_ids, now=now, measures=measures)
        ml = _predict(account_ids, now, signals or chunk.signals, measures, card)  # the signals just read, not again
        # Listeners (playbooks) hear of the changed accounts once this transaction has committed.
        scores_changed_announce(changes=computed.changes(hits, ml), computed_at=now.isoformat())
        cleared = marks_clear(account_ids=account_ids, watermark=watermark)
    return RescoreStats(
        accounts=len(chunk.ids),
        chunks=1,
        marks_cleared=cleared,
        newly_qualified=computed.newly_qualified,
        config_version=card.version,
    )


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def accounts_rescore(
    *,
    account_ids: Iterable[int],
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
    card: Scorecard | None = None,
) -> RescoreStats:
    """Recompute the scores, measures and explanations of these accounts, a chunk at a time (one transaction per
    chunk), and clear their rescore marks set before the chunk started. Idempotent."""
    now = now or timezone.now()
    ids = sorted({int(a) for a in account_ids})
    stats = RescoreStats()
    if not ids:
        return stats
    card = card or scorecard_load()
    for chunk in _chunks(ids, chunk_size):
        stats.add(_chunk_rescore(account_ids=chunk, card=card, now=now))
        if progress:
            progress(len(chunk))
    return stats


def contacts_last_seen_from_scores(*, account_ids: Sequence[int]) -> int:
    """Move these accounts' contacts' ``last_seen_at`` forward to the latest inbound activity the rescore just stored
    in their ``ContactScore`` (one UPDATE joined on the primary key; the signals are not read again)."""
    ids = sorted({int(a) for a in account_ids})
    if not ids:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Contact._meta.db_table} AS c SET last_seen_at = s.last_activity_at "
                f"FROM {ContactScore._meta.db_table} AS s WHERE s.contact_id = c.id AND s.account_id = ANY(%s) "
                "AND s.last_activity_at IS NOT NULL "
                "AND (c.last_seen_at IS NULL OR c.last_seen_at < s.last_activity_at)",
                [ids],
            )
            return cursor.rowcount
    latest = Subquery(ContactScore.objects.filter(contact_id=OuterRef("pk")).values("last_activity_at")[:1])
    stale = Contact.objects.filter(_among("account_id", ids), score__last_activity_at__isnull=False).filter(
        Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=F("score__last_activity_at"))
    )
    return Contact.objects.filter(pk__in=stale.values("pk")).update(last_seen_at=latest)


def accounts_rescore_marked(
    *, limit: int | None = None, chunk_size: int = CHUNK_SIZE, progress: Progress | None = None
) -> RescoreStats:
    """Rescore accounts marked for rescoring, oldest marks first, until none are left (or ``limit`` accounts)."""
    stats = RescoreStats()
    card = None
    while limit is None or stats.accounts < limit:
        size = chunk_size if limit is None else min(chunk_size, limit - stats.accounts)
        ids = marked_account_ids(limit=size)
        if not ids:
            break
        card = card or scorecard_load()
        with _fewer_collections():
            done = accounts_rescore(account_ids=ids, chunk_size=chunk_size, progress=progress, card=card)
        # New signals are what marked most of these accounts: their contacts' last activity moves with them (done
        # here, off the ingestion path, so concurrent event batches never write contact rows).
        contacts_last_seen_from_scores(account_ids=ids)
        stats.add(done)
        if done.marks_cleared == 0:  # marked again while we worked: the next run picks them up
            break
    return stats


def accounts_rescore_all(
    *, now: datetime | None = None, chunk_size: int = CHUNK_SIZE, progress: Progress | None = None
) -> RescoreStats:
    """Rescore every account (the nightly run: decay and windows move scores without new signals)."""
    scoring_defaults_ensure()
    now = now or timezone.now()
    card = scorecard_load()
    stats = RescoreStats()
    signals: SignalBuckets | None = None
    watermark = None
    if connection.vendor == "postgresql":
        # The signals table is not in account order, so reading it a chunk at a time reads (nearly) all its pages
        # for every chunk: read it once and group each chunk's part in NumPy. The chunks are fixed first (accounts
        # created after this moment are marked and rescored by the next run); marks set by transactions this read
        # cannot see stay for the next run. Memory: about 40 bytes per signal within the horizon.
        watermark = marks_watermark()
        all_ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
        fixed = [all_ids[i : i + chunk_size] for i in range(0, len(all_ids), chunk_size)]
        bounds = np.array([c[0] for c in fixed], dtype=np.int64)
        since = now - timedelta(days=card.horizon_days)
        outside = connection.get_autocommit() and not connection.in_atomic_block
        if outside:
            signals = _signals_fetch_all(since=since, now=now, bounds=bounds)
        else:
            signals = SignalBuckets(
                bounds, [SignalBuckets.sort(signals_fetch(account_ids=None, since=since, now=now), bounds)]
            )
        if outside:
            return _rescore_overlapped(
                fixed, card=card, now=now, signals=signals, watermark=watermark, progress=progress
            )
        chunks: Iterable[list[int]] = fixed
    else:
        chunks = _keyset(chunk_size)
    for ids in chunks:
        stats.add(_chunk_rescore(account_ids=ids, card=card, now=now, signals=signals, watermark=watermark))
        if progress:
            progress(len(ids))
    return stats


def score_history_backfill(
    *, moments: Sequence[datetime], chunk_size: int = CHUNK_SIZE, progress: Progress | None = None
) -> int:
    """Score history for past moments (a demo's months before today; signals imported from before Klearly): each
    account's scores as of each moment, computed as a backtest computes them (signals, milestones, segment
    membership and stage as known then; account fields as they are today), stored as ``ScoreHistory`` rows only.
    Current scores, rule hits, predictions and listeners are left alone. With active models the rows also get the
    probabilities the models give for what was known then (``scoring.predictions.probabilities_at``, not smoothed).
    Accounts created after a moment get no row for it. Idempotent: one row per account and moment. Returns the rows
    written.

    The default engagement rules are made first, as a full rescore makes them (``scoring_defaults_ensure``): without
    them every past row had engagement and signal strength 0 where today's rescore found points."""
    from .predictions import prediction_context_load, probabilities_at

    scoring_defaults_ensure()
    card = scorecard_load()
    context = prediction_context_load(card)
    written = 0
    for at in sorted(moments):
        for ids in _keyset(chunk_size):
            chunk = chunk_read(account_ids=ids, card=card, now=at)
            computed = chunk_compute(chunk=chunk, card=card, now=at)
            c = computed.scores
            existed = [i for i, created in enumerate(chunk.accounts["created_at"]) if created <= at]
            probabilities = probabilities_at(account_ids=[c["account_id"][i] for i in existed], at=at, context=context)
            rows = computed.history_objects(existed)
            for row in rows:
                for outcome, by_account in probabilities.items():
                    setattr(row, outcome, by_account.get(row.account_id))
            ScoreHistory.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["account", "computed_at"],
                update_fields=[f for f in HISTORY_FIELDS if f != "computed_at"] + list(probabilities),
                batch_size=1000,
            )
            written += len(rows)
            if progress:
                progress(len(ids))
    return written


def _keyset(chunk_size: int) -> Iterable[list[int]]:
    """Every account id in chunks, by keyset pagination (no OFFSET)."""
    last = 0
    while ids := list(Account.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk_size]):
        last = ids[-1]
        yield ids


def _rescore_overlapped(
    chunks: Iterable[list[int]],
    *,
    card: Scorecard,
    now: datetime,
    signals: SignalBuckets,
    watermark: MarksWatermark,
    progress: Progress | None,
) -> RescoreStats:
    """A full rescore on PostgreSQL as a pipeline of three threads, each chunk passing through them in order.

    This thread reads a chunk (scores' and predictions' inputs) and computes its scores, which touches no database;
    a predictor thread computes its probabilities and reasons (the models' tree walks release the GIL); a writer
    thread, on a connection of its own, evaluates its rules and stores it in one transaction (scores, history,
    contact scores, predictions, marks). So reading, computing, predicting and writing different chunks overlap. A
    chunk's reads are not in its write transaction: like the signals read once at the start, and chunks never share
    accounts; marks the ``watermark`` does not cover stay for the next run. Listeners hear of a chunk's changes
    (here, in chunk order) once it committed. At most ``AHEAD`` chunks wait between the threads (memory).
    """
    from .predictions import prediction_context_load, predictions_compute, predictions_read, predictions_write

    stats = RescoreStats()
    context = prediction_context_load(card)

    def write(ids: list[int], computed: Computed, measures: Measures, predicting: Future) -> tuple:
        predicted = predicting.result()
        hits = rule_hits_evaluate(account_ids=ids, now=now, measures=measures)  # rules read no score back
        connection.ensure_connection()
        raw = connection.connection  # the writer thread's own
        with raw.transaction():
            _write_pg(computed, raw)
            predictions_write(predicted, raw)
            cleared = marks_clear(account_ids=ids, watermark=watermark, raw=raw)
        return cleared, computed.changes(hits, predicted.changes)

    def finish(ids: list[int], computed: Computed, writing: Future) -> None:
        cleared, changes = writing.result()
        stats.add(
            RescoreStats(
                accounts=len(computed.account_ids),
                chunks=1,
                marks_cleared=cleared,
                newly_qualified=computed.newly_qualified,
                config_version=card.version,
            )
        )
        scores_changed_announce(changes=changes, computed_at=now.isoformat())  # committed: heard at once
        if progress:
            progress(len(ids))

    pending: deque[tuple[list[int], Computed, Future]] = deque()
    predictor, writer = ThreadPoolExecutor(1, "rescore-predictor"), ThreadPoolExecutor(1, "rescore-writer")
    with _fewer_collections(), predictor, writer:
        try:
            for ids in chunks:
                chunk = chunk_read(account_ids=ids, card=card, now=now, signals=signals)
                inputs = predictions_read(
                    account_ids=ids, now=now, signals=signals.take(chunk.ids), context=context, trends_given=True
                )
                computed = chunk_compute(chunk=chunk, card=card, now=now)
                measures = rule_measures(computed.scores)
                predicting = predictor.submit(predictions_compute, inputs, _trends(measures))
                pending.append((ids, computed, writer.submit(write, ids, computed, measures, predicting)))
                while len(pending) > AHEAD:
                    finish(*pending.popleft())
            while pending:
                finish(*pending.popleft())
        finally:
            for _ids, _computed, writing in pending:
                writing.cancel()
            writer.submit(lambda: connection.close()).result()  # the writer thread's own connection (looked up there)
    return stats


AHEAD = 2  # chunks read and computed ahead of the last one written


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cyclic garbage collector less often while a full rescore runs. It makes millions of short-lived objects
    (rows, explanations, reasons), which set off a collection every 700 allocations and a full one every hundred:
    4.9 s of a 36 s full rescore with every thread stopped, against 0.6 s with a collection every 50,000 (the bench).
    Also around marked rescores (a worker drains them a chunk at a time)."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _predict(
    account_ids: Sequence[int],
    now: datetime,
    signals: SignalBuckets | SignalArrays | None,
    measures: Measures | None = None,
    card: Scorecard | None = None,
) -> Any:
    """Probabilities, reasons and health of the chunk with the active models (``scoring.predictions``); returns
    their before/after values for ``scores_changed``. ``measures``: the chunk's just computed columns (its
    engagement trends are not read back). ``card``: the rescore's scorecard (the models' score features use it)."""
    from .predictions import predictions_refresh

    ids = np.array(sorted(account_ids), dtype=np.int64)
    chunk_signals = None if signals is None else signals.take(ids)
    trends = None if measures is None else _trends(measures)
    return predictions_refresh(account_ids=ids.tolist(), now=now, signals=chunk_signals, trends=trends, card=card)


def _trends(measures: Measures) -> dict[int, float | None]:
    """Each account's engagement trend from a chunk's just-computed measures (the predictions' health reads it)."""
    return dict(zip(measures["account_id"], measures["engagement_trend"], strict=True))
