"""Property-based run of the API against its own OpenAPI schema (schemathesis, in-process over WSGI).

Every GET, POST and PATCH operation gets a bounded, deterministic set of generated requests (valid and invalid
data), sent with an admin key to a database holding a little of everything. No answer may be a server error, and
every documented answer must match the schema. Bounded to run in seconds on SQLite as part of the normal suite.

The schema is generated in-process (as /api/schema/ serves it) when the module is collected, so each operation
becomes its own test item with its own database transaction.
"""

from __future__ import annotations

import json
import logging
import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from klearly.models import ApiKey

pytestmark = pytest.mark.django_db

# Small in the normal suite; set KLEARLY_SCHEMATHESIS_EXAMPLES=500 for a deeper run before a release.
MAX_EXAMPLES = int(os.environ.get("KLEARLY_SCHEMATHESIS_EXAMPLES", "12"))
ADMIN_KEY = "kla_schemathesis-admin-key-used-only-in-this-test-module"
APP = get_wsgi_application()


def load_schema() -> schemathesis.BaseSchema:
    raw = SchemaGenerator().get_schema(request=None, public=True)
    document = json.loads(OpenApiJsonRenderer().render(raw, renderer_context={}))
    config = schemathesis.Config.from_dict(
        {
            "seed": 20260301,
            "headers": {"Authorization": f"Bearer {ADMIN_KEY}"},
            "generation": {
                "mode": "all",  # valid and invalid data
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                "with-security-parameters": False,
            },
            # Only GET, POST and PATCH: no probing of other methods, no stateful chains of calls.
            "phases": {"coverage": {"unexpected-methods": []}, "stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_dict(document, config=config).include(method=["GET", "POST", "PATCH"])


schema = load_schema()


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Requests go through the real WSGI handler, which closes "old" database connections when a request starts
    and ends; inside a test transaction that would close the test's own connection (Django's test client
    disconnects the same hook)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def quiet_request_log(caplog):
    """Generated bad requests make Django log every 4xx; keep the output to failures."""
    caplog.set_level(logging.CRITICAL, logger="django.request")


@pytest.fixture(autouse=True)
def admin_key(world) -> ApiKey:
    return ApiKey.objects.create(
        name="schemathesis", scope=ApiKey.Scope.ADMIN, prefix=ADMIN_KEY[:12], key_hash=ApiKey.hash_key(ADMIN_KEY)
    )


@schema.parametrize()
def test_api_answers_every_generated_request_without_5xx_and_as_documented(case):
    case.call_and_validate(app=APP, checks=[not_a_server_error, response_schema_conformance])
