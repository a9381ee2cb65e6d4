"""What scoring announces. ``scoring`` never imports its listeners (playbooks connect a receiver).

``scores_changed`` is sent once per rescored chunk, after the chunk's transaction committed, with the accounts
whose tracked values changed or whose rule hits were set or cleared::

    changes = [{"account": 12,
                "before": {"lead": 60.0, "grade": "B", ...} or None (first scoring),
                "after": {"lead": 70.5, "grade": "B", ...},
                "hits_set": [3], "hits_cleared": []}, ...]   # signal rule ids
    computed_at = "2026-06-01T12:00:00+00:00"               # the rescore's time (ISO 8601)

Only plain values (JSON-ready), so a receiver can hand them to a Celery task as they are. ``ANNOUNCED_SCORE_FIELDS``
are the AccountScore columns compared; predictions add their probabilities (``conversion_probability``,
``expansion_probability``, ``churn_probability``) and ``health`` to the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.dispatch import Signal as Hook

scores_changed = Hook()  # sent with changes: list[dict], computed_at: str

ANNOUNCED_SCORE_FIELDS = (
    "lead",
    "fit",
    "engagement",
    "signal_strength",
    "grade",
    "temperature",
    "qualified",
    "surging",
)


def score_changes(
    *,
    before: dict[int, tuple],
    after: Sequence[dict[str, Any]],
    hits_set: Sequence[tuple[int, int]] = (),
    hits_cleared: Sequence[tuple[int, int]] = (),
    fields: Sequence[str] = ANNOUNCED_SCORE_FIELDS,
) -> list[dict[str, Any]]:
    """The compact changes of a chunk: ``before`` maps account id to its previous values (in ``fields`` order),
    ``after`` holds the new score rows, hits are (rule id, account id) pairs. Plain Python: about a millisecond for
    a thousand accounts."""
    set_by: dict[int, list[int]] = {}
    for rule_id, account_id in hits_set:
        set_by.setdefault(account_id, []).append(rule_id)
    cleared_by: dict[int, list[int]] = {}
    for rule_id, account_id in hits_cleared:
        cleared_by.setdefault(account_id, []).append(rule_id)
    changes = []
    for row in after:
        account_id = row["account_id"]
        new = tuple(row[f] for f in fields)
        old = before.get(account_id)
        opened, closed = set_by.get(account_id, []), cleared_by.get(account_id, [])
        if old == new and not opened and not closed:
            continue
        changes.append(
            {
                "account": account_id,
                "before": None if old is None else dict(zip(fields, old, strict=True)),
                "after": dict(zip(fields, new, strict=True)),
                "hits_set": opened,
                "hits_cleared": closed,
            }
        )
    return changes


def scores_changed_announce(*, changes: list[dict[str, Any]], computed_at: str) -> None:
    """Send ``scores_changed`` once the current transaction commits (at once outside one)."""
    if not changes:
        return
    from django.db import transaction

    transaction.on_commit(lambda: scores_changed.send(sender=None, changes=changes, computed_at=computed_at))
