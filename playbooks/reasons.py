"""A new task's reasons, from what fired it: a score's explanation, a probability's own reasons (churn's for a
health change), the values that made a rule true; a stage movement or a segment change is its own reason."""

from __future__ import annotations

from typing import Any

from scoring import models as scoring_models
from scoring.formatting import percent_text
from scoring.models import RuleHit

from .conditions import PREDICTION_FIELDS
from .matching import Firing
from .models import PlaybookRun

TOP_CONTRIBUTORS = 5  # lines of an explanation a task's reason keeps
# Which score's explanation stands behind a score trigger: grades are bands of the lead score, temperature of
# engagement; "qualified" is the lead score's, "surging" the signal strength's.
EXPLAINED_BY = {"grade": "lead", "temperature": "engagement", "qualified": "lead", "surging": "signal_strength"}
PROBABILITY_OUTCOMES = {"conversion_probability": "conversion", "expansion_probability": "expansion",
                        "churn_probability": "churn"}  # fmt: skip
RULE_VALUE_RATIOS = ("adoption", "activation", "active_ratio_30d")
STAGE_FIELDS = ("stage", "stage_kind", "can_expand")


def prediction_reasons(new: list[tuple[Firing, PlaybookRun]]) -> dict[int, dict[str, Any]]:
    """The probabilities' reasons and health reasons of the accounts whose firing came from a probability or health
    (one query, none when no such firing): a task's reasons are those of what fired it."""
    wanted = {f.account_id for f, _ in new if f.detail.get("score") in PROBABILITY_OUTCOMES or
              f.detail.get("score") == "health"}  # fmt: skip
    if not wanted or not PREDICTION_FIELDS:
        return {}
    return {
        a: {"reasons": reasons or {}, "health_reasons": health or []}
        for a, reasons, health in scoring_models.AccountPrediction.objects.filter(account_id__in=wanted).values_list(
            "account_id", "reasons", "health_reasons"
        )
    }


def rule_values_add(new: list[tuple[Firing, PlaybookRun]]) -> None:
    """Put the values that made a rule true (its open hit's) into the reason of rule-hit firings (one query)."""
    wanted = [(f.detail["rule_id"], f.account_id) for f, _ in new if "rule_id" in f.detail]
    if not wanted:
        return
    values: dict[tuple[int | None, int], Any] = {
        (rule_id, account_id): v
        for rule_id, account_id, v in RuleHit.objects.filter(
            rule_id__in={r for r, _ in wanted}, account_id__in={a for _, a in wanted}, cleared_at__isnull=True
        ).values_list("rule_id", "account_id", "values")
    }
    for f, _ in new:
        found = values.get((f.detail.get("rule_id"), f.account_id))
        if found:
            f.detail["values"] = found


def _top_contributors(score: dict | None, kind: str | None) -> list[dict]:
    """The lines of a score's explanation (lead: its fit and engagement lines), largest first, in points."""
    contributions = (score or {}).get("contributions") or {}
    kind = EXPLAINED_BY.get(kind or "", kind)
    if kind in ("fit", "engagement", "signal_strength"):
        lines = list(contributions.get(kind, []))
    else:  # the lead score: what built it
        lines = list(contributions.get("fit", [])) + list(contributions.get("engagement", []))
    lines = [line for line in lines if line.get("points")]
    lines.sort(key=lambda line: -abs(line["points"]))
    return [{"label": line.get("label", ""), "points": line["points"]} for line in lines[:TOP_CONTRIBUTORS]]


def _probability_reasons(entry: dict, *, rising: bool) -> list[dict]:
    """A probability's reasons that pushed it the way it moved, in percentage points of that probability."""
    lines = (entry.get("up" if rising else "down") or []) if entry.get("status") == "ok" else []
    return [{"label": str(r.get("text") or ""), "points": round(100 * float(r.get("effect") or 0), 1),
             "unit": "pts"} for r in lines[:TOP_CONTRIBUTORS] if r.get("text")]  # fmt: skip


def _rule_value_text(name: str, value: Any) -> str:
    """A value a rule read, in words: "Adoption 20%", "Engagement trend ×0.30", "Engagement 36.6"."""
    label = name.replace("_", " ").capitalize()
    if isinstance(value, bool) or value is None or not isinstance(value, int | float):
        return f"{label}: {value if value is not None else '—'}"
    if name in RULE_VALUE_RATIOS:
        return f"{label} {percent_text(value)}"
    if name == "engagement_trend":
        return f"{label} ×{value:.2f}"
    return f"{label} {round(value, 1):g}"


def firing_reasons(f: Firing, score: dict | None, prediction: dict | None) -> list[dict]:
    """A task's reasons come from what fired it: a score's explanation for a score trigger, the probability's own
    reasons for a probability (churn's for a health change), the values that made a rule true for a rule hit;
    a stage movement or a segment change is its own reason (the summary says it)."""
    detail = f.detail
    kind = detail.get("score")
    if "rule_id" in detail:
        values = (detail.get("values") or {}).items()  # which stage it is for is no reason: the values that held are
        return [{"label": _rule_value_text(k, v), "points": None} for k, v in values if k not in STAGE_FIELDS]
    if "movement" in detail or "segment" in detail:
        return []
    if kind in PROBABILITY_OUTCOMES or kind == "health":
        reasons = (prediction or {}).get("reasons") or {}
        outcome = PROBABILITY_OUTCOMES.get(kind, "churn")
        if kind == "health":  # worse health: what raised the churn risk; better: what lowered it
            order = {"bad": 0, "normal": 1, "good": 2}
            rising = order.get(str(detail.get("after")), 1) < order.get(str(detail.get("before")), 1)
        else:
            before, after = detail.get("before"), detail.get("after")
            rising = before is None or (after is not None and after >= before)
        lines = _probability_reasons(reasons.get(outcome) or {}, rising=rising)
        if not lines and kind == "health":  # no churn probability (too little history): the health's own words
            lines = [{"label": str(text), "points": None} for text in (prediction or {}).get("health_reasons", [])]
        return lines
    return _top_contributors(score or {}, kind)
