from django.apps import AppConfig


class KlearlyConfig(AppConfig):
    """The project package as an app: it hosts cross-app commands such as ``seed_demo``."""

    name = "klearly"
    verbose_name = "Klearly"
