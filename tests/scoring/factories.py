"""Factories and helpers for scoring tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory

from scoring.models import EngagementRule, FitRule, SegmentBoost
from signals_app.models import Signal
from tests.factories import SignalFactory, SignalTypeFactory

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


class EngagementRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EngagementRule

    signal_type = factory.SubFactory(SignalTypeFactory)
    points = 10
    half_life_days = 30
    window_days = None
    cap = None


class FitRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FitRule

    label = factory.Sequence(lambda n: f"Fit rule {n}")
    field = "industry"
    operator = "equals"
    value = "Software"
    points = 20


class SegmentBoostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentBoost

    multiplier = 2.0
    window_days = 7


def signal(account, signal_type, days_ago: float, *, contact=None, topic=None, direction="inbound", now=NOW) -> Signal:
    """A signal of ``signal_type`` that happened ``days_ago`` days before ``now``."""
    return SignalFactory(
        account=account,
        type=signal_type,
        contact=contact,
        topic=topic,
        direction=direction,
        occurred_at=now - timedelta(days=days_ago),
    )
