from django.db import models


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class SignalSource(models.TextChoices):
    SALES = "sales", "Sales"
    MARKETING = "marketing", "Marketing"
    PRODUCT = "product", "Product"


class SignalCategory(models.TextChoices):
    ADS = "ads", "Ads"
    ASSESSMENTS = "assessments", "Assessments"
    BOOTH = "booth", "Booth"
    EMAILS = "emails", "Emails"
    EVALUATION = "evaluation", "Evaluation"
    EVENTS = "events", "Events"
    CALLS = "calls", "Calls"
    TRIALS = "trials", "Trials"
    VIDEOS = "videos", "Videos"
    VIRTUAL_EVENTS = "virtual_events", "Virtual events"
    WEBINARS = "webinars", "Webinars"
    WHITE_PAPERS = "white_papers", "White papers"
    ORDERS = "orders", "Orders"
    DOWNLOADS = "downloads", "Downloads"
    CLICKS = "clicks", "Clicks"
    WEB_VISITS = "web_visits", "Web visits"
    SUPPORT = "support", "Support"
    PRODUCT_USAGE = "product_usage", "Product usage"
    OTHER = "other", "Other"


class IngestionKind(models.TextChoices):
    API = "api", "REST API"
    SEGMENT = "segment", "Segment-compatible events"
    CSV = "csv", "CSV import"


class UpdatePolicy(models.TextChoices):
    """Which existing accounts and contacts an ingestion source's events may change (write keys are often public)."""

    OWN_RECORDS = "own", "Only the accounts and contacts it created (safe)"
    ALL = "all", "Any account or contact (a trusted, server-side source)"


# Fields of existing records a source may be given in ``owned_fields`` (what group and identify events can set).
OWNABLE_FIELDS = [
    ("account.name", "Account name"),
    ("account.domain", "Account domain"),
    ("account.industry", "Account industry"),
    ("account.employees", "Account employees"),
    ("account.annual_revenue", "Account annual revenue"),
    ("account.country", "Account country"),
    ("account.traits", "Account traits (other attributes)"),
    ("contact.email", "Contact email"),
    ("contact.first_name", "Contact first name"),
    ("contact.last_name", "Contact last name"),
    ("contact.title", "Contact title"),
    ("contact.traits", "Contact traits (other attributes)"),
    ("contact.account", "Contact's account (move a person to another account)"),
]


class ImportKind(models.TextChoices):
    ACCOUNTS = "accounts", "Accounts"
    CONTACTS = "contacts", "Contacts"
    SIGNALS = "signals", "Signals"
    STAGE_TRANSITIONS = "stage_transitions", "Stage transitions"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ErasureVia(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    COMMAND = "command", "Management command"
