"""Predictive scores in the database: reading a history into arrays, training and storing model versions,
activating and rolling back, predicting for a chunk of accounts during every rescore, smart-signal proposals.

The learning itself is in ``scoring.ml`` (no Django); this module only moves data between the database and it, with
a fixed number of set-based queries per call.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, ExpressionWrapper, F, FloatField, Func, Max
from django.utils import timezone

from accounts.choices import Movement
from accounts.models import Account, Contact, JourneyStage, StageTransition
from signals_app.models import Signal, SignalTopic, SignalType
from signals_app.parsing import signal_type_key

from .choices import PredictionStatus, ProposalStatus
from .hooks import ANNOUNCED_SCORE_FIELDS
from .ml import explain, mining, steady
from .ml.features import LOOKBACK_DAYS, FeatureSpace, features_at
from .ml.history import OUTCOME_MOVEMENT, OUTCOME_WORDS, OUTCOMES, History, trait_text
from .ml.labels import Examples, cutoffs_weekly, eligible_at, examples_build
from .ml.scores import ScorecardSpec
from .ml.training import CalibratedModel, Model, NotEnoughHistory, train_outcome
from .models import (
    AccountPrediction,
    AccountScore,
    EngagementRule,
    PredictionSettings,
    PredictiveModel,
    RuleHit,
    ScoreHistory,
    SignalRule,
    SmartSignalProposal,
)

# the rescore never imports this module at import time (it keeps scikit-learn out of processes that do not predict)
from .rescore.read import SignalArrays, signals_fetch
from .rescore.read import among as _among
from .rescore.write import pg_upsert as _pg_upsert
from .scorecard import Scorecard, rescore_all_after_commit, scorecard_load

EMPTY_SIGNALS = SignalArrays(
    account=np.zeros(0, np.int64),
    contact=np.zeros(0, np.int64),
    type=np.zeros(0, np.int64),
    topic=np.zeros(0, np.int64),
    direction=np.zeros(0, np.int64),
    epoch=np.zeros(0, np.float64),
)
REASON_GROUPS = 10  # reasons are looked for among a model's ten most impactful signals and measures
PROPOSALS_PER_OUTCOME = 8

Progress = Callable[[int], object]


def _epoch(values: Sequence[datetime | float | None], missing: float = np.nan) -> np.ndarray:
    """Unix seconds of datetimes, or of times the database already gave as seconds (:func:`_seconds`)."""
    return np.array(
        [missing if v is None else v.timestamp() if isinstance(v, datetime) else float(v) for v in values],
        dtype=np.float64,
    )


def _seconds(queryset: Any, *names: str) -> tuple[Any, list[str]]:
    """These datetime fields as Unix seconds computed by PostgreSQL (no Python datetime made per row: they were most
    of a chunk's reading time); the fields themselves elsewhere. Returns the queryset and the names to read."""
    if connection.vendor != "postgresql":
        return queryset, list(names)
    aliases = {
        f"{n}_seconds": ExpressionWrapper(
            Func(F(n), template="EXTRACT(EPOCH FROM %(expressions)s)::float8"), output_field=FloatField()
        )
        for n in names
    }
    return queryset.annotate(**aliases), list(aliases)


# --- reading ------------------------------------------------------------------------------------------------------


CONTACT_FIELDS = ("title", "email", "first_name", "last_name")  # what fit rules over contacts read from a history


def scorecard_spec(card: Scorecard | None = None) -> ScorecardSpec:
    """The live scorecard (``scoring.services.scorecard_load``) as the plain data ``scoring.ml`` computes the
    scorecard's scores at past cut-offs from: the same in training and in prediction, so the columns match."""
    card = card or scorecard_load()
    keys = dict(SignalType.objects.values_list("pk", "key"))
    outbound = set(SignalType.objects.filter(default_direction="outbound").values_list("pk", flat=True))
    topics = dict(SignalTopic.objects.values_list("pk", "key"))
    r = card.rules

    def number(v: float) -> float | None:
        return None if math.isnan(v) or math.isinf(v) else float(v)

    engagement = {
        keys[int(tid)]: (float(r.points[i]), number(r.half_life_days[i]), number(r.window_days[i]), number(r.cap[i]))
        for i, tid in enumerate(card.type_ids.tolist())
        # a type on the default weight counts its inbound signals; a history has no direction: its type's default
        if r.points[i] and int(tid) in keys and not (r.defaulted[i] and int(tid) in outbound)
    }
    return ScorecardSpec(
        engagement=engagement,
        fit_rules=[(rule.field, rule.operator, rule.value, float(rule.points)) for rule in card.fit_rules],
        topic_multiplier={topics[t]: float(m) for t, m in card.topic_multiplier.items() if t in topics},
        trend_recent_days=float(card.settings.trend_recent_days),
    )


def _contacts_read(account_ids: Sequence[int] | None, scorecard: ScorecardSpec | None) -> dict[str, Any]:
    """The contacts' fields the scorecard's fit rules read (one query; none when no rule reads a contact)."""
    wanted = {f[len("contact.") :] for f, *_ in (scorecard.fit_rules if scorecard else []) if f.startswith("contact.")}
    fields = [f for f in CONTACT_FIELDS if f in wanted or (f == "email" and "email_domain" in wanted)]
    if not fields:
        return {}
    qs = Contact.objects.filter(account_id__isnull=False).order_by()
    if account_ids is not None:
        qs = qs.filter(_among("account_id", account_ids))
    qs, (created,) = _seconds(qs, "created_at")
    rows = list(qs.values_list("account_id", created, *fields))
    out: dict[str, Any] = {
        "account": np.array([r[0] for r in rows], dtype=np.int64),
        "created": _epoch([r[1] for r in rows]),
    }
    values = {f: np.array([r[2 + j] or "" for r in rows], dtype=object) for j, f in enumerate(fields)}
    if "email_domain" in wanted:
        values["email_domain"] = np.array([(e or "").rpartition("@")[2].lower() or None for e in values["email"]],
                                          dtype=object)  # fmt: skip
    out["fields"] = values
    return out


def history_load(
    *,
    account_ids: Sequence[int] | None,
    since: datetime,
    now: datetime,
    signals: Any = None,
    scorecard: ScorecardSpec | None = None,
    deferred: bool = False,
    traits: bool | Sequence[str] = False,
) -> Any:
    """The history of these accounts (None: all) as arrays: signals in [since, now), every stage movement, rule hits,
    fit fields, signal types with their engagement rules. ``signals``: a ``scoring.services.SignalArrays`` already
    read by the rescore (saves reading them twice). ``scorecard``: the live scorecard as plain data
    (:func:`scorecard_spec`), with the contacts its fit rules read. ``traits``: the imported fields to read (True:
    every one, for training; the keys an active model uses, for prediction). ``deferred``: return a function that
    makes the History from what was read (no database): a rescore's predictor thread does that work, not its
    reader."""
    accounts = Account.objects.order_by("pk")
    if account_ids is not None:
        accounts = accounts.filter(_among("pk", account_ids))
    accounts, (created,) = _seconds(accounts, "created_at")
    fields = ["pk", created, "employees", "annual_revenue", "industry", "country", "stage_id"]
    rows = list(accounts.values_list(*fields, *(["traits"] if traits else [])))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    trait_contacts = _trait_contacts_read(account_ids, traits) if traits else []

    def index(values: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.full(len(values), -1, np.int64)
        pos = np.clip(np.searchsorted(ids, values), 0, len(ids) - 1)
        return np.where(ids[pos] == values, pos, -1)

    types = list(SignalType.objects.order_by("pk").values_list("pk", "key", "label", "is_key_feature",
                                                               "is_activation_milestone"))  # fmt: skip
    type_ids = np.array([t[0] for t in types], dtype=np.int64)
    topics = list(SignalTopic.objects.order_by("pk").values_list("pk", "key", "label"))
    topic_ids = np.array([t[0] for t in topics], dtype=np.int64)
    stages = list(JourneyStage.objects.order_by("position", "pk").values_list("pk", "key", "name", "kind", "rank"))
    stage_pos = {s[0]: i for i, s in enumerate(stages)}
    rules = list(SignalRule.objects.order_by("pk").values_list("pk", "name"))
    rule_pos = {r[0]: i for i, r in enumerate(rules)}
    eng = dict(
        (r[0], (r[1], r[2]))
        for r in EngagementRule.objects.filter(is_active=True).values_list("signal_type_id", "points", "half_life_days")
    )

    def lookup(known: np.ndarray, values: np.ndarray) -> np.ndarray:
        if not len(known):
            return np.full(len(values), -1, np.int64)
        pos = np.clip(np.searchsorted(known, values), 0, len(known) - 1)
        return np.where((known[pos] == values) & (values >= 0), pos, -1)

    if signals is None:
        signals = _signals_read(account_ids=account_ids, since=since, now=now)

    tr = StageTransition.objects.exclude(movement=Movement.NONE).order_by()  # no change of stage: not a movement
    hits = RuleHit.objects.order_by()
    if account_ids is not None:
        tr = tr.filter(_among("account_id", account_ids))
        hits = hits.filter(_among("account_id", account_ids))
    tr, (changed,) = _seconds(tr, "changed_at")
    hits, hit_times = _seconds(hits, "set_at", "cleared_at")
    tr_rows = list(tr.values_list("account_id", "to_stage_id", changed, "movement"))
    hit_rows = list(hits.values_list("account_id", "rule_id", *hit_times))
    contacts = _contacts_read(account_ids, scorecard)

    def build() -> History:
        nonlocal signals
        keep = (signals.epoch >= since.timestamp()) & (signals.epoch < now.timestamp())
        if not keep.all():
            signals = signals._select(np.flatnonzero(keep))
        ev_account = index(signals.account)
        ev_type = lookup(type_ids, signals.type)
        ok = (ev_account >= 0) & (ev_type >= 0)
        return History(
            account_ids=ids,
            created=_epoch([r[1] for r in rows]),
            employees=np.array([np.nan if r[2] is None else float(r[2]) for r in rows]),
            revenue=np.array([np.nan if r[3] is None else float(r[3]) for r in rows]),
            industry=np.array([r[4] or "" for r in rows], dtype=object),
            country=np.array([r[5] or "" for r in rows], dtype=object),
            type_keys=[t[1] for t in types],
            type_labels=[t[2] for t in types],
            topic_keys=[t[1] for t in topics],
            topic_labels=[t[2] for t in topics],
            ev_account=ev_account[ok],
            ev_type=ev_type[ok],
            ev_time=signals.epoch[ok],
            ev_topic=lookup(topic_ids, signals.topic)[ok],
            ev_contact=signals.contact[ok],
            stage_keys=[s[1] for s in stages],
            stage_labels=[s[2] for s in stages],
            stage_kinds=[s[3] for s in stages],
            stage_ranks=np.array([s[4] for s in stages], dtype=np.int64),
            tr_account=index(np.array([r[0] for r in tr_rows], dtype=np.int64)),
            tr_stage=np.array([stage_pos[r[1]] for r in tr_rows], dtype=np.int64),
            tr_time=_epoch([r[2] for r in tr_rows]),
            tr_movement=np.array([r[3] for r in tr_rows], dtype=object),
            stage_now=np.array([stage_pos.get(r[6], -1) if r[6] else -1 for r in rows], dtype=np.int64),
            rule_names=[r[1] for r in rules],
            hit_account=index(np.array([h[0] for h in hit_rows], dtype=np.int64)),
            hit_rule=np.array([rule_pos[h[1]] for h in hit_rows], dtype=np.int64),
            hit_set=_epoch([h[2] for h in hit_rows]),
            hit_cleared=_epoch([h[3] for h in hit_rows], missing=np.inf),
            type_points=np.array([eng.get(t[0], (0.0, None))[0] for t in types], dtype=np.float64),
            type_half_life=np.array(
                [np.nan if eng.get(t[0], (0, None))[1] is None else eng[t[0]][1] for t in types], dtype=np.float64
            ),
            type_key_feature=np.array([t[3] for t in types], dtype=bool),
            type_milestone=np.array([t[4] for t in types], dtype=bool),
            ct_account=index(contacts["account"]) if contacts else np.empty(0),
            ct_created=contacts.get("created", np.empty(0)),
            ct_fields=contacts.get("fields", {}),
            scorecard=scorecard,
            **(_traits_build(rows, index, trait_contacts, traits) if traits else {}),
        )

    return build if deferred else build()


def _trait_contacts_read(account_ids: Sequence[int] | None, keys: Literal[True] | Sequence[str]) -> list[tuple]:
    """(account id, created, traits) of the contacts with imported fields (those with one of ``keys``), oldest
    first."""
    qs = Contact.objects.filter(account_id__isnull=False).order_by()
    if account_ids is not None:
        qs = qs.filter(_among("account_id", account_ids))
    qs = qs.exclude(traits={}) if keys is True else qs.filter(traits__has_any_keys=list(keys))
    qs, (created,) = _seconds(qs, "created_at")
    return sorted(qs.values_list("account_id", created, "traits"), key=lambda r: _epoch((r[1],))[0])


def _traits_build(
    rows: list[tuple], index: Callable, contacts: list[tuple], keys: Literal[True] | Sequence[str]
) -> dict:
    """``History.traits`` and ``trait_since``: each account's own value of a field, else the value of its oldest
    contact that has one (known from that contact's creation)."""
    wanted = None if keys is True else set(keys)
    n = len(rows)
    values: dict[str, list[Any]] = {}
    since: dict[str, np.ndarray] = {}
    for i, row in enumerate(rows):
        for key, value in (row[-1] or {}).items():
            if (wanted is None or key in wanted) and trait_text(value) is not None:
                values.setdefault(key, [None] * n)[i] = value
    if contacts:
        where = index(np.array([c[0] for c in contacts], dtype=np.int64))
        for i, (_, when, found) in zip(where.tolist(), contacts, strict=True):
            if i < 0 or not isinstance(found, dict):
                continue
            for key, value in found.items():
                if (wanted is None or key in wanted) and trait_text(value) is not None:
                    column = values.setdefault(key, [None] * n)
                    if column[i] is None:
                        column[i] = value
                        since.setdefault(key, np.full(n, np.nan))[i] = _epoch((when,))[0]
    return {"traits": values, "trait_since": since}


def _signals_read(*, account_ids: Sequence[int] | None, since: datetime, now: datetime) -> Any:
    """Signals as arrays: PostgreSQL's binary read of the rescore, or one ORM query elsewhere."""

    if connection.vendor == "postgresql":
        arrays = signals_fetch(account_ids=account_ids, since=since, now=now)
        keep = arrays.epoch < now.timestamp()
        return arrays._select(np.flatnonzero(keep))
    qs = Signal.objects.filter(account_id__isnull=False, occurred_at__gte=since, occurred_at__lt=now).order_by()
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    rows = list(qs.values_list("account_id", "contact_id", "type_id", "topic_id", "occurred_at"))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 5
    as_int = [np.array([-1 if v is None else v for v in c], dtype=np.int64) for c in cols[:4]]
    return SignalArrays(as_int[0], as_int[1], as_int[2], as_int[3], np.zeros(len(rows), np.int64), _epoch(cols[4]))


def movement_counts() -> dict[str, int]:
    """Past movements of each kind (one query)."""
    return dict(StageTransition.objects.order_by().values_list("movement").annotate(n=Count("pk")))


# --- training -----------------------------------------------------------------------------------------------------


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
        h, space, cuts, horizon_days=settings.horizon_days, outcomes=tuple(wanted),
        max_examples=settings.max_examples, progress=progress,
    )  # fmt: skip
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
                feature_space=used.to_json(),
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
                movements=counts.get(OUTCOME_MOVEMENT[outcome], 0),
                refused_reason=result.refused,
                train_from=_dt(result.bounds["fit_from"]),
                train_to=_dt(result.bounds["calibrate_to"]),
                validate_from=_dt(result.bounds["validate_from"]),
                validate_to=_dt(result.bounds["validate_to"]),
            )
            report.trained[outcome] = model
            if result.refused:  # probable leakage: kept for the admin to read, never activated, nothing proposed
                report.refused[outcome] = result.refused
                continue
            better = previous is None or (model.metrics.get("pr_auc") or 0) >= (previous.metrics.get("pr_auc") or 0)
            if settings.auto_activate and better:
                predictive_model_activate(model=model, rescore=False)
                report.activated.append(outcome)
            report.proposals += proposals_refresh(
                outcome=outcome, candidates=mining.candidates_mine(ex, used, limit=PROPOSALS_PER_OUTCOME),
                evidence={"horizon_days": settings.horizon_days, "examples": int(len(ex.y)),
                          "model_version": version, "cutoffs": int(len(np.unique(ex.t)))},
            )  # fmt: skip
    if report.activated and rescore:
        rescore_all_after_commit()
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _validation_rows(ex: Any, bounds: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    val = ex.t >= bounds["validate_from"]
    return ~val, val


def not_enough_message(outcome: str, have: int, need: int) -> str:
    words = OUTCOME_WORDS[outcome]
    return f"Not enough history yet: {have} past {words} recorded, {need} needed ({need - have} more)."


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


# --- smart signals ------------------------------------------------------------------------------------------------


def _fingerprint(outcome: str, conditions: dict) -> str:
    return hashlib.sha256(f"{outcome}:{json.dumps(conditions, sort_keys=True)}".encode()).hexdigest()


def proposals_refresh(*, outcome: str, candidates: Sequence[mining.Candidate], evidence: dict[str, Any]) -> int:
    """Store new candidates as proposals and update the evidence of open ones; decided ones are left alone (a
    rejected idea is not proposed again). Returns how many were created."""
    now = timezone.now()
    prints = {_fingerprint(outcome, c.rule): c for c in candidates}
    existing = {p.fingerprint: p for p in SmartSignalProposal.objects.filter(fingerprint__in=list(prints))}
    created, updated = [], []
    for fp, cand in prints.items():
        values = dict(
            title=cand.title[:500], conditions=cand.rule, support=cand.support, accounts=cand.accounts,
            positives=cand.positives, precision=cand.precision, base_rate=cand.base_rate, lift=cand.lift,
            lift_low=cand.lift_low, lift_high=cand.lift_high, evidence=evidence, updated_at=now,
        )  # fmt: skip
        if fp in existing:
            proposal = existing[fp]
            if proposal.status == ProposalStatus.PROPOSED:
                for k, v in values.items():
                    setattr(proposal, k, v)
                updated.append(proposal)
        else:
            created.append(SmartSignalProposal(outcome=outcome, fingerprint=fp, created_at=now, **values))
    SmartSignalProposal.objects.bulk_create(created)
    if updated:
        SmartSignalProposal.objects.bulk_update(updated, [*values.keys()])
    return len(created)


class ProposalError(ValueError):
    """A proposal cannot be confirmed as asked; the message says why."""


def proposal_confirm(*, proposal: SmartSignalProposal, user: Any = None, as_engagement_rule: bool = False,
                     points: float = 10.0) -> SmartSignalProposal:  # fmt: skip
    """Turn a proposal into a signal rule (or, for a single signal type, an engagement rule worth ``points``),
    which the next rescore uses; the proposal records what it became."""
    from .conditions import ConditionError, compile_conditions

    if proposal.status != ProposalStatus.PROPOSED:
        raise ProposalError(f"This proposal is already {proposal.get_status_display().lower()}.")
    with transaction.atomic():
        if as_engagement_rule:
            conds = proposal.conditions.get("conditions", [])
            types = [c["signal"].get("type") for c in conds if isinstance(c.get("signal"), dict)]
            if len(conds) != 1 or not types or not types[0]:
                raise ProposalError("Only a proposal about one signal type can become an engagement rule.")
            signal_type = SignalType.objects.filter(key=signal_type_key(types[0])).first()
            if signal_type is None:
                raise ProposalError(f"The signal type {types[0]!r} no longer exists.")
            if EngagementRule.objects.filter(signal_type=signal_type).exists():
                raise ProposalError(f"{signal_type} already has an engagement rule: change its points instead.")
            rule = EngagementRule(signal_type=signal_type, points=points, half_life_days=None,
                                  window_days=conds[0].get("window_days") or 30)  # fmt: skip
            rule.full_clean()
            rule.save()
            proposal.engagement_rule = rule
        else:
            try:
                compile_conditions(proposal.conditions)
            except ConditionError as exc:
                raise ProposalError(f"The conditions are no longer valid: {exc}") from exc
            name = f"{proposal.get_outcome_display()} signal: {proposal.title}"[:120]
            if SignalRule.objects.filter(name=name).exists():
                name = f"{name[:110]} #{proposal.pk}"
            description = (
                f"Proposed by Klearly from {proposal.support} past examples ({proposal.accounts} accounts): "
                f"{100 * proposal.precision:.1f}% made a {proposal.outcome} within the horizon against "
                f"{100 * proposal.base_rate:.1f}% overall (lift {proposal.lift:.2f}, 95% interval "
                f"{proposal.lift_low:.2f}–{proposal.lift_high:.2f})."
            )
            proposal.signal_rule = SignalRule.objects.create(
                name=name, description=description, conditions=proposal.conditions
            )
        proposal.status = ProposalStatus.CONFIRMED
        proposal.decided_at = timezone.now()
        proposal.decided_by = user if getattr(user, "pk", None) else None
        proposal.save()
        rescore_all_after_commit()
    return proposal


def proposal_reject(*, proposal: SmartSignalProposal, user: Any = None) -> SmartSignalProposal:
    """Reject a proposal: it is kept (so it is not proposed again) and creates nothing."""
    if proposal.status != ProposalStatus.PROPOSED:
        raise ProposalError(f"This proposal is already {proposal.get_status_display().lower()}.")
    proposal.status = ProposalStatus.REJECTED
    proposal.decided_at = timezone.now()
    proposal.decided_by = user if getattr(user, "pk", None) else None
    proposal.save(update_fields=["status", "decided_at", "decided_by"])
    return proposal


# --- predicting during a rescore ----------------------------------------------------------------------------------


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
    before, (computed,) = _seconds(AccountPrediction.objects.filter(_among("account_id", ids)), "computed_at")
    previous = {
        r["account_id"]: {**r, "computed_at": _epoch((r[computed],))[0]}
        for r in before.values("account_id", "conversion", "expansion", "churn", "health", "health_since", computed)
    }
    trends = None
    if not trends_given:
        trends = dict(
            AccountScore.objects.filter(_among("account_id", ids)).values_list("account_id", "engagement_trend")
        )
    return PredictionInputs(ids=ids, now=now, context=context, history=h, previous=previous, trends=trends)


# Per outcome: predict, smooth, explain, in one pass over the arrays (hence the noqa below).
def predictions_compute(inputs: PredictionInputs, trends: dict[int, float | None] | None = None) -> PredictionResult:  # noqa: PLR0915
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
    # Models trained together share one feature space: their features are built once for all outcomes.
    features_by: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for trained in models.values():
        key = trained.space_key
        if key not in features_by:
            union = np.unique(np.concatenate([applies_by[o] for o in OUTCOMES]))
            features_by[key] = (union, features_at(h, trained.space, t, union, current_stage=True))
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
        words = {s.value: s.label for s in PredictionStatus}
        where = {int(i): j for j, i in enumerate(applies)} if why else {}
        for i in range(n):
            entry: dict[str, Any] = {"status": st[i]}
            if st[i] == PredictionStatus.OK:
                r = why[where[i]]
                assert loaded is not None  # OK only where a model predicted
                entry.update(model_version=loaded.version, raw=round(float(raw[i]), 4),
                             probability=round(float(smoothed[i]), 4), typical=round(loaded.typical, 4),
                             up=r["up"], down=r["down"])  # fmt: skip
            else:
                entry["message"] = message if st[i] != PredictionStatus.NOT_APPLICABLE else words[st[i]]
            reasons[i][outcome] = entry
    th = _health_thresholds(settings)
    trend = np.array([np.nan if trend_of.get(a) is None else trend_of[a] for a in pk], dtype=np.float64)
    prev_band = [prev_rows.get(a, {}).get("health") for a in pk]
    bands = steady.health(shown["churn"], trend, prev_band, th)
    # Columns, not model instances: the rescore writes them with one upsert per chunk on PostgreSQL.
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
    changes = PredictionChanges(
        before={a: _tracked(r) for a, r in prev_rows.items()},
        after={a: _tracked({**{o: columns[o][i] for o in OUTCOMES}, "health": bands_l[i]}) for i, a in enumerate(pk)},
    )
    moved = [a for a, after in changes.after.items() if changes.before.get(a) != after]
    return PredictionResult(ids=inputs.ids, now=now, columns=columns, changes=changes, moved=moved)


def predictions_write(result: PredictionResult, raw: Any = None) -> None:
    """Store the predictions (one upsert) and put the probabilities into score history. ``raw``: the psycopg
    connection to write on (a full rescore's writer thread)."""
    columns = result.columns
    if not result.ids:
        return
    if connection.vendor == "postgresql":
        _pg_upsert(AccountPrediction, columns, ["account_id"], raw)
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
