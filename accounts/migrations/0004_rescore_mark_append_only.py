"""Rescore marks become an append-only queue (see ``RescoreMark``): a surrogate key, the marking transaction's id.

Pending marks are carried over (one row per account, as before)."""

import django.db.models.deletion
from django.db import migrations, models


def carry_over(apps, schema_editor):
    old = apps.get_model("accounts", "RescoreMarkOld")
    new = apps.get_model("accounts", "RescoreMark")
    new.objects.bulk_create(
        [new(account_id=a, marked_at=t) for a, t in old.objects.values_list("account_id", "marked_at").iterator()],
        batch_size=2000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_rescore_mark"),
    ]

    operations = [
        migrations.RenameModel("RescoreMark", "RescoreMarkOld"),
        migrations.AlterField(
            model_name="rescoremarkold",
            name="account",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                primary_key=True,
                related_name="+",
                serialize=False,
                to="accounts.account",
            ),
        ),
        migrations.CreateModel(
            name="RescoreMark",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("marked_at", models.DateTimeField()),
                (
                    "xact",
                    models.BigIntegerField(
                        blank=True, help_text="PostgreSQL: id of the transaction that marked.", null=True
                    ),
                ),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rescore_marks",
                        to="accounts.account",
                    ),
                ),
            ],
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.DeleteModel("RescoreMarkOld"),
    ]
