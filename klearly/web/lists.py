"""The account lists: call list, expansion, surging, at risk and all accounts, each a preset of the shared
``AccountListFilterSet`` ranked by one labelled unit (a probability where it applies, a score until a model has
predicted)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import Segment
from accounts.stages import top_paying_rank
from playbooks.models import SavedView
from signals_app.models import SignalType

from . import presenters
from .common import page_number, page_slice, query_string, querydict
from .filters import AccountListFilterSet, probability_known
from .forms import SavedViewForm
from .selectors import account_scores_for_user

LIST_PAGE_SIZE = 50
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
    base = account_scores_for_user(user=request.user)
    filterset = AccountListFilterSet(querydict(data, AccountListFilterSet), queryset=base)
    errors = {}
    if not filterset.is_valid():
        errors = {(filterset.form.fields[n].label or n).capitalize(): e for n, e in filterset.errors.items()}
        for name in filterset.errors:
            data.pop(name, None)
            params.pop(name, None)
        filterset = AccountListFilterSet(querydict(data, AccountListFilterSet), queryset=base)
    page = page_number(request)
    rows, has_next = page_slice(filterset.qs, page, LIST_PAGE_SIZE)
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
        "query": query_string(params),
        "errors": errors,
        "page_number": page,
        "next_query": query_string(params, page=page + 1) if has_next else "",
        "prev_query": query_string(params, page=page - 1) if page > 1 else "",
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
