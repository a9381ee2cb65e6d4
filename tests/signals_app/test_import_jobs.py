"""Background import jobs (eager Celery here; a real worker in tests/services)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from signals_app.models import ImportJob, Signal
from signals_app.services import import_job_create, import_job_execute
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

CSV = (
    "message_id,account_external_id,type,occurred_at\n"
    "j1,acme,Login,2026-03-01T10:00:00Z\n"
    "j2,acme,Login,someday\n"
    "j3,ghost,Login,2026-03-01T10:00:00Z\n"
)


def test_a_job_runs_after_commit_and_keeps_every_bad_row(django_capture_on_commit_callbacks):
    AccountFactory(external_id="acme")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = import_job_create(kind="signals", file=SimpleUploadedFile("s.csv", CSV.encode()))
    # the job's enqueue, then (from the job) the rescore announcement, then (from the rescore) its score changes
    assert len(callbacks) == 3
    job.refresh_from_db()
    assert (job.status, job.rows_read, job.rows_created, job.rows_failed) == ("done", 3, 1, 2)
    assert job.errors == [
        {"line": 3, "field": "occurred_at", "message": "'someday' is not an ISO-8601 date or time (e.g. 2026-03-01T14:30:00Z)"},
        {"line": 4, "field": "account_external_id", "message": "no account has external id 'ghost'"},
    ]  # fmt: skip
    assert job.started_at <= job.finished_at


def test_running_a_finished_job_again_changes_nothing(django_capture_on_commit_callbacks):
    AccountFactory(external_id="acme")
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(kind="signals", file=SimpleUploadedFile("s.csv", CSV.encode()))
    import_job_execute(job_id=job.pk)
    assert Signal.objects.count() == 1
    assert ImportJob.objects.get(pk=job.pk).rows_created == 1


def test_a_job_whose_file_is_not_utf8_fails_with_the_reason(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(
            kind="accounts", file=SimpleUploadedFile("a.csv", "external_id\nSoci\xe9t\xe9\n".encode("latin-1"))
        )
    job.refresh_from_db()
    assert job.status == "failed"
    assert "not UTF-8" in job.failure


def test_admin_upload_queues_a_job(admin_client, django_capture_on_commit_callbacks):
    AccountFactory(external_id="acme")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/signals_app/importjob/add/",
            {"kind": "signals", "file": SimpleUploadedFile("s.csv", CSV.encode())},
        )
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert (job.status, job.rows_created, job.original_name) == ("done", 1, "s.csv")
    page = admin_client.get(f"/admin/signals_app/importjob/{job.pk}/change/").content.decode()
    assert "no account has external id &#x27;ghost&#x27;" in page


def test_command_background_flag_queues_a_job(tmp_path, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    AccountFactory(external_id="acme")
    path = tmp_path / "s.csv"
    path.write_text(CSV)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_csv", "signals", str(path), "--background")
    assert ImportJob.objects.get().status == "done"
    assert Signal.objects.count() == 1


# --- jobs end done or failed, never stay "running" ------------------------------------------------------------------


def test_a_job_whose_import_raises_ends_failed_with_the_reason(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = import_job_create(kind="signals", file=SimpleUploadedFile("s.csv", CSV.encode()))
    job.file.storage.delete(job.file.name)  # the upload is gone (a volume not shared with the worker)
    for callback in callbacks:
        callback()

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.failure.startswith("the job stopped on an error: FileNotFoundError")
    assert job.finished_at is not None


def test_a_running_job_whose_worker_died_is_swept_to_failed(settings):
    from datetime import timedelta

    from django.utils import timezone

    from signals_app.services import jobs_sweep

    settings.KLEARLY_JOB_STALE_SECONDS = 300
    now = timezone.now()
    dead = ImportJob.objects.create(kind="signals", file="imports/x.csv", status="running",
                                    started_at=now - timedelta(hours=1), heartbeat_at=now - timedelta(minutes=6))  # fmt: skip
    alive = ImportJob.objects.create(kind="signals", file="imports/y.csv", status="running",
                                     started_at=now - timedelta(hours=1), heartbeat_at=now - timedelta(seconds=20))  # fmt: skip

    assert jobs_sweep(now=now) == {"failed": 1, "resent": 0}

    dead.refresh_from_db()
    assert dead.status == "failed" and "the worker running this job stopped" in dead.failure
    assert ImportJob.objects.get(pk=alive.pk).status == "running"


def test_a_job_left_queued_is_sent_again_and_a_message_delivered_twice_imports_once():
    from datetime import timedelta

    from django.utils import timezone

    from signals_app.services import jobs_sweep

    AccountFactory(external_id="acme")
    job = import_job_create(kind="signals", file=SimpleUploadedFile("s.csv", CSV.encode()))  # its enqueue was lost
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=3))

    assert jobs_sweep() == {"failed": 0, "resent": 1}  # eager here: the job runs

    assert ImportJob.objects.get(pk=job.pk).status == "done"
    assert import_job_execute(job_id=job.pk).status == "done"  # delivered again: not run again
    assert Signal.objects.count() == 1


def big_signals_csv(rows: int) -> str:
    lines = [f"b{i},acme,,Login,,,,,2026-03-01T10:{i % 60:02d}:00Z," for i in range(rows)]
    return (
        "message_id,account_external_id,contact_external_id,type,detail,topic,direction,source,occurred_at,properties\n"
        + "\n".join(lines)
        + "\n"
    )


def test_a_large_admin_import_runs_in_the_background_with_progress(
    admin_client, settings, django_capture_on_commit_callbacks
):
    settings.KLEARLY_ADMIN_IMPORT_INLINE_MAX_BYTES = 1000
    settings.KLEARLY_IMPORT_BATCH_SIZE = 50
    AccountFactory(external_id="acme")
    upload = SimpleUploadedFile("signals.csv", big_signals_csv(300).encode(), "text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/signals_app/signal/import/", {"format": "0", "import_file": upload})

    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/signals_app/importjob/{job.pk}/change/"
    assert (job.kind, job.status, job.rows_total, job.rows_read, job.rows_created) == ("signals", "done", 300, 300, 300)
    assert Signal.objects.count() == 300
    page = admin_client.get(response["Location"]).content.decode()
    assert "300 rows" in page and 'http-equiv="refresh"' not in page  # done: no more reloading


def test_a_running_job_page_shows_progress_and_reloads(admin_client):
    job = ImportJob.objects.create(kind="signals", file="imports/x.csv", status="running", rows_total=200_000,
                                   rows_read=12_000)  # fmt: skip
    page = admin_client.get(f"/admin/signals_app/importjob/{job.pk}/change/").content.decode()
    assert "12,000 of about 200,000 rows (6%)" in page
    assert '<meta http-equiv="refresh" content="3">' in page


def test_a_small_admin_import_keeps_the_inline_preview(admin_client):
    AccountFactory(external_id="acme")
    upload = SimpleUploadedFile("signals.csv", big_signals_csv(3).encode(), "text/csv")
    response = admin_client.post("/admin/signals_app/signal/import/", {"format": "0", "import_file": upload})
    assert response.status_code == 200 and "confirm_form" in response.context
    assert not ImportJob.objects.exists()


def export_form_data(admin_client, url: str) -> dict:
    form = admin_client.get(url).context["form"]
    data = {"format": "0", "resource": "0"}
    data.update({name: "on" for name, field in form.fields.items() if field.__class__.__name__ == "BooleanField"})
    return data


def test_a_large_admin_export_is_written_by_a_job_with_the_lists_filters(
    admin_client, settings, django_capture_on_commit_callbacks
):
    from signals_app.models import ExportJob
    from tests.factories import SignalFactory

    settings.KLEARLY_ADMIN_EXPORT_INLINE_MAX_ROWS = 5
    acme = AccountFactory(external_id="acme")
    for i in range(12):
        SignalFactory(account=acme, idempotency_key=f"e{i}", direction="inbound" if i % 4 else "outbound",
                      detail="=HYPERLINK(1)" if i == 1 else "")  # fmt: skip
    url = "/admin/signals_app/signal/export/?direction__exact=inbound"

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, export_form_data(admin_client, url))

    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/signals_app/exportjob/{job.pk}/change/"
    assert (job.status, job.rows_total, job.rows_done) == ("done", 9, 9)
    page = admin_client.get(response["Location"]).content.decode()
    assert f"/admin/signals_app/exportjob/{job.pk}/download/" in page
    download = admin_client.get(f"/admin/signals_app/exportjob/{job.pk}/download/")
    text = b"".join(download.streaming_content).decode()
    lines = text.splitlines()
    assert lines[0].startswith("message_id,account_external_id,")
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(f"e{i}" for i in range(12) if i % 4)
    assert "'=HYPERLINK(1)" in text  # the same formula-safe cells as the inline export


def test_an_export_job_that_raises_ends_failed_and_the_download_needs_the_export_permission(client, admin_user):
    from django.contrib.auth.models import Permission

    from signals_app.models import ExportJob
    from signals_app.services import export_job_execute
    from tests.factories import UserFactory

    broken = ExportJob.objects.create(kind="signals", query=b"not a pickled query")
    assert export_job_execute(job_id=broken.pk).status == "failed"
    assert ExportJob.objects.get(pk=broken.pk).failure.startswith("the job stopped on an error: UnpicklingError")

    done = ExportJob.objects.create(kind="signals", query=b"", status="done")
    done.file.save("signals.csv", SimpleUploadedFile("signals.csv", b"message_id\n"))
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_exportjob"))
    client.force_login(clerk)
    assert client.get(f"/admin/signals_app/exportjob/{done.pk}/download/").status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="export_signal"))
    assert client.get(f"/admin/signals_app/exportjob/{done.pk}/download/").status_code == 200
