"""What the demo world is made of: its journey stages, the signal types with their rates per stage, the topics, and
the firmographics accounts are drawn from. Plain data, no Django: categories, directions and sources are the stored
values of ``signals_app.choices`` (tests/klearly/test_demo_catalog.py checks them)."""

from __future__ import annotations

from dataclasses import dataclass

# Stage codes used by the simulation, in the order of the keys created by accounts/migrations/0002.
STAGE_KEYS = ("lead", "trial", "trial-expired", "freemium", "starter", "corporate", "enterprise", "churn")
LEAD, TRIAL, EXPIRED, FREEMIUM, STARTER, CORPORATE, ENTERPRISE, CHURN = range(8)

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


# signals_app.choices' Direction and SignalSource values.
IN, OUT = "inbound", "outbound"
MKT, SALES, PRODUCT = "marketing", "sales", "product"
PRODUCT_TOPICS = (
    "analytics--dashboards", "analytics--reports", "analytics--alerts", "integrations--crm",
    "integrations--data-warehouse", "platform--security", "platform--api",
)  # fmt: skip
CONTENT_TOPICS = (*PRODUCT_TOPICS, "industry--fintech", "industry--healthcare")

#                    lead   trial  expired freemium starter corporate enterprise churn
TYPES: tuple[TypeSpec, ...] = (
    TypeSpec("page-view", "Page view", "web_visits", IN, MKT,
             (0.45, 0.6, 0.12, 0.22, 0.25, 0.25, 0.25, 0.05), intent=0.4, who="web",
             topics=PRODUCT_TOPICS, topic_share=0.7),
    TypeSpec("pricing-page-view", "Pricing page view", "web_visits", IN, MKT,
             (0.06, 0.22, 0.02, 0.05, 0.02, 0.02, 0.015, 0.01), intent=0.9, who="web", group=G_PRICING),
    TypeSpec("docs-page-view", "Docs page view", "web_visits", IN, PRODUCT,
             (0.02, 0.45, 0.01, 0.15, 0.3, 0.3, 0.3, 0.0), intent=0.3, scale="act", timing="product",
             who="user", topics=PRODUCT_TOPICS, topic_share=0.9),
    TypeSpec("email-sent", "Email sent", "emails", OUT, MKT,
             (0.3, 0.3, 0.25, 0.25, 0.15, 0.15, 0.15, 0.08), timing="outbound",
             topics=CONTENT_TOPICS, topic_share=0.6),
    TypeSpec("email-open", "Email open", "emails", IN, MKT,
             (0.1, 0.12, 0.05, 0.07, 0.06, 0.06, 0.06, 0.02), intent=0.5, topics=CONTENT_TOPICS, topic_share=0.6),
    TypeSpec("email-click", "Email click", "emails", IN, MKT,
             (0.02, 0.03, 0.008, 0.015, 0.012, 0.012, 0.012, 0.003), intent=0.7,
             topics=CONTENT_TOPICS, topic_share=0.6),
    TypeSpec("email-reply", "Email reply", "emails", IN, SALES,
             (0.004, 0.01, 0.002, 0.003, 0.008, 0.008, 0.01, 0.001), intent=0.5, timing="sales", who="decider"),
    TypeSpec("cta-click", "Website CTA click", "clicks", IN, MKT,
             (0.04, 0.05, 0.01, 0.03, 0.01, 0.01, 0.01, 0.005), intent=0.6, who="web", group=G_CTA),
    TypeSpec("ad-click", "Ad click", "ads", IN, MKT,
             (0.05, 0.02, 0.02, 0.02, 0.005, 0.005, 0.005, 0.01), intent=0.3, who="ad",
             topics=PRODUCT_TOPICS, topic_share=0.5),
    TypeSpec("demo-request", "Demo request", "evaluation", IN, SALES,
             (0.005, 0.012, 0.002, 0.004, 0.002, 0.002, 0.001, 0.001), intent=1.2, timing="sales", who="decider",
             topics=PRODUCT_TOPICS, topic_share=0.5, group=G_DEMO),
    TypeSpec("quote-requested", "Quote requested", "evaluation", IN, SALES,
             (0.001, 0.008, 0.001, 0.003, 0.003, 0.003, 0.001, 0.0005), intent=1.0, timing="sales", who="decider",
             group=G_QUOTE),
    TypeSpec("sales-call", "Sales call", "calls", OUT, SALES,
             (0.01, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01, 0.005), timing="sales", who="decider"),
    TypeSpec("cs-check-in", "Customer success check-in", "calls", OUT, SALES,
             (0, 0, 0, 0, 0.02, 0.03, 0.05, 0), timing="sales", who="decider"),
    TypeSpec("trial-started", "Trial started", "trials", IN, PRODUCT, scale="event", who="decider"),
    TypeSpec("trial-extended", "Trial extended", "trials", OUT, SALES, scale="event", who="decider"),
    TypeSpec("order", "Order", "orders", IN, SALES, scale="event", who="decider"),
    TypeSpec("support-ticket-opened", "Support ticket opened", "support", IN, PRODUCT,
             (0, 0.02, 0, 0.004, 0.012, 0.015, 0.02, 0), intent=-0.3, scale="support", timing="product",
             who="user", topics=PRODUCT_TOPICS, topic_share=0.8, group=G_SUPPORT),
    TypeSpec("webinar-attended", "Webinar attended", "webinars", IN, MKT,
             (0.12, 0.12, 0.04, 0.06, 0.06, 0.06, 0.06, 0.01), intent=0.6, timing="webinar",
             topics=CONTENT_TOPICS, topic_share=1.0, group=G_NURTURE),
    TypeSpec("virtual-event-joined", "Virtual event joined", "virtual_events", IN, MKT,
             (0.1, 0.1, 0.03, 0.05, 0.08, 0.08, 0.08, 0.01), intent=0.5, timing="virtual",
             topics=CONTENT_TOPICS, topic_share=0.7, group=G_NURTURE),
    TypeSpec("event-attended", "Customer meetup attended", "events", IN, MKT,
             (0.03, 0.03, 0.01, 0.02, 0.1, 0.12, 0.15, 0.0), intent=0.4, timing="meetup"),
    TypeSpec("booth-visit", "Booth visit", "booth", IN, MKT,
             (0.15, 0.1, 0.05, 0.05, 0.08, 0.08, 0.1, 0.02), intent=0.4, timing="tradeshow",
             topics=PRODUCT_TOPICS, topic_share=0.4),
    TypeSpec("whitepaper-download", "White paper download", "white_papers", IN, MKT,
             (0.02, 0.015, 0.005, 0.008, 0.005, 0.005, 0.005, 0.002), intent=0.5,
             topics=CONTENT_TOPICS, topic_share=1.0, group=G_NURTURE),
    TypeSpec("case-study-download", "Case study download", "downloads", IN, MKT,
             (0.012, 0.02, 0.004, 0.008, 0.004, 0.004, 0.004, 0.001), intent=0.6,
             topics=CONTENT_TOPICS, topic_share=1.0, group=G_NURTURE),
    TypeSpec("video-watched", "Video watched", "videos", IN, MKT,
             (0.03, 0.06, 0.01, 0.03, 0.03, 0.03, 0.03, 0.005), intent=0.4,
             topics=PRODUCT_TOPICS, topic_share=0.8, group=G_NURTURE),
    TypeSpec("assessment-completed", "Data maturity assessment completed", "assessments", IN, MKT,
             (0.008, 0.012, 0.002, 0.004, 0.003, 0.003, 0.003, 0), intent=0.8, group=G_NURTURE),
    TypeSpec("login", "Login", "product_usage", IN, PRODUCT,
             (0, 1.0, 0, 0.4, 1.0, 1.0, 1.0, 0), scale="seats", timing="product", who="user", group=G_USAGE),
    TypeSpec("dashboard-viewed", "Dashboard viewed", "product_usage", IN, PRODUCT,
             (0, 1.2, 0, 0.5, 1.4, 1.4, 1.5, 0), scale="seats", timing="product", who="user",
             topics=("analytics--dashboards",), topic_share=1.0, group=G_USAGE),
    TypeSpec("dashboard-created", "Dashboard created", "product_usage", IN, PRODUCT,
             (0, 0.12, 0, 0.04, 0.1, 0.1, 0.1, 0), intent=0.3, scale="seats", timing="product", who="user",
             topics=("analytics--dashboards",), topic_share=1.0, group=G_USAGE, key_feature=True, activation=True),
    TypeSpec("report-exported", "Report exported", "product_usage", IN, PRODUCT,
             (0, 0.08, 0, 0.02, 0.2, 0.25, 0.3, 0), scale="seats", timing="product", who="user",
             topics=("analytics--reports",), topic_share=1.0, group=G_USAGE, key_feature=True),
    TypeSpec("alert-configured", "Alert configured", "product_usage", IN, PRODUCT,
             (0, 0.02, 0, 0.005, 0.04, 0.05, 0.06, 0), scale="seats", timing="product", who="user",
             topics=("analytics--alerts",), topic_share=1.0, group=G_USAGE, key_feature=True),
    TypeSpec("invite-user", "User invited", "product_usage", IN, PRODUCT,
             (0, 0.12, 0, 0.015, 0.02, 0.025, 0.03, 0), intent=0.7, scale="invite", timing="product",
             who="user", group=G_INVITE, key_feature=True, activation=True),
    TypeSpec("integration-connected", "Integration connected", "product_usage", IN, PRODUCT,
             (0, 0.04, 0, 0.008, 0.008, 0.01, 0.012, 0), intent=0.7, scale="act", timing="product", who="user",
             topics=("integrations--crm", "integrations--data-warehouse"), topic_share=1.0, group=G_INTEGRATION,
             key_feature=True, activation=True),
    TypeSpec("api-key-created", "API key created", "product_usage", IN, PRODUCT,
             (0, 0.015, 0, 0.003, 0.006, 0.01, 0.02, 0), intent=0.4, scale="act", timing="product", who="user",
             topics=("platform--api",), topic_share=1.0, key_feature=True),
    TypeSpec("sso-configured", "SSO configured", "product_usage", IN, PRODUCT,
             (0, 0.002, 0, 0, 0.001, 0.003, 0.01, 0), scale="act", timing="product", who="user",
             topics=("platform--security",), topic_share=1.0),
    TypeSpec("nps-response", "NPS response", "other", IN, PRODUCT,
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
PLAN_PRICES = {STARTER: 290, CORPORATE: 990, ENTERPRISE: 3900}  # monthly list price per plan (EUR)
