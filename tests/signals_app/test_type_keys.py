"""One signal type per name however it is written: "pricing_page_view" (Segment's snake_case), "Pricing page view"
and "Pricing-Page-View" are one type, whichever way signals arrive (CSV, REST, Segment events) or are looked up."""

import base64
import io

import orjson
import pytest

from signals_app.importing import import_csv_stream
from signals_app.models import IngestionSource, Signal, SignalType
from signals_app.parsing import signal_type_key, signal_type_label
from signals_app.services import write_key_create
from tests.factories import AccountFactory, SignalFactory, SignalTypeFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "written",
    ["Pricing page view", "pricing_page_view", "Pricing-Page-View", "PRICING PAGE VIEW", " pricing__page--view_ ",
     "pricing-page-view", "Pricing page  view"],
)  # fmt: skip
def test_case_spaces_underscores_and_hyphens_make_one_key(written):
    assert signal_type_key(written) == "pricing-page-view"


def test_labels_of_types_created_on_the_fly_read_as_words():
    assert signal_type_label("pricing_page_view", "pricing-page-view") == "Pricing page view"
    assert signal_type_label("feature-used", "feature-used") == "Feature used"
    assert signal_type_label("Order Completed", "order-completed") == "Order Completed"  # as written
    assert signal_type_label("Login", "login") == "Login"


SIGNALS = """message_id,account_external_id,type,occurred_at
m1,acme,pricing_page_view,2026-03-01T10:00:00Z
m2,acme,Pricing page view,2026-03-02T10:00:00Z
m3,acme,Pricing-Page-View,2026-03-03T10:00:00Z
m4,acme,feature_used,2026-03-03T10:00:00Z
"""


def test_a_csv_of_snake_case_and_spaced_names_makes_one_type_each():
    AccountFactory(external_id="acme")
    report = import_csv_stream(kind="signals", stream=io.StringIO(SIGNALS))
    assert (report.created, report.failed) == (4, 0)
    assert sorted(SignalType.objects.values_list("key", "label")) == [
        ("feature-used", "Feature used"),
        ("pricing-page-view", "Pricing page view"),
    ]
    assert Signal.objects.filter(type__key="pricing-page-view").count() == 3


def test_a_csv_name_finds_the_type_that_exists():
    AccountFactory(external_id="acme")
    existing = SignalTypeFactory(key="pricing-page-view", label="Pricing page (tuned label)")
    import_csv_stream(kind="signals", stream=io.StringIO(SIGNALS))
    assert Signal.objects.filter(type=existing).count() == 3
    assert SignalType.objects.get(pk=existing.pk).label == "Pricing page (tuned label)"


def test_segment_events_named_either_way_are_one_type(client):
    source = IngestionSource.objects.create(name="Website", kind="segment")
    key = write_key_create(source=source)[1]
    events = [
        {"type": "track", "messageId": f"e{i}", "userId": "u1", "event": name, "timestamp": "2026-03-01T10:00:00Z"}
        for i, name in enumerate(["pricing_page_view", "Pricing Page View", "pricing-page-view"])
    ]
    response = client.post(
        "/ingest/v1/batch", data=orjson.dumps({"batch": events}), content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{key}:".encode()).decode(),
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert list(SignalType.objects.values_list("key", "label")) == [("pricing-page-view", "Pricing page view")]
    assert Signal.objects.count() == 3


def test_a_type_saved_with_any_spelling_of_its_key_is_stored_normalised():
    assert SignalType.objects.create(key="Pricing_Page_View", label="Pricing page view").key == "pricing-page-view"


def test_the_admin_refuses_a_second_spelling_of_an_existing_type(admin_client):
    SignalTypeFactory(key="pricing-page-view")
    page = admin_client.post(
        "/admin/signals_app/signaltype/add/",
        {"key": "pricing_page_view", "label": "Pricing", "category": "web_visits", "default_direction": "inbound",
         "default_source": "marketing"},
    )  # fmt: skip
    assert page.status_code == 200
    assert "Signal type with this Key already exists." in page.content.decode()
    assert SignalType.objects.count() == 1


def test_the_api_creates_and_filters_types_by_any_spelling(admin_client):
    created = admin_client.post(
        "/api/v1/signal-types/", {"key": "feature_used", "label": "Feature used"}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["key"] == "feature-used"
    again = admin_client.post("/api/v1/signal-types/", {"label": "Feature Used"}, content_type="application/json")
    assert again.status_code == 400 and "feature-used" in again.content.decode()
    account = AccountFactory()
    SignalFactory(account=account, type=SignalType.objects.get(key="feature-used"))
    SignalFactory(account=account)
    listed = admin_client.get("/api/v1/signals/", {"type": "feature_used"})
    assert listed.status_code == 200
    assert [s["type"] for s in listed.json()["results"]] == ["feature-used"]
