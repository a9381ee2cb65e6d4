"""Redis and PostgreSQL outages, on the test client: 503 + Retry-After while the database is unreachable (never a 500,
wherever the error is raised), ingestion and pages without Redis (rate limits fail open, queuing fails quietly),
and /healthz naming what is down. The real thing (servers stopped and restarted under load): tests/services.
"""

from __future__ import annotations

import base64
import socket

import orjson
import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import override_settings

from accounts.models import RescoreMark
from klearly.models import ApiKey
from signals_app.models import ImportJob, Signal
from tests.api.factories import api_key, write_key
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db

BATCH = {
    "batch": [
        {"type": "track", "messageId": f"m{i}", "userId": "u1", "event": "Report Exported",
         "context": {"groupId": "acme"}, "timestamp": "2026-03-01T10:00:00Z"}
        for i in range(3)
    ]
}  # fmt: skip


def closed_port() -> int:
    """A local port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def post_batch(client: Client, key: str):
    return client.post(
        "/ingest/v1/batch", data=orjson.dumps(BATCH), content_type="application/json", HTTP_AUTHORIZATION=basic(key)
    )


def refuse(execute, sql, params, many, context):
    """A query wrapper failing every query as psycopg does when PostgreSQL is stopped."""
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')


@pytest.fixture
def database_down():
    """Every query fails as it does when PostgreSQL is stopped."""
    with connection.execute_wrapper(refuse):
        yield


@pytest.fixture
def cache_down(settings):
    """The default cache is a Redis server that is not running."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


@pytest.fixture
def broker_down(settings):
    """Tasks are published to a Redis broker that is not running (not run eagerly)."""
    from klearly.celery import app

    url = f"redis://127.0.0.1:{closed_port()}/0"
    saved = {name: app.conf[name] for name in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER")}
    app.conf.update(CELERY_BROKER_URL=url, CELERY_TASK_ALWAYS_EAGER=False)  # the app reads Django's CELERY_* names
    assert (app.conf.broker_url, app.conf.task_always_eager) == (url, False)
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = url, False
    yield
    app.conf.update(saved)
    app.amqp._producer_pool = None
    app._pool = None


def assert_503_json(response) -> dict:
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    return response.json()


# --- PostgreSQL down ------------------------------------------------------------------------------------------------


def test_event_endpoint_answers_503_with_retry_after_when_the_write_key_lookup_fails(database_down):
    client = Client(raise_request_exception=False)
    body = assert_503_json(post_batch(client, "kl_a-key-the-database-cannot-check"))
    assert body["code"] == "unavailable" and "retry later" in body["message"]


def test_a_retried_batch_is_stored_once_after_the_database_is_back():
    _, key = write_key()
    AccountFactory(external_id="acme")
    client = Client(raise_request_exception=False)

    with connection.execute_wrapper(refuse):
        assert_503_json(post_batch(client, key))
    assert post_batch(client, key).status_code == 200
    assert post_batch(client, key).json()["duplicates"] == 3
    assert Signal.objects.count() == 3


@pytest.mark.parametrize("path", ["/api/v1/accounts/", "/api/v1/signals/", "/api/v1/tasks/"])
def test_api_answers_503_json_when_the_key_lookup_fails(database_down, path):
    client = Client(raise_request_exception=False)
    body = assert_503_json(client.get(path, HTTP_AUTHORIZATION="Bearer kl_api_abcdefghijklmnop"))
    assert "database is unavailable" in body["detail"]


def test_api_answers_503_json_for_a_session_user_when_the_view_fails():
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(username="ops", is_superuser=True, is_staff=True))
    with connection.execute_wrapper(refuse):
        assert_503_json(client.get("/api/v1/accounts/"))


def test_web_pages_answer_a_plain_503_page():
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(username="ops", is_superuser=True, is_staff=True))
    with connection.execute_wrapper(refuse):
        for path in ("/", "/admin/", "/admin/signals_app/signal/"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response["Retry-After"] == "5"
            assert "briefly unavailable" in response.content.decode()


class ReadsTheDatabase:
    """Stands for a middleware that queries the database itself (a session save, a user lookup)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return response


def test_an_error_raised_in_another_middleware_is_a_503_too(database_down):
    with override_settings(
        MIDDLEWARE=["klearly.middleware.DatabaseUnavailableMiddleware", "tests.klearly.test_outages.ReadsTheDatabase"]
    ):
        response = Client(raise_request_exception=False).get("/api/schema/")
    assert_503_json(response)


def test_healthz_names_the_database_when_it_is_down(database_down):
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down", "cache": "local", "broker": "eager"}


def test_healthz_is_200_when_everything_answers():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "local", "broker": "eager"}


# --- Redis down -----------------------------------------------------------------------------------------------------


def test_events_are_taken_when_the_rate_limit_cache_is_down(cache_down, caplog):
    _, key = write_key()
    AccountFactory(external_id="acme")
    response = post_batch(Client(), key)
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == 3
    assert "cache unavailable: rate limits are not applied" in caplog.text


def test_api_writes_are_taken_when_the_rate_limit_cache_is_down(cache_down):
    AccountFactory(external_id="acme")
    _, raw = api_key(ApiKey.Scope.ADMIN)
    body = {"message_id": "a1", "account_external_id": "acme", "type": "login", "occurred_at": "2026-03-01T10:00:00Z"}
    response = Client().post(
        "/api/v1/signals/", data=orjson.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 201, response.content
    assert Signal.objects.count() == 1


def test_the_inbox_works_when_the_cache_is_down(cache_down):
    client = Client()
    client.force_login(UserFactory(username="ops", is_superuser=True, is_staff=True))
    assert client.get("/accounts/").status_code == 200


def test_healthz_names_the_cache_when_it_is_down_and_can_judge_the_database_alone(cache_down):
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert (response.json()["database"], response.json()["cache"]) == ("ok", "down")
    assert Client().get("/healthz?only=database").status_code == 200


def test_events_are_stored_and_marks_kept_when_the_broker_is_down(broker_down, django_capture_on_commit_callbacks):
    _, key = write_key()
    AccountFactory(external_id="acme")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_batch(Client(), key)
    assert response.status_code == 200 and response.json()["stored"] == 3
    assert RescoreMark.objects.exists()  # durable: the beat sweep or the next worker start rescores them


def test_an_admin_upload_is_kept_queued_when_the_broker_is_down(
    broker_down, admin_client, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/signals_app/importjob/add/",
            {"kind": "accounts", "file": SimpleUploadedFile("a.csv", b"external_id,name\nacme,Acme\n")},
        )
    assert response.status_code == 302
    assert ImportJob.objects.get().status == "queued"  # the jobs sweep sends it again once the broker is back


def test_healthz_names_the_broker_when_it_is_down(broker_down):
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
