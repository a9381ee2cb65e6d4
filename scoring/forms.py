"""Forms of the scoring admin pages."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone

from accounts.choices import Movement

from .backtest import MOVEMENT_FROM
from .models import SignalRule


def _default_start():
    return (timezone.now() - timedelta(days=180)).date()


def _default_end():
    return (timezone.now() - timedelta(days=30)).date()


class PeriodForm(forms.Form):
    """A past period to replay a backtest over."""

    start = forms.DateTimeField(initial=_default_start, help_text="First cut-off.")
    end = forms.DateTimeField(initial=_default_end, help_text="Cut-offs stop before this date.")
    step_days = forms.IntegerField(min_value=1, max_value=90, initial=7, help_text="Days between cut-offs.")
    horizon_days = forms.IntegerField(
        min_value=1, max_value=365, initial=30, help_text="A movement within this many days after a cut-off counts."
    )

    def clean(self):
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start >= end:
                self.add_error("end", "must be after the start")
            elif (end - start).days / data.get("step_days", 7) > 200:
                self.add_error("step_days", "at most 200 cut-offs: take a longer step or a shorter period")
            if end > timezone.now():
                self.add_error("end", "must be in the past (the outcomes after it must be known)")
        return data


class BacktestForm(PeriodForm):
    """A threshold and a past period to replay it over."""

    threshold = forms.FloatField(min_value=0, max_value=100, required=False, help_text="Empty: the threshold in force.")
    field_order = ["threshold", "start", "end", "step_days", "horizon_days"]


class RuleBacktestForm(PeriodForm):
    """A signal rule, the movement it should foretell, and a past period."""

    rule = forms.ModelChoiceField(queryset=SignalRule.objects.order_by("name"), help_text="Active or not.")
    movement = forms.ChoiceField(
        choices=[(m.value, m.label) for m in MOVEMENT_FROM],
        initial=Movement.EXPANSION,
        help_text="What the rule should foretell; the accounts that could make it at each cut-off are compared.",
    )
    field_order = ["rule", "movement", "start", "end", "step_days", "horizon_days"]
