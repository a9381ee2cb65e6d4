"""Writing a chunk's rescore: AccountScore, ScoreHistory and ContactScore rows as bulk upserts (on PostgreSQL one
``INSERT … SELECT … FROM unnest(arrays)`` per table, the arrays sent in binary; elsewhere ``bulk_create``), and the
contacts' last activity the rescore stored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from django.db import connection, models
from django.db.models import F, OuterRef, Q, Subquery

from accounts.models import Contact

from ..models import AccountScore, ContactScore, ScoreHistory
from ..pgarrays import binary_array
from ..pgarrays import register as register_arrays
from .compute import Computed
from .read import HISTORY_FIELDS, among

ACCOUNT_SCORE_COLUMNS = [f.name for f in AccountScore._meta.concrete_fields if f.name != "account"]
CONTACT_SCORE_FIELDS = ["account", "engagement", "last_activity_at", "active", "computed_at"]


# Column types for the PostgreSQL upserts (``INSERT … SELECT … FROM unnest(arrays) ON CONFLICT DO UPDATE``).
_PG_TYPES = {
    models.FloatField: "float8", models.CharField: "text", models.BooleanField: "bool",
    models.DateTimeField: "timestamptz", models.PositiveIntegerField: "int8", models.JSONField: "jsonb",
    models.OneToOneField: "int8", models.ForeignKey: "int8", models.DateField: "date",
}  # fmt: skip


def pg_upsert(
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


def chunk_write_pg(computed: Computed, raw: Any = None) -> None:
    """Store a computed chunk on PostgreSQL: one upsert per table (``raw``: a psycopg connection of its own)."""
    score_columns = computed.scores
    pg_upsert(AccountScore, score_columns, ["account_id"], raw)
    if computed.history:
        history = {n: [score_columns[n][i] for i in computed.history] for n in ["account_id", *HISTORY_FIELDS]}
        history["date"] = [computed.today] * len(computed.history)
        # the same clock twice (a retried task, a backfill): the row holds the latest numbers, no second row
        pg_upsert(ScoreHistory, history, ["account_id", "computed_at"], raw)
    if computed.contact_scores["contact_id"]:
        pg_upsert(ContactScore, computed.contact_scores, ["contact_id"], raw)


def chunk_write(computed: Computed) -> None:
    """Store a computed chunk: its account scores, history rows and contact scores."""
    if connection.vendor == "postgresql":
        chunk_write_pg(computed)
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
    stale = Contact.objects.filter(among("account_id", ids), score__last_activity_at__isnull=False).filter(
        Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=F("score__last_activity_at"))
    )
    return Contact.objects.filter(pk__in=stale.values("pk")).update(last_seen_at=latest)
