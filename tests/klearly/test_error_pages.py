"""The web UI's error pages are the product's own, in debug mode too (the demo runs with DEBUG on); the API and the
event endpoint answer 404s in JSON."""

import pytest
from django.test import RequestFactory

from klearly.errors import server_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def alice_client(client):
    client.force_login(UserFactory(username="alice"))
    return client


def test_an_unknown_address_is_the_products_page_not_a_list_of_url_patterns(client, debug):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html and 'class="topbar"' in html and "klearly/app.css" in html
    assert "URLconf" not in html and "admin/" not in html and "api/v1/" not in html


def test_a_views_reason_is_on_the_page(alice_client, debug):
    response = alice_client.get("/accounts/987654/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "No account you can see has this number." in html and "Traceback" not in html
    assert "Log out" in html  # the product's frame, for a signed-in user


@pytest.mark.parametrize("path", ["/api/v1/no-such-endpoint/", "/ingest/v1/nothing-here"])
def test_api_404s_stay_json(admin_client, debug, path):
    response = admin_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_an_api_objects_404_keeps_its_own_json(admin_client, debug):
    response = admin_client.get("/api/v1/accounts/nobody/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")


def test_the_500_page_is_the_products_and_needs_no_context():
    response = server_error(RequestFactory().get("/accounts/1/"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode() and "klearly/app.css" in response.content.decode()
    api = server_error(RequestFactory().get("/api/v1/accounts/"))
    assert api.status_code == 500 and api["Content-Type"].startswith("application/json")
