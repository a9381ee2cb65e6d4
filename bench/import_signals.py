"""Benchmark: the streaming signals.csv import against a raw COPY of the same rows into the same table.

    .venv/bin/python bench/import_signals.py [--rows 1000000] [--database-url postgres://postgres@127.0.0.1:5432/klearly_bench]

Creates the database if it is missing, migrates it, makes a few thousand accounts and contacts and a deterministic
signals.csv (not timed), then times:

- Klearly: ``importing.import_csv_stream`` over the file, end to end (reading, parsing, resolving, writing), then the
  same file again (re-import must add 0 rows);
- COPY: ``COPY signals_app_signal (...) FROM STDIN`` of the very rows Klearly stored, already resolved to ids and
  serialised in a buffer before the clock starts, into the emptied table with all its indexes and constraints;
- ORM (``--orm-baseline``): ``bulk_create`` of a 100,000-row subset, for reference.

Goal (from the issue): Klearly at 0.3 or more of COPY's rows/s. Exits non-zero if Klearly's row counts are wrong.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/klearly_bench"
HEADER = (
    "message_id", "account_external_id", "contact_external_id", "type", "detail", "topic", "direction", "source",
    "occurred_at", "properties",
)  # fmt: skip
TYPES = (
    "Pricing page view", "Email open", "Email click", "Webinar registration", "Webinar attended", "Demo request",
    "Trial started", "Feature used", "Login", "Invoice paid", "Support ticket", "White paper download",
    "Video watched", "Ad click", "Meeting booked", "Call logged", "Order placed", "Booth visit",
    "Assessment completed", "Docs page visit",
)  # fmt: skip
TOPICS = (
    "Analytics", "Analytics > Dashboards", "Analytics > Reports", "Integrations", "Integrations > Salesforce",
    "Integrations > HubSpot", "Billing", "Security > SSO",
)  # fmt: skip
DETAILS = ("renewal", "pricing", "onboarding", "upsell")
PROPERTIES = (
    {"plan": "pro"},
    {"plan": "enterprise", "seats": 25},
    {"url": "/pricing", "referrer": "google"},
    {"campaign": "spring-launch", "medium": "email"},
    {"duration_s": 840, "recorded": True},
)
SIGNAL_COLUMNS = (
    "account_id", "contact_id", "type_id", "detail", "topic_id", "direction", "source", "occurred_at",
    "received_at", "properties", "ingestion_source_id", "idempotency_key", "anonymous_id",
)  # fmt: skip
ORM_SUBSET = 100_000
PLUS_TWO = timezone(timedelta(hours=2))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated signals.csv")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL URL (created if missing)")
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--contacts-per-account", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="importer batch size (default: settings)")
    parser.add_argument("--orm-baseline", action="store_true", help=f"also time bulk_create of {ORM_SUBSET:,} rows")
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--repeat", type=int, default=1, help="time each method this many times; report the best")
    return parser.parse_args()


def ensure_database(url: str) -> None:
    """CREATE DATABASE for the URL's database if it does not exist (connecting to the maintenance database)."""
    import psycopg
    from psycopg import conninfo, sql

    name = conninfo.conninfo_to_dict(url).get("dbname") or "postgres"
    with psycopg.connect(conninfo.make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def setup_django(url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "klearly.settings"
    os.environ["DATABASE_URL"] = url
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_people(n_accounts: int, per_account: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Accounts and contacts the file refers to, created set-based; returns their external ids."""
    from accounts.models import Account, Contact

    account_ids = [f"bench-acc-{i:05d}" for i in range(n_accounts)]
    Account.objects.bulk_create(
        [Account(external_id=ext, name=f"Bench account {i}") for i, ext in enumerate(account_ids)],
        batch_size=1000,
        ignore_conflicts=True,
    )
    pks = dict(Account.objects.filter(external_id__in=account_ids).values_list("external_id", "pk"))
    contacts = [(f"bench-con-{i:06d}", account_ids[i // per_account]) for i in range(n_accounts * per_account)]
    Contact.objects.bulk_create(
        [Contact(external_id=ext, account_id=pks[acc], first_name="Bench") for ext, acc in contacts],
        batch_size=1000,
        ignore_conflicts=True,
    )
    return account_ids, contacts


def write_csv(path: Path, rows: int, accounts: list[str], contacts: list[tuple[str, str]], seed: int) -> None:
    """A deterministic signals.csv: ~20 types, some topics "Line > Type", most rows with a contact, a quarter
    with small JSON properties, ISO-8601 times (some with an offset), one row in ten without message_id."""
    rng = random.Random(seed)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    span = 365 * 86400
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            r = rng.random()
            if r < 0.8:
                contact, account = contacts[rng.randrange(len(contacts))]
            else:
                contact, account = "", accounts[rng.randrange(len(accounts))]
            # seconds from i keep every row distinct, so rows without message_id never share a fingerprint
            when = start + timedelta(seconds=(i * 7919) % span, microseconds=i % 1000 * 1000)
            if i % 5 == 0:
                occurred = when.astimezone(PLUS_TWO).isoformat(timespec="milliseconds")
            else:
                occurred = when.strftime("%Y-%m-%dT%H:%M:%S") + f".{when.microsecond // 1000:03d}Z"
            writer.writerow(
                (
                    "" if i % 10 == 9 else f"bench-msg-{i:08d}",
                    account,
                    contact,
                    TYPES[rng.randrange(len(TYPES))],
                    DETAILS[rng.randrange(len(DETAILS))] if r < 0.15 else "",
                    TOPICS[rng.randrange(len(TOPICS))] if rng.random() < 0.6 else "",
                    ("inbound", "outbound", "")[rng.randrange(3)] if rng.random() < 0.3 else "",
                    ("sales", "marketing", "product")[rng.randrange(3)] if rng.random() < 0.3 else "",
                    occurred,
                    json.dumps(PROPERTIES[rng.randrange(len(PROPERTIES))]) if rng.random() < 0.25 else "",
                )
            )


def memory_gb() -> float:
    with open("/proc/meminfo") as meminfo:  # Linux; the figure is only printed
        return int(meminfo.readline().split()[1]) / 1024**2


def signal_count() -> int:
    from signals_app.models import Signal

    return Signal.objects.count()


def truncate_signals() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE signals_app_signal")
        cursor.execute("CHECKPOINT")  # start each timed run without a backlog of dirty pages from the last one


def time_klearly(path: Path, batch_size: int | None) -> tuple[float, object]:
    from signals_app.importing import import_csv_stream, open_text

    started = time.perf_counter()
    with open_text(str(path)) as stream:
        report = import_csv_stream(kind="signals", stream=stream, batch_size=batch_size)
    return time.perf_counter() - started, report


def dump_resolved() -> bytes:
    """The stored rows, resolved to ids, in COPY text format, in the order they were imported."""
    from django.db import connection

    cols = ", ".join(SIGNAL_COLUMNS)
    buffer = bytearray()
    query = f"COPY (SELECT {cols} FROM signals_app_signal ORDER BY id) TO STDOUT"
    with connection.cursor() as cursor, cursor.cursor.copy(query) as copy:
        for block in copy:
            buffer += block
    return bytes(buffer)


def time_copy(data: bytes) -> float:
    from django.db import connection, transaction

    cols = ", ".join(SIGNAL_COLUMNS)
    view = memoryview(data)
    chunk = 1 << 20
    started = time.perf_counter()
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY signals_app_signal ({cols}) FROM STDIN") as copy,
    ):
        for offset in range(0, len(view), chunk):
            copy.write(view[offset : offset + chunk])
    return time.perf_counter() - started


def orm_rows(limit: int) -> list[tuple]:
    from signals_app.models import Signal

    return list(Signal.objects.order_by("id").values_list(*SIGNAL_COLUMNS)[:limit])


def time_orm(rows: list[tuple]) -> float:
    from django.db import transaction

    from signals_app.models import Signal

    started = time.perf_counter()
    with transaction.atomic():
        Signal.objects.bulk_create(
            [Signal(**dict(zip(SIGNAL_COLUMNS, row, strict=True))) for row in rows], batch_size=5000
        )
    return time.perf_counter() - started


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:  # noqa: PLR0915 — a benchmark script read top to bottom: set up, time, print
    args = parse_args()
    ensure_database(args.database_url)
    setup_django(args.database_url)

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    truncate_signals()
    accounts, contacts = prepare_people(args.accounts, args.contacts_per_account)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0].split(" on ")[0]
    batch_size = args.batch_size or settings.KLEARLY_IMPORT_BATCH_SIZE
    print(f"{pg_version}; {os.cpu_count()} CPUs, {memory_gb():.0f} GB RAM; importer batch size {batch_size}")
    print(f"{len(accounts):,} accounts and {len(contacts):,} contacts in {args.database_url}; {load()}")

    failures: list[str] = []
    best: dict[str, float] = {}
    counts: dict[str, int] = {}

    def record(name: str, rows: int, seconds: float) -> None:
        best[name] = min(seconds, best.get(name, seconds))
        counts[name] = rows

    with tempfile.TemporaryDirectory(prefix="klearly-bench-") as tmp:
        path = Path(tmp) / "signals.csv"
        started = time.perf_counter()
        write_csv(path, args.rows, accounts, contacts, args.seed)
        size_mb = path.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f}s (not timed)")
        data, subset = b"", []
        for run in range(1, args.repeat + 1):
            print(f"run {run}/{args.repeat}: timing Klearly's import...", flush=True)
            truncate_signals()
            first_s, first = time_klearly(path, args.batch_size)
            first_count = signal_count()
            print(f"  import: {first.summary()} in {first_s:.2f}s; the table holds {first_count:,}")
            for error in first.errors[:5]:
                print(f"  {error}")
            if first_count != args.rows or first.created != args.rows or first.failed:
                failures.append(f"import stored {first_count:,} rows ({first.failed} rejected), not {args.rows:,}")
            with connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
            again_s, again = time_klearly(path, args.batch_size)
            again_count = signal_count()
            print(f"  re-import: {again.summary()} in {again_s:.2f}s; the table holds {again_count:,}")
            if again_count != args.rows or again.created != 0:
                failures.append(f"re-import created {again.created:,} rows; the table holds {again_count:,}")
            record("Klearly import_csv_stream", first_count, first_s)
            record("Klearly re-import (0 new rows)", args.rows, again_s)

            if not data:
                data = dump_resolved()
                subset = orm_rows(ORM_SUBSET) if args.orm_baseline else []
            print(f"  timing COPY of the same rows ({len(data) / 1e6:.0f} MB of COPY text, prepared beforehand)...")
            truncate_signals()
            copy_s = time_copy(data)
            copy_count = signal_count()
            print(f"  COPY: {copy_count:,} rows in {copy_s:.2f}s; {load()}", flush=True)
            if copy_count != first_count:
                failures.append(f"COPY stored {copy_count:,} rows, Klearly {first_count:,}")
            record("COPY FROM STDIN (resolved ids)", copy_count, copy_s)
    if subset:
        truncate_signals()
        record(f"ORM bulk_create ({len(subset):,} subset)", len(subset), time_orm(subset))

    order = ["Klearly import_csv_stream", "COPY FROM STDIN (resolved ids)"]
    order += [name for name in best if name.startswith("ORM")] + ["Klearly re-import (0 new rows)"]
    copy_rate = counts[order[1]] / best[order[1]]
    print(
        f"\n{'best of ' + str(args.repeat) if args.repeat > 1 else 'method':<34} {'rows':>10} {'seconds':>9} ", end=""
    )
    print(f"{'rows/s':>10} {'vs COPY':>8}")
    for name in order:
        rate = counts[name] / best[name]
        print(f"{name:<34} {counts[name]:>10,} {best[name]:>9.2f} {rate:>10,.0f} {rate / copy_rate:>8.2f}")
    ratio = counts[order[0]] / best[order[0]] / copy_rate
    print(f"\nKlearly reaches {ratio:.2f} of COPY's rows/s (goal: 0.30 or more); {load()}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
