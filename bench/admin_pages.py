"""Benchmark: admin pages on a big signals table (e.g. the 1,000,000 rows left by bench/import_signals.py).

    .venv/bin/python bench/admin_pages.py [--database-url postgres://postgres@127.0.0.1:5432/klearly_bench]

Times each page (median of 5, server side through Django's test client) and counts its queries, beside the
baseline of a bare ``SELECT count(*)`` of the signals table, which a default admin changelist would run twice.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/klearly_bench")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "klearly.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Account
    from signals_app.models import Signal, SignalType

    user, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
    user.is_superuser = user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    busiest = Signal.objects.values("account_id").order_by("account_id").first()["account_id"]
    type_id = SignalType.objects.order_by("pk").values_list("pk", flat=True).first()
    pages = {
        "signal list": "/admin/signals_app/signal/",
        "signal list, filtered by type": f"/admin/signals_app/signal/?type__id__exact={type_id}",
        "signal list, one account": f"/admin/signals_app/signal/?account__id__exact={busiest}",
        "signal list, page 100": "/admin/signals_app/signal/?p=100",
        "account list": "/admin/accounts/account/",
        "account page": f"/admin/accounts/account/{busiest}/change/",
    }
    with connection.cursor() as cursor:
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            cursor.execute("SELECT count(*) FROM signals_app_signal")
            rows = cursor.fetchone()[0]
            timings.append(time.perf_counter() - started)
    print(f"signals in table: {rows:,}; accounts: {Account.objects.count():,}")
    print(f"{'page':<36} {'median ms':>10} {'queries':>8}")
    print(f"{'baseline: SELECT count(*) signals':<36} {statistics.median(timings) * 1000:>10.1f} {1:>8}")
    for name, url in pages.items():
        times, queries = [], 0
        for _ in range(5):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(ctx.captured_queries)
        print(f"{name:<36} {statistics.median(times) * 1000:>10.1f} {queries:>8}")


if __name__ == "__main__":
    main()
