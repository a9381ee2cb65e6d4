"""The one place signals are written in bulk: ``COPY`` + ``INSERT … ON CONFLICT DO NOTHING`` on PostgreSQL,
``bulk_create(ignore_conflicts=True)`` elsewhere. Used by the CSV importer, the REST API and the event endpoint."""

from __future__ import annotations

import json

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


def signals_insert(rows: list[tuple]) -> int:
    """Insert signal rows (``properties`` as JSON text); rows whose (source, key) exist are skipped.

    Returns how many rows were new. Must run inside a transaction on PostgreSQL (the staging table is
    cleared on commit).
    """
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        return _insert_copy(rows)
    return _insert_orm(rows)


def _insert_copy(rows: list[tuple]) -> int:
    table = Signal._meta.db_table
    cols = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS klearly_signal_ingest ON COMMIT DELETE ROWS AS "
            f"SELECT {cols} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY klearly_signal_ingest ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM klearly_signal_ingest "
            "ON CONFLICT (ingestion_source_id, idempotency_key) DO NOTHING"
        )
        created = cursor.rowcount
        # DELETE, not TRUNCATE: a TRUNCATE gives the table a new file every batch; the rows go at commit anyway.
        cursor.execute("DELETE FROM klearly_signal_ingest")
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
