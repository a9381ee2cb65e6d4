"""The scorecard: the whole scoring configuration loaded once per rescore as arrays (``Scorecard``,
``scorecard_load``), and the writes that keep it (the configuration version, the default engagement rules, the
full rescore queued when it changes)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from signals_app.models import SignalTopic, SignalType

from . import engine
from .defaults import DEFAULT_ENGAGEMENT_RULES
from .models import (
    ConfigVersion,
    EngagementRule,
    FitRule,
    FreeEmailDomain,
    ScoringSettings,
    SegmentBoost,
    TopicImportance,
)

# Signals older than this count for nothing worth storing (0.5 ** (365 / 30) < 0.0003 of their points), unless a
# rule's window or half-life reaches further: the horizon grows with the configuration.
MIN_HORIZON_DAYS = 365


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
        created = engagement_rules_ensure(rules=DEFAULT_ENGAGEMENT_RULES, reason="default rules")
        if created or SignalType.objects.filter(key__in=list(DEFAULT_ENGAGEMENT_RULES)).exists():
            ScoringSettings.objects.filter(pk=settings.pk).update(defaults_applied_at=timezone.now())
    return created


def engagement_rules_ensure(
    *, rules: dict[str, tuple[float, float | None, int | None, float | None]], reason: str, rescore: bool = True
) -> int:
    """Create an engagement rule (points, half-life, window, cap) for each type key given whose type exists and has
    no rule yet; rules that exist are left as an admin tuned them. ``rescore``: queue a full rescore after commit
    (a caller that rescores everything itself says no). Returns rules created."""
    with transaction.atomic():
        have = set(EngagementRule.objects.values_list("signal_type_id", flat=True))
        created = []
        for t in SignalType.objects.filter(key__in=list(rules)).order_by("pk"):
            if t.pk not in have:
                points, half_life, window, cap = rules[t.key]
                created.append(
                    EngagementRule(signal_type=t, points=points, half_life_days=half_life, window_days=window, cap=cap)
                )
        if created:
            # One insert with a history row per rule, one new configuration version and one full rescore after
            # commit (saving them one by one ran a full rescore per rule in eager mode).
            bulk_create_with_history(created, EngagementRule, default_change_reason=reason)
            config_version_bump()
            if rescore:
                rescore_all_after_commit()
    return len(created)


def rescore_all_after_commit() -> None:
    """Queue one debounced full rescore when the current transaction commits (a configuration or model change)."""

    def enqueue() -> None:
        from .tasks import rescore_all_enqueue  # tasks import services, which imports this module

        rescore_all_enqueue()

    transaction.on_commit(enqueue)


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
    rule_rows = EngagementRule.objects.values_list(
        "signal_type_id", "points", "half_life_days", "window_days", "cap", "is_active"
    )
    # A type with a rule follows it (a rule switched off counts nothing); a type without one takes the default weight.
    rules = engine.EngagementRules.build(
        len(types),
        [(position[r[0]], *r[1:5]) if r[5] else (position[r[0]], 0.0, None, None, None) for r in rule_rows],
        default=(settings.default_points, settings.default_half_life_days, None, settings.default_cap),
    )
    own = dict(TopicImportance.objects.values_list("topic_id", "multiplier"))
    topic_multiplier = dict(own)
    if own:  # a product type without its own importance takes its product line's
        for topic_id, parent_id in SignalTopic.objects.filter(parent_id__in=list(own)).values_list("pk", "parent_id"):
            topic_multiplier.setdefault(topic_id, own[parent_id])
    boosts = [
        Boost(b.segment_id, position[b.signal_type_id], b.multiplier, b.window_days)
        for b in SegmentBoost.objects.filter(is_active=True).order_by("pk")
    ]
    reach: list[float] = [
        MIN_HORIZON_DAYS,
        settings.trend_recent_days + settings.trend_baseline_days,
        settings.active_long_days,
    ]
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
