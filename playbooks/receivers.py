"""Listeners: scoring and accounts announce changes (after commit); playbooks queue their matching on the worker.

Only ids and plain values travel to the task, never model instances; big chunks are split so one message stays
small. A failure to queue (broker down) is logged, not raised: the write that announced the change has committed.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

BATCH = 1000  # changes per task message


def _enqueue(kind: str, payload: dict[str, Any]) -> None:
    from .tasks import playbooks_run

    try:
        playbooks_run.delay(kind, payload)
    except Exception:
        logger.exception("Could not run playbooks for %s changes", kind)


def on_scores_changed(sender: Any, changes: list[dict], computed_at: str, **kwargs: Any) -> None:
    """A rescored chunk's changed accounts: match score-triggered playbooks on the worker."""
    for start in range(0, len(changes), BATCH):
        _enqueue("scores", {"changes": changes[start : start + BATCH], "computed_at": computed_at})


def on_stages_moved(sender: Any, movements: list[dict], **kwargs: Any) -> None:
    """Accounts moved stage: stage-movement playbooks and goal checks on the worker."""
    for start in range(0, len(movements), BATCH):
        _enqueue("stages", {"movements": movements[start : start + BATCH]})


def on_segments_changed(sender: Any, segment: int, entered: list[int], left: list[int], at: str, **kwargs: Any) -> None:
    """Accounts entered or left a segment: segment playbooks on the worker."""
    for start in range(0, max(len(entered), len(left)), BATCH):
        _enqueue("segments", {"segment": segment, "entered": entered[start : start + BATCH],
                              "left": left[start : start + BATCH], "at": at})  # fmt: skip
