"""Signals (recorded interactions), their types and topics, where they came from, and import jobs."""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, Contact

from .choices import (
    OWNABLE_FIELDS,
    Direction,
    ErasureVia,
    ImportKind,
    ImportStatus,
    IngestionKind,
    SignalCategory,
    SignalSource,
    UpdatePolicy,
)
from .parsing import signal_type_key


class SignalType(models.Model):
    """What kind of interaction a signal is (email open, pricing page view, order...), with its defaults."""

    key = models.SlugField(max_length=100, unique=True)  # normalised: see ``parsing.signal_type_key``
    label = models.CharField(max_length=150)
    category = models.CharField(max_length=20, choices=SignalCategory.choices, default=SignalCategory.OTHER)
    default_direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.INBOUND)
    default_source = models.CharField(max_length=10, choices=SignalSource.choices, default=SignalSource.PRODUCT)
    is_key_feature = models.BooleanField(default=False, help_text="Counts toward feature adoption.")
    is_activation_milestone = models.BooleanField(default=False, help_text="Counts toward activation.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label

    def save(self, *args, **kwargs) -> None:
        self.key = signal_type_key(self.key) or self.key
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # One key however it is written ("pricing_page_view" is "pricing-page-view"), before uniqueness is checked.
        self.key = signal_type_key(self.key) or self.key


class SignalTopic(models.Model):
    """What a signal is about: a product line, or a product type under a line (``parent``)."""

    key = models.SlugField(max_length=150, unique=True, help_text="Path of slugs, e.g. analytics--dashboards.")
    label = models.CharField(max_length=150)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        if self.parent is not None:  # no query when there is none
            return f"{self.parent.label} › {self.label}"
        return self.label


class IngestionSource(models.Model):
    """A named channel signals arrive through (a Segment source, an API client, CSV). Write keys belong to it.

    Its events may create accounts and contacts; which existing ones they may change is ``update_policy`` plus
    ``owned_fields`` (a write key is often public, in a browser or an app). A change it may not make is kept in
    ``TraitsHistory``, not applied."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=IngestionKind.choices, default=IngestionKind.API)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    update_policy = models.CharField(
        max_length=8,
        choices=UpdatePolicy.choices,
        default=UpdatePolicy.OWN_RECORDS,
        help_text="Which existing accounts and contacts its group and identify events may change. Other changes are "
        "kept in the traits history, not applied.",
    )
    owned_fields = models.JSONField(
        default=list,
        blank=True,
        help_text='Fields it may also change on records it did not create, e.g. ["account.industry", "contact.title"].',
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        known = {name for name, _ in OWNABLE_FIELDS}
        if not isinstance(self.owned_fields, list) or not all(isinstance(f, str) for f in self.owned_fields):
            raise ValidationError({"owned_fields": 'A list of field names, e.g. ["account.industry"].'})
        unknown = sorted(set(self.owned_fields) - known)
        if unknown:
            raise ValidationError(
                {"owned_fields": f"Unknown field(s) {', '.join(unknown)}; use some of {', '.join(sorted(known))}."}
            )

    def may_update(self, *, origin_source_id: int | None, field: str) -> bool:
        """Whether its events may change ``field`` (``"account.name"``…) of a record created by ``origin_source_id``
        (None: by an import, the API or the admin)."""
        return (
            self.update_policy == UpdatePolicy.ALL
            or (origin_source_id is not None and origin_source_id == self.pk)
            or field in self.owned_fields
        )


class WriteKey(models.Model):
    """A secret that lets a client write signals to one source. Only a SHA-256 of it is stored."""

    source = models.ForeignKey(IngestionSource, on_delete=models.CASCADE, related_name="write_keys")
    prefix = models.CharField(max_length=12, db_index=True, help_text="First characters, to recognise the key.")
    key_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.source})"

    @staticmethod
    def hash_key(raw: str) -> str:
        # Keys are 32+ random bytes, so a fast unsalted hash is enough (as GitHub and Stripe tokens do).
        return hashlib.sha256(raw.encode()).hexdigest()


class TraitsHistory(models.Model):
    """Changes an ingestion source sent for an account or contact it may not update (``IngestionSource.may_update``):
    kept here with the source and the time instead of overwriting the record. Append-only; read in the admin, where
    an admin may apply one by hand or trust the source."""

    source = models.ForeignKey(IngestionSource, on_delete=models.CASCADE, related_name="traits_history")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="traits_history")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="traits_history")
    message_id = models.CharField(max_length=128, blank=True, help_text="The event's messageId.")
    occurred_at = models.DateTimeField(help_text="When the event says the change happened.")
    received_at = models.DateTimeField()
    changes = models.JSONField(
        help_text='What the event would have set: {"name": "New name", "traits": {"plan": "pro"}, "account": "acme"}.'
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "traits history entry"
        verbose_name_plural = "traits history"
        indexes = [
            models.Index(fields=["account", "received_at"], name="traits_history_account_idx"),
            models.Index(fields=["contact", "received_at"], name="traits_history_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.account or self.contact} at {self.received_at:%Y-%m-%d %H:%M}"


class Signal(models.Model):
    """One recorded interaction with an account or contact. Immutable once stored."""

    # The single-column indexes Django would add on these foreign keys are left out: each column already leads a
    # composite index below, and every extra index costs ingestion about a tenth of its speed.
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="signals", db_index=False
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="signals", db_index=False
    )
    anonymous_id = models.CharField(max_length=128, blank=True, help_text="Set while the person is not known yet.")
    type = models.ForeignKey(SignalType, on_delete=models.PROTECT, related_name="signals", db_index=False)
    detail = models.CharField(max_length=100, blank=True, help_text='Refines the type, e.g. "renewal".')
    topic = models.ForeignKey(SignalTopic, null=True, blank=True, on_delete=models.SET_NULL, related_name="signals")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    source = models.CharField(max_length=10, choices=SignalSource.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    properties = models.JSONField(default=dict, blank=True)
    ingestion_source = models.ForeignKey(
        IngestionSource, on_delete=models.PROTECT, related_name="signals", db_index=False
    )
    idempotency_key = models.CharField(max_length=128, help_text="messageId or equivalent; unique per source.")

    class Meta:
        permissions = [("import_signal", "Can import signals from CSV"), ("export_signal", "Can export signals to CSV")]
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["ingestion_source", "idempotency_key"], name="signal_unique_per_source"),
        ]
        indexes = [
            # Covering: a rescore reads its accounts' signals from the index alone (PostgreSQL), not from heap pages
            # scattered over the whole table (1,000 marked accounts: 0.56 s of reading before, 0.08 s after).
            models.Index(
                fields=["account", "-occurred_at"],
                include=["contact", "type", "topic", "direction"],
                name="signal_account_cover_idx",
            ),
            models.Index(fields=["type", "-occurred_at"], name="signal_type_time_idx"),
            models.Index(fields=["contact", "-occurred_at"], name="signal_contact_time_idx"),
            models.Index(fields=["-occurred_at"], name="signal_time_idx"),
            models.Index(
                fields=["anonymous_id"],
                condition=Q(contact__isnull=True) & ~Q(anonymous_id=""),
                name="signal_anonymous_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type_id} {self.direction} {self.occurred_at:%Y-%m-%d %H:%M}"


class ImportJob(models.Model):
    """A CSV file imported in the background by a worker, with its progress and every bad row it reported.

    A job ends done or failed, never stays running: an error in the import fails it with the reason, and a job whose
    worker died (no heartbeat for ``KLEARLY_JOB_STALE_SECONDS``) is failed by the beat sweep (``jobs_sweep``)."""

    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of its worker.")
    rows_total = models.PositiveIntegerField(null=True, blank=True, help_text="About how many rows the file has.")
    rows_read = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0, help_text="Already present (re-imported).")
    rows_failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, field, message}], the first 1000.")
    failure = models.TextField(blank=True, help_text="Why the whole job failed, if it did.")

    class Meta:
        ordering = ["-created_at"]
        permissions = [("import_csv", "Can import CSV files")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import #{self.pk} ({self.status})"


class ExportJob(models.Model):
    """A CSV export of a big admin list (signals, accounts, contacts, stage transitions) written by a worker to a
    file under MEDIA_ROOT, with its progress; downloaded from the admin once done. Ends done or failed, as imports do.
    """

    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    # The admin list's filtered query, pickled (Django's documented way to rebuild a QuerySet elsewhere): written
    # and read only by Klearly's own code, consumed within minutes by a worker of the same version.
    query = models.BinaryField(editable=False)
    columns = models.JSONField(default=list, blank=True, help_text="The columns chosen; empty: all of them.")
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of its worker.")
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True, help_text="Why the job failed, if it did.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} export #{self.pk} ({self.status})"


class EventMapping(models.Model):
    """Which Segment-style event becomes which signal type, topic, detail, direction and source.

    Matched in ``priority`` order (lowest first) against the event's kind and name (track: the event name;
    page/screen: the page or screen name, or the URL path for pages). ``pattern`` is a shell-style glob,
    case-insensitive ("Pricing*", "/pricing*"). Unmatched events are kept: a track event becomes a signal type
    named after the event, a page a "Page view", a screen a "Screen view".
    """

    class EventKind(models.TextChoices):
        TRACK = "track", "track"
        PAGE = "page", "page"
        SCREEN = "screen", "screen"

    kind = models.CharField(max_length=10, choices=EventKind.choices, default=EventKind.TRACK)
    pattern = models.CharField(max_length=200, help_text="Glob over the event name (or URL path for pages).")
    ingestion_source = models.ForeignKey(
        IngestionSource, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty: every source."
    )
    signal_type = models.ForeignKey(SignalType, on_delete=models.CASCADE, related_name="event_mappings")
    topic = models.ForeignKey(SignalTopic, null=True, blank=True, on_delete=models.SET_NULL)
    detail = models.CharField(max_length=100, blank=True)
    direction = models.CharField(max_length=8, choices=Direction.choices, blank=True, help_text="Empty: type default.")
    source = models.CharField(max_length=10, choices=SignalSource.choices, blank=True, help_text="Empty: type default.")
    priority = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.pattern} → {self.signal_type_id}"


class ErasureRecord(models.Model):
    """The audit entry of one "forget this person" (GDPR erasure): when, by whom, through what, how, and how much was
    erased. It keeps nothing that identifies the person: no email, name, contact or account id, and no hash of them
    (a keyed hash of an email is still pseudonymous personal data); ``erasure_id`` is random, for reference in the
    ticket of the request. ``signals_app.privacy`` writes it; nobody edits it."""

    erasure_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    erased_at = models.DateTimeField(default=timezone.now)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    operator_label = models.CharField(
        max_length=150, blank=True, help_text="Who asked: a username, an API key's prefix, or the command."
    )
    via = models.CharField(max_length=10, choices=ErasureVia.choices)
    reason = models.CharField(max_length=500, blank=True, help_text="Free text, with the person's email removed.")
    signals_kept_anonymous = models.BooleanField(
        default=False, help_text="Their signals were kept without person or personal properties (not deleted)."
    )
    counts = models.JSONField(default=dict, blank=True, help_text="What was erased, by kind: numbers only.")

    class Meta:
        ordering = ["-erased_at", "-id"]
        permissions = [
            ("forget_person", "Can forget a person (erase their data)"),
            ("export_person", "Can export a person's data"),
        ]

    def __str__(self) -> str:
        return f"Erasure {self.erasure_id} ({self.erased_at:%Y-%m-%d %H:%M})"
