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
