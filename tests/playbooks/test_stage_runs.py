"""Playbooks follow the account's stage (issue 11 item 2): an expansion playbook never opens a task on the top plan
or a churned account, a churn-prevention one only on paying customers; a task's reasons come from what fired it
(the churn probability's reasons for a churn-risk task, not fit points) and probabilities read as percentages."""

from __future__ import annotations

import pytest
from django.utils import timezone

from klearly.demo import DEMO_PLAYBOOKS
from playbooks.models import Playbook, Task
from playbooks.runs import playbooks_run_score_changes
from scoring.models import AccountPrediction, AccountScore, RuleHit, SignalRule
from tests.factories import AccountFactory, stage
from tests.playbooks.factories import PlaybookFactory, TeamFactory
from tests.playbooks.test_runs import AT, BASE, change, tasks_of

pytestmark = pytest.mark.django_db

FIT_LINES = {"fit": [{"source": "fit_rule", "label": "Mid-size company", "points": 25}],
             "engagement": [{"source": "engagement_rule", "label": "Visit × 3", "points": 5}]}  # fmt: skip
CHURN_REASONS = {
    "churn": {"status": "ok", "probability": 0.35, "up": [{"text": "Active users in 30 days: 1", "effect": 0.12},
                                                          {"text": "No login for 21 days", "effect": 0.07}],
              "down": [{"text": "Tenure over a year", "effect": -0.04}]},
}  # fmt: skip


def account_at(key: str | None, name: str = "", **prediction):
    account = AccountFactory(name=name or (key or "no stage").capitalize(), stage=stage(key) if key else None)
    AccountScore.objects.create(account=account, lead=70, fit=60, engagement=10, computed_at=timezone.now(),
                                contributions=FIT_LINES)  # fmt: skip
    now = timezone.now()
    AccountPrediction.objects.create(account=account, health_since=now, computed_at=now, **prediction)
    return account


def shipped(name: str) -> Playbook:
    """A playbook exactly as seed_demo ships it."""
    spec = next(s for s in DEMO_PLAYBOOKS if s["name"] == name)
    values = {k: v for k, v in spec.items() if k not in ("name", "team")}
    return Playbook.objects.create(name=name, assign_team=TeamFactory(name=spec["team"]), **values)


def test_the_shipped_expansion_playbook_skips_the_top_plan_and_churned_accounts():
    pb = shipped("Expansion opportunity")
    rule = SignalRule.objects.get(name="Expansion opportunity")
    accounts = [account_at(key) for key in ("starter", "corporate", "enterprise", "churn", "trial")]
    for account in accounts:
        RuleHit.objects.create(rule=rule, account=account, set_at=timezone.now(), evaluated_at=timezone.now())
    playbooks_run_score_changes(changes=[change(a, hits_set=[rule.pk]) for a in accounts], computed_at=AT)
    assert sorted(t.account.stage.key for t in tasks_of(pb)) == ["corporate", "starter"]


def test_goals_say_which_stage_a_playbook_is_for():
    """A playbook's goal presupposes a stage: converting a prospect, expanding a customer below the top, retaining a
    paying customer; "qualified" (and grades) are a prospect's."""
    convert = PlaybookFactory(goal_kind="converted", goal_within_days=21)
    expand = PlaybookFactory(goal_kind="expanded", goal_within_days=60)
    retain = PlaybookFactory(goal_kind="retained", goal_within_days=90)
    qualified = PlaybookFactory(trigger_kind="flag_change", trigger_params={"flag": "qualified", "to": True})
    anyone = PlaybookFactory()
    accounts = {key: account_at(key) for key in ("trial", "starter", "enterprise", "churn")}
    accounts["none"] = account_at(None)
    playbooks_run_score_changes(
        changes=[change(a, lead=70.0, qualified=True) for a in accounts.values()], computed_at=AT
    )

    def stages(pb):
        return sorted((t.account.stage.key if t.account.stage else "none") for t in tasks_of(pb))

    assert stages(convert) == ["none", "trial"]
    assert stages(expand) == ["starter"]
    assert stages(retain) == ["enterprise", "starter"]
    assert stages(qualified) == ["none", "trial"]
    assert stages(anyone) == ["churn", "enterprise", "none", "starter", "trial"]


def test_a_churn_risk_task_gives_the_churn_probabilitys_reasons_in_percentage_points():
    pb = shipped("Churn risk: health turned bad")
    account = account_at("corporate", "Brightgrid", churn=0.35, churn_status="ok", health="bad",
                         reasons=CHURN_REASONS)  # fmt: skip
    before = {**BASE, "health": "normal", "churn_probability": 0.2}
    playbooks_run_score_changes(
        changes=[change(account, before=before, health="bad", churn_probability=0.35)], computed_at=AT
    )
    (task,) = tasks_of(pb)
    assert [(t["label"], t["points"], t["unit"]) for t in task.reason["top"]] == [
        ("Active users in 30 days: 1", 12.0, "pts"), ("No login for 21 days", 7.0, "pts"),
    ]  # fmt: skip
    assert "Mid-size company" not in str(task.reason["top"])  # fit points did not fire it
    assert task.reason["summary"] == "Health normal → bad (churn risk 35%)"
    assert "churn risk 35%" in task.body and "0.35" not in task.body and "0.35" not in task.title
    assert task.likelihood == 0  # a customer has nothing to buy: the inbox's likelihood is a prospect's


def test_probability_crossings_and_rule_hits_give_their_own_reasons():
    crossing = PlaybookFactory(trigger_kind="probability_crossing",
                               trigger_params={"probability": "churn_probability", "threshold": 0.3},
                               task_title_template="{{ account.name }}: {{ reason.summary }}")  # fmt: skip
    rule = SignalRule.objects.get(name="Potential problem account")
    by_rule = PlaybookFactory(trigger_kind="rule_hit", trigger_params={"rule": rule.name})
    account = account_at("starter", "Acme", churn=0.35, churn_status="ok", reasons=CHURN_REASONS)
    RuleHit.objects.create(rule=rule, account=account, set_at=timezone.now(), evaluated_at=timezone.now(),
                           values={"stage_kind": "paying", "adoption": 0.1, "engagement_trend": 0.3,
                                   "active_users_30d": 1, "engagement": 36.63})  # fmt: skip
    playbooks_run_score_changes(
        changes=[change(account, before={**BASE, "churn_probability": 0.2}, churn_probability=0.35,
                        hits_set=[rule.pk])], computed_at=AT,
    )  # fmt: skip
    (task,) = tasks_of(crossing)
    assert task.title == "Acme: Churn probability rose to 35% (crossed 30%)"
    assert [t["label"] for t in task.reason["top"]] == ["Active users in 30 days: 1", "No login for 21 days"]
    (hit,) = tasks_of(by_rule)
    assert sorted(t["label"] for t in hit.reason["top"]) == [  # (PostgreSQL's jsonb keeps no key order)
        "Active users 30d 1", "Adoption 10%", "Engagement 36.6", "Engagement trend ×0.30",
    ]  # fmt: skip


def test_task_pages_show_reasons_with_their_unit(client):
    from tests.factories import UserFactory

    pb = shipped("Churn risk: health turned bad")
    account = account_at("corporate", "Brightgrid", churn=0.35, churn_status="ok", health="bad",
                         reasons=CHURN_REASONS)  # fmt: skip
    playbooks_run_score_changes(changes=[change(account, before={**BASE, "health": "normal"}, health="bad",
                                                churn_probability=0.35)], computed_at=AT)  # fmt: skip
    (task,) = tasks_of(pb)
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    reasons = page[page.index('id="task-reasons"') :]
    assert "Active users in 30 days: 1" in reasons and "+12 pts" in reasons
    inbox = client.get("/?view=all").content.decode()
    assert "Active users in 30 days: 1 (+12 pts)" in inbox and "likelihood" not in inbox[inbox.index("Brightgrid") :]
    assert Task.objects.count() == 1


def test_probabilities_read_as_percentages_in_the_inbox_and_the_admin(admin_client):
    from klearly.web.presenters import task_row
    from tests.playbooks.factories import TaskFactory

    task = TaskFactory(reason={"summary": "", "score": "churn_probability", "before": 0.2, "after": 0.35})
    assert task_row(task).change == "Churn probability 20% → 35%"
    account_at("starter", "Percentia", churn=0.1769, churn_status="ok", expansion=0.05, expansion_status="ok")
    page = admin_client.get("/admin/scoring/accountprediction/").content.decode()
    assert "18%" in page and "5%" in page and "0.1769" not in page and "0.05<" not in page
