"""Choices of the scoring app."""

from django.db import models


class FitOperator(models.TextChoices):
    EQUALS = "equals", "equals"
    IN = "in", "is one of"
    RANGE = "range", "is in range"
    CONTAINS = "contains", "contains"
    MISSING = "missing", "is missing"


class Grade(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"


class Temperature(models.TextChoices):
    HOT = "hot", "Hot"
    WARM = "warm", "Warm"
    COLD = "cold", "Cold"


class ContributionSource(models.TextChoices):
    """Where a contribution in a score's explanation comes from."""

    ENGAGEMENT_RULE = "engagement_rule", "Engagement rule"
    FIT_RULE = "fit_rule", "Fit rule"
    PENALTY = "penalty", "Data-quality penalty"
    BOOST = "boost", "Segment boost"
    SCORE = "score", "Score"
    CLAMP = "clamp", "Kept within bounds"
