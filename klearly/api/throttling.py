"""The REST API's throttle: ``klearly.rate_limits`` per key, operator or address, answered 429 with ``Retry-After``."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from klearly.models import ApiKey
from klearly.rate_limits import rate_wait, write_key_wait
from signals_app.models import WriteKey


class KeyRateThrottle(BaseThrottle):
    """A request budget per caller: a write key's one budget (shared with the event endpoint), or
    ``KLEARLY_API_RATE`` per API key, operator or anonymous address."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        auth = request.auth
        if isinstance(auth, WriteKey):
            self.seconds = write_key_wait(key_id=auth.pk)
        else:
            if isinstance(auth, ApiKey):
                ident = f"api-key-{auth.pk}"
            elif request.user and request.user.is_authenticated:
                ident = f"user-{request.user.pk}"
            else:
                ident = f"anon-{self.get_ident(request)}"
            self.seconds = rate_wait(ident=ident, rate=settings.KLEARLY_API_RATE)
        return not self.seconds

    def wait(self) -> float | None:
        return self.seconds or None
