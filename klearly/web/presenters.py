"""What the web pages show, shaped from rows the selectors read: a task row with its reason in words, an account
page with every score and its explanation. No writes; the queries each page makes are fixed in number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from accounts.models import Account, JourneyStage, SegmentMembership
from accounts.stages import NOT_APPLICABLE_TEXT, is_pre_sale, outcome_applies, stage_standing
from playbooks.choices import ACTIVE_STATUSES, Priority, TaskStatus
from playbooks.models import Task
from scoring.formatting import percent_text
from scoring.models import AccountScore, RuleHit, ScoreHistory
from scoring.reasons import ReasonBreakdown, reason_breakdown
from scoring.selectors import contact_score_list, score_history_list

from .charts import Series

_HISTORY_FIELDS = {f.name for f in ScoreHistory._meta.concrete_fields}
# Probabilities, their reasons and health are in scoring.AccountPrediction (``account.prediction``).
HEALTH_CHOICES = [("good", "Good"), ("normal", "Normal"), ("bad", "Bad")]
PROBABILITIES = [("conversion", "Conversion"), ("expansion", "Expansion"), ("churn", "Churn")]
SCORE_KINDS = [
    ("lead", "Lead score", "Fit + engagement; qualified at the threshold."),
    ("fit", "Fit", "Who they are: account and contact fields, minus data-quality penalties."),
    ("engagement", "Engagement", "What they did: points per signal, weighted by topic and decayed by age."),
    ("signal_strength", "Signal strength", "Boosted points of the recent window, against the account's baseline."),
]
# The lead score, its grade and qualification speak of a prospect ("ready to buy"); a customer's is only fit +
# engagement (accounts.stages).
LEAD_HELP_FOR_CUSTOMERS = (
    "Fit + engagement. Grade and qualification are for prospects: a customer is judged by health, expansion and churn."
)
HISTORY_DAYS = 180
CONTACTS_SHOWN = 25
CLEARED_HITS_SHOWN = 5


def _score_of(account: Account) -> AccountScore | None:
    try:
        return account.score
    except ObjectDoesNotExist:
        return None


def _points(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def contributors_from(raw: Any, limit: int = 5) -> list[tuple[str, float | None]]:
    """Explanation lines (``{label, points}`` dicts or ``[label, points]`` pairs) as (label, points), largest first."""
    lines: list[tuple[str, float | None]] = []
    for item in raw or []:
        if isinstance(item, dict):
            label = str(item.get("label") or item.get("name") or item.get("feature") or "")
            points = _points(item.get("points", item.get("value", item.get("impact"))))
        elif isinstance(item, list | tuple) and item:
            label, points = str(item[0]), _points(item[1]) if len(item) > 1 else None
        else:
            label, points = str(item), None
        if label:
            lines.append((label, points))
    lines.sort(key=lambda line: -abs(line[1] or 0))
    return lines[:limit]


def change_text(change: Any) -> str:
    """The change that fired a playbook, in words ("Lead score 58 → 71")."""
    if not change:
        return ""
    if isinstance(change, str):
        return change
    if isinstance(change, dict):
        if change.get("text") or change.get("summary"):
            return str(change.get("text") or change.get("summary"))
        name = str(change.get("label") or change.get("score") or change.get("kind") or "").replace("_", " ")
        before = change.get("from", change.get("before", change.get("old")))
        after = change.get("to", change.get("after", change.get("new")))
        if before is not None or after is not None:
            fmt = lambda v: f"{v:g}" if isinstance(v, int | float) else ("—" if v is None else str(v))  # noqa: E731
            return f"{name.capitalize()} {fmt(before)} → {fmt(after)}".strip()
        return name.capitalize()
    return str(change)


PRIORITY_LABELS = dict(Priority.choices)


def signed(points: float) -> str:
    """Points with their sign: "+12.5", "−5" (as the ``points`` template filter writes them)."""
    text = f"{abs(points):.1f}".rstrip("0").rstrip(".")
    return f"+{text}" if points >= 0 else f"−{text}"


SCORE_LABELS = {"lead": "lead score", "signal_strength": "signal strength"}


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@cache
def url_pattern(name: str) -> str:
    """A URL with one integer argument as a format string: the inbox builds hundreds per page, and ``reverse`` for
    each one costs more than the rest of the row."""
    marker = 987654321
    return reverse(name, args=[marker]).replace(str(marker), "{}")


@dataclass
class TaskRow:
    """A task as the inbox shows it (everything a row prints is worked out here, once, in Python)."""

    task: Task
    summary: str
    change: str
    contributors: list[tuple[str, float | None]]
    score: AccountScore | None
    overdue: bool
    due_today: bool
    closed_label: str
    due_label: str = ""
    assignee_name: str = ""
    detail_url: str = ""
    account_url: str = ""
    # Flat copies of what a row prints: one lookup each in the template instead of a chain per row.
    title: str = ""
    account_name: str = ""
    grade: str = ""
    stage_name: str = ""
    stage_kind: str = ""
    playbook_name: str = ""
    priority: int = 0
    priority_label: str = ""
    status: str = ""
    likelihood: int = 0
    contributors_text: str = ""
    contributors_unit: str = ""  # "pts": percentage points of the probability that fired the task; "": points

    @property
    def pre_sale(self) -> bool:
        """Whether the account is a prospect: its grade and likelihood to buy mean something (accounts.stages)."""
        return is_pre_sale(self.stage_kind)

    @property
    def pk(self) -> int:
        return self.task.pk

    @property
    def is_active(self) -> bool:
        return self.task.status in ACTIVE_STATUSES


def task_row(task: Task, *, now: datetime | None = None) -> TaskRow:
    """A task with its reason in words: the summary, the change that fired it and the top contributors then."""
    now = now or timezone.now()
    reason = task.reason if isinstance(task.reason, dict) else {}
    # The playbooks engine stores the top contributors under "top" and the change as score/before/after.
    top = reason.get("top") or reason.get("contributors") or reason.get("top_contributors")
    contributors = contributors_from(top)
    unit = next((str(line.get("unit") or "") for line in top or [] if isinstance(line, dict)), "")
    change = change_text(reason.get("change"))
    before, after = reason.get("before"), reason.get("after")
    if not change and _numeric(before) and _numeric(after):
        key = str(reason.get("score") or "")
        name = SCORE_LABELS.get(key, key.replace("_", " "))
        if key.endswith("_probability"):  # a probability reads as a percentage, never as a raw decimal
            change = f"{name.capitalize()} {percent_text(before)} → {percent_text(after)}"
        else:
            change = f"{name.capitalize()} {before:g} → {after:g}"
    closed = ""
    if task.status == TaskStatus.DONE:
        closed = f"Done: {task.get_outcome_display()}" if task.outcome else "Done"
    elif task.status == TaskStatus.DISMISSED:
        closed = f"Dismissed: {task.get_dismiss_reason_display()}" if task.dismiss_reason else "Dismissed"
    elif task.status == TaskStatus.SNOOZED and task.snoozed_until:
        closed = f"Snoozed until {timezone.localtime(task.snoozed_until):%b %d}"
    due_today = bool(task.due_at and timezone.localdate(task.due_at) == timezone.localdate(now))
    overdue = bool(task.due_at and task.due_at < now and task.status in ACTIVE_STATUSES)
    due_label = ""
    if task.due_at:
        if overdue:
            due_label = f"overdue {timesince(task.due_at, now, depth=1)}"
        elif due_today:
            due_label = "due today"
        else:
            local = timezone.localtime(task.due_at)
            due_label = f"due {local:%b} {local.day}"
    assignee = task.assignee
    account = task.account
    score = _score_of(account)
    stage = account.stage if account.stage_id else None
    return TaskRow(
        task=task,
        summary=str(reason.get("summary") or ""),
        change=change,
        contributors=contributors,
        score=score,
        overdue=overdue,
        due_today=due_today,
        closed_label=closed,
        due_label=due_label,
        assignee_name=(assignee.get_full_name() or assignee.username) if assignee else "",
        detail_url=url_pattern("web:task").format(task.pk),
        account_url=url_pattern("web:account").format(task.account_id),
        title=task.title,
        account_name=str(account),
        grade=score.grade if score is not None else "",
        stage_name=stage.name if stage is not None else "",
        stage_kind=stage.kind if stage is not None else "",
        playbook_name=task.playbook.name if task.playbook_id and task.playbook else "",
        priority=task.priority,
        priority_label=PRIORITY_LABELS.get(task.priority, ""),
        status=task.status,
        likelihood=round(task.likelihood or 0),
        contributors_text=", ".join(
            f"{label} ({signed(points)}{' ' + unit if unit else ''})" if points is not None else label
            for label, points in contributors[:3]
        ),
        contributors_unit=unit,
    )


@dataclass
class ScoreBlock:
    """One score with its value, band and explanation lines."""

    key: str
    title: str
    help: str
    value: float
    lines: list[tuple[str, float | None]]
    more: list[tuple[str, float | None]] = field(default_factory=list)


@dataclass
class Probability:
    """One predicted outcome: its probability (None when it has none, with the message why) and reasons."""

    label: str
    value: float | None
    message: str
    up: list[tuple[str, float | None]]
    down: list[tuple[str, float | None]]
    breakdown: ReasonBreakdown | None = None  # the reasons in percentage points, adding up to the probability
    applies: bool = True  # False: not applicable at the account's stage (shown "—" with why)


@dataclass
class AccountPage:
    """Everything the account page shows besides the timeline (which pages on its own)."""

    score: AccountScore | None
    blocks: list[ScoreBlock]
    probabilities: list[Probability]
    history: list[DayScores]
    probability_series: list[Series]
    segments: list[SegmentMembership]
    open_hits: list[RuleHit]
    cleared_hits: list[RuleHit]
    contacts: list[Any]
    tasks: list[TaskRow]
    health: str
    health_reasons: list[str]
    standing: str = "prospect"  # prospect / customer / churned (accounts.stages.stage_standing)

    @property
    def pre_sale(self) -> bool:
        """Whether the grade and "Qualified" badges speak about this account (a prospect, not paying yet)."""
        return self.standing == "prospect"


def _prediction_of(account: Account) -> Any:
    try:
        return account.prediction
    except ObjectDoesNotExist:
        return None


def _reason_lines(raw: Any) -> list[tuple[str, float | None]]:
    """Reasons of a probability (``{text, effect}``, effect in probability) as (text, percentage points)."""
    lines = []
    for item in raw or []:
        if isinstance(item, dict):
            effect = _points(item.get("effect"))
            lines.append((str(item.get("text") or item.get("label") or ""), None if effect is None else effect * 100))
    return [line for line in lines if line[0]][:5]


def account_page(account: Account, *, user: Any) -> AccountPage:
    """An account's scores with explanations, history, segments, rule hits, contacts and tasks (fixed queries)."""
    from . import selectors

    score = _score_of(account)
    standing = stage_standing(account.stage.kind if account.stage_id and account.stage else "")
    blocks: list[ScoreBlock] = []
    probabilities: list[Probability] = []
    if score is not None:
        contributions = score.contributions if isinstance(score.contributions, dict) else {}
        for key, title, help_text in SCORE_KINDS:
            if key == "lead" and standing != "prospect":
                help_text = LEAD_HELP_FOR_CUSTOMERS
            lines = contributors_from(contributions.get(key), limit=100)
            blocks.append(ScoreBlock(key, title, help_text, getattr(score, key), lines[:6], lines[6:]))
    prediction = _prediction_of(account)
    if prediction is not None:
        reasons = prediction.reasons if isinstance(prediction.reasons, dict) else {}
        for name, label in PROBABILITIES:
            status = getattr(prediction, f"{name}_status", "")
            why = reasons.get(name) or {}
            if status == "not_applicable":  # e.g. conversion for a paying account: shown as "—", and why
                probabilities.append(
                    Probability(label, None, f"{NOT_APPLICABLE_TEXT} ({standing}).", [], [], applies=False)
                )
                continue
            value = getattr(prediction, name, None)
            message = "" if value is not None else str(why.get("message") or "No probability yet.")
            probabilities.append(
                Probability(
                    label, value, message, _reason_lines(why.get("up")), _reason_lines(why.get("down")),
                    reason_breakdown(why) if value is not None else None,
                )
            )  # fmt: skip
    since = timezone.localdate() - timedelta(days=HISTORY_DAYS)
    history = daily_history(score_history_list(account_id=account.pk).filter(date__gte=since))
    # Probability trends, once the daily history keeps them (columns named after the outcomes).
    series = [
        Series(label, [(h.date, _percent(h.extra.get(column))) for h in history])
        for name, label in PROBABILITIES
        for column in (name, f"{name}_probability")
        if column in _HISTORY_FIELDS
    ]
    series = [s for s in series if any(value is not None for _, value in s.points)]
    segments = list(SegmentMembership.objects.filter(account=account, exited_at__isnull=True).select_related("segment"))
    hits = list(
        RuleHit.objects.filter(account=account)
        .select_related("rule")
        .order_by("cleared_at", "-set_at")[: 20 + CLEARED_HITS_SHOWN]
    )
    open_hits = [h for h in hits if h.cleared_at is None]
    cleared_hits = [h for h in hits if h.cleared_at is not None][:CLEARED_HITS_SHOWN]
    contacts = list(contact_score_list(account_id=account.pk)[:CONTACTS_SHOWN])
    tasks = selectors.account_task_list(account_id=account.pk, user=user)
    for task in tasks:
        task.account = account  # the page's account, scores already joined: no query per task
    task_rows = [task_row(task) for task in tasks]
    # A churned account has no health to watch: it left.
    health = str(prediction.health) if prediction is not None and standing != "churned" else ""
    health_reasons = [str(r) for r in (prediction.health_reasons or [])] if health else []
    return AccountPage(
        score=score,
        blocks=blocks,
        probabilities=probabilities,
        history=history,
        probability_series=series,
        segments=segments,
        open_hits=open_hits,
        cleared_hits=cleared_hits,
        contacts=contacts,
        tasks=task_rows,
        health=health,
        health_reasons=health_reasons,
        standing=standing,
    )


@dataclass(frozen=True)
class DayScores:
    """An account's scores at the end of a day (the last history row of that day)."""

    date: Any
    lead: float
    fit: float
    engagement: float
    signal_strength: float
    extra: dict[str, Any] = field(default_factory=dict)


def daily_history(rows: Any, limit: int = 20_000) -> list[DayScores]:
    """One point per day from a history that keeps a row at every change: the day's last row, oldest day first."""
    extra = [c for name, _ in PROBABILITIES for c in (name, f"{name}_probability") if c in _HISTORY_FIELDS]
    columns = ("date", "lead", "fit", "engagement", "signal_strength", *extra)
    days: dict[Any, DayScores] = {}
    for values in rows.order_by("-computed_at").values_list(*columns)[:limit][::-1]:
        day, lead, fit, engagement, strength = values[:5]
        days[day] = DayScores(day, lead, fit, engagement, strength, extra=dict(zip(extra, values[5:], strict=True)))
    return sorted(days.values(), key=lambda day: day.date)


def _percent(value: Any) -> float | None:
    number = _points(value)
    return None if number is None else number * 100


# How each probability reads beside its number, and where each applies (``accounts.stages``).
PROBABILITY_WORDS = {"conversion": "to convert", "expansion": "to expand", "churn": "churn risk"}


@dataclass
class AccountRow:
    """An account in a list: its scores, the number the list ranks by (in the list's one unit) and, for lists that
    mix stages, each probability that applies to its stage with its own words ("42% to convert")."""

    score: AccountScore
    rank_text: str  # the ranked column: "42%" for a probability, "85" for a score, "—" when it has none
    outlook: list[str]  # "42% to convert", "8% churn risk"; "Churned" for a churned account
    standing: str  # prospect / customer / churned (accounts.stages.stage_standing)

    @property
    def account(self) -> Account:
        return self.score.account

    @property
    def pre_sale(self) -> bool:
        """Whether the lead score's grade and qualification speak about this account (not paying yet)."""
        return self.standing == "prospect"


def account_row(score: AccountScore, *, rank: str | None = None, top_rank: int = 0) -> AccountRow:
    """A list row: ``rank`` is what the list ranks by (a probability, or the score it falls back to)."""
    account = score.account
    kind = account.stage.kind if account.stage_id and account.stage else ""
    rank_value = account.stage.rank if account.stage_id and account.stage else 0
    prediction = _prediction_of(account)
    standing = stage_standing(kind)
    outlook = []
    if standing == "churned":
        outlook.append("Churned")
    else:
        for name, words in PROBABILITY_WORDS.items():
            if outcome_applies(name, kind, rank_value, top_rank):
                value = getattr(prediction, name, None) if prediction is not None else None
                outlook.append(f"{percent_text(value)} {words}")
    if rank in PROBABILITY_WORDS:
        rank_text = percent_text(getattr(prediction, rank, None) if prediction is not None else None)
    elif rank:
        rank_text = f"{getattr(score, rank):.0f}"
    else:
        rank_text = ""
    return AccountRow(score, rank_text, outlook, standing)


def stage_choices() -> list[tuple[str, str]]:
    """Journey stages for a filter (key, name), in journey order."""
    return list(JourneyStage.objects.values_list("key", "name"))
