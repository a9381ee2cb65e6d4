"""Hooks other apps listen to. ``accounts`` announces; it never imports its listeners.

``rescore_requested`` is sent once per committed transaction with the ids of the accounts whose scores may have
changed (new signals, new stage, changed fields). The scoring app connects a receiver that enqueues its debounced
rescoring task; the durable record of what to rescore is the ``RescoreMark`` table, so nothing is lost if no
receiver is connected or a worker is down.
"""

from django.dispatch import Signal as Hook

rescore_requested = Hook()  # sent with account_ids: frozenset[int]

# Sent once per committed transaction instead of ``rescore_requested`` when a change touched so large a share of the
# accounts that one full rescore is cheaper than rescoring each marked account (no marks are written for it; the
# nightly full rescore is the backstop if nothing listens).
rescore_all_requested = Hook()

# Sent after commit when accounts' current stage changed, with movements: list[dict] of plain values
# ({"account": id, "from_stage": stage id or None, "to_stage": stage id, "movement": str, "changed_at": ISO text}).
stages_moved = Hook()

# Sent after commit when a segment's membership changed, with segment: int (id), entered: list[int] and
# left: list[int] (account ids) and at: ISO text.
segments_changed = Hook()
