from django.db import models


class StageKind(models.TextChoices):
    FREE = "free", "Free"
    PAYING = "paying", "Paying"
    CHURN = "churn", "Churn"


class StageAppliesTo(models.TextChoices):
    ACCOUNTS = "accounts", "Accounts"
    CONTACTS = "contacts", "Contacts"
    BOTH = "both", "Accounts and contacts"


class Movement(models.TextChoices):
    """What a stage change means for revenue; always derived from the stages, never typed by hand."""

    ENTRY = "entry", "Entry"
    PROGRESSION = "progression", "Progression"
    CONVERSION = "conversion", "Conversion"
    EXPANSION = "expansion", "Expansion"
    CONTRACTION = "contraction", "Contraction"
    CHURN = "churn", "Churn"
    REACTIVATION = "reactivation", "Reactivation"
    # A record that is no change of stage: the same stage again, or a stage at the same instant as a later-recorded
    # one (which wins). Kept so the history is complete, never counted as a movement.
    NONE = "none", "No change"


class SizeBand(models.TextChoices):
    SMALL = "small", "Small (1-49)"
    MEDIUM = "medium", "Medium (50-999)"
    LARGE = "large", "Large (1000+)"
    UNKNOWN = "unknown", "Unknown"
