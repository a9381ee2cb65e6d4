"""Scorecards (what counts and how much, tuned in the admin with history) and their results per account and contact."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from accounts.choices import SizeBand
from accounts.models import Account, Contact, Segment
from signals_app.models import SignalTopic, SignalType

from .choices import FitOperator, Grade, Health, Outcome, PredictionStatus, ProposalStatus, Temperature

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
    missing_key_field_penalty = models.FloatField(
        default=5,
        help_text="Fit points taken per missing key field (not when a fit rule already penalises that field missing).",
    )
    default_points = models.FloatField(
        "default points per signal",
        default=1,
        help_text="Engagement points per inbound signal of a type without an engagement rule (a customer's own "
        "event names count from day one; shown as “Other activity”). Outbound signals (sent by us) do not count. "
        "0: types without a rule count for nothing.",
    )
    default_half_life_days = models.FloatField(
        "default half-life (days)",
        default=30,
        validators=[MinValueValidator(0.1)],
        help_text="A signal of a type without a rule this many days old counts half.",
    )
    default_cap = models.FloatField(
        "default cap per type",
        null=True,
        blank=True,
        default=10,
        validators=[MinValueValidator(0)],
        help_text="At most this many points from each type without a rule. Empty: none.",
    )
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
    # The smoothed probabilities at that moment (empty before a model predicted for the account): probability trends.
    conversion = models.FloatField(null=True, blank=True)
    expansion = models.FloatField(null=True, blank=True)
    churn = models.FloatField(null=True, blank=True)

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


class PredictionSettings(models.Model):
    """The one row of settings for predictive scores: horizon, minimum history, training, smoothing, health."""

    horizon_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="A movement within this many days after a moment counts as that moment's outcome.",
    )
    min_movements = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text="Below this many past movements of a kind, its probability shows “not enough history yet”.",
    )
    cutoff_step_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1)], help_text="Training examples are taken every N days."
    )
    training_span_days = models.PositiveSmallIntegerField(
        default=180, validators=[MinValueValidator(28)], help_text="How far back training cut-offs go."
    )
    max_examples = models.PositiveIntegerField(
        default=150_000,
        validators=[MinValueValidator(1000)],
        help_text="Per outcome; above it a uniform random sample is used (keeps weekly training short).",
    )
    auto_activate = models.BooleanField(
        default=True,
        help_text="Activate a newly trained model when none is active or its validation PR AUC is at least the "
        "active one's. Otherwise an admin activates it.",
    )
    smoothing_half_life_hours = models.FloatField(
        default=24,
        validators=[MinValueValidator(0)],
        help_text="A shown probability moves half way to the model's new value in this many hours. 0: no smoothing.",
    )
    smoothing_max_step = models.FloatField(
        default=0.15,
        validators=[MinValueValidator(0.001), MaxValueValidator(1)],
        help_text="The most one update may move a probability (0.15 = 15 percentage points).",
    )
    health_bad_enter = models.FloatField(default=0.30, help_text="Churn probability from which an account is bad…")
    health_bad_exit = models.FloatField(default=0.20, help_text="… and below which it stops being bad.")
    health_good_enter = models.FloatField(default=0.08, help_text="Churn probability up to which it becomes good…")
    health_good_exit = models.FloatField(default=0.14, help_text="… and above which it stops being good.")
    health_trend_bad = models.FloatField(default=0.6, help_text="An engagement trend at or below this is falling.")
    health_trend_good = models.FloatField(default=0.9, help_text="A good account's trend is at least this.")
    history = HistoricalRecords()

    class Meta:
        verbose_name = verbose_name_plural = "prediction settings"

    def __str__(self) -> str:
        return "Prediction settings"

    def clean(self) -> None:
        if not self.health_bad_exit <= self.health_bad_enter:
            raise ValidationError({"health_bad_exit": "Leaving “bad” must be at or below entering it."})
        if not self.health_good_enter <= self.health_good_exit:
            raise ValidationError({"health_good_exit": "Leaving “good” must be at or above entering it."})
        if not self.health_good_exit < self.health_bad_exit:
            raise ValidationError({"health_good_exit": "Good must end below where bad ends."})
        if not self.health_trend_bad < self.health_trend_good:
            raise ValidationError({"health_trend_good": "A good trend must be above a falling one."})

    @classmethod
    def load(cls) -> PredictionSettings:
        """The settings row, or the defaults (unsaved) while an admin has not saved any: read on every rescore, so it
        never writes."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class PredictiveModel(models.Model):
    """A trained model version of one outcome: the stored model, its validation figures and its feature impact."""

    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    version = models.PositiveIntegerField()
    family = models.CharField(max_length=30, help_text="The model family kept after the comparison.")
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    activated_at = models.DateTimeField(null=True, blank=True)
    horizon_days = models.PositiveSmallIntegerField()
    model_bytes = models.BinaryField(editable=False)
    feature_space = models.JSONField(default=dict, editable=False)
    baseline = models.JSONField(default=list, editable=False, help_text="Typical value of each feature.")
    metrics = models.JSONField(default=dict, help_text="Validation: ROC AUC, PR AUC, Brier, base rate, counts.")
    comparison = models.JSONField(default=dict, help_text="Validation metrics of every family compared.")
    calibration = models.JSONField(default=list)
    lift = models.JSONField(default=list)
    impact = models.JSONField(default=list, help_text="Per signal and measure, largest first, with the change.")
    training = models.JSONField(default=dict, help_text="Examples, positives, cut-offs, seconds.")
    movements = models.PositiveIntegerField(default=0, help_text="Past movements of this kind when trained.")
    refused_reason = models.TextField(
        blank=True,
        editable=False,
        help_text="Why training refused this version as probable leakage (it cannot be activated); empty when not.",
    )
    train_from = models.DateTimeField()
    train_to = models.DateTimeField()
    validate_from = models.DateTimeField()
    validate_to = models.DateTimeField()

    class Meta:
        ordering = ["outcome", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["outcome", "version"], name="predictive_model_version_unique"),
            models.UniqueConstraint(
                fields=["outcome"], condition=models.Q(is_active=True), name="predictive_model_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} v{self.version} ({self.family})"


class AccountPrediction(models.Model):
    """An account's probabilities (smoothed), their reasons, and its health band with since-when."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="prediction")
    conversion = models.FloatField(null=True, blank=True)
    expansion = models.FloatField(null=True, blank=True)
    churn = models.FloatField(null=True, blank=True)
    conversion_raw = models.FloatField(null=True, blank=True, help_text="The model's value before smoothing.")
    expansion_raw = models.FloatField(null=True, blank=True)
    churn_raw = models.FloatField(null=True, blank=True)
    conversion_status = models.CharField(max_length=20, choices=PredictionStatus.choices, default="no_model")
    expansion_status = models.CharField(max_length=20, choices=PredictionStatus.choices, default="no_model")
    churn_status = models.CharField(max_length=20, choices=PredictionStatus.choices, default="no_model")
    reasons = models.JSONField(
        default=dict, blank=True, help_text="Per outcome: model version, message, top reasons up and down."
    )
    health = models.CharField(max_length=6, choices=Health.choices, default=Health.NORMAL)
    health_since = models.DateTimeField()
    health_reasons = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["account_id"]
        indexes = [
            models.Index(fields=["health", "account"], name="prediction_health_idx"),
            models.Index(fields=["churn"], name="prediction_churn_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.health}"


class SignalRule(models.Model):
    """A detection condition over measures, scores, fields, segment, stage and signal counts in windows
    ("Expansion opportunity", "Pricing page 3× in 7 days"). Evaluated with every rescore (``scoring.rules``); the
    language is ``scoring.conditions`` (docs/conditions.md). The table keeps the name it had in ``signals_app``."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    conditions = models.JSONField(
        default=dict,
        help_text=(
            '{"match": "all"|"any", "conditions": [...]}; a condition is {"field": "tenure_days", "op": "gt", '
            '"value": 180}, {"segment": "Trials"}, or {"signal": {"type": "pricing-page-view"}, "window_days": 7, '
            '"op": "at_least", "count": 3}; groups nest. Fields, operators and examples: docs/conditions.md.'
        ),
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(table_name="signals_app_historicalsignalrule")

    class Meta:
        db_table = "signals_app_signalrule"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .conditions import ConditionError, compile_conditions

        try:
            compile_conditions(self.conditions)
        except ConditionError as exc:
            raise ValidationError({"conditions": str(exc)}) from exc


class RuleHit(models.Model):
    """A signal rule found true for an account, from ``set_at`` until ``cleared_at`` (open while null), with the
    values that made it true when it was last evaluated."""

    rule = models.ForeignKey(SignalRule, on_delete=models.CASCADE, related_name="hits")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="rule_hits")
    set_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    values = models.JSONField(default=dict, blank=True)
    evaluated_at = models.DateTimeField()

    class Meta:
        db_table = "signals_app_rulehit"
        ordering = ["-set_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "account"], condition=Q(cleared_at__isnull=True), name="rule_hit_one_open"
            ),
        ]
        indexes = [models.Index(fields=["account", "cleared_at"], name="rule_hit_account_open_idx")]

    def __str__(self) -> str:
        return f"{self.rule} for {self.account}"


class SmartSignalProposal(models.Model):
    """A candidate signal found in the data for an outcome, with its evidence; an admin confirms or rejects it."""

    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    title = models.CharField(max_length=500)
    conditions = models.JSONField(help_text="In the signal-rule language; becomes the rule's conditions.")
    fingerprint = models.CharField(max_length=64, help_text="Outcome + conditions: one proposal per idea.")
    support = models.PositiveIntegerField(help_text="Training examples (account at a cut-off) matching it.")
    accounts = models.PositiveIntegerField(help_text="Distinct accounts among them.")
    positives = models.PositiveIntegerField(help_text="Of those, how many made the movement within the horizon.")
    precision = models.FloatField()
    base_rate = models.FloatField()
    lift = models.FloatField()
    lift_low = models.FloatField(help_text="95% Wilson interval of the lift, lower end.")
    lift_high = models.FloatField()
    evidence = models.JSONField(default=dict, blank=True, help_text="Window, horizon, examples, model version.")
    status = models.CharField(max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signal_rule = models.ForeignKey(
        SignalRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="smart_signal_proposals"
    )
    engagement_rule = models.ForeignKey(
        EngagementRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="smart_signal_proposals"
    )

    class Meta:
        ordering = ["status", "outcome", "-lift_low"]
        constraints = [
            models.UniqueConstraint(fields=["fingerprint"], name="smart_signal_one_per_idea"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()}: {self.title}"


# Saving or deleting any of these bumps ConfigVersion (scoring.apps connects the receivers).
CONFIG_MODELS = (ScoringSettings, EngagementRule, TopicImportance, FitRule, FreeEmailDomain, SegmentBoost)
