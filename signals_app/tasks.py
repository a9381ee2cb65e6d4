"""Celery entry points for signals: take ids, call one service."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def import_job_run(job_id: int) -> str:
    """Import the CSV file of an ImportJob (a job already taken is not run twice; errors fail the job)."""
    job = services.import_job_execute(job_id=job_id)
    return job.status


@shared_task(acks_late=True)
def export_job_run(job_id: int) -> str:
    """Write the CSV file of an ExportJob."""
    job = services.export_job_execute(job_id=job_id)
    return job.status


@shared_task(acks_late=True)
def jobs_sweep() -> dict[str, int]:
    """Beat, every minute: fail import/export jobs whose worker died, queue again those whose message was lost."""
    return services.jobs_sweep()
