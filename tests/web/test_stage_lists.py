"""Stage-aware lists and badges (issue 11 item 2): each list ranks one kind of account by one number, labelled;
paying and churned accounts never stand in a prospect's call list, churned ones never in "at risk"; a churned
account reads "Churned", not "Qualified, grade B"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from scoring.models import RuleHit, SignalRule
from tests.factories import AccountFactory, stage
from tests.web.conftest import score
from tests.web.test_predictions import predict

pytestmark = pytest.mark.django_db


def rows(response) -> list[tuple[str, str]]:
    """(account name, the ranked column's text) of each row of a list."""
    html = response.content.decode()
    found = re.findall(r'<td><a href="/accounts/\d+/">([^<]+)</a>.*?<td class="num rank">([^<]*)</td>', html, re.S)
    return [(name, text) for name, text in found]


def outlooks(response) -> dict[str, str]:
    html = response.content.decode()
    found = re.findall(r'<td><a href="/accounts/\d+/">([^<]+)</a>.*?<td class="outlook small">([^<]*)</td>', html, re.S)
    return dict(found)


@pytest.fixture
def journey(world):
    """One account per standing, all qualified with a high lead score, owned by alice; probabilities stored only
    where they apply (as the rescore stores them)."""
    made = {}
    specs = {
        # name: stage key, lead, predictions
        "Trial hot": ("trial", 80, {"conversion": 0.61, "conversion_status": "ok"}),
        "Trial warm": ("trial", 70, {"conversion": 0.22, "conversion_status": "ok"}),
        "Lead fresh": (None, 75, {"conversion": None, "conversion_status": "not_applicable"}),
        "Starter busy": ("starter", 100, {"conversion_status": "not_applicable", "expansion": 0.35,
                                          "expansion_status": "ok", "churn": 0.08, "churn_status": "ok"}),
        "Corporate shaky": ("corporate", 98, {"conversion_status": "not_applicable", "expansion": 0.05,
                                              "expansion_status": "ok", "churn": 0.44, "churn_status": "ok",
                                              "health": "bad"}),
        "Enterprise top": ("enterprise", 99, {"conversion_status": "not_applicable",
                                              "expansion_status": "not_applicable", "churn": 0.12,
                                              "churn_status": "ok", "health": "bad"}),
        "Gone": ("churn", 97, {"conversion_status": "not_applicable", "expansion_status": "not_applicable",
                               "churn_status": "not_applicable", "health": "bad"}),
    }  # fmt: skip
    for name, (key, lead, values) in specs.items():
        account = AccountFactory(name=name, owner=world["alice"], stage=stage(key) if key else None)
        score(account, lead=lead, qualified=True, grade="B" if lead < 85 else "A", signal_strength=5)
        predict(account, **values)
        made[name] = account
    problem = SignalRule.objects.get(name="Potential problem account")
    for name in ("Starter busy", "Gone"):  # a hit on a churned account does not make it "at risk"
        RuleHit.objects.create(rule=problem, account=made[name], set_at=timezone.now(), evaluated_at=timezone.now())
    return made


def test_call_list_ranks_prospects_only_by_chance_to_convert(alice_client, journey):
    response = alice_client.get(reverse("web:call"))
    # Acme (world: no stage, qualified, no probability) is a prospect too: after those with one, "—" (then by lead)
    assert rows(response) == [("Trial hot", "61%"), ("Trial warm", "22%"), ("Acme", "—"), ("Lead fresh", "—")]
    assert '<th class="num rank" data-rank="conversion">Chance to convert</th>' in response.content.decode()


def test_call_list_ranks_by_lead_score_until_a_model_predicted_and_says_so(alice_client, journey):
    from scoring.models import AccountPrediction

    AccountPrediction.objects.update(conversion=None)
    response = alice_client.get(reverse("web:call"))
    assert rows(response) == [("Acme", "85"), ("Trial hot", "80"), ("Lead fresh", "75"), ("Trial warm", "70")]
    assert '<th class="num rank" data-rank="lead">Lead score</th>' in response.content.decode()


def test_expansion_list_is_paying_customers_below_the_top_plan(alice_client, journey):
    response = alice_client.get(reverse("web:expansion"))
    assert rows(response) == [("Starter busy", "35%"), ("Corporate shaky", "5%")]  # not Enterprise: nothing above
    assert ">Chance to expand<" in response.content.decode()


def test_at_risk_is_live_paying_customers_by_churn_risk(alice_client, journey):
    response = alice_client.get(reverse("web:at_risk"))
    # Corporate and Enterprise: bad health; Starter: the problem rule; Gone (churned, hit and bad health): left out
    assert rows(response) == [("Corporate shaky", "44%"), ("Enterprise top", "12%"), ("Starter busy", "8%")]
    assert ">Churn risk<" in response.content.decode()


def test_mixed_lists_label_each_probability_that_applies(alice_client, journey):
    seen = outlooks(alice_client.get(reverse("web:accounts")))
    assert seen["Trial hot"] == "61% to convert"
    assert seen["Starter busy"] == "35% to expand · 8% churn risk"
    assert seen["Enterprise top"] == "12% churn risk"
    assert seen["Gone"] == "Churned"
    assert "0.61" not in alice_client.get(reverse("web:accounts")).content.decode()


def test_grades_and_qualification_are_a_prospects_badges(alice_client, journey):
    gone = alice_client.get(reverse("web:account", args=[journey["Gone"].pk])).content.decode()
    badges = gone[gone.index('aria-label="Badges"') : gone.index("</div>", gone.index('aria-label="Badges"'))]
    assert ">Churned<" in badges and "Grade" not in badges and "Qualified" not in badges
    assert "Health:" not in badges
    paying = alice_client.get(reverse("web:account", args=[journey["Starter busy"].pk])).content.decode()
    badges = paying[paying.index('aria-label="Badges"') : paying.index("</div>", paying.index('aria-label="Badges"'))]
    assert "Grade" not in badges and "Qualified" not in badges and "Churned" not in badges
    assert "Not applicable at this stage (customer)" in paying  # the conversion tile
    trial = alice_client.get(reverse("web:account", args=[journey["Trial hot"].pk])).content.decode()
    badges = trial[trial.index('aria-label="Badges"') : trial.index("</div>", trial.index('aria-label="Badges"'))]
    assert "Grade B" in badges and "Qualified" in badges
    # the list rows too: a customer's grade is "—", a churned account is flagged churned, not qualified
    page = alice_client.get(reverse("web:accounts")).content.decode()
    gone_row = page[page.index(">Gone<") : page.index("</tr>", page.index(">Gone<"))]
    assert ">churned<" in gone_row and "qualified" not in gone_row and "grade-" not in gone_row
