"""``/api/v1/scores/``: every account's current scores, measures and explanations; per account, its history and
its contacts' engagement. Read-only: scores are computed, never written by callers."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Account
from klearly.api.viewsets import SHARED, ApiViewSetMixin

from .. import selectors
from ..filters import AccountScoreFilterSet
from ..models import RuleHit
from .serializers import (
    AccountScoreSerializer,
    ContactScoreSerializer,
    PredictiveModelSerializer,
    RuleHitSerializer,
    ScoreHistorySerializer,
)


@extend_schema_view(
    list=extend_schema(summary="List accounts' current scores"),
    retrieve=extend_schema(summary="An account's scores, measures and explanations, by account external id"),
)
class AccountScoreViewSet(ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AccountScoreSerializer
    filterset_class = AccountScoreFilterSet
    account_path = "account"
    lookup_field = "account__external_id"
    lookup_url_kwarg = "external_id"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> QuerySet:
        return selectors.account_score_list().order_by("-lead", "account_id")

    def _account(self) -> Account:
        self.get_object()  # the same 404s and checks as retrieve
        return get_object_or_404(Account, external_id=self.kwargs["external_id"])

    @extend_schema(summary="An account's daily score history (for charts and backtests)",
                   responses=ScoreHistorySerializer(many=True))  # fmt: skip
    @action(detail=True, methods=["get"], filter_backends=[])  # the list's score filters do not apply here
    def history(self, request: Request, external_id: str) -> Response:
        rows = selectors.score_history_list(account_id=self._account().pk)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ScoreHistorySerializer(page, many=True).data)

    @extend_schema(summary="An account's contacts by engagement", responses=ContactScoreSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def contacts(self, request: Request, external_id: str) -> Response:
        rows = selectors.contact_score_list(account_id=self._account().pk)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ContactScoreSerializer(page, many=True).data)

    @extend_schema(
        summary="An account's rule hits, open ones first (`?open=true` for only those)",
        responses=RuleHitSerializer(many=True),
        parameters=[OpenApiParameter("open", bool, description="Only the hits that are still open.")],
    )
    @action(detail=True, methods=["get"], url_path="rule-hits", filter_backends=[])
    def rule_hits(self, request: Request, external_id: str) -> Response:
        rows = RuleHit.objects.filter(account=self._account()).select_related("rule").order_by("-cleared_at", "-set_at")
        if request.query_params.get("open") in ("true", "1"):
            rows = rows.filter(cleared_at__isnull=True)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(RuleHitSerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="Predictive model versions with their validation figures and feature impact"),
    retrieve=extend_schema(summary="A predictive model version"),
)
class PredictiveModelViewSet(
    ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = PredictiveModelSerializer
    filterset_fields = ["outcome", "is_active"]
    account_path = SHARED

    def get_queryset(self) -> QuerySet:
        return selectors.predictive_model_list()
