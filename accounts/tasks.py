"""Celery entry points for accounts."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def segments_evaluate_all() -> dict[str, tuple[int, int]]:
    """Re-evaluate every segment's membership (beat, hourly)."""
    return services.segments_evaluate_all()
