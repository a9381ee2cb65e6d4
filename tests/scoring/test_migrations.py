"""Data migrations of the scoring app, run through the function each migration calls (with the app registry, as
``apps.get_model`` gives it)."""

import importlib
from datetime import UTC, datetime

import pytest
from django.apps import apps

from accounts.models import Segment
from scoring.models import ConfigVersion, EngagementRule, FitRule, PredictiveModel, ScoringSettings, SegmentBoost
from signals_app.models import EventMapping, Signal, SignalType
from signals_app.parsing import signal_type_key
from tests.factories import SignalFactory

pytestmark = pytest.mark.django_db

type_keys = importlib.import_module("scoring.migrations.0006_signal_type_keys")
one_penalty = importlib.import_module("scoring.migrations.0007_default_weight_one_missing_penalty")


@pytest.mark.parametrize(
    "text", ["Pricing page view", "pricing_page_view", "Café crème", "a__b--c", "x" * 140, "-_Odd_-", "ÀÉ→ú"]
)
def test_the_migrations_copy_of_the_key_function_is_the_apps(text):
    assert type_keys.normalised_key(text) == signal_type_key(text)


def test_types_whose_keys_normalise_the_same_are_merged_into_one():
    # Rows as older versions stored them (bulk_create skips today's normalising save).
    kept, snake, lone, login = SignalType.objects.bulk_create([
        SignalType(key="pricing-page-view", label="Pricing page view"),
        SignalType(key="pricing_page_view", label="pricing_page_view"),
        SignalType(key="Feature_Used", label="Feature_Used"),
        SignalType(key="login", label="Login"),
    ])  # fmt: skip
    EngagementRule.objects.create(signal_type=kept, points=5)
    EngagementRule.objects.create(signal_type=snake, points=9)
    trial = Segment.objects.create(name="Trial")
    SegmentBoost.objects.create(segment=trial, signal_type=kept, window_days=7)
    SegmentBoost.objects.create(segment=trial, signal_type=snake, window_days=7)  # the same boost: dropped
    SegmentBoost.objects.create(segment=trial, signal_type=snake, window_days=14)  # moves
    mapping = EventMapping.objects.create(pattern="pricing*", signal_type=snake)
    for kind in (kept, snake, snake, lone, login):
        SignalFactory(type=kind)
    at = datetime(2026, 6, 1, tzinfo=UTC)
    model = PredictiveModel.objects.create(
        outcome="conversion", version=1, family="logistic", created_at=at, horizon_days=30, model_bytes=b"",
        feature_space={"type_keys": ["pricing_page_view", "login"], "type_labels": ["Pricing", "Login"]},
        impact=[{"group": "type:pricing_page_view", "impact": 0.1}, {"group": "stage", "impact": 0.05}],
        train_from=at, train_to=at, validate_from=at, validate_to=at,
    )  # fmt: skip
    version = ConfigVersion.objects.get().version

    assert type_keys.merge_signal_types(apps, None) == 1

    assert sorted(SignalType.objects.values_list("key", "label")) == [
        ("feature-used", "Feature used"), ("login", "Login"), ("pricing-page-view", "Pricing page view"),
    ]  # fmt: skip
    assert SignalType.objects.get(key="pricing-page-view").pk == kept.pk
    assert Signal.objects.filter(type=kept).count() == 3 and Signal.objects.count() == 5
    assert list(EngagementRule.objects.values_list("signal_type_id", "points")) == [(kept.pk, 5)]  # its own wins
    assert sorted(SegmentBoost.objects.values_list("signal_type_id", "window_days")) == [(kept.pk, 7), (kept.pk, 14)]
    assert EventMapping.objects.get(pk=mapping.pk).signal_type_id == kept.pk
    model.refresh_from_db()
    assert model.feature_space["type_keys"] == ["pricing-page-view", "login"]
    assert [r["group"] for r in model.impact] == ["type:pricing-page-view", "stage"]
    after = ConfigVersion.objects.get().version
    assert after > version  # (the live models' receivers bump it too; the migration's historical ones do not)

    assert type_keys.merge_signal_types(apps, None) == 0  # run again: nothing to do
    assert ConfigVersion.objects.get().version == after


def test_a_rule_moves_to_the_kept_type_when_it_has_none():
    kept, snake = SignalType.objects.bulk_create(
        [SignalType(key="demo-request", label="Demo request"), SignalType(key="demo_request", label="demo_request")]
    )
    EngagementRule.objects.create(signal_type=snake, points=15)
    type_keys.merge_signal_types(apps, None)
    assert list(EngagementRule.objects.values_list("signal_type_id", "points")) == [(kept.pk, 15)]


def test_the_shipped_no_industry_rule_goes_when_the_missing_key_field_takes_those_points():
    settings = ScoringSettings.load()
    assert "industry" in settings.key_fields and settings.missing_key_field_penalty == 5
    FitRule.objects.create(label="No industry known", field="industry", operator="missing", points=-5)
    tuned = FitRule.objects.create(label="No industry known", field="industry", operator="missing", points=-8)
    one_penalty.one_missing_industry_penalty(apps, None)
    assert list(FitRule.objects.filter(label="No industry known")) == [tuned]  # an admin's own rule stays
