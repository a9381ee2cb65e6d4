"""Admin helpers shared by every app: a paginator that never counts a whole big table, and the page that shows a
new secret once."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.cache import patch_cache_control
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most ``COUNT_CAP + 1`` rows (``SELECT COUNT(*) FROM (... LIMIT n)``), so a changelist over
    millions of signals pages in milliseconds; beyond the cap the admin shows the first pages only."""

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if isinstance(object_list, QuerySet):
            try:
                return object_list.values("pk")[: COUNT_CAP + 1].count()
            except TypeError:  # e.g. a query that cannot take values()
                pass
        return len(object_list)


class BigTableAdminMixin:
    """For tables that grow without bound: no full result count, capped page count."""

    paginator: ClassVar[type] = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50


def secret_shown_once_response(
    request: HttpRequest, *, title: str, secrets: list[tuple[str, str]], usage: str, back_url: str
) -> TemplateResponse:
    """A page that shows new secrets (API keys, write keys) once, in its own body: never in a flash message, which
    travels in the signed but readable ``messages`` cookie, and never cached (``Cache-Control: no-store``).
    ``secrets``: (what it is, the secret)."""
    context = {
        **admin.site.each_context(request),
        "title": title,
        "secrets": secrets,
        "usage": usage,
        "back_url": back_url,
    }
    response = TemplateResponse(request, "admin/secret_shown_once.html", context)
    patch_cache_control(response, no_store=True, no_cache=True, must_revalidate=True, private=True)
    return response
