"""Default scorecard: the settings row, configuration version 1, fit rules, common free email domains, and engagement rules
for the signal types that exist already (none on an empty database; ``scoring.defaults`` creates them later).

Like every data migration here it uses the historical models and its own copy of the values, never app code.
"""

from django.db import migrations
from django.utils import timezone

KEY_FIELDS = ["domain", "industry", "employees", "country"]
FREE_EMAIL_DOMAINS = [
    "aol.com", "gmail.com", "gmx.com", "gmx.de", "gmx.net", "googlemail.com", "hey.com", "hotmail.co.uk",
    "hotmail.com", "hotmail.fr", "icloud.com", "live.com", "mac.com", "mail.com", "mail.ru", "me.com", "msn.com",
    "outlook.com", "proton.me", "protonmail.com", "qq.com", "t-online.de", "web.de", "yahoo.co.uk", "yahoo.com",
    "yahoo.fr", "yandex.ru", "zoho.com",
]
# key: (points, half-life days, window days, cap) — the same table as scoring/defaults.py at the time of writing.
ENGAGEMENT_RULES = {
    "pricing-page-view": (5, 14, None, 30),
    "demo-request": (15, 30, None, 30),
    "quote-requested": (15, 30, None, 30),
    "whitepaper-download": (8, 30, None, 24),
    "case-study-download": (6, 30, None, 18),
    "video-watched": (6, 21, None, 18),
    "webinar-attended": (8, 30, None, 24),
    "virtual-event-joined": (5, 30, None, 15),
    "email-click": (2, 14, None, 10),
    "email-open": (0.5, 7, None, 5),
    "page-view": (0.5, 7, None, 10),
    "cta-click": (3, 14, None, 12),
    "trial-started": (10, 30, None, 10),
    "invite-user": (4, None, 30, 20),
    "integration-connected": (8, 60, None, 16),
    "dashboard-created": (2, None, 30, 10),
}

# label, field, operator, value, points: the ideal customer profile of a B2B analytics product.
FIT_RULES = [
    ("Target industry", "industry", "in", ["Software", "Fintech", "E-commerce", "Healthcare"], 20),
    ("Small company (10–49 employees)", "employees", "range", {"min": 10, "max": 49}, 10),
    ("Mid-size company (50–999 employees)", "employees", "range", {"min": 50, "max": 999}, 25),
    ("Large company (1000+ employees)", "employees", "range", {"min": 1000}, 30),
    ("Annual revenue of $5M or more", "annual_revenue", "range", {"min": 5000000}, 10),
    ("A VP among the contacts", "contact.title", "contains", "VP", 15),
    ("A C-level among the contacts", "contact.title", "contains", "Chief", 15),
    ("A head of department among the contacts", "contact.title", "contains", "Head of", 10),
    ("No industry known", "industry", "missing", None, -5),
]


def forwards(apps, schema_editor):
    ScoringSettings = apps.get_model("scoring", "ScoringSettings")
    ConfigVersion = apps.get_model("scoring", "ConfigVersion")
    FreeEmailDomain = apps.get_model("scoring", "FreeEmailDomain")
    EngagementRule = apps.get_model("scoring", "EngagementRule")
    SignalType = apps.get_model("signals_app", "SignalType")
    settings, _ = ScoringSettings.objects.get_or_create(pk=1, defaults={"key_fields": KEY_FIELDS})
    ConfigVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    FitRule = apps.get_model("scoring", "FitRule")
    if not FitRule.objects.exists():
        FitRule.objects.bulk_create(
            [FitRule(label=l, field=f, operator=o, value=v, points=p) for l, f, o, v, p in FIT_RULES]
        )
    FreeEmailDomain.objects.bulk_create([FreeEmailDomain(domain=d) for d in FREE_EMAIL_DOMAINS], ignore_conflicts=True)
    types = SignalType.objects.filter(key__in=list(ENGAGEMENT_RULES))
    EngagementRule.objects.bulk_create(
        [
            EngagementRule(
                signal_type=t,
                points=ENGAGEMENT_RULES[t.key][0],
                half_life_days=ENGAGEMENT_RULES[t.key][1],
                window_days=ENGAGEMENT_RULES[t.key][2],
                cap=ENGAGEMENT_RULES[t.key][3],
            )
            for t in types
        ],
        ignore_conflicts=True,
    )
    if types:
        settings.defaults_applied_at = timezone.now()
        settings.save(update_fields=["defaults_applied_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0001_initial"),
        ("signals_app", "0003_signal_fk_indexes_covered"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
