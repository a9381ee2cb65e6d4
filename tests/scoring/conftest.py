"""A bare scorecard for scoring tests: no fit rules, no key fields, so each test sets what it checks."""

from __future__ import annotations

import pytest

from scoring.models import FitRule, ScoringSettings


@pytest.fixture
def card(db):
    FitRule.objects.all().delete()
    settings = ScoringSettings.load()
    settings.key_fields = []
    settings.save()
    return settings
