"""Listeners: what scoring does when other parts of Klearly announce something."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def rescore_soon(sender: Any, account_ids: frozenset[int], **kwargs: Any) -> None:
    """Accounts changed (sent after their transaction committed): queue one debounced rescore of the marked accounts.

    The marks themselves were written in the transaction; a rescore already running when it committed could not see
    it, so it leaves those marks for the next run (``accounts.services.marks_clear``).

    A failure here (broker down; in eager mode, the rescore itself) is logged, not raised: the write that announced
    the change has committed, and its marks stay for the next run or the nightly rescore.
    """
    from .tasks import rescore_marked_enqueue

    try:
        rescore_marked_enqueue()
    except Exception:
        logger.exception("Could not rescore %d changed accounts now; their rescore marks are kept", len(account_ids))


def config_changed(**kwargs: Any) -> None:
    """A scoring rule, weight, band or threshold was saved or deleted: a new configuration version."""
    if kwargs.get("raw"):  # fixtures being loaded
        return
    from django.db import transaction

    from .services import config_version_bump
    from .tasks import rescore_all_enqueue

    config_version_bump()
    # Every account's numbers may change: rescore them all once the change is committed (debounced).
    transaction.on_commit(rescore_all_enqueue)
