"""Signal rules and their hits belong to scoring (it alone evaluates and writes them): the models move here from
signals_app in Django's state only; the tables keep their names (``signals_app_signalrule``, ``..._historicalsignalrule``,
``..._rulehit``) and nothing in the database changes but the content types, which move to this app so that
permissions, group grants and admin log entries follow."""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

CONDITIONS_HELP = (
    '{"match": "all"|"any", "conditions": [...]}; a condition is {"field": "tenure_days", "op": "gt", "value": 180}, '
    '{"segment": "Trials"}, or {"signal": {"type": "pricing-page-view"}, "window_days": 7, "op": "at_least", '
    '"count": 3}; groups nest. Fields, operators and examples: docs/conditions.md.'
)
MODELS = ("signalrule", "historicalsignalrule", "rulehit")


def _move_content_types(apps, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        # A row already made for the target (post_migrate of a partial run) would clash: the moved one wins.
        if ContentType.objects.filter(app_label=source, model=model).exists():
            ContentType.objects.filter(app_label=target, model=model).delete()
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def forwards(apps, schema_editor):
    _move_content_types(apps, "signals_app", "scoring")


def backwards(apps, schema_editor):
    _move_content_types(apps, "scoring", "signals_app")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_stage_history_from_accounts_file"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("scoring", "0008_predictive_model_refused"),
        ("signals_app", "0010_import_export_jobs"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="SignalRule",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=120, unique=True)),
                        ("description", models.TextField(blank=True)),
                        ("conditions", models.JSONField(default=dict, help_text=CONDITIONS_HELP)),
                        ("is_active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "signals_app_signalrule", "ordering": ["name"]},
                ),
                migrations.CreateModel(
                    name="HistoricalSignalRule",
                    fields=[
                        ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                        ("name", models.CharField(db_index=True, max_length=120)),
                        ("description", models.TextField(blank=True)),
                        ("conditions", models.JSONField(default=dict, help_text=CONDITIONS_HELP)),
                        ("is_active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(blank=True, editable=False)),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.CharField(max_length=100, null=True)),
                        ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                        ("history_user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "verbose_name": "historical signal rule",
                        "verbose_name_plural": "historical signal rules",
                        "db_table": "signals_app_historicalsignalrule",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name="RuleHit",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("set_at", models.DateTimeField()),
                        ("cleared_at", models.DateTimeField(blank=True, null=True)),
                        ("values", models.JSONField(blank=True, default=dict)),
                        ("evaluated_at", models.DateTimeField()),
                        ("account", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="rule_hits", to="accounts.account")),
                        ("rule", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="hits", to="scoring.signalrule")),
                    ],
                    options={
                        "db_table": "signals_app_rulehit",
                        "ordering": ["-set_at"],
                        "indexes": [models.Index(fields=["account", "cleared_at"], name="rule_hit_account_open_idx")],
                        "constraints": [models.UniqueConstraint(condition=models.Q(("cleared_at__isnull", True)), fields=("rule", "account"), name="rule_hit_one_open")],
                    },
                ),
                migrations.AlterField(
                    model_name="smartsignalproposal",
                    name="signal_rule",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="smart_signal_proposals", to="scoring.signalrule"),
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
