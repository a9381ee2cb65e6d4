"""Reads for accounts: each returns a QuerySet (or rows) with its joins decided here."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min, Q, QuerySet

from .models import Account, Contact, RescoreMark, Segment


def account_list() -> QuerySet[Account]:
    """Accounts with their stage and owner joined."""
    return Account.objects.select_related("stage", "owner")


def contact_list_for_account(*, account: Account, limit: int = 50) -> QuerySet[Contact]:
    """An account's contacts, most recently seen first."""
    return Contact.objects.filter(account=account).order_by("-last_seen_at", "id")[:limit]


def segment_list_with_counts() -> QuerySet[Segment]:
    """Segments annotated with how many accounts are in them now."""
    return Segment.objects.annotate(open_members=Count("memberships", filter=Q(memberships__exited_at__isnull=True)))


def marked_account_ids(*, limit: int) -> list[int]:
    """Accounts waiting for a rescore, those marked longest ago first (a mark may be appended several times)."""
    rows = (
        RescoreMark.objects.values("account_id")
        .annotate(first=Min("marked_at"))
        .order_by("first", "account_id")
        .values_list("account_id", flat=True)[:limit]
    )
    return list(rows)


def marks_waiting(*, marked_before: datetime | None = None) -> bool:
    """Whether any account waits for a rescore (marked before ``marked_before``, when given): one cheap EXISTS."""
    marks = RescoreMark.objects.all()
    if marked_before is not None:
        marks = marks.filter(marked_at__lt=marked_before)
    return marks.exists()


def marked_account_count() -> int:
    """How many accounts wait for a rescore."""
    return RescoreMark.objects.values("account_id").distinct().count()
