"""Trigger kinds: their parameters (validated with messages an admin can act on) and the reason key a firing gets.

A reason key names *why* a task is open ("rule:12", "lead:up:65"): one active task per account, playbook and
reason key, and switch playbooks close the task whose reason went away.
"""

from __future__ import annotations

from typing import Any

from scoring.choices import Grade, Temperature

from .choices import TriggerKind

CROSSING_SCORES = ("lead", "fit", "engagement", "signal_strength")
PROBABILITIES = ("conversion_probability", "expansion_probability", "churn_probability")
FLAGS = ("qualified", "surging")
HEALTH_VALUES = ("good", "normal", "bad")  # the order is "up": bad → normal → good
DIRECTIONS = ("up", "down")
MOVEMENTS = ("entry", "progression", "conversion", "expansion", "contraction", "churn", "reactivation")
GRADE_ORDER = {"D": 0, "C": 1, "B": 2, "A": 3}
TEMPERATURE_ORDER = {"cold": 0, "warm": 1, "hot": 2}
HEALTH_ORDER = {"bad": 0, "normal": 1, "good": 2}


class TriggerParamsError(ValueError):
    """The trigger's parameters are wrong; the message says which and what is expected."""


def _number(params: dict, key: str, *, low: float | None = None, high: float | None = None) -> float:
    value = params.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TriggerParamsError(f"'{key}' must be a number")
    if (low is not None and value < low) or (high is not None and value > high):
        raise TriggerParamsError(f"'{key}' must be between {low:g} and {high:g}")
    return float(value)


def _choice(params: dict, key: str, allowed: tuple[str, ...], *, default: str | None = None) -> str:
    value = params.get(key, default)
    if value not in allowed:
        raise TriggerParamsError(f"'{key}' must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _optional_list(params: dict, key: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    value = params.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TriggerParamsError(f"'{key}' must be a list of names")
    if allowed is not None:
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise TriggerParamsError(f"'{key}': unknown {', '.join(map(repr, unknown))} (use {', '.join(allowed)})")
    return value


def _keys(params: dict, allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise TriggerParamsError(
            f"unknown parameter(s) {', '.join(unknown)} (this trigger takes {', '.join(sorted(allowed))})"
        )


# One check per trigger kind's parameter, each with its message (hence the noqa below).
def trigger_params_clean(kind: str, params: Any) -> dict[str, Any]:  # noqa: C901, PLR0912 — a branch per parameter
    """Check a trigger's parameters and return them with defaults filled in; raise TriggerParamsError."""
    if params in (None, ""):
        params = {}
    if not isinstance(params, dict):
        raise TriggerParamsError("the parameters must be a JSON object")
    p = dict(params)
    if kind == TriggerKind.SCORE_CROSSING:
        _keys(p, {"score", "threshold", "direction"})
        p["score"] = _choice(p, "score", CROSSING_SCORES)
        p["threshold"] = _number(p, "threshold", low=0, high=100)
        p["direction"] = _choice(p, "direction", DIRECTIONS, default="up")
    elif kind == TriggerKind.PROBABILITY_CROSSING:
        _keys(p, {"probability", "threshold", "direction"})
        p["probability"] = _choice(p, "probability", PROBABILITIES)
        p["threshold"] = _number(p, "threshold", low=0, high=1)
        p["direction"] = _choice(p, "direction", DIRECTIONS, default="up")
    elif kind == TriggerKind.SCORE_CHANGE:
        _keys(p, {"score", "by", "direction", "window_days"})
        p["score"] = _choice(p, "score", CROSSING_SCORES)
        p["by"] = _number(p, "by", low=0.01, high=100)
        p["direction"] = _choice(p, "direction", DIRECTIONS, default="up")
        window = p.get("window_days", 7)
        if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 365:
            raise TriggerParamsError("'window_days' must be a whole number from 1 to 365")
        p["window_days"] = window
    elif kind in (TriggerKind.GRADE_CHANGE, TriggerKind.TEMPERATURE_CHANGE, TriggerKind.HEALTH_CHANGE):
        values_of: dict[str, tuple[str, ...]] = {
            TriggerKind.GRADE_CHANGE: tuple(Grade.values),
            TriggerKind.TEMPERATURE_CHANGE: tuple(Temperature.values),
            TriggerKind.HEALTH_CHANGE: HEALTH_VALUES,
        }
        values = values_of[kind]
        _keys(p, {"to", "from", "direction"})
        p["to"] = _optional_list(p, "to", values)
        p["from"] = _optional_list(p, "from", values)
        p["direction"] = _choice(p, "direction", ("up", "down", "any"), default="any")
    elif kind == TriggerKind.FLAG_CHANGE:
        _keys(p, {"flag", "to"})
        p["flag"] = _choice(p, "flag", FLAGS)
        if not isinstance(p.get("to", True), bool):
            raise TriggerParamsError("'to' must be true (the flag starts) or false (it stops)")
        p["to"] = p.get("to", True)
    elif kind == TriggerKind.RULE_HIT:
        _keys(p, {"rule", "event"})
        if not isinstance(p.get("rule"), str) or not p["rule"].strip():
            raise TriggerParamsError("'rule' must be the name of a signal rule")
        p["event"] = _choice(p, "event", ("set", "cleared"), default="set")
    elif kind == TriggerKind.STAGE_MOVEMENT:
        _keys(p, {"movement", "to_stage", "from_stage"})
        p["movement"] = _optional_list(p, "movement", MOVEMENTS)
        p["to_stage"] = _optional_list(p, "to_stage")
        p["from_stage"] = _optional_list(p, "from_stage")
        if not (p["movement"] or p["to_stage"] or p["from_stage"]):
            raise TriggerParamsError("name at least one 'movement', 'to_stage' or 'from_stage'")
    elif kind in (TriggerKind.SEGMENT_ENTERED, TriggerKind.SEGMENT_LEFT):
        _keys(p, {"segment"})
        if not isinstance(p.get("segment"), str) or not p["segment"].strip():
            raise TriggerParamsError("'segment' must be the name of a segment")
    else:
        raise TriggerParamsError(f"unknown trigger kind {kind!r}")
    return p
