"""An account's page: badges, every score with its explanation, the history charts, rule hits, the signal timeline
(through the shared ``SignalFilterSet``, paged), tasks and contacts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from scoring.models import ScoringSettings
from signals_app.choices import Direction, SignalSource
from signals_app.filters import SignalFilterSet
from signals_app.models import SignalTopic, SignalType

from . import presenters
from .charts import Series, line_chart_svg
from .common import is_htmx, page_number, page_slice, query_string
from .selectors import account_get_for_user, account_signal_timeline

TIMELINE_PAGE_SIZE = 25


@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An account: badges, every score with its explanation, history chart, rule hits, the signal timeline (filtered,
    paged), tasks and contacts with their engagement. A fixed number of queries."""
    account = account_get_for_user(user=request.user, account_id=pk)
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
    signals = account_signal_timeline(account_id=account.pk)
    signal_filter = SignalFilterSet(timeline_params, queryset=signals)
    timeline_errors = {}
    if not signal_filter.is_valid():  # refused filters are reported and left out; the others still apply
        timeline_errors = {
            (signal_filter.form.fields[n].label or n).capitalize(): e for n, e in signal_filter.errors.items()
        }
        timeline_params = {k: v for k, v in timeline_params.items() if k not in signal_filter.errors}
        signal_filter = SignalFilterSet(timeline_params, queryset=signals)
    timeline_page = page_number(request)
    timeline, timeline_more = page_slice(signal_filter.qs, timeline_page, TIMELINE_PAGE_SIZE)
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
        "timeline_next": query_string(timeline_params, page=timeline_page + 1) if timeline_more else "",
        "timeline_prev": query_string(timeline_params, page=timeline_page - 1) if timeline_page > 1 else "",
        "directions": Direction.choices,
        "sources": SignalSource.choices,
        "types": SignalType.objects.only("key", "label").order_by("label"),
        "topics": SignalTopic.objects.select_related("parent").order_by("key"),
    }
    template = "web/_timeline.html" if is_htmx(request) and request.headers.get("HX-Target") == "timeline" else None
    return render(request, template or "web/account.html", context)
