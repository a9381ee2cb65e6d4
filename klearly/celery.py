"""The Celery application. Settings come from Django's (CELERY_* names); the beat schedule lives there too."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "klearly.settings")

app = Celery("klearly")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _load_scoring_code(**kwargs) -> None:
    """Import scikit-learn and the prediction code when a worker process starts, not in the first rescore it runs
    (about a second the first marked rescore after every start would otherwise pay)."""
    import scoring.predictions  # noqa: F401
