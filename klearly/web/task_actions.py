"""Acting on tasks, one (claim, assign, snooze, complete, dismiss, comment) or many at once, through the playbooks
services. Every action answers htmx with the fragments it changed and a plain browser (no JavaScript) with a redirect
back to where it came from; bad input names the field, never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from playbooks import services
from playbooks.choices import TaskOutcome
from playbooks.selectors import task_get_for_user
from playbooks.services import TaskActionError

from .common import assignable_users, field_errors, is_htmx, safe_next
from .forms import DISMISS_CHOICES, AssignForm, BulkActionForm, CommentForm, CompleteForm, DismissForm, SnoozeForm
from .inbox import counts_oob, inbox_context, inbox_state
from .task_pane import task_detail_context, task_or_404

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
    task = task_or_404(request, pk)
    form = None
    if action in ACTION_FORMS:
        kwargs = {"assignees": assignable_users(request.user)} if action == "assign" else {}
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
        if not is_htmx(request):
            messages.success(request, message)
            return HttpResponseRedirect(safe_next(request, fallback))
        task = task_get_for_user(user=request.user, task_id=pk) or task
        return _task_fragments(request, task, query=query, message=message)
    # Bad input: say which field and why; never a 500.
    if not is_htmx(request):
        context = {
            "detail": task_detail_context(request, task, query=query, forms={action: form}),
            "nav": "inbox",
            "error_action": action,
        }
        return render(request, "web/task.html", context, status=422)
    return _task_fragments(request, task, query=query, forms={action: form}, status=422)


def _task_fragments(
    request: HttpRequest, task: Any, *, query: str, message: str = "", forms: dict | None = None, status: int = 200
) -> HttpResponse:
    """The htmx answer to a task action: the detail pane, and out of band the task's row, the counts and a message."""
    detail = task_detail_context(request, task, query=query, forms=forms)
    parts: list[str] = [render_to_string("web/_task_detail.html", {"detail": detail}, request=request)]
    if message:
        row = {"t": detail["t"], "detail_suffix": "?" + urlencode({"q": query})}
        parts.append(render_to_string("web/_row_oob.html", row, request=request))
        parts.append(counts_oob(request, query))
        parts.append(render_to_string("web/_message_oob.html", {"text": message}, request=request))
    return HttpResponse("".join(parts), status=status)


@login_required
@require_POST
def tasks_bulk(request: HttpRequest) -> HttpResponse:
    """One action on the selected tasks (set-based services); answers with the refreshed list."""
    form = BulkActionForm(request.POST, assignees=assignable_users(request.user))
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
        for line in field_errors(form):
            messages.error(request, line)
    if is_htmx(request):
        # Re-render the list the user is looking at (its query string came along as "q").
        request.GET = QueryDict(query)
        state = inbox_state(request)
        context = inbox_context(request, state)
        response = render(request, "web/_inbox_list.html", context)
        response.content += counts_oob(request, query).encode()
        return response
    return HttpResponseRedirect(safe_next(request, fallback))


def _past(action: str) -> str:
    return {"claim": "claimed", "assign": "assigned", "snooze": "snoozed", "complete": "completed"}.get(
        action, "dismissed"
    )
