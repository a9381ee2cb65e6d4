"""/api/v1/scores/: current scores, measures, explanations and history, read-only, by account external id."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scoring.services import accounts_rescore
from tests.factories import AccountFactory, SignalFactory, SignalTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored():
    from scoring.models import EngagementRule

    demo = SignalTypeFactory(key="demo-request", label="Demo request")
    EngagementRule.objects.create(signal_type=demo, points=10, half_life_days=30, cap=50)
    accounts = [AccountFactory(external_id=f"s-{i}") for i in range(3)]
    for i, account in enumerate(accounts):
        for n in range(i * 2):
            SignalFactory(account=account, type=demo, occurred_at=timezone.now() - timedelta(days=n))
    accounts_rescore(account_ids=[a.pk for a in accounts])
    return accounts


def test_an_account_shows_its_scores_measures_and_reasons(read_api, scored):
    body = read_api.get("/api/v1/scores/s-2/").json()
    assert body["account_external_id"] == "s-2"
    assert body["engagement"] > 0
    assert {"tenure_days", "active_users_30d", "adoption"} <= set(body["measures"])
    reasons = body["explanations"]["engagement"]
    assert any("Demo request" in line["label"] for line in reasons)
    assert round(sum(line["points"] for line in reasons), 6) == round(body["engagement"], 6)
    assert read_api.get("/api/v1/scores/nobody/").status_code == 404


def test_list_filters_and_orders_by_lead(read_api, scored):
    rows = read_api.get("/api/v1/scores/?ordering=-engagement").json()["results"]
    assert [r["account_external_id"] for r in rows] == ["s-2", "s-1", "s-0"]
    grade = rows[0]["grade"]
    assert all(r["grade"] == grade for r in read_api.get(f"/api/v1/scores/?grade={grade}").json()["results"])


def test_history_and_contacts(read_api, scored):
    history = read_api.get("/api/v1/scores/s-2/history/").json()["results"]
    assert len(history) == 1 and history[0]["date"] == timezone.now().date().isoformat()
    assert read_api.get("/api/v1/scores/s-2/contacts/").status_code == 200


def test_scores_are_read_only_and_not_for_write_keys(admin_api, write_api, scored):
    assert admin_api.post("/api/v1/scores/", {}, format="json").status_code == 405
    assert write_api.get("/api/v1/scores/").status_code == 403


def test_score_list_queries_do_not_grow_with_rows(read_api, scored):
    read_api.get("/api/v1/scores/")  # the key's first use of the minute also records last_used_at
    with CaptureQueriesContext(connection) as few:
        read_api.get("/api/v1/scores/")
    more = [AccountFactory(external_id=f"m-{i}") for i in range(15)]
    accounts_rescore(account_ids=[a.pk for a in more])
    with CaptureQueriesContext(connection) as many:
        assert len(read_api.get("/api/v1/scores/").json()["results"]) == 18
    assert len(many.captured_queries) == len(few.captured_queries)


def test_rule_hits_of_an_account(read_api, scored):
    from scoring.models import SignalRule
    from scoring.rules import rule_hits_evaluate

    SignalRule.objects.create(
        name="Any demo", conditions={"conditions": [{"field": "engagement", "op": "gt", "value": 0}]}
    )
    rule_hits_evaluate(account_ids=[a.pk for a in scored])
    rows = read_api.get("/api/v1/scores/s-2/rule-hits/?open=true").json()["results"]
    assert [r["rule"] for r in rows] == ["Any demo"]
    assert rows[0]["cleared_at"] is None and rows[0]["values"]["engagement"] > 0
