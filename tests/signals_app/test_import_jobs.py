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
