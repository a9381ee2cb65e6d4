"""The running server answers over real HTTP on PostgreSQL."""

import pytest
import requests

pytestmark = pytest.mark.services


def test_health_and_login_page(needs_postgres, live_server):
    health = requests.get(f"{live_server.url}/healthz", timeout=10)
    assert health.status_code == 200
    assert (health.json()["status"], health.json()["database"], health.json()["broker"]) == ("ok", "ok", "ok")
    page = requests.get(f"{live_server.url}/admin/login/", timeout=10)
    assert page.status_code == 200 and "Klearly" in page.text
    assert requests.get(f"{live_server.url}/admin/", timeout=10, allow_redirects=False).status_code == 302
