"""What every page of the web UI shares: htmx or a plain page, safe redirects, paging, query strings and the filter
values handed to the shared FilterSets, form errors as messages, and who the user may hand tasks to."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import django_filters
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django.utils.http import url_has_allowed_host_and_scheme

from playbooks.selectors import assignees_for_user


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request for a fragment (boosted links and forms want whole pages, like a plain browser)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` the form came with, if it points back into this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return fallback


def page_number(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page", "1")), 10_000))
    except ValueError:
        return 1


def page_slice(queryset: QuerySet, page: int, size: int) -> tuple[list[Any], bool]:
    """One page of rows and whether there is a next one, without counting the whole list."""
    rows = list(queryset[(page - 1) * size : page * size + 1])
    return rows[:size], len(rows) > size


def query_string(params: dict[str, Any], **changes: Any) -> str:
    """A query string of ``params`` with ``changes`` applied (None or "" removes a key)."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def querydict(values: dict[str, str], filterset_class: type[django_filters.FilterSet] | None = None) -> QueryDict:
    """Filter values as a QueryDict. URLs give several choices comma-separated (``grade=A,B``): a multiple-choice
    filter of ``filterset_class`` reads them as a list; a comma-separated filter (``TaskFilterSet.grade``) reads the
    text itself, and would see only the last item of a list."""
    filters = filterset_class.base_filters if filterset_class else {}
    data = QueryDict(mutable=True)
    for key, value in values.items():
        multiple = isinstance(filters.get(key), django_filters.MultipleChoiceFilter)
        data.setlist(key, value.split(",") if multiple else [value])
    return data


def field_errors(form: Any) -> list[str]:
    """Form errors as "Field: message" lines, for flash messages."""
    lines = []
    for name, errors in form.errors.items():
        label = form.fields[name].label or name.replace("_", " ").capitalize() if name in form.fields else ""
        for error in errors:
            lines.append(f"{label}: {error}" if label else str(error))
    return lines


def assignable_users(user: Any) -> QuerySet:
    """Who the user may hand tasks to (the same rule as the tasks API's assign)."""
    return assignees_for_user(user=user)


def assignee_choices(request: HttpRequest) -> list[tuple[int, str]]:
    """(id, name) of the people the user may hand tasks to, read once per request."""
    cached = getattr(request, "_klearly_assignees", None)
    if cached is None:
        fields = ("pk", "first_name", "last_name", "username")
        cached = [
            (pk, f"{first} {last}".strip() or username)
            for pk, first, last, username in assignable_users(request.user).values_list(*fields)
        ]
        request._klearly_assignees = cached  # type: ignore[attr-defined]  # a memo on this request
    return cached
