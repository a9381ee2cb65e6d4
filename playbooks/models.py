"""Playbooks (trigger + conditions + actions), the tasks they open in the inbox, their runs, webhook deliveries,
teams and experiments."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account

from .choices import (
    ACTIVE_STATUSES,
    AssignMode,
    DeliveryStatus,
    DismissReason,
    GoalKind,
    Priority,
    TaskOutcome,
    TaskStatus,
    TriggerKind,
)


class Team(models.Model):
    """A group of operators (CS, Sales) who share an inbox; round-robin assignment walks its members."""

    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="klearly_teams")
    round_robin_cursor = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="How many tasks round-robin has handed out (the next member is this mod n).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExperimentGroup(models.Model):
    """Playbooks that compete for the same accounts: each account is assigned to one variant (one playbook of the
    group) at random but reproducibly, and the admin compares the variants' goal rates."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Playbook(models.Model):
    """When a trigger fires for an account that meets the conditions: open a task (and/or call a webhook), with a
    cooldown, an optional goal, and optionally as one variant of an experiment."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    trigger_kind = models.CharField(max_length=24, choices=TriggerKind.choices)
    trigger_params = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            'score_crossing: {"score": "lead", "threshold": 65, "direction": "up"}; score_change: {"score": "lead", '
            '"by": 15, "direction": "up", "window_days": 7}; grade_change / temperature_change / health_change: '
            '{"to": ["A", "B"], "direction": "up"} (all optional); flag_change: {"flag": "qualified", "to": true}; '
            'rule_hit: {"rule": "Expansion opportunity", "event": "set"}; probability_crossing: '
            '{"probability": "conversion_probability", "threshold": 0.5, "direction": "up"}; stage_movement: '
            '{"movement": ["conversion"], "to_stage": ["starter"]}; segment_entered / segment_left: '
            '{"segment": "Trials"}.'
        ),
    )
    conditions = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            'On the account, in the signal rules\' language: {"match": "all", "conditions": [{"field": "stage_kind", '
            '"op": "eq", "value": "free"}, {"field": "owner_email", "op": "present"}, {"segment": "Trials"}]}. '
            "Fields: scores and measures, account fields, owner_email, traits.<name>. Empty: every account. "
            "The language: docs/conditions.md."
        ),
    )
    # Actions
    create_task = models.BooleanField(default=True, help_text="Off for a control variant or a webhook-only playbook.")
    task_title_template = models.CharField(
        max_length=300,
        blank=True,
        help_text="Django template: {{ account.name }}, {{ account.stage }}, {{ reason.summary }}, {{ score.lead }}…",
    )
    task_body_template = models.TextField(blank=True, help_text="Same variables as the title.")
    assign_mode = models.CharField(max_length=12, choices=AssignMode.choices, default=AssignMode.OWNER)
    assign_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="playbooks",
        help_text="The team whose inbox gets the task (round-robin walks its members).",
    )  # fmt: skip
    assign_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_playbooks"
    )
    due_in_business_days = models.PositiveSmallIntegerField(
        null=True, blank=True, default=2, validators=[MaxValueValidator(365)], help_text="Empty: no due date."
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    webhook_url = models.URLField(max_length=500, blank=True, help_text="POSTed a signed JSON payload on every run.")
    webhook_secret = models.CharField(
        max_length=200, blank=True, help_text="Signs the payload (X-Klearly-Signature: sha256=HMAC of the body)."
    )
    # No noise
    cooldown_days = models.PositiveSmallIntegerField(
        default=14, validators=[MaxValueValidator(3650)], help_text="Days before it may fire again for an account."
    )
    is_switch = models.BooleanField(
        default=False, help_text="The task closes itself when the reason goes away (the rule hit clears, the score "
        "falls back).",
    )  # fmt: skip
    # Goal
    goal_kind = models.CharField(max_length=16, choices=GoalKind.choices, default=GoalKind.NONE, blank=True)
    goal_stage = models.CharField(max_length=64, blank=True, help_text="Stage key, for 'reached a stage'.")
    goal_within_days = models.PositiveSmallIntegerField(
        default=21, validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    # Experiment
    experiment_group = models.ForeignKey(
        ExperimentGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="variants"
    )
    variant = models.CharField(max_length=40, blank=True, help_text="The variant's name within its group (A, B…).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["is_active", "trigger_kind"], name="playbook_active_trigger_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .validation import playbook_errors

        errors = playbook_errors(self)
        if errors:
            raise ValidationError(errors)


class PlaybookRun(models.Model):
    """One firing of a playbook for an account: why, which variant, and whether its goal was reached in time."""

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="runs")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="playbook_runs")
    reason_key = models.CharField(max_length=120)
    source_key = models.CharField(
        max_length=200, help_text="The change that fired it (reason and when): a retried batch adds no second run."
    )
    variant = models.CharField(max_length=40, blank=True)
    trigger = models.JSONField(default=dict, blank=True, help_text="What fired: the change that matched.")
    fired_at = models.DateTimeField(default=timezone.now)
    goal_deadline = models.DateTimeField(null=True, blank=True)
    goal_reached_at = models.DateTimeField(null=True, blank=True)
    goal_checked_at = models.DateTimeField(null=True, blank=True, help_text="Set when the goal was settled.")

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "account", "source_key"], name="run_once_per_change"),
        ]
        indexes = [
            models.Index(fields=["playbook", "account", "-fired_at"], name="run_cooldown_idx"),
            models.Index(fields=["goal_checked_at", "goal_deadline"], name="run_goal_pending_idx"),
            models.Index(fields=["account", "-fired_at"], name="run_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.playbook} for {self.account_id} at {self.fired_at:%Y-%m-%d %H:%M}"


class Task(models.Model):
    """A follow-up item in the inbox, with the reason it was opened (score, change, top contributors then)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tasks")
    playbook = models.ForeignKey(Playbook, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    run = models.ForeignKey(PlaybookRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    reason_key = models.CharField(max_length=120, blank=True)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    reason = models.JSONField(default=dict, blank=True, help_text="summary, score values, change, top contributors.")
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    outcome = models.CharField(max_length=20, choices=TaskOutcome.choices, blank=True)
    dismiss_reason = models.CharField(max_length=20, choices=DismissReason.choices, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    due_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="klearly_tasks"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    likelihood = models.FloatField(
        default=0, help_text="For sorting: the account's lead score (0–100) or conversion probability × 100."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-priority", "due_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "playbook", "reason_key"],
                condition=Q(status__in=list(ACTIVE_STATUSES)),
                name="task_one_active_per_reason",
            ),
        ]
        indexes = [
            # The inbox's views: mine / my team / unassigned, by status, sorted by priority or due date.
            models.Index(fields=["assignee", "status", "-priority", "due_at"], name="task_assignee_inbox_idx"),
            models.Index(fields=["team", "status", "-priority", "due_at"], name="task_team_inbox_idx"),
            models.Index(fields=["status", "-priority", "due_at"], name="task_status_inbox_idx"),
            models.Index(fields=["status", "due_at"], name="task_status_due_idx"),
            models.Index(fields=["status", "-likelihood"], name="task_status_likelihood_idx"),
            models.Index(fields=["account", "status"], name="task_account_status_idx"),
            models.Index(fields=["playbook", "status"], name="task_playbook_status_idx"),
            models.Index(fields=["status", "snoozed_until"], name="task_snoozed_idx"),
            # The web inbox: "my team" sorted by due date or likelihood walks these in
            # order; the unassigned count per team reads the partial index alone; the accounts an operator sees
            # through their own and their team's tasks are read from (assignee, account) and (team, account) alone.
            models.Index(fields=["team", "status", "due_at"], name="task_team_due_idx"),
            models.Index(fields=["team", "status", "-likelihood"], name="task_team_likelihood_idx"),
            models.Index(
                fields=["team"], condition=Q(status="open", assignee__isnull=True), name="task_team_unassigned_idx"
            ),
            models.Index(fields=["team", "account"], name="task_team_account_idx"),
            models.Index(fields=["assignee", "account"], name="task_assignee_account_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class TaskComment(models.Model):
    """A note an operator left on a task."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["task", "created_at"], name="taskcomment_task_idx")]

    def __str__(self) -> str:
        return f"comment on {self.task_id}"


class WebhookDelivery(models.Model):
    """One attempt chain of POSTing a run's payload to a playbook's webhook; every attempt updates it."""

    playbook = models.ForeignKey(Playbook, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    run = models.ForeignKey(PlaybookRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    url = models.URLField(max_length=500)
    payload = models.JSONField(default=dict)
    signature = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(
        max_length=500, blank=True, help_text="Why the last attempt failed: HTTP status, refused target, timeout… "
        "(the receiver's answer itself is never kept)."
    )  # fmt: skip
    log = models.JSONField(default=list, blank=True, help_text="Every attempt: time, status code or error.")
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_retry_at"], name="delivery_status_idx")]

    def __str__(self) -> str:
        return f"{self.url} ({self.status}, {self.attempts} attempts)"


# --- web UI ------------------------------------------------------------------------------------------------------


class SavedView(models.Model):
    """A person's named filters of the inbox or of an account list, to open again in one click."""

    class Kind(models.TextChoices):
        INBOX = "inbox", "Inbox"
        CALL = "call", "Call list"
        EXPANSION = "expansion", "Expansion list"
        SURGING = "surging", "Surging accounts"
        AT_RISK = "at_risk", "At-risk accounts"
        ACCOUNTS = "accounts", "Accounts"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="klearly_saved_views")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INBOX)
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000, blank=True, help_text="The page's query string (its filters).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "kind", "name"], name="saved_view_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


__all__ = [
    "DismissReason",
    "ExperimentGroup",
    "Playbook",
    "PlaybookRun",
    "SavedView",
    "Task",
    "TaskComment",
    "TaskOutcome",
    "Team",
    "WebhookDelivery",
]
