"""Shared fixtures: fast hashing and caches for unit tests (real services live in tests/services)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_unit_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Per-process caches hold ids from databases that each test rolls back."""
    from signals_app.ingest import clear_caches
    from signals_app.selectors import WRITE_KEYS

    clear_caches()
    WRITE_KEYS.clear()
    yield
    clear_caches()
    WRITE_KEYS.clear()


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client
