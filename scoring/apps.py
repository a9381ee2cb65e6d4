from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Scoring"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save, pre_save

        from accounts.hooks import rescore_all_requested, rescore_requested
        from signals_app.hooks import person_exporting
        from signals_app.models import SignalType

        from . import privacy, receivers
        from .models import CONFIG_MODELS, SignalRule

        rescore_requested.connect(receivers.rescore_soon, dispatch_uid="scoring.rescore_soon")
        rescore_all_requested.connect(receivers.rescore_all_soon, dispatch_uid="scoring.rescore_all_soon")
        person_exporting.connect(privacy.on_person_exporting, dispatch_uid="scoring.person_exporting")
        # What scores read outside signals and the scorecard: signal type flags and labels, signal rules.
        pre_save.connect(receivers.signal_type_before_save, sender=SignalType, dispatch_uid="scoring-type-before")
        post_save.connect(receivers.signal_type_changed, sender=SignalType, dispatch_uid="scoring-type-save")
        post_delete.connect(receivers.signal_type_changed, sender=SignalType, dispatch_uid="scoring-type-del")
        post_save.connect(receivers.signal_rule_changed, sender=SignalRule, dispatch_uid="scoring-rule-save")
        post_delete.connect(receivers.signal_rule_changed, sender=SignalRule, dispatch_uid="scoring-rule-del")
        for model in CONFIG_MODELS:
            name = model.__name__
            post_save.connect(receivers.config_changed, sender=model, dispatch_uid=f"scoring-config-{name}-save")
            post_delete.connect(receivers.config_changed, sender=model, dispatch_uid=f"scoring-config-{name}-del")
