"""Score history at every change: one row per rescore that changed an account's scores (and one a day), not one per day."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_rescore_mark'),
        ('scoring', '0003_predictive'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='scorehistory',
            options={'ordering': ['account_id', '-computed_at'], 'verbose_name_plural': 'score history'},
        ),
        migrations.RemoveConstraint(
            model_name='scorehistory',
            name='score_history_one_per_day',
        ),
        migrations.AddConstraint(
            model_name='scorehistory',
            constraint=models.UniqueConstraint(fields=('account', 'computed_at'), name='score_history_one_per_rescore'),
        ),
    ]
