"""End to end: a CSV uploaded through the admin over real HTTP is imported by a real Celery worker over Redis
into PostgreSQL."""

import re

import pytest
import requests

from signals_app.models import ImportJob, Signal
from tests.factories import AccountFactory
from tests.services.conftest import wait_for

pytestmark = pytest.mark.services

CSV = (
    "message_id,account_external_id,contact_external_id,type,detail,topic,direction,source,occurred_at,properties\n"
    "w1,acme,,Pricing page view,,Analytics > Dashboards,inbound,marketing,2026-03-01T10:00:00Z,\n"
    'w2,acme,,Invite user,,,,,2026-03-02T10:00:00Z,"{""seats"": 3}"\n'
    "w3,acme,,Invite user,,,,,not-a-date,\n"
    "w4,ghost,,Invite user,,,,,2026-03-02T10:00:00Z,\n"
)


def login(live_server, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{live_server.url}/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{live_server.url}/admin/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"},
        headers={"Referer": f"{live_server.url}/admin/login/"},
        timeout=10,
    )
    assert response.url.rstrip("/").endswith("/admin"), "login failed"
    return session


def test_admin_upload_is_imported_by_a_real_worker(celery_worker_process, live_server, django_user_model):
    django_user_model.objects.create_superuser("ops", "ops@example.com", "s3cret-pass")
    AccountFactory(external_id="acme")
    session = login(live_server, "ops", "s3cret-pass")
    add_url = f"{live_server.url}/admin/signals_app/importjob/add/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(add_url, timeout=10).text).group(1)

    response = session.post(
        add_url,
        data={"kind": "signals", "csrfmiddlewaretoken": token},
        files={"file": ("signals.csv", CSV.encode(), "text/csv")},
        headers={"Referer": add_url},
        timeout=30,
    )
    assert response.status_code == 200 and "was added successfully" in response.text

    job = wait_for(lambda: ImportJob.objects.filter(status__in=["done", "failed"]).first())
    assert celery_worker_process.poll() is None, "the worker died"
    assert (job.status, job.rows_read, job.rows_created, job.rows_failed) == ("done", 4, 2, 2)
    assert [(e["line"], e["field"]) for e in job.errors] == [(4, "occurred_at"), (5, "account_external_id")]
    assert sorted(Signal.objects.values_list("idempotency_key", flat=True)) == ["w1", "w2"]
    assert Signal.objects.get(idempotency_key="w2").properties == {"seats": 3}
