"""Writes for scoring: rescoring accounts (set-based, chunked, idempotent), the configuration version, defaults.

A rescore of a chunk of accounts reads everything it needs with a fixed number of queries (accounts, contacts, one
aggregate over their signals by account, contact, type, topic, direction and day, milestones reached, segment
members, previous scores), computes with ``scoring.engine`` over arrays, and writes with bulk upserts.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
import psycopg
from django.db import connection, models, transaction
from django.db.models import Count, ExpressionWrapper, F, FloatField, Func, Max, Q
from django.db.models.functions import Substr, TruncDate
from django.utils import timezone

from accounts.choices import SizeBand
from accounts.models import Account, Contact, SegmentMembership
from accounts.selectors import marked_account_ids
from accounts.services import MarksWatermark, marks_clear, marks_watermark
from signals_app.choices import Direction
from signals_app.models import Signal, SignalTopic, SignalType
from signals_app.services import contacts_last_seen_refresh

from . import engine
from .choices import ContributionSource as Src
from .defaults import DEFAULT_ENGAGEMENT_RULES
from .hooks import TRACKED_FIELDS, score_changes, scores_changed_announce
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
from .rules import rule_hits_evaluate, rule_measures

CHUNK_SIZE = 5000
# Signals older than this count for nothing worth storing (0.5 ** (365 / 30) < 0.0003 of their points), unless a
# rule's window or half-life reaches further: the horizon grows with the configuration.
MIN_HORIZON_DAYS = 365
DAY_SECONDS = 86_400.0

Progress = Callable[[int], None]


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
        have = set(EngagementRule.objects.values_list("signal_type_id", flat=True))
        types = [t for t in SignalType.objects.filter(key__in=list(DEFAULT_ENGAGEMENT_RULES)) if t.pk not in have]
        rules = []
        for t in types:
            points, half_life, window, cap = DEFAULT_ENGAGEMENT_RULES[t.key]
            rules.append(
                EngagementRule(signal_type=t, points=points, half_life_days=half_life, window_days=window, cap=cap)
            )
        for rule in rules:  # save() so each creation is in the history and bumps the configuration version
            rule.save()
        if rules or SignalType.objects.filter(key__in=list(DEFAULT_ENGAGEMENT_RULES)).exists():
            ScoringSettings.objects.filter(pk=settings.pk).update(defaults_applied_at=timezone.now())
    return len(rules)


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
    rule_rows = EngagementRule.objects.filter(is_active=True).values_list(
        "signal_type_id", "points", "half_life_days", "window_days", "cap"
    )
    rules = engine.EngagementRules.build(len(types), [(position[r[0]], *r[1:]) for r in rule_rows])
    own = dict(TopicImportance.objects.values_list("topic_id", "multiplier"))
    topic_multiplier = dict(own)
    if own:  # a product type without its own importance takes its product line's
        for topic_id, parent_id in SignalTopic.objects.filter(parent_id__in=list(own)).values_list("pk", "parent_id"):
            topic_multiplier.setdefault(topic_id, own[parent_id])
    boosts = [
        Boost(b.segment_id, position[b.signal_type_id], b.multiplier, b.window_days)
        for b in SegmentBoost.objects.filter(is_active=True).order_by("pk")
    ]
    reach = [MIN_HORIZON_DAYS, settings.trend_recent_days + settings.trend_baseline_days, settings.active_long_days]
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


HISTORY_FIELDS = [f.name for f in ScoreHistory._meta.concrete_fields if f.name not in ("id", "account", "date")]

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


def account_field_values(accounts: Sequence[dict], name: str, now: datetime) -> list[Any]:
    """The values of one fit field (account field or traits.<name>) for each account."""
    if name.startswith("traits."):
        return [_trait(a["traits"], name[len("traits.") :]) for a in accounts]
    if name == "stage":
        return [a["stage__key"] for a in accounts]
    if name == "stage_kind":
        return [a["stage__kind"] for a in accounts]
    if name == "owner_email":
        return [a["owner__email"] for a in accounts]
    if name == "size_band":
        return [_size_band(a["employees"]) for a in accounts]
    if name == "tenure_days":
        return [max((now - a["created_at"]).days, 0) for a in accounts]
    return [_plain(a.get(name)) for a in accounts]


def contact_field_values(contacts: Sequence[dict], name: str) -> list[Any]:
    if name == "email_domain":
        return [(c["email"] or "").rpartition("@")[2].lower() or None for c in contacts]
    return [c.get(name) for c in contacts]


@dataclass
class Chunk:
    """Everything read for a chunk of accounts."""

    accounts: list[dict]
    contacts: list[dict]
    rows: engine.SignalRows
    milestones: tuple[np.ndarray, np.ndarray]
    members: dict[int, np.ndarray]  # segment id -> bool per account
    previous: dict[int, tuple[bool, datetime | None]]
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # account ids, sorted
    before: dict[int, tuple] = field(default_factory=dict)  # previous TRACKED_FIELDS values (scores_changed)


def _day_and_epoch_expressions() -> tuple[Any, Any]:
    """The day of a signal, and the newest signal time of a group in Unix seconds, computed by the database.

    SQLite stores datetimes as UTC text, so the day is its first ten characters and ``julianday`` turns the time into
    a number there; Django's own TruncDate and datetime conversion would run Python code for every signal and row.
    """
    if connection.vendor == "sqlite":
        day = Substr("occurred_at", 1, 10)
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
    ids: list[int], index: dict[int, int], contacts: list[dict], card: Scorecard, since: datetime, now: datetime
) -> engine.SignalRows:
    """The signal groups with one aggregate query through the ORM (SQLite and other databases)."""
    contact_index = {c["pk"]: i for i, c in enumerate(contacts)}
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
    ``part`` (k, n): only those of accounts whose id is k modulo n.

    Each column comes as one bytea of big-endian values (at most 1 GB each: over 130 million signals).
    """
    where = "s.account_id IS NOT NULL" if account_ids is None else "s.account_id = ANY(%s::bigint[])"
    params: list[Any] = [] if account_ids is None else [list(account_ids)]
    if part[1] > 1:
        where += f" AND s.account_id %% {int(part[1])} = {int(part[0])}"
    connection.ensure_connection()
    # A server-side binding cursor of psycopg itself (Django's is client-side): binary results, bytes as they are
    with psycopg.Cursor(connection.connection) as cursor:
        # Ids go as 4 bytes when every id fits (half the bytes to send: sending, not scanning, is most of the time)
        tables = (Account, Contact, SignalType, SignalTopic)
        most = max(v or 0 for v in cursor.execute(
            "SELECT " + ", ".join(f"(SELECT max(id) FROM {m._meta.db_table})" for m in tables)
        ).fetchone())  # fmt: skip
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
    if row[0] is None:
        empty = np.zeros(0, np.int64)
        return SignalArrays(empty, empty, empty, empty, empty, np.zeros(0))
    ids = f">i{width}"
    type_direction = np.frombuffer(row[2], dtype=ids).astype(np.int64)
    return SignalArrays(
        np.frombuffer(row[0], dtype=ids).astype(np.int64),
        np.frombuffer(row[1], dtype=ids).astype(np.int64),
        type_direction >> 2,
        np.frombuffer(row[3], dtype=ids).astype(np.int64),
        type_direction & 3,
        np.frombuffer(row[4], dtype=">i8") / 1e6 + _PG_EPOCH_2000,
    )


def _signals_fetch_all(*, since: datetime, now: datetime) -> SignalArrays:
    """Every account's signals, half of them read by a second connection at the same time (each query scans the whole
    table but sends only half of it, and sending is most of the time). Outside any transaction only: the second
    connection sees only committed rows."""

    def other_half(result: dict[str, Any]) -> None:
        try:
            result["signals"] = signals_fetch(account_ids=None, since=since, now=now, part=(1, 2))
        except BaseException as error:  # re-raised by the caller
            result["error"] = error
        finally:
            connection.close()  # this thread's own connection

    result: dict[str, Any] = {}
    thread = threading.Thread(target=other_half, args=(result,), name="rescore-reader")
    thread.start()
    try:
        mine = signals_fetch(account_ids=None, since=since, now=now, part=(0, 2))
    finally:
        thread.join()
    if "error" in result:
        raise result["error"]
    theirs = result["signals"]
    return SignalArrays(
        *(np.concatenate([getattr(mine, f.name), getattr(theirs, f.name)]) for f in dataclasses.fields(SignalArrays))
    )


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
    *, account_ids: Sequence[int], card: Scorecard, now: datetime, signals: SignalArrays | None = None
) -> Chunk:
    """Read a chunk of accounts with a fixed number of queries (``signals``: already fetched for a full rescore)."""
    accounts = list(Account.objects.filter(_among("pk", account_ids)).order_by("pk").values(*ACCOUNT_COLUMNS))
    ids = [a["pk"] for a in accounts]
    index = {pk: i for i, pk in enumerate(ids)}
    contacts = list(Contact.objects.filter(_among("account_id", ids)).order_by("pk").values(*CONTACT_COLUMNS))
    since = now - timedelta(days=card.horizon_days)
    if connection.vendor == "postgresql":
        id_array = np.array(ids, dtype=np.int64)
        if signals is None:
            signals = signals_fetch(account_ids=ids, since=since, now=now)
        rows = _group_signals(
            signals.take(id_array),
            ids=id_array,
            contact_ids=np.array([c["pk"] for c in contacts], dtype=np.int64),
            card=card,
            now=now,
        )
    else:
        rows = _rows_by_orm(ids, index, contacts, card, since, now)
    milestone_ids = card.type_ids[card.milestone].tolist()
    reached: list[tuple[int, int]] = []
    if milestone_ids:  # activation counts milestones ever reached, not only within the horizon
        reached = list(
            Signal.objects.filter(_among("account_id", ids), type_id__in=milestone_ids)
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
        for segment_id, account_id in SegmentMembership.objects.filter(
            _among("account_id", ids), segment_id__in=segment_ids, exited_at__isnull=True
        ).values_list("segment_id", "account_id"):
            members[segment_id][index[account_id]] = True
    previous, before = {}, {}
    for a, q, at, *tracked in AccountScore.objects.filter(_among("account_id", ids)).values_list(
        "account_id", "qualified", "qualified_at", *TRACKED_FIELDS
    ):
        previous[a], before[a] = (q, at), tuple(tracked)
    return Chunk(accounts, contacts, rows, milestones, members, previous, np.array(ids, dtype=np.int64), before)


# --- computing ---------------------------------------------------------------------------------------------------


def _entry(source: str, label: str, points: float) -> dict:
    return {"source": source, "label": label, "points": round(float(points), 2)}


def _line(source: str, label: str, rounded_points: float) -> dict:
    """An explanation line whose points are already rounded (by ``_round2``)."""
    return {"source": source, "label": label, "points": rounded_points}


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


def _nonzero_per_row(mask: np.ndarray) -> list[list[int]]:
    """The column indexes of each row's true cells, in order."""
    rows, cols = np.nonzero(mask)
    bounds = np.searchsorted(rows, np.arange(mask.shape[0] + 1)).tolist()
    cols_l = cols.tolist()
    return [cols_l[bounds[i] : bounds[i + 1]] for i in range(mask.shape[0])]


def _with_clamp(entries: list[dict], score: float, label: str) -> list[dict]:
    """Add a line for what keeping the score within its bounds took away, so the lines sum to the score."""
    gap = round(score - sum(e["points"] for e in entries), 2)
    if abs(gap) >= 0.01:
        entries.append(_entry(Src.CLAMP, label, gap))
    return entries


@dataclass
class Computed:
    """The rows a chunk's rescore writes: AccountScore values by field (``account_id`` first) per account, and
    ContactScore columns."""

    account_scores: list[dict[str, Any]]
    contact_scores: dict[str, list[Any]]
    today: date
    newly_qualified: int

    def account_score_objects(self) -> list[AccountScore]:
        return [AccountScore(**values) for values in self.account_scores]

    def history_objects(self) -> list[ScoreHistory]:
        return [
            ScoreHistory(account_id=v["account_id"], date=self.today, **{f: v[f] for f in HISTORY_FIELDS})
            for v in self.account_scores
        ]

    def contact_score_objects(self) -> list[ContactScore]:
        c = self.contact_scores
        return [ContactScore(**dict(zip(c, values, strict=True))) for values in zip(*c.values(), strict=True)]


def chunk_compute(*, chunk: Chunk, card: Scorecard, now: datetime) -> Computed:
    """Scores, measures and explanations of a chunk, computed over arrays."""
    s = card.settings
    n = len(chunk.accounts)
    rows, rules = chunk.rows, card.rules
    eng = engine.engagement(rows, rules, n)
    type_counts = np.zeros((n, rules.n_types))
    np.add.at(type_counts, (rows.account, rows.type), rows.count)
    trend = engine.trend(
        rows,
        engine.raw_points(rows, rules),
        n,
        recent_days=s.trend_recent_days,
        baseline_days=s.trend_baseline_days,
    )
    boosts = engine.SegmentBoosts(
        type=[b.type_index for b in card.boosts],
        multiplier=[b.multiplier for b in card.boosts],
        window_days=[b.window_days for b in card.boosts],
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
    contact_account = np.searchsorted(chunk.ids, np.array([c["account_id"] for c in contacts], dtype=np.int64))
    total_users = np.bincount(contact_account, minlength=n) if len(contacts) else np.zeros(n, np.int64)
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
    free = engine.count_per_account(
        contact_account, engine.free_email([c["email"] for c in contacts], card.free_domains), n
    )
    fake = engine.count_per_account(
        contact_account,
        engine.has_no_vowel([c["first_name"] for c in contacts])
        | engine.has_no_vowel([c["last_name"] for c in contacts]),
        n,
    )
    key_fields = list(s.key_fields or [])
    key_missing = np.array(
        [engine.matches(account_field_values(chunk.accounts, f, now), "missing", None) for f in key_fields], dtype=bool
    ).reshape(len(key_fields), n)
    penalties = np.vstack(
        [
            (free > 0) * s.free_email_penalty,
            (fake > 0) * s.no_vowel_name_penalty,
            key_missing * s.missing_key_field_penalty,
        ]
    ).reshape(2 + len(key_fields), n)
    fit = engine.fit([rule.points for rule in card.fit_rules], rule_matches, penalties, key_missing)
    lead = engine.lead(fit.score, eng.score)
    grades = engine.grades(lead, a_min=s.grade_a_min, b_min=s.grade_b_min, c_min=s.grade_c_min)
    temps = engine.temperatures(eng.score, hot_min=s.hot_min, warm_min=s.warm_min)
    qualified = lead >= s.qualification_threshold

    contact_act = engine.contact_activity(rows, rules, len(contacts))
    labels = card.type_labels
    account_scores, newly = [], 0
    today = timezone.localdate(now)
    # Python floats and per-account index lists up front: the loop below then touches no NumPy scalar.
    eng_by_type, str_by_type, boost_by_type = (
        _round2(eng.by_type),
        _round2(strength.by_type),
        _round2(strength.boost_by_type),
    )
    raw_eng_by_type = eng.by_type.tolist()
    eng_types = _nonzero_per_row(np.abs(eng.by_type) >= 0.005)
    str_types = _nonzero_per_row(np.abs(strength.by_type) >= 0.005)
    boost_types = _nonzero_per_row(np.abs(strength.boost_by_type) >= 0.005)
    counts = type_counts.tolist()
    caps = rules.cap.tolist()
    rule_points, penalty_points = _round2(fit.rule_points), _round2(fit.penalty_points)
    missing = key_missing.tolist()
    rule_labels = [rule.label for rule in card.fit_rules]
    with_points = np.array([bool(rule.points) for rule in card.fit_rules], dtype=bool).reshape(-1, 1)
    fit_rules_hit = _nonzero_per_row((rule_matches & with_points).T)  # per account: rules matched, with points
    frees, fakes = free.tolist(), fake.tolist()
    fit_s, eng_s, lead_s, sig_s = fit.score.tolist(), eng.score.tolist(), lead.tolist(), strength.strength.tolist()
    completeness, sig_base = fit.completeness.tolist(), strength.baseline.tolist()
    qualified_l, surging_l = qualified.tolist(), strength.surging.tolist()
    grades_l, temps_l = grades.tolist(), temps.tolist()
    activation_l, trend_l, adoption_l = activation.tolist(), trend.ratio.tolist(), adoption.tolist()
    short_l, long_l, total_l = active_short.tolist(), active_long.tolist(), total_users.tolist()
    for i, account in enumerate(chunk.accounts):
        pk = account["pk"]
        was_qualified, was_at = chunk.previous.get(pk, (False, None))
        if qualified_l[i]:
            qualified_at = was_at if was_qualified and was_at else now
            newly += not was_qualified
        else:
            qualified_at = None
        fit_lines = [_line(Src.FIT_RULE, rule_labels[r], rule_points[r][i]) for r in fit_rules_hit[i]]
        if frees[i] and s.free_email_penalty:
            fit_lines.append(
                _line(Src.PENALTY, f"{frees[i]} contact(s) with a free email address", penalty_points[0][i])
            )
        if fakes[i] and s.no_vowel_name_penalty:
            fit_lines.append(
                _line(Src.PENALTY, f"{fakes[i]} contact(s) with a name without vowels", penalty_points[1][i])
            )
        for k, name in enumerate(key_fields):
            if missing[k][i] and s.missing_key_field_penalty:
                fit_lines.append(_line(Src.PENALTY, f"Missing {name}", penalty_points[2 + k][i]))
        engagement_lines = []
        row, raw_row, count_row = eng_by_type[i], raw_eng_by_type[i], counts[i]
        for t in eng_types[i]:
            label = f"{labels[t]} × {int(count_row[t])}"
            if math.isfinite(caps[t]) and abs(raw_row[t]) >= caps[t]:
                label += f" (capped at {caps[t]:g})"
            engagement_lines.append(_line(Src.ENGAGEMENT_RULE, label, row[t]))
        row, boost_row = str_by_type[i], boost_by_type[i]
        strength_lines = [_line(Src.ENGAGEMENT_RULE, labels[t], row[t]) for t in str_types[i]] + [
            _line(Src.BOOST, f"{labels[t]}: segment boost", boost_row[t]) for t in boost_types[i]
        ]
        f_score, e_score, l_score = round(fit_s[i], 2), round(eng_s[i], 2), round(lead_s[i], 2)
        sig = round(sig_s[i], 2)
        contributions = {
            "fit": _with_clamp(fit_lines, f_score, "Fit is kept within 0–100"),
            "engagement": _with_clamp(engagement_lines, e_score, "Engagement is kept within 0–100"),
            "lead": _with_clamp(
                [_entry(Src.SCORE, "Fit", f_score), _entry(Src.SCORE, "Engagement", e_score)],
                l_score,
                "Lead score is kept within 0–100",
            ),
            "signal_strength": _with_clamp(strength_lines, sig, "Signal strength is never below 0"),
        }
        score = dict(
            account_id=pk,
            fit=f_score,
            completeness=round(completeness[i], 2),
            engagement=e_score,
            lead=l_score,
            grade=grades_l[i],
            temperature=temps_l[i],
            qualified=qualified_l[i],
            qualified_at=qualified_at,
            signal_strength=sig,
            signal_strength_baseline=round(sig_base[i], 2),
            surging=surging_l[i],
            tenure_days=max((now - account["created_at"]).days, 0),
            size_band=_size_band(account["employees"]),
            activation=_ratio(activation_l[i]),
            engagement_trend=_ratio(trend_l[i]),
            active_users_7d=short_l[i],
            active_users_30d=long_l[i],
            total_users=total_l[i],
            active_ratio_30d=round(long_l[i] / total_l[i], 4) if total_l[i] else 0.0,
            adoption=_ratio(adoption_l[i]),
            contributions=contributions,
            config_version=card.version,
            computed_at=now,
        )
        account_scores.append(score)
    last_seen = [c["last_seen_at"] for c in contacts]
    ages = contact_act.last_age_days
    last_activity = []
    for age, seen in zip(ages.tolist(), last_seen, strict=True):
        last = now - timedelta(days=age) if math.isfinite(age) else seen
        if seen and last and seen > last:
            last = seen
        last_activity.append(last)
    contact_scores = {
        "contact_id": [c["pk"] for c in contacts],
        "account_id": [c["account_id"] for c in contacts],
        "engagement": [round(e, 2) for e in contact_act.engagement.tolist()],
        "last_activity_at": last_activity,
        "active": (ages <= s.active_long_days).tolist(),
        "computed_at": [now] * len(contacts),
    }
    return Computed(account_scores, contact_scores, today, newly)


def _ratio(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 4)


# --- writing -----------------------------------------------------------------------------------------------------

SCORE_FIELDS = [f.name for f in AccountScore._meta.concrete_fields if f.name != "account"]
CONTACT_SCORE_FIELDS = ["account", "engagement", "last_activity_at", "active", "computed_at"]


# Column types for the PostgreSQL upserts (``INSERT … SELECT … FROM unnest(arrays) ON CONFLICT DO UPDATE``).
_PG_TYPES = {
    models.FloatField: "float8", models.CharField: "text", models.BooleanField: "bool",
    models.DateTimeField: "timestamptz", models.PositiveIntegerField: "int8", models.JSONField: "jsonb",
    models.OneToOneField: "int8", models.ForeignKey: "int8", models.DateField: "date",
}  # fmt: skip


def _pg_upsert(
    model: type[models.Model], columns: dict[str, list[Any]], conflict: Sequence[str], raw: Any = None
) -> None:
    """Insert or update rows given as columns (field attnames) with one statement, no model instances."""
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
        f"AS t({', '.join(names)}) ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}"
    )
    values = [
        [orjson.dumps(v).decode() for v in columns[n]] if t == "jsonb" else columns[n]
        for n, t in zip(names, types, strict=True)
    ]
    with psycopg.Cursor(raw or connection.connection) as cursor:  # server-side binding: arrays go as parameters
        cursor.execute(sql, values)


def _write_pg(computed: Computed, raw: Any = None) -> None:
    rows = computed.account_scores
    score_columns = {n: [r[n] for r in rows] for n in ["account_id", *SCORE_FIELDS]}
    _pg_upsert(AccountScore, score_columns, ["account_id"], raw)
    history = {n: score_columns[n] for n in ["account_id", *HISTORY_FIELDS]}
    history["date"] = [computed.today] * len(rows)
    _pg_upsert(ScoreHistory, history, ["account_id", "date"], raw)
    if computed.contact_scores["contact_id"]:
        _pg_upsert(ContactScore, computed.contact_scores, ["contact_id"], raw)


def _write(computed: Computed) -> None:
    if connection.vendor == "postgresql":
        _write_pg(computed)
        return
    AccountScore.objects.bulk_create(
        computed.account_score_objects(), update_conflicts=True, unique_fields=["account"], update_fields=SCORE_FIELDS
    )
    ScoreHistory.objects.bulk_create(
        computed.history_objects(),
        update_conflicts=True,
        unique_fields=["account", "date"],
        update_fields=HISTORY_FIELDS,
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
    signals: SignalArrays | None = None,
    watermark: MarksWatermark | None = None,
) -> RescoreStats:
    # Marks written by transactions the chunk's reads could not see stay for the next run (``watermark``: taken
    # before ``signals`` were read, for a full rescore that read them all at once).
    with transaction.atomic():
        watermark = watermark or marks_watermark()
        chunk = chunk_read(account_ids=account_ids, card=card, now=now, signals=signals)
        computed = chunk_compute(chunk=chunk, card=card, now=now)
        _write(computed)
        hits = rule_hits_evaluate(
            account_ids=[row["account_id"] for row in computed.account_scores],
            now=now,
            measures=rule_measures(computed.account_scores),
        )
        ml = _predict(account_ids, now, signals)
        # Listeners (playbooks) hear of the changed accounts once this transaction has committed.
        scores_changed_announce(
            changes=score_changes(
                **ml.merged(before=chunk.before, after=computed.account_scores),
                hits_set=hits.opened_pairs,
                hits_cleared=hits.cleared_pairs,
            ),
            computed_at=now.isoformat(),
        )
        cleared = marks_clear(account_ids=account_ids, watermark=watermark)
    return RescoreStats(
        accounts=len(chunk.accounts),
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
        done = accounts_rescore(account_ids=ids, chunk_size=chunk_size, progress=progress, card=card)
        # New signals are what marked most of these accounts: their contacts' last activity moves with them (done
        # here, off the ingestion path, so concurrent event batches never write contact rows).
        contacts_last_seen_refresh(account_ids=ids)
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
    signals, watermark = None, None
    if connection.vendor == "postgresql":
        # The signals table is not in account order, so reading it a chunk at a time reads (nearly) all its pages
        # for every chunk: read it once, in one sequential COPY, and group each chunk's part in NumPy. Marks set
        # by transactions this read cannot see stay for the next run. Memory: about 50 bytes per signal within the
        # horizon.
        watermark = marks_watermark()
        since = now - timedelta(days=card.horizon_days)
        if connection.get_autocommit() and not connection.in_atomic_block:
            signals = _signals_fetch_all(since=since, now=now)
        else:
            signals = signals_fetch(account_ids=None, since=since, now=now)
    last = 0

    def keyset() -> Iterable[list[int]]:  # keyset pagination over accounts, no OFFSET
        nonlocal last
        while ids := list(Account.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk_size]):
            last = ids[-1]
            yield ids

    if signals is not None and connection.get_autocommit() and not connection.in_atomic_block:
        return _rescore_overlapped(
            keyset(), card=card, now=now, signals=signals, watermark=watermark, progress=progress
        )
    for ids in keyset():
        stats.add(_chunk_rescore(account_ids=ids, card=card, now=now, signals=signals, watermark=watermark))
        if progress:
            progress(len(ids))
    return stats


def _rescore_overlapped(
    chunks: Iterable[list[int]],
    *,
    card: Scorecard,
    now: datetime,
    signals: SignalArrays,
    watermark: MarksWatermark,
    progress: Progress | None,
) -> RescoreStats:
    """A full rescore on PostgreSQL whose writes overlap the computing of the next chunk.

    The database writes a chunk (its own transaction: scores, history, contact scores, marks) in a thread while
    this one computes the next chunk, which it read just before; the connection is used by one at a time (reads,
    then the writes in the thread while computing, which touches no database). A chunk's reads are therefore not in
    its write transaction: like the signals read once at the start, and chunks never share accounts; marks the
    ``watermark`` does not cover stay for the next run.
    """
    raw = connection.connection
    stats = RescoreStats()
    done: list[tuple[list[int], dict[int, dict[str, Any]], list[dict[str, Any]], dict[int, tuple]]] = []

    def write(computed: Computed, ids: list[int], result: dict[str, Any]) -> None:
        try:
            with raw.transaction():
                _write_pg(computed, raw)
                result["cleared"] = marks_clear(account_ids=ids, watermark=watermark, raw=raw)
        except BaseException as error:  # re-raised by the caller
            result["error"] = error

    def finish(job: tuple[threading.Thread, dict[str, Any], Computed, list[int], dict] | None) -> None:
        if job is None:
            return
        thread, result, computed, ids, before = job
        thread.join()
        if "error" in result:
            raise result["error"]
        stats.add(
            RescoreStats(
                accounts=len(computed.account_scores),
                chunks=1,
                marks_cleared=result["cleared"],
                newly_qualified=computed.newly_qualified,
                config_version=card.version,
            )
        )
        # Only the tracked values are kept until the rules have run (not the explanations: memory).
        tracked = [{f: r[f] for f in ("account_id", *TRACKED_FIELDS)} for r in computed.account_scores]
        done.append((ids, rule_measures(computed.account_scores), tracked, before))
        if progress:
            progress(len(ids))

    def start(
        computed: Computed, ids: list[int], before: dict
    ) -> tuple[threading.Thread, dict[str, Any], Computed, list[int], dict]:
        result: dict[str, Any] = {}
        thread = threading.Thread(target=write, args=(computed, ids, result), name="rescore-writer")
        thread.start()
        return thread, result, computed, ids, before

    job = None
    ready: tuple[Computed, list[int], dict] | None = None
    try:
        for ids in chunks:  # the keyset query and the reads run while no write is under way
            chunk = chunk_read(account_ids=ids, card=card, now=now, signals=signals)
            if ready is not None:
                job = start(*ready)
            computed = chunk_compute(chunk=chunk, card=card, now=now)
            finish(job)
            job, ready = None, (computed, ids, chunk.before)
        if ready is not None:
            job = start(*ready)
            finish(job)
            job = None
    finally:
        if job is not None:
            job[0].join()
    # Rules read the scores just written, so they are evaluated once every chunk is in (no write under way now).
    for ids, measures, rows, before in done:
        hits = rule_hits_evaluate(account_ids=ids, now=now, measures=measures)
        ml = _predict(ids, now, signals)
        scores_changed_announce(
            changes=score_changes(
                **ml.merged(before=before, after=rows), hits_set=hits.opened_pairs, hits_cleared=hits.cleared_pairs
            ),
            computed_at=now.isoformat(),
        )
    return stats


def _predict(account_ids: Sequence[int], now: datetime, signals: SignalArrays | None) -> Any:
    """Probabilities, reasons and health of the chunk with the active models (``scoring.predictions``); returns
    their before/after values for ``scores_changed``."""
    from .predictions import predictions_refresh

    ids = np.array(sorted(account_ids), dtype=np.int64)
    chunk_signals = None if signals is None else signals.take(ids)
    return predictions_refresh(account_ids=ids.tolist(), now=now, signals=chunk_signals)
