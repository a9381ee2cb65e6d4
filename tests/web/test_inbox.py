"""The inbox page: login, views with counts, who sees what, filters through the shared TaskFilterSet, sorting."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from playbooks.choices import TaskStatus
from tests.web.conftest import HTMX

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    return re.findall(r'class="title"[^>]*>([^<]+)</a>', response.content.decode())


def test_anonymous_home_goes_to_login_and_login_lands_in_the_inbox(client, world):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/")
    page = client.get("/login/")
    assert page.status_code == 200 and b"Log in to Klearly" in page.content
    bad = client.post("/login/", {"username": "alice", "password": "nope"})
    assert bad.status_code == 200 and b"enter a correct username and password" in bad.content
    good = client.post("/login/", {"username": "alice", "password": "pw"})
    assert good.status_code == 302 and good["Location"] == "/"
    assert client.get("/").status_code == 200


def test_my_tasks_with_counts_per_view(alice_client, world):
    response = alice_client.get("/")
    assert response.status_code == 200
    assert set(titles(response)) == {"Call Acme", "Call Globex"}
    nav = re.findall(
        r'data-view="(\w+)">\s*<span>[^<]+</span><span class="count"[^>]*>(\d+)<', response.content.decode()
    )
    assert dict(nav) == {"mine": "2", "team": "4", "unassigned": "1"}  # operators get no "all" view
    # The reason is on the task: the change, the summary and the top contributors.
    body = response.content.decode()
    assert "Lead score 58 → 71" in body and "Pricing page view × 4 (+18.5)" in body
    # The first task's detail is open beside the list, with its actions.
    assert 'data-action="complete"' in body


def test_team_and_unassigned_views(alice_client, world):
    assert set(titles(alice_client.get("/?view=team"))) == {"Call Acme", "Call Globex", "Call Initech", "Call Umbrella"}
    assert titles(alice_client.get("/?view=unassigned")) == ["Call Umbrella"]


def test_operators_never_see_other_teams_admins_see_all(client, world):
    client.force_login(world["alice"])
    assert "Call Hooli" not in titles(client.get("/?view=all"))
    assert client.get(reverse("web:task", args=[world["sales_task"].pk])).status_code == 404
    client.force_login(world["boss"])
    assert "Call Hooli" in titles(client.get("/?view=all"))
    assert client.get(reverse("web:task", args=[world["sales_task"].pk])).status_code == 200


def test_filters_and_sorting(alice_client, world):
    assert titles(alice_client.get("/?grade=A")) == ["Call Acme"]
    assert titles(alice_client.get(f"/?view=team&playbook={world['churn'].pk}")) == ["Call Globex"]
    assert titles(alice_client.get("/?due=overdue")) == ["Call Globex"]
    assert titles(alice_client.get("/?sort=likelihood")) == ["Call Globex", "Call Acme"]
    assert titles(alice_client.get("/?sort=priority")) == ["Call Acme", "Call Globex"]
    assert titles(alice_client.get("/?sort=due")) == ["Call Globex", "Call Acme"]
    assert titles(alice_client.get("/?search=glob")) == ["Call Globex"]


def test_bad_filter_values_are_named_not_a_500(alice_client, world):
    response = alice_client.get("/?playbook=abc&grade=Z&due=someday&sort=nonsense&view=evil&page=x")
    assert response.status_code == 200
    body = response.content.decode()
    assert "(left out)" in body and "Grade" in body and "Due" in body
    assert set(titles(response)) == {"Call Acme", "Call Globex"}  # the bad filters are left out, the rest works


def test_status_tabs_and_empty_states(alice_client, world):
    world["mine"].status = TaskStatus.DONE
    world["mine"].save()
    assert titles(alice_client.get("/?status=done")) == ["Call Acme"]
    empty = alice_client.get("/?status=snoozed").content.decode()
    assert "No snoozed task in this view" in empty
    none_match = alice_client.get("/?search=zzz").content.decode()
    assert "No task matches these filters" in none_match and "Clear the filters" in none_match


def test_clear_inbox_says_what_to_do(client, world):
    client.force_login(world["bob"])
    world["bobs"].delete()
    body = client.get("/").content.decode()
    assert "Your inbox is clear" in body and "Unassigned" in body


def test_htmx_list_request_gets_the_list_fragment(alice_client, world):
    response = alice_client.get("/?grade=A", **HTMX)
    assert response.status_code == 200
    assert b"<html" not in response.content and b"Call Acme" in response.content


def test_static_files_are_local(alice_client, world):
    body = alice_client.get("/").content.decode()
    assert "/static/klearly/htmx.min.js" in body and "/static/klearly/app.css" in body
    assert "cdn" not in body.lower() and "https://" not in body


def test_admins_get_the_all_view_and_counts_of_everything_open(client, world):
    world["bobs"].status = TaskStatus.SNOOZED  # snoozed tasks are not counted as open
    world["bobs"].save()
    client.force_login(world["boss"])
    body = client.get("/?view=all").content.decode()
    nav = dict(re.findall(r'data-view="(\w+)">\s*<span>[^<]+</span><span class="count"[^>]*>(\d+)<', body))
    assert nav == {"mine": "0", "team": "0", "unassigned": "1", "all": "4"}


def test_operators_see_accounts_of_their_own_tasks_outside_their_team(client, world):
    from tests.factories import AccountFactory
    from tests.playbooks.factories import TaskFactory

    elsewhere = TaskFactory(team=world["sales"], assignee=world["alice"], account=AccountFactory(name="Elsewhere"))
    client.force_login(world["alice"])
    assert client.get(reverse("web:account", args=[elsewhere.account_id])).status_code == 200
    assert "Call Elsewhere" in titles(client.get("/?view=mine"))
