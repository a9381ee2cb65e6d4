"""Rate limits per key (and per operator for sessions), rates from settings (KLEARLY_API_RATE, KLEARLY_INGEST_RATE).

Counts live in the default cache; with several server processes, configure a shared cache so they add up. When the
cache is down, requests are let through (fail open) and a warning is logged once a minute.
"""

from __future__ import annotations

import logging
import math

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from klearly.models import ApiKey
from klearly.outages import CACHE_ERRORS, warn_unavailable
from signals_app.models import WriteKey

logger = logging.getLogger(__name__)


class KeyRateThrottle(SimpleRateThrottle):
    """A request budget per key: write keys get the ingest rate, API keys and operators the API rate.

    A throttled request is answered 429 with ``Retry-After`` (seconds) by DRF.
    """

    scope = "api"
    cache_format = "klearly-throttle:%(scope)s:%(ident)s"

    def get_rate(self) -> str | None:
        rate = settings.KLEARLY_INGEST_RATE if self.scope == "ingest" else settings.KLEARLY_API_RATE
        return rate or None  # an empty rate turns throttling off

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.scope = "ingest" if isinstance(request.auth, WriteKey) else "api"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:  # fail open: the cache (Redis) is down, the request is served unthrottled
            warn_unavailable(logger, "cache", "API rate limits are not applied", exc)
            return True

    def get_cache_key(self, request: Request, view: APIView) -> str:
        auth = request.auth
        if isinstance(auth, ApiKey):
            ident = f"api-key-{auth.pk}"
        elif isinstance(auth, WriteKey):
            ident = f"write-key-{auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def wait(self) -> float | None:
        wait = super().wait()
        return None if wait is None else max(1, math.ceil(wait))  # Retry-After is whole seconds, at least 1
