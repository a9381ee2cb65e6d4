"""Saved views: the current page's filters under a name (the inbox or an account list), and forgetting one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from playbooks import services
from playbooks.models import SavedView

from .common import field_errors, safe_next
from .forms import SavedViewForm


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
        for line in field_errors(form):
            messages.error(request, line)
    return HttpResponseRedirect(back)


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Forget one of the user's saved views."""
    view = get_object_or_404(SavedView, pk=pk, owner=request.user)
    services.saved_view_delete(saved_view=view)
    messages.success(request, f"Removed “{view.name}”.")
    return HttpResponseRedirect(safe_next(request, reverse("web:inbox")))
