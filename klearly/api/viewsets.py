"""The base every API viewset shares: who may call (keys, sessions), which rows they see, how often, JSON in and
out, filters, pagination, and an exception handler that turns database refusals into 4xx answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import authentication, exceptions, renderers
from rest_framework.authentication import BaseAuthentication
from rest_framework.pagination import BasePagination
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from .authentication import KeyAuthentication
from .exceptions import api_exception_handler
from .pagination import PagePagination
from .parsers import StrictJSONParser
from .permissions import ScopePermission
from .throttling import KeyRateThrottle
from .visibility import visible

#: ``account_path`` of shared configuration (stages, types, topics, segment definitions, playbooks, models)
SHARED = "shared"

MAX_LOOKUP_LENGTH = 255
MAX_PK = 2**63 - 1


class ApiViewSetMixin(APIView):
    """Mixed into every ``/api/v1/`` viewset (before the DRF viewset class; an APIView, so it comes before DRF's
    own in every viewset's method order)."""

    # Typed as DRF's own attributes, so the mixin and APIView agree on them (mypy checks both bases).
    authentication_classes: Sequence[type[BaseAuthentication]] = (
        KeyAuthentication,
        authentication.SessionAuthentication,
    )
    permission_classes: Sequence[Any] = (ScopePermission,)
    throttle_classes: Sequence[type[BaseThrottle]] = (KeyRateThrottle,)
    parser_classes: Sequence[type[BaseParser]] = (StrictJSONParser,)
    renderer_classes: Sequence[type[BaseRenderer]] = (renderers.JSONRenderer,)
    filter_backends: Sequence[Any] = (DjangoFilterBackend,)
    pagination_class: type[BasePagination] | None = PagePagination
    #: actions a write key (ingest scope) may call; empty for everything but signals
    write_key_actions: tuple[str, ...] = ()
    #: Every viewset says which rows a caller sees (``klearly.api.visibility``): the lookup path from its model to
    #: the account (``""`` for accounts, ``"account"`` for contacts, signals, scores…): rows of the accounts the
    #: caller may see; or ``SHARED`` for configuration every reader sees. A viewset with a rule of its own (tasks)
    #: overrides ``visible_rows``. Left unset, the viewset refuses to serve (no silent "everything").
    account_path: str | None = None
    # Attributes of the DRF generic view this is mixed into, declared for the type checker only (no value here).
    lookup_field: str
    lookup_url_kwarg: str | None

    def visible_rows(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` limited to the rows the caller may see; list, detail, every action and every write go
        through it (``filter_queryset``), so a row out of sight is a 404."""
        if self.account_path is None:
            raise ImproperlyConfigured(f"{type(self).__name__} must set account_path (or SHARED): who sees which rows")
        if self.account_path == SHARED:
            return queryset
        return visible(queryset, self.request, account_path=self.account_path)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().filter_queryset(self.visible_rows(queryset))  # type: ignore[misc]  # the DRF viewset has it

    def get_exception_handler(self) -> Callable:
        return api_exception_handler

    def get_object(self) -> Model:
        """The row named in the URL; a value no row can have (NUL, too long, too big) is a 404, not a DB error."""
        value = str(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, ""))
        if "\x00" in value or len(value) > MAX_LOOKUP_LENGTH:
            raise exceptions.NotFound()
        if self.lookup_field in ("pk", "id") and (not value.isdigit() or int(value) > MAX_PK):
            raise exceptions.NotFound()
        return super().get_object()  # type: ignore[misc]  # the DRF viewset after this mixin has it
