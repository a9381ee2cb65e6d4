"""The official Segment and RudderStack Python libraries, in their default configurations and pointed only at
Klearly's address with a write key, deliver every call to the production server (gunicorn, its own process) on
PostgreSQL, exactly once."""

from datetime import UTC, datetime

import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from accounts.models import Account, Contact
from signals_app.models import IngestionSource, Signal
from signals_app.services import write_key_create

pytestmark = pytest.mark.services


def exercise(client, prefix: str) -> None:
    """Every call of the tracking API, in the order a product would make them."""
    client.page(anonymous_id=f"{prefix}-anon", name="Pricing", properties={"path": "/pricing"})
    client.identify(f"{prefix}-u1", {"email": f"ann@{prefix}.example", "firstName": "Ann", "title": "CTO"},
                    anonymous_id=f"{prefix}-anon")  # fmt: skip
    client.group(f"{prefix}-u1", f"{prefix}-acme", {"name": "Acme", "employees": 120, "plan": "pro"})
    for i in range(150):  # more than one upload batch (100 by default)
        client.track(
            f"{prefix}-u1", "Report Exported", {"n": i}, timestamp=datetime(2026, 3, 1, 10, i % 60, tzinfo=UTC)
        )
    client.screen(f"{prefix}-u1", name="Dashboard")
    client.track(anonymous_id=f"{prefix}-later", event="Signed Up")
    client.alias(f"{prefix}-later", f"{prefix}-u2")
    client.flush()


@pytest.mark.parametrize(
    ("library", "make"),
    [
        ("segment", lambda key, url, errors: SegmentClient(key, host=url, on_error=lambda e, b: errors.append(e))),
        ("rudder", lambda key, url, errors: RudderClient(key, host=url, on_error=lambda e, b: errors.append(e))),
    ],
)
def test_library_delivers_every_event_once(server_process, library, make):
    source = IngestionSource.objects.create(name=f"{library} source", kind="segment")
    key = write_key_create(source=source)[1]
    errors: list = []
    client = make(key, f"{server_process}/ingest", errors)

    exercise(client, library)
    client.join()

    assert errors == []
    signals = Signal.objects.filter(ingestion_source=source)
    assert signals.count() == 1 + 150 + 1 + 1
    assert signals.filter(type__key="report-exported").count() == 150
    acme = Account.objects.get(external_id=f"{library}-acme")
    assert (acme.name, acme.employees, acme.traits) == ("Acme", 120, {"plan": "pro"})
    ann = Contact.objects.get(external_id=f"{library}-u1")
    assert (ann.email, ann.account) == (f"ann@{library}.example", acme)
    pricing = signals.get(type__key="page-view")
    assert (pricing.contact, pricing.account, pricing.properties["path"]) == (ann, acme, "/pricing")
    assert signals.get(type__key="signed-up").contact.external_id == f"{library}-u2"
    assert signals.get(type__key="screen-view").detail == "Dashboard"

    # The same client sending the same messages again (same messageIds) stores nothing twice.
    before = signals.count()
    retry = make(key, f"{server_process}/ingest", errors)
    for signal in signals.filter(type__key="report-exported")[:5]:
        retry.track(f"{library}-u1", "Report Exported", message_id=signal.idempotency_key)
    retry.flush()
    retry.join()
    assert errors == [] and signals.count() == before


def test_a_bad_request_is_reported_to_the_library_not_retried_forever(server_process):
    errors: list = []
    client = SegmentClient("kl_not-a-key", host=f"{server_process}/ingest", on_error=lambda e, b: errors.append(e),
                           max_retries=2)  # fmt: skip
    client.track("u1", "Anything")
    client.flush()
    client.join()
    assert len(errors) == 1
    assert errors[0].status == 401 and errors[0].code == "invalid_write_key"
