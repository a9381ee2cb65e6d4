"""The two signal rules Klearly ships as editable examples (issue 4, after journy.io's playbook examples)."""

from django.db import migrations

RULES = [
    (
        "Expansion opportunity",
        "Established, medium-size customer using the product widely: time to talk about the next tier.",
        {
            "match": "all",
            "conditions": [
                {"field": "tenure_days", "op": "gt", "value": 180},
                {"field": "size_band", "op": "eq", "value": "medium"},
                {"field": "engagement", "op": "gte", "value": 40},
                {"field": "active_users_30d", "op": "gt", "value": 20},
                {"field": "adoption", "op": "gt", "value": 0},
                {"field": "adoption", "op": "gte", "value": 0.75},
            ],
        },
    ),
    (
        "Potential problem account",
        "Established, medium-size customer whose engagement dropped and who barely uses the product.",
        {
            "match": "all",
            "conditions": [
                {"field": "tenure_days", "op": "gt", "value": 180},
                {"field": "size_band", "op": "eq", "value": "medium"},
                {"field": "engagement_trend", "op": "lte", "value": 0.5},
                {"field": "active_users_30d", "op": "lt", "value": 3},
                {"field": "adoption", "op": "lte", "value": 0.2},
            ],
        },
    ),
]


def create_rules(apps, schema_editor):
    SignalRule = apps.get_model("signals_app", "SignalRule")
    for name, description, conditions in RULES:
        SignalRule.objects.get_or_create(name=name, defaults={"description": description, "conditions": conditions})


class Migration(migrations.Migration):
    dependencies = [("signals_app", "0004_signal_rules")]
    operations = [migrations.RunPython(create_rules, migrations.RunPython.noop)]
