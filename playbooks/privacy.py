"""A forgotten person's address in what playbooks keep (task titles, bodies and reasons, comments, runs' triggers,
webhook payloads and responses, saved views' queries), and tasks that name them in an export. Connected to
``signals_app.hooks`` in ``apps.py``: the erasure and the export are ``signals_app.privacy``'s; tasks hold no link
to a contact, only text and JSON that may name one."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q

from signals_app.privacy import Mentions, Person, model_scrub, where_mentioned

from .models import PlaybookRun, SavedView, Task, TaskComment, WebhookDelivery

SCRUBBED = (
    ("tasks_scrubbed", Task),
    ("task_comments_scrubbed", TaskComment),
    ("playbook_runs_scrubbed", PlaybookRun),
    ("webhook_deliveries_scrubbed", WebhookDelivery),
    ("saved_views_scrubbed", SavedView),
)


def on_person_forgetting(sender: Any, person: Person, mentions: Mentions, dry_run: bool, **kwargs: Any) -> dict:
    """Replace the person's address by ``[erased]`` wherever playbooks wrote it; counts by kind."""
    if not mentions:
        return {}
    return {kind: len(model_scrub(model.objects.all(), mentions, dry_run=dry_run)) for kind, model in SCRUBBED}


def on_person_exporting(sender: Any, person: Person, mentions: Mentions, **kwargs: Any) -> dict:
    """The tasks whose title, body, reason or comments name the person, with the comments that do."""
    if not mentions:
        return {"tasks": []}
    named = where_mentioned(TaskComment.objects.filter(task=OuterRef("pk")), ["body"], mentions)
    tasks = where_mentioned(Task.objects.all(), ["title", "body", "reason"], mentions)
    found = Task.objects.filter(Q(pk__in=tasks.values("pk")) | Q(Exists(named))).select_related("account")
    comments: dict[int, list[dict]] = {}
    for c in where_mentioned(TaskComment.objects.filter(task__in=found), ["body"], mentions).order_by("pk"):
        if mentions.in_text(c.body):
            comments.setdefault(c.task_id, []).append({"body": c.body, "created_at": c.created_at.isoformat()})
    out = []
    for task in found.order_by("pk"):
        if not (mentions.found_in([task.title, task.body, task.reason]) or task.pk in comments):
            continue
        out.append({
            "id": task.pk, "account_external_id": task.account.external_id, "title": task.title, "body": task.body,
            "reason": task.reason, "status": task.status, "created_at": task.created_at.isoformat(),
            "comments": comments.get(task.pk, []),
        })  # fmt: skip
    return {"tasks": out}
