"""What the demo sets up for the team working in it: the operators it logs in as, their teams, the shipped playbooks
and the segments. Plain data; ``klearly.demo.setup`` and ``klearly.demo.build`` write it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DemoLogin:
    """A Klearly operator the demo creates, with the password it sets."""

    username: str
    password: str
    role: str
    first_name: str
    last_name: str
    email: str
    group: str = ""


DEMO_LOGINS = (
    DemoLogin("admin", "klearly-admin", "superuser", "Ada", "Admin", "admin@example.com"),
    DemoLogin("cs.alice", "klearly-demo", "customer success", "Alice", "Martin", "alice@example.com", "CS team"),
    DemoLogin("cs.bob", "klearly-demo", "customer success", "Bob", "Nguyen", "bob@example.com", "CS team"),
    DemoLogin("sales.carol", "klearly-demo", "sales", "Carol", "Jansen", "carol@example.com", "Sales team"),
)
OWNERS = ("cs.alice", "cs.bob", "sales.carol")
DEMO_TEAMS = (("Customer Success", ("cs.alice", "cs.bob")), ("Sales", ("sales.carol",)))

# The shipped playbooks (created when missing; an admin's later changes are kept).
DEMO_PLAYBOOKS: tuple[dict[str, Any], ...] = (
    {
        "name": "Trial to paid: call qualified trials",
        "description": "A trial account just became a qualified lead: call within a working day. Goal: converted "
        "within 21 days. (Shipped with the demo.)",
        "trigger_kind": "flag_change",
        "trigger_params": {"flag": "qualified", "to": True},
        "conditions": {"match": "all", "conditions": [{"field": "stage", "op": "in", "value": ["trial"]}]},
        "task_title_template": "Call {{ account.name }}: qualified trial (lead {{ score.lead|floatformat:0 }})",
        "task_body_template": "{{ reason.summary }}. Top reasons: {% for c in reason.top %}{{ c.label }} "
        "({{ c.points|floatformat:0 }}){% if not forloop.last %}, {% endif %}{% endfor %}.",
        "assign_mode": "owner",
        "team": "Sales",
        "due_in_business_days": 1,
        "priority": 3,
        "cooldown_days": 30,
        "goal_kind": "converted",
        "goal_within_days": 21,
    },
    {
        "name": "Expansion opportunity",
        "description": "The 'Expansion opportunity' rule holds for a customer below the top plan: propose the next "
        "plan. Closes itself when the rule stops holding. Goal: expanded within 60 days (so never on the top plan: "
        "nothing to expand to). (Shipped with the demo.)",
        "trigger_kind": "rule_hit",
        "trigger_params": {"rule": "Expansion opportunity", "event": "set"},
        "conditions": {"match": "all", "conditions": [{"field": "can_expand", "op": "eq", "value": True}]},
        "task_title_template": "Expansion: talk to {{ account.name }} about the next plan",
        "task_body_template": "{{ reason.summary }}. {{ account.name }} is on {{ account.stage|default:'no stage' }} "
        "with engagement {{ score.engagement|floatformat:0 }}.",
        "assign_mode": "owner",
        "team": "Customer Success",
        "due_in_business_days": 3,
        "priority": 2,
        "cooldown_days": 30,
        "is_switch": True,
        "goal_kind": "expanded",
        "goal_within_days": 60,
    },
    {
        "name": "Churn risk",
        "description": "The 'Potential problem account' rule holds for a paying customer (engagement halved and "
        "not high): check in before renewal. Closes itself when the rule stops holding. Goal: not churned within 90 "
        "days. (Shipped with the demo; health and churn probability can trigger it too once they are computed.)",
        "trigger_kind": "rule_hit",
        "trigger_params": {"rule": "Potential problem account", "event": "set"},
        "conditions": {"match": "all", "conditions": [{"field": "stage_kind", "op": "eq", "value": "paying"}]},
        "task_title_template": "Churn risk: check in with {{ account.name }}",
        "task_body_template": "{{ reason.summary }}. Engagement {{ score.engagement|floatformat:0 }}, "
        "{{ score.active_users_30d }} active users in 30 days, churn risk {{ score.churn_probability|default:'not "
        "known yet' }}.",
        "assign_mode": "owner",
        "team": "Customer Success",
        "due_in_business_days": 2,
        "priority": 4,
        "cooldown_days": 30,
        "is_switch": True,
        "goal_kind": "retained",
        "goal_within_days": 90,
    },
    {
        "name": "Churn risk: health turned bad",
        "description": "The account's health became bad (churn probability up, engagement falling): check in. "
        "Closes itself when health recovers. Goal: not churned within 90 days. (Shipped with the demo.)",
        "trigger_kind": "health_change",
        "trigger_params": {"to": ["bad"]},
        "conditions": {"match": "all", "conditions": [{"field": "stage_kind", "op": "eq", "value": "paying"}]},
        "task_title_template": "Churn risk: {{ account.name }}'s health is bad",
        "task_body_template": "{{ reason.summary }}. Engagement {{ score.engagement|floatformat:0 }}, "
        "{{ score.active_users_30d }} active users in 30 days.",
        "assign_mode": "owner",
        "team": "Customer Success",
        "due_in_business_days": 2,
        "priority": 4,
        "cooldown_days": 30,
        "is_switch": True,
        "goal_kind": "retained",
        "goal_within_days": 90,
    },
)

DEMO_SEGMENTS = (
    ("Trials", "Accounts in the Trial stage (made by seed_demo).",
     {"match": "all", "conditions": [{"field": "stage", "op": "in", "value": ["trial"]}]}),
    ("Paying customers", "Accounts in a paying stage (made by seed_demo).",
     {"match": "all", "conditions": [{"field": "stage_kind", "op": "eq", "value": "paying"}]}),
    ("Enterprise-size (1000+ employees)", "Companies with 1000 employees or more (made by seed_demo).",
     {"match": "all", "conditions": [{"field": "employees", "op": "gte", "value": 1000}]}),
    ("Medium size (50-999)", "Companies with 50 to 999 employees (made by seed_demo).",
     {"match": "all", "conditions": [{"field": "employees", "op": "gte", "value": 50},
                                     {"field": "employees", "op": "lt", "value": 1000}]}),
)  # fmt: skip
