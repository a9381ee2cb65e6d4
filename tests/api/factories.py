"""Factories for the API tests: keys of every scope (each returns the row and the raw secret)."""

from __future__ import annotations

from klearly.models import ApiKey
from klearly.services import api_key_create
from signals_app.models import WriteKey
from signals_app.services import write_key_create
from tests.factories import IngestionSourceFactory


def api_key(scope: str = ApiKey.Scope.ADMIN, name: str = "tests") -> tuple[ApiKey, str]:
    """An API key with the given scope, and its secret."""
    return api_key_create(name=name, scope=scope)


def write_key(source_name: str = "Segment") -> tuple[WriteKey, str]:
    """A write key of an ingestion source, and its secret."""
    return write_key_create(source=IngestionSourceFactory(name=source_name, kind="segment"))
