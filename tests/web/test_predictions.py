"""Probabilities and health (scoring.AccountPrediction) in the web UI: account tiles, lists, the inbox filter."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from scoring.models import AccountPrediction
from tests.factories import AccountFactory, stage
from tests.web.conftest import score
from tests.web.test_inbox import titles

pytestmark = pytest.mark.django_db


def predict(account, **values):
    defaults = {
        "conversion": None, "expansion": None, "churn": None, "conversion_status": "not_enough_history",
        "expansion_status": "not_applicable", "churn_status": "not_enough_history", "health": "normal",
        "health_since": timezone.now(), "computed_at": timezone.now(), "reasons": {}, "health_reasons": [],
    }  # fmt: skip
    return AccountPrediction.objects.create(account=account, **{**defaults, **values})


def names(response) -> list[str]:
    return re.findall(r'<td><a href="/accounts/\d+/">([^<]+)</a>', response.content.decode())


def test_account_page_shows_probabilities_with_reasons_greyed_when_none_and_health(alice_client, world):
    account = world["mine"].account
    predict(
        account, conversion=0.42, conversion_status="ok", churn_status="not_enough_history", health="bad",
        reasons={
            "conversion": {"status": "ok", "probability": 0.42, "up": [{"text": "Pricing page views in 14 days: 5", "effect": 0.12}],
                           "down": [{"text": "No integration connected", "effect": -0.05}]},
            "churn": {"status": "not_enough_history", "message": "Not enough history yet: 3 past churns recorded, 20 needed (17 more)."},
        },
        health_reasons=["Churn probability 35%", "Engagement trend ×0.40 (recent points per day against the weeks before)"],
    )  # fmt: skip
    body = alice_client.get(reverse("web:account", args=[account.pk])).content.decode()
    assert "Conversion probability" in body and "42%" in body
    assert "Pricing page views in 14 days: 5" in body and "+12 pp" in body and "−5 pp" in body  # percentage points
    assert "Churn probability" in body and "Not enough history yet: 3 past churns recorded" in body  # greyed, why
    # expansion does not apply to a prospect: "—" and why, not a number
    expansion = body[body.index('aria-label="Expansion probability"') :]
    assert 'data-applies="false"' in expansion[:60] and "Not applicable at this stage" in expansion[:400]
    assert "Health: bad" in body and "Engagement trend ×0.40" in body


def test_the_reasons_of_a_probability_are_in_one_unit_and_add_up_to_it(alice_client, world):
    account = world["mine"].account
    predict(
        account, conversion=0.342, conversion_status="ok",
        reasons={"conversion": {
            "status": "ok", "probability": 0.342, "raw": 0.361, "typical": 0.12,
            "up": [{"text": "Pricing page views in 14 days: 5", "effect": 0.153},
                   {"text": "Active users: 4", "effect": 0.091}],
            "down": [{"text": "No integration connected", "effect": -0.032}],
        }},
    )  # fmt: skip
    body = alice_client.get(reverse("web:account", args=[account.pk])).content.decode()
    tile = body[body.index('aria-label="Conversion probability"') :]
    tile = tile[: tile.index("</section>")]
    lines = re.findall(r"<li><span>([^<]+)</span><span class=\"pts[^\"]*\">([^<]+)</span></li>", tile)
    assert lines[0] == ("A typical account", "12.0%")
    assert ("Pricing page views in 14 days: 5", "+15.3 pp") in lines
    assert ("No integration connected", "−3.2 pp") in lines
    assert all(value.endswith(" pp") for _, value in lines[1:])  # one unit after the starting point
    signed = [float(v[:-3].replace("−", "-").replace("+", "")) for _, v in lines[1:]]
    assert round(12.0 + sum(signed), 1) == 34.2 and "they add up to 34.2%" in tile
    assert ("Smoothing: a change counts in over hours, not at once", "−1.9 pp") in lines  # 34.2% shown, 36.1% raw


def test_lists_use_conversion_probability_then_lead_and_health(alice_client, world):
    likely = AccountFactory(name="Likely", owner=world["alice"])
    score(likely, lead=70, qualified=True)
    predict(likely, conversion=0.9, conversion_status="ok")
    unlikely = AccountFactory(name="Unlikely", owner=world["alice"])
    score(unlikely, lead=99, qualified=True)
    predict(unlikely, conversion=0.2, conversion_status="ok")
    # Acme (world): qualified, lead 85, no probability: last, shown "—" (one unit: no lead score stands in for it)
    assert names(alice_client.get(reverse("web:call"))) == ["Likely", "Unlikely", "Acme"]
    page = alice_client.get(reverse("web:call")).content.decode()
    assert ">90%<" in page and ">Chance to convert<" in page and '<td class="num rank">—</td>' in page
    predict(world["mine_too"].account, health="bad")
    world["mine_too"].account.stage = stage("starter")  # at risk: a live paying customer
    world["mine_too"].account.save()
    assert names(alice_client.get(reverse("web:at_risk"))) == ["Globex"]
    assert names(alice_client.get(reverse("web:accounts"), {"health": "bad"})) == ["Globex"]


def test_inbox_filters_by_health_through_the_shared_filterset(alice_client, world):
    predict(world["mine_too"].account, health="bad")
    predict(world["mine"].account, health="good")
    assert titles(alice_client.get("/?health=bad")) == ["Call Globex"]
    assert 'id="f-health"' in alice_client.get("/").content.decode()
