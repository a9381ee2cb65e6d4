"""Fixtures for the REST API tests: a client per kind of caller, and a clean rate-limit cache for each test."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from rest_framework.test import APIClient

from klearly.models import ApiKey
from tests.api.factories import api_key, write_key
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Rate-limit counters live in the cache, keyed by key id, and ids repeat between tests."""
    cache.clear()
    yield
    cache.clear()


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def basic(username: str, password: str = "") -> APIClient:
    client = APIClient()
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    return client


@pytest.fixture
def admin_api(db) -> APIClient:
    """A client with an admin-scope API key."""
    return bearer(api_key(ApiKey.Scope.ADMIN)[1])


@pytest.fixture
def read_api(db) -> APIClient:
    """A client with a read-scope API key."""
    return bearer(api_key(ApiKey.Scope.READ)[1])


@pytest.fixture
def write_api(db) -> APIClient:
    """A client with a write key (ingest scope), sent as a Bearer token."""
    return bearer(write_key()[1])


@pytest.fixture
def operator(db):
    """A logged-in operator without any model permission."""
    user = UserFactory(username="operator")
    client = APIClient()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def superuser_api(db, django_user_model) -> APIClient:
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = APIClient()
    client.force_login(user)
    return client


def grant(user, *codenames: str) -> None:
    """Give a user model permissions by codename (``accounts.add_account``)."""
    for name in codenames:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


@pytest.fixture
def world(db):
    """One of everything the endpoints address, named the way the tests use them."""
    from datetime import UTC, datetime

    from accounts.models import Segment, SegmentMembership
    from tests.factories import (
        AccountFactory,
        ContactFactory,
        SignalFactory,
        SignalTopicFactory,
        SignalTypeFactory,
        transition,
    )

    acme = AccountFactory(external_id="acme", name="Acme")
    ada = ContactFactory(external_id="ada", account=acme)
    demo = SignalTypeFactory(key="demo", label="Demo request")
    SignalTypeFactory(key="unused", label="Unused")
    line = SignalTopicFactory(key="analytics", label="Analytics")
    SignalTopicFactory(key="spare", label="Spare")
    signal = SignalFactory(account=acme, contact=ada, type=demo, topic=line)
    move = transition(acme, "trial", datetime(2026, 1, 1, tzinfo=UTC))
    segment = Segment.objects.create(name="Everyone")
    SegmentMembership.objects.create(segment=segment, account=acme, entered_at=datetime(2026, 1, 2, tzinfo=UTC))
    # A playbook and an open task, so the tasks and playbooks lists answer with rows the schema must describe.
    from tests.playbooks.factories import PlaybookFactory, TaskFactory

    task = TaskFactory(account=acme, playbook=PlaybookFactory(name="Trial to paid"), reason={"summary": "Qualified"})
    return {"acme": acme, "ada": ada, "signal": signal, "transition": move, "segment": segment, "task": task}
