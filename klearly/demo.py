"""The demo world behind ``manage.py seed_demo``: a believable B2B SaaS with accounts, contacts, about nine months
of signals, and stage movements that really follow from behaviour.

Two halves. :func:`demo_simulate` is pure NumPy, seeded, with no ORM: it steps day by day over every account at
once, draws each day's signals from rates that depend on the account's stage, latent intent, activity and seats,
and then decides tomorrow's stage changes from hazards computed on the signals it actually drew (pricing views,
invites, integrations, demo requests, usage trend, support tickets). So the movements are caused by the recorded
behaviour, and scores and models built later have something true to find. :func:`demo_world_build` writes the
result with bulk inserts and lets ``accounts.services`` derive movements and current stages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Count, Q

from accounts.models import Account, Contact, JourneyStage, Segment, StageTransition
from accounts.services import segments_evaluate_all, stage_history_rebuild
from playbooks.models import Playbook, Team
from scoring.defaults import DEFAULT_ENGAGEMENT_RULES
from scoring.services import engagement_rules_ensure, scoring_defaults_ensure
from signals_app.choices import Direction, IngestionKind, SignalCategory, SignalSource
from signals_app.models import IngestionSource, Signal, SignalTopic, SignalType, WriteKey
from signals_app.services import write_key_create, write_key_revoke

DEMO_PREFIX = "demo-"  # external ids of demo accounts and contacts start with it; --reset deletes by it
DEMO_SOURCE_NAME = "Demo data"
SEGMENT_SOURCE_NAME = "Website (Segment)"
WRITE_KEY_LABEL = "seed_demo"
WINDOW_DAYS = 270  # about nine months of signals before "now"
DAY = 86_400
BATCH_SIZE = 5000
# Product usage per seat, calibrated so an average account gathers about 1000 signals (300k for 300 accounts).
USAGE_VOLUME = 1.75

# Stage codes used by the simulation, in the order of the keys created by accounts/migrations/0002.
STAGE_KEYS = ("lead", "trial", "trial-expired", "freemium", "starter", "corporate", "enterprise", "churn")
LEAD, TRIAL, EXPIRED, FREEMIUM, STARTER, CORPORATE, ENTERPRISE, CHURN = range(8)
NOT_YET = -1
TRIAL_DAYS = 14
STAGE_SETTLE = 300  # seconds after a stage change before that day's behaviour of the new stage shows

# Signal groups the stage hazards read (rolling counts per account and day).
G_PRICING, G_INVITE, G_INTEGRATION, G_DEMO, G_QUOTE, G_SUPPORT, G_USAGE, G_NURTURE, G_CTA = range(9)
N_GROUPS = 9


@dataclass(frozen=True)
class TypeSpec:
    """One signal type of the demo and how often it happens.

    ``rates`` are expected signals per account and weekday in each stage (order of ``STAGE_KEYS``), before the
    account's intent (``exp(intent * z)``) and ``scale``: "act" multiplies by the account's activity, "seats" by
    activity times seats^0.7, "support" by sqrt(seats) and more when usage is falling, "invite" by activity and
    the room left to grow, "event" means the simulation emits it at a moment (trial start, order) instead.
    ``timing`` picks the weekday pattern or a calendar of event days. ``who`` picks the contact.
    """

    key: str
    label: str
    category: str
    direction: str
    source: str
    rates: tuple[float, float, float, float, float, float, float, float] = (0, 0, 0, 0, 0, 0, 0, 0)
    intent: float = 0.0
    scale: str = ""
    timing: str = "marketing"
    who: str = "any"
    topics: tuple[str, ...] = ()
    topic_share: float = 0.0
    group: int | None = None
    key_feature: bool = False
    activation: bool = False


IN, OUT = Direction.INBOUND, Direction.OUTBOUND
MKT, SALES, PRODUCT = SignalSource.MARKETING, SignalSource.SALES, SignalSource.PRODUCT
C = SignalCategory
PRODUCT_TOPICS = (
    "analytics--dashboards", "analytics--reports", "analytics--alerts", "integrations--crm",
    "integrations--data-warehouse", "platform--security", "platform--api",
)  # fmt: skip
CONTENT_TOPICS = (*PRODUCT_TOPICS, "industry--fintech", "industry--healthcare")

#                    lead   trial  expired freemium starter corporate enterprise churn
TYPES: tuple[TypeSpec, ...] = (
    TypeSpec("page-view", "Page view", C.WEB_VISITS, IN, MKT,
             (0.45, 0.6, 0.12, 0.22, 0.25, 0.25, 0.25, 0.05), intent=0.4, who="web",
             topics=PRODUCT_TOPICS, topic_share=0.7),
    TypeSpec("pricing-page-view", "Pricing page view", C.WEB_VISITS, IN, MKT,
             (0.06, 0.22, 0.02, 0.05, 0.02, 0.02, 0.015, 0.01), intent=0.9, who="web", group=G_PRICING),
    TypeSpec("docs-page-view", "Docs page view", C.WEB_VISITS, IN, PRODUCT,
             (0.02, 0.45, 0.01, 0.15, 0.3, 0.3, 0.3, 0.0), intent=0.3, scale="act", timing="product",
             who="user", topics=PRODUCT_TOPICS, topic_share=0.9),
    TypeSpec("email-sent", "Email sent", C.EMAILS, OUT, MKT,
             (0.3, 0.3, 0.25, 0.25, 0.15, 0.15, 0.15, 0.08), timing="outbound",
             topics=CONTENT_TOPICS, topic_share=0.6),
    TypeSpec("email-open", "Email open", C.EMAILS, IN, MKT,
             (0.1, 0.12, 0.05, 0.07, 0.06, 0.06, 0.06, 0.02), intent=0.5, topics=CONTENT_TOPICS, topic_share=0.6),
    TypeSpec("email-click", "Email click", C.EMAILS, IN, MKT,
             (0.02, 0.03, 0.008, 0.015, 0.012, 0.012, 0.012, 0.003), intent=0.7,
             topics=CONTENT_TOPICS, topic_share=0.6),
    TypeSpec("email-reply", "Email reply", C.EMAILS, IN, SALES,
             (0.004, 0.01, 0.002, 0.003, 0.008, 0.008, 0.01, 0.001), intent=0.5, timing="sales", who="decider"),
    TypeSpec("cta-click", "Website CTA click", C.CLICKS, IN, MKT,
             (0.04, 0.05, 0.01, 0.03, 0.01, 0.01, 0.01, 0.005), intent=0.6, who="web", group=G_CTA),
    TypeSpec("ad-click", "Ad click", C.ADS, IN, MKT,
             (0.05, 0.02, 0.02, 0.02, 0.005, 0.005, 0.005, 0.01), intent=0.3, who="ad",
             topics=PRODUCT_TOPICS, topic_share=0.5),
    TypeSpec("demo-request", "Demo request", C.EVALUATION, IN, SALES,
             (0.005, 0.012, 0.002, 0.004, 0.002, 0.002, 0.001, 0.001), intent=1.2, timing="sales", who="decider",
             topics=PRODUCT_TOPICS, topic_share=0.5, group=G_DEMO),
    TypeSpec("quote-requested", "Quote requested", C.EVALUATION, IN, SALES,
             (0.001, 0.008, 0.001, 0.003, 0.003, 0.003, 0.001, 0.0005), intent=1.0, timing="sales", who="decider",
             group=G_QUOTE),
    TypeSpec("sales-call", "Sales call", C.CALLS, OUT, SALES,
             (0.01, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01, 0.005), timing="sales", who="decider"),
    TypeSpec("cs-check-in", "Customer success check-in", C.CALLS, OUT, SALES,
             (0, 0, 0, 0, 0.02, 0.03, 0.05, 0), timing="sales", who="decider"),
    TypeSpec("trial-started", "Trial started", C.TRIALS, IN, PRODUCT, scale="event", who="decider"),
    TypeSpec("trial-extended", "Trial extended", C.TRIALS, OUT, SALES, scale="event", who="decider"),
    TypeSpec("order", "Order", C.ORDERS, IN, SALES, scale="event", who="decider"),
    TypeSpec("support-ticket-opened", "Support ticket opened", C.SUPPORT, IN, PRODUCT,
             (0, 0.02, 0, 0.004, 0.012, 0.015, 0.02, 0), intent=-0.3, scale="support", timing="product",
             who="user", topics=PRODUCT_TOPICS, topic_share=0.8, group=G_SUPPORT),
    TypeSpec("webinar-attended", "Webinar attended", C.WEBINARS, IN, MKT,
             (0.12, 0.12, 0.04, 0.06, 0.06, 0.06, 0.06, 0.01), intent=0.6, timing="webinar",
             topics=CONTENT_TOPICS, topic_share=1.0, group=G_NURTURE),
    TypeSpec("virtual-event-joined", "Virtual event joined", C.VIRTUAL_EVENTS, IN, MKT,
             (0.1, 0.1, 0.03, 0.05, 0.08, 0.08, 0.08, 0.01), intent=0.5, timing="virtual",
             topics=CONTENT_TOPICS, topic_share=0.7, group=G_NURTURE),
    TypeSpec("event-attended", "Customer meetup attended", C.EVENTS, IN, MKT,
             (0.03, 0.03, 0.01, 0.02, 0.1, 0.12, 0.15, 0.0), intent=0.4, timing="meetup"),
    TypeSpec("booth-visit", "Booth visit", C.BOOTH, IN, MKT,
             (0.15, 0.1, 0.05, 0.05, 0.08, 0.08, 0.1, 0.02), intent=0.4, timing="tradeshow",
             topics=PRODUCT_TOPICS, topic_share=0.4),
    TypeSpec("whitepaper-download", "White paper download", C.WHITE_PAPERS, IN, MKT,
             (0.02, 0.015, 0.005, 0.008, 0.005, 0.005, 0.005, 0.002), intent=0.5,
             topics=CONTENT_TOPICS, topic_share=1.0, group=G_NURTURE),
    TypeSpec("case-study-download", "Case study download", C.DOWNLOADS, IN, MKT,
             (0.012, 0.02, 0.004, 0.008, 0.004, 0.004, 0.004, 0.001), intent=0.6,
             topics=CONTENT_TOPICS, topic_share=1.0, group=G_NURTURE),
    TypeSpec("video-watched", "Video watched", C.VIDEOS, IN, MKT,
             (0.03, 0.06, 0.01, 0.03, 0.03, 0.03, 0.03, 0.005), intent=0.4,
             topics=PRODUCT_TOPICS, topic_share=0.8, group=G_NURTURE),
    TypeSpec("assessment-completed", "Data maturity assessment completed", C.ASSESSMENTS, IN, MKT,
             (0.008, 0.012, 0.002, 0.004, 0.003, 0.003, 0.003, 0), intent=0.8, group=G_NURTURE),
    TypeSpec("login", "Login", C.PRODUCT_USAGE, IN, PRODUCT,
             (0, 1.0, 0, 0.4, 1.0, 1.0, 1.0, 0), scale="seats", timing="product", who="user", group=G_USAGE),
    TypeSpec("dashboard-viewed", "Dashboard viewed", C.PRODUCT_USAGE, IN, PRODUCT,
             (0, 1.2, 0, 0.5, 1.4, 1.4, 1.5, 0), scale="seats", timing="product", who="user",
             topics=("analytics--dashboards",), topic_share=1.0, group=G_USAGE),
    TypeSpec("dashboard-created", "Dashboard created", C.PRODUCT_USAGE, IN, PRODUCT,
             (0, 0.12, 0, 0.04, 0.1, 0.1, 0.1, 0), intent=0.3, scale="seats", timing="product", who="user",
             topics=("analytics--dashboards",), topic_share=1.0, group=G_USAGE, key_feature=True, activation=True),
    TypeSpec("report-exported", "Report exported", C.PRODUCT_USAGE, IN, PRODUCT,
             (0, 0.08, 0, 0.02, 0.2, 0.25, 0.3, 0), scale="seats", timing="product", who="user",
             topics=("analytics--reports",), topic_share=1.0, group=G_USAGE, key_feature=True),
    TypeSpec("alert-configured", "Alert configured", C.PRODUCT_USAGE, IN, PRODUCT,
             (0, 0.02, 0, 0.005, 0.04, 0.05, 0.06, 0), scale="seats", timing="product", who="user",
             topics=("analytics--alerts",), topic_share=1.0, group=G_USAGE, key_feature=True),
    TypeSpec("invite-user", "User invited", C.PRODUCT_USAGE, IN, PRODUCT,
             (0, 0.12, 0, 0.015, 0.02, 0.025, 0.03, 0), intent=0.7, scale="invite", timing="product",
             who="user", group=G_INVITE, key_feature=True, activation=True),
    TypeSpec("integration-connected", "Integration connected", C.PRODUCT_USAGE, IN, PRODUCT,
             (0, 0.04, 0, 0.008, 0.008, 0.01, 0.012, 0), intent=0.7, scale="act", timing="product", who="user",
             topics=("integrations--crm", "integrations--data-warehouse"), topic_share=1.0, group=G_INTEGRATION,
             key_feature=True, activation=True),
    TypeSpec("api-key-created", "API key created", C.PRODUCT_USAGE, IN, PRODUCT,
             (0, 0.015, 0, 0.003, 0.006, 0.01, 0.02, 0), intent=0.4, scale="act", timing="product", who="user",
             topics=("platform--api",), topic_share=1.0, key_feature=True),
    TypeSpec("sso-configured", "SSO configured", C.PRODUCT_USAGE, IN, PRODUCT,
             (0, 0.002, 0, 0, 0.001, 0.003, 0.01, 0), scale="act", timing="product", who="user",
             topics=("platform--security",), topic_share=1.0),
    TypeSpec("nps-response", "NPS response", C.OTHER, IN, PRODUCT,
             (0, 0, 0, 0.001, 0.004, 0.004, 0.004, 0), timing="product", who="user"),
)  # fmt: skip
TYPE_INDEX = {spec.key: i for i, spec in enumerate(TYPES)}
INVITE, SUPPORT = TYPE_INDEX["invite-user"], TYPE_INDEX["support-ticket-opened"]
SALES_CALL, CHECK_IN = TYPE_INDEX["sales-call"], TYPE_INDEX["cs-check-in"]

TOPICS: tuple[tuple[str, str, str | None], ...] = (
    # key, label, parent key — keys follow signals_app.parsing.topic_path ("Analytics > Dashboards")
    ("analytics", "Analytics", None),
    ("analytics--dashboards", "Dashboards", "analytics"),
    ("analytics--reports", "Reports", "analytics"),
    ("analytics--alerts", "Alerts", "analytics"),
    ("integrations", "Integrations", None),
    ("integrations--crm", "CRM", "integrations"),
    ("integrations--data-warehouse", "Data warehouse", "integrations"),
    ("platform", "Platform", None),
    ("platform--security", "Security", "platform"),
    ("platform--api", "API", "platform"),
    ("industry", "Industry", None),
    ("industry--fintech", "Fintech", "industry"),
    ("industry--healthcare", "Healthcare", "industry"),
)
TOPIC_INDEX = {key: i for i, (key, _label, _parent) in enumerate(TOPICS)}
TOPIC_PATHS = {
    "analytics--dashboards": "/product/dashboards", "analytics--reports": "/product/reports",
    "analytics--alerts": "/product/alerts", "integrations--crm": "/integrations/salesforce",
    "integrations--data-warehouse": "/integrations/snowflake", "platform--security": "/security",
    "platform--api": "/developers/api",
}  # fmt: skip

# --- firmographics ------------------------------------------------------------------------------------------------
INDUSTRIES = (
    ("Software", 0.22, 0.25),
    ("Fintech", 0.12, 0.25),
    ("Healthcare", 0.10, 0.0),
    ("E-commerce", 0.10, 0.1),
    ("Manufacturing", 0.10, -0.15),
    ("Education", 0.06, -0.25),
    ("Media", 0.06, 0.0),
    ("Logistics", 0.07, -0.1),
    ("Consulting", 0.08, 0.0),
    ("Real estate", 0.04, -0.2),
    ("", 0.05, 0.0),
)  # (name, share, intent bonus)
COUNTRIES = (
    ("US", 0.33, -5, ".com", " Inc."),
    ("GB", 0.12, 0, ".co.uk", " Ltd"),
    ("DE", 0.12, 1, ".de", " GmbH"),
    ("FR", 0.08, 1, ".fr", " SAS"),
    ("NL", 0.05, 1, ".nl", " B.V."),
    ("ES", 0.04, 1, ".es", " S.L."),
    ("CA", 0.05, -5, ".ca", " Inc."),
    ("AU", 0.04, 10, ".com.au", " Pty Ltd"),
    ("SE", 0.03, 1, ".se", " AB"),
    ("IT", 0.03, 1, ".it", " S.r.l."),
    ("IN", 0.05, 5, ".in", " Pvt Ltd"),
    ("BR", 0.03, -3, ".com.br", " Ltda"),
    ("", 0.03, 0, ".com", ""),
)  # (ISO code, share, UTC offset in hours, domain ending, legal suffix)
LEAD_SOURCES = (
    ("organic", 0.28, 0.0),
    ("paid-search", 0.14, -0.1),
    ("linkedin", 0.12, 0.0),
    ("referral", 0.10, 0.4),
    ("event", 0.08, 0.2),
    ("outbound", 0.15, -0.3),
    ("partner", 0.05, 0.2),
    ("product-signup", 0.08, 0.1),
)  # (source, share, intent bonus)
CAMPAIGNS = ("q-pipeline-boost", "data-driven-revenue", "dashboards-launch", "crm-sync-webinar", "churn-playbook")
BRAND_HEADS = (
    "Nor", "Blue", "Vanta", "Quant", "Hexa", "Luma", "Sky", "Terra", "Orbi", "Zen", "Nova", "Brisk", "Clear",
    "Flux", "Green", "Iron", "Kite", "Loop", "Mint", "North", "Pixel", "Red", "Silver", "Swift", "True", "Vertex",
    "Wave", "Bright", "Core", "Alto", "Beacon", "Cobalt", "Delta", "Echo", "Fjord", "Granite", "Harbor", "Indigo",
    "Juniper", "Kestrel",
)  # fmt: skip
BRAND_TAILS = (
    "ly", "io", "wise", "stack", "forge", "point", "path", "grid", "bit", "labs", "works", "hub", "scale", "line",
    "mark", "field", "base", "sense", "loop", "ware",
)  # fmt: skip
PLAN_PRICES = {STARTER: 290, CORPORATE: 990, ENTERPRISE: 3900}  # monthly list price per plan (EUR)

FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Sophia", "Mason", "Mia", "Ethan", "Amelia", "Leo", "Hannah",
    "Felix", "Clara", "Jonas", "Chloe", "Hugo", "Sara", "Omar", "Priya", "Arjun", "Mei", "Kenji", "Fatima", "Yusuf",
    "Lena", "Paul", "Julia", "Marco", "Elena", "Diego", "Camille", "Louis", "Ingrid", "Lars", "Anna", "David",
    "Grace", "Samuel", "Nora", "Tom", "Alice", "Ben", "Laura", "Max", "Zoe", "Oscar", "Ines", "Rafael",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Martin", "Bernard", "Dubois", "Muller", "Schmidt",
    "Schneider", "Fischer", "Weber", "Rossi", "Russo", "Bianchi", "Lopez", "Gonzalez", "Perez", "Jansen", "de Vries",
    "Bakker", "Andersson", "Johansson", "Nilsson", "Patel", "Sharma", "Singh", "Tanaka", "Sato", "Kim", "Nguyen",
    "Silva", "Santos", "Oliveira", "Wilson", "Taylor", "Clarke", "Walker", "Wright", "Hughes", "Evans", "Roberts",
    "Kowalski", "Novak", "Horvat", "Costa", "Moreau", "Laurent",
)  # fmt: skip
JUNK_NAMES = ("xkcd", "Qwrtz", "Bcdfg", "Zzxr", "Hjkl", "Mnbvc", "Trst", "Grrr", "Pfft", "Sdfgh", "Jkl", "Vbnm")
FREE_EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "gmx.de", "proton.me")
FOUNDER_TITLES = ("CEO", "Founder & CEO", "CTO", "COO", "Co-founder")
SENIOR_TITLES = (
    "VP Sales", "Head of Data", "VP Engineering", "Director of Marketing", "Head of Revenue Operations", "CFO",
    "VP Customer Success", "Chief Data Officer", "Head of Growth", "Director of Analytics",
)  # fmt: skip
USER_TITLES = (
    "Data Analyst", "Engineer", "Software Engineer", "Analytics Engineer", "Product Manager",
    "Sales Operations Manager", "BI Developer", "Account Executive", "Customer Success Manager", "Intern",
    "Data Scientist", "Marketing Analyst", "Engineering Manager", "Senior Data Analyst",
)  # fmt: skip
MARKETING_TITLES = (
    "Marketing Manager", "Head of Growth", "Sales Director", "Consultant", "Student", "Intern", "CMO",
    "Business Development Representative", "Operations Manager", "Product Marketing Manager",
)  # fmt: skip


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


# --- the simulation (pure NumPy) ----------------------------------------------------------------------------------
@dataclass
class DemoWorld:
    """Everything the simulation produced, as arrays; times are whole seconds after ``start`` (negative before)."""

    start: datetime
    now: datetime
    # accounts
    names: list[str]
    domains: list[str]
    industries: list[str]
    countries: list[str]
    employees: np.ndarray  # -1 when unknown
    revenue: np.ndarray  # NaN when unknown
    account_created: np.ndarray
    account_traits: list[dict[str, Any]]
    account_owner: list[str | None]
    final_stage: np.ndarray
    # stage transitions
    tr_account: np.ndarray
    tr_stage: np.ndarray
    tr_time: np.ndarray
    # contacts (sorted by account, then creation)
    c_account: np.ndarray
    c_created: np.ndarray
    c_first: list[str]
    c_last: list[str]
    c_email: list[str]
    c_title: list[str]
    c_last_seen: np.ndarray  # -1 when never seen
    # signals (sorted by time)
    s_account: np.ndarray
    s_type: np.ndarray
    s_time: np.ndarray
    s_contact: np.ndarray  # -1 when none
    s_topic: np.ndarray  # -1 when none
    s_detail: list[str]
    s_properties: list[dict[str, Any]]
    s_anonymous: list[str]
    s_received_delay: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _pick(rng: np.random.Generator, table: tuple[tuple, ...], n: int) -> np.ndarray:
    """Indices into a (name, share, ...) table, drawn by share."""
    shares = np.array([row[1] for row in table], dtype=float)
    return rng.choice(len(table), size=n, p=shares / shares.sum())


def demo_anchor(today: datetime | None = None) -> datetime:
    """The fixed "now" of a demo world: midnight UTC of today, so runs on the same day build the same world."""
    today = today or datetime.now(UTC)
    return today.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _calendar(rng: np.random.Generator, start: datetime) -> np.ndarray:
    """A factor per day and type: the type's weekday pattern, or 1 on its event days and 0 elsewhere."""
    days = np.arange(WINDOW_DAYS)
    weekday = (start.weekday() + days) % 7
    weekend = weekday >= 5
    # Webinars every other Thursday; one virtual event a month on a Wednesday; customer meetups on some Tuesdays;
    # three trade shows of three days (Tuesday to Thursday) where booth visits happen.
    thursday, wednesday, tuesday = (np.flatnonzero(weekday == w) for w in (3, 2, 1))
    show_starts = rng.choice(tuesday[2:-2], size=3, replace=False)
    events = {
        "webinar": np.isin(days, thursday[rng.integers(0, 2) :: 2]),
        "virtual": np.isin(days, wednesday[rng.integers(0, 4) :: 4]),
        "meetup": np.isin(days, tuesday[rng.integers(0, 5) :: 5]),
        "tradeshow": np.isin(days, np.concatenate([show_starts, show_starts + 1, show_starts + 2])),
    }
    patterns = {
        "product": np.where(weekend, 0.18, 1.0),
        "marketing": np.where(weekend, 0.35, 1.0),
        "sales": np.where(weekend, 0.03, 1.0),
        # newsletters and nurture emails go out mid-week
        "outbound": np.select([weekend, np.isin(weekday, (1, 2, 3))], [0.0, 1.4], 0.6),
    }
    factor = np.empty((WINDOW_DAYS, len(TYPES)))
    for t, spec in enumerate(TYPES):
        factor[:, t] = events[spec.timing].astype(float) if spec.timing in events else patterns[spec.timing]
    return factor


def _business_seconds(
    rng: np.random.Generator, offsets: np.ndarray, *, spread: float | np.ndarray = 0.85
) -> np.ndarray:
    """Seconds into the UTC day of moments that mostly fall in local business hours (``offsets`` in hours)."""
    n = len(offsets)
    local = np.where(rng.random(n) < spread, rng.normal(13.0, 2.6, n), rng.uniform(0, 24, n))
    return (((local - offsets) % 24) * 3600).astype(np.int64)


class _Simulation:
    """The day-by-day simulation behind :func:`demo_simulate`; every array has one entry per account."""

    def __init__(self, *, accounts: int, seed: int, now: datetime) -> None:
        self.rng = rng = np.random.default_rng(seed)
        self.n = n = accounts
        self.now = now
        self.start = now - timedelta(days=WINDOW_DAYS)

        # Firmographics, and the latent intent that drives each account's behaviour: bigger companies, some
        # industries and warm lead sources lean a little higher, but most of it is the account's own.
        employees = np.minimum(np.maximum(1, np.round(rng.lognormal(np.log(60), 1.5, n))), 120_000)
        self.employees = employees.astype(np.int64)
        self.employees_known = rng.random(n) >= 0.08
        self.industry = _pick(rng, INDUSTRIES, n)
        self.country = _pick(rng, COUNTRIES, n)
        self.lead_source = _pick(rng, LEAD_SOURCES, n)
        self.log_size = (np.log(self.employees) - np.log(60)) / 1.5
        self.intent = (
            rng.normal(0, 0.9, n)
            + 0.25 * self.log_size
            + np.array([row[2] for row in INDUSTRIES])[self.industry]
            + np.array([row[2] for row in LEAD_SOURCES])[self.lead_source]
        )
        # A customer's health: mostly its intent, partly luck; low health makes a fall in usage likelier.
        self.health = 0.7 * self.intent + rng.normal(0, 0.7, n)
        self.offsets = np.array([row[2] for row in COUNTRIES], dtype=float)[self.country]
        self.revenue = np.round(self.employees * rng.lognormal(np.log(170_000), 0.45, n), -3)
        self.revenue[(rng.random(n) < 0.2) | (~self.employees_known & (rng.random(n) < 0.6))] = np.nan
        self.billing_annual = rng.random(n) < 0.3

        # Older customers (about 15%) were won before the window and pay on its first day; the others are
        # created during the window, more of them lately (the company is growing).
        self.is_old = rng.random(n) < 0.15
        created_day = np.where(self.is_old, -rng.integers(60, 720, n), np.floor(WINDOW_DAYS * rng.random(n) ** 0.8))
        self.created_day = created_day.astype(np.int64)
        self.created_tod = _business_seconds(rng, self.offsets)
        self.account_created = self.created_day * DAY + self.created_tod
        source_names = np.array([row[0] for row in LEAD_SOURCES])[self.lead_source]
        self.enters_as_trial = (rng.random(n) < 0.22) | (source_names == "product-signup")

        # State, per account.
        self.stage = np.full(n, NOT_YET)
        self.since = np.zeros(n, dtype=np.int64)  # day the current stage was entered
        self.floor = np.zeros(n, dtype=np.int64)  # seconds into today before which no signal of today may fall
        self.trial_end = np.zeros(n, dtype=np.int64)
        self.trial_extended = np.zeros(n, dtype=bool)
        self.paid_day = np.zeros(n, dtype=np.int64)  # billing anniversary
        self.seats = np.zeros(n, dtype=np.int64)  # people using the product (first user + those invited)
        self.activity = np.zeros(n)  # usage multiplier: grows for healthy customers, decays when declining
        self.declining = np.zeros(n, dtype=bool)
        self.seat_cap = np.where(self.employees_known, np.maximum(3, 0.6 * self.employees), 40.0)
        self.cumulative = np.zeros((N_GROUPS, n, WINDOW_DAYS + 1), dtype=np.int32)  # signals per group, summed

        # What the simulation records.
        self.tr_account: list[np.ndarray] = []
        self.tr_stage: list[np.ndarray] = []
        self.tr_time: list[np.ndarray] = []
        self.daily: list[tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]] = []  # acc, day, type, n, floor
        self.events: list[tuple[int, int, int, str, dict[str, Any]]] = []  # account, type, time, detail, properties

        self.day_factor = _calendar(rng, self.start)
        self.rates = np.array([spec.rates for spec in TYPES]).T  # (stage, type)
        self.intent_factor = np.exp(np.outer(self.intent, [spec.intent for spec in TYPES]))  # (account, type)
        scale = np.array([spec.scale for spec in TYPES])
        self.seat_cols, self.act_cols = np.flatnonzero(scale == "seats"), np.flatnonzero(scale == "act")
        self.group_of = np.zeros((len(TYPES), N_GROUPS), dtype=np.int32)
        for t, spec in enumerate(TYPES):
            if spec.group is not None:
                self.group_of[t, spec.group] = 1

    # --- helpers ----------------------------------------------------------------------------------------------
    def window(self, group: int, day: int, days: int) -> np.ndarray:
        """Signals of a group per account over the ``days`` days ending with ``day`` (included)."""
        return self.cumulative[group, :, day + 1] - self.cumulative[group, :, max(0, day + 1 - days)]

    def record(self, idx: np.ndarray, to: int | np.ndarray, times: np.ndarray) -> None:
        self.tr_account.append(idx.astype(np.int64))
        self.tr_stage.append(np.broadcast_to(np.asarray(to, dtype=np.int64), idx.shape).copy())
        self.tr_time.append(times.astype(np.int64))

    def order(self, idx: np.ndarray, times: np.ndarray, detail: str) -> None:
        """An order signal for each account at its current plan (new, upgrade, downgrade, renewal)."""
        for a, t in zip(idx.tolist(), times.tolist(), strict=True):
            plan, annual = int(self.stage[a]), bool(self.billing_annual[a])
            amount = PLAN_PRICES[plan] * (12 * 0.85 if annual else 1.0)
            props = {"plan": STAGE_KEYS[plan], "amount": round(amount, 2), "currency": "EUR",
                     "billing": "annual" if annual else "monthly"}  # fmt: skip
            self.events.append((a, TYPE_INDEX["order"], t + int(self.rng.integers(60, 1800)), detail, props))

    def start_trial(self, idx: np.ndarray, day: int, tod: np.ndarray) -> None:
        self.trial_end[idx] = day + TRIAL_DAYS
        self.seats[idx] = np.maximum(self.seats[idx], 1)
        self.activity[idx] = np.exp(0.35 * self.intent[idx] + self.rng.normal(0, 0.3, len(idx)))
        for a, t in zip(idx.tolist(), (day * DAY + tod).tolist(), strict=True):
            when = t + int(self.rng.integers(10, 120))
            self.events.append((a, TYPE_INDEX["trial-started"], when, "", {"plan": "corporate"}))

    # --- phases -----------------------------------------------------------------------------------------------
    def old_customers(self) -> None:
        """Write the history of customers won before the window (lead → trial → paying, maybe an expansion);
        on day 0 they are paying, with a team already using the product."""
        rng, old = self.rng, np.flatnonzero(self.is_old)
        k = len(old)
        corporate = rng.random(k) < _sigmoid(0.8 * self.log_size[old] + 0.3 * self.intent[old] - 0.6)
        tier = np.where(corporate, CORPORATE, STARTER)
        tier = np.where(corporate & (self.employees[old] >= 500) & (rng.random(k) < 0.5), ENTERPRISE, tier)
        trial_day = self.created_day[old] + rng.integers(1, 20, k)
        convert_day = trial_day + rng.integers(10, 28, k)
        expanded = (tier > STARTER) & (rng.random(k) < 0.6)
        # strictly after the conversion day and before the window
        expand_day = convert_day + 1 + np.floor(rng.random(k) * (-2 - convert_day)).astype(np.int64)
        offsets = self.offsets[old]
        self.record(old, LEAD, self.account_created[old])
        self.record(old, TRIAL, trial_day * DAY + _business_seconds(rng, offsets))
        self.record(old, np.where(expanded, tier - 1, tier), convert_day * DAY + _business_seconds(rng, offsets))
        self.record(
            old[expanded], tier[expanded], expand_day[expanded] * DAY + _business_seconds(rng, offsets[expanded])
        )
        self.stage[old] = tier
        self.since[old] = np.where(expanded, expand_day, convert_day)
        self.paid_day[old] = convert_day
        seats = np.round(rng.lognormal(np.log(2 + self.employees[old] ** 0.35), 0.5))
        self.seats[old] = np.clip(seats, 1, 60).astype(np.int64)
        self.activity[old] = np.exp(0.3 * self.intent[old] + rng.normal(0, 0.3, k))

    def births(self, d: int) -> None:
        """Accounts created today enter as a lead, or straight into a trial (self-serve sign-up)."""
        born = np.flatnonzero((self.created_day == d) & ~self.is_old)
        if not len(born):
            return
        entry = np.where(self.enters_as_trial[born], TRIAL, LEAD)
        self.stage[born], self.since[born] = entry, d
        self.floor[born] = np.minimum(self.created_tod[born] + STAGE_SETTLE, DAY - 1)
        self.record(born, entry, self.account_created[born])
        trials = born[entry == TRIAL]
        self.start_trial(trials, d, self.created_tod[trials])

    def signals(self, d: int) -> None:
        """Today's signals: Poisson counts per account and type from stage, intent, activity and seats."""
        stage, seats, activity, declining = self.stage, self.seats, self.activity, self.declining
        alive = stage >= 0
        lam = self.rates[np.maximum(stage, 0)] * alive[:, None] * self.intent_factor
        lam[:, self.seat_cols] *= (USAGE_VOLUME * activity * np.maximum(seats, 1) ** 0.6)[:, None]
        lam[:, self.act_cols] *= activity[:, None]
        lam[:, SUPPORT] *= np.sqrt(np.maximum(seats, 1)) * (1 + 3 * declining)  # trouble shows in tickets
        lam[:, INVITE] *= activity * np.clip(1 - seats / self.seat_cap, 0.03, 1)  # fewer left to invite
        # sales follows up demo and quote requests; CS calls the customers whose usage falls
        asked = d > 0 and (self.window(G_DEMO, d - 1, 5) + self.window(G_QUOTE, d - 1, 5)) > 0
        lam[:, SALES_CALL] += 0.35 * (asked & (stage <= FREEMIUM) & alive)
        lam[:, CHECK_IN] *= 1 + declining
        counts = self.rng.poisson(lam * self.day_factor[d])
        acc, typ = np.nonzero(counts)
        self.daily.append((acc, d, typ, counts[acc, typ], self.floor[acc]))
        self.seats += counts[:, INVITE]
        self.cumulative[:, :, d + 1] = self.cumulative[:, :, d] + (counts @ self.group_of).T

        # renewals on the billing anniversary
        paying = (stage >= STARTER) & (stage <= ENTERPRISE)
        months = d - self.paid_day
        renew = np.flatnonzero(paying & (months > 0) & (months % np.where(self.billing_annual, 365, 30) == 0))
        if len(renew):
            floor = self.floor[renew]
            tod = floor + _business_seconds(self.rng, self.offsets[renew]) * (DAY - floor) // DAY
            self.order(renew, d * DAY + tod, "renewal")

    def drift(self) -> None:
        """Activity drifts: healthy customers grow, declining ones fall off, free users drift away slowly."""
        rng, stage, n = self.rng, self.stage, self.n
        paying = (stage >= STARTER) & (stage <= ENTERPRISE)
        onset = paying & ~self.declining & (rng.random(n) < 0.004 * np.exp(-1.1 * self.health))
        recover = self.declining & (rng.random(n) < 0.006)
        self.declining = (self.declining | onset) & ~recover
        rate = np.select(
            [paying & self.declining, paying, stage == FREEMIUM, stage == TRIAL],
            [-1 / 28, 0.002 * self.health, -0.006 + 0.003 * self.intent, 0.01 * self.intent],
            0.0,
        )
        self.activity = np.clip(self.activity * np.exp(rate + rng.normal(0, 0.03, n)), 0.01, 3.0)

    def decide(self, d: int) -> list[tuple[np.ndarray, int | np.ndarray, str]]:
        """Tomorrow's moves, from the behaviour recorded up to today: [(accounts, to stage, order detail)]."""
        rng, n, stage, intent, w = self.rng, self.n, self.stage, self.intent, self.window
        u = rng.random((12, n))
        age = d + 1 - self.since
        pricing14, demo14, quote14 = w(G_PRICING, d, 14), w(G_DEMO, d, 14), w(G_QUOTE, d, 14)
        invite14, integration14, usage14 = w(G_INVITE, d, 14), w(G_INTEGRATION, d, 14), w(G_USAGE, d, 14)
        moves: list[tuple[np.ndarray, int | np.ndarray, str]] = []

        # Leads start a trial when they show intent: pricing views, demo requests, content, CTA clicks.
        lead_logit = (
            -6.0 + 0.4 * intent + 0.4 * pricing14 + 1.4 * demo14 + 0.25 * w(G_NURTURE, d, 14) + 0.4 * w(G_CTA, d, 14)
        )
        go = (stage == LEAD) & (age >= 1) & (u[0] < _sigmoid(lead_logit))
        moves += [(np.flatnonzero(go & (u[1] >= 0.12)), TRIAL, ""), (np.flatnonzero(go & (u[1] < 0.12)), FREEMIUM, "")]

        # Trials buy (a few early, most at the end) in proportion to what they did in the last four weeks;
        # hesitant ones with sales contact get two more weeks; the rest keep a free plan or expire.
        pricing28, invite28, demo28, quote28 = (
            w(G_PRICING, d, 28),
            w(G_INVITE, d, 28),
            w(G_DEMO, d, 28),
            w(G_QUOTE, d, 28),
        )
        trial_score = (
            0.15 * pricing28 + 0.3 * invite28 + 0.5 * w(G_INTEGRATION, d, 28) + 0.9 * demo28 + 0.6 * quote28
            + 0.2 * intent
        )  # fmt: skip
        in_trial = stage == TRIAL
        early = in_trial & (u[2] < _sigmoid(-9.5 + trial_score))
        ending = in_trial & (d + 1 >= self.trial_end) & ~early
        extend = ending & ~self.trial_extended & (((demo28 + quote28) > 0) | (pricing28 >= 3)) & (u[3] < 0.35)
        ending &= ~extend
        converts = early | (ending & (u[4] < _sigmoid(-3.9 + trial_score)))
        rest = ending & ~converts
        to_freemium = rest & (u[5] < _sigmoid(-2.0 + 0.04 * w(G_USAGE, d, 28)))
        moves += [(np.flatnonzero(rest & ~to_freemium), EXPIRED, ""), (np.flatnonzero(to_freemium), FREEMIUM, "")]
        self.trial_extended |= extend
        self.trial_end[extend] += TRIAL_DAYS
        for a in np.flatnonzero(extend).tolist():
            when = (d + 1) * DAY + int(_business_seconds(rng, self.offsets[a : a + 1])[0])
            self.events.append((a, TYPE_INDEX["trial-extended"], when, "", {"days": TRIAL_DAYS}))

        # Free accounts that come back buy too (freemium upgrades, win-backs of expired trials and churned ones).
        free_logit = (
            -7.3 + 0.4 * pricing14 + 0.4 * invite14 + 0.5 * integration14 + 1.2 * demo14 + 0.8 * quote14
            + 0.02 * usage14 + 0.2 * intent
        )  # fmt: skip
        converts |= (stage == FREEMIUM) & (u[6] < _sigmoid(free_logit))
        converts |= (stage == EXPIRED) & (u[6] < _sigmoid(-8.5 + 0.5 * pricing14 + 1.5 * demo14 + quote14))
        reactivates = (stage == CHURN) & (u[6] < _sigmoid(-9.5 + 0.6 * w(G_PRICING, d, 30) + 1.5 * demo14))
        # The plan bought follows company size and intent; the biggest talk to sales and may go enterprise.
        plan = np.where(0.8 * self.log_size + 0.4 * intent + rng.normal(0, 0.5, n) > 0.9, CORPORATE, STARTER)
        plan = np.where((self.employees >= 1000) & (demo28 > 0) & (u[7] < 0.3), ENTERPRISE, plan)
        bought = np.flatnonzero(converts)
        moves += [(bought, plan[bought], "new"), (np.flatnonzero(reactivates), STARTER, "new")]
        # Free accounts that have not used the product for six weeks are lost.
        free_churn = ~converts & (stage == FREEMIUM) & (age >= 45) & (w(G_USAGE, d, 42) == 0) & (u[8] < 0.03)

        # Paying accounts: falling usage and support tickets lead to churn or a smaller plan; rising usage, new
        # seats, integrations and sales conversations lead to a bigger plan.
        paying = (stage >= STARTER) & (stage <= ENTERPRISE)
        baseline_days = min(max(d + 1 - 14, 0), 60)
        baseline = self.cumulative[G_USAGE, :, max(0, d + 1 - 14)] - self.cumulative[G_USAGE, :, max(0, d + 1 - 74)]
        log_trend = np.log((usage14 / 14 + 0.5) / (baseline / max(baseline_days, 1) + 0.5))
        if baseline_days < 14:
            log_trend[:] = 0.0  # too little history to tell a trend
        falling = np.clip(-log_trend, 0, 3)
        tickets30 = np.minimum(w(G_SUPPORT, d, 30), 5)
        churn_logit = -8.6 + 3.0 * falling + 0.5 * tickets30 - 0.3 * intent
        churns = paying & (age >= 30) & (u[9] < _sigmoid(churn_logit))
        contract_logit = -9.0 + 1.4 * falling + 0.3 * tickets30
        contracts = paying & (stage > STARTER) & (age >= 45) & ~churns & (u[10] < _sigmoid(contract_logit))
        expand_logit = (
            -7.0 + 0.45 * w(G_INVITE, d, 30) + 0.5 * w(G_INTEGRATION, d, 30) + 1.4 * np.clip(log_trend, -1, 1)
            + 0.8 * w(G_QUOTE, d, 30) + 0.8 * w(G_DEMO, d, 30) + 0.3 * intent
        )  # fmt: skip
        small_for_enterprise = (stage == CORPORATE) & self.employees_known & (self.employees < 200)
        expand_p = _sigmoid(expand_logit) * np.where(small_for_enterprise, 0.25, 1.0)
        expands = paying & (stage < ENTERPRISE) & (age >= 45) & ~churns & ~contracts & (u[11] < expand_p)
        contr, expa = np.flatnonzero(contracts), np.flatnonzero(expands)
        moves += [(np.flatnonzero(churns | free_churn), CHURN, "")]
        moves += [(contr, stage[contr] - 1, "downgrade"), (expa, stage[expa] + 1, "upgrade")]
        return moves

    def apply(self, moves: list[tuple[np.ndarray, int | np.ndarray, str]], day: int) -> None:
        """Move accounts at a business hour of ``day``; that day's signals come after the move."""
        tod = _business_seconds(self.rng, self.offsets)
        for idx, to, detail in moves:
            if not len(idx):
                continue
            times = day * DAY + tod[idx]
            before = self.stage[idx].copy()
            self.stage[idx], self.since[idx] = to, day
            self.floor[idx] = np.minimum(tod[idx] + STAGE_SETTLE, DAY - 1)
            self.record(idx, to, times)
            if np.isscalar(to) and to == TRIAL:
                self.start_trial(idx, day, tod[idx])
            elif np.isscalar(to) and to == FREEMIUM:
                self.activity[idx] *= 0.6
            elif np.isscalar(to) and to == CHURN:
                self.declining[idx] = False
            if detail == "new":  # a purchase (from a trial, a free plan, or after churning)
                self.paid_day[idx] = day
                restart = np.exp(0.3 * self.intent[idx]) * 0.7
                self.activity[idx] = np.where(before == TRIAL, self.activity[idx], restart)
                self.seats[idx] = np.maximum(self.seats[idx], 1)
            if detail:
                self.order(idx, times, detail)

    def run(self) -> None:
        self.old_customers()
        for d in range(WINDOW_DAYS):
            self.births(d)
            self.signals(d)
            self.drift()
            self.floor[:] = 0
            if d + 1 < WINDOW_DAYS:
                self.apply(self.decide(d), d + 1)

    # --- results ----------------------------------------------------------------------------------------------
    def signal_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], list[dict[str, Any]]]:
        """Every signal as (account, type, time, event index) sorted by time, with the events' details and
        properties (index 0: none)."""
        rng = self.rng
        acc, day, typ, count, floor = (np.concatenate([np.broadcast_to(r[i], r[0].shape) for r in self.daily])
                                       for i in range(5))  # fmt: skip
        repeat = np.repeat(np.arange(len(count)), count)
        s_account, s_type, s_day, s_floor = acc[repeat], typ[repeat], day[repeat], floor[repeat]
        spread = np.array([0.7 if spec.timing == "product" else 0.85 for spec in TYPES])[s_type]
        tod = _business_seconds(rng, self.offsets[s_account], spread=spread)
        s_time = s_day * DAY + s_floor + tod * (DAY - s_floor) // DAY  # squeezed after a stage change that day
        s_event = np.zeros(len(s_type), dtype=np.int64)
        details: list[str] = [""]
        properties: list[dict[str, Any]] = [{}]
        if self.events:
            ev = np.array([(a, t, when) for a, t, when, _detail, _props in self.events], dtype=np.int64)
            s_account = np.concatenate([s_account, ev[:, 0]])
            s_type = np.concatenate([s_type, ev[:, 1]])
            s_time = np.concatenate([s_time, np.minimum(ev[:, 2], WINDOW_DAYS * DAY - 1)])
            s_event = np.concatenate([s_event, np.arange(1, len(self.events) + 1)])
            details += [detail for _a, _t, _when, detail, _props in self.events]
            properties += [props for _a, _t, _when, _detail, props in self.events]
        order = np.lexsort((s_type, s_account, s_time))
        return s_account[order], s_type[order], s_time[order], s_event[order], details, properties

    def people(self, s_account: np.ndarray, s_time: np.ndarray, s_type: np.ndarray) -> tuple[np.ndarray, ...]:
        """Contacts as (account, created, is user), sorted by account then creation: each account's first person,
        the users invited in the product (created when invited), and people met through marketing."""
        rng, n = self.rng, self.n
        invited = s_type == INVITE
        # older customers' first users joined between the account's creation and the window start
        initial = np.where(self.is_old, self.seats - np.bincount(s_account[invited], minlength=n), 1)
        initial = np.maximum(initial, 1)
        extra = np.repeat(np.arange(n), initial - 1)
        marketing = np.repeat(np.arange(n), rng.poisson(2.0 + 2.0 * np.log10(self.employees + 1)))
        marketing_from = np.maximum(self.account_created[marketing], 0)
        c_account = np.concatenate([np.arange(n), extra, s_account[invited], marketing])
        c_created = np.concatenate(
            [
                self.account_created,
                self.account_created[extra] - (rng.random(len(extra)) * self.account_created[extra]).astype(np.int64),
                s_time[invited] + rng.integers(60, 3600, int(invited.sum())),
                marketing_from + (rng.random(len(marketing)) * (WINDOW_DAYS * DAY - marketing_from)).astype(np.int64),
            ]
        )
        c_user = np.concatenate([np.ones(n + len(extra) + int(invited.sum()), bool), np.zeros(len(marketing), bool)])
        order = np.lexsort((c_created, c_account))  # stable: each account's first person stays first
        return c_account[order], c_created[order], c_user[order]

    def account_fields(self) -> tuple[list[dict[str, Any]], list[str | None]]:
        """Traits (lead source, campaign, plan, billing, seats) and owner of each account, from how it ended."""
        draw = self.rng.random(self.n)
        traits: list[dict[str, Any]] = []
        owners: list[str | None] = []
        for a in range(self.n):
            stage, source = int(self.stage[a]), LEAD_SOURCES[self.lead_source[a]][0]
            item: dict[str, Any] = {"lead_source": source}
            if source in ("paid-search", "linkedin"):
                item["utm_campaign"] = CAMPAIGNS[a % len(CAMPAIGNS)]
            cs_owner = OWNERS[0] if draw[a] < 0.5 else OWNERS[1]
            if STARTER <= stage <= ENTERPRISE:
                billing = "annual" if self.billing_annual[a] else "monthly"
                item.update(plan=STAGE_KEYS[stage], billing=billing, seats=int(self.seats[a]))
                owners.append(cs_owner)  # customers belong to customer success
            elif stage in (CHURN, EXPIRED):
                item["plan"] = "none"
                owners.append(cs_owner if stage == CHURN else OWNERS[2])
            else:  # leads, trials and free plans belong to sales; some fresh leads are not assigned yet
                if stage != LEAD:
                    item.update(plan="free", seats=int(self.seats[a]))
                owners.append(OWNERS[2] if draw[a] < 0.75 or stage != LEAD else None)
            traits.append(item)
        return traits, owners


def demo_simulate(*, accounts: int = 300, seed: int = 42, now: datetime | None = None) -> DemoWorld:
    """Simulate the demo world: firmographics, nine months of daily behaviour and the stage moves it causes.

    Pure NumPy with one seeded generator: the same arguments give the same world.
    """
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    sim = _Simulation(accounts=accounts, seed=seed, now=demo_anchor(now))
    sim.run()
    rng, n = sim.rng, sim.n
    s_account, s_type, s_time, s_event, event_details, event_properties = sim.signal_rows()
    c_account, c_created, c_user = sim.people(s_account, s_time, s_type)
    s_contact = _assign_contacts(rng, s_account, s_type, s_time, c_account, c_created, c_user, n)
    inbound = np.array([spec.direction == IN for spec in TYPES])[s_type]
    c_last_seen = np.full(len(c_account), -1, dtype=np.int64)
    seen = inbound & (s_contact >= 0)
    np.maximum.at(c_last_seen, s_contact[seen], s_time[seen])
    names, domains = _brands(rng, n, sim.country)
    first, last, email, title = _people(rng, c_account, c_user, sim.employees, sim.employees_known, domains)
    s_topic, s_detail, s_properties, s_anonymous = _signal_details(
        rng, s_account, s_type, s_contact, s_event, event_details, event_properties, sim.industry, sim.health
    )
    traits, owners = sim.account_fields()
    return DemoWorld(
        start=sim.start,
        now=sim.now,
        names=names,
        domains=domains,
        industries=[INDUSTRIES[i][0] for i in sim.industry],
        countries=[COUNTRIES[i][0] for i in sim.country],
        employees=np.where(sim.employees_known, sim.employees, -1),
        revenue=sim.revenue,
        account_created=sim.account_created,
        account_traits=traits,
        account_owner=owners,
        final_stage=sim.stage.copy(),
        tr_account=np.concatenate(sim.tr_account),
        tr_stage=np.concatenate(sim.tr_stage),
        tr_time=np.concatenate(sim.tr_time),
        c_account=c_account,
        c_created=c_created,
        c_first=first,
        c_last=last,
        c_email=email,
        c_title=title,
        c_last_seen=c_last_seen,
        s_account=s_account,
        s_type=s_type,
        s_time=s_time,
        s_contact=s_contact,
        s_topic=s_topic,
        s_detail=s_detail,
        s_properties=s_properties,
        s_anonymous=s_anonymous,
        s_received_delay=rng.integers(1, 180, len(s_type)),
    )


def _assign_contacts(
    rng: np.random.Generator,
    s_account: np.ndarray,
    s_type: np.ndarray,
    s_time: np.ndarray,
    c_account: np.ndarray,
    c_created: np.ndarray,
    c_user: np.ndarray,
    n_accounts: int,
) -> np.ndarray:
    """Pick the contact of each signal among the account's people who existed at that moment.

    Product signals come from users (the first person and those invited), sales signals from the first two people
    (the deciders), marketing signals from anyone; some web visits and most ad clicks stay anonymous.
    """

    def key(account: np.ndarray, moment: np.ndarray) -> np.ndarray:
        """One sortable number per (account, time); times may be negative (accounts older than the window)."""
        return account.astype(np.int64) * (np.int64(1) << 40) + (moment + (np.int64(1) << 36))

    who = np.array([spec.who for spec in TYPES])[s_type]
    u = rng.random(len(s_type))
    # anyone, or the deciders
    all_keys = key(c_account, c_created)
    first_of = np.searchsorted(c_account, np.arange(n_accounts))
    known = np.searchsorted(all_keys, key(s_account, s_time), side="right") - first_of[s_account]
    known = np.where(who == "decider", np.minimum(known, 2), known)
    pick = first_of[s_account] + np.floor(u * known).astype(np.int64)
    contact = np.where(known > 0, pick, -1)
    # users only
    users = np.flatnonzero(c_user)
    user_keys = all_keys[users]
    first_user = np.searchsorted(c_account[users], np.arange(n_accounts))
    n_users = np.searchsorted(user_keys, key(s_account, s_time), side="right") - first_user[s_account]
    user_pick = users[np.minimum(first_user[s_account] + np.floor(u * n_users).astype(np.int64), len(users) - 1)]
    contact = np.where(who == "user", np.where(n_users > 0, user_pick, -1), contact)
    anonymous = rng.random(len(s_type))
    contact[(who == "web") & (anonymous < 0.45)] = -1
    contact[(who == "ad") & (anonymous < 0.85)] = -1
    return contact


def _people(
    rng: np.random.Generator,
    c_account: np.ndarray,
    c_user: np.ndarray,
    employees: np.ndarray,
    employees_known: np.ndarray,
    domains: list[str],
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Names, emails and titles; a few with free email domains, junk names or no title, as in real CRMs."""
    m = len(c_account)
    first_idx = rng.integers(0, len(FIRST_NAMES), m)
    last_idx = rng.integers(0, len(LAST_NAMES), m)
    junk = rng.random(m) < 0.03
    small = employees[c_account] < 20
    free_mail = (junk & (rng.random(m) < 0.8)) | (rng.random(m) < np.where(small, 0.25, 0.1))
    free_domain = rng.integers(0, len(FREE_EMAIL_DOMAINS), m)
    junk_idx = rng.integers(0, len(JUNK_NAMES), (m, 2))
    number = rng.integers(1, 99, m)
    title_draw = rng.random(m)
    title_idx = rng.integers(0, 1000, m)
    position = np.arange(m) - np.searchsorted(c_account, c_account)  # 0 for each account's first person
    first, last, email, title = [], [], [], []
    seen: set[str] = set()
    for i in range(m):
        if junk[i]:
            fn, ln = JUNK_NAMES[junk_idx[i, 0]], JUNK_NAMES[junk_idx[i, 1]]
        else:
            fn, ln = FIRST_NAMES[first_idx[i]], LAST_NAMES[last_idx[i]]
        first.append(fn)
        last.append(ln)
        local = f"{fn}.{ln}".lower().replace(" ", "")
        if free_mail[i]:
            address = f"{local}{number[i]}@{FREE_EMAIL_DOMAINS[free_domain[i]]}"
        else:
            address = f"{local}@{domains[c_account[i]]}"
        k = 2
        candidate = address
        while candidate in seen:
            candidate = address.replace("@", f"{k}@")
            k += 1
        seen.add(candidate)
        email.append(candidate)
        pool: tuple[str, ...]
        if position[i] == 0:
            pool = FOUNDER_TITLES if employees_known[c_account[i]] and employees[c_account[i]] < 50 else SENIOR_TITLES
        elif c_user[i]:
            pool = USER_TITLES
        else:
            pool = MARKETING_TITLES
        title.append("" if title_draw[i] < 0.08 and position[i] else pool[title_idx[i] % len(pool)])
    return first, last, email, title


def _signal_details(  # noqa: C901, PLR0912 — one branch per signal type's details, in the simulation's order
    rng: np.random.Generator,
    s_account: np.ndarray,
    s_type: np.ndarray,
    s_contact: np.ndarray,
    s_detail_code: np.ndarray,
    ev_details: list[str],
    ev_props: list[dict[str, Any]],
    industry: np.ndarray,
    health: np.ndarray,
) -> tuple[np.ndarray, list[str], list[dict[str, Any]], list[str]]:
    """Topic, detail, properties and anonymous id of each signal."""
    m = len(s_type)
    topic = np.full(m, -1, dtype=np.int64)
    u_topic, u_pick, u_industry = rng.random(m), rng.random(m), rng.random(m)
    industry_topic = np.array([TOPIC_INDEX.get(f"industry--{row[0].lower()}", -1) for row in INDUSTRIES])
    for t, spec in enumerate(TYPES):
        if not spec.topics:
            continue
        rows = np.flatnonzero((s_type == t) & (u_topic < spec.topic_share))
        choices = np.array([TOPIC_INDEX[k] for k in spec.topics])
        topic[rows] = choices[np.floor(u_pick[rows] * len(choices)).astype(np.int64)]
        if "industry--fintech" in spec.topics:
            # content about the reader's own industry, when there is some
            own = industry_topic[industry[s_account[rows]]]
            use_own = (own >= 0) & (u_industry[rows] < 0.4)
            topic[rows[use_own]] = own[use_own]
    small_int = rng.integers(0, 1_000_000, m)
    visitor = rng.integers(0, 4, m)
    keys = [spec.key for spec in TYPES]
    topic_keys = [key for key, _label, _parent in TOPICS]
    details: list[str] = []
    properties: list[dict[str, Any]] = []
    anonymous: list[str] = []
    for i, (t, a, c, tp, code, r) in enumerate(
        zip(
            s_type.tolist(),
            s_account.tolist(),
            s_contact.tolist(),
            topic.tolist(),
            s_detail_code.tolist(),
            small_int.tolist(),
            strict=True,
        )
    ):
        key = keys[t]
        detail, props = "", {}
        if code:
            detail, props = ev_details[code], ev_props[code]
        elif key == "page-view":
            props = {"path": TOPIC_PATHS.get(topic_keys[tp], "/") if tp >= 0 else ("/", "/blog", "/customers")[r % 3]}
        elif key == "pricing-page-view":
            props = {"path": "/pricing"}
        elif key == "docs-page-view":
            props = {"path": "/docs" + TOPIC_PATHS.get(topic_keys[tp], "/getting-started") if tp >= 0 else "/docs"}
        elif key in ("email-sent", "email-open", "email-click"):
            props = {"campaign": CAMPAIGNS[r % len(CAMPAIGNS)]}
            detail = ("newsletter", "nurture", "product-update")[r % 3]
        elif key == "ad-click":
            props = {"utm_source": ("linkedin", "google", "capterra")[r % 3], "utm_campaign": CAMPAIGNS[r % 5]}
        elif key in ("sales-call", "cs-check-in"):
            props = {"duration_min": 10 + r % 50}
            detail = ("discovery", "follow-up", "negotiation")[r % 3] if key == "sales-call" else "check-in"
        elif key == "support-ticket-opened":
            high = health[a] < -0.8
            props = {"priority": ("high" if high or r % 7 == 0 else ("normal", "low")[r % 2])}
        elif key == "nps-response":
            score = int(np.clip(round(7.5 + 1.8 * health[a] + (r % 5 - 2) * 0.6), 0, 10))
            props = {"score": score}
        elif key == "video-watched":
            props = {"seconds": 20 + r % 600}
        elif key == "webinar-attended":
            props = {"webinar": CAMPAIGNS[r % len(CAMPAIGNS)]}
        elif key == "integration-connected":
            props = {
                "provider": "salesforce" if topic_keys[tp] == "integrations--crm" else ("snowflake", "bigquery")[r % 2]
            }
        details.append(detail)
        properties.append(props)
        anonymous.append(
            f"anon-{a:05d}-{visitor[i]}"
            if c < 0 and key in ("page-view", "pricing-page-view", "cta-click", "ad-click")
            else ""
        )
    return topic, details, properties, anonymous


def _brands(rng: np.random.Generator, n: int, country: np.ndarray) -> tuple[list[str], list[str]]:
    """Unique company names and domains ("Vantaforge GmbH", vantaforge.de)."""
    combos = len(BRAND_HEADS) * len(BRAND_TAILS)
    picks = np.concatenate([rng.permutation(combos) for _ in range(n // combos + 1)])[:n]
    names, domains = [], []
    for a in range(n):
        head, tail = BRAND_HEADS[picks[a] // len(BRAND_TAILS)], BRAND_TAILS[picks[a] % len(BRAND_TAILS)]
        brand = head + tail
        round_ = a // combos
        if round_:
            brand = f"{brand} {('Labs', 'Group', 'Systems', 'Digital')[round_ % 4]}{'' if round_ < 4 else round_}"
        _code, _share, _offset, ending, suffix = COUNTRIES[country[a]]
        slug = brand.lower().replace(" ", "")
        names.append(brand + suffix)
        domains.append(slug + (ending if rng.random() < 0.55 else (".com", ".io")[a % 2]))
    return names, domains


# --- writing the world --------------------------------------------------------------------------------------------
@dataclass
class DemoReport:
    """What ``seed_demo`` did and what is there now: counts, movements, segments, logins and the write key."""

    created: bool
    accounts: int = 0
    contacts: int = 0
    signals: int = 0
    movements: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[DemoLogin, bool]] = field(default_factory=list)  # (login, created now)
    write_key: str = ""  # the secret, only when it was created now
    write_key_prefix: str = ""
    seconds: float = 0.0


def _demo_accounts() -> Any:
    return Account.objects.filter(external_id__startswith=DEMO_PREFIX)


def demo_world_exists() -> bool:
    """Whether a demo world is already in the database (demo accounts, or signals from the demo source)."""
    return _demo_accounts().exists() or Signal.objects.filter(ingestion_source__name=DEMO_SOURCE_NAME).exists()


def demo_world_delete() -> dict[str, int]:
    """Delete the demo world: its signals, accounts (with their contacts, transitions, memberships) and segments.

    Users, signal types, topics and sources stay: they are shared with real data and cheap to keep.
    """
    with transaction.atomic():
        signals, _ = Signal.objects.filter(ingestion_source__name=DEMO_SOURCE_NAME).delete()
        contacts, _ = Contact.objects.filter(external_id__startswith=DEMO_PREFIX).delete()
        accounts, _ = _demo_accounts().delete()
        segments, _ = Segment.objects.filter(
            name__in=[name for name, _d, _c in DEMO_SEGMENTS],
            description__in=[description for _n, description, _c in DEMO_SEGMENTS],
        ).delete()
    return {"signals": signals, "contacts": contacts, "accounts": accounts, "segments": segments}


def demo_users_ensure() -> list[tuple[DemoLogin, bool]]:
    """Create the demo operators that are missing (existing ones keep their password) and their groups."""
    user_model = get_user_model()
    view_permissions = list(
        Permission.objects.filter(
            Q(content_type__app_label__in=("accounts", "signals_app"))
            | Q(
                content_type__app_label="scoring",
                content_type__model__in=("signalrule", "historicalsignalrule", "rulehit"),
            ),
            codename__startswith="view_",
        )
    )
    result = []
    for login in DEMO_LOGINS:
        user = user_model.objects.filter(username=login.username).first()
        created = user is None
        if user is None:
            user = user_model(
                username=login.username,
                email=login.email,
                first_name=login.first_name,
                last_name=login.last_name,
                # Operators work in the inbox and see their team's tasks; only the administrator sees everything.
                is_staff=login.role == "superuser",
                is_superuser=login.role == "superuser",
            )
            user.set_password(login.password)
            user.save()
        if login.group:
            group, _ = Group.objects.get_or_create(name=login.group)
            group.permissions.add(*view_permissions)
            user.groups.add(group)
        result.append((login, created))
    return result


def demo_playbooks_ensure() -> list[Playbook]:
    """The demo teams (members added when missing) and the shipped playbooks (created when missing)."""
    users = {u.username: u for u in get_user_model().objects.filter(username__in=OWNERS)}
    teams = {}
    for name, members in DEMO_TEAMS:
        team, _ = Team.objects.get_or_create(name=name)
        team.members.add(*[users[m] for m in members if m in users])
        teams[name] = team
    playbooks = []
    for spec in DEMO_PLAYBOOKS:
        values = {k: v for k, v in spec.items() if k not in ("name", "team")}
        playbook, _ = Playbook.objects.get_or_create(
            name=spec["name"], defaults={**values, "assign_team": teams[spec["team"]]}
        )
        playbooks.append(playbook)
    return playbooks


def _catalog() -> tuple[dict[str, SignalType], dict[str, SignalTopic]]:
    """The demo's signal types and topics; existing rows (maybe tuned by an admin) are left as they are."""
    types = {t.key: t for t in SignalType.objects.filter(key__in=[spec.key for spec in TYPES])}
    SignalType.objects.bulk_create(
        [
            SignalType(
                key=spec.key,
                label=spec.label,
                category=spec.category,
                default_direction=spec.direction,
                default_source=spec.source,
                is_key_feature=spec.key_feature,
                is_activation_milestone=spec.activation,
            )
            for spec in TYPES
            if spec.key not in types
        ]
    )
    types = {t.key: t for t in SignalType.objects.filter(key__in=[spec.key for spec in TYPES])}
    # The demo's scorecard weighs what the default scorecard weighs (scoring.defaults) and states that it leaves the
    # rest out (0-point rules), instead of letting them take the default weight for types without a rule: a CS lead
    # can give logins or support tickets points in the admin and see the effect with "Preview".
    engagement_rules_ensure(
        rules={spec.key: (0.0, None, None, None) for spec in TYPES if spec.key not in DEFAULT_ENGAGEMENT_RULES},
        reason="demo scorecard: not weighed",
        rescore=False,  # seed_demo scores every account once the world is written
    )
    topics = {t.key: t for t in SignalTopic.objects.filter(key__in=[key for key, _l, _p in TOPICS])}
    for key, label, parent in TOPICS:  # parents come first in TOPICS
        if key not in topics:
            topics[key] = SignalTopic.objects.create(key=key, label=label, parent=topics[parent] if parent else None)
    return types, topics


def _segment_write_key(*, reset: bool) -> tuple[str, str]:
    """The demo's write key for the "Website (Segment)" source: (secret if created now, prefix)."""
    source, _ = IngestionSource.objects.get_or_create(
        name=SEGMENT_SOURCE_NAME, defaults={"kind": IngestionKind.SEGMENT}
    )
    keys = WriteKey.objects.filter(source=source, label=WRITE_KEY_LABEL, revoked_at__isnull=True)
    if reset:
        for key in keys:
            write_key_revoke(key=key)
    elif keys:
        return "", keys[0].prefix
    key, raw = write_key_create(source=source, label=WRITE_KEY_LABEL)
    return raw, key.prefix


def _datetimes(start: datetime, seconds: np.ndarray) -> list[datetime]:
    """Aware datetimes from whole seconds after ``start`` (NumPy does the arithmetic, Python only the tzinfo)."""
    naive = (np.datetime64(start.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]")).tolist()
    return [moment.replace(tzinfo=UTC) for moment in naive]


def _report(report: DemoReport) -> DemoReport:
    """Fill the counts of what is in the database now."""
    accounts = _demo_accounts()
    report.accounts = accounts.count()
    report.contacts = Contact.objects.filter(account__in=accounts).count()
    report.signals = Signal.objects.filter(ingestion_source__name=DEMO_SOURCE_NAME).count()
    report.movements = dict(
        StageTransition.objects.filter(account__in=accounts)
        .values_list("movement")
        .annotate(n=Count("id"))
        .order_by("movement")
    )
    report.segments = dict(
        Segment.objects.filter(name__in=[name for name, _d, _c in DEMO_SEGMENTS])
        .annotate(n=Count("memberships", filter=Q(memberships__exited_at__isnull=True)))
        .values_list("name", "n")
        .order_by("name")
    )
    return report


def demo_world_build(  # noqa: PLR0915 — the demo world's steps in order; split in issue 13 item 2
    *,
    accounts: int = 300,
    seed: int = 42,
    reset: bool = False,
    now: datetime | None = None,
    on_step: Callable[[str], None] | None = None,
    on_signals: Callable[[int, int], None] | None = None,
) -> DemoReport:
    """Build the demo world (or report the one already there). ``reset`` deletes the demo world first.

    The same ``seed`` on the same day (``now`` is taken to midnight UTC) builds the same world. Everything is
    written in one transaction, so a failure leaves nothing half built.
    """
    began = time.monotonic()
    step = on_step or (lambda _message: None)
    with transaction.atomic():
        if reset:
            step("Deleting the demo world")
            demo_world_delete()
        logins = demo_users_ensure()
        demo_playbooks_ensure()
        if demo_world_exists():
            report = _report(DemoReport(created=False, logins=logins))
            report.write_key, report.write_key_prefix = _segment_write_key(reset=False)
            report.seconds = time.monotonic() - began
            return report

        step(f"Simulating {accounts} accounts over {WINDOW_DAYS} days (seed {seed})")
        world = demo_simulate(accounts=accounts, seed=seed, now=now)
        types, topics = _catalog()
        # The default engagement rules of the demo's signal types, now that the types exist: the rescores, the
        # models' training and the score history of the past all count engagement with the same rules.
        scoring_defaults_ensure()
        source, _ = IngestionSource.objects.get_or_create(name=DEMO_SOURCE_NAME, defaults={"kind": IngestionKind.API})
        owners = {u.username: u for u in get_user_model().objects.filter(username__in=OWNERS)}
        stage_by_key = {s.key: s for s in JourneyStage.objects.filter(key__in=STAGE_KEYS)}
        missing = set(STAGE_KEYS) - set(stage_by_key)
        if missing:
            raise RuntimeError(f"journey stages missing (run migrate): {', '.join(sorted(missing))}")

        step(f"Writing {len(world.names)} accounts and {len(world.c_account)} contacts")
        created = _datetimes(world.start, world.account_created)
        account_rows = [
            Account(
                external_id=f"{DEMO_PREFIX}acc-{a + 1:05d}",
                name=world.names[a],
                domain=world.domains[a],
                industry=world.industries[a],
                employees=int(world.employees[a]) if world.employees[a] >= 0 else None,
                annual_revenue=None if np.isnan(world.revenue[a]) else Decimal(int(world.revenue[a])),
                country=world.countries[a],
                created_at=created[a],
                owner=owners.get(name) if (name := world.account_owner[a]) else None,
                traits=world.account_traits[a],
            )
            for a in range(len(world.names))
        ]
        Account.objects.bulk_create(account_rows, batch_size=BATCH_SIZE)
        account_ids = np.array([row.pk for row in account_rows], dtype=np.int64)

        contact_created = _datetimes(world.start, world.c_created)
        last_seen = _datetimes(world.start, np.maximum(world.c_last_seen, 0))
        contact_rows = [
            Contact(
                external_id=f"{DEMO_PREFIX}ct-{c + 1:06d}",
                account_id=int(account_ids[world.c_account[c]]),
                email=world.c_email[c],
                first_name=world.c_first[c],
                last_name=world.c_last[c],
                title=world.c_title[c],
                created_at=contact_created[c],
                last_seen_at=last_seen[c] if world.c_last_seen[c] >= 0 else None,
            )
            for c in range(len(world.c_account))
        ]
        Contact.objects.bulk_create(contact_rows, batch_size=BATCH_SIZE)
        contact_ids = np.array([row.pk for row in contact_rows] + [0], dtype=np.int64)  # [-1] -> 0 -> None

        step(f"Writing {len(world.tr_account)} stage transitions")
        stage_ids = [stage_by_key[key].pk for key in STAGE_KEYS]
        changed = _datetimes(world.start, world.tr_time)
        StageTransition.objects.bulk_create(
            [
                # "entry" is a placeholder: stage_history_rebuild derives from_stage and the movement
                StageTransition(
                    account_id=int(account_ids[a]), to_stage_id=stage_ids[s], changed_at=changed[i], movement="entry"
                )
                for i, (a, s) in enumerate(zip(world.tr_account.tolist(), world.tr_stage.tolist(), strict=True))
            ],
            batch_size=BATCH_SIZE,
        )
        stage_history_rebuild(account_ids=account_ids.tolist())

        total = len(world.s_type)
        step(f"Writing {total} signals")
        type_rows = [types[spec.key] for spec in TYPES]
        type_ids = [t.pk for t in type_rows]
        directions = [t.default_direction for t in type_rows]
        sources = [t.default_source for t in type_rows]
        topic_ids = [topics[key].pk for key, _l, _p in TOPICS] + [None]  # [-1] -> None
        for begin in range(0, total, BATCH_SIZE):
            end = min(begin + BATCH_SIZE, total)
            part = slice(begin, end)
            occurred = _datetimes(world.start, world.s_time[part])
            received = _datetimes(world.start, world.s_time[part] + world.s_received_delay[part])
            rows = []
            for i, (a, t, c, tp) in enumerate(
                zip(
                    account_ids[world.s_account[part]].tolist(),
                    world.s_type[part].tolist(),
                    contact_ids[world.s_contact[part]].tolist(),
                    world.s_topic[part].tolist(),
                    strict=True,
                )
            ):
                n = begin + i
                rows.append(
                    Signal(
                        account_id=a,
                        contact_id=c or None,
                        anonymous_id=world.s_anonymous[n],
                        type_id=type_ids[t],
                        detail=world.s_detail[n],
                        topic_id=topic_ids[tp],
                        direction=directions[t],
                        source=sources[t],
                        occurred_at=occurred[i],
                        received_at=received[i],
                        properties=world.s_properties[n],
                        ingestion_source=source,
                        idempotency_key=f"demo-{n}",
                    )
                )
            Signal.objects.bulk_create(rows, batch_size=BATCH_SIZE)
            if on_signals:
                on_signals(end, total)

        step("Creating segments and evaluating them")
        for name, description, criteria in DEMO_SEGMENTS:
            Segment.objects.get_or_create(name=name, defaults={"description": description, "criteria": criteria})
        segments_evaluate_all()
        report = DemoReport(created=True, logins=logins)
        report.write_key, report.write_key_prefix = _segment_write_key(reset=reset)
        _report(report)
    report.seconds = time.monotonic() - began
    return report
