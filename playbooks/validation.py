"""Checks of a playbook's configuration, with messages per field for the admin and the API (never a 500)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.template import Context, Engine, TemplateSyntaxError

from signals_app.models import SignalRule

from .choices import AssignMode, GoalKind, TriggerKind
from .conditions import ConditionError, conditions_compile
from .triggers import TriggerParamsError, trigger_params_clean

if TYPE_CHECKING:
    from .models import Playbook

# Plain-text templates: no loaders, no autoescaping (a title is not HTML; the inbox escapes it when it shows it).
TEMPLATE_ENGINE = Engine(autoescape=False, debug=False)


def template_error(text: str) -> str | None:
    """Why a task template cannot be used, or None."""
    try:
        TEMPLATE_ENGINE.from_string(text).render(Context({}))
    except TemplateSyntaxError as exc:
        return f"Template error: {exc}"
    except Exception as exc:  # a filter that fails on empty values, e.g. a bad argument
        return f"Template error: {exc}"
    return None


def playbook_errors(playbook: Playbook) -> dict[str, str]:
    """Every problem with a playbook's configuration, by field name."""
    errors: dict[str, str] = {}
    if playbook.trigger_kind not in TriggerKind.values:
        errors["trigger_kind"] = f"Unknown trigger kind {playbook.trigger_kind!r}."
    else:
        try:
            params = trigger_params_clean(playbook.trigger_kind, playbook.trigger_params)
        except TriggerParamsError as exc:
            errors["trigger_params"] = f"{exc}."
        else:
            if (
                playbook.trigger_kind == TriggerKind.RULE_HIT
                and not SignalRule.objects.filter(name=params["rule"]).exists()
            ):
                errors["trigger_params"] = f"No signal rule is named {params['rule']!r}."
    try:
        conditions_compile(playbook.conditions)
    except ConditionError as exc:
        errors["conditions"] = f"{exc}."
    for field in ("task_title_template", "task_body_template"):
        problem = template_error(getattr(playbook, field) or "")
        if problem:
            errors[field] = problem
    if playbook.create_task and not (playbook.task_title_template or "").strip():
        errors["task_title_template"] = "A playbook that opens tasks needs a title template."
    if playbook.assign_mode == AssignMode.USER and not playbook.assign_user_id:
        errors["assign_user"] = "Name the person who gets the tasks."
    if playbook.assign_mode == AssignMode.ROUND_ROBIN and not playbook.assign_team_id:
        errors["assign_team"] = "Round-robin needs a team."
    if playbook.webhook_url and not playbook.webhook_secret:
        errors["webhook_secret"] = "A webhook needs a secret to sign its payloads."
    if playbook.goal_kind == GoalKind.STAGE_REACHED and not playbook.goal_stage:
        errors["goal_stage"] = "Name the stage (its key) that counts as reached."
    if playbook.experiment_group_id and not playbook.variant:
        errors["variant"] = "A playbook in an experiment needs a variant name."
    if not playbook.create_task and not playbook.webhook_url and not playbook.experiment_group_id:
        errors["create_task"] = "This playbook would do nothing: open a task, call a webhook, or be a control variant."
    return errors
