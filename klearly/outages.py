"""What Klearly does when a dependency is down: which errors mean "unreachable", and a warning logged at most once a
minute per process and dependency (not once per request while Redis or PostgreSQL is away).

- Redis as cache down: rate limits fail open, the rescore debounce is skipped (see the callers).
- Redis as broker down: queuing a task fails quietly; the work is durable in PostgreSQL (rescore marks, queued jobs,
  pending webhook deliveries) and beat queues it again once the broker is back.
- PostgreSQL down: ``klearly.middleware.DatabaseUnavailableMiddleware`` answers 503 with Retry-After.
"""

from __future__ import annotations

import logging
import time

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as KombuOperationalError

try:
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - redis-py comes with celery[redis]
    RedisError = OSError  # type: ignore[assignment,misc]

# The cache backend (django's RedisCache) raises redis-py's errors; a socket error can surface as OSError.
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)
# Publishing a task: kombu wraps connection failures in its OperationalError.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuOperationalError, *CACHE_ERRORS)
DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)

WARN_EVERY_SECONDS = 60.0
_last_warned: dict[str, float] = {}


def warn_unavailable(logger: logging.Logger, dependency: str, message: str, exc: BaseException) -> None:
    """Log that ``dependency`` is unavailable, at most once a minute per process (the first time with the error)."""
    now = time.monotonic()
    if now - _last_warned.get(dependency, -WARN_EVERY_SECONDS) < WARN_EVERY_SECONDS:
        return
    _last_warned[dependency] = now
    logger.warning("%s unavailable: %s (%s: %s)", dependency, message, type(exc).__name__, exc)


def dependencies_check() -> dict[str, str]:
    """Whether each dependency answers now: ``database`` ok/down; ``cache`` ok/down, or "local" (a per-process memory
    cache, nothing to reach); ``broker`` ok/down, or "eager" (no broker: tasks run in the web process)."""
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection

    states: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        states["database"] = "ok"
    except DATABASE_ERRORS:
        states["database"] = "down"
    if str(settings.CACHES["default"]["BACKEND"]).endswith("LocMemCache"):
        states["cache"] = "local"
    else:
        try:
            cache.set("healthz", 1, 10)
            states["cache"] = "ok"
        except CACHE_ERRORS:
            states["cache"] = "down"
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL:
        states["broker"] = "eager"
    else:
        # The project's app (klearly/__init__.py makes it current); named through celery, so the apps that use this
        # module do not depend on klearly.celery, which imports the scoring code for its worker hooks.
        from celery import current_app as app

        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            states["broker"] = "ok"
        except BROKER_ERRORS:
            states["broker"] = "down"
    return states
