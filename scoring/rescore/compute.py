"""Computing a chunk's rescore: its scores, measures and explanations over arrays (``scoring.engine``), and which
accounts changed and get a history row. Touches no database."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from django.utils import timezone

from .. import engine
from ..hooks import ANNOUNCED_SCORE_FIELDS, score_changes
from ..models import AccountScore, ContactScore, ScoreHistory, ScoringSettings
from ..rules import RuleStats
from ..scorecard import Scorecard
from . import explain
from .explain import round2
from .read import (
    CHANGE_FIELDS,
    DAY_SECONDS,
    HISTORY_FIELDS,
    PREVIOUS_FIELDS,
    Chunk,
    Columns,
    Previous,
    account_field_values,
    contact_field_values,
)


@dataclass
class Computed:
    """What a chunk's rescore writes: AccountScore values as columns (``account_id`` first; ``contributions`` as JSON
    text, built without a Python object per explanation line) and ContactScore columns."""

    scores: dict[str, list[Any]]
    contact_scores: dict[str, list[Any]]
    today: date
    newly_qualified: int
    history: list[int] = field(default_factory=list)  # positions of the accounts that get a ScoreHistory row
    changed: dict[int, Previous | None] = field(default_factory=dict)  # account id -> scores before (None: new)
    previous: dict[int, Previous] = field(default_factory=dict)  # every account's scores before (read with it)

    @property
    def account_ids(self) -> list[int]:
        return self.scores["account_id"]

    @property
    def account_scores(self) -> list[dict[str, Any]]:
        """One dict of AccountScore values per account, explanations parsed (for callers that want rows)."""
        names = list(self.scores)
        rows = [dict(zip(names, values, strict=True)) for values in zip(*self.scores.values(), strict=True)]
        for row in rows:
            row["contributions"] = orjson.loads(row["contributions"])
        return rows

    def account_score_objects(self) -> list[AccountScore]:
        return [AccountScore(**values) for values in self.account_scores]

    def changes(self, hits: RuleStats, ml: Any = None) -> list[dict[str, Any]]:
        """What ``scoring.hooks.scores_changed`` announces: the accounts whose tracked values (scores, and the
        predictions' in ``ml``, a ``scoring.predictions.PredictionChanges``) moved or whose rule hits were set or
        cleared (rows are made for those accounts only)."""
        candidates = set(self.changed) | {a for _, a in hits.opened_pairs} | {a for _, a in hits.cleared_pairs}
        if ml is not None:
            candidates |= {a for a, values in ml.after.items() if ml.before.get(a) != values}
        if not candidates:
            return []
        at = [i for i, a in enumerate(self.account_ids) if a in candidates]
        tracked = [PREVIOUS_FIELDS.index(f) for f in ANNOUNCED_SCORE_FIELDS]
        before = {}
        for i in at:
            account_id = self.account_ids[i]
            was = self.previous.get(account_id)
            if was is not None:
                before[account_id] = tuple(was.values[k] for k in tracked)
        after = [
            {"account_id": self.account_ids[i], **{f: self.scores[f][i] for f in ANNOUNCED_SCORE_FIELDS}} for i in at
        ]
        values = ml.merged(before=before, after=after) if ml is not None else {"before": before, "after": after}
        return score_changes(**values, hits_set=hits.opened_pairs, hits_cleared=hits.cleared_pairs)

    def history_objects(self, positions: Sequence[int] | None = None) -> list[ScoreHistory]:
        """ScoreHistory rows of the accounts at these positions (default: those that get a row, ``history``)."""
        c = self.scores
        return [
            ScoreHistory(account_id=c["account_id"][i], date=self.today, **{f: c[f][i] for f in HISTORY_FIELDS})
            for i in (self.history if positions is None else positions)
        ]

    def contact_score_objects(self) -> list[ContactScore]:
        c = self.contact_scores
        return [ContactScore(**dict(zip(c, values, strict=True))) for values in zip(*c.values(), strict=True)]


@dataclass
class _Activity:
    """A chunk's activity measures, from its signal groups."""

    engagement: engine.Engagement
    type_counts: np.ndarray  # (accounts, types) signals that count (for "Demo request × 3")
    trend: engine.Trend
    strength: engine.SignalStrength
    active_short: np.ndarray
    active_long: np.ndarray
    adoption: np.ndarray
    activation: np.ndarray


@dataclass
class _FitParts:
    """A chunk's fit and what it was made of (its explanation lists them)."""

    fit: engine.Fit
    rule_matches: np.ndarray  # (fit rules, accounts)
    free: np.ndarray  # contacts with a free email address, per account
    fake: np.ndarray  # contacts with a name without vowels, per account
    key_missing: np.ndarray  # (key fields, accounts)
    key_penalty: np.ndarray  # (key fields, 1) points a missing key field takes
    total_users: np.ndarray  # contacts per account


def chunk_compute(*, chunk: Chunk, card: Scorecard, now: datetime) -> Computed:
    """Scores, measures and explanations of a chunk, computed over arrays."""
    s = card.settings
    n = len(chunk.ids)
    activity = _activity(chunk, card, n)
    parts = _fit(chunk, card, now, n)
    fit, eng = parts.fit, activity.engagement
    lead = engine.lead(fit.score, eng.score)
    grades = engine.grades(lead, a_min=s.grade_a_min, b_min=s.grade_b_min, c_min=s.grade_c_min)
    temps = engine.temperatures(eng.score, hot_min=s.hot_min, warm_min=s.warm_min)
    qualified = lead >= s.qualification_threshold

    contact_act = engine.contact_activity(chunk.rows, card.rules, len(chunk.contacts["pk"]))
    today = timezone.localdate(now)
    ids = chunk.ids.tolist()

    f_score, e_score, l_score, sig = (
        np.asarray(round2(v), dtype=np.float64) for v in (fit.score, eng.score, lead, activity.strength.strength)
    )
    contributions = _explanations(card, activity, parts, f_score, e_score, l_score, sig)
    qualified_l = qualified.tolist()
    qualified_at, newly = _qualified_at(ids, qualified_l, chunk.previous, now)
    total_l, long_l = parts.total_users.tolist(), activity.active_long.tolist()
    scores = {
        "account_id": ids,
        "fit": f_score.tolist(),
        "completeness": round2(fit.completeness),
        "engagement": e_score.tolist(),
        "lead": l_score.tolist(),
        "grade": grades.tolist(),
        "temperature": temps.tolist(),
        "qualified": qualified_l,
        "qualified_at": qualified_at,
        "signal_strength": sig.tolist(),
        "signal_strength_baseline": round2(activity.strength.baseline),
        "surging": activity.strength.surging.tolist(),
        "tenure_days": account_field_values(chunk.accounts, "tenure_days", now),
        "size_band": account_field_values(chunk.accounts, "size_band", now),
        "activation": _ratios(activity.activation),
        "engagement_trend": _ratios(activity.trend.ratio),
        "active_users_7d": activity.active_short.tolist(),
        "active_users_30d": long_l,
        "total_users": total_l,
        "active_ratio_30d": [round(a / t, 4) if t else 0.0 for a, t in zip(long_l, total_l, strict=True)],
        "adoption": _ratios(activity.adoption),
        "contributions": contributions,
        "config_version": [card.version] * n,
        "computed_at": [now] * n,
    }
    contact_scores = _contact_scores(chunk.contacts, contact_act, s, now)
    history, changed = _history_rows(scores, chunk.previous, today)
    return Computed(scores, contact_scores, today, newly, history, changed, chunk.previous)


def _activity(chunk: Chunk, card: Scorecard, n: int) -> _Activity:
    """Engagement, trend, signal strength (with segment boosts), active users, adoption and activation."""
    s = card.settings
    rows, rules = chunk.rows, card.rules
    eng = engine.engagement(rows, rules, n)
    type_counts = np.zeros((n, rules.n_types))  # signals that count, per type (for "Demo request × 3")
    if rules.defaulted.any():  # an outbound signal of a type on the default weight counts nothing
        counted = ~rules.defaulted[rows.type] | rows.inbound
        np.add.at(type_counts, (rows.account[counted], rows.type[counted]), rows.count[counted])
    else:
        np.add.at(type_counts, (rows.account, rows.type), rows.count)
    trend = engine.trend(
        rows,
        engine.raw_points(rows, rules),
        n,
        recent_days=s.trend_recent_days,
        baseline_days=s.trend_baseline_days,
    )
    boosts = engine.SegmentBoosts(
        type=np.array([b.type_index for b in card.boosts], dtype=np.int64),
        multiplier=np.array([b.multiplier for b in card.boosts], dtype=np.float64),
        window_days=np.array([b.window_days for b in card.boosts], dtype=np.float64),
        members=np.array([chunk.members[b.segment_id] for b in card.boosts]).reshape(len(card.boosts), n),
    )
    strength = engine.signal_strength(
        rows,
        rules,
        boosts,
        n,
        recent_days=s.trend_recent_days,
        baseline_days=s.trend_baseline_days,
        surging_factor=s.surging_factor,
        surging_min_points=s.surging_min_points,
    )
    active_short = engine.active_users(rows, n, window_days=s.active_short_days)
    active_long = engine.active_users(rows, n, window_days=s.active_long_days)
    recent_use = rows.age_days <= s.active_long_days
    adoption = engine.distinct_types_share(rows.account[recent_use], rows.type[recent_use], card.key_feature, n)
    activation = engine.distinct_types_share(*chunk.milestones, card.milestone, n)
    return _Activity(eng, type_counts, trend, strength, active_short, active_long, adoption, activation)


def _fit(chunk: Chunk, card: Scorecard, now: datetime, n: int) -> _FitParts:
    """Fit: rules over account fields, traits and (any of the) contacts' fields; data-quality penalties."""
    s = card.settings
    contacts = chunk.contacts
    n_contacts = len(contacts["pk"])
    contact_account = np.searchsorted(chunk.ids, np.array(contacts["account_id"], dtype=np.int64))
    total_users = np.bincount(contact_account, minlength=n) if n_contacts else np.zeros(n, np.int64)
    rule_matches = np.zeros((len(card.fit_rules), n), dtype=bool)
    for r, rule in enumerate(card.fit_rules):
        if rule.field.startswith("contact."):
            values = contact_field_values(contacts, rule.field[len("contact.") :])
            hit = engine.matches(values, rule.operator, rule.value)
            rule_matches[r] = engine.any_per_account(contact_account, hit, n)
        else:
            rule_matches[r] = engine.matches(
                account_field_values(chunk.accounts, rule.field, now), rule.operator, rule.value
            )
    free = engine.count_per_account(contact_account, engine.free_email(contacts["email"], card.free_domains), n)
    fake = engine.count_per_account(
        contact_account,
        engine.has_no_vowel(contacts["first_name"]) | engine.has_no_vowel(contacts["last_name"]),
        n,
    )
    key_fields = list(s.key_fields or [])
    key_missing = np.array(
        [engine.matches(account_field_values(chunk.accounts, f, now), "missing", None) for f in key_fields], dtype=bool
    ).reshape(len(key_fields), n)
    # One gap, one penalty: a key field that a fit rule already penalises when missing ("No industry known −5")
    # takes no "Missing industry" penalty on top (it still counts against completeness).
    ruled = {rule.field for rule in card.fit_rules if rule.operator == "missing" and rule.points < 0}
    key_penalty = np.array([0.0 if f in ruled else s.missing_key_field_penalty for f in key_fields]).reshape(-1, 1)
    penalties = np.vstack(
        [
            (free > 0) * s.free_email_penalty,
            (fake > 0) * s.no_vowel_name_penalty,
            key_missing * key_penalty,
        ]
    ).reshape(2 + len(key_fields), n)
    fit = engine.fit([rule.points for rule in card.fit_rules], rule_matches, penalties, key_missing)
    return _FitParts(fit, rule_matches, free, fake, key_missing, key_penalty, total_users)


def _explanations(
    card: Scorecard,
    activity: _Activity,
    parts: _FitParts,
    f_score: np.ndarray,
    e_score: np.ndarray,
    l_score: np.ndarray,
    sig: np.ndarray,
) -> list[str]:
    """Each account's contributions as JSON text (scores given rounded, as stored)."""
    heads = explain.type_heads(card)
    fit_lines = explain.fit_explanations(
        card=card, fit=parts.fit, rule_matches=parts.rule_matches, free=parts.free, fake=parts.fake,
        key_missing=parts.key_missing, key_penalty=parts.key_penalty, score=f_score,
    )  # fmt: skip
    eng_lines = explain.engagement_explanations(
        card=card, engagement=activity.engagement, type_counts=activity.type_counts, heads=heads, score=e_score
    )
    str_lines = explain.strength_explanations(card=card, strength=activity.strength, heads=heads, score=sig)
    lead_lines = explain.lead_explanations(fit_score=f_score, engagement_score=e_score, score=l_score)
    return explain.contributions_json(fit_lines, eng_lines, lead_lines, str_lines)


def _qualified_at(
    ids: list[int], qualified: list[bool], previous: dict[int, Previous], now: datetime
) -> tuple[list[datetime | None], int]:
    """When each account qualified, and how many newly did: qualification keeps the time the account first crossed
    the bar while it stays above."""
    qualified_at: list[datetime | None] = []
    newly = 0
    for pk, is_qualified in zip(ids, qualified, strict=True):
        before = previous.get(pk)
        was_qualified = before is not None and before.qualified
        if is_qualified:
            kept = before.qualified_at if before is not None and before.qualified else None
            qualified_at.append(kept or now)
            newly += not was_qualified
        else:
            qualified_at.append(None)
    return qualified_at, newly


def _contact_scores(
    contacts: Columns, contact_act: engine.ContactActivity, s: ScoringSettings, now: datetime
) -> dict[str, list[Any]]:
    """ContactScore columns: each contact's engagement, latest activity and whether it is active."""
    n_contacts = len(contacts["pk"])
    last_seen = contacts["last_seen_at"]
    ages = contact_act.last_age_days
    last_activity = []
    now_ts = now.timestamp()
    for age, seen in zip(ages.tolist(), last_seen, strict=True):
        # Back from days to a time, to the millisecond: SQLite's julianday carries the newest signal time only to
        # ~10 µs, and event times are sent to the millisecond.
        last = datetime.fromtimestamp(round(now_ts - age * DAY_SECONDS, 3), UTC) if math.isfinite(age) else seen
        if seen and last and seen > last:
            last = seen
        last_activity.append(last)
    contact_scores = {
        "contact_id": contacts["pk"],
        "account_id": contacts["account_id"],
        "engagement": [round(e, 2) for e in contact_act.engagement.tolist()],
        "last_activity_at": last_activity,
        "active": (ages <= s.active_long_days).tolist(),
        "computed_at": [now] * n_contacts,
    }
    return contact_scores


def _ratios(values: np.ndarray) -> list[float | None]:
    """Shares rounded to 4 decimals, None where undefined (nan)."""
    return [None if math.isnan(v) else round(v, 4) for v in values.tolist()]


def _history_rows(
    scores: dict[str, list[Any]], previous: dict[int, Previous], today: date
) -> tuple[list[int], dict[int, Previous | None]]:
    """Which accounts (positions) get a ScoreHistory row (their numbers changed, or their first rescore of the day),
    and the accounts whose numbers changed with what they had before (None: never scored)."""
    day_start = timezone.make_aware(datetime.combine(today, datetime.min.time()))
    day_end = day_start + timedelta(days=1)
    history: list[int] = []
    changed: dict[int, Previous | None] = {}
    k = len(CHANGE_FIELDS)
    now_values = zip(*(scores[f] for f in PREVIOUS_FIELDS), strict=True)
    for i, (account_id, values) in enumerate(zip(scores["account_id"], now_values, strict=True)):
        before = previous.get(account_id)
        if before is None or before.values != values:
            changed[account_id] = before  # some tracked value moved (playbooks hear of it)
            if before is None or before.values[:k] != values[:k]:
                history.append(i)
                continue
        if not day_start <= before.computed_at < day_end:
            history.append(i)
    return history, changed
