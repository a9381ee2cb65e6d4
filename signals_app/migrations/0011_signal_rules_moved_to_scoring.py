"""Signal rules and their hits moved to scoring (``scoring 0009``): removed from this app's state only; the tables
stay, now scoring's."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("signals_app", "0010_import_export_jobs"),
        ("scoring", "0009_signal_rules_move_here"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="RuleHit"),
                migrations.DeleteModel(name="HistoricalSignalRule"),
                migrations.DeleteModel(name="SignalRule"),
            ],
        ),
    ]
