"""Reads for accounts: each returns a QuerySet (or rows) with its joins decided here."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min, Q, QuerySet

from .models import Account, Contact, JourneyStage, RescoreMark, Segment, SegmentMembership, StageTransition


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


def contact_list() -> QuerySet[Contact]:
    """Contacts with their account and stage joined."""
    return Contact.objects.select_related("account", "stage")


def journey_stage_list() -> QuerySet[JourneyStage]:
    """The journey in display order."""
    return JourneyStage.objects.order_by("position", "id")


def stage_transition_list() -> QuerySet[StageTransition]:
    """Stage transitions, latest first, with account and both stages joined."""
    return StageTransition.objects.select_related("account", "from_stage", "to_stage").order_by("-changed_at", "-id")


def segment_list(*, members: Q | None = None) -> QuerySet[Segment]:
    """Segments with ``open_members``, the number of accounts in them now (only those matching ``members``, a
    condition on ``memberships__account``, when given: a caller's visible accounts)."""
    if not members:
        return segment_list_with_counts().order_by("name", "id")
    counted = Q(memberships__exited_at__isnull=True) & members
    return Segment.objects.annotate(open_members=Count("memberships", filter=counted)).order_by("name", "id")


def segment_member_list(*, segment: Segment) -> QuerySet[SegmentMembership]:
    """Every stay of an account in a segment (open and closed), latest entry first, account joined."""
    return SegmentMembership.objects.filter(segment=segment).select_related("account").order_by("-entered_at", "-id")
