"""Accounts and contacts over the API: addressed by external id, filtered, written through services (which mark
accounts for rescoring), and bad input answered with 400 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.hooks import rescore_requested
from accounts.models import Account, Contact, RescoreMark, Segment, SegmentMembership, StageTransition
from accounts.services import stage_transition_record
from scoring.models import AccountScore
from tests.factories import AccountFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db


def transition(account: Account, key: str, when: datetime) -> StageTransition:
    """A stage move recorded the way every writer records it (the account's stage follows)."""
    return stage_transition_record(account=account, to_stage=stage(key), changed_at=when)


@pytest.fixture
def announced():
    """Account ids announced for rescoring (once per committed transaction)."""
    calls: list[frozenset[int]] = []

    def receiver(sender, account_ids, **kwargs):
        calls.append(account_ids)

    rescore_requested.connect(receiver)
    yield calls
    rescore_requested.disconnect(receiver)


def test_account_is_addressed_by_external_id_even_with_dots_spaces_and_at_signs(admin_api):
    AccountFactory(external_id="crm:00Q5 f.x@y")
    response = admin_api.get("/api/v1/accounts/crm:00Q5%20f.x@y/")
    assert response.status_code == 200
    body = response.json()
    assert body["external_id"] == "crm:00Q5 f.x@y" and isinstance(body["id"], int)


def test_unknown_external_id_in_a_url_is_404(admin_api):
    assert admin_api.get("/api/v1/accounts/nobody/").status_code == 404
    assert admin_api.patch("/api/v1/contacts/nobody/", {"title": "x"}, format="json").status_code == 404
    assert admin_api.get("/api/v1/accounts/a%00b/").status_code == 404


def test_create_account_with_stage_and_owner_records_a_transition_and_marks_for_rescore(
    admin_api, announced, django_capture_on_commit_callbacks
):
    UserFactory(username="olivia", email="Olivia@Example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(
            "/api/v1/accounts/",
            {
                "external_id": "A-1",
                "name": "Acme",
                "domain": "ACME.com",
                "employees": 120,
                "annual_revenue": "1200000.50",
                "created_at": "2025-06-01T00:00:00Z",
                "owner_email": "olivia@example.com",
                "stage": "trial",
                "traits": {"plan": "pro", "seats": 5},
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stage"] == "trial" and body["owner_email"] == "Olivia@Example.com"
    assert body["domain"] == "acme.com" and body["annual_revenue"] == "1200000.50"
    account = Account.objects.get(external_id="A-1")
    move = StageTransition.objects.get(account=account)
    assert (move.to_stage.key, move.movement, move.changed_at) == ("trial", "entry", datetime(2025, 6, 1, tzinfo=UTC))
    assert announced == [frozenset({account.pk})]
    # The announcement ran (eager): scoring consumed the mark and scored the account.
    assert not RescoreMark.objects.filter(account=account).exists()
    assert AccountScore.objects.filter(account=account).exists()


def test_update_merges_traits_changes_stage_through_a_transition_and_marks_for_rescore(admin_api, announced):
    account = AccountFactory(external_id="A-1", traits={"plan": "free", "seats": 3})
    transition(account, "trial", datetime(2026, 1, 1, tzinfo=UTC))
    response = admin_api.patch(
        "/api/v1/accounts/A-1/",
        {"traits": {"plan": "pro", "seats": None, "region": "eu"}, "stage": "starter"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["traits"] == {"plan": "pro", "region": "eu"}
    latest = StageTransition.objects.filter(account=account).order_by("-changed_at").first()
    assert (latest.from_stage.key, latest.to_stage.key, latest.movement) == ("trial", "starter", "conversion")
    assert response.json()["stage"] == "starter"
    assert RescoreMark.objects.filter(account=account).exists()


def test_a_stage_cannot_be_removed_by_a_patch(admin_api):
    account = AccountFactory(external_id="A-1")
    transition(account, "trial", datetime(2026, 1, 1, tzinfo=UTC))
    response = admin_api.patch("/api/v1/accounts/A-1/", {"stage": None}, format="json")
    assert response.status_code == 400
    assert "stage-transitions" in response.json()["stage"][0]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"external_id": ""}, "external_id", "blank"),
        ({"external_id": "x" * 129}, "external_id", "128"),
        ({"external_id": "taken"}, "external_id", "an account has this external id"),
        ({"external_id": "a\x00b"}, "external_id", "Null characters"),
        ({"external_id": "n", "employees": -1}, "employees", "greater than or equal to 0"),
        ({"external_id": "n", "employees": 10**12}, "employees", "less than or equal to"),
        ({"external_id": "n", "annual_revenue": "1e20"}, "annual_revenue", "digits"),
        ({"external_id": "n", "annual_revenue": "NaN"}, "annual_revenue", "valid number"),
        ({"external_id": "n", "stage": "nowhere"}, "stage", "no journey stage has key 'nowhere'"),
        ({"external_id": "n", "stage": {"key": "trial"}}, "stage", "must be the key"),
        ({"external_id": "n", "owner_email": "ghost@example.com"}, "owner_email", "no Klearly user has email"),
        ({"external_id": "n", "traits": [1, 2]}, "traits", "must be a JSON object"),
        ({"external_id": "n", "traits": {"a": "x\x00y"}}, "traits", "NUL"),
        ({"external_id": "n", "created_at": "0001-01-01T00:00:00+05:00"}, "created_at", ""),
        ({"external_id": "n", "created_at": "1066-10-14T00:00:00Z"}, "created_at", "between 1900 and 2200"),
        ({"external_id": "n", "created_at": 12}, "created_at", "wrong format"),
    ],
)
def test_bad_account_input_is_a_400_naming_the_field(admin_api, body, field, message):
    AccountFactory(external_id="taken")
    response = admin_api.post("/api/v1/accounts/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert message in " ".join(response.json()[field])


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"external_id": NaN}', b'{"external_id": "\\ud800"}', b"[" * 100_000, b'"just a string"'],
)
def test_unreadable_bodies_are_400(admin_api, raw):
    response = admin_api.generic("POST", "/api/v1/accounts/", raw, content_type="application/json")
    assert response.status_code == 400, response.content


def test_non_json_bodies_are_415(admin_api):
    response = admin_api.generic("POST", "/api/v1/accounts/", b"external_id=x", content_type="text/plain")
    assert response.status_code == 415


def test_account_filters(admin_api):
    owner = UserFactory(username="olivia", email="olivia@example.com")
    small = AccountFactory(external_id="small", name="Tiny Tools", employees=10, industry="Retail", country="FR")
    big = AccountFactory(external_id="big", name="Mega Corp", employees=5000, owner=owner, domain="mega.io")
    AccountFactory(external_id="mid", employees=300)
    transition(small, "trial", datetime(2026, 1, 1, tzinfo=UTC))
    transition(big, "enterprise", datetime(2026, 1, 1, tzinfo=UTC))
    segment = Segment.objects.create(name="Big ones")
    SegmentMembership.objects.create(segment=segment, account=big, entered_at=datetime(2026, 1, 1, tzinfo=UTC))
    SegmentMembership.objects.create(
        segment=segment,
        account=small,
        entered_at=datetime(2026, 1, 1, tzinfo=UTC),
        exited_at=datetime(2026, 2, 1, tzinfo=UTC),
    )

    def ids(query: str) -> list[str]:
        response = admin_api.get(f"/api/v1/accounts/?{query}")
        assert response.status_code == 200, response.content
        return sorted(a["external_id"] for a in response.json()["results"])

    assert ids("stage=trial") == ["small"]
    assert ids("stage=trial,enterprise") == ["big", "small"]
    assert ids("stage_kind=paying") == ["big"]
    assert ids("owner=OLIVIA@example.com") == ["big"]
    assert ids("industry=retail") == ["small"]
    assert ids("country=fr") == ["small"]
    assert ids(f"segment={segment.pk}") == ["big"]
    assert ids("employees_min=100&employees_max=1000") == ["mid"]
    assert ids("search=mega") == ["big"]
    assert ids("search=small") == ["small"]
    ordered = admin_api.get("/api/v1/accounts/?ordering=-employees").json()["results"]
    assert [a["external_id"] for a in ordered] == ["big", "mid", "small"]


@pytest.mark.parametrize(
    "query",
    ["employees_min=abc", "employees_min=99999999999999999999", "ordering=password", "stage_kind=gold",
     "created_after=yesterday", "segment=1.5", "owner=%00"],
)  # fmt: skip
def test_bad_filters_are_400(admin_api, query):
    response = admin_api.get(f"/api/v1/accounts/?{query}")
    assert response.status_code == 400, response.content


def test_page_size_is_capped(admin_api):
    AccountFactory.create_batch(3)
    response = admin_api.get("/api/v1/accounts/?page_size=2")
    assert len(response.json()["results"]) == 2 and response.json()["count"] == 3
    assert admin_api.get("/api/v1/accounts/?page_size=100000").status_code == 200
    assert admin_api.get("/api/v1/accounts/?page=99").status_code == 404


def test_delete_account(admin_api):
    AccountFactory(external_id="gone")
    assert admin_api.delete("/api/v1/accounts/gone/").status_code == 204
    assert not Account.objects.filter(external_id="gone").exists()


def test_contact_crud_by_external_id_with_account_by_external_id(admin_api):
    old, new = AccountFactory(external_id="old"), AccountFactory(external_id="new")
    created = admin_api.post(
        "/api/v1/contacts/",
        {"external_id": "c-1", "account_external_id": "old", "email": "Ada@Example.COM", "first_name": "Ada",
         "traits": {"role": "admin"}},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["account_external_id"] == "old" and created.json()["email"] == "ada@example.com"
    RescoreMark.objects.all().delete()

    moved = admin_api.patch("/api/v1/contacts/c-1/", {"account_external_id": "new"}, format="json")
    assert moved.status_code == 200
    assert Contact.objects.get(external_id="c-1").account == new
    assert set(RescoreMark.objects.values_list("account_id", flat=True)) == {old.pk, new.pk}

    unknown = admin_api.patch("/api/v1/contacts/c-1/", {"account_external_id": "ghost"}, format="json")
    assert unknown.status_code == 400
    assert unknown.json() == {"account_external_id": ["no account has external id 'ghost'"]}

    assert admin_api.get("/api/v1/contacts/c-1/").json()["traits"] == {"role": "admin"}
    assert admin_api.delete("/api/v1/contacts/c-1/").status_code == 204


def test_contact_needs_an_external_id(admin_api):
    response = admin_api.post("/api/v1/contacts/", {"external_id": None, "email": "a@b.co"}, format="json")
    assert response.status_code == 400 and "external_id" in response.json()
    response = admin_api.post("/api/v1/contacts/", {"email": "not-an-email", "external_id": "x"}, format="json")
    assert response.status_code == 400 and "email" in response.json()


def test_contact_filters(admin_api):
    acme = AccountFactory(external_id="acme")
    ContactFactory(external_id="ada", account=acme, email="ada@acme.com", last_name="Lovelace")
    ContactFactory(external_id="bob", email="bob@else.com", last_name="Babbage")
    transition_free = ContactFactory(external_id="cat", account=acme, email="cat@acme.com", last_name="Cat")
    transition_free.stage = stage("trial")
    transition_free.save()

    def ids(query: str) -> list[str]:
        response = admin_api.get(f"/api/v1/contacts/?{query}")
        assert response.status_code == 200, response.content
        return [c["external_id"] for c in response.json()["results"]]

    assert sorted(ids("account=acme")) == ["ada", "cat"]
    assert ids("email=BOB@else.com") == ["bob"]
    assert ids("stage=trial") == ["cat"]
    assert ids("search=love") == ["ada"]
    assert ids("ordering=-last_name") == ["ada", "cat", "bob"]


@pytest.mark.parametrize("query", ["ordering=,", "ordering=", "ordering=,-name", "ordering=name,name"])
def test_empty_and_repeated_orderings_are_harmless(admin_api, query):
    AccountFactory.create_batch(2)
    assert admin_api.get(f"/api/v1/accounts/?{query}").status_code == 200
    assert admin_api.get(f"/api/v1/contacts/?{query.replace('name', 'last_name')}").status_code == 200
