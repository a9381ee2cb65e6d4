"""The one place signals are written in bulk: binary ``COPY`` into a typed staging table + ``INSERT … ON CONFLICT DO
NOTHING`` on PostgreSQL, ``bulk_create(ignore_conflicts=True)`` elsewhere. Used by the CSV importer, the REST API and
the event endpoint."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from django.db import connection

from .models import Signal

# Column order of the tuples callers pass in.
COLUMNS = (
    "account_id", "contact_id", "type_id", "detail", "topic_id", "direction", "source", "occurred_at",
    "received_at", "properties", "ingestion_source_id", "idempotency_key", "anonymous_id",
)  # fmt: skip
PROPERTIES = COLUMNS.index("properties")
KEY = COLUMNS.index("idempotency_key")
SOURCE = COLUMNS.index("ingestion_source_id")


# PostgreSQL: a batch travels in binary COPY (no text for the server to parse, times included) into a temporary table
# typed for psycopg's binary dumpers of these values; one INSERT ... ON CONFLICT DO NOTHING moves it into the signals.
STAGE_TYPES = (
    "int8", "int8", "int8", "text", "int8", "text", "text", "timestamptz", "timestamptz", "text", "int8", "text",
    "text",
)  # fmt: skip
STAGE_CREATE = (
    "CREATE TEMP TABLE IF NOT EXISTS klearly_signal_stage "
    f"({', '.join(f'{c} {t}' for c, t in zip(COLUMNS, STAGE_TYPES, strict=True))}) ON COMMIT DELETE ROWS"
)
TYPE_OF = dict(zip(COLUMNS, STAGE_TYPES, strict=True))


def signals_insert(rows: list[tuple], *, same: dict[str, Any] | None = None) -> int:
    """Insert signal rows (``properties`` as JSON text); rows whose (source, key) exist are skipped.

    Each row has the values of ``COLUMNS`` in order, except the columns in ``same``: values shared by the whole batch
    (the CSV importer's receive time, source and blank anonymous id), sent once rather than in every row. Returns how
    many rows were new. Must run inside a transaction on PostgreSQL (the staging table is cleared on commit).
    """
    if not rows:
        return 0
    same = same or {}
    if connection.vendor == "postgresql":
        return _insert_copy(rows, same)
    if same:
        rows = _with_same(rows, same)
    return _insert_orm(rows)


def _with_same(rows: list[tuple], same: dict[str, Any]) -> list[tuple]:
    """Rows with the batch-wide values put back in place."""
    at = [COLUMNS.index(c) for c in COLUMNS if c in same]
    out = []
    for row in rows:
        full = list(row)
        for i in at:
            full.insert(i, same[COLUMNS[i]])
        out.append(tuple(full))
    return out


@lru_cache(maxsize=8)
def _statements(shared: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]]:
    """COPY and INSERT statements for rows without the ``shared`` columns, and the COPY's column types."""
    table = Signal._meta.db_table
    per_row = [c for c in COLUMNS if c not in shared]
    copy = f"COPY klearly_signal_stage ({', '.join(per_row)}) FROM STDIN (FORMAT BINARY)"
    values = ", ".join(
        f"%s::{TYPE_OF[c]}" if c in shared else "properties::jsonb" if c == "properties" else c for c in COLUMNS
    )
    insert = (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) SELECT {values} FROM klearly_signal_stage "
        "ON CONFLICT (ingestion_source_id, idempotency_key) DO NOTHING"
    )
    return copy, insert, tuple(TYPE_OF[c] for c in per_row)


def _insert_copy(rows: list[tuple], same: dict[str, Any]) -> int:
    shared = tuple(c for c in COLUMNS if c in same)
    copy_sql, insert_sql, types = _statements(shared)
    with connection.cursor() as cursor:
        cursor.execute(STAGE_CREATE)
        with cursor.cursor.copy(copy_sql) as copy:  # the psycopg cursor: COPY is not in Django's API
            copy.set_types(types)
            write_row = copy.write_row
            for row in rows:
                write_row(row)
        cursor.execute(insert_sql, [same[c] for c in shared])
        created = cursor.rowcount
        # DELETE, not TRUNCATE: a TRUNCATE gives the table a new file every batch; the rows go at commit anyway.
        cursor.execute("DELETE FROM klearly_signal_stage")
    return created


def _insert_orm(rows: list[tuple]) -> int:
    by_source: dict[int, set[str]] = {}
    for r in rows:
        by_source.setdefault(r[SOURCE], set()).add(r[KEY])
    existing: set[tuple[int, str]] = set()
    for source_id, keys in by_source.items():
        ordered = sorted(keys)
        for start in range(0, len(ordered), 2000):  # keep each IN list well inside SQLite's parameter limit
            found = Signal.objects.filter(
                ingestion_source_id=source_id, idempotency_key__in=ordered[start : start + 2000]
            )
            existing.update((source_id, k) for k in found.values_list("idempotency_key", flat=True))
    fresh = []
    for r in rows:
        marker = (r[SOURCE], r[KEY])
        if marker in existing:
            continue
        existing.add(marker)
        values = dict(zip(COLUMNS, r, strict=True))
        values["properties"] = json.loads(values["properties"])
        fresh.append(Signal(**values))
    Signal.objects.bulk_create(fresh, batch_size=500, ignore_conflicts=True)
    return len(fresh)
