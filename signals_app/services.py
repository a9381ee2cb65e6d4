"""Writes for signals: import and export jobs, write keys, signal types and topics, and the REST API's signals
(``signals_submit``) with the ingestion source of REST callers."""

from __future__ import annotations

import csv
import io
import logging
import pickle
import secrets
import tempfile
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings as django_settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from klearly.outages import BROKER_ERRORS, warn_unavailable

from . import parsing
from .choices import ImportStatus, IngestionKind
from .importing import ImportReport, SignalImporter, import_csv_stream
from .models import ExportJob, ImportJob, IngestionSource, SignalTopic, SignalType, WriteKey

logger = logging.getLogger(__name__)


def import_job_create(*, kind: str, file: File, user_id: int | None = None) -> ImportJob:
    """Store an uploaded CSV and queue its import on a worker once the upload is committed."""
    from .tasks import import_job_run  # tasks import services; import here to keep the cycle one-way at load

    job = ImportJob(kind=kind, original_name=getattr(file, "name", "") or "", created_by_id=user_id)
    job.file.save(job.original_name or f"{kind}.csv", file, save=False)
    job.save()
    transaction.on_commit(lambda: _job_enqueue(import_job_run, job.pk))
    return job


def _job_enqueue(task: Any, job_id: int) -> None:
    """Queue a job's task; with the broker down the job stays queued and the sweep sends it again (never raises)."""
    try:
        task.delay(job_id)
    except BROKER_ERRORS as exc:
        warn_unavailable(logger, "broker", f"job {job_id} stays queued until the sweep sends it again", exc)


def _job_claim(model: type[ImportJob] | type[ExportJob], job_id: int) -> bool:
    """Take a queued job for this worker (one statement: a message delivered twice runs the job once)."""
    now = timezone.now()
    return bool(
        model.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now
        )
    )


def _job_fail(model: type[ImportJob] | type[ExportJob], job_id: int, exc: BaseException) -> None:
    logger.exception("%s %s failed", model.__name__, job_id)
    reason = f"the job stopped on an error: {type(exc).__name__}: {exc}"[:2000]
    model.objects.filter(pk=job_id).update(status=ImportStatus.FAILED, failure=reason, finished_at=timezone.now())


def import_job_execute(*, job_id: int) -> ImportJob:
    """Run a queued import job to the end. A job already taken (running, done, failed) is not run again, so a
    message delivered twice never imports twice; any error ends the job failed with the reason."""
    if not _job_claim(ImportJob, job_id):
        return ImportJob.objects.get(pk=job_id)
    job = ImportJob.objects.get(pk=job_id)
    try:
        job.rows_total = _data_lines(job.file)
        ImportJob.objects.filter(pk=job_id).update(rows_total=job.rows_total)

        def progress(rows: int) -> None:
            job.rows_read += rows
            ImportJob.objects.filter(pk=job_id).update(rows_read=job.rows_read, heartbeat_at=timezone.now())

        try:
            with job.file.open("rb") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                report = import_csv_stream(kind=job.kind, stream=text, progress=progress)
        except UnicodeDecodeError as exc:
            report = ImportReport(
                kind=job.kind, fatal=f"the file is not UTF-8 text (byte {exc.start}): save it as UTF-8"
            )
        _store_report(job, report)
    except Exception as exc:  # whatever stopped it, the job must not stay "running"
        _job_fail(ImportJob, job_id, exc)
        job.refresh_from_db()
    return job


def _data_lines(file: Any) -> int:
    """About how many rows a CSV file has: its lines after the header (a quoted line break counts twice)."""
    lines, last = 0, b""
    with file.open("rb") as raw:
        while chunk := raw.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last and last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def _store_report(job: ImportJob, report: ImportReport) -> None:
    job.rows_read = report.rows_read
    job.rows_total = report.rows_read if not report.fatal else job.rows_total
    job.rows_created, job.rows_updated = report.created, report.updated
    job.rows_skipped, job.rows_failed = report.skipped, report.failed
    job.errors = report.errors
    job.failure = report.fatal
    job.status = ImportStatus.FAILED if report.fatal else ImportStatus.DONE
    job.finished_at = job.heartbeat_at = timezone.now()
    job.save()


EXPORT_PROGRESS_EVERY = 5000  # rows between progress updates (and heartbeats)


def export_job_create(
    *, kind: str, queryset: QuerySet, columns: list[str] | None = None, user_id: int | None = None
) -> ExportJob:
    """Queue the export of an admin list (its filtered queryset) as CSV on a worker, once committed."""
    from .tasks import export_job_run

    job = ExportJob.objects.create(
        kind=kind, query=pickle.dumps(queryset.query), columns=list(columns or []), created_by_id=user_id
    )
    transaction.on_commit(lambda: _job_enqueue(export_job_run, job.pk))
    return job


def export_job_execute(*, job_id: int) -> ExportJob:
    """Write a queued export job's CSV file (the same columns and formula-safe cells as the admin's inline export),
    with progress; taken once (see ``import_job_execute``); any error ends it failed with the reason."""
    if not _job_claim(ExportJob, job_id):
        return ExportJob.objects.get(pk=job_id)
    job = ExportJob.objects.get(pk=job_id)
    try:
        _export_write(job)
    except Exception as exc:  # whatever stopped it, the job must not stay "running"
        _job_fail(ExportJob, job_id, exc)
    job.refresh_from_db()
    return job


def _export_write(job: ExportJob) -> None:
    from .resources import RESOURCES  # resources import the importer, which imports this module

    resource = RESOURCES[job.kind]()
    queryset = resource._meta.model.objects.all()
    queryset.query = pickle.loads(job.query)  # written by export_job_create, never by a user
    columns = job.columns or None
    total = queryset.count()
    ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
    done = 0
    with tempfile.TemporaryFile() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(resource.get_export_headers(selected_fields=columns))
        for obj in queryset.iterator(chunk_size=2000):
            writer.writerow(resource.export_resource(obj, selected_fields=columns))
            done += 1
            if done % EXPORT_PROGRESS_EVERY == 0:
                ExportJob.objects.filter(pk=job.pk).update(rows_done=done, heartbeat_at=timezone.now())
        text.flush()
        raw.seek(0)
        job.file.save(f"{job.kind}-{timezone.now():%Y-%m-%d}-{job.pk}.csv", File(raw), save=False)
        text.detach()
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        file=job.file.name, rows_done=done, rows_total=done, status=ImportStatus.DONE, finished_at=now,
        heartbeat_at=now,
    )  # fmt: skip


QUEUED_RESEND_SECONDS = 120  # a job still queued after this lost its message (the broker was down): send it again


def jobs_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """End import and export jobs whose worker died (running, no heartbeat for ``KLEARLY_JOB_STALE_SECONDS``) as
    failed with the reason, and queue again the jobs still waiting after two minutes. Returns how many of each."""
    from .tasks import export_job_run, import_job_run

    now = now or timezone.now()
    stale_before = now - timedelta(seconds=django_settings.KLEARLY_JOB_STALE_SECONDS)
    failed = resent = 0
    for model, task in ((ImportJob, import_job_run), (ExportJob, export_job_run)):
        stale = model.objects.filter(status=ImportStatus.RUNNING).filter(
            Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True, started_at__lt=stale_before)
        )
        for job_id, beat in stale.values_list("pk", "heartbeat_at"):
            reason = (
                f"the worker running this job stopped (killed or restarted): no progress since "
                f"{beat:%Y-%m-%d %H:%M:%S} UTC, more than {django_settings.KLEARLY_JOB_STALE_SECONDS} s ago. "
                "Upload the file again (rows already imported are skipped) or export again."
            )
            failed += model.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(
                status=ImportStatus.FAILED, failure=reason, finished_at=now
            )
        waiting = model.objects.filter(
            status=ImportStatus.QUEUED, created_at__lt=now - timedelta(seconds=QUEUED_RESEND_SECONDS)
        )
        for job_id in waiting.values_list("pk", flat=True):
            _job_enqueue(task, job_id)
            resent += 1
    return {"failed": failed, "resent": resent}


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


REST_SOURCE_NAME = "REST API"


def rest_api_source() -> IngestionSource:
    """The ingestion source of signals sent by operators' sessions and admin API keys."""
    source, _ = IngestionSource.objects.get_or_create(name=REST_SOURCE_NAME, defaults={"kind": IngestionKind.API})
    return source


def ingestion_source_for(*, key: Any) -> IngestionSource:
    """Where a caller's signals are stored: a write key's own source, else the shared "REST API" source.

    The source scopes idempotency: a ``message_id`` is unique within it.
    """
    if isinstance(key, WriteKey):
        return key.source
    return rest_api_source()


class SignalsChecked(Protocol):
    """What ``signals_submit`` needs of the API's checked signals (``signals_app.api.serializers.CheckedSignals``),
    named here so this module does not depend on the API layer above it."""

    rows: list[parsing.SignalRow]
    positions: list[int]

    def reject(self, index: int, field_name: str, message: str) -> None: ...


def signals_submit(*, checked: SignalsChecked, source: IngestionSource) -> tuple[int, int]:
    """Store the signals that passed the API's checks, already parsed, through the CSV importer's writer (names
    resolved a batch at a time, dedupe by message_id per source); the ones it rejects (unknown account or contact)
    join ``checked.rejected`` at their position.

    Returns (created, duplicates).
    """
    if not checked.rows:
        return 0, 0
    importer = SignalImporter()
    importer.source = source
    report = ImportReport(kind="signals", rows_read=len(checked.rows))
    with transaction.atomic():
        importer.write(list(zip(checked.positions, checked.rows, strict=True)), report)
    for error in report.errors:
        checked.reject(error["line"], error["field"], error["message"])
    return report.created, report.skipped


def signal_type_create(*, values: dict[str, Any]) -> SignalType:
    """Add a signal type (types named in imports and events are also created on the fly)."""
    return SignalType.objects.create(**values)


def signal_type_update(*, signal_type: SignalType, values: dict[str, Any]) -> SignalType:
    """Relabel or re-categorise a signal type; its key never changes."""
    for name, value in values.items():
        if name != "key":
            setattr(signal_type, name, value)
    signal_type.save()
    return signal_type


def signal_type_delete(*, signal_type: SignalType) -> None:
    """Delete a signal type no signal uses (the database refuses otherwise)."""
    signal_type.delete()


def signal_topic_create(*, values: dict[str, Any]) -> SignalTopic:
    """Add a topic: a product line, or a product type under a line (``parent``)."""
    with transaction.atomic():
        return SignalTopic.objects.create(**values)


def signal_topic_update(*, topic: SignalTopic, values: dict[str, Any]) -> SignalTopic:
    """Relabel a topic; its key and line never change."""
    if "label" in values:
        topic.label = values["label"]
        topic.save(update_fields=["label"])
    return topic


def signal_topic_delete(*, topic: SignalTopic) -> None:
    """Delete a topic (and the product types under a line); its signals keep no topic."""
    topic.delete()
