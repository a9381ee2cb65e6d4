"""Reads behind the accounts API, each a QuerySet with its joins decided here (no N+1 in any list).

Plain Django, no DRF: these belong with ``accounts/selectors.py`` and can move there as they are; they live here
while that module is being changed by parallel work.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from accounts import selectors
from accounts.models import Account, Contact, JourneyStage, Segment, SegmentMembership, StageTransition


def account_list() -> QuerySet[Account]:
    """Accounts with stage and owner joined."""
    return selectors.account_list()


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
        return selectors.segment_list_with_counts().order_by("name", "id")
    counted = Q(memberships__exited_at__isnull=True) & members
    return Segment.objects.annotate(open_members=Count("memberships", filter=counted)).order_by("name", "id")


def segment_member_list(*, segment: Segment) -> QuerySet[SegmentMembership]:
    """Every stay of an account in a segment (open and closed), latest entry first, account joined."""
    return SegmentMembership.objects.filter(segment=segment).select_related("account").order_by("-entered_at", "-id")
