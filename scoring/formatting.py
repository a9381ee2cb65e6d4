"""How numbers read wherever people see them: one helper for probabilities, used by the web templates (the
``percent`` filter), task titles and bodies (playbooks), the admin and the reasons' words. A probability is shown as
a percentage, never as a raw 0–1 decimal."""

from __future__ import annotations

from typing import Any

NONE_TEXT = "—"


def percent_text(value: Any, digits: int = 0) -> str:
    """A 0–1 probability as a percentage ("42%", "4.2%" with ``digits=1``); "—" when there is none."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return NONE_TEXT
    if number != number:  # NaN
        return NONE_TEXT
    return f"{number * 100:.{int(digits)}f}%"


class Probability(float):
    """A probability as task templates see it: a number for comparisons and arithmetic, that prints as a percentage
    (``{{ score.churn_probability }}`` reads "18%", not "0.1769")."""

    def __str__(self) -> str:
        return percent_text(self)

    def __format__(self, spec: str) -> str:
        return percent_text(self) if not spec else float.__format__(self, spec)


def probability_or_none(value: Any) -> Probability | None:
    """``value`` as a :class:`Probability` (None stays None, so ``|default:`` still works in templates)."""
    if value is None:
        return None
    try:
        return Probability(float(value))
    except (TypeError, ValueError):
        return None
