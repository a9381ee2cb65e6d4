"""Reading a history from the database into the arrays ``scoring.ml`` learns and predicts from: accounts, signals,
stage movements, rule hits, fit fields, imported fields, signal types with their engagement rules, and the live
scorecard as plain data. A fixed number of set-based queries per call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal

import numpy as np
from django.db import connection
from django.db.models import Count, ExpressionWrapper, F, FloatField, Func

from accounts.choices import Movement
from accounts.models import Account, Contact, JourneyStage, StageTransition
from signals_app.models import Signal, SignalTopic, SignalType

from ..ml.history import OUTCOME_WORDS, History, trait_text
from ..ml.scores import ScorecardSpec
from ..models import EngagementRule, RuleHit, SignalRule
from ..rescore.read import SignalArrays, among, signals_fetch
from ..scorecard import Scorecard, scorecard_load


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


CONTACT_FIELDS = ("title", "email", "first_name", "last_name")  # what fit rules over contacts read from a history


def scorecard_spec(card: Scorecard | None = None) -> ScorecardSpec:
    """The live scorecard (``scoring.scorecard.scorecard_load``) as the plain data ``scoring.ml`` computes the
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
        qs = qs.filter(among("account_id", account_ids))
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
    fit fields, signal types with their engagement rules. ``signals``: a ``scoring.rescore.read.SignalArrays`` already
    read by the rescore (saves reading them twice). ``scorecard``: the live scorecard as plain data
    (:func:`scorecard_spec`), with the contacts its fit rules read. ``traits``: the imported fields to read (True:
    every one, for training; the keys an active model uses, for prediction). ``deferred``: return a function that
    makes the History from what was read (no database): a rescore's predictor thread does that work, not its
    reader."""
    rows = _accounts_read(account_ids, traits)
    trait_contacts = _trait_contacts_read(account_ids, traits) if traits else []
    catalogue = _catalogue_read()
    if signals is None:
        signals = _signals_read(account_ids=account_ids, since=since, now=now)
    tr_rows, hit_rows = _movements_read(account_ids)
    build = partial(
        _history_build,
        rows=rows,
        catalogue=catalogue,
        signals=signals,
        since=since,
        now=now,
        tr_rows=tr_rows,
        hit_rows=hit_rows,
        contacts=_contacts_read(account_ids, scorecard),
        scorecard=scorecard,
        traits=traits,
        trait_contacts=trait_contacts,
    )
    return build if deferred else build()


def _accounts_read(account_ids: Sequence[int] | None, traits: bool | Sequence[str]) -> list[tuple]:
    """(id, created, employees, annual revenue, industry, country, stage id[, traits]) of the accounts, by id."""
    accounts = Account.objects.order_by("pk")
    if account_ids is not None:
        accounts = accounts.filter(among("pk", account_ids))
    accounts, (created,) = _seconds(accounts, "created_at")
    fields = ["pk", created, "employees", "annual_revenue", "industry", "country", "stage_id"]
    return list(accounts.values_list(*fields, *(["traits"] if traits else [])))


@dataclass
class _Catalogue:
    """What a history's events refer to: signal types (with their active engagement rules), topics, stages, rules."""

    types: list[tuple]  # (id, key, label, is key feature, is activation milestone), by id
    type_ids: np.ndarray
    topics: list[tuple]  # (id, key, label), by id
    topic_ids: np.ndarray
    stages: list[tuple]  # (id, key, name, kind, rank), in journey order
    stage_pos: dict[int, int]
    rules: list[tuple]  # (id, name), by id
    rule_pos: dict[int, int]
    engagement: dict[int, tuple]  # signal type id -> (points, half-life days)


def _catalogue_read() -> _Catalogue:
    types = list(SignalType.objects.order_by("pk").values_list("pk", "key", "label", "is_key_feature",
                                                               "is_activation_milestone"))  # fmt: skip
    topics = list(SignalTopic.objects.order_by("pk").values_list("pk", "key", "label"))
    stages = list(JourneyStage.objects.order_by("position", "pk").values_list("pk", "key", "name", "kind", "rank"))
    rules = list(SignalRule.objects.order_by("pk").values_list("pk", "name"))
    eng = dict(
        (r[0], (r[1], r[2]))
        for r in EngagementRule.objects.filter(is_active=True).values_list("signal_type_id", "points", "half_life_days")
    )
    return _Catalogue(
        types=types,
        type_ids=np.array([t[0] for t in types], dtype=np.int64),
        topics=topics,
        topic_ids=np.array([t[0] for t in topics], dtype=np.int64),
        stages=stages,
        stage_pos={s[0]: i for i, s in enumerate(stages)},
        rules=rules,
        rule_pos={r[0]: i for i, r in enumerate(rules)},
        engagement=eng,
    )


def _movements_read(account_ids: Sequence[int] | None) -> tuple[list[tuple], list[tuple]]:
    """The accounts' stage movements (account, stage, time, movement) and rule hits (account, rule, set, cleared)."""
    tr = StageTransition.objects.exclude(movement=Movement.NONE).order_by()  # no change of stage: not a movement
    hits = RuleHit.objects.order_by()
    if account_ids is not None:
        tr = tr.filter(among("account_id", account_ids))
        hits = hits.filter(among("account_id", account_ids))
    tr, (changed,) = _seconds(tr, "changed_at")
    hits, hit_times = _seconds(hits, "set_at", "cleared_at")
    tr_rows = list(tr.values_list("account_id", "to_stage_id", changed, "movement"))
    hit_rows = list(hits.values_list("account_id", "rule_id", *hit_times))
    return tr_rows, hit_rows


def _position(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's index in the sorted ``ids`` (-1: not among them)."""
    if not len(ids):
        return np.full(len(values), -1, np.int64)
    pos = np.clip(np.searchsorted(ids, values), 0, len(ids) - 1)
    return np.where(ids[pos] == values, pos, -1)


def _lookup(known: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's index in the sorted ``known`` ids (-1: not among them, or a negative value: none)."""
    if not len(known):
        return np.full(len(values), -1, np.int64)
    pos = np.clip(np.searchsorted(known, values), 0, len(known) - 1)
    return np.where((known[pos] == values) & (values >= 0), pos, -1)


def _history_build(
    *,
    rows: list[tuple],
    catalogue: _Catalogue,
    signals: Any,
    since: datetime,
    now: datetime,
    tr_rows: list[tuple],
    hit_rows: list[tuple],
    contacts: dict[str, Any],
    scorecard: ScorecardSpec | None,
    traits: bool | Sequence[str],
    trait_contacts: list[tuple],
) -> History:
    """The History from what :func:`history_load` read (no database)."""
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    index = partial(_position, ids)
    types, topics, stages, rules = catalogue.types, catalogue.topics, catalogue.stages, catalogue.rules
    stage_pos, rule_pos, eng = catalogue.stage_pos, catalogue.rule_pos, catalogue.engagement
    keep = (signals.epoch >= since.timestamp()) & (signals.epoch < now.timestamp())
    if not keep.all():
        signals = signals._select(np.flatnonzero(keep))
    ev_account = index(signals.account)
    ev_type = _lookup(catalogue.type_ids, signals.type)
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
        ev_topic=_lookup(catalogue.topic_ids, signals.topic)[ok],
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


def _trait_contacts_read(account_ids: Sequence[int] | None, keys: Literal[True] | Sequence[str]) -> list[tuple]:
    """(account id, created, traits) of the contacts with imported fields (those with one of ``keys``), oldest
    first."""
    qs = Contact.objects.filter(account_id__isnull=False).order_by()
    if account_ids is not None:
        qs = qs.filter(among("account_id", account_ids))
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


def not_enough_message(outcome: str, have: int, need: int) -> str:
    words = OUTCOME_WORDS[outcome]
    return f"Not enough history yet: {have} past {words} recorded, {need} needed ({need - have} more)."
