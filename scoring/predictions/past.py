"""Probabilities as of a past date, beside what happened after it: how a customer judges the models on their own past.

``account_probabilities_at`` gives each account's conversion, expansion and churn probability from what was known at
``at`` (signals, movements, rule hits and stage before it; imported fields as known now: they have no history), by
today's active models (``live.probabilities_at``), and whether the account made the movement within the
horizon after ``at`` (unknown while the horizon has not passed), with ROC AUC, PR AUC and Brier score per outcome.
Behind ``manage.py predict --at DATE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.utils import timezone

from accounts.choices import Movement
from accounts.models import Account, StageTransition

from ..ml.history import OUTCOME_MOVEMENT, OUTCOMES
from ..ml.training import metrics
from ..models import PredictionSettings, PredictiveModel
from .live import prediction_context_load, probabilities_at

OUTCOME_COLUMN = {"conversion": "converted", "expansion": "expanded", "churn": "churned"}


@dataclass
class PastProbabilities:
    """Each account's probabilities at ``at`` and its outcome within the horizon after it, and per-outcome figures."""

    at: datetime
    horizon_days: int
    outcome_known: bool  # whether the horizon after ``at`` has passed (else outcomes are None)
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        cols = ["account_id", "external_id", "name", "stage"]
        for outcome in OUTCOMES:
            cols += [f"{outcome}_probability", f"{OUTCOME_COLUMN[outcome]}_within_{self.horizon_days}d"]
        return cols


def account_probabilities_at(
    *,
    at: datetime,
    account_ids: Sequence[int] | None = None,
    horizon_days: int | None = None,
    now: datetime | None = None,
) -> PastProbabilities:
    """The probabilities the active models give each account (these, or all) from what was known at ``at``, and the
    outcome within ``horizon_days`` (default: the prediction settings' horizon) after it when ``now`` is past that.

    An outcome's probability is None where it does not apply at ``at`` (conversion: free accounts; expansion and
    churn: paying ones, as the models learnt them) or no model is active. ``summary[outcome]``: accounts, positives,
    ROC AUC, PR AUC, Brier score of the probabilities against the outcomes, the model version, and whether ``at``
    lies inside the period that model learnt from (its figures there are optimistic: it has seen those outcomes)."""
    now = now or timezone.now()
    horizon_days = horizon_days or PredictionSettings.load().horizon_days
    end = at + timedelta(days=horizon_days)
    known = end <= now
    accounts = Account.objects.filter(created_at__lt=at).order_by("pk")
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    listed = list(accounts.values_list("pk", "external_id", "name"))
    ids = [a[0] for a in listed]
    context = prediction_context_load()
    probabilities = probabilities_at(account_ids=ids, at=at, context=context) if ids else {}
    stage_at: dict[int, str] = {}
    moved: dict[str, set[int]] = {o: set() for o in OUTCOMES}
    wanted = {OUTCOME_MOVEMENT[o]: o for o in OUTCOMES}
    transitions = (
        StageTransition.objects.filter(account_id__in=ids, changed_at__lte=end)
        .exclude(movement=Movement.NONE)
        .order_by("account_id", "changed_at", "id")
        .values_list("account_id", "changed_at", "to_stage__key", "movement")
    )
    for account_id, changed_at, stage_key, movement in transitions.iterator(chunk_size=5000):
        if changed_at < at:
            stage_at[account_id] = stage_key  # the latest movement before ``at`` wins
        elif changed_at > at and movement in wanted:
            moved[wanted[movement]].add(account_id)
    result = PastProbabilities(at=at, horizon_days=horizon_days, outcome_known=known)
    for pk, external_id, name in listed:
        row: dict[str, Any] = {"account_id": pk, "external_id": external_id, "name": name, "stage": stage_at.get(pk)}
        for outcome in OUTCOMES:
            p = probabilities.get(outcome, {}).get(pk)
            row[f"{outcome}_probability"] = p
            column = f"{OUTCOME_COLUMN[outcome]}_within_{horizon_days}d"
            row[column] = (pk in moved[outcome]) if known and p is not None else None
        result.rows.append(row)
    versions = {
        m.outcome: m for m in PredictiveModel.objects.filter(is_active=True).only("outcome", "version", "train_to")
    }
    for outcome in OUTCOMES:
        column = f"{OUTCOME_COLUMN[outcome]}_within_{horizon_days}d"
        judged = [r for r in result.rows if r[f"{outcome}_probability"] is not None]
        model = versions.get(outcome)
        entry: dict[str, Any] = {
            "accounts": len(judged),
            "model_version": model.version if model else None,
            "inside_training_period": bool(model and at <= model.train_to),
        }
        if known and judged:
            y = np.array([int(r[column]) for r in judged])
            predicted = np.array([r[f"{outcome}_probability"] for r in judged], dtype=float)
            entry.update(metrics(y, predicted))
        result.summary[outcome] = entry
    return result
