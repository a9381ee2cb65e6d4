"""The web UI: the task inbox, task actions (one and in bulk), account pages, account lists and saved views.

Thin: reads go through selectors (``playbooks.selectors`` decides who sees what, the same rules as the API), filters
through the shared FilterSets, writes through ``playbooks.services``. Every action answers htmx with the fragments
it changed and a plain browser (no JavaScript) with a redirect back to where it came from.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

import django_filters
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Segment
from accounts.stages import top_paying_rank
from scoring.models import ScoringSettings
from signals_app.choices import Direction, SignalSource
from signals_app.filters import SignalFilterSet
from signals_app.models import SignalTopic, SignalType

from . import presenters, selectors, services
from .charts import Series, line_chart_svg
from .choices import DueFilter, InboxView, TaskOutcome
from .filters import AccountListFilterSet, TaskFilterSet, probability_known
from .forms import (
    BULK_ACTIONS,
    DISMISS_CHOICES,
    AssignForm,
    BulkActionForm,
    CommentForm,
    CompleteForm,
    DismissForm,
    SavedViewForm,
    SnoozeForm,
)
from .models import Playbook, SavedView
from .services import TaskActionError

INBOX_PAGE_SIZE = 50
LIST_PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 25
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


# --- helpers -------------------------------------------------------------------------------------------------------


def _is_htmx(request: HttpRequest) -> bool:
    """An htmx request for a fragment (boosted links and forms want whole pages, like a plain browser)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def _safe_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` the form came with, if it points back into this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return fallback


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page", "1")), 10_000))
    except ValueError:
        return 1


def _slice(queryset: QuerySet, page: int, size: int) -> tuple[list[Any], bool]:
    """One page of rows and whether there is a next one, without counting the whole list."""
    rows = list(queryset[(page - 1) * size : page * size + 1])
    return rows[:size], len(rows) > size


def _query(params: dict[str, Any], **changes: Any) -> str:
    """A query string of ``params`` with ``changes`` applied (None or "" removes a key)."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def _querydict(values: dict[str, str], filterset_class: type[django_filters.FilterSet] | None = None) -> QueryDict:
    """Filter values as a QueryDict. URLs give several choices comma-separated (``grade=A,B``): a multiple-choice
    filter of ``filterset_class`` reads them as a list; a comma-separated filter (``TaskFilterSet.grade``) reads the
    text itself, and would see only the last item of a list."""
    filters = filterset_class.base_filters if filterset_class else {}
    data = QueryDict(mutable=True)
    for key, value in values.items():
        multiple = isinstance(filters.get(key), django_filters.MultipleChoiceFilter)
        data.setlist(key, value.split(",") if multiple else [value])
    return data


def _field_errors(form: Any) -> list[str]:
    """Form errors as "Field: message" lines, for flash messages."""
    lines = []
    for name, errors in form.errors.items():
        label = form.fields[name].label or name.replace("_", " ").capitalize() if name in form.fields else ""
        for error in errors:
            lines.append(f"{label}: {error}" if label else str(error))
    return lines


def _assignees(user: Any) -> QuerySet:
    """Who the user may hand tasks to (the same rule as the tasks API's assign)."""
    return selectors.assignees_for_user(user=user)


def _assignee_choices(request: HttpRequest) -> list[tuple[int, str]]:
    """(id, name) of the people the user may hand tasks to, read once per request."""
    cached = getattr(request, "_klearly_assignees", None)
    if cached is None:
        fields = ("pk", "first_name", "last_name", "username")
        cached = [
            (pk, f"{first} {last}".strip() or username)
            for pk, first, last, username in _assignees(request.user).values_list(*fields)
        ]
        request._klearly_assignees = cached  # type: ignore[attr-defined]  # a memo on this request
    return cached


# --- inbox ---------------------------------------------------------------------------------------------------------


def _inbox_state(request: HttpRequest) -> dict[str, Any]:
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
    return {"view": view, "status": status, "sort": sort, "filters": filters, "page": _page_number(request)}


def _inbox_tasks(request: HttpRequest, state: dict[str, Any]) -> tuple[QuerySet, Any]:
    """The tasks of the current view through the shared TaskFilterSet; invalid filters are reported and left out."""
    data = {**state["filters"], "view": state["view"], "status": state["status"], "ordering": SORTS[state["sort"]][1]}
    base = selectors.task_inbox_for_user(user=request.user, view=state["view"])
    filterset = TaskFilterSet(_querydict(data), queryset=base, user=request.user)
    if not filterset.is_valid():
        for name in filterset.errors:
            data.pop(name, None)
            state["filters"].pop(name, None)
        state["filter_errors"] = {
            (filterset.form.fields[name].label or name).capitalize(): errors
            for name, errors in filterset.errors.items()
        }
        filterset = TaskFilterSet(_querydict(data), queryset=base, user=request.user)
    return filterset.qs, filterset


def _inbox_context(request: HttpRequest, state: dict[str, Any]) -> dict[str, Any]:
    queryset, filterset = _inbox_tasks(request, state)
    tasks, has_next = _slice(queryset, state["page"], INBOX_PAGE_SIZE)
    params = {"view": state["view"], "status": state["status"], "sort": state["sort"], **state["filters"]}
    counts = selectors.task_open_counts_for_user(user=request.user)
    views = [(value, label, counts.get(value, 0)) for value, label in InboxView.choices]
    if not selectors.user_sees_all(request.user):
        views = [v for v in views if v[0] != InboxView.ALL]
    return {
        "nav": "inbox",
        "state": state,
        "params": params,
        "query": _query(params),
        "detail_suffix": "?" + urlencode({"q": _query(params)}),
        "tasks": [presenters.task_row(task) for task in tasks],
        "has_next": has_next,
        "next_query": _query(params, page=state["page"] + 1) if has_next else "",
        "prev_query": _query(params, page=state["page"] - 1) if state["page"] > 1 else "",
        "views": views,
        "counts": counts,
        "status_tabs": [(value, label, _query(params, status=value)) for value, label in STATUS_TABS],
        "sorts": [(key, label) for key, (label, _) in SORTS.items()],
        "playbooks": Playbook.objects.only("pk", "name").order_by("name"),
        "segments": Segment.objects.filter(is_active=True).only("pk", "name"),
        "grades": ["A", "B", "C", "D"],
        "healths": presenters.HEALTH_CHOICES if "health" in filterset.filters else [],
        "dues": DueFilter.choices,
        "assignee_choices": _assignee_choices(request),
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
    state = _inbox_state(request)
    context = _inbox_context(request, state)
    if context["tasks"] and not _is_htmx(request):
        context["detail"] = _task_detail_context(request, context["tasks"][0].task, query=context["query"])
    template = "web/_inbox_list.html" if _is_htmx(request) else "web/inbox.html"
    return render(request, template, context)


# --- one task ------------------------------------------------------------------------------------------------------


def _task_or_404(request: HttpRequest, pk: int) -> Any:
    task = selectors.task_get_for_user(user=request.user, task_id=pk)
    if task is None:
        raise Http404("No task you can see has this number.")
    return task


def _task_detail_context(request: HttpRequest, task: Any, *, query: str = "", forms: dict | None = None) -> dict:
    assignees = _assignees(request.user)
    forms = forms or {}
    built = {
        "assign": forms.get("assign") or AssignForm(assignees=assignees, initial={"assignee": task.assignee_id}),
        "snooze": forms.get("snooze") or SnoozeForm(),
        "complete": forms.get("complete") or CompleteForm(),
        "dismiss": forms.get("dismiss") or DismissForm(),
        "comment": forms.get("comment") or CommentForm(),
    }
    for name, form in built.items():
        form.auto_id = f"{name[0]}{'m' if name == 'comment' else ''}-%s-{task.pk}"  # unique ids per task pane
    return {
        "t": presenters.task_row(task),
        # Errors about the task rather than a field ("already done"): shown above everything, even when the forms
        # are gone because the task closed meanwhile.
        "errors": [error for form in forms.values() for error in form.non_field_errors()],
        "comments": list(selectors.task_comments(task=task)),
        "assign_form": built["assign"],
        "snooze_form": built["snooze"],
        "complete_form": built["complete"],
        "dismiss_form": built["dismiss"],
        "comment_form": built["comment"],
        "assignees": _assignee_choices(request),
        "outcomes": TaskOutcome.choices,
        "reasons": DISMISS_CHOICES,
        "back": f"{reverse('web:inbox')}?{query}" if query else reverse("web:inbox"),
        "query": query,
    }


@login_required
@require_GET
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A task with its reason, comments and the forms to act on it (the inbox's right pane, or a page of its own)."""
    task = _task_or_404(request, pk)
    query = request.GET.get("q", "")
    context = {"detail": _task_detail_context(request, task, query=query), "nav": "inbox"}
    return render(request, "web/_task_detail.html" if _is_htmx(request) else "web/task.html", context)


ACTION_FORMS = {
    "assign": AssignForm,
    "snooze": SnoozeForm,
    "complete": CompleteForm,
    "dismiss": DismissForm,
    "comment": CommentForm,
}
DONE_MESSAGES = {
    "claim": "Claimed: it is in your tasks.",
    "assign": "Assigned to {assignee}.",
    "snooze": "Snoozed until {until:%b %d}.",
    "complete": "Completed: {outcome}.",
    "dismiss": "Dismissed: {reason}.",
    "comment": "Comment added.",
}


@login_required
@require_POST
def task_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Claim, assign, snooze, complete, dismiss or comment on one task, through the playbooks services."""
    task = _task_or_404(request, pk)
    form = None
    if action in ACTION_FORMS:
        kwargs = {"assignees": _assignees(request.user)} if action == "assign" else {}
        form = ACTION_FORMS[action](request.POST, **kwargs)
    elif action != "claim":
        raise Http404("Unknown action.")
    words: dict[str, Any] = {}
    if form is None or form.is_valid():
        data = form.cleaned_data if form is not None else {}
        try:
            if action == "claim":
                task = services.task_claim(task=task, user=request.user)
            elif action == "assign":
                task = services.task_assign(task=task, assignee_id=data["assignee"].pk, by=request.user)
                words["assignee"] = data["assignee"].get_full_name() or data["assignee"].username
            elif action == "snooze":
                task = services.task_snooze(task=task, until=data["until"], by=request.user)
                words["until"] = data["until"]
            elif action == "complete":
                task = services.task_complete(task=task, outcome=data["outcome"], by=request.user, note=data["note"])
                words["outcome"] = dict(TaskOutcome.choices)[data["outcome"]]
            elif action == "dismiss":
                task = services.task_dismiss(task=task, reason=data["reason"], by=request.user, note=data["note"])
                words["reason"] = dict(DISMISS_CHOICES)[data["reason"]]
            elif action == "comment":
                services.task_comment(task=task, body=data["body"], by=request.user)
        except TaskActionError as exc:
            if form is not None and exc.field in form.fields:
                form.add_error(exc.field, exc.message)
            else:
                form = form or CommentForm()
                form.add_error(None, exc.message)
    ok = form is None or not form.errors
    query = request.POST.get("q", "")
    fallback = f"{reverse('web:inbox')}?{query}" if query else reverse("web:inbox")
    if ok:
        message = DONE_MESSAGES[action].format(**words)
        if not _is_htmx(request):
            messages.success(request, message)
            return HttpResponseRedirect(_safe_next(request, fallback))
        task = selectors.task_get_for_user(user=request.user, task_id=pk) or task
        return _task_fragments(request, task, query=query, message=message)
    # Bad input: say which field and why; never a 500.
    if not _is_htmx(request):
        context = {
            "detail": _task_detail_context(request, task, query=query, forms={action: form}),
            "nav": "inbox",
            "error_action": action,
        }
        return render(request, "web/task.html", context, status=422)
    return _task_fragments(request, task, query=query, forms={action: form}, status=422)


def _task_fragments(
    request: HttpRequest, task: Any, *, query: str, message: str = "", forms: dict | None = None, status: int = 200
) -> HttpResponse:
    """The htmx answer to a task action: the detail pane, and out of band the task's row, the counts and a message."""
    detail = _task_detail_context(request, task, query=query, forms=forms)
    parts: list[str] = [render_to_string("web/_task_detail.html", {"detail": detail}, request=request)]
    if message:
        row = {"t": detail["t"], "detail_suffix": "?" + urlencode({"q": query})}
        parts.append(render_to_string("web/_row_oob.html", row, request=request))
        parts.append(_counts_oob(request, query))
        parts.append(render_to_string("web/_message_oob.html", {"text": message}, request=request))
    return HttpResponse("".join(parts), status=status)


def _counts_oob(request: HttpRequest, query: str) -> str:
    params = QueryDict(query)
    state: dict[str, Any] = {
        "view": params.get("view") or InboxView.MINE,
        "status": params.get("status") or "open",
        "sort": params.get("sort") or "priority",
        "filters": {name: params[name] for name in INBOX_FILTERS if params.get(name)},
    }
    counts = selectors.task_open_counts_for_user(user=request.user)
    views = [(value, label, counts.get(value, 0)) for value, label in InboxView.choices]
    if not selectors.user_sees_all(request.user):
        views = [v for v in views if v[0] != InboxView.ALL]
    base = {"status": state["status"], "sort": state["sort"], **state["filters"]}
    return render_to_string(
        "web/_views_nav.html", {"views": views, "state": state, "params": base, "oob": True}, request=request
    )


@login_required
@require_POST
def tasks_bulk(request: HttpRequest) -> HttpResponse:
    """One action on the selected tasks (set-based services); answers with the refreshed list."""
    form = BulkActionForm(request.POST, assignees=_assignees(request.user))
    query = request.POST.get("q", "")
    fallback = f"{reverse('web:inbox')}?{query}" if query else reverse("web:inbox")
    if form.is_valid():
        data, user, ids = form.cleaned_data, request.user, form.cleaned_data["task"]
        try:
            action = data["action"]
            if action == "claim":
                done = services.tasks_bulk_claim(task_ids=ids, user=user)
            elif action == "assign":
                done = services.tasks_bulk_assign(task_ids=ids, assignee_id=data["assignee"].pk, user=user)
            elif action == "snooze":
                done = services.tasks_bulk_snooze(task_ids=ids, until=data["until"], user=user)
            elif action == "complete":
                done = services.tasks_bulk_complete(task_ids=ids, outcome=data["outcome"], user=user)
            else:
                done = services.tasks_bulk_dismiss(task_ids=ids, reason=data["reason"], user=user)
        except TaskActionError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            skipped = len(ids) - done
            note = f" ({skipped} skipped: closed already or not yours to see)" if skipped else ""
            messages.success(request, f"{done} task{'s' if done != 1 else ''} {_past(action)}{note}.")
    if form.errors:
        for line in _field_errors(form):
            messages.error(request, line)
    if _is_htmx(request):
        # Re-render the list the user is looking at (its query string came along as "q").
        request.GET = QueryDict(query)
        state = _inbox_state(request)
        context = _inbox_context(request, state)
        response = render(request, "web/_inbox_list.html", context)
        response.content += _counts_oob(request, query).encode()
        return response
    return HttpResponseRedirect(_safe_next(request, fallback))


def _past(action: str) -> str:
    return {"claim": "claimed", "assign": "assigned", "snooze": "snoozed", "complete": "completed"}.get(
        action, "dismissed"
    )


# --- saved views ---------------------------------------------------------------------------------------------------


@login_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    """Save the current page's filters under a name (the inbox or an account list)."""
    form = SavedViewForm(request.POST)
    kind = request.POST.get("kind", SavedView.Kind.INBOX)
    if kind not in SavedView.Kind.values:
        kind = SavedView.Kind.INBOX
    query = request.POST.get("q", "")[:2000]
    fallback = reverse(f"web:{kind}")  # the kinds are named after the pages
    back = f"{fallback}?{query}" if query else fallback
    if form.is_valid():
        view = services.saved_view_save(owner=request.user, kind=kind, name=form.cleaned_data["name"], query=query)
        messages.success(request, f"Saved “{view.name}”. It is in the side bar.")
    else:
        for line in _field_errors(form):
            messages.error(request, line)
    return HttpResponseRedirect(back)


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Forget one of the user's saved views."""
    view = get_object_or_404(SavedView, pk=pk, owner=request.user)
    services.saved_view_delete(saved_view=view)
    messages.success(request, f"Removed “{view.name}”.")
    return HttpResponseRedirect(_safe_next(request, reverse("web:inbox")))


# --- account page --------------------------------------------------------------------------------------------------


@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An account: badges, every score with its explanation, history chart, rule hits, the signal timeline (filtered,
    paged), tasks and contacts with their engagement. A fixed number of queries."""
    account = selectors.account_get_for_user(user=request.user, account_id=pk)
    if account is None:
        raise Http404("No account you can see has this number.")
    page = presenters.account_page(account, user=request.user)
    settings_row = ScoringSettings.load()
    history = page.history
    score_chart = line_chart_svg(
        [
            Series("Lead", [(h.date, h.lead) for h in history]),
            Series("Fit", [(h.date, h.fit) for h in history]),
            Series("Engagement", [(h.date, h.engagement) for h in history]),
        ],
        title=f"Score history of {account}",
        # the qualification bar is a prospect's (accounts.stages): no line on a customer's chart
        threshold=settings_row.qualification_threshold if page.pre_sale else None,
        threshold_label=f"Qualified at {settings_row.qualification_threshold:g}" if page.pre_sale else "",
    )
    strength_chart = line_chart_svg(
        [Series("Signal strength", [(h.date, h.signal_strength) for h in history])],
        title=f"Signal strength of {account}",
        y_max=None,
        height=140,
    )
    probability_chart = (
        line_chart_svg(page.probability_series, title=f"Probabilities of {account}", unit="%", height=180)
        if page.probability_series
        else ""
    )
    # The signal timeline through the shared SignalFilterSet, scoped to this account.
    timeline_params = {
        k: request.GET.get(k, "") for k in ("direction", "source", "type", "topic") if request.GET.get(k)
    }
    signals = selectors.account_signal_timeline(account_id=account.pk)
    signal_filter = SignalFilterSet(timeline_params, queryset=signals)
    timeline_errors = {}
    if not signal_filter.is_valid():  # refused filters are reported and left out; the others still apply
        timeline_errors = {
            (signal_filter.form.fields[n].label or n).capitalize(): e for n, e in signal_filter.errors.items()
        }
        timeline_params = {k: v for k, v in timeline_params.items() if k not in signal_filter.errors}
        signal_filter = SignalFilterSet(timeline_params, queryset=signals)
    timeline_page = _page_number(request)
    timeline, timeline_more = _slice(signal_filter.qs, timeline_page, TIMELINE_PAGE_SIZE)
    context = {
        "nav": "accounts",
        "account": account,
        "page": page,
        "score_chart": mark_safe(score_chart),  # built by charts.line_chart_svg, which escapes data
        "strength_chart": mark_safe(strength_chart),
        "probability_chart": mark_safe(probability_chart),
        "threshold": settings_row.qualification_threshold,
        "timeline": timeline,
        "timeline_params": timeline_params,
        "timeline_errors": timeline_errors,
        "timeline_page": timeline_page,
        "timeline_next": _query(timeline_params, page=timeline_page + 1) if timeline_more else "",
        "timeline_prev": _query(timeline_params, page=timeline_page - 1) if timeline_page > 1 else "",
        "directions": Direction.choices,
        "sources": SignalSource.choices,
        "types": SignalType.objects.only("key", "label").order_by("label"),
        "topics": SignalTopic.objects.select_related("parent").order_by("key"),
    }
    template = "web/_timeline.html" if _is_htmx(request) and request.headers.get("HX-Target") == "timeline" else None
    return render(request, template or "web/account.html", context)


# --- account lists -------------------------------------------------------------------------------------------------

ACCOUNT_ORDERINGS = [
    ("-conversion", "Chance to convert"),
    ("-expansion", "Chance to expand"),
    ("-churn", "Churn risk"),
    ("-lead", "Lead score"),
    ("-signal_strength", "Signal strength"),
    ("-engagement", "Engagement"),
    ("-fit", "Fit"),
    ("-qualified_at", "Recently qualified"),
    ("lead", "Lead score, lowest first"),
    ("engagement", "Engagement, lowest first"),
    ("name", "Name"),
]
# What a list ranks by, in one unit with its label: a probability where it applies to the list's accounts (their
# stage, ``accounts.stages``), or, until a model has predicted any, a score it says it uses instead.
RANK_LABELS = {"conversion": "Chance to convert", "expansion": "Chance to expand", "churn": "Churn risk",
               "lead": "Lead score", "engagement": "Engagement"}  # fmt: skip
LISTS: dict[str, dict[str, Any]] = {
    "call": {
        "title": "Call list",
        "sub": "Qualified prospects (not paying yet), most likely to convert first. Customers are in the expansion "
        "and at-risk lists.",
        "preset": {"pre_sale": "true", "qualified": "true"},
        "rank": ("conversion", "-conversion,-lead"),  # prospects without a probability: last, by lead score
        "fallback": ("lead", "-lead"),  # no conversion probability anywhere yet
        "empty": "No qualified prospect yet. Accounts not paying yet appear here when their lead score crosses the "
        "qualification threshold (admin → Scoring settings).",
    },
    "expansion": {
        "title": "Expansion list",
        "sub": "Paying customers below the top plan, most likely to expand first.",
        "preset": {"expandable": "true"},
        "rank": ("expansion", "-expansion,-engagement"),
        "fallback": ("engagement", "-engagement"),
        "empty": "No paying customer below the top plan. Customers appear here once an account reaches a paying "
        "stage that is not the highest.",
    },
    "surging": {
        "title": "Surging accounts",
        "sub": "Signal strength well above their own baseline: act while they are looking.",
        "preset": {"surging": "true", "ordering": "-signal_strength"},
        "empty": "No account is surging right now. Surging means recent signal strength of at least 1.5× the "
        "account's own baseline.",
    },
    "at_risk": {
        "title": "At-risk accounts",
        "sub": "Paying customers likely to churn (a “Potential problem account” rule hit or bad health), highest "
        "churn risk first: reach out before they leave.",
        "preset": {"at_risk": "true"},
        "rank": ("churn", "-churn,engagement"),
        "fallback": ("engagement", "engagement"),
        "empty": "No paying customer at risk. Customers show up here when the “Potential problem account” rule holds "
        "or their health turns bad.",
    },
    "accounts": {
        "title": "Accounts",
        "sub": "Every account you can see: filter, sort and save the view.",
        "preset": {},
        "empty": "No account matches these filters. Clear a filter, or import accounts (admin → Accounts → Import).",
    },
}
LEGACY_ORDERINGS = {"likelihood": "conversion", "-likelihood": "-conversion"}  # saved views from before


def list_preset(which: str) -> tuple[dict[str, str], str | None]:
    """A list's own filters with the ordering it ranks by, and what it ranks by: its probability, or until any
    account has one, the score it falls back to (``bench/inbox.py`` measures the same query)."""
    spec = LISTS[which]
    rank, rank_ordering = spec.get("rank", (None, None))
    if rank and not probability_known(rank):
        rank, rank_ordering = spec["fallback"]
    return {**spec["preset"], **({"ordering": rank_ordering} if rank_ordering else {})}, rank


def _account_list(request: HttpRequest, which: str) -> HttpResponse:
    spec = LISTS[which]
    # (a QueryDict's item is its last value, a str: a list only for a key with no values, which a query never has)
    params = {k: v.strip() for k, v in request.GET.items() if k != "page" and isinstance(v, str) and v.strip()}
    if params.get("ordering") in LEGACY_ORDERINGS:
        params["ordering"] = LEGACY_ORDERINGS[params["ordering"]]
    preset, rank = list_preset(which)
    data = {**preset, **params}
    base = selectors.account_scores_for_user(user=request.user)
    filterset = AccountListFilterSet(_querydict(data, AccountListFilterSet), queryset=base)
    errors = {}
    if not filterset.is_valid():
        errors = {(filterset.form.fields[n].label or n).capitalize(): e for n, e in filterset.errors.items()}
        for name in filterset.errors:
            data.pop(name, None)
            params.pop(name, None)
        filterset = AccountListFilterSet(_querydict(data, AccountListFilterSet), queryset=base)
    page = _page_number(request)
    rows, has_next = _slice(filterset.qs, page, LIST_PAGE_SIZE)
    top = top_paying_rank() if rows else 0
    default_order = dict(ACCOUNT_ORDERINGS).get(preset.get("ordering", "-lead").split(",")[0], "Lead score")
    context = {
        "nav": which,
        "which": which,
        "spec": spec,
        "default_order": default_order,
        "rank": rank,  # what the ranked column shows (None: each row's stage-appropriate outlook)
        "rank_label": RANK_LABELS.get(rank or "", ""),
        "rows": [presenters.account_row(score, rank=rank, top_rank=top) for score in rows],
        "params": params,
        "query": _query(params),
        "errors": errors,
        "page_number": page,
        "next_query": _query(params, page=page + 1) if has_next else "",
        "prev_query": _query(params, page=page - 1) if page > 1 else "",
        "orderings": ACCOUNT_ORDERINGS,
        "quickfind": params.get("q", ""),
        # the pages are login_required
        "saved_views": SavedView.objects.filter(owner=cast(User, request.user)).exclude(kind=SavedView.Kind.INBOX),
        "save_form": SavedViewForm(),
        "filtered": bool(params),
        "types": SignalType.objects.only("key", "label").order_by("label"),
        "segments": Segment.objects.filter(is_active=True).only("pk", "name"),
        "stages": presenters.stage_choices(),
        "healths": presenters.HEALTH_CHOICES,
    }
    return render(request, "web/account_list.html", context)


@login_required
@require_GET
def call_list(request: HttpRequest) -> HttpResponse:
    """Qualified prospects (not paying yet) by chance to convert (by lead score until a model has predicted)."""
    return _account_list(request, "call")


@login_required
@require_GET
def expansion(request: HttpRequest) -> HttpResponse:
    """Paying customers below the top paying stage by chance to expand (by engagement until a model predicted)."""
    return _account_list(request, "expansion")


@login_required
@require_GET
def surging(request: HttpRequest) -> HttpResponse:
    """Surging accounts, strongest first."""
    return _account_list(request, "surging")


@login_required
@require_GET
def at_risk(request: HttpRequest) -> HttpResponse:
    """Paying customers with an open "Potential problem account" hit or bad health, by churn risk."""
    return _account_list(request, "at_risk")


@login_required
@require_GET
def accounts(request: HttpRequest) -> HttpResponse:
    """All accounts the user may see, with every filter (including signals of a type in a window and strength)."""
    return _account_list(request, "accounts")
