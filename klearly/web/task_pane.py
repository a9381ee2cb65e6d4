"""One task: its reason, comments and the forms to act on it, as the inbox's right pane or a page of its own."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from playbooks.choices import TaskOutcome
from playbooks.selectors import task_comments, task_get_for_user

from . import presenters
from .common import assignable_users, assignee_choices, is_htmx
from .forms import DISMISS_CHOICES, AssignForm, CommentForm, CompleteForm, DismissForm, SnoozeForm


def task_or_404(request: HttpRequest, pk: int) -> Any:
    task = task_get_for_user(user=request.user, task_id=pk)
    if task is None:
        raise Http404("No task you can see has this number.")
    return task


def task_detail_context(request: HttpRequest, task: Any, *, query: str = "", forms: dict | None = None) -> dict:
    assignees = assignable_users(request.user)
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
        "comments": list(task_comments(task=task)),
        "assign_form": built["assign"],
        "snooze_form": built["snooze"],
        "complete_form": built["complete"],
        "dismiss_form": built["dismiss"],
        "comment_form": built["comment"],
        "assignees": assignee_choices(request),
        "outcomes": TaskOutcome.choices,
        "reasons": DISMISS_CHOICES,
        "back": f"{reverse('web:inbox')}?{query}" if query else reverse("web:inbox"),
        "query": query,
    }


@login_required
@require_GET
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A task with its reason, comments and the forms to act on it (the inbox's right pane, or a page of its own)."""
    task = task_or_404(request, pk)
    query = request.GET.get("q", "")
    context = {"detail": task_detail_context(request, task, query=query), "nav": "inbox"}
    return render(request, "web/_task_detail.html" if is_htmx(request) else "web/task.html", context)
