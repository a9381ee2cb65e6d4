"""Training the outcome models from the stage movements in the database, storing each version with its figures,
and activating or rolling back a version. The learning itself is ``scoring.ml``'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..ml import explain, mining
from ..ml.features import LOOKBACK_DAYS, FeatureSpace
from ..ml.history import OUTCOME_MOVEMENT, OUTCOMES
from ..ml.labels import Examples, cutoffs_weekly, examples_build
from ..ml.training import NotEnoughHistory, TrainResult, train_outcome
from ..models import PredictionSettings, PredictiveModel
from ..scorecard import rescore_all_after_commit
from .history import history_load, movement_counts, not_enough_message, scorecard_spec
from .proposals import PROPOSALS_PER_OUTCOME, proposals_refresh

Progress = Callable[[int], object]


@dataclass
class TrainReport:
    """What a training run did, per outcome."""

    trained: dict[str, PredictiveModel] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # outcome -> why
    refused: dict[str, str] = field(default_factory=dict)  # outcome -> why its new version is probable leakage
    activated: list[str] = field(default_factory=list)
    proposals: int = 0
    seconds: float = 0.0


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def models_train(
    *,
    now: datetime | None = None,
    outcomes: Sequence[str] = OUTCOMES,
    progress: Progress | None = None,
    on_cutoffs: Callable[[int], object] | None = None,
    rescore: bool = True,
) -> TrainReport:
    """Train a new model version of each outcome from the stage movements in the database, store it with its
    metrics and impact, activate it when the settings say so, and refresh the smart-signal proposals.

    An outcome with fewer past movements than ``PredictionSettings.min_movements``, or too few in one of the time
    blocks, is skipped with the reason. When a model was activated (and ``rescore``), one full rescore is queued.
    ``on_cutoffs(n)`` is told how many cut-offs there are, ``progress(1)`` after
    each (for a progress bar).
    """
    started = time.perf_counter()
    now = now or timezone.now()
    settings = PredictionSettings.load()
    report = TrainReport()
    counts = movement_counts()
    wanted = []
    for outcome in outcomes:
        have = counts.get(OUTCOME_MOVEMENT[outcome], 0)
        if have < settings.min_movements:
            report.skipped[outcome] = not_enough_message(outcome, have, settings.min_movements)
        else:
            wanted.append(outcome)
    if not wanted:
        report.seconds = round(time.perf_counter() - started, 2)
        return report
    space, examples = _examples_build(
        now=now, settings=settings, outcomes=tuple(wanted), progress=progress, on_cutoffs=on_cutoffs
    )
    for outcome in wanted:
        ex = examples[outcome]
        try:
            result = train_outcome(ex, horizon_days=settings.horizon_days, compact=space.compact(),
                                   labels=space.labels, optional_from=space.traits_from)  # fmt: skip
        except NotEnoughHistory as exc:
            report.skipped[outcome] = f"Not enough history yet: {exc}."
            continue
        used = space  # the imported fields are kept only where they helped on accounts the model had not seen
        if result.columns < len(space.columns):
            used = space.without_traits(result.fields_note)
            ex = Examples(ex.x[:, : result.columns], ex.y, ex.t, ex.account, ex.ever)
        _, val_mask = _validation_rows(ex, result.bounds)
        impact = explain.impact(result.model, ex.x[val_mask], result.baseline, used)
        _version_store(
            outcome=outcome, result=result, ex=ex, space=used, impact=impact, settings=settings,
            movements=counts.get(OUTCOME_MOVEMENT[outcome], 0), report=report,
        )  # fmt: skip
    if report.activated and rescore:
        rescore_all_after_commit()
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _examples_build(
    *,
    now: datetime,
    settings: PredictionSettings,
    outcomes: tuple[str, ...],
    progress: Progress | None,
    on_cutoffs: Callable[[int], object] | None,
) -> tuple[FeatureSpace, dict[str, Examples]]:
    """The feature space of the whole history and each outcome's examples at the weekly cut-offs whose horizon has
    passed."""
    since = now - timedelta(days=settings.training_span_days + LOOKBACK_DAYS + settings.horizon_days)
    h = history_load(account_ids=None, since=since, now=now, scorecard=scorecard_spec(), traits=True)
    space = FeatureSpace.from_history(h)
    cuts = cutoffs_weekly(
        h,
        horizon_days=settings.horizon_days,
        step_days=settings.cutoff_step_days,
        span_days=settings.training_span_days,
    )
    cuts = cuts[cuts + settings.horizon_days * 86_400 <= now.timestamp()]
    if on_cutoffs:
        on_cutoffs(len(cuts))
    examples = examples_build(
        h, space, cuts, horizon_days=settings.horizon_days, outcomes=outcomes,
        max_examples=settings.max_examples, progress=progress,
    )  # fmt: skip
    return space, examples


def _version_store(
    *,
    outcome: str,
    result: TrainResult,
    ex: Examples,
    space: FeatureSpace,
    impact: list[dict[str, Any]],
    settings: PredictionSettings,
    movements: int,
    report: TrainReport,
) -> None:
    """Store the trained model as the outcome's next version, activate it when the settings say so and it does at
    least as well as the active one, and refresh the outcome's proposals (a refused version: neither)."""
    with transaction.atomic():
        previous = PredictiveModel.objects.filter(outcome=outcome, is_active=True).first()
        version = (PredictiveModel.objects.filter(outcome=outcome).aggregate(v=Max("version"))["v"] or 0) + 1
        model = PredictiveModel.objects.create(
            outcome=outcome,
            version=version,
            family=result.family,
            created_at=timezone.now(),
            horizon_days=settings.horizon_days,
            model_bytes=result.model.to_bytes(),
            feature_space=space.to_json(),
            baseline=[float(v) for v in result.baseline],
            metrics=result.metrics,
            comparison=result.comparison,
            calibration=result.calibration,
            lift=result.lift,
            impact=explain.impact_change(impact, previous.impact if previous else None),
            training={
                **result.training,
                "seconds": result.seconds,
                "cutoff_step_days": settings.cutoff_step_days,
                "leakage": result.leakage,
                "fields": result.fields_note,
            },  # fmt: skip
            movements=movements,
            refused_reason=result.refused,
            train_from=_dt(result.bounds["fit_from"]),
            train_to=_dt(result.bounds["calibrate_to"]),
            validate_from=_dt(result.bounds["validate_from"]),
            validate_to=_dt(result.bounds["validate_to"]),
        )
        report.trained[outcome] = model
        if result.refused:  # probable leakage: kept for the admin to read, never activated, nothing proposed
            report.refused[outcome] = result.refused
            return
        better = previous is None or (model.metrics.get("pr_auc") or 0) >= (previous.metrics.get("pr_auc") or 0)
        if settings.auto_activate and better:
            predictive_model_activate(model=model, rescore=False)
            report.activated.append(outcome)
        report.proposals += proposals_refresh(
            outcome=outcome, candidates=mining.candidates_mine(ex, space, limit=PROPOSALS_PER_OUTCOME),
            evidence={"horizon_days": settings.horizon_days, "examples": int(len(ex.y)),
                      "model_version": version, "cutoffs": int(len(np.unique(ex.t)))},
        )  # fmt: skip


def _validation_rows(ex: Any, bounds: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    val = ex.t >= bounds["validate_from"]
    return ~val, val


class ModelRefused(ValueError):
    """A version training refused as probable leakage cannot be activated; the message says why."""


def predictive_model_activate(*, model: PredictiveModel, rescore: bool = True) -> PredictiveModel:
    """Make this version the one every rescore uses for its outcome (the previous one is kept for rollback) and
    queue a full rescore so every account's probability comes from it. Raises :class:`ModelRefused` for a version
    refused as probable leakage."""
    if model.refused_reason:
        raise ModelRefused(f"{model} cannot be activated. {model.refused_reason}")
    with transaction.atomic():
        PredictiveModel.objects.filter(outcome=model.outcome, is_active=True).exclude(pk=model.pk).update(
            is_active=False
        )
        model.is_active = True
        model.activated_at = timezone.now()
        model.save(update_fields=["is_active", "activated_at"])
        if rescore:
            rescore_all_after_commit()
    return model


def predictive_model_rollback(*, outcome: str) -> PredictiveModel | None:
    """Activate the version activated before the current one (None when there is none)."""
    current = PredictiveModel.objects.filter(outcome=outcome, is_active=True).first()
    earlier = PredictiveModel.objects.filter(outcome=outcome, activated_at__isnull=False)
    if current:
        earlier = earlier.exclude(pk=current.pk).filter(version__lt=current.version)
    target = earlier.order_by("-version").first()
    if target is None:
        return None
    return predictive_model_activate(model=target)
