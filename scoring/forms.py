"""Forms of the scoring admin pages."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone


def _default_start():
    return (timezone.now() - timedelta(days=180)).date()


def _default_end():
    return (timezone.now() - timedelta(days=30)).date()


class BacktestForm(forms.Form):
    """A threshold and a past period to replay it over."""

    threshold = forms.FloatField(min_value=0, max_value=100, required=False, help_text="Empty: the threshold in force.")
    start = forms.DateTimeField(initial=_default_start, help_text="First cut-off.")
    end = forms.DateTimeField(initial=_default_end, help_text="Cut-offs stop before this date.")
    step_days = forms.IntegerField(min_value=1, max_value=90, initial=7, help_text="Days between cut-offs.")
    horizon_days = forms.IntegerField(
        min_value=1, max_value=365, initial=30, help_text="A conversion within this many days after a cut-off counts."
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start >= end:
                self.add_error("end", "must be after the start")
            elif (end - start).days / data.get("step_days", 7) > 200:
                self.add_error("step_days", "at most 200 cut-offs: take a longer step or a shorter period")
            if end > timezone.now():
                self.add_error("end", "must be in the past (the outcomes after it must be known)")
        return data
