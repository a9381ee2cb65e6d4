"""Listeners: what signals_app does when other parts of Klearly announce something."""

from __future__ import annotations

from typing import Any


def forget_write_keys(**kwargs: Any) -> None:
    """A write key or source changed: drop this process's cache of key lookups (others expire within 30 s)."""
    from .selectors import WRITE_KEYS

    WRITE_KEYS.clear()
