"""The default weight of signal types without an engagement rule (scoring settings), and one penalty per missing
field: the shipped fit rule "No industry known" (−5) is removed while it is as shipped and industry is a key field
with a penalty, which already takes those points ("Missing industry −5"); the scorecard also skips a key field's
penalty when a fit rule penalises that field missing (``scoring.services.chunk_compute``).

Like every data migration here it uses the historical models, never app code.
"""

import django.core.validators
from django.db import migrations, models


def one_missing_industry_penalty(apps, schema_editor):
    FitRule = apps.get_model("scoring", "FitRule")
    ScoringSettings = apps.get_model("scoring", "ScoringSettings")
    settings = ScoringSettings.objects.filter(pk=1).first()
    if settings is None or "industry" not in (settings.key_fields or []) or not settings.missing_key_field_penalty:
        return
    FitRule.objects.filter(label="No industry known", field="industry", operator="missing", points=-5).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('scoring', '0006_signal_type_keys'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalscoringsettings',
            name='default_cap',
            field=models.FloatField(blank=True, default=10, help_text='At most this many points from each type without a rule. Empty: none.', null=True, validators=[django.core.validators.MinValueValidator(0)], verbose_name='default cap per type'),
        ),
        migrations.AddField(
            model_name='historicalscoringsettings',
            name='default_half_life_days',
            field=models.FloatField(default=30, help_text='A signal of a type without a rule this many days old counts half.', validators=[django.core.validators.MinValueValidator(0.1)], verbose_name='default half-life (days)'),
        ),
        migrations.AddField(
            model_name='historicalscoringsettings',
            name='default_points',
            field=models.FloatField(default=1, help_text="Engagement points per inbound signal of a type without an engagement rule (a customer's own event names count from day one; shown as “Other activity”). Outbound signals (sent by us) do not count. 0: types without a rule count for nothing.", verbose_name='default points per signal'),
        ),
        migrations.AddField(
            model_name='scoringsettings',
            name='default_cap',
            field=models.FloatField(blank=True, default=10, help_text='At most this many points from each type without a rule. Empty: none.', null=True, validators=[django.core.validators.MinValueValidator(0)], verbose_name='default cap per type'),
        ),
        migrations.AddField(
            model_name='scoringsettings',
            name='default_half_life_days',
            field=models.FloatField(default=30, help_text='A signal of a type without a rule this many days old counts half.', validators=[django.core.validators.MinValueValidator(0.1)], verbose_name='default half-life (days)'),
        ),
        migrations.AddField(
            model_name='scoringsettings',
            name='default_points',
            field=models.FloatField(default=1, help_text="Engagement points per inbound signal of a type without an engagement rule (a customer's own event names count from day one; shown as “Other activity”). Outbound signals (sent by us) do not count. 0: types without a rule count for nothing.", verbose_name='default points per signal'),
        ),
        migrations.AlterField(
            model_name='historicalscoringsettings',
            name='missing_key_field_penalty',
            field=models.FloatField(default=5, help_text='Fit points taken per missing key field (not when a fit rule already penalises that field missing).'),
        ),
        migrations.AlterField(
            model_name='scoringsettings',
            name='missing_key_field_penalty',
            field=models.FloatField(default=5, help_text='Fit points taken per missing key field (not when a fit rule already penalises that field missing).'),
        ),
        migrations.RunPython(one_missing_industry_penalty, migrations.RunPython.noop),
    ]
