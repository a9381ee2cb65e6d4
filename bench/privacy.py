"""Benchmark: finding, exporting and forgetting one person among millions of signals (PostgreSQL), against one scan
of the signals table with the same text search in the same run.

    .venv/bin/python bench/privacy.py [--accounts 20000] [--signals 2000000]
                                      [--database-url postgres://postgres@127.0.0.1:5432/klearly_bench_privacy]

The world is generated inside PostgreSQL (generate_series, not timed) and kept between runs of the same size: three
contacts per account, signals with properties (a path on every one, the person's IP and email on a third of them),
and a few anonymous signals carrying a contact's email. Each run forgets a different contact.
Baseline: ``SELECT count(*) FROM signals WHERE properties::text ILIKE '%<email>%'`` — the one scan of every signal's
properties that finding a person by email needs (median of three). Goal: finding within 2 times the baseline;
forgetting (finding included) within 3 times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/klearly_bench_privacy"


def setup(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "klearly.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-privacy")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"  # marks wait; no rescore runs inside the timing
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_world(accounts: int, signals: int) -> None:
    from django.db import connection

    from signals_app.models import IngestionSource, SignalType

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_account WHERE external_id LIKE 'pb-%%'")
        have_accounts = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM signals_app_signal")
        have_signals = cursor.fetchone()[0]
    if have_accounts == accounts and have_signals >= signals * 0.99:
        print(f"reusing the world: {accounts:,} accounts, {have_signals:,} signals")
        return
    print(f"building {accounts:,} accounts and {signals:,} signals in PostgreSQL (not timed) ...", flush=True)
    started = time.perf_counter()
    kind, _ = SignalType.objects.get_or_create(key="page-view", defaults={"label": "Page view"})
    source, _ = IngestionSource.objects.get_or_create(name="Bench privacy")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE signals_app_signal, accounts_rescoremark, accounts_contact, accounts_account CASCADE")
        cursor.execute(
            "INSERT INTO accounts_account (external_id, name, domain, industry, country, created_at, traits, "
            "updated_at) SELECT 'pb-' || g, 'Bench ' || g, 'b' || g || '.example', 'Software', 'US', now(), "
            "'{}', now() FROM generate_series(1, %s) g",
            [accounts],
        )
        cursor.execute(
            "INSERT INTO accounts_contact (external_id, account_id, email, first_name, last_name, title, created_at, "
            "traits) SELECT 'pb-' || a.id || '-' || u, a.id, 'u' || u || '@' || a.domain, 'Ann', 'Lee', '', "
            "now(), '{}' FROM accounts_account a CROSS JOIN generate_series(1, 3) u ORDER BY a.id, u"
        )
        cursor.execute("SELECT min(id) FROM accounts_account")
        first = cursor.fetchone()[0]
        cursor.execute("SELECT min(id) FROM accounts_contact")
        first_contact = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO signals_app_signal (account_id, contact_id, anonymous_id, type_id, detail, direction, source, "
            "occurred_at, received_at, properties, ingestion_source_id, idempotency_key) "
            "SELECT %s + a, %s + a * 3 + u, '', %s, '', 'inbound', 'product', "
            "now() - ((g %% 180) || ' days')::interval, now(), "
            "CASE WHEN g %% 3 = 0 THEN jsonb_build_object('path', '/docs/' || (g %% 500), 'ip', "
            "'10.0.' || (a %% 250) || '.' || u, 'email', 'u' || (u + 1) || '@b' || (a + 1) || '.example', "
            "'userAgent', 'Mozilla/5.0') ELSE jsonb_build_object('path', '/docs/' || (g %% 500)) END, %s, 'pb-' || g "
            "FROM (SELECT g, floor(random() * %s)::bigint AS a, (g %% 3) AS u FROM generate_series(1, %s) g) s",
            [first, first_contact, kind.pk, source.pk, accounts, signals],
        )
        # Anonymous visits before identification, carrying the email of a contact in 1 account of 100.
        cursor.execute(
            "INSERT INTO signals_app_signal (account_id, contact_id, anonymous_id, type_id, detail, direction, source, "
            "occurred_at, received_at, properties, ingestion_source_id, idempotency_key) "
            "SELECT NULL, NULL, 'anon-' || a, %s, '', 'inbound', 'product', now(), now(), "
            "jsonb_build_object('email', 'u1@b' || a || '.example'), %s, 'pb-anon-' || a "
            "FROM generate_series(1, %s, 100) a",
            [kind.pk, source.pk, accounts],
        )
        cursor.execute("ANALYZE")
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)


def median_of_three(run) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--signals", type=int, default=2_000_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    setup(args.database_url)
    build_world(args.accounts, args.signals)

    from django.db import connection

    from accounts.models import Contact
    from signals_app.models import Signal
    from signals_app.privacy import PersonQuery, person_export, person_find, person_forget

    # A contact of an account that has an anonymous visit with its email (a= 1, 101, 201, ...), not yet forgotten.
    contact = (
        Contact.objects.filter(external_id__startswith="pb-", email__startswith="u1@")
        .filter(email__in=[f"u1@b{a}.example" for a in range(1, args.accounts + 1, 100)])
        .order_by("?")
        .first()
    )
    email = contact.email
    total = Signal.objects.count()
    print(f"{total:,} signals; forgetting {email}", flush=True)

    def baseline() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM signals_app_signal WHERE properties::text ILIKE %s", [f"%{email}%"])

    base = median_of_three(baseline)
    query = PersonQuery(email=email)
    find = median_of_three(lambda: person_find(query=query))
    person = person_find(query=query)
    started = time.perf_counter()
    data = person_export(query=query)
    export = time.perf_counter() - started
    started = time.perf_counter()
    record = person_forget(query=query, via="command", operator_label="bench")
    forget = time.perf_counter() - started
    print(f"their signals: {len(data['signals']):,}; "
          f"mentions elsewhere: {len(person.mention_signal_ids):,}; counts: {record.counts}")  # fmt: skip
    print(f"baseline (one ILIKE scan of properties): {base:.2f} s")
    print(f"find:   {find:.2f} s ({find / base:.2f}× baseline; goal ≤ 2×)")
    print(f"export: {export:.2f} s")
    print(f"forget: {forget:.2f} s ({forget / base:.2f}× baseline; goal ≤ 3×)")


if __name__ == "__main__":
    main()
