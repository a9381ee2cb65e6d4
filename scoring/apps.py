from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Scoring"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from accounts.hooks import rescore_requested

        from . import receivers
        from .models import CONFIG_MODELS

        rescore_requested.connect(receivers.rescore_soon, dispatch_uid="scoring.rescore_soon")
        for model in CONFIG_MODELS:
            name = model.__name__
            post_save.connect(receivers.config_changed, sender=model, dispatch_uid=f"scoring-config-{name}-save")
            post_delete.connect(receivers.config_changed, sender=model, dispatch_uid=f"scoring-config-{name}-del")
