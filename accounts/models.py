"""Accounts, their people, where they are in the journey, how they move, and the segments they fall into."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import Movement, SizeBand, StageAppliesTo, StageKind

# A plain id, not a foreign key: sources are signals_app's, and accounts depends on no other app.
ORIGIN_HELP = (
    "Id of the ingestion source (signals_app.IngestionSource) whose events created it; that source's events may "
    "update it. Empty: made by an import, the API or the admin."
)


class JourneyStage(models.Model):
    """A step of the customer journey (Lead, Trial, Starter, Churn...), typed free / paying / churn."""

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=StageKind.choices, default=StageKind.FREE)
    rank = models.PositiveSmallIntegerField(
        default=0, help_text="Order among paying stages: a move to a higher rank is an expansion. 0 for others."
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Display order along the journey.")
    applies_to = models.CharField(max_length=10, choices=StageAppliesTo.choices, default=StageAppliesTo.ACCOUNTS)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == StageKind.PAYING and self.rank == 0:
            raise ValidationError({"rank": "A paying stage needs a rank of 1 or more."})
        if self.kind != StageKind.PAYING and self.rank != 0:
            raise ValidationError({"rank": "Only paying stages are ranked; use 0."})


class Account(models.Model):
    """A company that is a prospect or a customer. Columns the model does not know go to ``traits``."""

    external_id = models.CharField(max_length=128, unique=True, help_text="The id in your CRM or product.")
    name = models.CharField(max_length=255, blank=True)
    domain = models.CharField(max_length=255, blank=True, db_index=True)
    industry = models.CharField(max_length=100, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    country = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, help_text="Created in the source system, or first seen.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_accounts"
    )
    stage = models.ForeignKey(JourneyStage, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts")
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    origin_source_id = models.PositiveBigIntegerField(null=True, blank=True, editable=False, help_text=ORIGIN_HELP)

    class Meta:
        permissions = [
            ("import_account", "Can import accounts from CSV"),
            ("export_account", "Can export accounts to CSV"),
        ]
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["stage", "name"], name="account_stage_name_idx"),
            models.Index(fields=["owner", "name"], name="account_owner_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id

    @property
    def size_band(self) -> str:
        if self.employees is None:
            return SizeBand.UNKNOWN
        if self.employees < 50:
            return SizeBand.SMALL
        if self.employees < 1000:
            return SizeBand.MEDIUM
        return SizeBand.LARGE


class Contact(models.Model):
    """A person at an account: a product user or a lead (not a Klearly operator)."""

    external_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="contacts")
    email = models.EmailField(blank=True, db_index=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    stage = models.ForeignKey(JourneyStage, null=True, blank=True, on_delete=models.PROTECT, related_name="contacts")
    traits = models.JSONField(default=dict, blank=True)
    origin_source_id = models.PositiveBigIntegerField(null=True, blank=True, editable=False, help_text=ORIGIN_HELP)

    class Meta:
        permissions = [
            ("import_contact", "Can import contacts from CSV"),
            ("export_contact", "Can export contacts to CSV"),
        ]
        ordering = ["last_name", "first_name", "id"]
        indexes = [models.Index(fields=["account", "last_seen_at"], name="contact_account_seen_idx")]

    def __str__(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email or self.external_id or f"Contact {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class StageTransition(models.Model):
    """An account's move from one journey stage to another; ``movement`` is derived from the two stages."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="stage_transitions")
    from_stage = models.ForeignKey(
        JourneyStage, null=True, blank=True, on_delete=models.PROTECT, related_name="transitions_from"
    )
    to_stage = models.ForeignKey(JourneyStage, on_delete=models.PROTECT, related_name="transitions_to")
    changed_at = models.DateTimeField()
    movement = models.CharField(max_length=16, choices=Movement.choices, editable=False)
    from_accounts_file = models.BooleanField(
        default=False,
        editable=False,
        help_text="Recorded from the stage column of accounts.csv when the account was created: where it was, dated "
        "at its creation, not when it got there. Replaced by the account's dated stage history once one exists.",
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [
            ("import_stagetransition", "Can import stage transitions from CSV"),
            ("export_stagetransition", "Can export stage transitions to CSV"),
        ]
        ordering = ["-changed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "to_stage", "changed_at"], name="transition_unique_move"),
        ]
        indexes = [
            models.Index(fields=["account", "changed_at"], name="transition_account_time_idx"),
            models.Index(fields=["movement", "changed_at"], name="transition_movement_time_idx"),
        ]

    def __str__(self) -> str:
        origin = self.from_stage.name if self.from_stage is not None else "—"  # no query when there is none
        return f"{self.account} {origin} → {self.to_stage.name} ({self.changed_at:%Y-%m-%d})"


class Segment(models.Model):
    """A named group of accounts with entry criteria; membership is tracked over time."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    criteria = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            'Structured conditions, e.g. {"match": "all", "conditions": [{"field": "stage", "op": "in", '
            '"value": ["trial"]}, {"field": "employees", "op": "gte", "value": 50}]}. Fields: account fields, '
            "stage, stage_kind, owner_email, traits.<name>. Operators: eq, ne, in, not_in, gt, gte, lt, lte, "
            "contains, missing, present, within_days, older_than_days. The language: docs/conditions.md."
        ),
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .conditions import ConditionError
        from .segments import criteria_to_q

        try:
            criteria_to_q(self.criteria)
        except ConditionError as exc:
            raise ValidationError({"criteria": str(exc)}) from exc


class SegmentMembership(models.Model):
    """One stay of an account in a segment: from entering to leaving (open while ``exited_at`` is null)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="segment_memberships")
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-entered_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "account"], condition=Q(exited_at__isnull=True), name="segment_one_open_membership"
            ),
        ]
        indexes = [models.Index(fields=["account", "exited_at"], name="membership_account_open_idx")]

    def __str__(self) -> str:
        return f"{self.account} in {self.segment}"


class RescoreMark(models.Model):
    """An account whose scores must be recomputed: appended by every write that changes what scores depend on, in
    that write's transaction; deleted by the scoring task once it has rescored the account from data that includes
    the write.

    Append-only on purpose: a writer never updates or locks a mark (concurrent ingestion batches touching the same
    accounts never wait on each other), and there is no second statement after commit. Which marks a rescore may
    delete is decided by visibility (``accounts.services.marks_watermark``): on PostgreSQL the writing transaction's
    id (``xact``) against the snapshot taken before the rescore read its data; on SQLite, where writers commit one at
    a time, the highest mark id it could see.
    """

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="rescore_marks")
    marked_at = models.DateTimeField()
    xact = models.BigIntegerField(null=True, blank=True, help_text="PostgreSQL: id of the transaction that marked.")

    def __str__(self) -> str:
        return f"rescore {self.account_id} since {self.marked_at:%Y-%m-%d %H:%M:%S}"
