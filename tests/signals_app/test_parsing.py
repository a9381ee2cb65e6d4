from datetime import UTC, datetime

import pytest

from signals_app.parsing import RowInvalid, parse_account, parse_signal, topic_path
from signals_app.resources import neutralise_formula

GOOD = {
    "message_id": "m-1",
    "account_external_id": "acme",
    "contact_external_id": "",
    "type": "Pricing page view",
    "detail": "",
    "topic": "Analytics > Dashboards",
    "direction": "Inbound",
    "source": "",
    "occurred_at": "2026-03-01T10:00:00+02:00",
    "properties": '{"path": "/pricing"}',
}


def test_a_good_signal_row_is_cleaned():
    row = parse_signal(GOOD)
    assert row.idempotency_key == "m-1"
    assert row.type_key == "pricing-page-view"
    assert row.type_label == "Pricing page view"
    assert row.topic == [("analytics", "Analytics"), ("analytics--dashboards", "Dashboards")]
    assert row.direction == "inbound"
    assert row.source is None  # the type's default applies later
    assert row.occurred_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert row.properties == {"path": "/pricing"}


def test_every_bad_column_is_named_with_its_reason():
    bad = {**GOOD, "type": "", "direction": "up", "source": "tv", "occurred_at": "yesterday", "properties": "[1,2]"}
    with pytest.raises(RowInvalid) as exc:
        parse_signal(bad)
    assert exc.value.errors == {
        "type": "is required",
        "direction": "'up' is not one of inbound, outbound",
        "source": "'tv' is not one of marketing, product, sales",
        "occurred_at": "'yesterday' is not an ISO-8601 date or time (e.g. 2026-03-01T14:30:00Z)",
        "properties": 'must be a JSON object, like {"plan": "pro"}',
    }


def test_broken_json_says_where():
    with pytest.raises(RowInvalid) as exc:
        parse_signal({**GOOD, "properties": '{"a": }'})
    assert exc.value.errors["properties"].startswith("is not valid JSON (Expecting value at character 6")


def test_rows_without_message_id_get_a_stable_content_key():
    a = parse_signal({**GOOD, "message_id": ""})
    b = parse_signal({**GOOD, "message_id": ""})
    c = parse_signal({**GOOD, "message_id": "", "detail": "renewal"})
    assert a.idempotency_key == b.idempotency_key != c.idempotency_key
    assert a.idempotency_key.startswith("row-")


def test_date_only_and_naive_times_are_utc():
    assert parse_signal({**GOOD, "occurred_at": "2026-03-01"}).occurred_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_signal({**GOOD, "occurred_at": "2026-03-01 07:30"}).occurred_at == datetime(
        2026, 3, 1, 7, 30, tzinfo=UTC
    )


def test_topic_paths():
    assert topic_path("Integrations / CRM") == [("integrations", "Integrations"), ("integrations--crm", "CRM")]
    assert topic_path("Security") == [("security", "Security")]


def test_account_row_separates_known_fields_from_traits():
    fields, traits, stage, owner = parse_account(
        {"external_id": " acme ", "name": "Acme", "employees": "1,200", "annual_revenue": "12.5e6", "plan": "gold",
         "stage": "Trial", "owner_email": "Ann@Example.com", "empty": ""}
    )  # fmt: skip
    assert fields == {"external_id": "acme", "name": "Acme", "employees": 1200, "annual_revenue": 12500000}
    assert traits == {"plan": "gold", "empty": None}  # an empty cell is null: it removes the trait (accounts.upsert)
    assert (stage, owner) == ("Trial", "ann@example.com")


def test_account_row_errors():
    with pytest.raises(RowInvalid) as exc:
        parse_account({"external_id": "", "employees": "-3", "annual_revenue": "lots", "owner_email": "nope"})
    assert exc.value.errors == {
        "external_id": "is required",
        "employees": "must be at least 0",
        "annual_revenue": "'lots' is not a number",
        "owner_email": "'nope' is not an email address",
    }


@pytest.mark.parametrize(
    ("cell", "exported"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("-12.5", "-12.5"),
        ("+3", "+3"),
        ("Acme", "Acme"),
        (42, 42),
    ],
)
def test_formula_neutralising(cell, exported):
    assert neutralise_formula(cell) == exported
