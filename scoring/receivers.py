"""Listeners: what scoring does when other parts of Klearly announce something."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models.signals import post_delete

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


def rescore_all_soon(sender: Any, **kwargs: Any) -> None:
    """A change touched a large share of the accounts (sent after commit): queue one debounced full rescore."""
    from .tasks import rescore_all_enqueue

    try:
        rescore_all_enqueue()
    except Exception:
        logger.exception("Could not queue a full rescore; the nightly rescore will catch up")


# What of a signal type scores read: activation counts milestones, adoption key features, explanations show labels.
SIGNAL_TYPE_SCORED_FIELDS = ("is_activation_milestone", "is_key_feature", "label")


def signal_type_before_save(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """Remember what a saved signal type had (one query per admin save; types created by ingestion have no pk)."""
    if raw or instance.pk is None:
        return
    instance._scoring_before = sender.objects.filter(pk=instance.pk).values_list(*SIGNAL_TYPE_SCORED_FIELDS).first()


def signal_type_changed(sender: Any, instance: Any, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    """A signal type became (or stopped being) a milestone or key feature, was renamed or deleted: every account's
    activation, adoption or explanations may move, so one debounced full rescore runs after commit (never one mark
    per account). A new type that is neither counts for nothing yet."""
    if raw:
        return
    now = tuple(getattr(instance, f) for f in SIGNAL_TYPE_SCORED_FIELDS)
    if kwargs.get("signal") is post_delete:  # its signals, rules and boosts went with it
        changed = True
    elif created:
        changed = instance.is_activation_milestone or instance.is_key_feature
    else:
        changed = getattr(instance, "_scoring_before", now) != now
    if changed:
        config_changed()


def signal_rule_changed(sender: Any, raw: bool = False, **kwargs: Any) -> None:
    """A signal rule was saved or deleted: its hits are re-evaluated for every account by one debounced full
    rescore after commit (rule evaluation is part of each rescore)."""
    if raw:
        return
    from django.db import transaction

    from .tasks import rescore_all_enqueue

    transaction.on_commit(rescore_all_enqueue)
