"""Journey stages, stage transitions (plan changes reported by other systems) and segments with their members."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import Account, JourneyStage, RescoreMark, Segment, SegmentMembership, StageTransition
from accounts.services import segment_evaluate, stage_transition_record
from tests.factories import AccountFactory, stage

pytestmark = pytest.mark.django_db


def report(client, account: str, stage_name: str, when: str):
    return client.post(
        "/api/v1/stage-transitions/", {"account_external_id": account, "stage": stage_name, "changed_at": when}
    )


def test_stage_transition_create_derives_from_stage_and_movement(admin_api):
    account = AccountFactory(external_id="acme")
    first = report(admin_api, "acme", "Trial", "2026-01-01T00:00:00Z")  # by name
    assert first.status_code == 201, first.content
    assert first.json()["from_stage"] is None and first.json()["movement"] == "entry"
    second = report(admin_api, "acme", "starter", "2026-02-01T00:00:00Z")  # by key
    assert (second.json()["from_stage"], second.json()["to_stage"], second.json()["movement"]) == (
        "trial",
        "starter",
        "conversion",
    )
    third = report(admin_api, "acme", "enterprise", "2026-03-01T00:00:00Z")
    assert third.json()["movement"] == "expansion"
    account.refresh_from_db()
    assert account.stage.key == "enterprise"
    assert RescoreMark.objects.filter(account=account).exists()


def test_a_late_report_rederives_the_history(admin_api):
    AccountFactory(external_id="acme")
    report(admin_api, "acme", "trial", "2026-01-01T00:00:00Z")
    report(admin_api, "acme", "enterprise", "2026-03-01T00:00:00Z")
    late = report(admin_api, "acme", "starter", "2026-02-01T00:00:00Z")
    assert late.json()["movement"] == "conversion"
    latest = admin_api.get("/api/v1/stage-transitions/?account=acme").json()["results"][0]
    assert (latest["to_stage"], latest["from_stage"], latest["movement"]) == ("enterprise", "starter", "expansion")


def test_reporting_the_same_move_twice_records_it_once(admin_api):
    AccountFactory(external_id="acme")
    report(admin_api, "acme", "trial", "2026-01-01T00:00:00Z")
    again = report(admin_api, "acme", "trial", "2026-01-01T00:00:00Z")
    assert again.status_code == 201
    assert StageTransition.objects.count() == 1


def test_movement_cannot_be_typed(admin_api):
    AccountFactory(external_id="acme")
    response = admin_api.post(
        "/api/v1/stage-transitions/",
        {"account_external_id": "acme", "stage": "churn", "movement": "expansion", "from_stage": "enterprise"},
    )
    assert response.status_code == 201
    assert response.json()["movement"] == "entry" and response.json()["from_stage"] is None


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"account_external_id": "ghost", "stage": "trial"}, {"account_external_id": "no account has external id"}),
        ({"account_external_id": "acme", "stage": "gold"}, {"stage": "no journey stage has key or name 'gold'"}),
        ({"stage": "trial"}, {"account_external_id": "required"}),
        ({"account_external_id": "acme", "stage": "trial", "changed_at": "soon"}, {"changed_at": "wrong format"}),
        ({"account_external_id": ["acme"], "stage": 3.5}, {"account_external_id": "must be", "stage": "must be"}),
    ],
)
def test_bad_stage_transitions_are_400_naming_the_field(admin_api, body, errors):
    AccountFactory(external_id="acme")
    response = admin_api.post("/api/v1/stage-transitions/", body)
    assert response.status_code == 400, response.content
    for field, message in errors.items():
        assert message in " ".join(response.json()[field])


def test_stage_transition_filters_and_cursor(admin_api):
    for ext in ("a", "b"):
        account = AccountFactory(external_id=ext)
        stage_transition_record(account=account, to_stage=stage("trial"), changed_at=datetime(2026, 1, 1, tzinfo=UTC))
        stage_transition_record(account=account, to_stage=stage("churn"), changed_at=datetime(2026, 2, 1, tzinfo=UTC))

    def moves(query: str) -> list[tuple[str, str]]:
        body = admin_api.get(f"/api/v1/stage-transitions/?{query}").json()
        return [(t["account_external_id"], t["movement"]) for t in body["results"]]

    assert moves("account=a") == [("a", "churn"), ("a", "entry")]
    assert moves("movement=churn") == [("b", "churn"), ("a", "churn")]
    assert moves("to_stage=trial") == [("b", "entry"), ("a", "entry")]
    assert moves("changed_after=2026-01-15T00:00:00Z") == [("b", "churn"), ("a", "churn")]
    page = admin_api.get("/api/v1/stage-transitions/?page_size=3").json()
    assert len(page["results"]) == 3 and "cursor=" in page["next"]


def test_journey_stages_admin_creates_and_changes_them(admin_api):
    created = admin_api.post("/api/v1/journey-stages/", {"key": "pilot", "name": "Pilot", "position": 35})
    assert created.status_code == 201, created.content
    unranked = admin_api.post("/api/v1/journey-stages/", {"key": "gold", "name": "Gold", "kind": "paying"})
    assert unranked.status_code == 400 and "rank" in unranked.json()
    ranked_free = admin_api.patch("/api/v1/journey-stages/pilot/", {"rank": 2})
    assert ranked_free.status_code == 400 and "rank" in ranked_free.json()
    renamed = admin_api.patch("/api/v1/journey-stages/pilot/", {"name": "Paid pilot", "key": "other"})
    assert renamed.json()["name"] == "Paid pilot" and renamed.json()["key"] == "pilot"
    assert admin_api.post("/api/v1/journey-stages/", {"key": "pilot", "name": "Again"}).status_code == 400
    assert admin_api.delete("/api/v1/journey-stages/pilot/").status_code == 405
    assert [s["key"] for s in admin_api.get("/api/v1/journey-stages/?kind=paying").json()["results"]] == [
        "starter",
        "corporate",
        "enterprise",
    ]


def test_reranking_a_stage_rederives_the_movements_through_it(admin_api):
    account = AccountFactory(external_id="acme")
    stage_transition_record(account=account, to_stage=stage("corporate"), changed_at=datetime(2026, 1, 1, tzinfo=UTC))
    stage_transition_record(account=account, to_stage=stage("starter"), changed_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert StageTransition.objects.get(to_stage__key="starter").movement == "contraction"
    response = admin_api.patch("/api/v1/journey-stages/starter/", {"rank": 5})
    assert response.status_code == 200, response.content
    assert StageTransition.objects.get(to_stage__key="starter").movement == "expansion"


CRITERIA = {"match": "all", "conditions": [{"field": "employees", "op": "gte", "value": 100}]}


def test_segment_create_evaluates_members_and_members_endpoint_lists_them(admin_api):
    AccountFactory(external_id="big", employees=500)
    AccountFactory(external_id="small", employees=5)
    created = admin_api.post("/api/v1/segments/", {"name": "Big", "criteria": CRITERIA})
    assert created.status_code == 201, created.content
    assert created.json()["member_count"] == 1 and created.json()["evaluated_at"]
    members = admin_api.get(f"/api/v1/segments/{created.json()['id']}/members/").json()
    assert [m["account"]["external_id"] for m in members["results"]] == ["big"]
    assert members["results"][0]["exited_at"] is None


def test_segment_members_include_past_stays_on_request(admin_api):
    big = AccountFactory(external_id="big", employees=500)
    AccountFactory(external_id="other", employees=900)
    segment = Segment.objects.create(name="Big", criteria=CRITERIA)
    segment_evaluate(segment=segment, now=datetime(2026, 1, 1, tzinfo=UTC))
    Account.objects.filter(pk=big.pk).update(employees=10)
    segment_evaluate(segment=segment, now=datetime(2026, 2, 1, tzinfo=UTC))

    url = f"/api/v1/segments/{segment.pk}/members/"
    current = admin_api.get(url).json()["results"]
    assert [m["account"]["external_id"] for m in current] == ["other"]
    history = admin_api.get(url + "?include_past=true").json()["results"]
    stays = {m["account"]["external_id"]: (m["entered_at"], m["exited_at"]) for m in history}
    assert stays["big"] == ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
    assert stays["other"][1] is None
    assert admin_api.get("/api/v1/segments/999999/members/").status_code == 404


def test_changing_criteria_reevaluates_membership(admin_api):
    AccountFactory(external_id="big", employees=500)
    segment = admin_api.post("/api/v1/segments/", {"name": "Big", "criteria": CRITERIA}).json()
    changed = admin_api.patch(
        f"/api/v1/segments/{segment['id']}/",
        {"criteria": {"match": "all", "conditions": [{"field": "employees", "op": "gte", "value": 1000}]}},
    )
    assert changed.status_code == 200 and changed.json()["member_count"] == 0
    assert SegmentMembership.objects.get().exited_at is not None
    assert admin_api.get(f"/api/v1/segments/{segment['id']}/members/?include_past=1").json()["count"] == 1


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"match": "some"}, "'match' must be 'all' or 'any'"),
        ({"conditions": [{"field": "colour", "op": "eq", "value": "red"}]}, "unknown field 'colour'"),
        ({"conditions": [{"field": "employees", "op": "near", "value": 1}]}, "unknown op 'near'"),
        ({"conditions": [{"field": "stage", "op": "in", "value": "trial"}]}, "'in' needs a list value"),
        ({"conditions": [{"field": "employees", "op": "gte", "value": "many"}]}, "'gte' needs a number or a date"),
        ({"conditions": [{"field": "created_at", "op": "gt", "value": "someday"}]}, "'gt' needs a number or a date"),
        ({"conditions": [{"field": "created_at", "op": "within_days", "value": 10**12}]}, "cannot be evaluated"),
        ({"conditions": [{"field": "created_at", "op": "older_than_days", "value": 800000}]}, "cannot be evaluated"),
        ([1, 2], "must be a JSON object"),
        ({"conditions": [{"field": "name", "op": "eq", "value": "a\x00"}]}, "NUL"),
    ],
)
def test_bad_criteria_are_400_with_the_message(admin_api, criteria, message):
    response = admin_api.post("/api/v1/segments/", {"name": "Bad", "criteria": criteria})
    assert response.status_code == 400, response.content
    assert message in response.json()["criteria"][0]
    assert not Segment.objects.exists()


def test_segment_names_are_unique_and_filters_work(admin_api):
    Segment.objects.create(name="Trials", is_active=False)
    assert admin_api.post("/api/v1/segments/", {"name": "Trials"}).status_code == 400
    assert admin_api.get("/api/v1/segments/?is_active=false").json()["count"] == 1
    assert admin_api.get("/api/v1/segments/?search=tri").json()["count"] == 1
    assert admin_api.get("/api/v1/segments/?is_active=true").json()["count"] == 0


def test_stage_of_default_journey_exists():
    assert JourneyStage.objects.filter(key="trial").exists()


def test_times_with_large_offsets_are_stored_in_utc(admin_api):
    AccountFactory(external_id="acme")
    response = report(admin_api, "acme", "trial", "2026-01-01T20:00:00+20:00")
    assert response.status_code == 201, response.content
    assert response.json()["changed_at"] == "2026-01-01T00:00:00Z"
    filtered = admin_api.get("/api/v1/stage-transitions/?changed_after=2532-05-31T12:10:51.26221%2B23:09")
    assert filtered.status_code == 200 and filtered.json()["results"] == []
