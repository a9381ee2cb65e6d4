"""Training examples: accounts at past cut-offs, labelled by whether the outcome's movement followed in the horizon.

An example (account, cut-off ``t``) exists for an outcome when the account existed before ``t`` and its stage just
before ``t`` is of a kind the outcome applies to (conversion: free; expansion: paying below the top rank; churn: free
or paying). It is positive when the account made that movement in ``(t, t + horizon]``. Cut-offs whose horizon
runs past the end of the data are not labelled (the answer is not known yet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .features import FeatureSpace, features_at
from .history import DAY, OUTCOME_KINDS, OUTCOME_MOVEMENT, OUTCOMES, History

Progress = Callable[[int], object]


def cutoffs_weekly(h: History, *, horizon_days: int, step_days: int = 7, span_days: int | None = None) -> np.ndarray:
    """Cut-offs every ``step_days`` ending ``horizon_days`` before the end of the data (the latest labelled one),
    going back ``span_days`` (default: to 30 days after the first data, so the first ones have some history)."""
    end = h.data_end - horizon_days * DAY
    start = h.data_start + 30 * DAY
    if span_days is not None:
        start = max(start, end - span_days * DAY)
    if end < start:
        return np.zeros(0)
    n = int((end - start) // (step_days * DAY)) + 1
    return np.sort(end - step_days * DAY * np.arange(n))


def eligible_at(h: History, outcome: str, t: float, *, current_stage: bool = False) -> np.ndarray:
    """Indexes of the accounts the outcome applies to at ``t``."""
    idx = np.flatnonzero(h.created < t)
    stage = h.stage_at(t, idx)
    if current_stage:
        stage = np.where(stage >= 0, stage, h.stage_now[idx])
    kind = h.kind_of(stage)
    ok = np.isin(kind, OUTCOME_KINDS[outcome])
    if outcome == "expansion" and len(h.stage_ranks):
        top = h.stage_ranks.max()
        ranks = np.append(h.stage_ranks, 0)[np.where(stage >= 0, stage, len(h.stage_ranks))]
        ok &= ranks < top
    return idx[ok]


def labels_at(h: History, outcome: str, t: float, idx: np.ndarray, horizon_days: int) -> np.ndarray:
    """1 where the account made the outcome's movement in (t, t + horizon]."""
    made = h.movements_between(OUTCOME_MOVEMENT[outcome], idx, t, t + horizon_days * DAY)
    return (made > 0).astype(np.int8)


def ever_at(h: History, outcome: str, t: float, idx: np.ndarray) -> np.ndarray:
    """1 where the account made the outcome's movement at any time after ``t`` (what a leaking field tells)."""
    return (h.movements_between(OUTCOME_MOVEMENT[outcome], idx, t, max(h.data_end, t)) > 0).astype(np.int8)


@dataclass
class Examples:
    """Examples of one outcome: features, labels, the cut-off and account index of each row (rows by cut-off)."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    account: np.ndarray
    ever: np.ndarray | None = None  # 1 where the account makes the movement at any time after the cut-off (leakage)

    def take(self, mask: np.ndarray) -> Examples:
        ever = None if self.ever is None else self.ever[mask]
        return Examples(self.x[mask], self.y[mask], self.t[mask], self.account[mask], ever)

    @property
    def positives(self) -> int:
        return int(self.y.sum())


def examples_build(
    h: History,
    space: FeatureSpace,
    cutoffs: np.ndarray,
    *,
    horizon_days: int,
    outcomes: tuple[str, ...] = OUTCOMES,
    max_examples: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Examples]:
    """Examples of each outcome at each cut-off. Features are computed once per cut-off for the accounts any
    outcome needs. With ``max_examples``, an outcome with more examples keeps a uniform random sample of them (the
    base rate stays true) — what keeps training on 100,000 accounts within its time."""
    rng = np.random.default_rng(seed)
    # per outcome and cut-off: features, labels, cut-off times, account indexes, ever (see ``ever_at``)
    chosen: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {
        o: [] for o in outcomes
    }
    totals = {o: 0 for o in outcomes}
    per_cut: list[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = []  # (account indexes, labels, ever)
    for t in cutoffs:
        here: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for o in outcomes:
            idx = eligible_at(h, o, float(t))
            here[o] = (idx, labels_at(h, o, float(t), idx, horizon_days), ever_at(h, o, float(t), idx))
            totals[o] += len(idx)
        per_cut.append(here)
    keep_share = {
        o: 1.0 if not max_examples or totals[o] <= max_examples else max_examples / totals[o] for o in outcomes
    }
    for here in per_cut:
        for o in outcomes:
            idx, y, ever = here[o]
            if keep_share[o] < 1.0:
                mask = rng.random(len(idx)) < keep_share[o]
                idx, y, ever = idx[mask], y[mask], ever[mask]
            here[o] = (idx, y, ever)
    for t, here in zip(cutoffs, per_cut, strict=True):
        union = np.unique(np.concatenate([here[o][0] for o in outcomes])) if outcomes else np.zeros(0, np.int64)
        x_all = features_at(h, space, float(t), union)
        for o in outcomes:
            idx, y, ever = here[o]
            rows = np.searchsorted(union, idx)
            chosen[o].append((x_all[rows], y, np.full(len(idx), float(t)), idx, ever))
        if progress:
            progress(1)
    result = {}
    d = len(space.columns)
    for o in outcomes:
        parts = chosen[o]
        if parts:
            result[o] = Examples(
                np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, d), np.float32),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
                np.concatenate([p[3] for p in parts]),
                np.concatenate([p[4] for p in parts]),
            )
        else:
            result[o] = Examples(
                np.zeros((0, d), np.float32),
                np.zeros(0, np.int8),
                np.zeros(0),
                np.zeros(0, np.int64),
                np.zeros(0, np.int8),
            )
    return result
