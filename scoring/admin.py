"""Scoring admin: the scorecard (every change kept with who and when) and read-only scores with explanations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin_tools import BigTableAdminMixin

from .formatting import percent_text
from .models import (
    AccountPrediction,
    AccountScore,
    ConfigVersion,
    EngagementRule,
    FitRule,
    FreeEmailDomain,
    PredictionSettings,
    PredictiveModel,
    RuleHit,
    ScoreHistory,
    ScoringSettings,
    SegmentBoost,
    SignalRule,
    SmartSignalProposal,
    TopicImportance,
)
from .reasons import reason_breakdown

if TYPE_CHECKING:
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations  # a model instance with its queryset's annotations

    class _OpenHits(TypedDict):
        open_hit_count: int


class PreviewChangeMixin(admin.ModelAdmin):
    """A "Preview the effect" button on the change form: the change is validated and saved inside a transaction,
    today's accounts are rescored with it, and the page shows how many would cross the threshold, change grade or
    start or stop hitting a rule; then everything is rolled back and the form is shown again, unsaved."""

    change_form_template = "admin/scoring/preview_change_form.html"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST" or "_preview" not in request.POST:
            return super().changeform_view(request, object_id, form_url, extra_context)
        from django.template.response import TemplateResponse

        from .preview import change_preview

        outcome: dict = {}

        def apply() -> None:
            request._klearly_preview = True  # no "was changed successfully": the change is rolled back
            try:
                outcome["response"] = super(PreviewChangeMixin, self).changeform_view(
                    request, object_id, form_url, extra_context
                )
            finally:
                request._klearly_preview = False
            if outcome["response"].status_code != 302:  # the form has errors: nothing to preview
                raise _InvalidChange

        try:
            preview = change_preview(apply=apply)
        except _InvalidChange:
            return outcome["response"]
        context = {**self.admin_site.each_context(request), "title": "Preview of the change (not saved)",
                   "preview": preview, "opts": self.model._meta, "post": request.POST}  # fmt: skip
        return TemplateResponse(request, "admin/scoring/preview.html", context)

    def message_user(self, request, message, *args, **kwargs) -> None:
        if getattr(request, "_klearly_preview", False):
            return  # a preview saves nothing, so it says nothing was changed
        super().message_user(request, message, *args, **kwargs)


class _InvalidChange(Exception):
    pass


@admin.register(ScoringSettings)
class ScoringSettingsAdmin(PreviewChangeMixin, SimpleHistoryAdmin):
    fieldsets = [
        ("Lead score", {"fields": ["qualification_threshold", "grade_a_min", "grade_b_min", "grade_c_min"]}),
        ("Temperature", {"fields": ["hot_min", "warm_min"]}),
        ("Signal types without an engagement rule", {"fields": ["default_points", "default_half_life_days",
                                                                "default_cap"]}),
        ("Trend and surging", {"fields": ["trend_recent_days", "trend_baseline_days", "surging_factor",
                                          "surging_min_points"]}),
        ("Active users", {"fields": ["active_short_days", "active_long_days"]}),
        ("Data quality (fit)", {"fields": ["free_email_penalty", "no_vowel_name_penalty", "key_fields",
                                           "missing_key_field_penalty"]}),
    ]  # fmt: skip

    change_form_template = "admin/scoring/scoringsettings/change_form.html"  # preview button + backtest link

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not ScoringSettings.objects.exists()

    def get_urls(self):
        from django.urls import path

        return [
            path("backtest/", self.admin_site.admin_view(self.backtest_view), name="scoring_backtest"),
            *super().get_urls(),
        ]

    def backtest_view(self, request: HttpRequest):
        """Replay a qualification threshold, or a signal rule, over a past period against the movements that
        followed (two forms on one page; the rule form's fields are prefixed ``rule-``)."""
        from django.template.response import TemplateResponse

        from .backtest import rule_backtest, threshold_backtest
        from .forms import BacktestForm, RuleBacktestForm

        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        asked_rule = any(k.startswith("rule-") for k in request.GET)
        form = BacktestForm(request.GET if request.GET and not asked_rule else None)
        rule_form = RuleBacktestForm(request.GET if asked_rule else None, prefix="rule")
        result = None
        if form.is_valid():
            data = form.cleaned_data
            result = threshold_backtest(
                start=data["start"], end=data["end"], threshold=data["threshold"], step_days=data["step_days"],
                horizon_days=data["horizon_days"],
            )  # fmt: skip
        elif rule_form.is_valid():
            data = rule_form.cleaned_data
            result = rule_backtest(
                rule=data["rule"], movement=data["movement"], start=data["start"], end=data["end"],
                step_days=data["step_days"], horizon_days=data["horizon_days"],
            )  # fmt: skip
        context = {**self.admin_site.each_context(request), "title": "Backtests: the qualification threshold and "
                   "signal rules", "form": form, "rule_form": rule_form, "result": result,
                   "opts": self.model._meta}  # fmt: skip
        return TemplateResponse(request, "admin/scoring/backtest.html", context)

    def has_delete_permission(self, request: HttpRequest, obj: ScoringSettings | None = None) -> bool:
        return False


@admin.register(EngagementRule)
class EngagementRuleAdmin(PreviewChangeMixin, SimpleHistoryAdmin):
    list_display = ["signal_type", "points", "half_life_days", "window_days", "cap", "is_active"]
    list_editable = ["points", "half_life_days", "window_days", "cap", "is_active"]
    list_filter = ["is_active"]
    list_select_related = ["signal_type"]
    autocomplete_fields = ["signal_type"]
    search_fields = ["signal_type__label", "signal_type__key"]


@admin.register(TopicImportance)
class TopicImportanceAdmin(PreviewChangeMixin, SimpleHistoryAdmin):
    list_display = ["topic", "multiplier"]
    list_editable = ["multiplier"]
    list_select_related = ["topic__parent"]
    autocomplete_fields = ["topic"]


@admin.register(FitRule)
class FitRuleAdmin(PreviewChangeMixin, SimpleHistoryAdmin):
    list_display = ["label", "field", "operator", "value", "points", "is_active"]
    list_filter = ["is_active", "operator"]
    search_fields = ["label", "field"]


@admin.register(FreeEmailDomain)
class FreeEmailDomainAdmin(SimpleHistoryAdmin):
    list_display = ["domain"]
    search_fields = ["domain"]


@admin.register(SegmentBoost)
class SegmentBoostAdmin(PreviewChangeMixin, SimpleHistoryAdmin):
    list_display = ["segment", "signal_type", "multiplier", "window_days", "is_active"]
    list_filter = ["is_active", "segment"]
    list_select_related = ["segment", "signal_type"]
    autocomplete_fields = ["signal_type"]


@admin.register(ConfigVersion)
class ConfigVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "changed_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ConfigVersion | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ConfigVersion | None = None) -> bool:
        return False


def contributions_table(contributions: list[dict]) -> str:
    """An explanation as an HTML table: where the points came from."""
    if not contributions:
        return "—"
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td style="text-align:right">{}</td></tr>',
        ((c.get("label", ""), c.get("source", ""), f"{c.get('points', 0):+g}") for c in contributions),
    )
    return format_html("<table><tr><th>Reason</th><th>Kind</th><th>Points</th></tr>{}</table>", rows)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Results are computed by rescoring, never typed."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(AccountScore)
class AccountScoreAdmin(BigTableAdminMixin, ReadOnlyAdmin):
    list_display = ["account", "lead", "grade", "fit", "engagement", "temperature", "qualified", "signal_strength",
                    "surging", "computed_at"]  # fmt: skip
    list_filter = ["grade", "temperature", "qualified", "surging", "size_band"]
    list_select_related = ["account"]
    search_fields = ["account__name", "account__external_id"]
    readonly_fields = ["fit_explanation", "engagement_explanation", "lead_explanation", "signal_strength_explanation"]
    fieldsets = [
        (None, {"fields": ["account", "computed_at", "config_version"]}),
        ("Scores", {"fields": ["lead", "grade", "qualified", "qualified_at", "fit", "completeness", "engagement",
                               "temperature", "signal_strength", "signal_strength_baseline", "surging"]}),
        ("Measures", {"fields": ["tenure_days", "size_band", "activation", "engagement_trend", "active_users_7d",
                                 "active_users_30d", "total_users", "active_ratio_30d", "adoption"]}),
        ("Why", {"fields": ["lead_explanation", "fit_explanation", "engagement_explanation",
                            "signal_strength_explanation"]}),
    ]  # fmt: skip

    @admin.display(description="Fit explained")
    def fit_explanation(self, obj: AccountScore) -> str:
        return contributions_table(obj.contributions.get("fit", []))

    @admin.display(description="Engagement explained")
    def engagement_explanation(self, obj: AccountScore) -> str:
        return contributions_table(obj.contributions.get("engagement", []))

    @admin.display(description="Lead score explained")
    def lead_explanation(self, obj: AccountScore) -> str:
        return contributions_table(obj.contributions.get("lead", []))

    @admin.display(description="Signal strength explained")
    def signal_strength_explanation(self, obj: AccountScore) -> str:
        return contributions_table(obj.contributions.get("signal_strength", []))


@admin.register(ScoreHistory)
class ScoreHistoryAdmin(BigTableAdminMixin, ReadOnlyAdmin):
    list_display = ["account", "date", "lead", "grade", "fit", "engagement", "temperature", "qualified",
                    "signal_strength", "config_version"]  # fmt: skip
    list_filter = ["grade", "temperature", "qualified"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


@admin.register(SignalRule)
class SignalRuleAdmin(PreviewChangeMixin, SimpleHistoryAdmin):
    """Detection rules (the language: docs/conditions.md), with the preview of a change; every change is kept with
    who made it (History button)."""

    list_display = ("name", "is_active", "open_hits", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "description")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(open_hit_count=Count("hits", filter=Q(hits__cleared_at__isnull=True)))
        )

    @admin.display(description="Open hits", ordering="open_hit_count")
    def open_hits(self, obj: WithAnnotations[SignalRule, _OpenHits]) -> int:
        return obj.open_hit_count


@admin.register(RuleHit)
class RuleHitAdmin(BigTableAdminMixin, admin.ModelAdmin):
    """Rule hits are set and cleared by rescoring; read-only here."""

    list_display = ("rule", "account", "set_at", "cleared_at", "evaluated_at")
    list_select_related = ("rule", "account")
    list_filter = ("rule", ("cleared_at", admin.EmptyFieldListFilter))
    search_fields = ("=account__external_id", "account__name")
    readonly_fields = ("rule", "account", "set_at", "cleared_at", "values", "evaluated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# --- predictive scores --------------------------------------------------------------------------------------------


@admin.register(PredictionSettings)
class PredictionSettingsAdmin(SimpleHistoryAdmin):
    """Horizon, minimum history, training, smoothing and health bands (one row, every change kept)."""

    fieldsets = [
        ("Learning", {"fields": ["horizon_days", "min_movements", "cutoff_step_days", "training_span_days",
                                 "max_examples", "auto_activate"]}),
        ("Smoothing", {"fields": ["smoothing_half_life_hours", "smoothing_max_step"],
                       "description": "shown = previous + clip(α·(model − previous), ±max step), "
                                      "α = 1 − 0.5^(hours since the previous value / half-life)."}),
        ("Health", {"fields": ["health_bad_enter", "health_bad_exit", "health_good_enter", "health_good_exit",
                               "health_trend_bad", "health_trend_good"],
                    "description": "Separate thresholds to enter and to leave a band, so accounts do not flap."}),
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not PredictionSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: PredictionSettings | None = None) -> bool:
        return False


def _pct(value: float | None) -> str:
    return percent_text(value, 1)


@admin.register(PredictiveModel)
class PredictiveModelAdmin(admin.ModelAdmin):
    """Model versions: figures per version, a page with its charts, activate and roll back."""

    list_display = ["__str__", "outcome", "version", "family", "is_active", "refused", "roc_auc", "pr_auc", "brier",
                    "base_rate", "positives", "created_at"]  # fmt: skip
    list_filter = ["outcome", "is_active", "family"]
    actions = ["activate_selected"]
    change_form_template = "admin/scoring/predictivemodel/change_form.html"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).defer("model_bytes")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training (manage.py train_models, the weekly task)

    def has_delete_permission(self, request: HttpRequest, obj: PredictiveModel | None = None) -> bool:
        return obj is not None and not obj.is_active

    def get_readonly_fields(self, request: HttpRequest, obj: PredictiveModel | None = None) -> list[str]:
        return [f.name for f in PredictiveModel._meta.concrete_fields if f.name != "model_bytes"]

    def get_fields(self, request: HttpRequest, obj: PredictiveModel | None = None) -> tuple[str, ...]:
        return ("outcome", "version", "family", "is_active", "refused_reason", "activated_at", "created_at",
                "horizon_days", "train_from", "train_to", "validate_from", "validate_to", "movements")  # fmt: skip

    @admin.display(description="refused (probable leakage)", boolean=True)
    def refused(self, obj: PredictiveModel) -> bool:
        return bool(obj.refused_reason)

    @admin.display(description="ROC AUC")
    def roc_auc(self, obj: PredictiveModel) -> object:
        return obj.metrics.get("roc_auc")

    @admin.display(description="PR AUC")
    def pr_auc(self, obj: PredictiveModel) -> object:
        return obj.metrics.get("pr_auc")

    @admin.display(description="Brier")
    def brier(self, obj: PredictiveModel) -> object:
        return obj.metrics.get("brier")

    @admin.display(description="base rate")
    def base_rate(self, obj: PredictiveModel) -> str:
        return _pct(obj.metrics.get("base_rate"))

    @admin.display(description="positives")
    def positives(self, obj: PredictiveModel) -> object:
        return obj.metrics.get("positives")

    @admin.action(description="Activate the selected versions (one per outcome)")
    def activate_selected(self, request: HttpRequest, queryset) -> None:
        from django.contrib import messages

        from .predictions import ModelRefused, predictive_model_activate

        chosen: dict[str, PredictiveModel] = {}
        for model in queryset.order_by("version"):
            chosen[model.outcome] = model  # the newest selected version of each outcome wins
        activated = []
        for model in chosen.values():
            try:
                predictive_model_activate(model=model)
            except ModelRefused as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            activated.append(model)
        if activated:
            self.message_user(request, f"Activated {', '.join(str(m) for m in activated)}; a rescore is queued.")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        from django.contrib import messages
        from django.shortcuts import redirect

        from . import model_charts
        from .predictions import ModelRefused, predictive_model_activate, predictive_model_rollback

        obj = self.get_object(request, object_id)
        wants = request.method == "POST" and ("_activate" in request.POST or "_rollback" in request.POST)
        if obj is not None and wants:
            if not self.has_change_permission(request, obj):
                from django.core.exceptions import PermissionDenied

                raise PermissionDenied
            if "_activate" in request.POST:
                try:
                    predictive_model_activate(model=obj)
                    messages.success(request, f"{obj} is now active; every account is being rescored with it.")
                except ModelRefused as exc:
                    messages.error(request, str(exc))
            else:
                back = predictive_model_rollback(outcome=obj.outcome)
                if back is None:
                    messages.error(request, "There is no earlier activated version to roll back to.")
                else:
                    messages.success(request, f"Rolled back to {back}; every account is being rescored with it.")
            return redirect(request.path)
        extra = dict(extra_context or {})
        if obj is not None:
            impact = obj.impact or []
            extra.update(
                metrics=obj.metrics,
                comparison=sorted(obj.comparison.items()),
                calibration_svg=model_charts.calibration_svg(obj.calibration),
                lift_svg=model_charts.lift_svg(obj.lift),
                impact_svg=model_charts.impact_svg(impact),
                impact_rows=[
                    {
                        **r,
                        "impact_pts": f"{100 * r['impact']:.2f}",
                        "previous_pts": "—" if r.get("previous") is None else f"{100 * r['previous']:.2f}",
                        "change_pts": "—" if r.get("change") is None else f"{100 * r['change']:+.2f}",
                    }
                    for r in impact
                ],  # fmt: skip
                irrelevant=[r for r in impact if r.get("became_irrelevant")],
                training=obj.training,
                leakage=(obj.training or {}).get("leakage") or {},
                can_rollback=obj.is_active
                and PredictiveModel.objects.filter(
                    outcome=obj.outcome, activated_at__isnull=False, version__lt=obj.version
                ).exists(),  # fmt: skip
            )
        return super().change_view(request, object_id, form_url, extra)


@admin.register(SmartSignalProposal)
class SmartSignalProposalAdmin(admin.ModelAdmin):
    """Signals Klearly found in the data, with their evidence: confirm (a signal or engagement rule) or reject."""

    list_display = ["title", "outcome", "status", "lift_display", "interval", "support", "accounts", "positives",
                    "created_by_rule", "updated_at"]  # fmt: skip
    list_filter = ["status", "outcome"]
    search_fields = ["title"]
    actions = ["confirm_as_signal_rule", "confirm_as_engagement_rule", "reject"]
    list_select_related = ["signal_rule", "engagement_rule__signal_type"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: SmartSignalProposal | None = None) -> list[str]:
        return [f.name for f in SmartSignalProposal._meta.concrete_fields]

    @admin.display(description="lift", ordering="lift")
    def lift_display(self, obj: SmartSignalProposal) -> str:
        return f"{obj.lift:.2f}× ({_pct(obj.precision)} vs {_pct(obj.base_rate)})"

    @admin.display(description="95% interval of the lift", ordering="lift_low")
    def interval(self, obj: SmartSignalProposal) -> str:
        return f"{obj.lift_low:.2f}–{obj.lift_high:.2f}"

    @admin.display(description="became")
    def created_by_rule(self, obj: SmartSignalProposal) -> str:
        return str(obj.signal_rule or obj.engagement_rule or "—")

    def _decide(self, request: HttpRequest, queryset, how) -> None:
        from django.contrib import messages

        from .predictions import ProposalError

        done = 0
        for proposal in queryset:
            try:
                how(proposal)
                done += 1
            except ProposalError as exc:
                self.message_user(request, f"“{proposal.title}”: {exc}", level=messages.ERROR)
        if done:
            self.message_user(request, f"{done} proposal(s) done; scores use confirmed ones from the next rescore.")

    @admin.action(description="Confirm as a signal rule")
    def confirm_as_signal_rule(self, request: HttpRequest, queryset) -> None:
        from .predictions import proposal_confirm

        self._decide(request, queryset, lambda p: proposal_confirm(proposal=p, user=request.user))

    @admin.action(description="Confirm as an engagement rule (10 points per signal; one signal type only)")
    def confirm_as_engagement_rule(self, request: HttpRequest, queryset) -> None:
        from .predictions import proposal_confirm

        self._decide(
            request, queryset, lambda p: proposal_confirm(proposal=p, user=request.user, as_engagement_rule=True)
        )

    @admin.action(description="Reject")
    def reject(self, request: HttpRequest, queryset) -> None:
        from .predictions import proposal_reject

        self._decide(request, queryset, lambda p: proposal_reject(proposal=p, user=request.user))


def reasons_table(entry: dict) -> str:
    """One outcome's probability and reasons as HTML, in percentage points from a typical account's probability
    (``scoring.reasons``): the rows add up to the probability."""
    if entry.get("status") != "ok":
        return entry.get("message") or "—"
    breakdown = reason_breakdown(entry)
    start = [] if breakdown.typical is None else [("A typical account", f"{breakdown.typical:.1f}%")]
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td style="text-align:right">{}</td></tr>',
        [*start, *((text, f"{pp:+.1f} pp") for text, pp in breakdown.lines)],
    )
    return format_html(
        "<p>{} (model {}; before smoothing {})</p><table><tr><th>Reason</th><th>Effect</th></tr>{}</table>",
        _pct(entry.get("probability")),
        f"v{entry.get('model_version')}",
        _pct(entry.get("raw")),
        rows,
    )


@admin.register(AccountPrediction)
class AccountPredictionAdmin(BigTableAdminMixin, ReadOnlyAdmin):
    list_display = ["account", "health", "health_since", "conversion_percent", "expansion_percent", "churn_percent",
                    "computed_at"]  # fmt: skip
    list_filter = ["health", "conversion_status", "expansion_status", "churn_status"]
    list_select_related = ["account"]
    search_fields = ["account__name", "account__external_id"]
    readonly_fields = ["conversion_reasons", "expansion_reasons", "churn_reasons", "health_why"]
    fields = ["account", "computed_at", "health", "health_since", "health_why", "conversion_reasons",
              "expansion_reasons", "churn_reasons"]  # fmt: skip

    # Probabilities as percentages ("—" where one does not apply to the account's stage), sortable by the number.
    @admin.display(description="Conversion", ordering="conversion")
    def conversion_percent(self, obj: AccountPrediction) -> str:
        return percent_text(obj.conversion)

    @admin.display(description="Expansion", ordering="expansion")
    def expansion_percent(self, obj: AccountPrediction) -> str:
        return percent_text(obj.expansion)

    @admin.display(description="Churn", ordering="churn")
    def churn_percent(self, obj: AccountPrediction) -> str:
        return percent_text(obj.churn)

    @admin.display(description="Conversion")
    def conversion_reasons(self, obj: AccountPrediction) -> str:
        return reasons_table(obj.reasons.get("conversion", {}))

    @admin.display(description="Expansion")
    def expansion_reasons(self, obj: AccountPrediction) -> str:
        return reasons_table(obj.reasons.get("expansion", {}))

    @admin.display(description="Churn")
    def churn_reasons(self, obj: AccountPrediction) -> str:
        return reasons_table(obj.reasons.get("churn", {}))

    @admin.display(description="Why this health")
    def health_why(self, obj: AccountPrediction) -> str:
        return format_html_join("", "<div>{}</div>", ((line,) for line in obj.health_reasons)) or "—"
