"""Request budgets, counted in the shared cache: the one rate limiter of the event endpoint (``/ingest/``) and the
REST API (``/api/v1/``, through ``klearly.api.throttling.KeyRateThrottle``).

- a write key has one budget, ``KLEARLY_INGEST_RATE``, for everything it may call: the event endpoint and
  ``POST /api/v1/signals/`` draw on the same count;
- an API key, a logged-in operator and an anonymous address each have ``KLEARLY_API_RATE`` on ``/api/v1/``.

Counts are kept per fixed window of the rate's period (one atomic ``incr`` per request); a caller over its budget
waits for the next window (``Retry-After``). With several server processes the cache must be shared (Redis) for
the counts to add up. When the cache is down, requests are let through (fail open) and a warning is logged once a
minute.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from klearly.outages import CACHE_ERRORS, warn_unavailable

logger = logging.getLogger(__name__)
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int] | None:
    """A rate such as "1200/min" as (requests, seconds); None for an empty rate (no limit)."""
    if not rate:
        return None
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period[0]]


def rate_wait(*, ident: str, rate: str) -> int:
    """Count a request of ``ident`` against ``rate``: 0 when it is within its budget, else the whole seconds (at
    least 1) until the next window. Fails open: 0 when the cache cannot be reached."""
    parsed = rate_parse(rate)
    if parsed is None:
        return 0
    limit, period = parsed
    now = time.time()
    name = f"klearly:rate:{ident}:{period}:{int(now // period)}"
    try:
        cache.add(name, 0, timeout=period + 10)
        try:
            count = cache.incr(name)
        except ValueError:  # the window's count expired between add and incr
            count = 1
    except CACHE_ERRORS as exc:
        warn_unavailable(logger, "cache", "rate limits are not applied", exc)
        return 0
    return max(1, math.ceil(period - now % period)) if count > limit else 0


def write_key_wait(*, key_id: int) -> int:
    """``rate_wait`` on a write key's one budget (``KLEARLY_INGEST_RATE``), wherever it is used."""
    return rate_wait(ident=f"write-key-{key_id}", rate=settings.KLEARLY_INGEST_RATE)
