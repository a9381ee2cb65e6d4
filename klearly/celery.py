"""The Celery application. Settings come from Django's (CELERY_* names); the beat schedule lives there too."""

import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "klearly.settings")

app = Celery("klearly")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _load_scoring_code(**kwargs) -> None:
    """Import scikit-learn and the prediction code when a worker process starts, not in the first rescore it runs
    (about a second the first marked rescore after every start would otherwise pay)."""
    import scoring.predictions  # noqa: F401


@worker_ready.connect
def _rescore_left_marks(**kwargs) -> None:
    """A worker is up: queue a rescore if accounts are still marked. A worker killed mid-rescore leaves its message
    unacknowledged in Redis until the visibility timeout (15 minutes); this picks the work up now. Failures are
    logged, never raised: the worker must start even while the database is down (beat sweeps every minute)."""
    from django.db import connections

    from scoring.tasks import rescore_marked_on_worker_start

    try:
        rescore_marked_on_worker_start()
    except Exception:
        import logging

        logging.getLogger(__name__).exception("Could not check for accounts left to rescore at worker start")
    finally:
        # The main process keeps no connection open for nothing (pool processes close what they inherit anyway).
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                connection.close()
