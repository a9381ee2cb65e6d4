"""Celery entry points for signals: take ids, call one service."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def import_job_run(job_id: int) -> str:
    """Import the CSV file of an ImportJob."""
    job = services.import_job_execute(job_id=job_id)
    return job.status
