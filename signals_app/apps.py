from django.apps import AppConfig


class SignalsAppConfig(AppConfig):
    name = "signals_app"
    verbose_name = "Signals"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import ingest, receivers
        from .models import EventMapping, IngestionSource, SignalType, WriteKey

        for model in (EventMapping, SignalType):
            post_save.connect(ingest.clear_caches, sender=model, dispatch_uid=f"ingest-cache-{model.__name__}-save")
            post_delete.connect(ingest.clear_caches, sender=model, dispatch_uid=f"ingest-cache-{model.__name__}-del")
        for keyed in (WriteKey, IngestionSource):
            post_save.connect(receivers.forget_write_keys, sender=keyed, dispatch_uid=f"wk-{keyed.__name__}-save")
            post_delete.connect(receivers.forget_write_keys, sender=keyed, dispatch_uid=f"wk-{keyed.__name__}-del")
