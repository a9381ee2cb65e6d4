"""Representations of tasks, their comments and playbooks for ``/api/v1/``; action bodies validated here, acted on
by ``playbooks.services``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from klearly.api.fields import BoundedDateTimeField

from ..choices import DismissReason, TaskOutcome
from ..models import ExperimentGroup, Playbook, Task, TaskComment, Team
from ..validation import playbook_errors

MAX_BULK = 1000


class TaskSerializer(serializers.ModelSerializer):
    """A task with what the inbox shows of its account, playbook and people (all joined by the selector)."""

    account_external_id = serializers.CharField(source="account.external_id", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    account_stage = serializers.CharField(source="account.stage.key", read_only=True, default=None, allow_null=True)
    account_owner_email = serializers.CharField(
        source="account.owner.email", read_only=True, default=None, allow_null=True
    )
    grade = serializers.CharField(source="account.score.grade", read_only=True, default=None, allow_null=True)
    playbook_name = serializers.CharField(source="playbook.name", read_only=True, default=None, allow_null=True)
    assignee_username = serializers.CharField(source="assignee.username", read_only=True, default=None, allow_null=True)
    team_name = serializers.CharField(source="team.name", read_only=True, default=None, allow_null=True)
    outcome = serializers.ChoiceField(choices=TaskOutcome.choices, allow_blank=True, read_only=True)
    dismiss_reason = serializers.ChoiceField(choices=DismissReason.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Task
        fields = [
            "id", "title", "body", "status", "outcome", "dismiss_reason", "priority", "due_at", "snoozed_until",
            "likelihood", "reason", "reason_key", "created_at", "closed_at", "account_external_id", "account_name",
            "account_stage", "account_owner_email", "grade", "playbook", "playbook_name", "assignee",
            "assignee_username", "team", "team_name",
        ]  # fmt: skip
        read_only_fields = fields


class TaskCommentSerializer(serializers.ModelSerializer):
    author_username = serializers.CharField(source="author.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = TaskComment
        fields = ["id", "body", "author_username", "created_at"]
        read_only_fields = ["id", "author_username", "created_at"]


class AssigneeField(serializers.SlugRelatedField):
    """A person named by username, among those the caller may give tasks to (``context["assignees"]``: the web's
    assign form's choices); anyone else reads as unknown."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="username", queryset=get_user_model().objects.none(), allow_null=True, **kwargs)

    def get_queryset(self) -> Any:
        assignees = self.context.get("assignees")
        return assignees if assignees is not None else super().get_queryset()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, str):
            raise serializers.ValidationError("must be a username (a string)")
        try:
            return self.get_queryset().get(username=data)
        except (get_user_model().DoesNotExist, get_user_model().MultipleObjectsReturned):
            raise serializers.ValidationError(f"{data!r} is not someone you can assign tasks to") from None


def _user_field() -> serializers.Field:
    return AssigneeField()


class AssignSerializer(serializers.Serializer):
    assignee = _user_field()


class SnoozeSerializer(serializers.Serializer):
    until = BoundedDateTimeField(help_text="When the task comes back (ISO 8601).")


class CompleteSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=TaskOutcome.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class DismissSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=[c for c in DismissReason.choices if c[0] != DismissReason.AUTO_CLEARED])
    note = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class CommentSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)


class BulkSerializer(serializers.Serializer):
    """``{"action": "complete", "ids": [1, 2], "outcome": "reached"}``: the other fields as for the single action."""

    action = serializers.ChoiceField(choices=["claim", "assign", "snooze", "complete", "dismiss"])
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), min_length=1, max_length=MAX_BULK
    )
    assignee = _user_field()
    until = BoundedDateTimeField(required=False)
    outcome = serializers.ChoiceField(choices=TaskOutcome.choices, required=False)
    reason = serializers.ChoiceField(
        choices=[c for c in DismissReason.choices if c[0] != DismissReason.AUTO_CLEARED], required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].required = False

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        needs = {"assign": "assignee", "snooze": "until", "complete": "outcome", "dismiss": "reason"}
        field = needs.get(data["action"])
        if field and field not in data:
            raise serializers.ValidationError({field: f"'{data['action']}' needs '{field}'."})
        return data


class PlaybookSerializer(serializers.ModelSerializer):
    """A playbook; a write is checked like the admin form, each problem reported on its field."""

    assign_team = serializers.SlugRelatedField(
        slug_field="name", queryset=Team.objects.all(), allow_null=True, required=False
    )
    assign_user = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.all(), allow_null=True, required=False
    )
    experiment_group = serializers.SlugRelatedField(
        slug_field="name", queryset=ExperimentGroup.objects.all(), allow_null=True, required=False
    )
    webhook_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=200)

    class Meta:
        model = Playbook
        fields = [
            "id", "name", "description", "is_active", "trigger_kind", "trigger_params", "conditions", "create_task",
            "task_title_template", "task_body_template", "assign_mode", "assign_team", "assign_user",
            "due_in_business_days", "priority", "webhook_url", "webhook_secret", "cooldown_days", "is_switch",
            "goal_kind", "goal_stage", "goal_within_days", "experiment_group", "variant", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        instance = Playbook(**{f.attname: getattr(self.instance, f.attname) for f in Playbook._meta.concrete_fields}) \
            if self.instance else Playbook()  # fmt: skip
        for name, value in data.items():
            setattr(instance, name, value)
        errors = playbook_errors(instance)
        if errors:
            raise serializers.ValidationError(errors)
        return data
