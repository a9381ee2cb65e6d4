"""Backtests: how a qualification threshold would have done against the stage movements of a past period.

At each cut-off (weekly by default) every account that existed and was in a free stage is scored as of that
moment (signals before the cut-off only; the scorecard of today, or with the threshold to try), and "qualified"
is compared with whether it converted within the horizon after the cut-off. Precision, recall and lift over the
base rate say whether the bar separates buyers from the rest.

Known approximation: segment memberships (for boosts) and milestones are taken as they are today.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from accounts.choices import Movement, StageKind
from accounts.models import Account, StageTransition

from .services import chunk_compute, chunk_read, scorecard_load


@dataclass
class BacktestResult:
    """The confusion counts and rates of one threshold over one period."""

    threshold: float
    start: datetime
    end: datetime
    horizon_days: int
    cutoffs: int = 0
    examples: int = 0
    positives: int = 0
    qualified: int = 0
    true_positives: int = 0
    by_cutoff: list[dict] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.qualified if self.qualified else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.positives if self.positives else None

    @property
    def base_rate(self) -> float | None:
        return self.positives / self.examples if self.examples else None

    @property
    def lift(self) -> float | None:
        if self.precision is None or not self.base_rate:
            return None
        return self.precision / self.base_rate


def threshold_backtest(
    *,
    start: datetime,
    end: datetime,
    threshold: float | None = None,
    step_days: int = 7,
    horizon_days: int = 30,
    chunk_size: int = 2000,
) -> BacktestResult:
    """Replay the lead-score threshold at each cut-off in [start, end) against conversions in the horizon."""
    card = scorecard_load()
    bar = card.settings.qualification_threshold if threshold is None else threshold
    result = BacktestResult(threshold=bar, start=start, end=end, horizon_days=horizon_days)
    history: dict[int, list[tuple[datetime, str, str]]] = defaultdict(list)
    for account_id, when, kind, movement in StageTransition.objects.order_by("account_id", "changed_at").values_list(
        "account_id", "changed_at", "to_stage__kind", "movement"
    ):
        history[account_id].append((when, kind, movement))
    created = dict(Account.objects.values_list("pk", "created_at"))
    cutoff = start
    while cutoff < end:
        horizon = cutoff + timedelta(days=horizon_days)
        free, converted = [], set()
        for account_id, moves in history.items():
            if created.get(account_id) and created[account_id] > cutoff:
                continue
            times = [m[0] for m in moves]
            before = bisect.bisect_right(times, cutoff)
            if before == 0 or moves[before - 1][1] != StageKind.FREE:
                continue
            free.append(account_id)
            after = bisect.bisect_right(times, horizon)
            if any(m[2] == Movement.CONVERSION for m in moves[before:after]):
                converted.add(account_id)
        qualified = 0
        hits = 0
        for begin in range(0, len(free), chunk_size):
            ids = free[begin : begin + chunk_size]
            computed = chunk_compute(chunk=chunk_read(account_ids=ids, card=card, now=cutoff), card=card, now=cutoff)
            for row in computed.account_scores:
                if row["lead"] >= bar:
                    qualified += 1
                    hits += row["account_id"] in converted
        result.cutoffs += 1
        result.examples += len(free)
        result.positives += len(converted)
        result.qualified += qualified
        result.true_positives += hits
        result.by_cutoff.append({"cutoff": cutoff, "free": len(free), "converted": len(converted),
                                 "qualified": qualified, "qualified_converted": hits})  # fmt: skip
        cutoff += timedelta(days=step_days)
    return result
