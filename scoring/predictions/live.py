"""Predicting with the active models: for a chunk of accounts during every rescore (probabilities, reasons,
smoothing against the previous values, health with hysteresis, one upsert and the score history), and as of a past
moment (``probabilities_at``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np
from django.db import connection
from django.utils import timezone

from ..choices import PredictionStatus
from ..hooks import ANNOUNCED_SCORE_FIELDS
from ..ml import explain, steady
from ..ml.features import LOOKBACK_DAYS, FeatureSpace, features_at
from ..ml.history import OUTCOME_MOVEMENT, OUTCOMES, History
from ..ml.labels import eligible_at
from ..ml.training import CalibratedModel, Model
from ..models import AccountPrediction, AccountScore, PredictionSettings, PredictiveModel, ScoreHistory
from ..rescore.read import SignalArrays, among
from ..rescore.write import pg_upsert
from ..scorecard import Scorecard
from .history import _epoch, _seconds, history_load, movement_counts, not_enough_message, scorecard_spec

EMPTY_SIGNALS = SignalArrays(
    account=np.zeros(0, np.int64),
    contact=np.zeros(0, np.int64),
    type=np.zeros(0, np.int64),
    topic=np.zeros(0, np.int64),
    direction=np.zeros(0, np.int64),
    epoch=np.zeros(0, np.float64),
)
REASON_GROUPS = 10  # reasons are looked for among a model's ten most impactful signals and measures


@dataclass
class LoadedModel:
    """An active model ready to predict: the model, its feature space and typical values, its top groups."""

    record_id: int
    version: int
    model: Model
    space: FeatureSpace
    baseline: np.ndarray
    top_groups: list[str]

    @cached_property
    def space_key(self) -> str:
        """Models trained together share one feature space: their features are built once for all of them."""
        return json.dumps(self.space.to_json(), sort_keys=True)

    @cached_property
    def typical(self) -> float:
        """The probability of a typical account (every feature at its typical value): where reasons start from."""
        return float(self.model.predict(self.baseline.reshape(1, -1))[0])


# By PredictiveModel id and creation time: a version never changes once stored (the time: an id a rolled-back
# transaction handed out can come again, e.g. between tests, for another model)
_LOADED: dict[tuple[int, datetime], LoadedModel] = {}


def active_models() -> dict[str, LoadedModel]:
    """The active model of each outcome (unpickled once per process and version)."""
    rows = list(PredictiveModel.objects.filter(is_active=True).values_list("pk", "outcome", "version", "created_at"))
    out = {}
    for pk, outcome, version, created in rows:
        if (pk, created) not in _LOADED:
            rec = PredictiveModel.objects.only("model_bytes", "feature_space", "baseline", "impact").get(pk=pk)
            _LOADED[pk, created] = LoadedModel(
                record_id=pk,
                version=version,
                model=CalibratedModel.from_bytes(bytes(rec.model_bytes)),
                space=FeatureSpace.from_json(rec.feature_space),
                baseline=np.array(rec.baseline, dtype=np.float32),
                top_groups=[r["group"] for r in rec.impact[:REASON_GROUPS]],
            )
        out[outcome] = _LOADED[pk, created]
    return out


def _health_thresholds(s: PredictionSettings) -> steady.HealthThresholds:
    return steady.HealthThresholds(
        bad_enter=s.health_bad_enter, bad_exit=s.health_bad_exit, good_enter=s.health_good_enter,
        good_exit=s.health_good_exit, trend_bad=s.health_trend_bad, trend_good=s.health_trend_good,
    )  # fmt: skip


# What predictions add to ``scoring.hooks.scores_changed``'s before/after values (probabilities to a percentage
# point, so the smoothing's small steps toward the model's value are not announced as changes every rescore).
ANNOUNCED_PREDICTION_FIELDS = ("conversion_probability", "expansion_probability", "churn_probability", "health")


@dataclass
class PredictionChanges:
    """Each account's tracked prediction values before (None: never predicted) and after a refresh."""

    before: dict[int, tuple | None] = field(default_factory=dict)
    after: dict[int, tuple] = field(default_factory=dict)

    def merged(self, *, before: dict[int, tuple], after: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Arguments for ``scoring.hooks.score_changes`` with these values added to the scores' own."""
        empty = (None,) * len(ANNOUNCED_PREDICTION_FIELDS)
        merged_before = {a: tuple(v) + (self.before.get(a) or empty) for a, v in before.items()}
        rows = [{**row, **dict(zip(ANNOUNCED_PREDICTION_FIELDS, self.after.get(row["account_id"], empty), strict=True))}
                for row in after]  # fmt: skip
        return {
            "before": merged_before,
            "after": rows,
            "fields": (*ANNOUNCED_SCORE_FIELDS, *ANNOUNCED_PREDICTION_FIELDS),
        }


def _tracked(row: dict[str, Any]) -> tuple:
    return (*(None if row[o] is None else round(row[o], 2) for o in OUTCOMES), row["health"])


@dataclass
class PredictionContext:
    """What every chunk of one rescore predicts with, read once per run: settings, active models, movement counts."""

    settings: PredictionSettings
    models: dict[str, LoadedModel]
    counts: dict[str, int]
    scorecard: Any = None  # the scorecard's spec when a model is active (its scores are features)

    def model_for(self, outcome: str) -> LoadedModel | None:
        """The outcome's active model when there is one and enough past movements to trust it, else None."""
        enough = self.counts.get(OUTCOME_MOVEMENT[outcome], 0) >= self.settings.min_movements
        return self.models.get(outcome) if enough else None

    @property
    def trait_keys(self) -> list[str]:
        """The imported fields the active models read (none read when no model uses one)."""
        keys = {k for m in self.models.values() for k in (*m.space.trait_numeric, *m.space.trait_keys)}
        return sorted(keys)

    @property
    def predicting(self) -> bool:
        """Whether any outcome has an active model and enough history, i.e. whether features (signals) are needed."""
        return any(self.model_for(o) is not None for o in OUTCOMES)


def prediction_context_load(card: Scorecard | None = None) -> PredictionContext:
    """``card``: the scorecard the rescore loaded (else loaded here when a model needs it)."""
    models = active_models()
    return PredictionContext(
        settings=PredictionSettings.load(),
        models=models,
        counts=movement_counts(),
        scorecard=scorecard_spec(card) if models else None,
    )


@dataclass
class PredictionInputs:
    """Everything read to predict for a chunk of accounts (``predictions_read``)."""

    ids: list[int]
    now: datetime
    context: PredictionContext
    history: Callable[[], History]  # makes the History from what was read
    previous: dict[int, dict[str, Any]]
    trends: dict[int, float | None] | None = None  # read only when the caller will not give them


@dataclass
class PredictionResult:
    """What ``predictions_write`` stores (AccountPrediction columns) and what ``scores_changed`` hears."""

    ids: list[int]
    now: datetime
    columns: dict[str, list[Any]]
    changes: PredictionChanges
    moved: list[int]  # accounts whose tracked values moved (they get a score history row of their own)


def predictions_read(
    *,
    account_ids: Sequence[int],
    now: datetime,
    signals: Any = None,
    context: PredictionContext | None = None,
    trends_given: bool = False,
    card: Scorecard | None = None,
) -> PredictionInputs:
    """The reads of a prediction (a fixed number of queries). Signals are only read (or kept) when a model will
    predict: with none active, probabilities are not computed and features are not needed."""
    context = context or prediction_context_load(card)
    ids = sorted({int(a) for a in account_ids})
    if not context.predicting:
        signals = EMPTY_SIGNALS
    h = history_load(
        account_ids=ids,
        since=now - timedelta(days=LOOKBACK_DAYS),
        now=now,
        signals=signals,
        scorecard=context.scorecard,
        deferred=True,  # the arrays are made by predictions_compute (a rescore's predictor thread)
        traits=context.trait_keys if context.predicting else False,
    )
    before, (computed,) = _seconds(AccountPrediction.objects.filter(among("account_id", ids)), "computed_at")
    previous = {
        r["account_id"]: {**r, "computed_at": _epoch((r[computed],))[0]}
        for r in before.values("account_id", "conversion", "expansion", "churn", "health", "health_since", computed)
    }
    trends = None
    if not trends_given:
        trends = dict(
            AccountScore.objects.filter(among("account_id", ids)).values_list("account_id", "engagement_trend")
        )
    return PredictionInputs(ids=ids, now=now, context=context, history=h, previous=previous, trends=trends)


def predictions_compute(inputs: PredictionInputs, trends: dict[int, float | None] | None = None) -> PredictionResult:
    """Predict every outcome with the active models, smooth against the previous values, set health with hysteresis
    (no database). ``trends``: the accounts' engagement trends just computed by the rescore."""
    h, now, settings = inputs.history(), inputs.now, inputs.context.settings
    models, counts, prev_rows = inputs.context.models, inputs.context.counts, inputs.previous
    n = h.n
    t = now.timestamp()
    trend_of = trends if trends is not None else inputs.trends or {}
    pk = h.account_ids.tolist()
    hours = np.array(
        [(t - prev_rows[a]["computed_at"]) / 3600 if a in prev_rows else 0.0 for a in pk], dtype=np.float64
    )
    shown: dict[str, np.ndarray] = {}
    raw_all: dict[str, np.ndarray] = {}
    status: dict[str, list[str]] = {}
    reasons: list[dict[str, Any]] = [{} for _ in range(n)]
    applies_by = {o: eligible_at(h, o, t, current_stage=True) for o in OUTCOMES}
    features_by = _features_by_space(h, models, applies_by, t)
    # Per outcome: predict, smooth, explain, in one pass over the arrays.
    for outcome in OUTCOMES:
        raw = np.full(n, np.nan)
        st = np.full(n, PredictionStatus.NOT_APPLICABLE, dtype=object)
        applies = applies_by[outcome]
        have, need = counts.get(OUTCOME_MOVEMENT[outcome], 0), settings.min_movements
        loaded = models.get(outcome)
        message = ""
        if have < need:
            st[applies] = PredictionStatus.NOT_ENOUGH_HISTORY
            message = not_enough_message(outcome, have, need)
        elif loaded is None:
            st[applies] = PredictionStatus.NO_MODEL
            message = "No active model yet: run “manage.py train_models” (or wait for the weekly training)."
        why: list[dict[str, Any]] = []
        if loaded is not None and have >= need and len(applies):
            union, x_all = features_by[loaded.space_key]
            x = x_all[np.searchsorted(union, applies)]
            p, why = explain.reasons(loaded.model, x, loaded.baseline, loaded.space, loaded.top_groups)
            raw[applies] = p
            st[applies] = PredictionStatus.OK
        previous = np.array(
            [np.nan if prev_rows.get(a, {}).get(outcome) is None else prev_rows[a][outcome] for a in pk]
        )
        smoothed = steady.smooth(
            raw, previous, hours, half_life_hours=settings.smoothing_half_life_hours,
            max_step=settings.smoothing_max_step,
        )  # fmt: skip
        smoothed = np.where(np.isnan(raw), np.nan, smoothed)
        shown[outcome], raw_all[outcome], status[outcome] = smoothed, raw, st.tolist()
        entries = _outcome_reasons(st, raw, smoothed, why, applies, loaded, message)
        for i in range(n):
            reasons[i][outcome] = entries[i]
    columns = _prediction_columns(
        pk=pk, now=now, shown=shown, raw_all=raw_all, status=status, reasons=reasons, trend_of=trend_of,
        prev_rows=prev_rows, settings=settings,
    )  # fmt: skip
    bands_l = columns["health"]
    changes = PredictionChanges(
        before={a: _tracked(r) for a, r in prev_rows.items()},
        after={a: _tracked({**{o: columns[o][i] for o in OUTCOMES}, "health": bands_l[i]}) for i, a in enumerate(pk)},
    )
    moved = [a for a, after in changes.after.items() if changes.before.get(a) != after]
    return PredictionResult(ids=inputs.ids, now=now, columns=columns, changes=changes, moved=moved)


def _features_by_space(
    h: History, models: dict[str, LoadedModel], applies_by: dict[str, np.ndarray], t: float
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The accounts any outcome applies to and their features, per feature space of the active models: models
    trained together share one, so their features are built once for all outcomes."""
    features_by: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for trained in models.values():
        key = trained.space_key
        if key not in features_by:
            union = np.unique(np.concatenate([applies_by[o] for o in OUTCOMES]))
            features_by[key] = (union, features_at(h, trained.space, t, union, current_stage=True))
    return features_by


def _outcome_reasons(
    st: np.ndarray,
    raw: np.ndarray,
    smoothed: np.ndarray,
    why: list[dict[str, Any]],
    applies: np.ndarray,
    loaded: LoadedModel | None,
    message: str,
) -> list[dict[str, Any]]:
    """Each account's entry of one outcome in its reasons: the status, and the probability with what pushed it up
    and down, or why there is none."""
    words = {s.value: s.label for s in PredictionStatus}
    where = {int(i): j for j, i in enumerate(applies)} if why else {}
    entries = []
    for i in range(len(st)):
        entry: dict[str, Any] = {"status": st[i]}
        if st[i] == PredictionStatus.OK:
            r = why[where[i]]
            assert loaded is not None  # OK only where a model predicted
            entry.update(model_version=loaded.version, raw=round(float(raw[i]), 4),
                         probability=round(float(smoothed[i]), 4), typical=round(loaded.typical, 4),
                         up=r["up"], down=r["down"])  # fmt: skip
        else:
            entry["message"] = message if st[i] != PredictionStatus.NOT_APPLICABLE else words[st[i]]
        entries.append(entry)
    return entries


def _prediction_columns(
    *,
    pk: list[int],
    now: datetime,
    shown: dict[str, np.ndarray],
    raw_all: dict[str, np.ndarray],
    status: dict[str, list[str]],
    reasons: list[dict[str, Any]],
    trend_of: dict[int, float | None],
    prev_rows: dict[int, dict[str, Any]],
    settings: PredictionSettings,
) -> dict[str, list[Any]]:
    """The AccountPrediction columns of the chunk: probabilities, statuses, reasons, and health with hysteresis
    against the previous band. Columns, not model instances: the rescore writes them with one upsert per chunk on
    PostgreSQL."""
    n = len(pk)
    th = _health_thresholds(settings)
    trend = np.array([np.nan if trend_of.get(a) is None else trend_of[a] for a in pk], dtype=np.float64)
    prev_band = [prev_rows.get(a, {}).get("health") for a in pk]
    bands = steady.health(shown["churn"], trend, prev_band, th)
    columns: dict[str, list[Any]] = {"account_id": pk}
    for o in OUTCOMES:
        columns[o] = [_num(v) for v in shown[o].tolist()]
        columns[f"{o}_raw"] = [_num(v) for v in raw_all[o].tolist()]
        columns[f"{o}_status"] = [str(v) for v in status[o]]
    columns["reasons"] = reasons
    bands_l = [str(b) for b in bands]
    columns["health"] = bands_l
    since_l, health_reasons = [], []
    churn_l, trend_l = shown["churn"].tolist(), trend.tolist()
    for i, a in enumerate(pk):
        band = bands_l[i]
        before = prev_rows.get(a)
        since_l.append(before["health_since"] if before and before["health"] == band else now)
        band_why = steady.health_reasons(float(churn_l[i]), float(trend_l[i]), band,
                                         before["health"] if before else None, th)  # fmt: skip
        if status["churn"][i] == PredictionStatus.NOT_APPLICABLE:  # not a paying customer: nothing to churn from
            band_why[0] = "Churn does not apply at this stage: health from the engagement trend only"
        health_reasons.append(band_why)
    columns["health_since"] = since_l
    columns["health_reasons"] = health_reasons
    columns["computed_at"] = [now] * n
    return columns


def predictions_write(result: PredictionResult, raw: Any = None) -> None:
    """Store the predictions (one upsert) and put the probabilities into score history. ``raw``: the psycopg
    connection to write on (a full rescore's writer thread)."""
    columns = result.columns
    if not result.ids:
        return
    if connection.vendor == "postgresql":
        pg_upsert(AccountPrediction, columns, ["account_id"], raw)
    else:
        names = list(columns)
        objs = [AccountPrediction(**dict(zip(names, row, strict=True))) for row in zip(*columns.values(), strict=True)]
        fields = [f.name for f in AccountPrediction._meta.concrete_fields if f.name != "account"]
        AccountPrediction.objects.bulk_create(
            objs, update_conflicts=True, unique_fields=["account"], update_fields=fields
        )
    _history_record(account_ids=result.ids, moved=result.moved, now=result.now, raw=raw)


def predictions_refresh(
    *,
    account_ids: Sequence[int],
    now: datetime | None = None,
    signals: Any = None,
    trends: dict[int, float | None] | None = None,
    card: Scorecard | None = None,
) -> PredictionChanges:
    """Predict every outcome for these accounts with the active models, smooth against their previous values, set
    health with hysteresis, and store it all with the reasons (a fixed number of queries per call). Returns the
    tracked values before and after, for ``scores_changed``. ``trends``: the accounts' engagement trends just
    computed by the rescore (else read from their scores). ``card``: the scorecard the rescore loaded (else loaded
    here): its scores at the time are features of the models."""
    now = now or timezone.now()
    if not account_ids:
        return PredictionChanges()
    inputs = predictions_read(
        account_ids=account_ids, now=now, signals=signals, trends_given=trends is not None, card=card
    )
    result = predictions_compute(inputs, trends)
    predictions_write(result)
    return result.changes


def probabilities_at(
    *, account_ids: Sequence[int], at: datetime, context: PredictionContext | None = None
) -> dict[str, dict[int, float | None]]:
    """Each outcome's calibrated probability for these accounts as of a past moment, by the active models, from what
    was known then (signals, movements, rule hits and stage before ``at``; features exactly as a training example
    at that cut-off). Not smoothed. For score history of the past (``scoring.services.score_history_backfill``):
    today's models applied to then, as the backfilled scores are today's scorecard applied to then. ``context``: read
    once by a caller that asks for many moments or chunks."""
    context = context or prediction_context_load()
    if not context.predicting or not account_ids:
        return {}
    ids = sorted({int(a) for a in account_ids})
    h = history_load(account_ids=ids, since=at - timedelta(days=LOOKBACK_DAYS), now=at, scorecard=context.scorecard,
                     traits=context.trait_keys)  # fmt: skip
    t = at.timestamp()
    out: dict[str, dict[int, float | None]] = {}
    for outcome in OUTCOMES:
        loaded = context.model_for(outcome)
        if loaded is None:
            continue
        applies = eligible_at(h, outcome, t)
        if not len(applies):
            continue
        p = loaded.model.predict(features_at(h, loaded.space, t, applies))
        # rounded as a rescore rounds what it stores (``_num``), so a backfill at a rescore's moment gives its numbers
        out[outcome] = dict(zip(h.account_ids[applies].tolist(), [_num(v) for v in p.tolist()], strict=True))
    return out


def _history_record(*, account_ids: Sequence[int], moved: Sequence[int], now: datetime, raw: Any = None) -> None:
    """Probabilities into score history (one statement): the row this rescore wrote gets them, and an account whose
    probabilities moved while its scores did not gets a row of its own (its current scores with them)."""
    h, s, p = ScoreHistory._meta.db_table, AccountScore._meta.db_table, AccountPrediction._meta.db_table
    scores = "fit, engagement, lead, signal_strength, grade, temperature, qualified, surging, config_version"
    at = connection.ops.adapt_datetimefield_value(now)
    if connection.vendor == "postgresql":
        ids_params: list[Any] = [list(account_ids), list(moved)]
        among, moved_among = "= ANY(%s)", "= ANY(%s)"
    else:  # a chunk is at most a few thousand accounts: inside SQLite's parameter limit
        among = f"IN ({', '.join(['%s'] * len(account_ids))})"
        moved_among = f"IN ({', '.join(['%s'] * len(moved)) or 'NULL'})"
        ids_params = [*account_ids, *moved]
    with connection.cursor() if raw is None else raw.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {h} (account_id, date, {scores}, computed_at, conversion, expansion, churn) "
            f"SELECT s.account_id, %s, {', '.join(f's.{c}' for c in scores.split(', '))}, %s, "
            f"p.conversion, p.expansion, p.churn FROM {s} s JOIN {p} p ON p.account_id = s.account_id "
            f"WHERE s.account_id {among} AND (s.account_id {moved_among} OR EXISTS (SELECT 1 FROM {h} x "
            "WHERE x.account_id = s.account_id AND x.computed_at = %s)) "
            "ON CONFLICT (account_id, computed_at) DO UPDATE SET conversion = excluded.conversion, "
            "expansion = excluded.expansion, churn = excluded.churn",
            [now.date(), at, *ids_params, at],
        )


def _num(v: float) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 4)
