"""Scoring admin: the scorecard (every change kept with who and when) and read-only scores with explanations."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin_tools import BigTableAdminMixin
from signals_app import admin as signals_admin
from signals_app.models import SignalRule

from .models import (
    AccountScore,
    ConfigVersion,
    EngagementRule,
    FitRule,
    FreeEmailDomain,
    ScoreHistory,
    ScoringSettings,
    SegmentBoost,
    TopicImportance,
)


class PreviewChangeMixin:
    """A "Preview the effect" button on the change form: the change is validated and saved inside a transaction,
    today's accounts are rescored with it, and the page shows how many would cross the threshold, change grade or
    start or stop hitting a rule; then everything is rolled back and the form is shown again, unsaved."""

    change_form_template = "admin/scoring/preview_change_form.html"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST" or "_preview" not in request.POST:
            return super().changeform_view(request, object_id, form_url, extra_context)
        from django.contrib import messages
        from django.template.response import TemplateResponse

        from .preview import change_preview

        outcome: dict = {}

        def apply() -> None:
            outcome["response"] = super(PreviewChangeMixin, self).changeform_view(
                request, object_id, form_url, extra_context
            )
            if outcome["response"].status_code != 302:  # the form has errors: nothing to preview
                raise _InvalidChange

        try:
            preview = change_preview(apply=apply)
        except _InvalidChange:
            return outcome["response"]
        list(messages.get_messages(request))  # drop "changed successfully": nothing was saved
        context = {**self.admin_site.each_context(request), "title": "Preview of the change (not saved)",
                   "preview": preview, "opts": self.model._meta, "post": request.POST}  # fmt: skip
        return TemplateResponse(request, "admin/scoring/preview.html", context)


class _InvalidChange(Exception):
    pass


@admin.register(ScoringSettings)
class ScoringSettingsAdmin(PreviewChangeMixin, SimpleHistoryAdmin):
    fieldsets = [
        ("Lead score", {"fields": ["qualification_threshold", "grade_a_min", "grade_b_min", "grade_c_min"]}),
        ("Temperature", {"fields": ["hot_min", "warm_min"]}),
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


class SignalRulePreviewAdmin(PreviewChangeMixin, signals_admin.SignalRuleAdmin):
    """Signal rules, with the preview of a change (scoring owns evaluation, so the preview is added here)."""


admin.site.unregister(SignalRule)
admin.site.register(SignalRule, SignalRulePreviewAdmin)
