"""Admin for API keys: a key is made by saving the add form (the secret is shown once) and revoked by an action."""

from __future__ import annotations

from typing import cast

from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from accounts.admin_tools import secret_shown_once_response

from . import services
from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scope", "created_by", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("created_by",)
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix")
    actions = ["revoke_keys"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "scope")
        return ("name", "scope", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        # A key's scope is part of what was handed out: make a new key rather than widen an old one.
        return ("scope", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        user = cast(User, request.user)  # the admin needs a login
        key, raw = services.api_key_create(name=obj.name, scope=obj.scope, created_by=user)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = key.pk, key.prefix, key.key_hash, key.created_at
        obj._new_secret = raw  # for response_add, on this object only: never a message (the messages cookie)

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        """The new key's secret, once, in this response's body (not a redirect with a flash message)."""
        raw = getattr(obj, "_new_secret", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        return secret_shown_once_response(
            request,
            title=f"New {obj.scope} API key “{obj.name}”",
            secrets=[(f"{obj.name} ({obj.prefix}…)", raw)],
            usage="Send it as “Authorization: Bearer <key>”.",
            back_url=reverse("admin:klearly_apikey_changelist"),
        )

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(key=key)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).")
