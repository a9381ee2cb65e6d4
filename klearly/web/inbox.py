"""The task inbox: mine / my team / unassigned (/ all for admins), by status, filtered through the shared
``TaskFilterSet`` and sorted; the counts per view (also sent out of band after an action)."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from accounts.models import Segment
from playbooks.choices import DueFilter, InboxView, TaskOutcome
from playbooks.filters import TaskFilterSet
from playbooks.models import Playbook, SavedView
from playbooks.selectors import user_sees_all

from . import presenters
from .common import assignee_choices, is_htmx, page_number, page_slice, query_string, querydict
from .forms import BULK_ACTIONS, DISMISS_CHOICES, SavedViewForm
from .selectors import task_inbox_for_user, task_open_counts_for_user
from .task_pane import task_detail_context

INBOX_PAGE_SIZE = 50
# The inbox's sort choices, as orderings of the shared TaskFilterSet.
SORTS = {
    "priority": ("Priority", "-priority,due_at"),
    "due": ("Due date", "due_at,-priority"),
    "likelihood": ("Likelihood to buy", "-likelihood,-priority"),
    "newest": ("Newest", "-created_at"),
}
STATUS_TABS = [
    ("open", "Open"),
    ("snoozed", "Snoozed"),
    ("done", "Done"),
    ("dismissed", "Dismissed"),
]
# Filters of the inbox bar besides view/status/sort, in the order they are shown; all are TaskFilterSet fields.
INBOX_FILTERS = ("playbook", "segment", "grade", "health", "due", "search")


def inbox_state(request: HttpRequest) -> dict[str, Any]:
    """The inbox's query parameters, normalised: view, status tab, sort, filters and page."""
    get = request.GET
    view = get.get("view") or InboxView.MINE
    if view not in InboxView.values:
        view = InboxView.MINE
    status = get.get("status") or "open"
    if status not in dict(STATUS_TABS):
        status = "open"
    sort = get.get("sort") or "priority"
    if sort not in SORTS:
        sort = "priority"
    filters = {name: get.get(name, "").strip() for name in INBOX_FILTERS if get.get(name, "").strip()}
    return {"view": view, "status": status, "sort": sort, "filters": filters, "page": page_number(request)}


def _inbox_tasks(request: HttpRequest, state: dict[str, Any]) -> tuple[QuerySet, Any]:
    """The tasks of the current view through the shared TaskFilterSet; invalid filters are reported and left out."""
    data = {**state["filters"], "view": state["view"], "status": state["status"], "ordering": SORTS[state["sort"]][1]}
    base = task_inbox_for_user(user=request.user, view=state["view"])
    filterset = TaskFilterSet(querydict(data), queryset=base, user=request.user)
    if not filterset.is_valid():
        for name in filterset.errors:
            data.pop(name, None)
            state["filters"].pop(name, None)
        state["filter_errors"] = {
            (filterset.form.fields[name].label or name).capitalize(): errors
            for name, errors in filterset.errors.items()
        }
        filterset = TaskFilterSet(querydict(data), queryset=base, user=request.user)
    return filterset.qs, filterset


def inbox_context(request: HttpRequest, state: dict[str, Any]) -> dict[str, Any]:
    queryset, filterset = _inbox_tasks(request, state)
    tasks, has_next = page_slice(queryset, state["page"], INBOX_PAGE_SIZE)
    params = {"view": state["view"], "status": state["status"], "sort": state["sort"], **state["filters"]}
    counts = task_open_counts_for_user(user=request.user)
    views = [(value, label, counts.get(value, 0)) for value, label in InboxView.choices]
    if not user_sees_all(request.user):
        views = [v for v in views if v[0] != InboxView.ALL]
    return {
        "nav": "inbox",
        "state": state,
        "params": params,
        "query": query_string(params),
        "detail_suffix": "?" + urlencode({"q": query_string(params)}),
        "tasks": [presenters.task_row(task) for task in tasks],
        "has_next": has_next,
        "next_query": query_string(params, page=state["page"] + 1) if has_next else "",
        "prev_query": query_string(params, page=state["page"] - 1) if state["page"] > 1 else "",
        "views": views,
        "counts": counts,
        "status_tabs": [(value, label, query_string(params, status=value)) for value, label in STATUS_TABS],
        "sorts": [(key, label) for key, (label, _) in SORTS.items()],
        "playbooks": Playbook.objects.only("pk", "name").order_by("name"),
        "segments": Segment.objects.filter(is_active=True).only("pk", "name"),
        "grades": ["A", "B", "C", "D"],
        "healths": presenters.HEALTH_CHOICES if "health" in filterset.filters else [],
        "dues": DueFilter.choices,
        "assignee_choices": assignee_choices(request),
        "outcomes": TaskOutcome.choices,
        "dismiss_reasons": DISMISS_CHOICES,
        "bulk_actions": BULK_ACTIONS,
        "saved_views": SavedView.objects.filter(owner=cast(User, request.user), kind=SavedView.Kind.INBOX),  # logged in
        "save_form": SavedViewForm(),
        "filtered": bool(state["filters"]),
    }


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """Mine / my team / unassigned (/ all for admins), by status, filtered and sorted; counts per view."""
    state = inbox_state(request)
    context = inbox_context(request, state)
    if context["tasks"] and not is_htmx(request):
        context["detail"] = task_detail_context(request, context["tasks"][0].task, query=context["query"])
    template = "web/_inbox_list.html" if is_htmx(request) else "web/inbox.html"
    return render(request, template, context)


def counts_oob(request: HttpRequest, query: str) -> str:
    params = QueryDict(query)
    state: dict[str, Any] = {
        "view": params.get("view") or InboxView.MINE,
        "status": params.get("status") or "open",
        "sort": params.get("sort") or "priority",
        "filters": {name: params[name] for name in INBOX_FILTERS if params.get(name)},
    }
    counts = task_open_counts_for_user(user=request.user)
    views = [(value, label, counts.get(value, 0)) for value, label in InboxView.choices]
    if not user_sees_all(request.user):
        views = [v for v in views if v[0] != InboxView.ALL]
    base = {"status": state["status"], "sort": state["sort"], **state["filters"]}
    return render_to_string(
        "web/_views_nav.html", {"views": views, "state": state, "params": base, "oob": True}, request=request
    )
