"""The service suite: real PostgreSQL, Redis as broker, a real Celery worker process, real HTTP.

Run by ``.ci/run`` as ``pytest -m services`` with DATABASE_URL and CELERY_BROKER_URL set (see README).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def needs_postgres():
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        # These tests only run when asked for (-m services); asked for without the real database, they must fail
        # rather than pass by skipping.
        pytest.fail("the service suite needs DATABASE_URL pointing at PostgreSQL (see README)")


@pytest.fixture
def celery_worker_process(needs_postgres, transactional_db, settings) -> Iterator[subprocess.Popen]:
    """A real ``celery worker`` process on the configured broker, reading the test database."""
    if not settings.CELERY_BROKER_URL or settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.fail("the worker tests need CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/15 (see README)")
    from django.db import connection

    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DJANGO_SETTINGS_MODULE": "klearly.settings",
    }
    log = open(settings.MEDIA_ROOT.parent / "worker.log", "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "klearly", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"test-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        from klearly.celery import app

        deadline = time.monotonic() + 60  # wait until the worker answers, so tests time their work, not its start
        while not app.control.ping(timeout=0.5, destination=[f"test-{os.getpid()}@{socket.gethostname()}"]):
            assert worker.poll() is None, "the worker exited: see worker.log"
            assert time.monotonic() < deadline, "the worker did not answer a ping within 60 s"
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        if os.environ.get("CI"):
            print((settings.MEDIA_ROOT.parent / "worker.log").read_text()[-4000:])


@pytest.fixture
def server_process(needs_postgres, transactional_db, settings) -> Iterator[str]:
    """The production server (gunicorn) in its own process, on the test database; yields its base URL."""
    import urllib.request

    from django.db import connection

    db = settings.DATABASES["default"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
        "DEBUG": "false",
        "SECRET_KEY": "service-tests",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "klearly.settings",
    }
    env.pop("CELERY_BROKER_URL", None)  # the server runs follow-up tasks in-process here
    log = open(settings.MEDIA_ROOT.parent / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "klearly.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                assert server.poll() is None, "the server exited: see server.log"
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def wait_for(predicate, *, timeout: float = 90.0, interval: float = 0.5):
    """Poll until ``predicate()`` is truthy; fail with the last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    assert value, f"gave up after {timeout}s"
    return value
