"""Operators' sessions see over /api/v1/ what the web shows them, on every endpoint (issue 12, item 1).

Two teams, each with an account and everything that hangs off it (contact, signal, stage transition, scores, history,
contact scores, rule hit, segment membership, task). Every string of team B's data contains "bravo" and of team A's
"alpha", so a list leaks if "bravo" appears in it. The endpoints are read from the router, so a new viewset is
tested without being listed here, and must be classified below (team B's URL, or shared configuration).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Contact, Segment
from klearly.api.urls import router
from klearly.api.viewsets import SHARED, ApiViewSetMixin
from klearly.models import ApiKey
from tests.api.conftest import bearer
from tests.api.factories import api_key
from tests.factories import AccountFactory, ContactFactory, SignalFactory, SignalTypeFactory, UserFactory, transition
from tests.playbooks.factories import PlaybookFactory, TaskFactory, TeamFactory

pytestmark = pytest.mark.django_db

# basename -> team B's detail URL ({placeholders} from the world), or None for shared configuration (every reader
# sees the same rows). A viewset added to the router must be added here: test_every_endpoint_is_classified.
BRAVO = {
    "account": "/api/v1/accounts/bravo-co/",
    "contact": "/api/v1/contacts/bravo-person/",
    "signal": "/api/v1/signals/{signal}/",
    "stage-transition": "/api/v1/stage-transitions/{transition}/",
    "score": "/api/v1/scores/bravo-co/",
    "task": "/api/v1/tasks/{task}/",
    "journey-stage": None,
    "segment": None,
    "signal-type": None,
    "signal-topic": None,
    "predictive-model": None,
    "playbook": None,
}
# Endpoints that list rows; the person endpoints (privacy, contact-privacy) list nothing and are for staff with the
# permission and admin keys only (tests/api/test_privacy_api.py).
ROUTES = {basename: viewset for _, viewset, basename in router.registry if hasattr(viewset, "list")}


def login(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def grant_all(user) -> None:
    """Every model permission: a 404 below comes from visibility, never from a missing permission."""
    user.user_permissions.set(Permission.objects.all())


@pytest.fixture
def teams():
    """Alice and Ally in team A, Bob in team B, and Boss (staff); one account per team with everything on it."""
    from scoring.models import EngagementRule, RuleHit, SignalRule
    from scoring.services import accounts_rescore

    alice, ally, bob = UserFactory(username="alice"), UserFactory(username="ally"), UserFactory(username="bob")
    boss = UserFactory(username="boss", is_staff=True)
    team_a, team_b = TeamFactory(name="Team A"), TeamFactory(name="Team B")
    team_a.members.add(alice, ally)
    team_b.members.add(bob)
    demo = SignalTypeFactory(key="demo-request", label="Demo request")
    EngagementRule.objects.create(signal_type=demo, points=10, half_life_days=30, cap=50)
    rule = SignalRule.objects.create(name="Busy week", is_active=False)
    everyone = Segment.objects.create(name="Everyone")
    world = {"alice": alice, "ally": ally, "bob": bob, "boss": boss, "team_a": team_a, "everyone": everyone}
    playbook = PlaybookFactory(name="Follow up")
    for name, owner, team in (("alpha", ally, team_a), ("bravo", bob, team_b)):
        account = AccountFactory(external_id=f"{name}-co", name=f"{name.title()} Co", owner=owner,
                                 domain=f"{name}.example.com")  # fmt: skip
        contact = ContactFactory(external_id=f"{name}-person", account=account, email=f"{name}@example.com")
        signal = SignalFactory(account=account, contact=contact, type=demo, idempotency_key=f"{name}-m1",
                               occurred_at=datetime.now(UTC), properties={"who": name})  # fmt: skip
        move = transition(account, "trial", datetime(2026, 1, 1, tzinfo=UTC))
        at = datetime(2026, 3, 1, tzinfo=UTC)
        RuleHit.objects.create(rule=rule, account=account, set_at=at, evaluated_at=at, values={"who": name})
        everyone.memberships.create(account=account, entered_at=at)
        task = TaskFactory(account=account, team=team, playbook=playbook, title=f"Call {name}")
        world[name] = {"account": account, "contact": contact, "signal": signal, "transition": move, "task": task}
    accounts_rescore(account_ids=[world["alpha"]["account"].pk, world["bravo"]["account"].pk])
    return world


def url_of(template: str, world: dict, side: str = "bravo") -> str:
    rows = world[side]
    return template.format(signal=rows["signal"].pk, transition=rows["transition"].pk, task=rows["task"].pk)


def list_urls() -> list[str]:
    return [reverse(f"api:{basename}-list") for basename in ROUTES]


def test_every_endpoint_is_classified():
    assert set(BRAVO) == set(ROUTES), "classify the new viewset in BRAVO: team B's detail URL, or None if shared"


@pytest.mark.parametrize("basename", sorted(ROUTES))
def test_every_viewset_says_who_sees_which_rows(basename):
    viewset = ROUTES[basename]
    assert issubclass(viewset, ApiViewSetMixin)
    own_rule = viewset.visible_rows is not ApiViewSetMixin.visible_rows
    assert own_rule or viewset.account_path is not None
    assert (viewset.account_path == SHARED) == (BRAVO[basename] is None) or own_rule


@pytest.mark.parametrize("url", list_urls())
def test_lists_show_an_operator_only_their_teams_accounts(teams, url):
    response = login(teams["alice"]).get(url)
    assert response.status_code == 200, response.content
    assert b"bravo" not in response.content.lower()
    basename = next(b for b in ROUTES if reverse(f"api:{b}-list") == url)
    if BRAVO[basename] is not None:
        assert b"alpha" in response.content.lower()


@pytest.mark.parametrize("url", [u for u in list_urls() if "predictive" not in u])
@pytest.mark.parametrize("caller", ["boss", "admin key", "read key"])
def test_admins_and_api_keys_see_every_account(teams, url, caller):
    client = login(teams["boss"]) if caller == "boss" else bearer(api_key(caller.split()[0])[1])
    response = client.get(url)
    assert response.status_code == 200
    basename = next(b for b in ROUTES if reverse(f"api:{b}-list") == url)
    if BRAVO[basename] is not None:
        assert b"bravo" in response.content.lower() and b"alpha" in response.content.lower()


def detail_calls() -> list[tuple[str, str, str]]:
    """(basename, method, URL template) of every detail route of every account-scoped endpoint, extra actions too."""
    calls = []
    for basename, template in BRAVO.items():
        if template is None:
            continue
        viewset = ROUTES[basename]
        for method, name in (("get", "retrieve"), ("put", "update"), ("patch", "partial_update"),
                             ("delete", "destroy")):  # fmt: skip
            if hasattr(viewset, name):
                calls.append((basename, method, template))
        for extra in viewset.get_extra_actions():
            if extra.detail:
                calls.extend((basename, method, f"{template}{extra.url_path}/") for method in extra.mapping)
    return calls


@pytest.mark.parametrize(("basename", "method", "template"), detail_calls(), ids=lambda v: str(v))
def test_another_teams_rows_are_404_for_reads_writes_and_actions(teams, basename, method, template):
    grant_all(teams["alice"])
    alice = login(type(teams["alice"]).objects.get(pk=teams["alice"].pk))
    response = getattr(alice, method)(url_of(template, teams), {}, format="json")
    assert response.status_code == 404, (response.status_code, response.content)


@pytest.mark.parametrize(("basename", "method", "template"),
                         [c for c in detail_calls() if c[1] == "get"], ids=lambda v: str(v))  # fmt: skip
def test_the_same_reads_of_ones_own_team_answer(teams, basename, method, template):
    alpha = template.replace("bravo", "alpha")
    response = login(teams["alice"]).get(url_of(alpha, teams, "alpha"))
    assert response.status_code == 200, response.content
    assert b"bravo" not in response.content.lower()


def test_segments_count_and_list_only_visible_members(teams):
    alice, boss = login(teams["alice"]), login(teams["boss"])
    segment = teams["everyone"].pk
    assert alice.get(f"/api/v1/segments/{segment}/").json()["member_count"] == 1
    assert boss.get(f"/api/v1/segments/{segment}/").json()["member_count"] == 2
    members = alice.get(f"/api/v1/segments/{segment}/members/").json()["results"]
    assert [m["account"]["external_id"] for m in members] == ["alpha-co"]


def test_writes_cannot_name_another_teams_account(teams):
    grant_all(teams["alice"])
    alice = login(type(teams["alice"]).objects.get(pk=teams["alice"].pk))
    unknown = alice.post("/api/v1/contacts/", {"external_id": "x", "account_external_id": "nobody-co"}, format="json")
    hidden = alice.post("/api/v1/contacts/", {"external_id": "x", "account_external_id": "bravo-co"}, format="json")
    assert hidden.status_code == 400
    assert hidden.json()["account_external_id"] == ["no account has external id 'bravo-co'"]
    assert unknown.json()["account_external_id"] == ["no account has external id 'nobody-co'"]  # same answer

    moved = alice.patch("/api/v1/contacts/alpha-person/", {"account_external_id": "bravo-co"}, format="json")
    assert moved.status_code == 400
    assert Contact.objects.get(external_id="alpha-person").account.external_id == "alpha-co"

    body = {"account_external_id": "bravo-co", "stage": "starter", "changed_at": "2026-02-01T00:00:00Z"}
    assert alice.post("/api/v1/stage-transitions/", body, format="json").status_code == 400

    signal = {"type": "Demo request", "occurred_at": "2026-03-01"}
    both = [{**signal, "message_id": "s1", "account_external_id": "alpha-co"},
            {**signal, "message_id": "s2", "account_external_id": "bravo-co"}]  # fmt: skip
    response = alice.post("/api/v1/signals/", both, format="json")
    assert response.status_code == 207
    assert response.json()["rejected"] == [
        {"index": 1, "errors": {"account_external_id": ["no account has external id 'bravo-co'"]}}
    ]
    from signals_app.models import Signal

    assert not Signal.objects.filter(idempotency_key="s2").exists()
    assert Signal.objects.filter(idempotency_key="s1", account__external_id="alpha-co").exists()


def test_write_keys_still_send_signals_for_any_account(teams):
    from tests.api.factories import write_key

    body = {"message_id": "w1", "account_external_id": "bravo-co", "type": "Demo request", "occurred_at": "2026-03-01"}
    assert bearer(write_key()[1]).post("/api/v1/signals/", body, format="json").status_code == 201


def offered_on_the_web(client, task) -> set[int]:
    """The people the web's assign form offers on a task's page."""
    page = client.get(reverse("web:task", args=[task.pk])).content.decode()
    select = re.search(rf'<select id="a-assignee-{task.pk}" name="assignee"[^>]*>(.*?)</select>', page, re.S)
    assert select, "the task page has an assign form"
    return {int(v) for v in re.findall(r'<option value="(\d+)"', select.group(1))}


@pytest.mark.parametrize("who", ["alice", "boss"])
def test_assign_accepts_exactly_the_people_the_web_form_offers(teams, who):
    user = teams[who]
    client = login(user)
    task = teams["alpha"]["task"]
    offered = offered_on_the_web(client, task)
    assert offered  # alice: herself and ally; boss: everyone
    users = type(user).objects.filter(is_active=True)
    accepted = {
        u.pk
        for u in users
        if client.post(f"/api/v1/tasks/{task.pk}/assign/", {"assignee": u.username}).status_code == 200
    }
    assert accepted == offered
    if who == "alice":
        assert accepted == {teams["alice"].pk, teams["ally"].pk}
        refused = client.post(f"/api/v1/tasks/{task.pk}/assign/", {"assignee": "bob"})
        assert refused.json() == {"assignee": ["'bob' is not someone you can assign tasks to"]}
        bulk = client.post("/api/v1/tasks/bulk/", {"action": "assign", "ids": [task.pk], "assignee": "bob"},
                           format="json")  # fmt: skip
        assert bulk.status_code == 400 and "assignee" in bulk.json()
        task.refresh_from_db()
        assert task.assignee_id != teams["bob"].pk


def test_api_keys_may_assign_to_anyone_active(teams):
    admin = bearer(api_key(ApiKey.Scope.ADMIN)[1])
    task = teams["alpha"]["task"]
    assert admin.post(f"/api/v1/tasks/{task.pk}/assign/", {"assignee": "bob"}).status_code == 200
