"""Writes for scoring: rescoring accounts (set-based, chunked, idempotent), the configuration version, defaults.

A rescore of a chunk of accounts reads everything it needs with a fixed number of queries (accounts, contacts, one
aggregate over their signals by account, contact, type, topic, direction and day, milestones reached, segment
members, previous scores), computes with ``scoring.engine`` over arrays, and writes with bulk upserts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, ExpressionWrapper, F, FloatField, Func, Max
from django.db.models.functions import Substr, TruncDate
from django.utils import timezone

from accounts.choices import SizeBand
from accounts.models import Account, Contact, RescoreMark, SegmentMembership
from signals_app.choices import Direction
from signals_app.models import Signal, SignalTopic, SignalType

from . import engine
from .choices import ContributionSource as Src
from .defaults import DEFAULT_ENGAGEMENT_RULES
from .models import (
    AccountScore,
    ConfigVersion,
    ContactScore,
    EngagementRule,
    FitRule,
    FreeEmailDomain,
    ScoreHistory,
    ScoringSettings,
    SegmentBoost,
    TopicImportance,
)

CHUNK_SIZE = 2000
# Signals older than this count for nothing worth storing (0.5 ** (365 / 30) < 0.0003 of their points), unless a
# rule's window or half-life reaches further: the horizon grows with the configuration.
MIN_HORIZON_DAYS = 365
DAY_SECONDS = 86_400.0

Progress = Callable[[int], None]


@dataclass
class RescoreStats:
    """What a rescore did."""

    accounts: int = 0
    chunks: int = 0
    marks_cleared: int = 0
    newly_qualified: int = 0
    config_version: int = 0

    def add(self, other: RescoreStats) -> None:
        self.accounts += other.accounts
        self.chunks += other.chunks
        self.marks_cleared += other.marks_cleared
        self.newly_qualified += other.newly_qualified
        self.config_version = other.config_version or self.config_version


# --- configuration ---------------------------------------------------------------------------------------------


def config_version_bump() -> int:
    """Increase the scoring configuration version (called on every save or delete of a config model)."""
    updated = ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1, changed_at=timezone.now())
    if not updated:
        ConfigVersion.objects.get_or_create(pk=1, defaults={"version": 2})
    return ConfigVersion.objects.values_list("version", flat=True).get(pk=1)


def scoring_defaults_ensure(*, force: bool = False) -> int:
    """Create the default engagement rules for the signal types that exist and have no rule yet.

    Runs once per database (``ScoringSettings.defaults_applied_at``), so rules an admin deleted stay deleted;
    ``force`` runs it again. The ``rescore`` command and the nightly rescore call it: signal types appear after
    migrations (seed_demo, imports, events), so a migration alone cannot create their rules. Returns rules created.
    """
    with transaction.atomic():
        settings = ScoringSettings.load()
        if settings.defaults_applied_at and not force:
            return 0
        have = set(EngagementRule.objects.values_list("signal_type_id", flat=True))
        types = [t for t in SignalType.objects.filter(key__in=list(DEFAULT_ENGAGEMENT_RULES)) if t.pk not in have]
        rules = []
        for t in types:
            points, half_life, window, cap = DEFAULT_ENGAGEMENT_RULES[t.key]
            rules.append(
                EngagementRule(signal_type=t, points=points, half_life_days=half_life, window_days=window, cap=cap)
            )
        for rule in rules:  # save() so each creation is in the history and bumps the configuration version
            rule.save()
        if rules or SignalType.objects.filter(key__in=list(DEFAULT_ENGAGEMENT_RULES)).exists():
            ScoringSettings.objects.filter(pk=settings.pk).update(defaults_applied_at=timezone.now())
    return len(rules)


@dataclass(frozen=True)
class Boost:
    """A segment boost as the engine needs it."""

    segment_id: int
    type_index: int
    multiplier: float
    window_days: float


@dataclass(frozen=True)
class Scorecard:
    """The whole configuration, loaded once per rescore, as arrays indexed by signal type."""

    settings: ScoringSettings
    version: int
    type_ids: np.ndarray  # sorted SignalType ids; a type's index is its position
    type_labels: list[str]
    rules: engine.EngagementRules
    key_feature: np.ndarray
    milestone: np.ndarray
    topic_multiplier: dict[int, float]
    fit_rules: list[FitRule]
    free_domains: frozenset[str]
    boosts: list[Boost]
    horizon_days: float

    def type_index(self, type_ids: np.ndarray) -> np.ndarray:
        """Indexes of the given type ids (-1 for a type created after the scorecard was loaded)."""
        if not len(self.type_ids):
            return np.full(len(type_ids), -1, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.type_ids, type_ids), 0, len(self.type_ids) - 1)
        return np.where(self.type_ids[pos] == type_ids, pos, -1)


def scorecard_load() -> Scorecard:
    """Read the configuration (a fixed number of queries, whatever the number of accounts)."""
    settings = ScoringSettings.load()
    version = ConfigVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0
    types = list(
        SignalType.objects.order_by("pk").values_list("pk", "label", "is_key_feature", "is_activation_milestone")
    )
    type_ids = np.array([t[0] for t in types], dtype=np.int64)
    position = {t[0]: i for i, t in enumerate(types)}
    rule_rows = EngagementRule.objects.filter(is_active=True).values_list(
        "signal_type_id", "points", "half_life_days", "window_days", "cap"
    )
    rules = engine.EngagementRules.build(len(types), [(position[r[0]], *r[1:]) for r in rule_rows])
    own = dict(TopicImportance.objects.values_list("topic_id", "multiplier"))
    topic_multiplier = dict(own)
    if own:  # a product type without its own importance takes its product line's
        for topic_id, parent_id in SignalTopic.objects.filter(parent_id__in=list(own)).values_list("pk", "parent_id"):
            topic_multiplier.setdefault(topic_id, own[parent_id])
    boosts = [
        Boost(b.segment_id, position[b.signal_type_id], b.multiplier, b.window_days)
        for b in SegmentBoost.objects.filter(is_active=True).order_by("pk")
    ]
    reach = [MIN_HORIZON_DAYS, settings.trend_recent_days + settings.trend_baseline_days, settings.active_long_days]
    reach += [w for w in rules.window_days if not math.isnan(w)]
    reach += [8 * h for h in rules.half_life_days if not math.isnan(h)]  # 8 half-lives: < 0.4% left
    reach += [b.window_days for b in boosts]
    return Scorecard(
        settings=settings,
        version=version,
        type_ids=type_ids,
        type_labels=[t[1] for t in types],
        rules=rules,
        key_feature=np.array([t[2] for t in types], dtype=bool),
        milestone=np.array([t[3] for t in types], dtype=bool),
        topic_multiplier=topic_multiplier,
        fit_rules=list(FitRule.objects.filter(is_active=True).order_by("pk")),
        free_domains=frozenset(FreeEmailDomain.objects.values_list("domain", flat=True)),
        boosts=boosts,
        horizon_days=float(min(max(reach), 3650)),
    )


# --- reading a chunk ---------------------------------------------------------------------------------------------

ACCOUNT_COLUMNS = (
    "pk", "name", "domain", "industry", "employees", "annual_revenue", "country", "created_at", "traits",
    "stage__key", "stage__kind", "owner__email",
)  # fmt: skip
CONTACT_COLUMNS = ("pk", "account_id", "email", "first_name", "last_name", "title", "last_seen_at")


def _size_band(employees: int | None) -> str:
    if employees is None:
        return SizeBand.UNKNOWN
    return SizeBand.SMALL if employees < 50 else SizeBand.MEDIUM if employees < 1000 else SizeBand.LARGE


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _trait(traits: Any, path: str) -> Any:
    value = traits
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def account_field_values(accounts: Sequence[dict], name: str, now: datetime) -> list[Any]:
    """The values of one fit field (account field or traits.<name>) for each account."""
    if name.startswith("traits."):
        return [_trait(a["traits"], name[len("traits.") :]) for a in accounts]
    if name == "stage":
        return [a["stage__key"] for a in accounts]
    if name == "stage_kind":
        return [a["stage__kind"] for a in accounts]
    if name == "owner_email":
        return [a["owner__email"] for a in accounts]
    if name == "size_band":
        return [_size_band(a["employees"]) for a in accounts]
    if name == "tenure_days":
        return [max((now - a["created_at"]).days, 0) for a in accounts]
    return [_plain(a.get(name)) for a in accounts]


def contact_field_values(contacts: Sequence[dict], name: str) -> list[Any]:
    if name == "email_domain":
        return [(c["email"] or "").rpartition("@")[2].lower() or None for c in contacts]
    return [c.get(name) for c in contacts]


@dataclass
class Chunk:
    """Everything read for a chunk of accounts."""

    accounts: list[dict]
    contacts: list[dict]
    rows: engine.SignalRows
    milestones: tuple[np.ndarray, np.ndarray]
    members: dict[int, np.ndarray]  # segment id -> bool per account
    previous: dict[int, tuple[bool, datetime | None]]
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # account ids, sorted


def _day_and_epoch_expressions() -> tuple[Any, Any]:
    """The day of a signal, and the newest signal time of a group in Unix seconds, computed by the database.

    SQLite stores datetimes as UTC text, so the day is its first ten characters and ``julianday`` turns the time into
    a number there; Django's own TruncDate and datetime conversion would run Python code for every signal and row.
    """
    if connection.vendor == "sqlite":
        day = Substr("occurred_at", 1, 10)
        epoch = Func(Max("occurred_at"), template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)")
    else:
        day = TruncDate("occurred_at", tzinfo=UTC)
        epoch = Func(Max("occurred_at"), template="EXTRACT(EPOCH FROM %(expressions)s)")
    return day, ExpressionWrapper(epoch, output_field=FloatField())


def chunk_read(*, account_ids: Sequence[int], card: Scorecard, now: datetime) -> Chunk:
    """Read a chunk of accounts with a fixed number of queries."""
    accounts = list(Account.objects.filter(pk__in=account_ids).order_by("pk").values(*ACCOUNT_COLUMNS))
    ids = [a["pk"] for a in accounts]
    index = {pk: i for i, pk in enumerate(ids)}
    contacts = list(Contact.objects.filter(account_id__in=ids).order_by("pk").values(*CONTACT_COLUMNS))
    contact_index = {c["pk"]: i for i, c in enumerate(contacts)}
    since = now - timedelta(days=card.horizon_days)
    day, last_epoch = _day_and_epoch_expressions()
    groups = (
        Signal.objects.filter(account_id__in=ids, occurred_at__gte=since, occurred_at__lte=now)
        .order_by()
        .annotate(day=day)
        .values("account_id", "contact_id", "type_id", "topic_id", "direction", "day")
        .annotate(n=Count("pk"), last=last_epoch)
        .order_by("account_id", "type_id", "day", "contact_id", "topic_id", "direction")
        .values_list("account_id", "contact_id", "type_id", "topic_id", "direction", "n", "last")
    )
    fetched = list(groups)
    columns = list(zip(*fetched, strict=True)) if fetched else [()] * 7
    type_idx = card.type_index(np.array(columns[2], dtype=np.int64))
    keep = type_idx >= 0
    rows = engine.SignalRows(
        account=np.array([index[a] for a in columns[0]], dtype=np.int64)[keep],
        type=type_idx[keep],
        age_days=((now.timestamp() - np.array(columns[6], dtype=np.float64)) / DAY_SECONDS)[keep],
        topic_multiplier=np.array([card.topic_multiplier.get(t, 1.0) for t in columns[3]], dtype=np.float64)[keep],
        count=np.array(columns[5], dtype=np.float64)[keep],
        contact=np.array([contact_index.get(c, -1) for c in columns[1]], dtype=np.int64)[keep],
        inbound=(np.array(columns[4], dtype=object) == Direction.INBOUND).astype(bool)[keep],
    )
    milestone_ids = card.type_ids[card.milestone].tolist()
    reached: list[tuple[int, int]] = []
    if milestone_ids:  # activation counts milestones ever reached, not only within the horizon
        reached = list(
            Signal.objects.filter(account_id__in=ids, type_id__in=milestone_ids)
            .order_by()
            .values_list("account_id", "type_id")
            .distinct()
        )
    milestones = (
        np.array([index[a] for a, _ in reached], dtype=np.int64),
        card.type_index(np.array([t for _, t in reached], dtype=np.int64)),
    )
    members: dict[int, np.ndarray] = {}
    segment_ids = sorted({b.segment_id for b in card.boosts})
    if segment_ids:
        for segment_id in segment_ids:
            members[segment_id] = np.zeros(len(ids), dtype=bool)
        for segment_id, account_id in SegmentMembership.objects.filter(
            segment_id__in=segment_ids, account_id__in=ids, exited_at__isnull=True
        ).values_list("segment_id", "account_id"):
            members[segment_id][index[account_id]] = True
    previous = {
        a: (q, at)
        for a, q, at in AccountScore.objects.filter(account_id__in=ids).values_list(
            "account_id", "qualified", "qualified_at"
        )
    }
    return Chunk(accounts, contacts, rows, milestones, members, previous, np.array(ids, dtype=np.int64))


# --- computing ---------------------------------------------------------------------------------------------------


def _entry(source: str, label: str, points: float) -> dict:
    return {"source": source, "label": label, "points": round(float(points), 2)}


def _with_clamp(entries: list[dict], score: float, label: str) -> list[dict]:
    """Add a line for what keeping the score within its bounds took away, so the lines sum to the score."""
    gap = round(score - sum(e["points"] for e in entries), 2)
    if abs(gap) >= 0.01:
        entries.append(_entry(Src.CLAMP, label, gap))
    return entries


@dataclass
class Computed:
    """The rows a chunk's rescore writes."""

    account_scores: list[AccountScore]
    contact_scores: list[ContactScore]
    history: list[ScoreHistory]
    newly_qualified: int


def chunk_compute(*, chunk: Chunk, card: Scorecard, now: datetime) -> Computed:
    """Scores, measures and explanations of a chunk, computed over arrays."""
    s = card.settings
    n = len(chunk.accounts)
    rows, rules = chunk.rows, card.rules
    eng = engine.engagement(rows, rules, n)
    type_counts = np.zeros((n, rules.n_types))
    np.add.at(type_counts, (rows.account, rows.type), rows.count)
    trend = engine.trend(
        rows,
        engine.raw_points(rows, rules),
        n,
        recent_days=s.trend_recent_days,
        baseline_days=s.trend_baseline_days,
    )
    boosts = engine.SegmentBoosts(
        type=[b.type_index for b in card.boosts],
        multiplier=[b.multiplier for b in card.boosts],
        window_days=[b.window_days for b in card.boosts],
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

    # Fit: rules over account fields, traits and (any of the) contacts' fields; data-quality penalties.
    contacts = chunk.contacts
    contact_account = np.searchsorted(chunk.ids, np.array([c["account_id"] for c in contacts], dtype=np.int64))
    total_users = np.bincount(contact_account, minlength=n) if len(contacts) else np.zeros(n, np.int64)
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
    free = engine.count_per_account(
        contact_account, engine.free_email([c["email"] for c in contacts], card.free_domains), n
    )
    fake = engine.count_per_account(
        contact_account,
        engine.has_no_vowel([c["first_name"] for c in contacts])
        | engine.has_no_vowel([c["last_name"] for c in contacts]),
        n,
    )
    key_fields = list(s.key_fields or [])
    key_missing = np.array(
        [engine.matches(account_field_values(chunk.accounts, f, now), "missing", None) for f in key_fields], dtype=bool
    ).reshape(len(key_fields), n)
    penalties = np.vstack(
        [
            (free > 0) * s.free_email_penalty,
            (fake > 0) * s.no_vowel_name_penalty,
            key_missing * s.missing_key_field_penalty,
        ]
    ).reshape(2 + len(key_fields), n)
    fit = engine.fit([rule.points for rule in card.fit_rules], rule_matches, penalties, key_missing)
    lead = engine.lead(fit.score, eng.score)
    grades = engine.grades(lead, a_min=s.grade_a_min, b_min=s.grade_b_min, c_min=s.grade_c_min)
    temps = engine.temperatures(eng.score, hot_min=s.hot_min, warm_min=s.warm_min)
    qualified = lead >= s.qualification_threshold

    contact_act = engine.contact_activity(rows, rules, len(contacts))
    labels = card.type_labels
    account_scores, history, newly = [], [], 0
    today = timezone.localdate(now)
    for i, account in enumerate(chunk.accounts):
        pk = account["pk"]
        was_qualified, was_at = chunk.previous.get(pk, (False, None))
        if qualified[i]:
            qualified_at = was_at if was_qualified and was_at else now
            newly += not was_qualified
        else:
            qualified_at = None
        fit_lines = [
            _entry(Src.FIT_RULE, rule.label, fit.rule_points[r, i]) for r, rule in enumerate(card.fit_rules)
            if rule_matches[r, i] and rule.points
        ]  # fmt: skip
        if free[i] and s.free_email_penalty:
            fit_lines.append(
                _entry(Src.PENALTY, f"{free[i]} contact(s) with a free email address", fit.penalty_points[0, i])
            )
        if fake[i] and s.no_vowel_name_penalty:
            fit_lines.append(
                _entry(Src.PENALTY, f"{fake[i]} contact(s) with a name without vowels", fit.penalty_points[1, i])
            )
        for k, name in enumerate(key_fields):
            if key_missing[k, i] and s.missing_key_field_penalty:
                fit_lines.append(_entry(Src.PENALTY, f"Missing {name}", fit.penalty_points[2 + k, i]))
        engagement_lines = []
        for t in np.flatnonzero(np.abs(eng.by_type[i]) >= 0.005):
            label = f"{labels[t]} × {int(type_counts[i, t])}"
            if math.isfinite(rules.cap[t]) and abs(eng.by_type[i, t]) >= rules.cap[t]:
                label += f" (capped at {rules.cap[t]:g})"
            engagement_lines.append(_entry(Src.ENGAGEMENT_RULE, label, eng.by_type[i, t]))
        strength_lines = [
            _entry(Src.ENGAGEMENT_RULE, labels[t], strength.by_type[i, t])
            for t in np.flatnonzero(np.abs(strength.by_type[i]) >= 0.005)
        ] + [
            _entry(Src.BOOST, f"{labels[t]}: segment boost", strength.boost_by_type[i, t])
            for t in np.flatnonzero(np.abs(strength.boost_by_type[i]) >= 0.005)
        ]
        f_score, e_score, l_score = (
            round(float(fit.score[i]), 2),
            round(float(eng.score[i]), 2),
            round(float(lead[i]), 2),
        )
        sig = round(float(strength.strength[i]), 2)
        contributions = {
            "fit": _with_clamp(fit_lines, f_score, "Fit is kept within 0–100"),
            "engagement": _with_clamp(engagement_lines, e_score, "Engagement is kept within 0–100"),
            "lead": _with_clamp(
                [_entry(Src.SCORE, "Fit", f_score), _entry(Src.SCORE, "Engagement", e_score)],
                l_score,
                "Lead score is kept within 0–100",
            ),
            "signal_strength": _with_clamp(strength_lines, sig, "Signal strength is never below 0"),
        }
        score = AccountScore(
            account_id=pk,
            fit=f_score,
            completeness=round(float(fit.completeness[i]), 2),
            engagement=e_score,
            lead=l_score,
            grade=str(grades[i]),
            temperature=str(temps[i]),
            qualified=bool(qualified[i]),
            qualified_at=qualified_at,
            signal_strength=sig,
            signal_strength_baseline=round(float(strength.baseline[i]), 2),
            surging=bool(strength.surging[i]),
            tenure_days=max((now - account["created_at"]).days, 0),
            size_band=_size_band(account["employees"]),
            activation=_ratio(activation[i]),
            engagement_trend=_ratio(trend.ratio[i]),
            active_users_7d=int(active_short[i]),
            active_users_30d=int(active_long[i]),
            total_users=int(total_users[i]),
            active_ratio_30d=round(float(active_long[i] / total_users[i]), 4) if total_users[i] else 0.0,
            adoption=_ratio(adoption[i]),
            contributions=contributions,
            config_version=card.version,
            computed_at=now,
        )
        account_scores.append(score)
        history.append(
            ScoreHistory(
                account_id=pk,
                date=today,
                fit=score.fit,
                engagement=score.engagement,
                lead=score.lead,
                signal_strength=score.signal_strength,
                grade=score.grade,
                temperature=score.temperature,
                qualified=score.qualified,
                surging=score.surging,
                config_version=card.version,
                computed_at=now,
            )
        )
    contact_scores = []
    for j, contact in enumerate(contacts):
        age = contact_act.last_age_days[j]
        last = now - timedelta(days=float(age)) if math.isfinite(age) else contact["last_seen_at"]
        if contact["last_seen_at"] and last and contact["last_seen_at"] > last:
            last = contact["last_seen_at"]
        contact_scores.append(
            ContactScore(
                contact_id=contact["pk"],
                account_id=contact["account_id"],
                engagement=round(float(contact_act.engagement[j]), 2),
                last_activity_at=last,
                active=bool(age <= s.active_long_days),
                computed_at=now,
            )
        )
    return Computed(account_scores, contact_scores, history, newly)


def _ratio(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 4)


# --- writing -----------------------------------------------------------------------------------------------------

SCORE_FIELDS = [f.name for f in AccountScore._meta.concrete_fields if f.name != "account"]
HISTORY_FIELDS = [f.name for f in ScoreHistory._meta.concrete_fields if f.name not in ("id", "account", "date")]
CONTACT_SCORE_FIELDS = ["account", "engagement", "last_activity_at", "active", "computed_at"]


def _chunk_rescore(*, account_ids: Sequence[int], card: Scorecard, now: datetime) -> RescoreStats:
    started = timezone.now()  # marks set after this moment are for changes this chunk may not have seen
    with transaction.atomic():
        chunk = chunk_read(account_ids=account_ids, card=card, now=now)
        computed = chunk_compute(chunk=chunk, card=card, now=now)
        AccountScore.objects.bulk_create(
            computed.account_scores, update_conflicts=True, unique_fields=["account"], update_fields=SCORE_FIELDS
        )
        ScoreHistory.objects.bulk_create(
            computed.history, update_conflicts=True, unique_fields=["account", "date"], update_fields=HISTORY_FIELDS
        )
        if computed.contact_scores:
            ContactScore.objects.bulk_create(
                computed.contact_scores,
                update_conflicts=True,
                unique_fields=["contact"],
                update_fields=CONTACT_SCORE_FIELDS,
            )
        cleared, _ = RescoreMark.objects.filter(account_id__in=list(account_ids), marked_at__lte=started).delete()
    return RescoreStats(
        accounts=len(chunk.accounts),
        chunks=1,
        marks_cleared=cleared,
        newly_qualified=computed.newly_qualified,
        config_version=card.version,
    )


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def accounts_rescore(
    *,
    account_ids: Iterable[int],
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
    card: Scorecard | None = None,
) -> RescoreStats:
    """Recompute the scores, measures and explanations of these accounts, a chunk at a time (one transaction per
    chunk), and clear their rescore marks set before the chunk started. Idempotent."""
    now = now or timezone.now()
    ids = sorted({int(a) for a in account_ids})
    stats = RescoreStats()
    if not ids:
        return stats
    card = card or scorecard_load()
    for chunk in _chunks(ids, chunk_size):
        stats.add(_chunk_rescore(account_ids=chunk, card=card, now=now))
        if progress:
            progress(len(chunk))
    return stats


def accounts_rescore_marked(
    *, limit: int | None = None, chunk_size: int = CHUNK_SIZE, progress: Progress | None = None
) -> RescoreStats:
    """Rescore accounts marked for rescoring, oldest marks first, until none are left (or ``limit`` accounts)."""
    stats = RescoreStats()
    card = None
    while limit is None or stats.accounts < limit:
        size = chunk_size if limit is None else min(chunk_size, limit - stats.accounts)
        ids = list(RescoreMark.objects.order_by("marked_at", "account_id").values_list("account_id", flat=True)[:size])
        if not ids:
            break
        card = card or scorecard_load()
        done = accounts_rescore(account_ids=ids, chunk_size=chunk_size, progress=progress, card=card)
        stats.add(done)
        if done.marks_cleared == 0:  # marked again while we worked: the next run picks them up
            break
    return stats


def accounts_rescore_all(
    *, now: datetime | None = None, chunk_size: int = CHUNK_SIZE, progress: Progress | None = None
) -> RescoreStats:
    """Rescore every account (the nightly run: decay and windows move scores without new signals)."""
    scoring_defaults_ensure()
    now = now or timezone.now()
    card = scorecard_load()
    stats = RescoreStats()
    last = 0
    while True:  # keyset pagination: constant memory, no OFFSET
        ids = list(Account.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk_size])
        if not ids:
            break
        stats.add(accounts_rescore(account_ids=ids, now=now, chunk_size=chunk_size, progress=progress, card=card))
        last = ids[-1]
    return stats


def rescore_marks_refresh(*, account_ids: Iterable[int], now: datetime | None = None) -> None:
    """Set these accounts' rescore marks to now (creating them if a rescore already cleared them).

    ``accounts_mark_for_rescore`` keeps an existing mark's time (ON CONFLICT DO NOTHING), so a change committed while
    a chunk was being rescored could have its mark cleared by that chunk; refreshing the time after the commit
    keeps it for the next run.
    """
    ids = sorted({int(a) for a in account_ids})
    if not ids:
        return
    now = now or timezone.now()
    existing = set(Account.objects.filter(pk__in=ids).values_list("pk", flat=True))
    RescoreMark.objects.bulk_create(
        [RescoreMark(account_id=a, marked_at=now) for a in ids if a in existing],
        update_conflicts=True,
        unique_fields=["account"],
        update_fields=["marked_at"],
        batch_size=2000,
    )
