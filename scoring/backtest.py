"""Backtests: how a qualification threshold, or a signal rule, would have done against the stage movements of a
past period.

At each cut-off (weekly by default) every account that existed and was in the stage kind the movement starts from
(free for a conversion, paying for an expansion, contraction or churn, churned for a reactivation) is scored as of
that moment, point in time: signals before the cut-off only, milestones reached by then, segment memberships open
then (``SegmentMembership`` entered/exited), the stage the stage history gives then; the scorecard is today's (or
has the threshold to try). The prediction ("qualified", or "the rule holds") is
compared with whether the movement happened within the horizon after the cut-off. Precision, recall and lift over
the base rate say whether the bar or the rule separates the accounts that moved from the rest.

Known approximation: account fields without history (employees, industry, traits) are today's.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from accounts.choices import Movement, StageKind
from accounts.models import Account, StageTransition

from .models import SignalRule
from .rescore.compute import chunk_compute
from .rescore.read import chunk_read
from .rules import rule_holds, rule_measures
from .scorecard import scorecard_load

# Which accounts can make each movement: those in these stage kinds at the cut-off.
MOVEMENT_FROM = {
    Movement.CONVERSION: (StageKind.FREE,),
    Movement.EXPANSION: (StageKind.PAYING,),
    Movement.CONTRACTION: (StageKind.PAYING,),
    Movement.CHURN: (StageKind.PAYING,),  # churn is a paying customer leaving (accounts.stages)
    Movement.REACTIVATION: (StageKind.CHURN,),
}


@dataclass
class BacktestResult:
    """The confusion counts and rates of one threshold (or rule) over one period."""

    threshold: float | None
    start: datetime
    end: datetime
    horizon_days: int
    rule: str = ""
    movement: str = Movement.CONVERSION
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

    def predict(ids: list[int], cutoff: datetime) -> list[int]:
        computed = chunk_compute(chunk=chunk_read(account_ids=ids, card=card, now=cutoff), card=card, now=cutoff)
        return [a for a, lead in zip(computed.account_ids, computed.scores["lead"], strict=True) if lead >= bar]

    return _replay(result, predict, step_days=step_days, chunk_size=chunk_size)


def rule_backtest(
    *,
    rule: SignalRule,
    start: datetime,
    end: datetime,
    movement: str = Movement.CONVERSION,
    step_days: int = 7,
    horizon_days: int = 30,
    chunk_size: int = 2000,
) -> BacktestResult:
    """Replay a signal rule (as it is now, active or not) at each cut-off in [start, end) against the movement in
    the horizon: the measures it reads are computed as of each cut-off, like the threshold backtest's scores."""
    card = scorecard_load()
    result = BacktestResult(
        threshold=None, start=start, end=end, horizon_days=horizon_days, rule=rule.name, movement=movement
    )

    def predict(ids: list[int], cutoff: datetime) -> list[int]:
        computed = chunk_compute(chunk=chunk_read(account_ids=ids, card=card, now=cutoff), card=card, now=cutoff)
        scored = computed.account_ids
        holds = rule_holds(rule=rule, account_ids=scored, now=cutoff, measures=rule_measures(computed.scores))
        return [a for a, h in zip(scored, holds.tolist(), strict=True) if h]

    return _replay(result, predict, step_days=step_days, chunk_size=chunk_size)


def _replay(result: BacktestResult, predict: Any, *, step_days: int, chunk_size: int) -> BacktestResult:
    """At each cut-off: the accounts that could make the movement, which did within the horizon, which were
    predicted to (``predict(ids, cutoff)`` gives those of ``ids``)."""
    kinds = MOVEMENT_FROM[Movement(result.movement)]
    history: dict[int, list[tuple[datetime, str, str]]] = defaultdict(list)
    transitions = StageTransition.objects.exclude(movement=Movement.NONE).order_by("account_id", "changed_at", "id")
    for account_id, when, kind, movement in transitions.values_list(
        "account_id", "changed_at", "to_stage__kind", "movement"
    ):
        history[account_id].append((when, kind, movement))
    created = dict(Account.objects.values_list("pk", "created_at"))
    cutoff = result.start
    while cutoff < result.end:
        horizon = cutoff + timedelta(days=result.horizon_days)
        eligible, moved = [], set()
        for account_id, moves in history.items():
            if created.get(account_id) and created[account_id] > cutoff:
                continue
            times = [m[0] for m in moves]
            before = bisect.bisect_right(times, cutoff)
            if before == 0 or moves[before - 1][1] not in kinds:
                continue
            eligible.append(account_id)
            after = bisect.bisect_right(times, horizon)
            if any(m[2] == result.movement for m in moves[before:after]):
                moved.add(account_id)
        predicted = 0
        hits = 0
        for begin in range(0, len(eligible), chunk_size):
            for account_id in predict(eligible[begin : begin + chunk_size], cutoff):
                predicted += 1
                hits += account_id in moved
        result.cutoffs += 1
        result.examples += len(eligible)
        result.positives += len(moved)
        result.qualified += predicted
        result.true_positives += hits
        result.by_cutoff.append({"cutoff": cutoff, "free": len(eligible), "converted": len(moved),
                                 "qualified": predicted, "qualified_converted": hits})  # fmt: skip
        cutoff += timedelta(days=step_days)
    return result
