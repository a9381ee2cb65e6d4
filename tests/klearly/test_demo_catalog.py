"""The demo's catalog is plain data: its categories, directions and sources are values the signal models accept."""

from __future__ import annotations

from accounts.models import JourneyStage
from klearly.demo.catalog import STAGE_KEYS, TOPIC_INDEX, TOPICS, TYPES
from signals_app.choices import Direction, SignalCategory, SignalSource


def test_types_use_the_signal_choices() -> None:
    for spec in TYPES:
        assert spec.category in SignalCategory.values, spec.key
        assert spec.direction in Direction.values, spec.key
        assert spec.source in SignalSource.values, spec.key


def test_types_topics_are_in_the_topic_tree() -> None:
    assert all(topic in TOPIC_INDEX for spec in TYPES for topic in spec.topics)
    assert all(parent is None or parent in TOPIC_INDEX for _key, _label, parent in TOPICS)


def test_stage_keys_are_the_migrated_journey_stages(db) -> None:
    assert set(JourneyStage.objects.filter(key__in=STAGE_KEYS).values_list("key", flat=True)) == set(STAGE_KEYS)
