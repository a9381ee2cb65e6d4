"""Login throttling (django-axes) on ``/login/`` and ``/admin/login/``: a username is locked after
``KLEARLY_LOGIN_FAILURE_LIMIT`` failed logins from anywhere, a client address after
``KLEARLY_LOGIN_IP_FAILURE_LIMIT`` failed logins on any usernames, each for ``KLEARLY_LOGIN_COOLOFF_MINUTES``; a
locked login answers 429 with a page that says so (even with the right password). The failures are rows of axes'
``AccessAttempt`` (admin → Axes), so every server process sees them; deleting them there unlocks at once.

The client address is ``REMOTE_ADDR``, or, when the operator says ``KLEARLY_TRUSTED_PROXY_COUNT`` proxies stand in
front, the address the outermost of them saw (read from ``X-Forwarded-For`` from the right, as DRF's throttles do).
"""

from __future__ import annotations

import ipaddress

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse


def client_ip(request: HttpRequest) -> str:
    """The client's address as far as the trusted proxies tell it (``AXES_CLIENT_IP_CALLABLE``)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.KLEARLY_TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies <= 0 or not forwarded:
        return remote
    candidate = forwarded[-min(proxies, len(forwarded))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # not written by a proxy we trust: the connection's address is all we know
        return remote


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' check before the password is: a locked username or address cannot log in, whatever the password.

    ``authenticate()`` without a request (a script, a management command) has no client to throttle: it is let
    through to the next backend instead of failing as axes' own backend does."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs):  # fmt: skip
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler with one limit per username and another per address.

    Axes compares one failure count with one limit (``AXES_FAILURE_LIMIT``, the username limit): the address's
    count is given in units of that limit, so it reaches it exactly when the address reaches its own limit."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        # One queryset per entry of AXES_LOCKOUT_PARAMETERS: ["username", "ip_address"].
        by_username, by_address = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        username_limit, address_limit = settings.AXES_FAILURE_LIMIT, settings.KLEARLY_LOGIN_IP_FAILURE_LIMIT
        return max(by_username, by_address * username_limit // address_limit)


def lockout_response(request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None):
    """The page a locked login gets (``AXES_LOCKOUT_CALLABLE``): 429 with Retry-After, and what to do."""
    minutes = settings.KLEARLY_LOGIN_COOLOFF_MINUTES
    login_url = reverse("admin:login") if request.path.startswith(reverse("admin:index")) else reverse("login")
    page = render(request, "registration/locked_out.html", {"minutes": minutes, "login_url": login_url}, status=429)
    page["Retry-After"] = str(minutes * 60)
    return page
