"""Running playbooks from change batches: every trigger kind, conditions, cooldown, dedupe under retry, switch
close, assignment (owner, round-robin, named), due dates, templates and reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import JourneyStage, Segment, SegmentMembership, StageTransition
from accounts.services import segment_evaluate, stage_transition_record
from playbooks.choices import TaskStatus
from playbooks.models import PlaybookRun, Task
from playbooks.runs import (
    add_business_days,
    playbooks_run_score_changes,
    playbooks_run_segment_changes,
    playbooks_run_stage_movements,
)
from scoring.models import AccountScore, RuleHit, ScoreHistory, SignalRule
from tests.factories import AccountFactory, UserFactory
from tests.playbooks.factories import PlaybookFactory, TaskFactory, TeamFactory

pytestmark = pytest.mark.django_db
AT = "2026-06-01T12:00:00+00:00"
BASE = {"lead": 50.0, "fit": 30.0, "engagement": 20.0, "signal_strength": 5.0, "grade": "C", "temperature": "warm",
        "qualified": False, "surging": False}  # fmt: skip


def change(account, before=BASE, hits_set=(), hits_cleared=(), **after):
    return {"account": account.pk, "before": None if before is None else dict(before), "after": {**BASE, **after},
            "hits_set": list(hits_set), "hits_cleared": list(hits_cleared)}  # fmt: skip


def run(*changes, at=AT):
    return playbooks_run_score_changes(changes=list(changes), computed_at=at)


def tasks_of(playbook):
    return list(Task.objects.filter(playbook=playbook).order_by("pk"))


def test_score_crossing_up_opens_one_task_with_reason_template_and_due_date():
    owner = UserFactory(username="owner")
    account = AccountFactory(name="Acme", owner=owner)
    AccountScore.objects.create(account=account, lead=70, fit=40, engagement=30, computed_at=timezone.now(),
                                contributions={"fit": [{"source": "fit_rule", "label": "Software", "points": 20}],
                                               "engagement": [{"source": "engagement_rule", "label": "Demo", "points": 25},
                                                              {"source": "engagement_rule", "label": "Visit", "points": 5}]})  # fmt: skip
    pb = PlaybookFactory(task_title_template="Call {{ account.name }} ({{ score.lead|floatformat:0 }})",
                         task_body_template="{{ reason.summary }}; top: {{ reason.top.0.label }}",
                         due_in_business_days=1, priority=3)  # fmt: skip
    stats = run(change(account, lead=70.0), change(AccountFactory(), lead=60.0))
    assert (stats.runs, stats.tasks) == (1, 1)
    (task,) = tasks_of(pb)
    assert task.title == "Call Acme (70)"
    assert task.body == "Lead score rose to 70 (crossed 65); top: Demo"
    assert task.assignee == owner and task.priority == 3 and task.status == TaskStatus.OPEN
    assert task.reason["before"] == 50.0 and task.reason["after"] == 70.0
    assert [t["label"] for t in task.reason["top"]] == ["Demo", "Software", "Visit"]
    assert task.likelihood == 70
    assert task.due_at == add_business_days(task.created_at, 1)
    assert task.reason_key == "lead:up:65"


def test_crossing_down_and_first_scoring():
    up, down = PlaybookFactory(), PlaybookFactory(trigger_params={"score": "fit", "threshold": 25, "direction": "down"})
    fresh, falling = AccountFactory(), AccountFactory()
    run(change(fresh, before=None, lead=80.0), change(falling, fit=20.0))
    assert [t.account for t in tasks_of(up)] == [fresh]  # a first score above the bar counts as crossing
    assert [t.account for t in tasks_of(down)] == [falling]


def test_retried_batch_adds_nothing_and_cooldown_holds():
    pb = PlaybookFactory(cooldown_days=7)
    account = AccountFactory()
    assert run(change(account, lead=70.0)).tasks == 1
    assert run(change(account, lead=70.0)).runs == 0  # the same batch again (a retry)
    # It fell back and crossed again later: within the cooldown, nothing.
    assert run(change(account, lead=70.0), at="2026-06-02T12:00:00+00:00").runs == 0
    assert PlaybookRun.objects.filter(playbook=pb).count() == 1 and len(tasks_of(pb)) == 1
    PlaybookRun.objects.update(fired_at=timezone.now() - timedelta(days=8))
    Task.objects.update(status=TaskStatus.DONE)
    assert run(change(account, lead=70.0), at="2026-06-10T12:00:00+00:00").tasks == 1


def test_an_active_task_for_the_same_reason_is_not_duplicated():
    pb = PlaybookFactory(cooldown_days=0)
    account = AccountFactory()
    run(change(account, lead=70.0))
    stats = run(change(account, lead=70.0), at="2026-06-02T12:00:00+00:00")
    assert stats.runs == 1 and len(tasks_of(pb)) == 1  # a new run is recorded, the open task stays the only one


def test_score_change_within_a_window_reads_score_history():
    pb = PlaybookFactory(trigger_kind="score_change",
                         trigger_params={"score": "engagement", "by": 15, "direction": "up", "window_days": 7})  # fmt: skip
    riser, slow = AccountFactory(), AccountFactory()
    today = timezone.localdate()
    for account, old in ((riser, 10.0), (slow, 18.0)):
        ScoreHistory.objects.create(account=account, date=today - timedelta(days=5), fit=0, engagement=old, lead=0,
                                    signal_strength=0, grade="D", temperature="cold", qualified=False, surging=False,
                                    config_version=1, computed_at=timezone.now())  # fmt: skip
    run(change(riser, engagement=28.0), change(slow, engagement=28.0))
    assert [t.account for t in tasks_of(pb)] == [riser]
    assert "rose by 18" in tasks_of(pb)[0].reason["summary"]


@pytest.mark.parametrize(
    ("kind", "params", "after", "fires"),
    [
        ("grade_change", {"to": ["A", "B"], "direction": "up"}, {"grade": "B"}, True),
        ("grade_change", {"to": ["A"]}, {"grade": "B"}, False),
        ("grade_change", {"direction": "down"}, {"grade": "B"}, False),
        ("temperature_change", {"to": ["hot"]}, {"temperature": "hot"}, True),
        ("temperature_change", {"from": ["cold"]}, {"temperature": "hot"}, False),
        ("flag_change", {"flag": "qualified", "to": True}, {"qualified": True}, True),
        ("flag_change", {"flag": "surging", "to": True}, {"qualified": True}, False),
        ("health_change", {"to": ["bad"]}, {"health": "bad"}, True),
        ("probability_crossing", {"probability": "churn_probability", "threshold": 0.5}, {"churn_probability": 0.7},
         True),
        ("probability_crossing", {"probability": "churn_probability", "threshold": 0.5}, {}, False),
    ],
)  # fmt: skip
def test_value_triggers(kind, params, after, fires):
    pb = PlaybookFactory(trigger_kind=kind, trigger_params=params)
    run(change(AccountFactory(), **after))
    assert len(tasks_of(pb)) == int(fires)


def test_rule_hit_set_fires_and_switch_closes_when_it_clears():
    rule = SignalRule.objects.get(name="Expansion opportunity")
    pb = PlaybookFactory(trigger_kind="rule_hit", trigger_params={"rule": rule.name}, is_switch=True, cooldown_days=0)
    other = PlaybookFactory(trigger_kind="rule_hit", trigger_params={"rule": rule.name, "event": "cleared"})
    account = AccountFactory()
    RuleHit.objects.create(rule=rule, account=account, set_at=timezone.now(), evaluated_at=timezone.now(),
                           values={"adoption": 0.8})  # fmt: skip
    run(change(account, hits_set=[rule.pk]))
    (task,) = tasks_of(pb)
    assert task.reason["values"] == {"adoption": 0.8}  # what made the rule true
    assert task.reason["summary"] == "Rule hit: Expansion opportunity" and task.reason_key == f"rule:{rule.pk}"
    stats = run(change(account, hits_cleared=[rule.pk]), at="2026-06-02T12:00:00+00:00")
    task.refresh_from_db()
    assert stats.closed == 1 and (task.status, task.dismiss_reason) == (TaskStatus.DISMISSED, "auto_cleared")
    assert len(tasks_of(other)) == 1  # the "cleared" playbook fired on the same change


def test_conditions_filter_accounts_by_stage_owner_and_scores():
    trial = JourneyStage.objects.get_or_create(key="trial", defaults={"name": "Trial", "kind": "free"})[0]
    owner = UserFactory(username="cs.alice")
    pb = PlaybookFactory(conditions={"match": "all", "conditions": [
        {"field": "stage_kind", "op": "eq", "value": "free"}, {"field": "owner_email", "op": "present"},
        {"field": "completeness", "op": "gte", "value": 50}]})  # fmt: skip
    good = AccountFactory(stage=trial, owner=owner)
    no_owner = AccountFactory(stage=trial)
    AccountScore.objects.create(account=good, completeness=100, computed_at=timezone.now())
    AccountScore.objects.create(account=no_owner, completeness=100, computed_at=timezone.now())
    run(change(good, lead=70.0), change(no_owner, lead=70.0))
    assert [t.account for t in tasks_of(pb)] == [good]


def test_round_robin_shares_tasks_and_continues_across_batches():
    alice, bob, carol = (UserFactory(username=n) for n in ("alice", "bob", "carol"))
    team = TeamFactory(name="CS")
    team.members.add(alice, bob, carol)
    pb = PlaybookFactory(assign_mode="round_robin", assign_team=team)
    run(*(change(AccountFactory(), lead=70.0) for _ in range(4)))
    run(*(change(AccountFactory(), lead=70.0) for _ in range(2)), at="2026-06-02T12:00:00+00:00")
    names = [t.assignee.username for t in tasks_of(pb)]
    assert sorted(names[:3]) == ["alice", "bob", "carol"]
    assert names == [names[i % 3] for i in range(6)] and all(t.team == team for t in tasks_of(pb))


def test_owner_mode_falls_back_to_round_robin_and_named_user():
    team = TeamFactory(name="Sales")
    seller = UserFactory(username="seller")
    team.members.add(seller)
    owner_pb = PlaybookFactory(assign_mode="owner", assign_team=team)
    named = PlaybookFactory(assign_mode="user", assign_user=UserFactory(username="boss"),
                            trigger_params={"score": "fit", "threshold": 35})  # fmt: skip
    run(change(AccountFactory(owner=None), lead=70.0, fit=40.0))
    assert tasks_of(owner_pb)[0].assignee == seller
    assert tasks_of(named)[0].assignee.username == "boss"


def test_stage_movement_fires_for_recent_moves_only():
    trial = JourneyStage.objects.get_or_create(key="trial", defaults={"name": "Trial", "kind": "free"})[0]
    starter = JourneyStage.objects.get_or_create(key="starter", defaults={"name": "Starter", "kind": "paying",
                                                                          "rank": 1})[0]  # fmt: skip
    pb = PlaybookFactory(trigger_kind="stage_movement", trigger_params={"movement": ["conversion"]})
    recent, old = AccountFactory(), AccountFactory()
    now = timezone.now()
    movements = [
        {"account": recent.pk, "from_stage": trial.pk, "to_stage": starter.pk, "movement": "conversion",
         "changed_at": now.isoformat()},
        {"account": old.pk, "from_stage": trial.pk, "to_stage": starter.pk, "movement": "conversion",
         "changed_at": (now - timedelta(days=60)).isoformat()},
    ]  # fmt: skip
    playbooks_run_stage_movements(movements=movements)
    (task,) = tasks_of(pb)
    assert task.account == recent and task.reason["summary"] == "Moved Trial → Starter (conversion)"


def test_segment_entered_and_left_with_switch():
    segment = Segment.objects.create(name="Trials", criteria={"field": "industry", "op": "eq", "value": "Software"})
    pb = PlaybookFactory(trigger_kind="segment_entered", trigger_params={"segment": "Trials"}, is_switch=True)
    leaver = PlaybookFactory(trigger_kind="segment_left", trigger_params={"segment": "Trials"})
    account = AccountFactory()
    playbooks_run_segment_changes(segment_id=segment.pk, entered=[account.pk], left=[], at=AT)
    assert len(tasks_of(pb)) == 1
    playbooks_run_segment_changes(segment_id=segment.pk, entered=[], left=[account.pk], at="2026-06-02T00:00:00+00:00")
    assert tasks_of(pb)[0].status == TaskStatus.DISMISSED and len(tasks_of(leaver)) == 1


def test_accounts_announce_stage_moves_and_segment_changes(django_capture_on_commit_callbacks):
    """The hooks in accounts reach the playbooks through the receivers and the (eager) task."""
    trial = JourneyStage.objects.get_or_create(key="trial", defaults={"name": "Trial", "kind": "free"})[0]
    stage_pb = PlaybookFactory(trigger_kind="stage_movement", trigger_params={"to_stage": ["trial"]})
    segment_pb = PlaybookFactory(trigger_kind="segment_entered", trigger_params={"segment": "Software"})
    segment = Segment.objects.create(name="Software", criteria={"field": "industry", "op": "eq", "value": "Software"})
    account = AccountFactory()
    with django_capture_on_commit_callbacks(execute=True):
        stage_transition_record(account=account, to_stage=trial, changed_at=timezone.now())
        segment_evaluate(segment=segment)
    assert [t.account for t in tasks_of(stage_pb)] == [account]
    assert [t.account for t in tasks_of(segment_pb)] == [account]
    assert SegmentMembership.objects.filter(account=account).exists()


def test_business_days_skip_weekends():
    friday = datetime(2026, 5, 29, 15, tzinfo=UTC)
    assert add_business_days(friday, 1).date().isoformat() == "2026-06-01"
    assert add_business_days(friday, 0).date().isoformat() == "2026-05-29"
    assert add_business_days(friday + timedelta(days=1), 0).date().isoformat() == "2026-06-01"


def test_goal_reached_within_deadline(django_capture_on_commit_callbacks):
    from playbooks.goals import playbook_goals_check

    trial = JourneyStage.objects.get_or_create(key="trial", defaults={"name": "Trial", "kind": "free"})[0]
    starter = JourneyStage.objects.get_or_create(key="starter", defaults={"name": "Starter", "kind": "paying",
                                                                          "rank": 1})[0]  # fmt: skip
    pb = PlaybookFactory(goal_kind="converted", goal_within_days=21)
    converts, stays = AccountFactory(), AccountFactory()
    for account in (converts, stays):
        StageTransition.objects.create(account=account, to_stage=trial, changed_at=timezone.now() - timedelta(days=3),
                                       movement="entry")  # fmt: skip
    run(change(converts, lead=70.0), change(stays, lead=70.0))
    with django_capture_on_commit_callbacks(execute=True):  # the stage movement checks goals at once
        stage_transition_record(account=converts, to_stage=starter, changed_at=timezone.now() + timedelta(seconds=1))
    reached = PlaybookRun.objects.get(playbook=pb, account=converts)
    assert reached.goal_reached_at is not None and reached.goal_checked_at is not None
    pending = PlaybookRun.objects.get(playbook=pb, account=stays)
    assert pending.goal_checked_at is None
    playbook_goals_check(now=timezone.now() + timedelta(days=22))
    pending.refresh_from_db()
    assert pending.goal_checked_at is not None and pending.goal_reached_at is None


def test_predictions_feed_conditions_likelihood_and_the_health_filter():
    from playbooks.selectors import task_list_for_user
    from scoring.models import AccountPrediction

    pb = PlaybookFactory(conditions={"match": "all", "conditions": [
        {"field": "health", "op": "eq", "value": "bad"}, {"field": "churn_probability", "op": "gte", "value": 0.5}]},
        task_title_template="{{ account.name }}: churn {{ score.churn_probability }}")  # fmt: skip
    risky, fine = AccountFactory(name="Risky"), AccountFactory()
    now = timezone.now()
    AccountPrediction.objects.create(account=risky, conversion=0.42, churn=0.6, health="bad", health_since=now,
                                     computed_at=now)  # fmt: skip
    AccountPrediction.objects.create(account=fine, conversion=0.1, churn=0.1, health="good", health_since=now,
                                     computed_at=now)  # fmt: skip
    run(change(risky, lead=70.0), change(fine, lead=70.0))
    (task,) = tasks_of(pb)
    # a probability prints as a percentage in a task's text, never as a raw decimal (issue 11 item 2)
    assert task.account == risky and task.title == "Risky: churn 60%" and task.likelihood == 42
    boss = UserFactory(username="boss", is_staff=True)
    assert [t.pk for t in task_list_for_user(user=boss, filters={"health": "bad"})] == [task.pk]
    assert list(task_list_for_user(user=boss, filters={"health": "good"})) == []


def test_open_tasks_follow_the_accounts_likelihood():
    from scoring.models import AccountPrediction

    task = TaskFactory(likelihood=40)
    other = TaskFactory(likelihood=40)
    AccountScore.objects.create(account=task.account, lead=80, computed_at=timezone.now())
    run(change(task.account, lead=80.0))
    task.refresh_from_db()
    other.refresh_from_db()
    assert (task.likelihood, other.likelihood) == (80, 40)
    now = timezone.now()
    AccountPrediction.objects.create(account=task.account, conversion=0.375, health_since=now, computed_at=now)
    run(change(task.account, before={**BASE, "conversion_probability": 0.3}, conversion_probability=0.38))
    task.refresh_from_db()
    assert task.likelihood == 37.5  # the conversion probability wins once there is one
