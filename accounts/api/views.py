"""REST API viewsets for accounts, contacts, the journey, stage transitions and segments.

Declarative: each names its selector, serializer and FilterSet; writes hand validated values to a service.
Accounts and contacts are addressed by external id (``/api/v1/accounts/{external_id}/``).
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts import selectors, services, upsert
from accounts.filters import (
    AccountFilterSet,
    ContactFilterSet,
    JourneyStageFilterSet,
    SegmentFilterSet,
    SegmentMembershipFilterSet,
    StageTransitionFilterSet,
)
from accounts.models import Account, Contact, JourneyStage, Segment
from klearly.api.pagination import StageTransitionCursorPagination
from klearly.api.viewsets import SHARED, ApiViewSetMixin
from klearly.api.visibility import visible, visible_accounts_q

from .serializers import (
    AccountSerializer,
    ContactSerializer,
    JourneyStageSerializer,
    SegmentMembershipSerializer,
    SegmentSerializer,
    StageTransitionSerializer,
)

EXTERNAL_ID = r"[^/]+"


def _pick(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: data[name] for name in names if name in data}


def _present(data: dict[str, Any], **names: str) -> dict[str, Any]:
    """Keyword arguments for the values sent (``owner`` only when ``owner_email`` was in the request)."""
    return {kwarg: data[key] for kwarg, key in names.items() if key in data}


@extend_schema_view(
    list=extend_schema(summary="List accounts"),
    retrieve=extend_schema(summary="Get an account by external id"),
    create=extend_schema(summary="Create an account"),
    update=extend_schema(summary="Replace an account's fields"),
    partial_update=extend_schema(summary="Change some of an account's fields"),
    destroy=extend_schema(summary="Delete an account with its contacts and signals"),
)
class AccountViewSet(ApiViewSetMixin, viewsets.ModelViewSet):
    """Accounts: companies that are prospects or customers."""

    serializer_class = AccountSerializer
    filterset_class = AccountFilterSet
    account_path = ""
    lookup_field = "external_id"
    lookup_value_regex = EXTERNAL_ID

    def get_queryset(self) -> QuerySet:
        return selectors.account_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.account_create(
            external_id=data["external_id"],
            fields=_pick(data, upsert.ACCOUNT_FIELDS),
            traits=data.get("traits"),
            owner=data.get("owner"),
            stage=data.get("stage"),
        )

    def perform_update(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.account_update(
            account=cast(Account, serializer.instance),  # an update's serializer holds the row
            fields=_pick(data, upsert.ACCOUNT_FIELDS),
            traits=data.get("traits"),
            stage=data.get("stage"),
            **_present(data, owner="owner"),
        )

    def perform_destroy(self, instance: Any) -> None:
        services.account_delete(account=instance)


@extend_schema_view(
    list=extend_schema(summary="List contacts"),
    retrieve=extend_schema(summary="Get a contact by external id"),
    create=extend_schema(summary="Create a contact"),
    update=extend_schema(summary="Replace a contact's fields"),
    partial_update=extend_schema(summary="Change some of a contact's fields"),
    destroy=extend_schema(summary="Delete a contact (its signals stay)"),
)
class ContactViewSet(ApiViewSetMixin, viewsets.ModelViewSet):
    """Contacts: people at accounts (product users, leads)."""

    serializer_class = ContactSerializer
    filterset_class = ContactFilterSet
    account_path = "account"
    lookup_field = "external_id"
    lookup_value_regex = EXTERNAL_ID

    def get_queryset(self) -> QuerySet:
        return selectors.contact_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.contact_create(
            external_id=data["external_id"],
            account=data.get("account"),
            fields=_pick(data, upsert.CONTACT_FIELDS),
            traits=data.get("traits"),
            stage=data.get("stage"),
        )

    def perform_update(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.contact_update(
            contact=cast(Contact, serializer.instance),  # an update's serializer holds the row
            fields=_pick(data, upsert.CONTACT_FIELDS),
            traits=data.get("traits"),
            **_present(data, account="account", stage="stage"),
        )

    def perform_destroy(self, instance: Any) -> None:
        services.contact_delete(contact=instance)


@extend_schema_view(
    list=extend_schema(summary="List the journey's stages"),
    retrieve=extend_schema(summary="Get a journey stage by key"),
    create=extend_schema(summary="Add a journey stage (admin)"),
    update=extend_schema(summary="Replace a journey stage (admin)"),
    partial_update=extend_schema(summary="Change a journey stage (admin)"),
)
class JourneyStageViewSet(
    ApiViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The journey: Lead, Trial, Starter, Churn… typed free / paying / churn, paying stages ranked."""

    serializer_class = JourneyStageSerializer
    filterset_class = JourneyStageFilterSet
    account_path = SHARED
    lookup_field = "key"
    lookup_value_regex = EXTERNAL_ID

    def get_queryset(self) -> QuerySet:
        return selectors.journey_stage_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.journey_stage_create(values=dict(serializer.validated_data))

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.journey_stage_update(
            stage=cast(JourneyStage, serializer.instance), values=dict(serializer.validated_data)
        )


@extend_schema_view(
    list=extend_schema(summary="List stage transitions (latest first)"),
    retrieve=extend_schema(summary="Get a stage transition"),
    create=extend_schema(
        summary="Report a plan change",
        description=(
            "An external system reports that an account moved to a stage. Idempotent for the same account, stage "
            "and time. `from_stage` and `movement` are derived from the account's whole history, so late or "
            "out-of-order reports are handled."
        ),
    ),
)
class StageTransitionViewSet(
    ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Stage transitions: moves of accounts along the journey, with the movement they mean."""

    serializer_class = StageTransitionSerializer
    filterset_class = StageTransitionFilterSet
    account_path = "account"
    pagination_class = StageTransitionCursorPagination

    def get_queryset(self) -> QuerySet:
        return selectors.stage_transition_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        transition = services.account_stage_record(
            account=data["account"], stage=data["stage"], changed_at=data.get("changed_at")
        )
        serializer.instance = selectors.stage_transition_list().get(pk=transition.pk)


@extend_schema_view(
    list=extend_schema(summary="List segments"),
    retrieve=extend_schema(summary="Get a segment"),
    create=extend_schema(summary="Create a segment (evaluated at once)"),
    update=extend_schema(summary="Replace a segment"),
    partial_update=extend_schema(summary="Change a segment (re-evaluated when its criteria change)"),
    destroy=extend_schema(summary="Delete a segment and its membership history"),
)
class SegmentViewSet(ApiViewSetMixin, viewsets.ModelViewSet):
    """Segments: named groups of accounts with entry criteria, membership tracked over time."""

    serializer_class = SegmentSerializer
    filterset_class = SegmentFilterSet
    account_path = SHARED  # definitions are shared; members and member counts are the caller's accounts only

    def get_queryset(self) -> QuerySet:
        return selectors.segment_list(members=visible_accounts_q(self.request, account_path="memberships__account"))

    def get_serializer_class(self) -> type[BaseSerializer]:
        return SegmentMembershipSerializer if self.action == "members" else SegmentSerializer

    def perform_create(self, serializer: BaseSerializer) -> None:
        segment = services.segment_create(values=dict(serializer.validated_data))
        serializer.instance = self.get_queryset().get(pk=segment.pk)

    def perform_update(self, serializer: BaseSerializer) -> None:
        segment = services.segment_update(
            segment=cast(Segment, serializer.instance), values=dict(serializer.validated_data)
        )
        serializer.instance = self.get_queryset().get(pk=segment.pk)

    def perform_destroy(self, instance: Any) -> None:
        services.segment_delete(segment=instance)

    @extend_schema(
        summary="A segment's members",
        description="The accounts in the segment now; with `include_past=true`, every stay with entered/exited.",
        filters=False,
        parameters=[OpenApiParameter("include_past", OpenApiTypes.BOOL, description="Include accounts that left.")],
        responses=SegmentMembershipSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def members(self, request: Request, pk: str | None = None) -> Response:
        segment = cast(Segment, self.get_object())
        members = visible(selectors.segment_member_list(segment=segment), request, account_path="account")
        filterset = SegmentMembershipFilterSet(request.query_params, queryset=members, request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
