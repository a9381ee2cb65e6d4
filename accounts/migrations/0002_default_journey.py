"""The default journey every Klearly starts with; admins rename, add or remove stages later."""

from django.db import migrations

STAGES = [
    # key, name, kind, rank, position
    ("lead", "Lead", "free", 0, 10),
    ("trial", "Trial", "free", 0, 20),
    ("trial-expired", "Trial expired", "free", 0, 25),
    ("freemium", "Freemium", "free", 0, 30),
    ("starter", "Starter", "paying", 1, 40),
    ("corporate", "Corporate", "paying", 2, 50),
    ("enterprise", "Enterprise", "paying", 3, 60),
    ("churn", "Churn", "churn", 0, 90),
]


def create_stages(apps, schema_editor):
    JourneyStage = apps.get_model("accounts", "JourneyStage")
    for key, name, kind, rank, position in STAGES:
        JourneyStage.objects.get_or_create(
            key=key, defaults={"name": name, "kind": kind, "rank": rank, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_stages, migrations.RunPython.noop)]
