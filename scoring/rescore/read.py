"""Reading a chunk of accounts for a rescore: its accounts, contacts, signals (raw ``SignalArrays`` from PostgreSQL,
grouped in NumPy; one aggregate query elsewhere), milestones reached, segment members and previous scores, each with
a fixed number of queries whatever the number of accounts."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from django.db import connection, models
from django.db.models import Count, ExpressionWrapper, FloatField, Func, Max, Q
from django.db.models.functions import Substr, TruncDate

from accounts.choices import SizeBand
from accounts.models import Account, Contact, SegmentMembership
from signals_app.choices import Direction
from signals_app.models import Signal, SignalTopic, SignalType

from .. import engine
from ..conditions import plain_value
from ..hooks import ANNOUNCED_SCORE_FIELDS
from ..models import AccountScore, ScoreHistory
from ..scorecard import Scorecard

DAY_SECONDS = 86_400.0

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


ACCOUNT_COLUMNS = (
    "pk", "name", "domain", "industry", "employees", "annual_revenue", "country", "created_at", "traits",
    "stage__key", "stage__kind", "owner__email",
)  # fmt: skip
CONTACT_COLUMNS = ("pk", "account_id", "email", "first_name", "last_name", "title", "last_seen_at")


def _size_band(employees: int | None) -> str:
    if employees is None:
        return SizeBand.UNKNOWN
    return SizeBand.SMALL if employees < 50 else SizeBand.MEDIUM if employees < 1000 else SizeBand.LARGE


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
    return [plain_value(v) for v in values] if name == "annual_revenue" else values


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


def among(field: str, ids: Sequence[int]) -> Q:
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


def signals_fetch_all(*, since: datetime, now: datetime, bounds: np.ndarray) -> SignalBuckets:
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


def signals_group(
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
    accounts = _columns_of(Account.objects.filter(among("pk", account_ids)).order_by("pk"), ACCOUNT_COLUMNS)
    ids = accounts["pk"]
    index = {pk: i for i, pk in enumerate(ids)}
    contacts = _columns_of(Contact.objects.filter(among("account_id", ids)).order_by("pk"), CONTACT_COLUMNS)
    since = now - timedelta(days=card.horizon_days)
    if connection.vendor == "postgresql":
        id_array = np.array(ids, dtype=np.int64)
        own = None
        if signals is None:
            signals = own = signals_fetch(account_ids=ids, since=since, now=now)
        rows = signals_group(
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
            Signal.objects.filter(among("account_id", ids), type_id__in=milestone_ids, occurred_at__lte=now)
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
            among("account_id", ids),
            Q(exited_at__isnull=True) | Q(exited_at__gt=now),
            segment_id__in=segment_ids,
            entered_at__lte=now,
        ).values_list("segment_id", "account_id"):
            members[segment_id][index[account_id]] = True
    before = _columns_of(
        AccountScore.objects.filter(among("account_id", ids)),
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
