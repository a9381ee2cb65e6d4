"""Benchmark: a full rescore of 100,000 accounts with 10,000,000 signals, and rescoring 1,000 marked accounts,
against one raw SQL aggregate over the same signals table in the same run.

    .venv/bin/python bench/rescore.py [--accounts 100000] [--signals 10000000]
                                      [--database-url postgres://postgres@127.0.0.1:5432/klearly_bench_rescore]

The world is generated inside PostgreSQL (generate_series, not timed) and kept between runs of the same size: the
accounts, their signals, stage movements (conversions, expansions, churns) and a trained model of each outcome, so
the rescores predict with active models as every rescore of a real deployment does. Run as in production: DEBUG off,
the prediction code imported before the clock starts (a worker imports it when it starts).
Baseline: ``SELECT account_id, type_id, count(*), max(occurred_at) FROM signals GROUP BY 1, 2`` — one scan and
aggregate of every signal, the least any engine that reads them all must do (the median of three runs, with the
server's own settings). Goals (issue 4): the full rescore
within 5 times the baseline; 1,000 marked accounts within 1 second.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/klearly_bench_rescore"
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
TYPES = ("pricing-page-view", "demo-request", "whitepaper-download", "video-watched", "webinar-attended",
         "invite-user", "integration-connected", "dashboard-created", "report-exported", "login", "email-open",
         "email-click", "support-ticket-opened", "api-key-created", "order", "sales-call", "ad-click",
         "trial-started", "feature-used", "docs-visit")  # fmt: skip


def setup(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = database_url
    # Marks are announced to a broker with no worker, so the marked accounts wait for the timed drain below.
    os.environ["CELERY_BROKER_URL"] = BROKER
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "klearly.settings")
    # As in production (README): DEBUG off, so the database layer does not keep every query it ran.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-rescore")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_world(accounts: int, signals: int) -> None:
    """Accounts, 3 contacts each, the types, and the signals over 180 days, made by the database itself."""
    from django.db import connection

    from signals_app.models import IngestionSource, SignalType

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_account WHERE external_id LIKE 'rb-%%'")
        have_accounts = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM signals_app_signal")
        have_signals = cursor.fetchone()[0]
    if have_accounts == accounts and have_signals == signals:
        print(f"reusing the world: {accounts:,} accounts, {signals:,} signals")
        return
    print(f"building {accounts:,} accounts and {signals:,} signals in PostgreSQL (not timed) ...", flush=True)
    started = time.perf_counter()
    for key in TYPES:
        SignalType.objects.get_or_create(key=key, defaults={"label": key.replace("-", " ").capitalize()})
    source, _ = IngestionSource.objects.get_or_create(name="Bench rescore")
    with connection.cursor() as cursor:
        # A rebuild throws the bench database's world away, with everything that points at its accounts and
        # contacts (scores, history, predictions, tasks of an earlier run): CASCADE follows every foreign key.
        cursor.execute("TRUNCATE signals_app_signal, accounts_rescoremark, accounts_stagetransition")
        cursor.execute("TRUNCATE accounts_account, accounts_contact CASCADE")
        cursor.execute(
            "INSERT INTO accounts_account (external_id, name, domain, industry, employees, country, created_at, "
            "traits, updated_at) SELECT 'rb-' || g, 'Bench ' || g, 'b' || g || '.example', "
            "(ARRAY['Software','Retail','Finance','Health'])[1 + g %% 4], (10 + (g * 7919) %% 3000), 'US', "
            "now() - ((g %% 900) || ' days')::interval, '{}', now() FROM generate_series(1, %s) g",
            [accounts],
        )
        cursor.execute(
            "INSERT INTO accounts_contact (external_id, account_id, email, first_name, last_name, title, "
            "created_at, traits) SELECT 'rb-' || a.id || '-' || u, a.id, 'u' || u || '@' || a.domain, 'Ann', "
            "'Lee', (ARRAY['CEO','VP Sales','Engineer'])[u], a.created_at, '{}' "
            "FROM accounts_account a CROSS JOIN generate_series(1, 3) u WHERE a.external_id LIKE 'rb-%%'"
        )
        cursor.execute("SELECT min(id), max(id) FROM accounts_account WHERE external_id LIKE 'rb-%%'")
        first, last = cursor.fetchone()
        cursor.execute(
            "SELECT array_agg(id ORDER BY key) FROM signals_app_signaltype WHERE key = ANY(%s)", [list(TYPES)]
        )
        type_ids = cursor.fetchone()[0]
        # Contacts of account a are 3 consecutive ids; skewed activity: low account ids are busier.
        cursor.execute("SELECT min(id) FROM accounts_contact WHERE external_id LIKE 'rb-%%'")
        first_contact = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO signals_app_signal (account_id, contact_id, anonymous_id, type_id, detail, direction, source, "
            "occurred_at, received_at, properties, ingestion_source_id, idempotency_key) "
            "SELECT a, %s + (a - %s) * 3 + (g %% 3), '', (%s::bigint[])[1 + (g * 31) %% %s], '', 'inbound', "
            "'product', now() - ((g %% 180) || ' days')::interval - ((g %% 86400) || ' seconds')::interval, now(), "
            "'{}', %s, 'rb-' || g FROM (SELECT g, %s + floor(power(random(), 1.6) * %s)::bigint AS a "
            "FROM generate_series(1, %s) g) s",
            [first_contact, first, type_ids, len(type_ids), source.pk, first, last - first + 1, signals],
        )
        cursor.execute("ANALYZE")
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)


def build_journeys() -> None:
    """Stage movements (entry to trial, conversions, expansions, churns; busier accounts convert more) and a trained
    model of each outcome, so the timed rescores predict with active models as a real deployment does (not timed)."""
    from django.db import connection

    from scoring.models import PredictiveModel
    from scoring.predictions import models_train

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_stagetransition")
        if cursor.fetchone()[0] == 0:
            print("adding stage movements (not timed) ...", flush=True)
            cursor.execute("SELECT key, id FROM accounts_journeystage")
            stage = dict(cursor.fetchall())
            cursor.execute("SELECT min(id), max(id) FROM accounts_account WHERE external_id LIKE 'rb-%%'")
            first, last = cursor.fetchone()
            # Each account's fate is drawn once: converted (likelier for busier, low-id accounts), then expanded or
            # churned; the times fall within the last 170 days, after the account entered the trial.
            cursor.execute(
                "CREATE TEMP TABLE fate AS SELECT id, created_at, "
                "random() < 0.55 - 0.35 * (id - %s)::float / %s AS converted, random() AS r, "
                "now() - ((20 + random() * 150) || ' days')::interval AS converted_at FROM accounts_account "
                "WHERE external_id LIKE 'rb-%%'",
                [first, last - first + 1],
            )
            moves = [
                ("NULL", stage["trial"], "LEAST(created_at, converted_at - interval '30 days')", "entry", "true"),
                (stage["trial"], stage["starter"], "converted_at", "conversion", "converted"),
                (stage["starter"], stage["corporate"], "converted_at + (r * 15 || ' days')::interval", "expansion",
                 "converted AND r < 0.25"),
                (stage["starter"], stage["churn"], "converted_at + (r * 15 || ' days')::interval", "churn",
                 "converted AND r > 0.9"),
            ]  # fmt: skip
            for from_stage, to_stage, at, movement, where in moves:
                cursor.execute(
                    "INSERT INTO accounts_stagetransition (account_id, from_stage_id, to_stage_id, changed_at, "
                    f"movement, recorded_at, from_accounts_file) SELECT id, {from_stage}, {to_stage}, {at}, "
                    f"'{movement}', now(), false "
                    f"FROM fate WHERE {where}"
                )
            cursor.execute(
                "UPDATE accounts_account a SET stage_id = t.to_stage_id FROM (SELECT DISTINCT ON (account_id) "
                "account_id, to_stage_id FROM accounts_stagetransition ORDER BY account_id, changed_at DESC) t "
                "WHERE t.account_id = a.id"
            )
            cursor.execute("ANALYZE")
    if not PredictiveModel.objects.filter(is_active=True).exists():
        print("training the predictive models (not timed) ...", flush=True)
        started = time.perf_counter()
        report = models_train(rescore=False)
        print(f"trained in {time.perf_counter() - started:.0f} s; skipped: {report.skipped or 'none'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--signals", type=int, default=10_000_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    setup(args.database_url)
    build_world(args.accounts, args.signals)
    build_journeys()

    from django.db import connection

    from accounts.models import Account
    from accounts.services import accounts_mark_for_rescore
    from scoring import predictions  # noqa: F401  (a worker imports it when it starts: klearly/celery.py)
    from scoring.services import accounts_rescore_all, accounts_rescore_marked

    # A server's autovacuum clears the row versions each rescore leaves behind between nightly runs; this one may run
    # without it (autovacuum is off on the machines CI uses), so the bench vacuums before it times (not timed).
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("signals_app_signal", "scoring_accountscore", "scoring_contactscore", "scoring_scorehistory",
                      "scoring_accountprediction", "accounts_rescoremark", "signals_app_rulehit"):  # fmt: skip
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"vacuumed in {time.perf_counter() - started:.0f} s (not timed)", flush=True)

    # The aggregate three times (it varied by a quarter from run to run on a shared machine): the median is the figure.
    baselines = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM signals_app_signal")  # warm the cache like the rescore will have it
        for _ in range(3):
            started = time.perf_counter()
            cursor.execute(
                "SELECT count(*) FROM (SELECT account_id, type_id, count(*), max(occurred_at) "
                "FROM signals_app_signal GROUP BY 1, 2) s"
            )
            groups = cursor.fetchone()[0]
            baselines.append(time.perf_counter() - started)
    baseline = sorted(baselines)[1]

    started = time.perf_counter()
    full = accounts_rescore_all()
    full_time = time.perf_counter() - started

    # Three different random sets of 1,000 marked accounts, as a worker meets them; the median is the figure.
    marked_times = []
    for _ in range(3):
        ids = list(Account.objects.order_by("?").values_list("pk", flat=True)[:1000])
        accounts_mark_for_rescore(account_ids=ids)
        started = time.perf_counter()
        marked = accounts_rescore_marked()
        marked_times.append(time.perf_counter() - started)
    marked_time = sorted(marked_times)[1]

    import redis

    redis.Redis.from_url(BROKER).flushdb()
    print()
    print(f"{'step':<52} {'seconds':>9} {'vs baseline':>12}")
    spread = " / ".join(f"{t:.2f}" for t in baselines)
    print(f"{'baseline: one GROUP BY account, type (median of 3)':<52} {baseline:>9.2f} {1:>12.2f}  ({spread})")
    print(f"{f'full rescore of {full.accounts:,} accounts':<52} {full_time:>9.2f} {full_time / baseline:>12.2f}")
    spread = " / ".join(f"{t:.2f}" for t in marked_times)
    print(f"{f'rescore of {marked.accounts:,} marked accounts (median)':<52} {marked_time:>9.2f} {'':>12}  ({spread})")
    print()
    print(f"{groups:,} (account, type) groups; goals: full rescore <= 5x baseline -> "
          f"{'met' if full_time <= 5 * baseline else 'NOT met'}; 1,000 marked <= 1 s -> "
          f"{'met' if marked_time <= 1 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
