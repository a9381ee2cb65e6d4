"""What each kind of caller may do.

- write key (ingest scope): only the actions a view lists in ``write_key_actions`` (creating signals); nothing else.
- API key, read scope: every safe method (GET, HEAD, OPTIONS).
- API key, admin scope: everything.
- session (a Klearly operator): reads when logged in; writes by Django model permissions (add/change/delete).
"""

from __future__ import annotations

from rest_framework import exceptions, permissions
from rest_framework.request import Request
from rest_framework.views import APIView

from klearly.models import ApiKey
from signals_app.models import WriteKey


class ScopePermission(permissions.BasePermission):
    """One permission for the whole API: key scopes for keys, model permissions for logged-in operators."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if isinstance(key, WriteKey):
            if getattr(view, "action", None) in getattr(view, "write_key_actions", ()):
                return True
            raise exceptions.PermissionDenied(
                "a write key may only send signals (POST /api/v1/signals/); use an API key with the read or admin "
                "scope for anything else"
            )
        if isinstance(key, ApiKey):
            if key.scope == ApiKey.Scope.ADMIN or request.method in permissions.SAFE_METHODS:
                return True
            raise exceptions.PermissionDenied("this API key has the read scope: it cannot change anything")
        return OperatorModelPermissions().has_permission(request, view)


class OperatorModelPermissions(permissions.DjangoModelPermissions):
    """DjangoModelPermissions for session users; the message says which permission is missing."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        queryset = self._queryset(view)
        assert request.method is not None  # a request being served has a method
        perms = self.get_required_permissions(request.method, queryset.model)
        if request.user.has_perms(perms):
            return True
        raise exceptions.PermissionDenied(f"you need the permission(s) {', '.join(perms)} to do this")
