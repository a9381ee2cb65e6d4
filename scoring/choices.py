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
    DEFAULT_WEIGHT = "default_weight", "Default weight (a type without an engagement rule)"
    FIT_RULE = "fit_rule", "Fit rule"
    PENALTY = "penalty", "Data-quality penalty"
    BOOST = "boost", "Segment boost"
    SCORE = "score", "Score"
    CLAMP = "clamp", "Kept within bounds"


class Outcome(models.TextChoices):
    """What a predictive model predicts: a movement within the horizon."""

    CONVERSION = "conversion", "Conversion"
    EXPANSION = "expansion", "Expansion"
    CHURN = "churn", "Churn"


class Health(models.TextChoices):
    GOOD = "good", "Good"
    NORMAL = "normal", "Normal"
    BAD = "bad", "Bad"


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    CONFIRMED = "confirmed", "Confirmed"
    REJECTED = "rejected", "Rejected"


class PredictionStatus(models.TextChoices):
    """Why an outcome has (or has no) probability for an account."""

    OK = "ok", "Predicted"
    NOT_APPLICABLE = "not_applicable", "Does not apply to this account's stage"
    NOT_ENOUGH_HISTORY = "not_enough_history", "Not enough history yet"
    NO_MODEL = "no_model", "No active model"
