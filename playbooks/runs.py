"""Running playbooks (services): from a batch of changes to runs, tasks and webhook deliveries, set-based.

Per batch (a rescored chunk can be 5,000 accounts): match triggers in memory, then per playbook one conditions
load, one cooldown query for all, one insert of runs (conflicts ignored: a retried batch adds nothing), one read
back, one context read, one insert of tasks (conflicts on the one-active-task-per-reason constraint ignored), one
insert of deliveries. Queries do not grow with the number of accounts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Case, Exists, F, FloatField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Round
from django.template import Template
from django.utils import timezone

from accounts.choices import Movement, StageKind
from accounts.models import Account, JourneyStage, Segment, StageTransition
from accounts.stages import can_expand, is_pre_sale, pre_sale_q, top_paying_rank
from scoring import models as scoring_models
from scoring.formatting import percent_text, probability_or_none
from scoring.models import AccountScore, RuleHit, SignalRule

from .choices import ACTIVE_STATUSES, AssignMode, DeliveryStatus, DismissReason, GoalKind, TaskStatus, TriggerKind
from .conditions import PREDICTION_FIELDS, conditions_mask
from .experiments import variant_for, variants_ordered
from .matching import (
    Clearing,
    Firing,
    match_score_changes,
    match_segment_changes,
    match_stage_movements,
)
from .models import Playbook, PlaybookRun, Task, Team, WebhookDelivery
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
TOP_CONTRIBUTORS = 5


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
        _add_rule_values(new)
        stats.tasks = _tasks_create(new, now, accounts, scores)
        stats.deliveries = _deliveries_create(new, now, accounts, scores)
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


def _prediction_reasons(new: list[tuple[Firing, PlaybookRun]]) -> dict[int, dict[str, Any]]:
    """The probabilities' reasons and health reasons of the accounts whose firing came from a probability or health
    (one query, none when no such firing): a task's reasons are those of what fired it."""
    wanted = {f.account_id for f, _ in new if f.detail.get("score") in PROBABILITY_OUTCOMES or
              f.detail.get("score") == "health"}  # fmt: skip
    if not wanted or not PREDICTION_FIELDS:
        return {}
    return {
        a: {"reasons": reasons or {}, "health_reasons": health or []}
        for a, reasons, health in scoring_models.AccountPrediction.objects.filter(account_id__in=wanted).values_list(
            "account_id", "reasons", "health_reasons"
        )
    }


def _add_rule_values(new: list[tuple[Firing, PlaybookRun]]) -> None:
    """Put the values that made a rule true (its open hit's) into the reason of rule-hit firings (one query)."""
    wanted = [(f.detail["rule_id"], f.account_id) for f, _ in new if "rule_id" in f.detail]
    if not wanted:
        return
    values: dict[tuple[int | None, int], Any] = {
        (rule_id, account_id): v
        for rule_id, account_id, v in RuleHit.objects.filter(
            rule_id__in={r for r, _ in wanted}, account_id__in={a for _, a in wanted}, cleared_at__isnull=True
        ).values_list("rule_id", "account_id", "values")
    }
    for f, _ in new:
        found = values.get((f.detail.get("rule_id"), f.account_id))
        if found:
            f.detail["values"] = found


# Which score's explanation stands behind a score trigger: grades are bands of the lead score, temperature of
# engagement; "qualified" is the lead score's, "surging" the signal strength's.
EXPLAINED_BY = {"grade": "lead", "temperature": "engagement", "qualified": "lead", "surging": "signal_strength"}
PROBABILITY_OUTCOMES = {"conversion_probability": "conversion", "expansion_probability": "expansion",
                        "churn_probability": "churn"}  # fmt: skip
RULE_VALUE_RATIOS = ("adoption", "activation", "active_ratio_30d")
STAGE_FIELDS = ("stage", "stage_kind", "can_expand")


def _top_contributors(score: dict | None, kind: str | None) -> list[dict]:
    """The lines of a score's explanation (lead: its fit and engagement lines), largest first, in points."""
    contributions = (score or {}).get("contributions") or {}
    kind = EXPLAINED_BY.get(kind or "", kind)
    if kind in ("fit", "engagement", "signal_strength"):
        lines = list(contributions.get(kind, []))
    else:  # the lead score: what built it
        lines = list(contributions.get("fit", [])) + list(contributions.get("engagement", []))
    lines = [line for line in lines if line.get("points")]
    lines.sort(key=lambda line: -abs(line["points"]))
    return [{"label": line.get("label", ""), "points": line["points"]} for line in lines[:TOP_CONTRIBUTORS]]


def _probability_reasons(entry: dict, *, rising: bool) -> list[dict]:
    """A probability's reasons that pushed it the way it moved, in percentage points of that probability."""
    lines = (entry.get("up" if rising else "down") or []) if entry.get("status") == "ok" else []
    return [{"label": str(r.get("text") or ""), "points": round(100 * float(r.get("effect") or 0), 1),
             "unit": "pts"} for r in lines[:TOP_CONTRIBUTORS] if r.get("text")]  # fmt: skip


def _rule_value_text(name: str, value: Any) -> str:
    """A value a rule read, in words: "Adoption 20%", "Engagement trend ×0.30", "Engagement 36.6"."""
    label = name.replace("_", " ").capitalize()
    if isinstance(value, bool) or value is None or not isinstance(value, int | float):
        return f"{label}: {value if value is not None else '—'}"
    if name in RULE_VALUE_RATIOS:
        return f"{label} {percent_text(value)}"
    if name == "engagement_trend":
        return f"{label} ×{value:.2f}"
    return f"{label} {round(value, 1):g}"


def _firing_reasons(f: Firing, score: dict | None, prediction: dict | None) -> list[dict]:
    """A task's reasons come from what fired it: a score's explanation for a score trigger, the probability's own
    reasons for a probability (churn's for a health change), the values that made a rule true for a rule hit;
    a stage movement or a segment change is its own reason (the summary says it)."""
    detail = f.detail
    kind = detail.get("score")
    if "rule_id" in detail:
        values = (detail.get("values") or {}).items()  # which stage it is for is no reason: the values that held are
        return [{"label": _rule_value_text(k, v), "points": None} for k, v in values if k not in STAGE_FIELDS]
    if "movement" in detail or "segment" in detail:
        return []
    if kind in PROBABILITY_OUTCOMES or kind == "health":
        reasons = (prediction or {}).get("reasons") or {}
        outcome = PROBABILITY_OUTCOMES.get(kind, "churn")
        if kind == "health":  # worse health: what raised the churn risk; better: what lowered it
            order = {"bad": 0, "normal": 1, "good": 2}
            rising = order.get(str(detail.get("after")), 1) < order.get(str(detail.get("before")), 1)
        else:
            before, after = detail.get("before"), detail.get("after")
            rising = before is None or (after is not None and after >= before)
        lines = _probability_reasons(reasons.get(outcome) or {}, rising=rising)
        if not lines and kind == "health":  # no churn probability (too little history): the health's own words
            lines = [{"label": str(text), "points": None} for text in (prediction or {}).get("health_reasons", [])]
        return lines
    return _top_contributors(score or {}, kind)


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
    assignees = _assign(with_task, accounts)
    teams_of = _first_teams({a for a in assignees.values() if a})
    predicted = _prediction_reasons(with_task)
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
            "top": _firing_reasons(f, score, predicted.get(f.account_id)),
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


def _assign(
    with_task: list[tuple[Firing, PlaybookRun]], accounts: Mapping[int, Mapping[str, Any]]
) -> dict[int, int | None]:
    """Assignee per firing (by position): the owner, a round-robin member of the team, a named person, or nobody."""
    result: dict[int, int | None] = {}
    round_robin: dict[int, list[int]] = defaultdict(list)  # team id -> positions waiting for a member
    for i, (f, _) in enumerate(with_task):
        pb = f.playbook
        account = accounts.get(f.account_id) or {}
        if pb.assign_mode == AssignMode.USER:
            result[i] = pb.assign_user_id
        elif pb.assign_mode == AssignMode.OWNER and account.get("owner_id") and account.get("owner__is_active"):
            result[i] = account["owner_id"]
        elif pb.assign_mode in (AssignMode.OWNER, AssignMode.ROUND_ROBIN) and pb.assign_team_id:
            round_robin[pb.assign_team_id].append(i)
            result[i] = None
        else:
            result[i] = None
    if round_robin:
        members: dict[int, list[int]] = defaultdict(list)
        for team_id, user_id in (
            Team.members.through.objects.filter(team_id__in=list(round_robin), user__is_active=True)
            .order_by("team_id", "user_id")
            .values_list("team_id", "user_id")
        ):
            members[team_id].append(user_id)
        for team_id, positions in round_robin.items():
            people = members.get(team_id)
            if not people:
                continue
            start = _cursor_advance(team_id, len(positions))
            for k, i in enumerate(positions):
                result[i] = people[(start + k) % len(people)]
    return result


def _cursor_advance(team_id: int, n: int) -> int:
    """Reserve ``n`` round-robin turns of a team; returns the first. Row-locked, so concurrent workers never hand out
    the same turns (on SQLite the write lock serialises them)."""
    team = Team.objects.select_for_update().only("round_robin_cursor").get(pk=team_id)
    start = team.round_robin_cursor
    Team.objects.filter(pk=team_id).update(round_robin_cursor=start + n)
    return start


def _first_teams(user_ids: set[int]) -> dict[int, int]:
    """Each user's first team (by name), for tasks assigned to a person without a playbook team."""
    if not user_ids:
        return {}
    result: dict[int, int] = {}
    for user_id, team_id in (
        Team.members.through.objects.filter(user_id__in=user_ids)
        .order_by("team__name")
        .values_list("user_id", "team_id")
    ):
        result.setdefault(user_id, team_id)
    return result


def _deliveries_create(
    new: list[tuple[Firing, PlaybookRun]],
    now: datetime,
    accounts: Mapping[int, Mapping[str, Any]],
    scores: dict[int, dict],
) -> list[int]:
    from .webhooks import delivery_payload

    rows = [
        WebhookDelivery(
            playbook=f.playbook,
            run=run,
            url=f.playbook.webhook_url,
            payload=delivery_payload(
                run=run, detail=f.detail, account=accounts.get(f.account_id) or {}, score=scores.get(f.account_id) or {}
            ),
            status=DeliveryStatus.PENDING,
            created_at=now,
        )  # fmt: skip
        for f, run in new
        if f.playbook.webhook_url
    ]
    if not rows:
        return []
    created = WebhookDelivery.objects.bulk_create(rows, batch_size=1000)
    if created and created[0].pk is None:  # a backend that does not return ids
        return list(
            WebhookDelivery.objects.filter(created_at=now, run__in=[r.run for r in rows]).values_list("pk", flat=True)
        )
    return [d.pk for d in created]


def deliveries_enqueue(ids: list[int]) -> None:
    """Queue a delivery task per id (after commit); a broker failure leaves the rows for the sweep."""
    from .tasks import webhook_deliver

    for delivery_id in ids:
        try:
            webhook_deliver.delay(delivery_id)
        except Exception:  # broker down: the delivery row stays pending; the beat sweep sends it later
            logger.exception("Could not queue webhook delivery %s", delivery_id)


# --- goals ---------------------------------------------------------------------------------------------------------

GOAL_MOVEMENTS = {GoalKind.CONVERTED: Movement.CONVERSION, GoalKind.EXPANDED: Movement.EXPANSION}


def playbook_goals_check(*, now: datetime | None = None, account_ids: Iterable[int] | None = None) -> int:
    """Record goals reached by pending runs (a stage movement within the deadline, a task done), settle runs whose
    deadline passed. A few set-based UPDATEs; ``account_ids`` narrows it (after a stage movement)."""
    now = now or timezone.now()
    pending = PlaybookRun.objects.filter(goal_checked_at__isnull=True, goal_deadline__isnull=False)
    if account_ids is not None:
        pending = pending.filter(account_id__in=list(account_ids))
    goals = dict(Playbook.objects.exclude(goal_kind="").values_list("pk", "goal_kind"))
    stages = dict(Playbook.objects.filter(goal_kind=GoalKind.STAGE_REACHED).values_list("pk", "goal_stage"))
    reached = 0

    def moves(**match: Any):
        return StageTransition.objects.filter(
            account_id=OuterRef("account_id"), changed_at__gte=OuterRef("fired_at"),
            changed_at__lte=OuterRef("goal_deadline"), **match,
        ).order_by("changed_at")  # fmt: skip

    for kind, movement in GOAL_MOVEMENTS.items():
        ids = [pk for pk, k in goals.items() if k == kind]
        if ids:
            first = moves(movement=movement)
            reached += (
                pending.filter(playbook_id__in=ids)
                .filter(Exists(first))
                .update(goal_reached_at=Subquery(first.values("changed_at")[:1]), goal_checked_at=now)
            )
    for playbook_id, stage_key in stages.items():
        first = moves(to_stage__key=stage_key)
        reached += (
            pending.filter(playbook_id=playbook_id)
            .filter(Exists(first))
            .update(goal_reached_at=Subquery(first.values("changed_at")[:1]), goal_checked_at=now)
        )
    done_ids = [pk for pk, k in goals.items() if k == GoalKind.TASK_DONE]
    if done_ids:
        done = Task.objects.filter(
            run_id=OuterRef("pk"), status=TaskStatus.DONE, closed_at__lte=OuterRef("goal_deadline")
        )
        reached += (
            pending.filter(playbook_id__in=done_ids)
            .filter(Exists(done))
            .update(goal_reached_at=Subquery(done.values("closed_at")[:1]), goal_checked_at=now)
        )
    retained = [pk for pk, k in goals.items() if k == GoalKind.RETAINED]
    if retained:
        churned = moves(movement=Movement.CHURN)
        expired = pending.filter(playbook_id__in=retained, goal_deadline__lt=now)
        expired.filter(Exists(churned)).update(goal_checked_at=now)
        reached += expired.filter(~Exists(churned)).update(goal_reached_at=F("goal_deadline"), goal_checked_at=now)
    # Past the deadline without reaching the goal: settled, not reached.
    pending.filter(goal_deadline__lt=now).update(goal_checked_at=now)
    return reached


def deliveries_pending_ids(*, older_than: timedelta = timedelta(minutes=5)) -> list[int]:
    """Deliveries never attempted (their task was lost, or the broker was down) or due for a retry."""
    now = timezone.now()
    late = Q(status=DeliveryStatus.PENDING, created_at__lt=now - older_than) | Q(
        status=DeliveryStatus.RETRYING, next_retry_at__lt=now - older_than
    )
    return list(WebhookDelivery.objects.filter(late).values_list("pk", flat=True)[:1000])
