"""The Celery application. Settings come from Django's (CELERY_* names); the beat schedule lives there too."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "klearly.settings")

app = Celery("klearly")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
