"""A playbook's configuration errors are reported on their field with a message an admin can act on."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from playbooks.models import Playbook
from scoring.models import SignalRule

pytestmark = pytest.mark.django_db


def errors_of(**fields) -> dict[str, list[str]]:
    values = {"name": "P", "trigger_kind": "score_crossing",
              "trigger_params": {"score": "lead", "threshold": 65}, "task_title_template": "Call"}  # fmt: skip
    playbook = Playbook(**{**values, **fields})
    try:
        playbook.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def test_good_playbook_has_no_errors():
    assert errors_of() == {}


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"trigger_params": {"score": "lead", "threshold": "high"}}, "trigger_params", "'threshold' must be a number"),
        ({"trigger_params": {"score": "karma", "threshold": 1}}, "trigger_params", "'score' must be one of"),
        ({"trigger_params": {"score": "lead", "threshold": 1, "x": 2}}, "trigger_params", "unknown parameter"),
        ({"trigger_params": [1]}, "trigger_params", "JSON object"),
        ({"trigger_kind": "rule_hit", "trigger_params": {"rule": "Nope"}}, "trigger_params", "No signal rule"),
        (
            {"trigger_kind": "score_change", "trigger_params": {"score": "lead", "by": 5, "window_days": 0}},
            "trigger_params",
            "window_days",
        ),
        ({"trigger_kind": "grade_change", "trigger_params": {"to": ["Z"]}}, "trigger_params", "unknown 'Z'"),
        ({"trigger_kind": "stage_movement", "trigger_params": {}}, "trigger_params", "at least one"),
        ({"conditions": {"field": "karma", "op": "eq", "value": 1}}, "conditions", "unknown field 'karma'"),
        ({"conditions": {"field": "owner_email", "op": "gt", "value": "x"}}, "conditions", "needs a number"),
        ({"conditions": {"match": "all", "conditions": "x"}}, "conditions", "must be a list"),
        ({"task_title_template": "Call {{ account.name|shout }}"}, "task_title_template", "Invalid filter"),
        ({"task_body_template": "{% if %}"}, "task_body_template", "Template error"),
        ({"task_title_template": ""}, "task_title_template", "needs a title"),
        ({"assign_mode": "round_robin"}, "assign_team", "needs a team"),
        ({"assign_mode": "user"}, "assign_user", "Name the person"),
        ({"webhook_url": "https://example.com/hook"}, "webhook_secret", "secret"),
        ({"goal_kind": "stage_reached"}, "goal_stage", "Name the stage"),
        ({"create_task": False}, "create_task", "do nothing"),
    ],
)
def test_bad_configuration_is_named(fields, field, words):
    errors = errors_of(**fields)
    assert field in errors, errors
    assert words in " ".join(errors[field])


def test_conditions_accept_owner_scores_segments_and_signals():
    SignalRule.objects.get_or_create(
        name="Expansion opportunity", defaults={"conditions": {"field": "lead", "op": "gt", "value": 1}}
    )
    conditions = {"match": "all", "conditions": [
        {"field": "owner_email", "op": "present"}, {"field": "completeness", "op": "gte", "value": 50},
        {"segment": "Trials"}, {"signal": {"type": "demo"}, "window_days": 7, "op": "at_least", "count": 1},
        {"field": "stage_kind", "op": "eq", "value": "free"},
    ]}  # fmt: skip
    assert errors_of(conditions=conditions) == {}
    assert errors_of(trigger_kind="rule_hit", trigger_params={"rule": "Expansion opportunity"}) == {}
