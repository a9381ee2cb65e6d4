"""Listeners: what signals_app does when other parts of Klearly announce something."""

from __future__ import annotations

from typing import Any


def refresh_last_seen(sender: Any, account_ids: frozenset[int], **kwargs: Any) -> None:
    """New signals were committed for these accounts: refresh their contacts' last activity on a worker."""
    from .tasks import contacts_last_seen_refresh

    contacts_last_seen_refresh.delay(sorted(account_ids))


def forget_write_keys(**kwargs: Any) -> None:
    """A write key or source changed: drop this process's cache of key lookups (others expire within 30 s)."""
    from .selectors import WRITE_KEYS

    WRITE_KEYS.clear()
