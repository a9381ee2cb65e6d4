"""Forms of the web inbox: one per task action, the bulk action, saving a view. They only validate; the views hand
the cleaned values to ``playbooks.services``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from playbooks.choices import DismissReason, TaskOutcome

MAX_SNOOZE_DAYS = 366
MAX_BULK = 500  # tasks per bulk action: one screenful of selections is far below it


class DateInput(forms.DateInput):
    input_type = "date"


class AssigneeField(forms.ModelChoiceField):
    """A person to assign a task to, shown by full name (the username when there is none)."""

    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username


def _clean_snooze_day(day: date | None) -> date | None:
    if day is None:
        return None
    today = timezone.localdate()
    if day <= today:
        raise forms.ValidationError("Pick a day after today.")
    if day > today + timedelta(days=MAX_SNOOZE_DAYS):
        raise forms.ValidationError("Pick a day within a year.")
    return day


# Dismissing "closed by itself" is what switch playbooks do; a person picks a reason of their own.
DISMISS_CHOICES = [(value, label) for value, label in DismissReason.choices if value != DismissReason.AUTO_CLEARED]


class AssignForm(forms.Form):
    """Give a task to someone the current user may hand work to."""

    assignee = AssigneeField(queryset=get_user_model().objects.none(), empty_label="Choose a person…")

    def __init__(self, *args: Any, assignees: QuerySet | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if assignees is not None:
            cast(AssigneeField, self.fields["assignee"]).queryset = assignees


class SnoozeForm(forms.Form):
    """Hide a task until a day (it comes back to the inbox that morning)."""

    until = forms.DateField(label="Snooze until", widget=DateInput)

    def clean_until(self) -> date | None:
        return _clean_snooze_day(self.cleaned_data["until"])


class CompleteForm(forms.Form):
    """Close a task as done, with how it ended and an optional note (kept as a comment)."""

    outcome = forms.ChoiceField(choices=[("", "Choose an outcome…"), *TaskOutcome.choices])
    note = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class DismissForm(forms.Form):
    """Close a task without working it, with the reason and an optional note (kept as a comment)."""

    reason = forms.ChoiceField(choices=[("", "Choose a reason…"), *DISMISS_CHOICES])
    note = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class CommentForm(forms.Form):
    """A note on a task."""

    body = forms.CharField(label="Comment", max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError("Write something first.")
        if "\x00" in body:
            raise forms.ValidationError("The comment contains a NUL character.")
        return body


class IdListField(forms.Field):
    """Repeated ``name=id`` values (checkboxes) as a list of positive integers."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        ids = []
        for raw in values:
            try:
                number = int(str(raw).strip())
            except ValueError:
                raise forms.ValidationError(f"{str(raw)[:20]!r} is not a task number.") from None
            if not 0 < number < 2**63:
                raise forms.ValidationError(f"{number} is not a task number.")
            ids.append(number)
        return ids


BULK_ACTIONS = [
    ("claim", "Claim"),
    ("assign", "Assign to…"),
    ("snooze", "Snooze until…"),
    ("complete", "Complete as…"),
    ("dismiss", "Dismiss as…"),
]


class BulkActionForm(forms.Form):
    """One action on many selected tasks; the action's own value (person, day, outcome, reason) is required for it."""

    action = forms.ChoiceField(choices=BULK_ACTIONS)
    task = IdListField(label="Selected tasks", error_messages={"required": "Select tasks first (x or the boxes)."})
    assignee = AssigneeField(queryset=get_user_model().objects.none(), required=False, empty_label="person…")
    until = forms.DateField(required=False, widget=DateInput, label="Snooze until")
    outcome = forms.ChoiceField(choices=[("", "outcome…"), *TaskOutcome.choices], required=False)
    reason = forms.ChoiceField(choices=[("", "reason…"), *DISMISS_CHOICES], required=False)

    def __init__(self, *args: Any, assignees: QuerySet | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if assignees is not None:
            cast(AssigneeField, self.fields["assignee"]).queryset = assignees

    def clean_task(self) -> list[int]:
        ids = self.cleaned_data["task"]
        if len(ids) > MAX_BULK:
            raise forms.ValidationError(f"At most {MAX_BULK} tasks at once.")
        return sorted(set(ids))

    def clean_until(self) -> date | None:
        return _clean_snooze_day(self.cleaned_data.get("until"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        needed = {
            "assign": ("assignee", "Choose who gets the tasks."),
            "snooze": ("until", "Choose the day the tasks come back."),
            "complete": ("outcome", "Choose how the tasks ended."),
            "dismiss": ("reason", "Choose why the tasks are dismissed."),
        }
        field, message = needed.get(data.get("action", ""), (None, ""))
        if field and not data.get(field) and field not in self.errors:
            self.add_error(field, message)
        return data


class SavedViewForm(forms.Form):
    """Name the filters of the current page to find them again."""

    name = forms.CharField(max_length=80)

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the view a name.")
        return name
