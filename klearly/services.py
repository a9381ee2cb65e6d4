"""Writes for project-wide models: API keys. Keyword-only, typed."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone

from .models import ApiKey

if TYPE_CHECKING:
    from signals_app.models import WriteKey

API_KEY_PREFIX = "kla_"  # write keys start with "kl_", so a key's kind shows at a glance
LAST_USED_GRANULARITY = timedelta(minutes=1)


def api_key_create(*, name: str, scope: str, created_by: User | None = None) -> tuple[ApiKey, str]:
    """Create an API key; returns it and the secret, which is shown once and never stored."""
    if scope not in ApiKey.Scope.values:
        raise ValueError(f"unknown scope {scope!r}; use one of {', '.join(ApiKey.Scope.values)}")
    raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name, scope=scope, prefix=raw[:12], key_hash=ApiKey.hash_key(raw), created_by=created_by
    )
    return key, raw


def api_key_revoke(*, key: ApiKey) -> None:
    """Stop an API key from being accepted."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


def key_mark_used(*, key: ApiKey | WriteKey, now: datetime | None = None) -> bool:
    """Record that an API key or write key was used, at most once a minute per key (not a write per request).

    Returns whether a write happened. The check reads the value loaded with the key, and the UPDATE repeats it,
    so concurrent requests in the same minute write once.
    """
    now = now or timezone.now()
    last = key.last_used_at
    if last is not None and now - last < LAST_USED_GRANULARITY:
        return False
    stale = models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lt=now - LAST_USED_GRANULARITY)
    updated = type(key)._default_manager.filter(stale, pk=key.pk).update(last_used_at=now)
    key.last_used_at = now
    return bool(updated)
