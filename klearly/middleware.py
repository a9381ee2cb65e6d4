"""While PostgreSQL is unreachable, every request is answered 503 with ``Retry-After`` instead of a 500.

JSON for ``/api/`` and ``/ingest/`` (what API clients and the Segment/RudderStack libraries read and retry on; message
ids make their retries idempotent), a short HTML page elsewhere. Two ways in, so no path is missed:

- ``process_exception``: a view (DRF or not) raised; this covers the key and write-key lookups, which run in views.
- Django's ``got_request_exception`` signal marks the request when the error was raised anywhere else (another
  middleware: a session save, a user lookup), and the 500 Django made of it is replaced on the way out.

Django re-opens a broken connection on the next request (``CONN_HEALTH_CHECKS``), so answers return to normal as soon
as the database does.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse, JsonResponse

from .outages import DATABASE_ERRORS, warn_unavailable

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
JSON_PREFIXES = ("/api/", "/ingest/")
MESSAGE = "the database is unavailable; retry later"
PAGE = (
    "<!doctype html><html><head><title>Klearly is unavailable</title></head><body>"
    "<h1>Klearly is briefly unavailable</h1><p>Its database cannot be reached. This page will work again as soon as "
    "it is back; try again in a few seconds.</p></body></html>"
)


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 answer (JSON or HTML by path) with Retry-After."""
    response: HttpResponse
    if request.path.startswith(JSON_PREFIXES):
        # "detail" is what DRF clients read; "success"/"code"/"message" what the tracking libraries read.
        response = JsonResponse(
            {"success": False, "code": "unavailable", "message": MESSAGE, "detail": MESSAGE}, status=503
        )
    else:
        response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _remember_database_error(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    exc = sys.exc_info()[1]
    if request is not None and isinstance(exc, DATABASE_ERRORS):
        request._klearly_database_error = exc  # type: ignore[attr-defined]


class DatabaseUnavailableMiddleware:
    """Turns database connection errors into 503 + Retry-After (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        got_request_exception.connect(_remember_database_error, dispatch_uid="klearly-database-unavailable")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        exc = getattr(request, "_klearly_database_error", None)
        if exc is not None and response.status_code == 500:
            warn_unavailable(logger, "PostgreSQL", f"answering 503 to {request.method} {request.path}", exc)
            return database_unavailable_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            warn_unavailable(logger, "PostgreSQL", f"answering 503 to {request.method} {request.path}", exception)
            return database_unavailable_response(request)
        return None
