"""Representations of accounts, contacts, the journey, stage transitions and segments in the REST API.

Related rows are named as other systems name them: accounts by ``external_id``, stages by ``key``, owners by
email. Serializers validate; the views hand the validated values to services.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldError
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, transaction
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from accounts.conditions import ConditionError
from accounts.models import Account, Contact, JourneyStage, Segment, SegmentMembership, StageTransition
from accounts.segments import criteria_to_q
from klearly.api.fields import BoundedDateTimeField, JSONObjectField, LookupField

MAX_INT = 2_147_483_647
MAX_SMALL_INT = 32_767  # PositiveSmallIntegerField on every database


def account_field(**kwargs: Any) -> LookupField:
    """An account named by external id; only the caller's visible accounts can be named."""
    return LookupField(
        noun="account",
        label="external id",
        slug_field="external_id",
        queryset=Account.objects.all(),
        account_path="",
        **kwargs,
    )


def stage_field(**kwargs: Any) -> LookupField:
    return LookupField(
        noun="journey stage", label="key", slug_field="key", queryset=JourneyStage.objects.all(), **kwargs
    )


class AccountSerializer(serializers.ModelSerializer):
    """An account. `traits` sent are merged into the stored ones (a key sent as null is removed); a new
    `stage` is recorded as a stage transition."""

    external_id = serializers.CharField(
        max_length=128, validators=[UniqueValidator(Account.objects.all(), "an account has this external id")]
    )
    employees = serializers.IntegerField(min_value=0, max_value=MAX_INT, allow_null=True, required=False)
    created_at = BoundedDateTimeField(required=False, help_text="Created in the source system, or first seen.")
    owner_email = LookupField(
        noun="Klearly user",
        label="email",
        slug_field="email",
        lookup="iexact",
        queryset=get_user_model().objects.filter(is_active=True),
        source="owner",
        required=False,
        allow_null=True,
        help_text="Email of the Klearly user who owns the account.",
    )
    stage = stage_field(required=False, allow_null=True, help_text="Journey stage key (set by stage transitions).")
    traits = JSONObjectField(required=False, help_text="Other attributes; merged on write, null removes a key.")

    class Meta:
        model = Account
        fields = (
            "id", "external_id", "name", "domain", "industry", "employees", "annual_revenue", "country",
            "created_at", "owner_email", "stage", "stage_changed_at", "traits", "updated_at",
        )  # fmt: skip
        read_only_fields = ("id", "stage_changed_at", "updated_at")

    def validate_stage(self, value: JourneyStage | None) -> JourneyStage | None:
        if value is None and self.instance is not None and self.instance.stage_id is not None:
            raise serializers.ValidationError(
                "a stage cannot be removed; report the move to another stage (POST /api/v1/stage-transitions/)"
            )
        return value


class AccountBriefSerializer(serializers.ModelSerializer):
    """An account named in another representation."""

    class Meta:
        model = Account
        fields = ("id", "external_id", "name")
        read_only_fields = fields


class ContactSerializer(serializers.ModelSerializer):
    """A person at an account. `traits` are merged like an account's."""

    external_id = serializers.CharField(
        max_length=128,
        allow_null=True,  # contacts known only by email or an anonymous id have none, but the API sets one
        validators=[UniqueValidator(Contact.objects.all(), "a contact has this external id")],
    )
    account_external_id = account_field(source="account", required=False, allow_null=True)
    created_at = BoundedDateTimeField(required=False)
    stage = stage_field(required=False, allow_null=True, help_text="Journey stage key, for contact journeys.")
    traits = JSONObjectField(required=False, help_text="Other attributes; merged on write, null removes a key.")

    class Meta:
        model = Contact
        fields = (
            "id", "external_id", "account_external_id", "email", "first_name", "last_name", "title", "created_at",
            "last_seen_at", "stage", "traits",
        )  # fmt: skip
        read_only_fields = ("id", "last_seen_at")

    def validate_external_id(self, value: str | None) -> str:
        if value is None:
            raise serializers.ValidationError("is required")
        return value


class JourneyStageSerializer(serializers.ModelSerializer):
    """A stage of the journey. Its `key` is fixed once created."""

    rank = serializers.IntegerField(
        min_value=0, max_value=MAX_SMALL_INT, required=False, help_text=JourneyStage._meta.get_field("rank").help_text
    )
    position = serializers.IntegerField(
        min_value=0, max_value=MAX_SMALL_INT, required=False, help_text="Display order along the journey."
    )

    class Meta:
        model = JourneyStage
        fields = ("id", "key", "name", "kind", "rank", "position", "applies_to")
        read_only_fields = ("id",)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if isinstance(self.instance, JourneyStage):
            fields["key"].read_only = True
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = {f: getattr(self.instance, f) for f in ("kind", "rank")} if self.instance else {}
        probe = JourneyStage(**{**current, **{k: v for k, v in attrs.items() if k in ("kind", "rank")}})
        try:
            probe.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs


class StageTransitionSerializer(serializers.ModelSerializer):
    """A move of an account to a stage. Send the account, the stage (key or name) and when; `from_stage` and
    `movement` are derived from the account's history, never sent."""

    account_external_id = account_field(source="account")
    stage = LookupField(
        noun="journey stage",
        label="key or name",
        slug_field="key",
        also=("name__iexact",),
        queryset=JourneyStage.objects.all(),
        write_only=True,
        help_text="Key or name of the stage moved to.",
    )
    from_stage: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="key", read_only=True, allow_null=True
    )
    to_stage: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="key", read_only=True)
    changed_at = BoundedDateTimeField(required=False, help_text="When the move happened (default: now).")

    class Meta:
        model = StageTransition
        fields = (
            "id", "account_external_id", "stage", "from_stage", "to_stage", "movement", "changed_at", "recorded_at",
        )  # fmt: skip
        read_only_fields = ("id", "from_stage", "to_stage", "movement", "recorded_at")


class SegmentSerializer(serializers.ModelSerializer):
    """A named group of accounts with entry criteria (see the `criteria` help for the language)."""

    name = serializers.CharField(
        max_length=100, validators=[UniqueValidator(Segment.objects.all(), "a segment has this name")]
    )
    criteria = JSONObjectField(required=False, help_text=Segment._meta.get_field("criteria").help_text)
    member_count = serializers.IntegerField(source="open_members", read_only=True, default=0)

    class Meta:
        model = Segment
        fields = ("id", "name", "description", "criteria", "is_active", "member_count", "created_at", "evaluated_at")
        read_only_fields = ("id", "member_count", "created_at", "evaluated_at")

    def validate_criteria(self, value: dict[str, Any] | None) -> dict[str, Any]:
        value = value or {}
        try:
            q = criteria_to_q(value)
        except ConditionError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        except (OverflowError, TypeError, ValueError) as exc:  # e.g. "within_days": 1e12 is before year 1
            raise serializers.ValidationError(f"criteria cannot be evaluated: {exc}") from exc
        try:  # values of the wrong kind (text for a number, a list for a date) only show when the query runs
            with transaction.atomic():
                list(Account.objects.filter(q).values_list("pk", flat=True)[:1])
        except (DatabaseError, DjangoValidationError, FieldError, TypeError, ValueError) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, DjangoValidationError) else str(exc)
            raise serializers.ValidationError(f"criteria cannot be evaluated: {message}") from exc
        return value


class SegmentMembershipSerializer(serializers.ModelSerializer):
    """One stay of an account in a segment; `exited_at` is null while it is still a member."""

    account = AccountBriefSerializer(read_only=True)

    class Meta:
        model = SegmentMembership
        fields = ("id", "account", "entered_at", "exited_at")
        read_only_fields = fields
