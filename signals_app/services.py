"""Writes for signals: import jobs, write keys."""

from __future__ import annotations

import json
import secrets

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from . import parsing
from .choices import ImportStatus
from .importing import ImportReport, import_csv_stream
from .models import ImportJob, IngestionSource, WriteKey


def import_job_create(*, kind: str, file: File, user_id: int | None = None) -> ImportJob:
    """Store an uploaded CSV and queue its import on a worker once the upload is committed."""
    from .tasks import import_job_run  # tasks import services; import here to keep the cycle one-way at load

    job = ImportJob(kind=kind, original_name=getattr(file, "name", "") or "", created_by_id=user_id)
    job.file.save(job.original_name or f"{kind}.csv", file, save=False)
    job.save()
    transaction.on_commit(lambda: import_job_run.delay(job.pk))
    return job


def import_job_execute(*, job_id: int) -> ImportJob:
    """Run a queued import job to the end. A job already done is not run again (retries never duplicate)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status == ImportStatus.DONE:
            return job
        job.status, job.started_at = ImportStatus.RUNNING, timezone.now()
        job.save(update_fields=["status", "started_at"])

    def progress(rows: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(rows_read=job.rows_read + rows)
        job.rows_read += rows

    try:
        with job.file.open("rb") as raw:
            import io

            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            report = import_csv_stream(kind=job.kind, stream=text, progress=progress)
    except UnicodeDecodeError as exc:
        report = ImportReport(kind=job.kind, fatal=f"the file is not UTF-8 text (byte {exc.start}): save it as UTF-8")
    _store_report(job, report)
    return job


def _store_report(job: ImportJob, report: ImportReport) -> None:
    job.rows_read = report.rows_read
    job.rows_created, job.rows_updated = report.created, report.updated
    job.rows_skipped, job.rows_failed = report.skipped, report.failed
    job.errors = report.errors
    job.failure = report.fatal
    job.status = ImportStatus.FAILED if report.fatal else ImportStatus.DONE
    job.finished_at = timezone.now()
    job.save()


def write_key_create(*, source: IngestionSource, label: str = "") -> tuple[WriteKey, str]:
    """Create a write key for a source; returns it and the secret, which is shown once and never stored."""
    raw = "kl_" + secrets.token_urlsafe(32)
    key = WriteKey.objects.create(source=source, prefix=raw[:11], key_hash=WriteKey.hash_key(raw), label=label)
    return key, raw


def write_key_revoke(*, key: WriteKey) -> None:
    """Stop a write key from being accepted."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


def signals_record(*, records: list[dict], source: IngestionSource | None = None) -> ImportReport:
    """Record signals given as flat records (the signals.csv columns; ``properties`` may be an object).

    Used by the REST API. Each bad record is reported with its index in ``errors[*]["line"]`` (0-based) and
    column; good ones are stored; a record whose ``message_id`` was already stored for the source is skipped.
    """
    from .importing import SignalImporter

    importer = SignalImporter()
    if source is not None:
        importer.source = source
    report = ImportReport(kind="signals", rows_read=len(records))
    good = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            report.add_error(index, {"non_field_errors": "each signal must be a JSON object"})
            continue
        row = {k: _as_text(v) for k, v in record.items()}
        try:
            parsing.reject_nul(row)
            good.append((index, importer.parse(row)))
        except parsing.RowInvalid as exc:
            report.add_error(index, exc.errors)
    with transaction.atomic():
        importer.write(good, report)
    report.errors.sort(key=lambda e: e["line"])
    return report


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
