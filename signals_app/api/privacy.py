"""Forgetting and exporting a person over the API (GDPR erasure and access requests).

``POST /api/v1/privacy/forget/`` and ``POST /api/v1/privacy/export/`` name the person in the body (email, contact id,
contact external id or anonymous id: the email never travels in a URL, so it stays out of access logs);
``POST /api/v1/contacts/{external_id}/forget/`` and ``GET /api/v1/contacts/{external_id}/export/`` name a contact.
Only an admin-scope API key, or a staff operator with the ``signals_app.forget_person`` / ``export_person``
permission, may call them. The work is ``signals_app.privacy``'s.
"""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Contact
from klearly.api.viewsets import MAX_PK, SHARED, ApiViewSetMixin
from klearly.models import ApiKey
from signals_app.choices import ErasureVia
from signals_app.models import ErasureRecord, WriteKey
from signals_app.privacy import PersonLookupError, PersonQuery, person_export, person_forget

EXTERNAL_ID = r"[^/]+"


class PersonPermission(permissions.BasePermission):
    """An admin-scope API key, or a logged-in staff operator with the view's permission (``person_permission``)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if isinstance(key, WriteKey):
            raise exceptions.PermissionDenied("a write key may only send signals (POST /api/v1/signals/)")
        if isinstance(key, ApiKey):
            if key.scope == ApiKey.Scope.ADMIN:
                return True
            raise exceptions.PermissionDenied("forgetting or exporting a person needs an API key with the admin scope")
        user = request.user
        if not user or not user.is_authenticated:
            return False
        needed = cast("_PersonViewSet", view).person_permission()  # the permission of the person viewsets
        if user.is_staff and user.has_perm(needed):
            return True
        raise exceptions.PermissionDenied(f"only staff with the permission {needed} may do this")


class PersonLookupSerializer(serializers.Serializer):
    """Who: any of these (every record matching one of them is the person's)."""

    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    contact_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PK, help_text="A contact's id.")
    external_id = serializers.CharField(max_length=128, required=False, allow_blank=True, help_text="A contact's.")
    anonymous_id = serializers.CharField(
        max_length=128, required=False, allow_blank=True, help_text="An anonymousId of signals without contact."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            attrs["query"] = PersonQuery(
                email=attrs.get("email", ""), contact_id=attrs.get("contact_id"),
                external_id=attrs.get("external_id", ""), anonymous_id=attrs.get("anonymous_id", ""),
            )  # fmt: skip
        except PersonLookupError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return attrs


class ForgetOptionsSerializer(serializers.Serializer):
    """How: delete their signals (default) or keep them anonymous for their accounts' counts; and why."""

    keep_anonymous_signals = serializers.BooleanField(
        default=False, help_text="Keep their signals without person, anonymous id or personal properties."
    )
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Why (your ticket); their email is removed."
    )


class ForgetRequestSerializer(PersonLookupSerializer, ForgetOptionsSerializer):
    """Who to forget, and how."""


class ErasureRecordSerializer(serializers.ModelSerializer):
    """The audit entry of an erasure: counts by kind, nothing about the person."""

    found = serializers.SerializerMethodField(help_text="Whether anything named the person.")

    class Meta:
        model = ErasureRecord
        fields = ("erasure_id", "erased_at", "operator_label", "via", "reason", "signals_kept_anonymous", "counts",
                  "found")  # fmt: skip
        read_only_fields = fields

    def get_found(self, record: ErasureRecord) -> bool:
        return any(v for k, v in record.counts.items() if k != "accounts_rescored")


def _forget(request: Request, query: PersonQuery, options: dict[str, Any]) -> Response:
    user = request.user if getattr(request.user, "pk", None) else None
    record = person_forget(
        query=query, via=ErasureVia.API, keep_anonymous_signals=options.get("keep_anonymous_signals", False),
        operator=user, operator_label=str(request.user), reason=options.get("reason", ""),
    )  # fmt: skip
    return Response(ErasureRecordSerializer(record).data)


class _PersonViewSet(ApiViewSetMixin, viewsets.GenericViewSet):
    permission_classes = (PersonPermission,)
    pagination_class = None
    filter_backends = ()

    def person_permission(self) -> str:
        return "signals_app.forget_person" if self.action == "forget" else "signals_app.export_person"


class PrivacyViewSet(_PersonViewSet):
    """Forget or export a person named by email, contact id, contact external id or anonymous id."""

    serializer_class = ForgetRequestSerializer
    account_path = SHARED  # no rows are listed; PersonPermission admits staff with the permission and admin keys

    @extend_schema(
        summary="Forget a person (GDPR erasure)",
        description=(
            "Deletes their contacts and signals (or, with keep_anonymous_signals, strips the signals of their person "
            "and personal properties), their anonymous ids and traits, and removes their email wherever else it is "
            "written; rescores the accounts concerned. Answers the audit entry (counts only)."
        ),
        request=ForgetRequestSerializer,
        responses={200: ErasureRecordSerializer},
    )
    @action(detail=False, methods=["post"])
    def forget(self, request: Request) -> Response:
        body = ForgetRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _forget(request, body.validated_data["query"], body.validated_data)

    @extend_schema(
        summary="Export a person's data (GDPR access)",
        description="Everything held about the person, as one JSON document (contacts, signals, scores, tasks).",
        request=PersonLookupSerializer,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The person's data.")},
    )
    @action(detail=False, methods=["post"], serializer_class=PersonLookupSerializer)
    def export(self, request: Request) -> Response:
        body = PersonLookupSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(person_export(query=body.validated_data["query"]))


class ContactPrivacyViewSet(_PersonViewSet):
    """Forget or export the person of a contact (addressed by external id, like /contacts/{external_id}/)."""

    serializer_class = ForgetOptionsSerializer
    account_path = "account"  # the contact must be one the caller may see (staff and admin keys see all)
    lookup_field = "external_id"
    lookup_value_regex = EXTERNAL_ID

    def get_queryset(self):
        return Contact.objects.all()

    def _query(self) -> PersonQuery:
        contact = self.get_object()
        return PersonQuery(contact_id=contact.pk)

    @extend_schema(
        summary="Forget the person of a contact (GDPR erasure)",
        description="As POST /api/v1/privacy/forget/ for this contact (and every record naming its email).",
        request=ForgetOptionsSerializer,
        responses={200: ErasureRecordSerializer},
    )
    @action(detail=True, methods=["post"])
    def forget(self, request: Request, external_id: str) -> Response:
        options = ForgetOptionsSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        return _forget(request, self._query(), options.validated_data)

    @extend_schema(
        summary="Export the data of a contact's person (GDPR access)",
        request=None,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The person's data.")},
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, external_id: str) -> Response:
        return Response(person_export(query=self._query()))
