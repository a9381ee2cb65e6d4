"""Running playbooks (services): from a batch of changes to runs, tasks and webhook deliveries, set-based.

Per batch (a rescored chunk can be 5,000 accounts): match triggers in memory, then per playbook one conditions
load, one cooldown query for all, one insert of runs (conflicts ignored: a retried batch adds nothing), one read
back, one context read, one insert of tasks (conflicts on the one-active-task-per-reason constraint ignored), one
insert of deliveries. Queries do not grow with the number of accounts.

A new task's reasons are worked out in ``reasons``, its assignee in ``assignment``; ``deliveries`` makes the webhook
rows and ``goals`` checks the runs' goals.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Case, Exists, FloatField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Round
from django.template import Template
from django.utils import timezone

from accounts.choices import StageKind
from accounts.models import Account, JourneyStage, Segment
from accounts.stages import can_expand, is_pre_sale, pre_sale_q, top_paying_rank
from scoring import models as scoring_models
from scoring.formatting import probability_or_none
from scoring.models import AccountScore, SignalRule

from .assignment import first_teams, task_assignees
from .choices import ACTIVE_STATUSES, DismissReason, GoalKind, TaskStatus, TriggerKind
from .conditions import PREDICTION_FIELDS, conditions_mask
from .deliveries import deliveries_create, deliveries_enqueue
from .experiments import variant_for, variants_ordered
from .goals import playbook_goals_check
from .matching import (
    Clearing,
    Firing,
    match_score_changes,
    match_segment_changes,
    match_stage_movements,
)
from .models import Playbook, PlaybookRun, Task
from .reasons import firing_reasons, prediction_reasons, rule_values_add
from .selectors import playbook_active_list
from .validation import (
    BODY_TEMPLATE_MAX_CHARS,
    TITLE_TEMPLATE_MAX_CHARS,
    TaskTemplateError,
    task_template_compile,
    task_text_render,
)

logger = logging.getLogger(__name__)

STAGE_NEWS_MAX_AGE = timedelta(days=7)  # older movements are history being imported, not news to act on


@dataclass
class RunStats:
    """What a batch did."""

    fired: int = 0
    runs: int = 0
    tasks: int = 0
    closed: int = 0
    deliveries: list[int] = field(default_factory=list)

    def add(self, other: RunStats) -> None:
        self.fired += other.fired
        self.runs += other.runs
        self.tasks += other.tasks
        self.closed += other.closed
        self.deliveries += other.deliveries


def add_business_days(start: datetime, days: int) -> datetime:
    """``days`` working days (Monday–Friday) after ``start``; 0 is the same day (the next working day on weekends)."""
    moment = timezone.localtime(start)
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    left = days
    while left > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


# --- entry points ----------------------------------------------------------------------------------------------


def playbooks_run_score_changes(*, changes: list[dict[str, Any]], computed_at: str) -> RunStats:
    """Run the score-triggered playbooks over a chunk's score changes (``scoring.hooks.scores_changed``), and keep
    the likelihood of those accounts' open tasks current (the inbox sorts by it)."""
    moved = [
        c["account"] for c in changes
        if any((c["before"] or {}).get(k) != c["after"].get(k) for k in ("lead", "conversion_probability"))
    ]  # fmt: skip
    if moved:
        tasks_likelihood_refresh(account_ids=moved)
    playbooks = playbook_active_list()
    if not playbooks or not changes:
        return RunStats()
    now = timezone.now()
    rule_names = {p.trigger_params.get("rule") for p in playbooks if isinstance(p.trigger_params, dict)} - {None}
    rules = dict(SignalRule.objects.filter(name__in=rule_names).values_list("name", "pk")) if rule_names else {}
    fired, cleared = match_score_changes(
        playbooks=playbooks, changes=changes, computed_at=computed_at, rules=rules, today=timezone.localdate(now)
    )
    return _apply(fired, cleared, now=now, all_playbooks=playbooks)


def playbooks_run_stage_movements(*, movements: list[dict[str, Any]]) -> RunStats:
    """Run the stage-movement playbooks (``accounts.hooks.stages_moved``) and check the goals of those accounts."""
    now = timezone.now()
    playbooks = playbook_active_list()
    stats = RunStats()
    if playbooks and movements:
        stage_ids = {m["to_stage"] for m in movements} | {m["from_stage"] for m in movements if m["from_stage"]}
        stage_keys = {pk: (key, name) for pk, key, name in
                      JourneyStage.objects.filter(pk__in=stage_ids).values_list("pk", "key", "name")}  # fmt: skip
        fired = match_stage_movements(
            playbooks=playbooks, movements=movements, stage_keys=stage_keys, now=now, max_age=STAGE_NEWS_MAX_AGE
        )
        stats = _apply(fired, [], now=now, all_playbooks=playbooks)
    playbook_goals_check(now=now, account_ids=[m["account"] for m in movements])
    return stats


def playbooks_run_segment_changes(*, segment_id: int, entered: list[int], left: list[int], at: str) -> RunStats:
    """Run the segment playbooks for one segment's membership change (``accounts.hooks.segments_changed``)."""
    playbooks = playbook_active_list()
    name = Segment.objects.filter(pk=segment_id).values_list("name", flat=True).first()
    if not playbooks or name is None:
        return RunStats()
    fired, cleared = match_segment_changes(
        playbooks=playbooks, segment_id=segment_id, segment_name=name, entered=entered, left=left, at=at
    )
    return _apply(fired, cleared, now=timezone.now(), all_playbooks=playbooks)


# --- the work ----------------------------------------------------------------------------------------------------


def _apply(fired: list[Firing], cleared: list[Clearing], *, now: datetime, all_playbooks: list[Playbook]) -> RunStats:
    stats = RunStats(fired=len(fired))
    with transaction.atomic():
        stats.closed = tasks_close_cleared(clearings=cleared, now=now)
        fired = _assign_variants(fired, all_playbooks)
        fired = _stage_applicable(fired)
        fired = _meeting_conditions(fired, now)
        fired = _outside_cooldown(fired, now)
        if not fired:
            return stats
        runs = _runs_create(fired, now)
        stats.runs = len(runs)
        new = [(f, run) for f in fired if (run := runs.get((f.playbook.pk, f.account_id, f.source_key)))]
        accounts, scores = _contexts(sorted({f.account_id for f, _ in new}))
        rule_values_add(new)
        stats.tasks = _tasks_create(new, now, accounts, scores)
        stats.deliveries = deliveries_create(new, now, accounts, scores)
        if stats.deliveries:
            ids = list(stats.deliveries)
            transaction.on_commit(lambda: deliveries_enqueue(ids))
    return stats


def tasks_likelihood_refresh(*, account_ids: list[int]) -> int:
    """Set the likelihood to buy of these accounts' open and snoozed tasks from their current scores (one UPDATE):
    a prospect's chance to convert in % (its lead score until it has one), 0 for a customer or a churned account
    (nothing to buy: ``accounts.stages``)."""
    lead = AccountScore.objects.filter(account_id=OuterRef("account_id")).values("lead")[:1]
    value: Any = Coalesce(Subquery(lead), Value(0.0))
    if PREDICTION_FIELDS:
        conversion = scoring_models.AccountPrediction.objects.filter(account_id=OuterRef("account_id")).values(
            "conversion"
        )[:1]
        value = Coalesce(Round(Subquery(conversion) * 100, 2), Subquery(lead), Value(0.0))
    customer = Account.objects.filter(pk=OuterRef("account_id")).exclude(pre_sale_q())
    value = Case(When(Exists(customer), then=Value(0.0)), default=value, output_field=FloatField())
    return Task.objects.filter(account_id__in=account_ids, status__in=ACTIVE_STATUSES).update(likelihood=value)


def tasks_close_cleared(*, clearings: Iterable[Clearing], now: datetime | None = None) -> int:
    """Close the active tasks of switch playbooks whose reason went away (one UPDATE)."""
    clearings = list(clearings)
    if not clearings:
        return 0
    now = now or timezone.now()
    match = Q()
    for c in clearings:
        match |= Q(playbook_id=c.playbook_id, account_id=c.account_id, reason_key=c.reason_key)
    return Task.objects.filter(match, status__in=ACTIVE_STATUSES).update(
        status=TaskStatus.DISMISSED, dismiss_reason=DismissReason.AUTO_CLEARED, closed_at=now, snoozed_until=None,
        updated_at=now,
    )  # fmt: skip


def _assign_variants(fired: list[Firing], all_playbooks: list[Playbook]) -> list[Firing]:
    """Keep, for playbooks in an experiment, only the firings of the variant each account is assigned to."""
    groups: dict[int, list[Playbook]] = defaultdict(list)
    for pb in all_playbooks:
        if pb.experiment_group is not None and pb.experiment_group.is_active:  # no query when there is none
            groups[pb.experiment_group.pk].append(pb)
    ordered = {g: variants_ordered(pbs) for g, pbs in groups.items()}
    kept = []
    for f in fired:
        group = f.playbook.experiment_group_id
        if group in ordered and ordered[group]:
            chosen = variant_for(group_id=group, account_id=f.account_id, variants=ordered[group])
            if chosen.pk != f.playbook.pk:
                continue
        kept.append(f)
    return kept


# What a playbook presupposes about the account's stage (accounts.stages), from its goal or its trigger: a goal of
# converting needs a prospect, of expanding a customer below the top paying stage, of retaining a paying customer;
# "qualified" and grades are a prospect's. Firings for other accounts are dropped before conditions are read.
GOAL_NEEDS: dict[str, str] = {
    GoalKind.CONVERTED: "pre_sale",
    GoalKind.EXPANDED: "can_expand",
    GoalKind.RETAINED: "paying",
}


def playbook_stage_need(playbook: Playbook) -> str | None:
    """What a playbook needs of an account's stage: "pre_sale", "can_expand", "paying" or None (any stage)."""
    if playbook.goal_kind in GOAL_NEEDS:
        return GOAL_NEEDS[playbook.goal_kind]
    params = playbook.trigger_params if isinstance(playbook.trigger_params, dict) else {}
    if playbook.trigger_kind == TriggerKind.GRADE_CHANGE or (
        playbook.trigger_kind == TriggerKind.FLAG_CHANGE and params.get("flag") == "qualified"
    ):
        return "pre_sale"
    return None


def _stage_applicable(fired: list[Firing]) -> list[Firing]:
    """Drop the firings of playbooks whose goal or trigger does not apply to the account's stage (an expansion
    playbook on the top plan, a churn-prevention one on a churned account): one query, only when one needs it."""
    needs = {f.playbook.pk: playbook_stage_need(f.playbook) for f in fired}
    wanted = sorted({f.account_id for f in fired if needs[f.playbook.pk]})
    if not wanted:
        return fired
    stages = {pk: (kind, rank) for pk, kind, rank in
              Account.objects.filter(pk__in=wanted).values_list("pk", "stage__kind", "stage__rank")}  # fmt: skip
    top = top_paying_rank() if any(n == "can_expand" for n in needs.values()) else 0
    kept = []
    for f in fired:
        need = needs[f.playbook.pk]
        kind, rank = stages.get(f.account_id, (None, None))
        if (
            need is None
            or (need == "pre_sale" and is_pre_sale(kind))
            or (need == "can_expand" and can_expand(kind, rank, top))
            or (need == "paying" and kind == StageKind.PAYING)
        ):
            kept.append(f)
    return kept


def _meeting_conditions(fired: list[Firing], now: datetime) -> list[Firing]:
    by_playbook: dict[int, list[Firing]] = defaultdict(list)
    for f in fired:
        by_playbook[f.playbook.pk].append(f)
    kept = []
    for group in by_playbook.values():
        conditions = group[0].playbook.conditions
        if not conditions:
            kept += group
            continue
        ids = sorted({f.account_id for f in group})
        mask = conditions_mask(conditions, ids, now)
        holds = {a for a, ok in zip(ids, mask.tolist(), strict=True) if ok}
        kept += [f for f in group if f.account_id in holds]
    return kept


def _outside_cooldown(fired: list[Firing], now: datetime) -> list[Firing]:
    """Drop firings within a playbook's cooldown for the account, or already run for the same change (retries);
    one firing per playbook and account per batch."""
    if not fired:
        return []
    longest = max(f.playbook.cooldown_days for f in fired)
    recent = PlaybookRun.objects.filter(
        playbook_id__in={f.playbook.pk for f in fired},
        account_id__in={f.account_id for f in fired},
    )
    recent = recent.filter(
        Q(fired_at__gte=now - timedelta(days=longest)) | Q(source_key__in={f.source_key for f in fired})
    )
    last: dict[tuple[int, int], datetime] = {}
    done: set[tuple[int, int, str]] = set()
    for playbook_id, account_id, fired_at, source_key in recent.values_list(
        "playbook_id", "account_id", "fired_at", "source_key"
    ):
        key = (playbook_id, account_id)
        last[key] = max(last.get(key, fired_at), fired_at)
        done.add((playbook_id, account_id, source_key))
    kept, seen = [], set()
    for f in fired:
        key = (f.playbook.pk, f.account_id)
        if key in seen or (f.playbook.pk, f.account_id, f.source_key) in done:
            continue
        previous = last.get(key)
        if previous is not None and previous > now - timedelta(days=f.playbook.cooldown_days):
            continue
        seen.add(key)
        kept.append(f)
    return kept


def _runs_create(fired: list[Firing], now: datetime) -> dict[tuple[int, int, str], PlaybookRun]:
    runs = []
    for f in fired:
        pb = f.playbook
        deadline = now + timedelta(days=pb.goal_within_days) if pb.goal_kind else None
        runs.append(PlaybookRun(playbook=pb, account_id=f.account_id, reason_key=f.reason_key[:120],
                                source_key=f.source_key[:200], variant=pb.variant, trigger=f.detail, fired_at=now,
                                goal_deadline=deadline))  # fmt: skip
    PlaybookRun.objects.bulk_create(runs, batch_size=1000, ignore_conflicts=True)
    # Read back the runs this call created (a concurrent retry's are skipped: same source key, another time).
    created = PlaybookRun.objects.filter(
        playbook_id__in={f.playbook.pk for f in fired}, account_id__in={f.account_id for f in fired}, fired_at=now
    ).select_related("playbook")
    return {(r.playbook_id, r.account_id, r.source_key): r for r in created}


def _contexts(account_ids: list[int]) -> tuple[Mapping[int, Mapping[str, Any]], dict[int, dict]]:
    """The accounts' fields and current scores for templates, reasons, assignment and likelihood (two queries)."""
    accounts = {
        row["pk"]: row
        for row in Account.objects.filter(pk__in=account_ids).values(
            "pk",
            "external_id",
            "name",
            "domain",
            "industry",
            "employees",
            "country",
            "owner_id",
            "owner__email",
            "owner__first_name",
            "owner__last_name",
            "owner__is_active",
            "stage__name",
            "stage__key",
            "stage__kind",
        )  # fmt: skip
    }
    score_fields = [f.name for f in AccountScore._meta.concrete_fields if f.name not in ("account", "computed_at")]
    scores = {row.pop("account_id"): row for row in AccountScore.objects.filter(account_id__in=account_ids).values(
        "account_id", *score_fields)}  # fmt: skip
    if PREDICTION_FIELDS:  # probabilities and health, under the names scores_changed uses
        names = list(PREDICTION_FIELDS)
        for row in scoring_models.AccountPrediction.objects.filter(account_id__in=account_ids).values_list(
            "account_id", *PREDICTION_FIELDS.values()
        ):
            # probabilities print as percentages in task titles and bodies ("18%", never "0.1769")
            values = {n: probability_or_none(v) if n.endswith("_probability") else v
                      for n, v in zip(names, row[1:], strict=True)}  # fmt: skip
            scores.setdefault(row[0], {}).update(values)
    return accounts, scores


def _likelihood(score: dict | None, account: Mapping[str, Any] | None = None) -> float:
    """Likelihood to buy, for sorting the inbox: a prospect's chance to convert in % (its lead score until it has
    one); 0 for a customer or a churned account (``accounts.stages``)."""
    if not score or (account is not None and not is_pre_sale(account.get("stage__kind"))):
        return 0.0
    probability = score.get("conversion_probability")
    if isinstance(probability, (int, float)):
        return round(float(probability) * 100, 2)
    return float(score.get("lead") or 0)


def _tasks_create(
    new: list[tuple[Firing, PlaybookRun]],
    now: datetime,
    accounts: Mapping[int, Mapping[str, Any]],
    scores: dict[int, dict],
) -> int:
    with_task = [(f, run) for f, run in new if f.playbook.create_task]
    if not with_task:
        return 0
    assignees = task_assignees(with_task, accounts)
    teams_of = first_teams({a for a in assignees.values() if a})
    predicted = prediction_reasons(with_task)
    compiled: dict[int, tuple[Any, Any]] = {}
    tasks = []
    for i, (f, run) in enumerate(with_task):
        assignee = assignees[i]
        pb = f.playbook
        if pb.pk not in compiled:
            compiled[pb.pk] = _task_templates(pb)
        account, score = accounts.get(f.account_id), scores.get(f.account_id)
        if account is None:  # deleted meanwhile
            continue
        reason = {
            **f.detail,
            "playbook": pb.name,
            "trigger": pb.trigger_kind,
            "scores": {k: (score or {}).get(k) for k in ("lead", "fit", "engagement", "grade", "temperature",
                                                           "signal_strength", "qualified", "surging",
                                                           *PREDICTION_FIELDS)},
            "top": firing_reasons(f, score, predicted.get(f.account_id)),
        }  # fmt: skip
        data = {
            "account": {"name": account["name"] or account["external_id"], "external_id": account["external_id"],
                        "domain": account["domain"], "industry": account["industry"],
                        "employees": account["employees"], "country": account["country"],
                        "stage": account["stage__name"] or "", "stage_key": account["stage__key"] or "",
                        "owner": account["owner__email"] or ""},
            "score": {k: v for k, v in (score or {}).items() if k != "contributions"},
            "reason": reason,
            "playbook": {"name": pb.name},
        }  # fmt: skip
        plain_title = f"{pb.name}: {account['name'] or account['external_id']}"
        title_template, body_template = compiled[pb.pk]
        try:
            title = task_text_render(title_template, data, max_chars=300) if title_template is not None else plain_title
            body = task_text_render(body_template, data) if body_template is not None else reason["summary"]
            title = title or pb.name
        except Exception:  # a template that passed validation but fails on these values: keep the task, plainly
            logger.exception("Task template of playbook %s failed for account %s", pb.pk, f.account_id)
            title, body = plain_title, reason["summary"]
        team_id = pb.assign_team_id or (teams_of.get(assignee) if assignee else None)
        due = add_business_days(now, pb.due_in_business_days) if pb.due_in_business_days is not None else None
        tasks.append(Task(account_id=f.account_id, playbook=pb, run=run, reason_key=f.reason_key[:120],
                          title=title[:300], body=body, reason=reason, status=TaskStatus.OPEN, priority=pb.priority,
                          due_at=due, assignee_id=assignee, team_id=team_id, likelihood=_likelihood(score, account),
                          created_at=now))  # fmt: skip
    # One active task per account, playbook and reason: an open one already there wins (conflict ignored).
    Task.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)
    return Task.objects.filter(run_id__in=[run.pk for _, run in with_task]).count()


def _task_templates(pb: Playbook) -> tuple[Template | None, Template | None]:
    """A playbook's title and body templates compiled in the task-template sandbox; None for one that is refused
    there (saved before the sandbox existed): its tasks get a plain title or the reason's summary."""
    result: list[Template | None] = []
    for text, max_chars in ((pb.task_title_template or pb.name, TITLE_TEMPLATE_MAX_CHARS),
                            (pb.task_body_template or "", BODY_TEMPLATE_MAX_CHARS)):  # fmt: skip
        try:
            result.append(task_template_compile(text, max_chars=max_chars))
        except TaskTemplateError as exc:
            logger.warning("Task template of playbook %s refused: %s", pb.pk, exc)
            result.append(None)
    return result[0], result[1]
