"""Every admin page renders, and list and detail pages do not grow queries with the data (no N+1)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Segment
from signals_app.models import ImportJob
from signals_app.services import write_key_create
from tests.factories import (
    AccountFactory,
    ContactFactory,
    IngestionSourceFactory,
    SignalFactory,
    SignalTopicFactory,
    SignalTypeFactory,
    UserFactory,
    transition,
)

pytestmark = pytest.mark.django_db


def make_signals(n: int, account=None) -> None:
    parent = SignalTopicFactory(key="line")
    for i in range(n):
        owner = UserFactory(username=f"owner{i % 3}")
        acct = account or AccountFactory(owner=owner)
        SignalFactory(
            account=acct,
            contact=ContactFactory(account=acct),
            type=SignalTypeFactory(key=f"t{i % 4}"),
            topic=SignalTopicFactory(key=f"line--t{i}", parent=parent),
            occurred_at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=i),
        )


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_every_registered_model_has_working_list_add_and_change_pages(admin_client):
    make_signals(3)
    transition(AccountFactory(), "trial", datetime(2026, 1, 1, tzinfo=UTC))
    Segment.objects.create(name="All")
    write_key_create(source=IngestionSourceFactory())
    ImportJob.objects.create(
        kind="signals", file="imports/x.csv", errors=[{"line": 2, "field": "type", "message": "is required"}]
    )
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        base = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert admin_client.get(base).status_code == 200, base
        assert admin_client.get(base + "?q=x").status_code == 200, base
        if model_admin.has_add_permission(_request(admin_client)):
            assert admin_client.get(base + "add/").status_code == 200, base + "add/"
        obj = model_admin.get_queryset(_request(admin_client)).first() or model.objects.first()
        if obj is not None:
            assert admin_client.get(f"{base}{obj.pk}/change/").status_code == 200, f"{base}{obj.pk}/change/"


def _request(client):
    request = RequestFactory().get("/")
    request.user = get_user(client)
    return request


@pytest.mark.parametrize(
    "url",
    [
        "/admin/signals_app/signal/",
        "/admin/accounts/account/",
        "/admin/accounts/contact/",
        "/admin/signals_app/signaltopic/",
        "/admin/accounts/stagetransition/",
    ],
)
def test_list_pages_do_not_grow_queries_with_rows(admin_client, url):
    make_signals(2)
    for account in Account.objects.all():
        transition(account, "trial", datetime(2026, 1, 1, tzinfo=UTC))
    few = queries(admin_client, url)
    make_signals(20)
    for account in Account.objects.filter(stage_transitions__isnull=True):
        transition(account, "trial", datetime(2026, 1, 1, tzinfo=UTC))
    assert queries(admin_client, url) == few


def test_account_page_does_not_grow_queries_with_contacts_and_signals(admin_client):
    account = AccountFactory()
    make_signals(2, account=account)
    transition(account, "trial", datetime(2026, 1, 1, tzinfo=UTC))
    url = f"/admin/accounts/account/{account.pk}/change/"
    few = queries(admin_client, url)
    make_signals(25, account=account)
    transition(account, "starter", datetime(2026, 2, 1, tzinfo=UTC))
    transition(account, "corporate", datetime(2026, 3, 1, tzinfo=UTC))
    assert queries(admin_client, url) == few
    html = admin_client.get(url).content.decode()
    assert "Stage history" in html and "Latest signals" in html and "Contacts (most recently seen first)" in html


def test_signal_list_never_counts_the_whole_table(admin_client):
    make_signals(3)
    with CaptureQueriesContext(connection) as ctx:
        admin_client.get("/admin/signals_app/signal/")
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the paginator still needs one capped count"
    assert all("LIMIT" in sql.upper() for sql in counts), counts
