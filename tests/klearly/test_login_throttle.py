"""Login throttling on /login/ and /admin/login/: a username is locked after KLEARLY_LOGIN_FAILURE_LIMIT failures
from any address, an address after KLEARLY_LOGIN_IP_FAILURE_LIMIT failures on any usernames; a locked login is
refused even with the right password, with a page that says so, until the cool-off ends. The client address comes
from X-Forwarded-For only through the proxies the operator declared."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory
from django.utils import timezone

from tests.api.conftest import bearer
from tests.api.factories import api_key
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model):
    made = {}
    for name, staff in (("alice", False), ("bob", False), ("boss", True)):
        user = UserFactory(username=name, is_staff=staff, is_superuser=staff)
        user.set_password("right-pw")
        user.save()
        made[name] = user
    return made


def log_in(username: str, password: str, *, ip: str = "198.51.100.7", url: str = "/login/", **extra):
    client = Client(REMOTE_ADDR=ip, **extra)
    return client, client.post(url, {"username": username, "password": password})


def assert_locked(response) -> None:
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page and f"paused for {settings.KLEARLY_LOGIN_COOLOFF_MINUTES} minutes" in page
    assert response["Retry-After"] == str(settings.KLEARLY_LOGIN_COOLOFF_MINUTES * 60)


def test_the_issue_100_wrong_passwords_then_the_right_one_is_refused(people):
    for _ in range(100):
        _, response = log_in("alice", "guess")
        assert response.status_code in (200, 429)
    client, response = log_in("alice", "right-pw")
    assert_locked(response)
    assert client.get("/")["Location"].startswith("/login/")  # not logged in


def test_a_username_is_locked_after_n_failures_from_anywhere(people):
    limit = settings.KLEARLY_LOGIN_FAILURE_LIMIT
    for i in range(limit - 1):
        _, response = log_in("alice", "guess", ip=f"203.0.113.{i + 1}")
        assert response.status_code == 200 and b"enter a correct username and password" in response.content
    _, last = log_in("alice", "guess", ip="203.0.113.99")
    assert_locked(last)  # the failure that reaches the limit already says so
    _, response = log_in("alice", "right-pw", ip="192.0.2.200")  # a fresh address, the right password
    assert_locked(response)
    _, other = log_in("bob", "right-pw", ip="203.0.113.1")  # another person from one of those addresses
    assert other.status_code == 302


def test_an_address_is_locked_after_m_failures_on_any_usernames(people):
    limit = settings.KLEARLY_LOGIN_IP_FAILURE_LIMIT
    assert limit > settings.KLEARLY_LOGIN_FAILURE_LIMIT
    for i in range(limit - 1):
        _, response = log_in(f"nobody{i}", "guess", ip="198.51.100.50")
        assert response.status_code == 200
    _, response = log_in("bob", "guess", ip="198.51.100.50")
    assert_locked(response)
    _, response = log_in("alice", "right-pw", ip="198.51.100.50")  # alice has no failures, her address has
    assert_locked(response)
    _, elsewhere = log_in("alice", "right-pw", ip="198.51.100.51")
    assert elsewhere.status_code == 302


def test_the_admin_login_is_throttled_too(people):
    for _ in range(settings.KLEARLY_LOGIN_FAILURE_LIMIT):
        log_in("boss", "guess", url="/admin/login/")
    client, response = log_in("boss", "right-pw", url="/admin/login/", ip="192.0.2.10")
    assert_locked(response)
    assert 'href="/admin/login/"' in response.content.decode()
    assert client.get("/admin/").status_code == 302  # still asked to log in


def test_the_lock_ends_after_the_cool_off(people):
    from axes.models import AccessAttempt

    for _ in range(settings.KLEARLY_LOGIN_FAILURE_LIMIT):
        log_in("alice", "guess")
    assert_locked(log_in("alice", "right-pw")[1])
    past = timezone.now() - timedelta(minutes=settings.KLEARLY_LOGIN_COOLOFF_MINUTES, seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    assert log_in("alice", "right-pw")[1].status_code == 302


def test_forwarded_for_counts_only_through_declared_proxies(people, settings):
    from axes.models import AccessAttempt

    limit = settings.KLEARLY_LOGIN_IP_FAILURE_LIMIT
    # No proxy declared: a client that makes up X-Forwarded-For is still counted by its own address.
    for i in range(limit):
        log_in(f"nobody{i}", "guess", ip="198.51.100.60", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    assert_locked(log_in("bob", "right-pw", ip="198.51.100.60", HTTP_X_FORWARDED_FOR="10.9.9.9")[1])
    # One proxy declared: clients behind it are told apart by the address it appends; what they prepend is ignored.
    settings.KLEARLY_TRUSTED_PROXY_COUNT = 1
    AccessAttempt.objects.all().delete()
    for i in range(limit):
        log_in(f"nobody{i}", "guess", ip="10.0.0.2", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 203.0.113.70")
    assert_locked(log_in("bob", "right-pw", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.70")[1])
    assert (
        log_in("bob", "right-pw", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.70, 203.0.113.71")[1].status_code
        == 302
    )


def test_client_ip_reads_the_trusted_hop_only(settings):
    from klearly.login_throttle import client_ip

    factory = RequestFactory()

    def ip(forwarded: str | None, proxies: int) -> str:
        settings.KLEARLY_TRUSTED_PROXY_COUNT = proxies
        meta = {"REMOTE_ADDR": "10.0.0.2"} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})
        return client_ip(factory.get("/", **meta))

    assert ip("6.6.6.6", 0) == "10.0.0.2"
    assert ip(None, 1) == "10.0.0.2"
    assert ip("6.6.6.6, 203.0.113.9", 1) == "203.0.113.9"
    assert ip("6.6.6.6, 203.0.113.9, 10.0.0.3", 2) == "203.0.113.9"
    assert ip("not-an-address", 1) == "10.0.0.2"  # never stored as the client's address
    assert ip("2001:db8::1", 1) == "2001:db8::1"


def test_keys_and_open_sessions_keep_working_while_an_address_is_locked(people):
    session = Client(REMOTE_ADDR="198.51.100.80")
    session.force_login(people["alice"])
    for i in range(settings.KLEARLY_LOGIN_IP_FAILURE_LIMIT):
        log_in(f"nobody{i}", "guess", ip="198.51.100.80")
    assert_locked(log_in("alice", "right-pw", ip="198.51.100.80")[1])
    assert session.get("/api/v1/tasks/").status_code == 200 and session.get("/").status_code == 200
    reader = bearer(api_key("read")[1])
    assert reader.get("/api/v1/accounts/", REMOTE_ADDR="198.51.100.80").status_code == 200


def test_authenticate_without_a_request_is_not_throttled(people):
    """Scripts and management commands call authenticate() with no request: nothing to throttle, no crash."""
    assert authenticate(username="alice", password="right-pw") == people["alice"]
    assert authenticate(username="alice", password="guess") is None
