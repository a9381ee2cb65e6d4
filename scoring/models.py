"""Scorecards (what counts and how much, tuned in the admin with history) and their results per account and contact."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from accounts.choices import SizeBand
from accounts.models import Account, Contact, Segment
from signals_app.models import SignalTopic, SignalType

from .choices import FitOperator, Grade, Temperature

# Fields a fit rule may name besides ``traits.<name>`` and ``contact.<field>`` (any of the account's contacts).
ACCOUNT_FIT_FIELDS = (
    "name", "domain", "industry", "employees", "annual_revenue", "country", "stage", "stage_kind", "owner_email",
    "size_band", "tenure_days",
)  # fmt: skip
CONTACT_FIT_FIELDS = ("email", "email_domain", "first_name", "last_name", "title")
DEFAULT_KEY_FIELDS = ["domain", "industry", "employees", "country"]


def fit_field_validate(field: str) -> None:
    """Raise ValidationError unless ``field`` is one a fit rule or key-field list can read."""
    if field in ACCOUNT_FIT_FIELDS:
        return
    if field.startswith("traits.") and len(field) > len("traits."):
        return
    if field.startswith("contact.") and field[len("contact.") :] in CONTACT_FIT_FIELDS:
        return
    raise ValidationError(
        f"Unknown field {field!r}: use {', '.join(ACCOUNT_FIT_FIELDS)}, traits.<name> or "
        f"contact.<{'|'.join(CONTACT_FIT_FIELDS)}> (true when any of the account's contacts matches)."
    )


class ConfigVersion(models.Model):
    """The version of the scoring configuration: one row, increased on every save or delete of a config model and
    recorded on every score, so a number can be traced to the configuration that produced it."""

    version = models.PositiveIntegerField(default=1)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"scoring configuration v{self.version}"


class ScoringSettings(models.Model):
    """The one row of scoring thresholds, bands, windows and data-quality penalties."""

    qualification_threshold = models.FloatField(default=65, help_text="Lead score at which an account is qualified.")
    grade_a_min = models.FloatField("grade A from", default=80)
    grade_b_min = models.FloatField("grade B from", default=60)
    grade_c_min = models.FloatField("grade C from", default=40, help_text="Below it: grade D.")
    hot_min = models.FloatField("hot from (engagement)", default=40)
    warm_min = models.FloatField("warm from (engagement)", default=15, help_text="Below it: cold.")
    trend_recent_days = models.PositiveSmallIntegerField(default=14, validators=[MinValueValidator(1)])
    trend_baseline_days = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(1)], help_text="The window just before the recent one."
    )
    surging_factor = models.FloatField(default=1.5, help_text="Surging: signal strength ≥ this × its baseline …")
    surging_min_points = models.FloatField(default=10, help_text="… and at least this many points.")
    active_short_days = models.PositiveSmallIntegerField(default=7, validators=[MinValueValidator(1)])
    active_long_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1)], help_text="Also the window of feature adoption."
    )
    free_email_penalty = models.FloatField(default=10, help_text="Fit points taken when a contact uses a free email.")
    no_vowel_name_penalty = models.FloatField(
        default=10, help_text="Fit points taken when a contact's first or last name has no vowel (likely fake)."
    )
    key_fields = models.JSONField(default=list, blank=True, help_text='Account fields, e.g. ["domain", "industry"].')
    missing_key_field_penalty = models.FloatField(default=5, help_text="Fit points taken per missing key field.")
    defaults_applied_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When default engagement rules were created."
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = verbose_name_plural = "scoring settings"

    def __str__(self) -> str:
        return "Scoring settings"

    def clean(self) -> None:
        if not (self.grade_a_min >= self.grade_b_min >= self.grade_c_min):
            raise ValidationError("Grade bands must go down: A ≥ B ≥ C.")
        if self.hot_min < self.warm_min:
            raise ValidationError("Hot must start at or above warm.")
        if not isinstance(self.key_fields, list) or not all(isinstance(f, str) for f in self.key_fields):
            raise ValidationError({"key_fields": "A list of field names."})
        for name in self.key_fields:
            if name.startswith("contact."):
                raise ValidationError({"key_fields": "Key fields are account fields or traits.<name>."})
            fit_field_validate(name)

    @classmethod
    def load(cls) -> ScoringSettings:
        """The settings row (created with defaults if a database has none)."""
        obj, _ = cls.objects.get_or_create(pk=1, defaults={"key_fields": list(DEFAULT_KEY_FIELDS)})
        return obj


class EngagementRule(models.Model):
    """Points per signal of a type, decayed by age (half-life) or counted within a window, capped per type."""

    signal_type = models.OneToOneField(SignalType, on_delete=models.CASCADE, related_name="engagement_rule")
    points = models.FloatField(help_text="Points per signal (negative for signals that lower engagement).")
    half_life_days = models.FloatField(
        null=True, blank=True, default=30, help_text="A signal this many days old counts half. Empty: no decay."
    )
    window_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Instead of a half-life: count only signals of the last N days, in full."
    )
    cap = models.FloatField(null=True, blank=True, help_text="At most this many points from this type. Empty: none.")
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["signal_type__label"]

    def __str__(self) -> str:
        return f"{self.signal_type}: {self.points:g} points"

    def clean(self) -> None:
        if self.half_life_days is not None and self.window_days is not None:
            raise ValidationError("Use either a half-life or a window, not both.")
        if self.half_life_days is not None and self.half_life_days <= 0:
            raise ValidationError({"half_life_days": "A half-life is more than 0 days."})
        if self.cap is not None and self.cap < 0:
            raise ValidationError({"cap": "A cap is 0 or more."})


class TopicImportance(models.Model):
    """How much signals about a topic weigh; a product line's multiplier also applies to its children without one."""

    topic = models.OneToOneField(SignalTopic, on_delete=models.CASCADE, related_name="importance")
    multiplier = models.FloatField(default=1.0, validators=[MinValueValidator(0)])
    history = HistoricalRecords()

    class Meta:
        ordering = ["topic__key"]
        verbose_name_plural = "topic importance"

    def __str__(self) -> str:
        return f"{self.topic} ×{self.multiplier:g}"


class FitRule(models.Model):
    """Fit points when an account (or any of its contacts) has a field value."""

    label = models.CharField(max_length=150, help_text='Shown in explanations, e.g. "Software company".')
    field = models.CharField(
        max_length=100,
        help_text=(
            f"Account field ({', '.join(ACCOUNT_FIT_FIELDS)}), traits.<name>, or contact.<"
            f"{'|'.join(CONTACT_FIT_FIELDS)}> (true when any contact of the account matches)."
        ),
    )
    operator = models.CharField(max_length=10, choices=FitOperator.choices)
    value = models.JSONField(
        null=True,
        blank=True,
        help_text='equals: "Software"; in: ["DE", "FR"]; range: {"min": 50, "max": 999} (inclusive, either may be '
        'left out); contains: "VP" (case-insensitive); missing: no value needed.',
    )
    points = models.FloatField(help_text="May be negative.")
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["label", "id"]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        fit_field_validate(self.field)
        value = self.value
        if self.operator == FitOperator.IN and not isinstance(value, list):
            raise ValidationError({"value": "'is one of' needs a list."})
        if self.operator == FitOperator.RANGE and not (
            isinstance(value, dict) and set(value) <= {"min", "max"} and value
        ):
            raise ValidationError({"value": 'A range is {"min": x, "max": y} (either may be left out).'})
        if self.operator in (FitOperator.EQUALS, FitOperator.CONTAINS) and value in (None, ""):
            raise ValidationError({"value": "This operator needs a value."})


class FreeEmailDomain(models.Model):
    """An email domain anyone can sign up with (gmail.com...): contacts using one cost fit points."""

    domain = models.CharField(max_length=255, unique=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args, **kwargs) -> None:
        self.domain = self.domain.strip().lower().lstrip("@")
        super().save(*args, **kwargs)


class SegmentBoost(models.Model):
    """For accounts in a segment, signals of a type within a window weigh more in their signal strength."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="scoring_boosts")
    signal_type = models.ForeignKey(SignalType, on_delete=models.CASCADE, related_name="segment_boosts")
    multiplier = models.FloatField(default=2.0, validators=[MinValueValidator(0)])
    window_days = models.PositiveIntegerField(default=7, validators=[MinValueValidator(1)])
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["segment__name", "signal_type__label"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "signal_type", "window_days"], name="segment_boost_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.segment}: {self.signal_type} ×{self.multiplier:g} ({self.window_days} days)"


class AccountScore(models.Model):
    """An account's current scores, measures and explanations (one row per account, rewritten by each rescore)."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="score")
    fit = models.FloatField(default=0)
    completeness = models.FloatField(default=100, help_text="% of key fields present.")
    engagement = models.FloatField(default=0)
    lead = models.FloatField(default=0)
    grade = models.CharField(max_length=1, choices=Grade.choices, default=Grade.D)
    temperature = models.CharField(max_length=4, choices=Temperature.choices, default=Temperature.COLD)
    qualified = models.BooleanField(default=False)
    qualified_at = models.DateTimeField(null=True, blank=True, help_text="When the lead score last crossed the bar.")
    signal_strength = models.FloatField(default=0, help_text="Boosted points of the recent window.")
    signal_strength_baseline = models.FloatField(
        default=0, help_text="Boosted points of the baseline window, scaled to the recent window's length."
    )
    surging = models.BooleanField(default=False)
    tenure_days = models.PositiveIntegerField(default=0)
    size_band = models.CharField(max_length=10, choices=SizeBand.choices, default=SizeBand.UNKNOWN)
    activation = models.FloatField(null=True, blank=True, help_text="Milestones reached / defined (0–1).")
    engagement_trend = models.FloatField(
        null=True, blank=True, help_text="Points per day of the recent window / of the baseline window."
    )
    active_users_7d = models.PositiveIntegerField(default=0)
    active_users_30d = models.PositiveIntegerField(default=0)
    total_users = models.PositiveIntegerField(default=0)
    active_ratio_30d = models.FloatField(default=0)
    adoption = models.FloatField(null=True, blank=True, help_text="Key features used in 30 days / key features.")
    contributions = models.JSONField(default=dict, blank=True)
    config_version = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-lead", "account_id"]
        indexes = [
            models.Index(fields=["grade", "lead"], name="accountscore_grade_idx"),
            models.Index(fields=["qualified", "lead"], name="accountscore_qualified_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: lead {self.lead:g} ({self.grade})"


class ScoreHistory(models.Model):
    """An account's scores at a moment: a row whenever a rescore changes them, and at least one per day the account
    is rescored (charts, backtests). A rescore that changes nothing adds nothing."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="score_history")
    date = models.DateField()
    fit = models.FloatField()
    engagement = models.FloatField()
    lead = models.FloatField()
    signal_strength = models.FloatField()
    grade = models.CharField(max_length=1, choices=Grade.choices)
    temperature = models.CharField(max_length=4, choices=Temperature.choices)
    qualified = models.BooleanField()
    surging = models.BooleanField()
    config_version = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["account_id", "-computed_at"]
        verbose_name_plural = "score history"
        constraints = [
            # A rescore repeated with the same clock (a retried task) cannot add a second row
            models.UniqueConstraint(fields=["account", "computed_at"], name="score_history_one_per_rescore"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date}: lead {self.lead:g}"


class ContactScore(models.Model):
    """A contact's engagement and whether they are active (one row per contact of a scored account)."""

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, primary_key=True, related_name="score")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contact_scores", db_index=False)
    engagement = models.FloatField(default=0)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=False, help_text="Inbound activity within the long active-user window.")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-engagement", "contact_id"]
        indexes = [models.Index(fields=["account", "-engagement"], name="contactscore_account_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.engagement:g}"


# Saving or deleting any of these bumps ConfigVersion (scoring.apps connects the receivers).
CONFIG_MODELS = (ScoringSettings, EngagementRule, TopicImportance, FitRule, FreeEmailDomain, SegmentBoost)
