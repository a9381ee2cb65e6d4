"""Benchmark: the admin's big import and export as background jobs (issue 12 item 8).

    .venv/bin/python bench/admin_jobs.py [--rows 200000] [--export-rows 300000] [--database-url postgres://...]

Creates the database if it is missing, migrates it, makes accounts and contacts and a deterministic signals.csv (the
generator of bench/import_signals.py), then, through the real admin views (Django's test client, a superuser):

- import: POST the file to the signals import page. Over ``KLEARLY_ADMIN_IMPORT_INLINE_MAX_BYTES`` it becomes an
  import job (timed: the page's answer), which a worker runs (timed here in-process: ``import_job_execute``);
- export: POST the signals export page for the whole table (``--export-rows`` signals). Over
  ``KLEARLY_ADMIN_EXPORT_INLINE_MAX_ROWS`` it becomes an export job (the page's answer, timed), then the job (timed);
- for reference, the old inline export of a ``KLEARLY_ADMIN_EXPORT_INLINE_MAX_ROWS``-row list, scaled to the table.

Baseline: a web request must end within gunicorn's default worker timeout (30 s); before, both requests ran the whole
import or export inline and were killed (500, nothing imported). Exits non-zero if a job does not end done with every
row.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import import_signals as base  # noqa: E402 - the sibling benchmark's data generator

WEB_TIMEOUT = 30.0


def main() -> int:  # noqa: PLR0915 — a benchmark script read top to bottom: set up, time, print
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the imported signals.csv")
    parser.add_argument("--export-rows", type=int, default=300_000, help="signals in the table when exporting")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/klearly_bench_jobs")
    args = parser.parse_args()

    # No worker: tasks go to an in-memory broker nobody reads (the job stays queued, rescores are not run), and this
    # script runs the job, timed, in-process, as a worker would.
    os.environ.update(CELERY_BROKER_URL="memory://", CELERY_TASK_ALWAYS_EAGER="false", CACHE_URL="locmem")
    base.ensure_database(args.database_url)
    base.setup_django(args.database_url)
    import logging

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from signals_app.models import ExportJob, ImportJob
    from signals_app.services import export_job_execute, import_job_execute

    logging.disable(logging.WARNING)
    setup_test_environment()  # the test client's view of template contexts (the export form's fields)
    call_command("migrate", verbosity=0)
    base.truncate_signals()
    ImportJob.objects.all().delete()
    ExportJob.objects.all().delete()
    accounts, contacts = base.prepare_people(3000, 3)
    user = get_user_model().objects.filter(username="bench").first() or get_user_model().objects.create_superuser(
        "bench", "bench@example.com", "bench"
    )
    client = Client()
    client.force_login(user)
    ok = True

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "signals.csv"
        base.write_csv(path, args.rows, accounts, contacts, seed=1)
        size = path.stat().st_size
        started = time.perf_counter()
        with path.open("rb") as fh:
            response = client.post("/admin/signals_app/signal/import/", {"format": "0", "import_file": fh})
        answered = time.perf_counter() - started
        job = ImportJob.objects.get()
        started = time.perf_counter()
        job = import_job_execute(job_id=job.pk)
        ran = time.perf_counter() - started
        print(f"import of {args.rows:,} rows ({size / 1_048_576:.1f} MB): the admin answered {response.status_code} "
              f"in {answered:.1f} s (limit {WEB_TIMEOUT:.0f} s); the job ran {ran:.1f} s "
              f"({job.rows_created / ran:,.0f} rows/s), {job.status}, {job.rows_created:,} created, "
              f"{job.rows_failed} failed")  # fmt: skip
        ok &= response.status_code == 302 and job.status == "done" and job.rows_read == args.rows

    extra = args.export_rows - base.signal_count()
    if extra > 0:  # fill the table up to the export size with copies under new message ids (not timed)
        from django.db import connection

        cols = [c for c in base.SIGNAL_COLUMNS if c != "idempotency_key"]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO signals_app_signal ({', '.join(cols)}, idempotency_key) "
                f"SELECT {', '.join(cols)}, 'copy-' || id FROM signals_app_signal ORDER BY id LIMIT %s",
                [extra],
            )
    total = base.signal_count()

    form = client.get("/admin/signals_app/signal/export/").context["form"]
    data = {"format": "0", "resource": "0"}
    data.update({name: "on" for name, field in form.fields.items() if field.__class__.__name__ == "BooleanField"})
    started = time.perf_counter()
    response = client.post("/admin/signals_app/signal/export/", data)
    answered = time.perf_counter() - started
    export = ExportJob.objects.get()
    started = time.perf_counter()
    export = export_job_execute(job_id=export.pk)
    ran = time.perf_counter() - started
    print(f"export of {total:,} signals: the admin answered {response.status_code} in {answered:.1f} s; the job ran "
          f"{ran:.1f} s ({export.rows_done / ran:,.0f} rows/s), {export.status}, {export.rows_done:,} rows, "
          f"{export.file.size / 1_048_576:.1f} MB")  # fmt: skip
    ok &= response.status_code == 302 and export.status == "done" and export.rows_done == total

    # The old inline path (what the export page ran in the request: the resource into a tablib dataset, then CSV), on
    # a list of the inline limit, scaled to the whole table.
    from import_export.formats.base_formats import CSV

    from signals_app.admin import SignalAdmin
    from signals_app.models import Signal
    from signals_app.resources import SignalResource

    limit = settings.KLEARLY_ADMIN_EXPORT_INLINE_MAX_ROWS
    listed = Signal.objects.select_related(*SignalAdmin.list_select_related).order_by("-occurred_at", "-id")[:limit]
    started = time.perf_counter()
    CSV().export_data(SignalResource().export(queryset=listed))
    inline = time.perf_counter() - started
    print(f"inline export of {limit:,} rows: {inline:.1f} s, so about {inline * total / limit:.0f} s for "
          f"{total:,} inline (over the {WEB_TIMEOUT:.0f} s web timeout: why it is a job)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
