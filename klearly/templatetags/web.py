"""Small template filters of the web UI."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from scoring.formatting import percent_text

register = template.Library()


@register.filter
def points(value: Any) -> str:
    """A contribution as signed points: "+12.5", "−5", "" when unknown."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    text = f"{abs(number):.1f}".rstrip("0").rstrip(".")
    return f"+{text}" if number >= 0 else f"−{text}"


@register.filter
def percent(value: Any, digits: int = 0) -> str:
    """A 0–1 probability as a percentage ("42%"; "—" when there is none): ``scoring.formatting.percent_text``."""
    return percent_text(value, digits)


@register.filter
def bar(value: Any, top: Any = 100) -> int:
    """A value as a width percentage (0–100) of ``top``, for the small bars."""
    try:
        return max(0, min(100, round(float(value) / float(top) * 100)))
    except (TypeError, ValueError, ZeroDivisionError):
        return 0


@register.simple_tag
def options(choices: Any, selected: Any = None, empty: str = "") -> str:
    """``<option>`` elements for (value, label) pairs, ``selected`` marked; built in Python because Django's widget
    templates cost more than the rest of a task pane."""
    chosen = "" if selected is None else str(selected)
    parts = [format_html('<option value="">{}</option>', empty)] if empty else []
    for value, label in choices:
        mark = " selected" if str(value) == chosen and chosen != "" else ""
        parts.append(format_html('<option value="{}"{}>{}</option>', value, mark, label))
    return mark_safe("".join(parts))  # every part went through format_html
