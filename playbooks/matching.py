"""Which playbooks fire for which accounts, from a batch of changes: set-based over the batch.

Plain functions over the change dicts ``scoring.hooks`` and ``accounts.hooks`` send (no model instances). Each
returns ``Firing``s (open a run and maybe a task) and ``Clearing``s (a switch playbook's reason went away).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Max, Min

from scoring.formatting import percent_text
from scoring.models import ScoreHistory

from .choices import TriggerKind
from .models import Playbook
from .triggers import GRADE_ORDER, HEALTH_ORDER, TEMPERATURE_ORDER, trigger_params_clean

SCORE_TRIGGERS = (
    TriggerKind.SCORE_CROSSING, TriggerKind.SCORE_CHANGE, TriggerKind.GRADE_CHANGE, TriggerKind.TEMPERATURE_CHANGE,
    TriggerKind.FLAG_CHANGE, TriggerKind.HEALTH_CHANGE, TriggerKind.RULE_HIT, TriggerKind.PROBABILITY_CROSSING,
)  # fmt: skip
STAGE_TRIGGERS = (TriggerKind.STAGE_MOVEMENT,)
SEGMENT_TRIGGERS = (TriggerKind.SEGMENT_ENTERED, TriggerKind.SEGMENT_LEFT)
LABELS = {"lead": "Lead score", "fit": "Fit", "engagement": "Engagement", "signal_strength": "Signal strength",
          "conversion_probability": "Conversion probability", "expansion_probability": "Expansion probability",
          "churn_probability": "Churn probability", "grade": "Grade", "temperature": "Temperature",
          "health": "Health", "qualified": "Qualified", "surging": "Surging"}  # fmt: skip
PROBABILITY_NAMES = ("conversion_probability", "expansion_probability", "churn_probability")
ORDERS = {"grade": GRADE_ORDER, "temperature": TEMPERATURE_ORDER, "health": HEALTH_ORDER}
CHANGE_FIELD: dict[str, str] = {TriggerKind.GRADE_CHANGE: "grade", TriggerKind.TEMPERATURE_CHANGE: "temperature",
                TriggerKind.HEALTH_CHANGE: "health"}  # fmt: skip


@dataclass
class Firing:
    """A playbook fired for an account: why (reason key + detail) and which change (source key: retries match)."""

    playbook: Playbook
    account_id: int
    reason_key: str
    source_key: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Clearing:
    """A switch playbook's reason went away for an account: its active task with this reason key closes."""

    playbook_id: int
    account_id: int
    reason_key: str


def _fmt(value: Any, name: str = "") -> str:
    """A value in a task's summary: probabilities as percentages ("35%"), scores as numbers."""
    if name in PROBABILITY_NAMES:
        return percent_text(value)
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 1 else f"{value:g}"
    return str(value)


def _crossing(pb: Playbook, p: dict, changes: list[dict], at: str, key: str) -> tuple[list[Firing], list[Clearing]]:
    name, threshold, up = p[key], p["threshold"], p["direction"] == "up"
    reason = f"{name}:{p['direction']}:{threshold:g}"
    fired, cleared = [], []
    for change in changes:
        after = change["after"].get(name)
        if after is None:
            continue
        before = (change["before"] or {}).get(name)
        was_over = before is not None and before >= threshold
        now_over = after >= threshold
        label = LABELS.get(name, name)
        bar = _fmt(threshold, name) if name in PROBABILITY_NAMES else f"{threshold:g}"
        if up and now_over and not was_over:
            summary = f"{label} rose to {_fmt(after, name)} (crossed {bar})"
        elif not up and was_over and not now_over:
            summary = f"{label} fell to {_fmt(after, name)} (below {bar})"
        else:
            if was_over != now_over:  # crossed back: the reason went away
                cleared.append(Clearing(pb.pk, change["account"], reason))
            continue
        detail = {"summary": summary, "score": name, "before": before, "after": after, "threshold": threshold}
        fired.append(Firing(pb, change["account"], reason, f"{reason}@{at}", detail))
    return fired, cleared


def _score_change(pb: Playbook, p: dict, changes: list[dict], at: str, today: date) -> list[Firing]:
    """Rise (fall) by at least ``by`` within ``window_days``: today's value against the window's lowest (highest)
    daily value in ScoreHistory, one aggregate query for the accounts whose score moved that way."""
    name, by, up, window = p["score"], p["by"], p["direction"] == "up", p["window_days"]
    moved = {}
    for change in changes:
        after, before = change["after"].get(name), (change["before"] or {}).get(name)
        if after is not None and before is not None and ((after > before) if up else (after < before)):
            moved[change["account"]] = (before, after)
    if not moved:
        return []
    extreme = Min(name) if up else Max(name)
    rows = (
        ScoreHistory.objects.filter(account_id__in=list(moved), date__gte=today - timedelta(days=window))
        .values("account_id")
        .annotate(x=extreme)
        .values_list("account_id", "x")
    )
    reason = f"{name}:{p['direction']}:{by:g}/{window}d"
    fired = []
    for account_id, x in rows:
        before, after = moved[account_id]
        base = min(x, before) if up else max(x, before)  # today's row may already hold the new value
        delta = after - base
        if (delta >= by) if up else (-delta >= by):
            verb = "rose" if up else "fell"
            summary = f"{LABELS.get(name, name)} {verb} by {abs(delta):g} in {window} days (to {_fmt(after)})"
            detail = {"summary": summary, "score": name, "before": base, "after": after, "window_days": window}
            fired.append(Firing(pb, account_id, reason, f"{reason}@{at}", detail))
    return fired


def _value_change(pb: Playbook, p: dict, changes: list[dict], at: str, name: str) -> tuple[list, list]:
    order = ORDERS[name]
    fired, cleared = [], []
    for change in changes:
        after = change["after"].get(name)
        before = (change["before"] or {}).get(name)
        if after is None or after == before:
            continue
        if pb.is_switch and before is not None:
            cleared.append(Clearing(pb.pk, change["account"], f"{name}:{before}"))
        if p["to"] and after not in p["to"]:
            continue
        if p["from"] and before not in p["from"]:
            continue
        if p["direction"] != "any":
            if before is None or before not in order or after not in order:
                continue
            if (order[after] > order[before]) != (p["direction"] == "up"):
                continue
        reason = f"{name}:{after}"
        summary = f"{LABELS[name]} {before} → {after}" if before is not None else f"{LABELS[name]}: {after}"
        churn = change["after"].get("churn_probability")
        if name == "health" and churn is not None:  # health follows the churn risk: say how high it is
            summary += f" (churn risk {percent_text(churn)})"
        detail = {"summary": summary, "score": name, "before": before, "after": after}
        fired.append(Firing(pb, change["account"], reason, f"{reason}@{at}", detail))
    return fired, cleared


def _flag_change(pb: Playbook, p: dict, changes: list[dict], at: str) -> tuple[list, list]:
    name, to = p["flag"], p["to"]
    reason = f"{name}:{'on' if to else 'off'}"
    fired, cleared = [], []
    for change in changes:
        after = change["after"].get(name)
        before = bool((change["before"] or {}).get(name, False))
        if after is None or bool(after) == before:
            continue
        if bool(after) == to:
            what = {"qualified": "Qualified" if to else "No longer qualified", "surging": "Surging" if to else
                    "No longer surging"}[name]  # fmt: skip
            lead = change["after"].get("lead")
            summary = f"{what}" + (f" (lead score {_fmt(lead)})" if lead is not None else "")
            detail = {"summary": summary, "score": name, "before": before, "after": bool(after), "flag": name}
            fired.append(Firing(pb, change["account"], reason, f"{reason}@{at}", detail))
        else:
            cleared.append(Clearing(pb.pk, change["account"], reason))
    return fired, cleared


def _rule_hit(pb: Playbook, p: dict, changes: list[dict], at: str, rules: dict[str, int]) -> tuple[list, list]:
    rule_id = rules.get(p["rule"])
    if rule_id is None:
        return [], []
    on_set = p["event"] == "set"
    reason = f"rule:{rule_id}" if on_set else f"rule:{rule_id}:cleared"
    fired, cleared = [], []
    for change in changes:
        firing_list = change["hits_set"] if on_set else change["hits_cleared"]
        clearing_list = change["hits_cleared"] if on_set else change["hits_set"]
        if rule_id in firing_list:
            summary = f"Rule hit: {p['rule']}" if on_set else f"Rule no longer holds: {p['rule']}"
            detail = {"summary": summary, "rule": p["rule"], "rule_id": rule_id, "score": "engagement"}
            fired.append(Firing(pb, change["account"], reason, f"{reason}@{at}", detail))
        elif rule_id in clearing_list:
            cleared.append(Clearing(pb.pk, change["account"], reason))
    return fired, cleared


def match_score_changes(
    *, playbooks: list[Playbook], changes: list[dict], computed_at: str, rules: dict[str, int], today: date
) -> tuple[list[Firing], list[Clearing]]:
    """Firings and clearings of the score-triggered playbooks for a chunk's score changes."""
    fired: list[Firing] = []
    cleared: list[Clearing] = []
    for pb in playbooks:
        kind = pb.trigger_kind
        if kind not in SCORE_TRIGGERS:
            continue
        p = trigger_params_clean(kind, pb.trigger_params)
        if kind == TriggerKind.SCORE_CROSSING:
            f, c = _crossing(pb, p, changes, computed_at, "score")
        elif kind == TriggerKind.PROBABILITY_CROSSING:
            f, c = _crossing(pb, p, changes, computed_at, "probability")
        elif kind == TriggerKind.SCORE_CHANGE:
            f, c = _score_change(pb, p, changes, computed_at, today), []
        elif kind in CHANGE_FIELD:
            f, c = _value_change(pb, p, changes, computed_at, CHANGE_FIELD[kind])
        elif kind == TriggerKind.FLAG_CHANGE:
            f, c = _flag_change(pb, p, changes, computed_at)
        else:
            f, c = _rule_hit(pb, p, changes, computed_at, rules)
        fired += f
        cleared += c if pb.is_switch else []
    return fired, cleared


def match_stage_movements(
    *, playbooks: list[Playbook], movements: list[dict], stage_keys: dict[int, tuple[str, str]], now: datetime,
    max_age: timedelta,
) -> list[Firing]:  # fmt: skip
    """Firings of stage-movement playbooks; movements older than ``max_age`` (history being imported) are not news."""
    fired = []
    for pb in playbooks:
        if pb.trigger_kind not in STAGE_TRIGGERS:
            continue
        p = trigger_params_clean(pb.trigger_kind, pb.trigger_params)
        for m in movements:
            if datetime.fromisoformat(m["changed_at"]) < now - max_age:
                continue
            to_key, to_name = stage_keys.get(m["to_stage"], ("", ""))
            from_key, from_name = stage_keys.get(m["from_stage"], ("", "—")) if m["from_stage"] else ("", "—")
            if p["movement"] and m["movement"] not in p["movement"]:
                continue
            if p["to_stage"] and to_key not in p["to_stage"]:
                continue
            if p["from_stage"] and from_key not in p["from_stage"]:
                continue
            reason = f"stage:{to_key}"
            detail = {"summary": f"Moved {from_name} → {to_name} ({m['movement']})", "movement": m["movement"],
                      "from_stage": from_key, "to_stage": to_key, "score": "engagement"}  # fmt: skip
            fired.append(Firing(pb, m["account"], reason, f"{reason}@{m['changed_at']}", detail))
    return fired


def match_segment_changes(
    *, playbooks: list[Playbook], segment_id: int, segment_name: str, entered: list[int], left: list[int], at: str
) -> tuple[list[Firing], list[Clearing]]:
    """Firings of segment playbooks (and clearings of switch ones) for one segment's membership change."""
    fired: list[Firing] = []
    cleared: list[Clearing] = []
    for pb in playbooks:
        if pb.trigger_kind not in SEGMENT_TRIGGERS:
            continue
        p = trigger_params_clean(pb.trigger_kind, pb.trigger_params)
        if p["segment"] != segment_name:
            continue
        entering = pb.trigger_kind == TriggerKind.SEGMENT_ENTERED
        reason = f"segment:{segment_id}:{'entered' if entering else 'left'}"
        verb = "Entered" if entering else "Left"
        for account_id in entered if entering else left:
            detail = {"summary": f"{verb} segment {segment_name}", "segment": segment_name, "score": "engagement"}
            fired.append(Firing(pb, account_id, reason, f"{reason}@{at}", detail))
        if pb.is_switch:
            cleared += [Clearing(pb.pk, a, reason) for a in (left if entering else entered)]
    return fired, cleared
