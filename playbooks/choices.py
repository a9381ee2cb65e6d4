"""Choices of the playbooks app."""

from django.db import models


class TriggerKind(models.TextChoices):
    """What makes a playbook fire for an account (its parameters are in ``Playbook.trigger_params``)."""

    SCORE_CROSSING = "score_crossing", "Score crosses a threshold"
    SCORE_CHANGE = "score_change", "Score rises or falls by at least x within a window"
    GRADE_CHANGE = "grade_change", "Grade changes"
    TEMPERATURE_CHANGE = "temperature_change", "Temperature changes"
    FLAG_CHANGE = "flag_change", "Qualified or surging starts or stops"
    HEALTH_CHANGE = "health_change", "Health changes"
    RULE_HIT = "rule_hit", "Rule hit set or cleared"
    PROBABILITY_CROSSING = "probability_crossing", "Probability crosses a value"
    STAGE_MOVEMENT = "stage_movement", "Stage movement"
    SEGMENT_ENTERED = "segment_entered", "Enters a segment"
    SEGMENT_LEFT = "segment_left", "Leaves a segment"


class AssignMode(models.TextChoices):
    OWNER = "owner", "Account owner (else round-robin in the team)"
    ROUND_ROBIN = "round_robin", "Round-robin in a team"
    USER = "user", "A named person"
    NOBODY = "nobody", "Nobody (the team's unassigned list)"


class Priority(models.IntegerChoices):
    LOW = 1, "Low"
    NORMAL = 2, "Normal"
    HIGH = 3, "High"
    URGENT = 4, "Urgent"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    SNOOZED = "snoozed", "Snoozed"
    DONE = "done", "Done"
    DISMISSED = "dismissed", "Dismissed"


# Open and snoozed tasks are "active": at most one per account, playbook and reason.
ACTIVE_STATUSES = (TaskStatus.OPEN, TaskStatus.SNOOZED)


class TaskOutcome(models.TextChoices):
    """How a completed task ended."""

    MEETING_BOOKED = "meeting_booked", "Meeting booked"
    CONVERTED = "converted", "Converted / deal won"
    EXPANDED = "expanded", "Expanded"
    SAVED = "saved", "Customer saved"
    REACHED = "reached", "Reached, no next step"
    NO_ANSWER = "no_answer", "No answer"
    NOT_INTERESTED = "not_interested", "Not interested"
    OTHER = "other", "Other"


class DismissReason(models.TextChoices):
    """Why a task was dismissed without being worked."""

    NOT_RELEVANT = "not_relevant", "Not relevant"
    ALREADY_HANDLED = "already_handled", "Already handled"
    WRONG_OWNER = "wrong_owner", "Wrong owner"
    DUPLICATE = "duplicate", "Duplicate"
    BAD_DATA = "bad_data", "Bad data"
    AUTO_CLEARED = "auto_cleared", "Closed by itself (the reason went away)"
    OTHER = "other", "Other"


class GoalKind(models.TextChoices):
    """What counts as success for a playbook run, checked within ``goal_within_days``."""

    NONE = "", "No goal"
    CONVERTED = "converted", "Converted (free → paying)"
    EXPANDED = "expanded", "Expanded (higher paying stage)"
    RETAINED = "retained", "Not churned by the deadline"
    STAGE_REACHED = "stage_reached", "Reached a stage"
    TASK_DONE = "task_done", "Task completed"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Failed, will retry"
    FAILED = "failed", "Failed, gave up"


class DueFilter(models.TextChoices):
    OVERDUE = "overdue", "Overdue"
    TODAY = "today", "Due today"
    WEEK = "week", "Due this week"
    NONE = "none", "No due date"


class InboxView(models.TextChoices):
    MINE = "mine", "My tasks"
    TEAM = "team", "My team"
    UNASSIGNED = "unassigned", "Unassigned"
    ALL = "all", "All I can see"
