"""Checks of a playbook's configuration, with messages per field for the admin and the API (never a 500)."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any, cast

from django.template import Context, Engine, Library, Template, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import FilterExpression, Lexer, NodeList, TokenType, Variable
from django.template.defaulttags import ForNode

from scoring.conditions import ConditionError
from scoring.models import SignalRule

from .choices import AssignMode, GoalKind, TriggerKind
from .conditions import conditions_compile
from .egress import webhook_url_refusal
from .triggers import TriggerParamsError, trigger_params_clean

if TYPE_CHECKING:
    from .models import Playbook

# Task templates are plain text in a small sandbox: no loaders, no {% load %}, only the tags and filters below, at
# most one level of {% for %} over a value of the context, bounded size. Their cost is linear in the template's
# length and the length of what a loop walks, so a template can never take seconds (nested loops did).
TITLE_TEMPLATE_MAX_CHARS = 300  # the field's length
BODY_TEMPLATE_MAX_CHARS = 5000
BODY_MAX_CHARS = 10_000  # a rendered body is cut there
TEMPLATE_TAGS = ("comment", "firstof", "for", "if")
TEMPLATE_FILTERS = ("capfirst", "date", "default", "default_if_none", "first", "floatformat", "join", "last",
                    "length", "lower", "pluralize", "time", "title", "truncatechars", "truncatewords", "upper",
                    "yesno")  # fmt: skip
FLOATFORMAT_MAX_DIGITS = 10  # floatformat:100000 would build a 100,000-digit number
# Django calls a callable it finds by attribute: these would change the context's dicts and lists (reason is stored).
FORBIDDEN_LOOKUPS = frozenset({"add", "append", "clear", "discard", "extend", "insert", "pop", "popitem", "remove",
                               "reverse", "setdefault", "sort", "update"})  # fmt: skip
_STRINGS = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""")
_LOOKUPS = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.\w+)+")


class TaskTemplateError(ValueError):
    """A task template that cannot be used, with the reason an admin can act on."""


def _floatformat(text: Any, arg: Any = -1) -> str:
    """Django's ``floatformat`` with at most ``FLOATFORMAT_MAX_DIGITS`` decimal places."""
    match = re.fullmatch(r"(-?)(\d+)([gu]*)", str(arg))
    if match and int(match[2]) > FLOATFORMAT_MAX_DIGITS:
        arg = f"{match[1]}{FLOATFORMAT_MAX_DIGITS}{match[3]}"
    return defaultfilters.floatformat(text, arg)


def _task_text_library() -> Library:
    library = Library()
    for name in TEMPLATE_TAGS:
        library.tags[name] = defaulttags.register.tags[name]
    for name in TEMPLATE_FILTERS:
        library.filters[name] = defaultfilters.register.filters[name]
    library.filter("floatformat", _floatformat, is_safe=True)
    return library


TEMPLATE_ENGINE = Engine(autoescape=False, debug=False)
TEMPLATE_ENGINE.template_builtins = [_task_text_library()]  # instead of Django's default tags and filters


def task_template_compile(text: str, *, max_chars: int = BODY_TEMPLATE_MAX_CHARS) -> Template:
    """A task template compiled in the sandbox; raises ``TaskTemplateError`` saying what is not allowed."""
    if len(text) > max_chars:
        raise TaskTemplateError(f"Template too long: {len(text)} characters, at most {max_chars}.")
    for token in Lexer(text).tokenize():
        if token.token_type not in (TokenType.VAR, TokenType.BLOCK):
            continue
        for lookup in _LOOKUPS.findall(_STRINGS.sub("", token.contents)):
            bad = FORBIDDEN_LOOKUPS.intersection(lookup.split(".")[1:])
            if bad:
                raise TaskTemplateError(f"'{lookup}' is not allowed: '.{min(bad)}' would change the data, not read it.")
    try:
        template = TEMPLATE_ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        message = str(exc)
        if message.startswith("Invalid block tag"):
            message = (f"{message.split('. Did you')[0]}. Task templates allow only the tags "
                       f"{', '.join(TEMPLATE_TAGS)}.")  # fmt: skip
        elif message.startswith("Invalid filter"):
            message = f"{message}. Task templates allow only the filters {', '.join(TEMPLATE_FILTERS)}."
        raise TaskTemplateError(f"Template error: {message}") from exc
    # get_nodes_by_type gives nodes of the type asked for; django-stubs types them as Node
    for loop in cast("list[ForNode]", template.nodelist.get_nodes_by_type(ForNode)):
        body, empty, sequence = loop.nodelist_loop, loop.nodelist_empty, loop.sequence
        # Django's parser makes node lists and a filter expression; django-stubs also allow lists and a str
        assert isinstance(body, NodeList) and isinstance(empty, NodeList) and isinstance(sequence, FilterExpression)
        if body.get_nodes_by_type(ForNode) or empty.get_nodes_by_type(ForNode):
            raise TaskTemplateError("Template error: a {% for %} inside another {% for %} is not allowed.")
        if not isinstance(sequence.var, Variable) or sequence.var.lookups is None:
            raise TaskTemplateError(
                f"Template error: {{% for %}} walks a value of the task (such as reason.top), not {sequence.token}."
            )
    return template


def task_text_render(template: Template, data: dict[str, Any], *, max_chars: int = BODY_MAX_CHARS) -> str:
    """A task's title or body: the template rendered as plain text (no HTML escaping; pages escape it when they
    show it), stripped and cut at ``max_chars``."""
    return template.render(Context(data, autoescape=False)).strip()[:max_chars]


SAMPLE_DATA: dict[str, Any] = {  # what a run offers a template, to try a template on when it is saved
    "account": {"name": "Acme O'Brien & Co", "external_id": "acme", "domain": "acme.example", "industry": "Software",
                "employees": 120, "country": "DE", "stage": "Trial", "stage_key": "trial", "owner": "cs@example.com"},
    "score": {"lead": 71.5, "fit": 40.0, "engagement": 31.5, "grade": "B", "temperature": "hot", "qualified": True},
    "reason": {"summary": "Lead score rose to 71 (crossed 65)", "score": "lead", "before": 58.0, "after": 71.5,
               "threshold": 65, "playbook": "Sample", "trigger": "score_crossing",
               "top": [{"label": "Demo request", "points": 25.0}, {"label": "Software", "points": 20.0}]},
    "playbook": {"name": "Sample"},
}  # fmt: skip


def template_error(text: str, *, max_chars: int = BODY_TEMPLATE_MAX_CHARS) -> str | None:
    """Why a task template cannot be used, or None (compiled in the sandbox, then tried on sample values)."""
    try:
        template = task_template_compile(text, max_chars=max_chars)
        task_text_render(template, copy.deepcopy(SAMPLE_DATA))
    except TaskTemplateError as exc:
        return str(exc)
    except Exception as exc:  # a filter that fails on the sample values, e.g. a bad argument
        return f"Template error: {exc}"
    return None


# One check per playbook field, each with its message (hence the noqa below).
def playbook_errors(playbook: Playbook) -> dict[str, str]:  # noqa: C901, PLR0912 — one check per field
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
    for field, max_chars in (("task_title_template", TITLE_TEMPLATE_MAX_CHARS),
                             ("task_body_template", BODY_TEMPLATE_MAX_CHARS)):  # fmt: skip
        problem = template_error(getattr(playbook, field) or "", max_chars=max_chars)
        if problem:
            errors[field] = problem
    if playbook.create_task and not (playbook.task_title_template or "").strip():
        errors["task_title_template"] = "A playbook that opens tasks needs a title template."
    if playbook.assign_mode == AssignMode.USER and not playbook.assign_user_id:
        errors["assign_user"] = "Name the person who gets the tasks."
    if playbook.assign_mode == AssignMode.ROUND_ROBIN and not playbook.assign_team_id:
        errors["assign_team"] = "Round-robin needs a team."
    if playbook.webhook_url and (problem := webhook_url_refusal(playbook.webhook_url)):
        errors["webhook_url"] = problem
    if playbook.webhook_url and not playbook.webhook_secret:
        errors["webhook_secret"] = "A webhook needs a secret to sign its payloads."
    if playbook.goal_kind == GoalKind.STAGE_REACHED and not playbook.goal_stage:
        errors["goal_stage"] = "Name the stage (its key) that counts as reached."
    if playbook.experiment_group_id and not playbook.variant:
        errors["variant"] = "A playbook in an experiment needs a variant name."
    if not playbook.create_task and not playbook.webhook_url and not playbook.experiment_group_id:
        errors["create_task"] = "This playbook would do nothing: open a task, call a webhook, or be a control variant."
    return errors
