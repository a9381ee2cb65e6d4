"""Property-based run of the API against its own OpenAPI schema (schemathesis, in-process over WSGI).

Every GET, POST and PATCH operation gets a bounded, deterministic set of generated requests (valid and invalid
data), sent with an admin key to a database holding a little of everything. No answer may be a server error, and
every documented answer must match the schema. Bounded to run in seconds on SQLite as part of the normal suite.

Every list operation's query parameters (its filters, as the schema declares them) are also sent malformed values
(``MALFORMED``: empty lists, blank items, non-numbers, huge and non-finite numbers, impossible dates, NUL, ...),
each parameter alone and, through a generation hook, several at once: a bad value is a 400 naming the parameter.

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
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from klearly.models import ApiKey
from scoring.models import AccountScore

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


# --- the filters of every list --------------------------------------------------------------------------------------

# Values a filter may be sent by mistake or on purpose; each must be a 400 naming the parameter, or be ignored.
MALFORMED = [
    ",", " , ", "1,,2", "x", "-1", "1.5", "1e400", "99999999999999999999", "NaN", "\x00", "☃" * 300,
    "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2026-02-30", "true,false",
]  # fmt: skip
# Ids of rows of the ``world`` fixture, for the lists under one row (a segment's members, a task's comments).
PATH_VALUES = {"external_id": lambda world: "acme", "id": lambda world: world["segment"].pk}


def list_operations() -> list:
    """Every GET operation that answers a page of rows (it declares a ``page`` or ``cursor`` parameter)."""
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.query}
        if operation.method.upper() == "GET" and names & {"page", "cursor"}:
            found.append(operation)
    return found


LIST_OPERATIONS = list_operations()


def path_parameters(operation, world) -> dict:
    values = {**PATH_VALUES, "id": lambda w: w["task"].pk if "/tasks/" in operation.path else w["segment"].pk}
    return {p.name: values[p.name](world) for p in operation.path_parameters}


def check_bad_value_is_named(response, name: str) -> None:
    """A refused filter value is a 400 whose body names the parameter (DRF's ``{"priority": ["..."]}``)."""
    if response.status_code == 400:
        assert name in response.json(), f"?{name}=: a 400 that does not name the parameter: {response.text[:300]}"


def test_every_list_has_its_filters_in_the_schema():
    """The filters must be declared, or schemathesis (and API clients) would never send them."""
    declared = {op.path: {p.name for p in op.query} for op in LIST_OPERATIONS}
    assert {"priority", "playbook", "grade", "status", "segment", "team", "created_after"} <= declared["/api/v1/tasks/"]
    assert {"stage", "employees_min", "segment", "created_after"} <= declared["/api/v1/accounts/"]
    assert {"grade", "lead_min", "health"} <= declared["/api/v1/scores/"]
    assert {"type", "topic", "occurred_after"} <= declared["/api/v1/signals/"]
    assert len(LIST_OPERATIONS) >= 15


@pytest.mark.parametrize("operation", LIST_OPERATIONS, ids=lambda op: op.path)
def test_every_filter_of_every_list_refuses_malformed_values_by_name(operation, world):
    """Each declared query parameter alone, with each malformed value: never a 5xx, and a 400 names it."""
    AccountScore.objects.create(account=world["acme"], lead=70, grade="B", computed_at=timezone.now())
    path = path_parameters(operation, world)
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}  # a Case made by hand does not get the config's headers
    assert operation.Case(path_parameters=path).call(app=APP, headers=auth).status_code == 200
    for parameter in operation.query:
        for value in MALFORMED:
            case = operation.Case(path_parameters=path, query={parameter.name: value})
            response = case.call(app=APP, headers=auth)
            case.validate_response(response, checks=[not_a_server_error])  # the answers' shapes: tested above
            check_bad_value_is_named(response, parameter.name)


def mix_in_malformed_values(ctx, query):
    """Generated queries with up to three of the operation's parameters replaced by malformed values."""
    names = [p.name for p in ctx.operation.query]
    bad = st.dictionaries(st.sampled_from(names), st.sampled_from(MALFORMED), min_size=1, max_size=3)
    return bad.map(lambda values: {**(query or {}), **values})


# The top-level lists (the nested ones, under a row, have no filters of their own). Chained includes widen a
# schemathesis selection; excludes narrow it.
list_schema = schema.exclude(method=["POST", "PATCH"]).exclude(path_regex=r"\{")


@list_schema.hooks.apply(mix_in_malformed_values, name="flatmap_query")
@list_schema.parametrize()
def test_lists_answer_generated_filter_combinations_with_malformed_values_without_5xx(case):
    case.call_and_validate(app=APP, checks=[not_a_server_error, response_schema_conformance])
