"""REST API viewsets for signals, signal types and topics.

Signals are created one or many at a time through ``signals_app.services.signals_submit`` (the same rules as the
CSV importer; ``message_id`` makes a retry store nothing twice), listed newest first with a cursor, and never
changed. Write keys may call nothing but ``POST /api/v1/signals/``.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.models import Account
from klearly.api.pagination import SignalCursorPagination
from klearly.api.viewsets import SHARED, ApiViewSetMixin
from klearly.api.visibility import caller_sees_all, visible
from signals_app import selectors, services
from signals_app.filters import SignalFilterSet, SignalTopicFilterSet, SignalTypeFilterSet
from signals_app.models import SignalTopic, SignalType, WriteKey

from .serializers import (
    CheckedSignals,
    SignalBatchResultSerializer,
    SignalBodyInvalid,
    SignalInputSerializer,
    SignalSerializer,
    SignalTopicSerializer,
    SignalTypeSerializer,
    signals_check,
    signals_from_body,
)

SIGNALS_BODY = PolymorphicProxySerializer(
    component_name="SignalInputOneOrMany",
    # many=True makes a ListSerializer, which takes the lengths; the stubs type the call as the child's
    serializers=[SignalInputSerializer, SignalInputSerializer(many=True, max_length=1000, min_length=1)],  # type: ignore[call-arg]
    resource_type_field_name=None,
    many=False,
)


@extend_schema_view(
    list=extend_schema(summary="List signals (newest first)"),
    retrieve=extend_schema(summary="Get a signal"),
)
class SignalViewSet(ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Signals: recorded interactions with accounts and contacts. Immutable once stored."""

    serializer_class = SignalSerializer
    filterset_class = SignalFilterSet
    pagination_class = SignalCursorPagination
    write_key_actions = ("create",)
    account_path = "account"

    def get_queryset(self) -> QuerySet:
        return selectors.signal_list()

    @extend_schema(
        summary="Send one signal or a list of up to 1000",
        description=(
            "Signals in the `signals.csv` shape. Good ones are stored and bad ones rejected one by one with their "
            "index and reasons: **201** when none was rejected, **207** when some were (the rest are stored), "
            "**400** when all were. `message_id` makes a retry store nothing twice (it is unique per ingestion "
            'source: a write key\'s source, or "REST API" for sessions and admin keys). Unknown types and topics '
            "are created; unknown accounts and contacts are rejected."
        ),
        request=SIGNALS_BODY,
        responses={
            201: OpenApiResponse(SignalBatchResultSerializer, description="Every signal stored (or already there)."),
            207: OpenApiResponse(SignalBatchResultSerializer, description="Some rejected; the others stored."),
            400: OpenApiResponse(SignalBatchResultSerializer, description="Nothing stored."),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            items = signals_from_body(request.data)
        except (SignalBodyInvalid, ParseError) as exc:  # a bad body is answered in the documented shape too
            detail = str(exc.detail) if isinstance(exc, ParseError) else str(exc)
            body = {"created": 0, "duplicates": 0, "rejected": [], "detail": detail}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        checked = signals_check(items)
        if not isinstance(request.auth, WriteKey) and not caller_sees_all(request):
            _reject_unseen_accounts(checked, request)
        created, duplicates = services.signals_submit(
            checked=checked, source=services.ingestion_source_for(key=request.auth)
        )
        rejected = [{"index": index, "errors": errors} for index, errors in sorted(checked.rejected.items())]
        if not rejected:
            code: int = status.HTTP_201_CREATED
        elif len(rejected) == len(items):
            code = status.HTTP_400_BAD_REQUEST
        else:
            code = status.HTTP_207_MULTI_STATUS
        return Response({"created": created, "duplicates": duplicates, "rejected": rejected}, status=code)


def _reject_unseen_accounts(checked: CheckedSignals, request: Request) -> None:
    """An operator may send signals only for the accounts they see: others are rejected as unknown (one query).
    Write keys send product events for any account; API keys and admins see every account."""
    names = {row.account_external_id for row in checked.rows}
    seen = set(visible(Account.objects.filter(external_id__in=names), request).values_list("external_id", flat=True))
    rows, positions = [], []
    for row, position in zip(checked.rows, checked.positions, strict=True):
        if row.account_external_id in seen:
            rows.append(row)
            positions.append(position)
        else:
            checked.reject(position, "account_external_id", f"no account has external id {row.account_external_id!r}")
    checked.rows, checked.positions = rows, positions


@extend_schema_view(
    list=extend_schema(summary="List signal types"),
    retrieve=extend_schema(summary="Get a signal type by key"),
    create=extend_schema(summary="Add a signal type"),
    update=extend_schema(summary="Replace a signal type's label and settings"),
    partial_update=extend_schema(summary="Change a signal type's label or settings"),
    destroy=extend_schema(summary="Delete a signal type no signal uses"),
)
class SignalTypeViewSet(ApiViewSetMixin, viewsets.ModelViewSet):
    """Signal types: what kind of interaction a signal is, with its defaults."""

    serializer_class = SignalTypeSerializer
    filterset_class = SignalTypeFilterSet
    account_path = SHARED
    lookup_field = "key"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> QuerySet:
        return selectors.signal_type_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.signal_type_create(values=dict(serializer.validated_data))

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.signal_type_update(
            signal_type=cast(SignalType, serializer.instance), values=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance: Any) -> None:
        services.signal_type_delete(signal_type=instance)


@extend_schema_view(
    list=extend_schema(summary="List topics"),
    retrieve=extend_schema(summary="Get a topic by key"),
    create=extend_schema(summary="Add a product line or a product type"),
    update=extend_schema(summary="Replace a topic's label"),
    partial_update=extend_schema(summary="Change a topic's label"),
    destroy=extend_schema(summary="Delete a topic (a line with its types); its signals keep no topic"),
)
class SignalTopicViewSet(ApiViewSetMixin, viewsets.ModelViewSet):
    """Topics: product lines and the product types under them."""

    serializer_class = SignalTopicSerializer
    filterset_class = SignalTopicFilterSet
    account_path = SHARED
    lookup_field = "key"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> QuerySet:
        return selectors.signal_topic_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        topic = services.signal_topic_create(values=dict(serializer.validated_data))
        serializer.instance = selectors.signal_topic_list().get(pk=topic.pk)

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.signal_topic_update(
            topic=cast(SignalTopic, serializer.instance), values=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance: Any) -> None:
        services.signal_topic_delete(topic=instance)
