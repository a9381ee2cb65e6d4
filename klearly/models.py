"""Project-wide models: the API keys other systems use to read and administer Klearly over the REST API."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A secret for the REST API with a scope: ``read`` (every GET) or ``admin`` (everything).

    Only a SHA-256 of the key is stored; the secret is shown once when the key is made (``api_key_create``).
    Write keys (``signals_app.WriteKey``) are the third, ingest-only scope.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read: every GET"
        ADMIN = "admin", "Admin: read and write everything"

    name = models.CharField(max_length=100, help_text="Who or what uses this key, e.g. 'CRM sync'.")
    prefix = models.CharField(max_length=12, db_index=True, help_text="First characters, to recognise the key.")
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="api_keys"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="Updated at most once a minute.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Not a field: the secret of a key the admin has just made, kept on that object for the page that shows it once.
    _new_secret: str

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash_key(raw: str) -> str:
        # Keys are 32 random bytes, so a fast unsalted hash is enough (as for write keys).
        return hashlib.sha256(raw.encode()).hexdigest()
