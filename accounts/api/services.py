"""Writes behind the accounts API: create, change and delete accounts, contacts, journey stages and segments.

Keyword-only, typed, atomic; every write that changes what an account's scores depend on marks the account for
rescoring (``accounts_mark_for_rescore``, once per transaction). Plain Django, no DRF: these belong with
``accounts/services.py`` and can move there as they are; they live here while that module is being changed by
parallel work.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, Contact, JourneyStage, Segment, StageTransition
from accounts.services import (
    accounts_mark_for_rescore,
    segment_evaluate,
    stage_history_rebuild,
    stage_transition_record,
)

ACCOUNT_FIELDS = ("external_id", "name", "domain", "industry", "employees", "annual_revenue", "country", "created_at")
CONTACT_FIELDS = ("external_id", "email", "first_name", "last_name", "title", "created_at")


def traits_merge(current: dict[str, Any], changes: dict[str, Any] | None) -> dict[str, Any]:
    """Traits after a write: new keys added, changed keys replaced, keys sent as null removed."""
    merged = {**current, **(changes or {})}
    return {key: value for key, value in merged.items() if value is not None}


def account_create(
    *,
    external_id: str,
    fields: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    owner: User | None = None,
    stage: JourneyStage | None = None,
) -> Account:
    """Create an account; a stage given is recorded as its first stage transition (at ``created_at``)."""
    values = {name: value for name, value in (fields or {}).items() if name in ACCOUNT_FIELDS[1:]}
    with transaction.atomic():
        account = Account(external_id=external_id, owner=owner, traits=traits_merge({}, traits), **values)
        account.domain = account.domain.lower()
        account.save()
        if stage is not None:
            stage_transition_record(account=account, to_stage=stage, changed_at=account.created_at)
        accounts_mark_for_rescore(account_ids=[account.pk])
    account.refresh_from_db()
    return account


_UNSET: Any = object()


def account_update(
    *,
    account: Account,
    fields: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    owner: User | None = _UNSET,
    stage: JourneyStage | None = None,
) -> Account:
    """Change an account's fields, merge its traits, set its owner; a new stage is recorded as a transition now."""
    with transaction.atomic():
        for name, value in (fields or {}).items():
            if name in ACCOUNT_FIELDS:
                setattr(account, name, value.lower() if name == "domain" else value)
        if traits is not None:
            account.traits = traits_merge(account.traits, traits)
        if owner is not _UNSET:
            account.owner = owner
        account.save()
        if stage is not None and stage.pk != account.stage_id:
            stage_transition_record(account=account, to_stage=stage, changed_at=timezone.now())
        accounts_mark_for_rescore(account_ids=[account.pk])
    account.refresh_from_db()
    return account


def account_delete(*, account: Account) -> None:
    """Delete an account with its contacts, signals, transitions and memberships."""
    account.delete()


def contact_create(
    *,
    external_id: str,
    account: Account | None = None,
    fields: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    stage: JourneyStage | None = None,
) -> Contact:
    """Create a contact (a person at an account) and mark its account for rescoring."""
    values = {name: value for name, value in (fields or {}).items() if name in CONTACT_FIELDS[1:]}
    with transaction.atomic():
        contact = Contact(external_id=external_id, account=account, stage=stage, traits=traits_merge({}, traits))
        for name, value in values.items():
            setattr(contact, name, value)
        contact.email = contact.email.lower()
        contact.save()
        accounts_mark_for_rescore(account_ids=[contact.account_id])
    return contact


def contact_update(
    *,
    contact: Contact,
    fields: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    account: Account | None = _UNSET,
    stage: JourneyStage | None = _UNSET,
) -> Contact:
    """Change a contact; both its old and its new account are marked for rescoring."""
    with transaction.atomic():
        before = contact.account_id
        for name, value in (fields or {}).items():
            if name in CONTACT_FIELDS:
                setattr(contact, name, value.lower() if name == "email" else value)
        if traits is not None:
            contact.traits = traits_merge(contact.traits, traits)
        if account is not _UNSET:
            contact.account = account
        if stage is not _UNSET:
            contact.stage = stage
        contact.save()
        accounts_mark_for_rescore(account_ids=[before, contact.account_id])
    return contact


def contact_delete(*, contact: Contact) -> None:
    """Delete a contact (its signals stay, without the contact) and mark its account for rescoring."""
    with transaction.atomic():
        account_id = contact.account_id
        contact.delete()
        accounts_mark_for_rescore(account_ids=[account_id])


def account_stage_record(*, account: Account, stage: JourneyStage, changed_at=None) -> StageTransition:
    """Record a plan change reported by another system: movement and origin are derived from the history."""
    with transaction.atomic():
        transition = stage_transition_record(account=account, to_stage=stage, changed_at=changed_at)
        accounts_mark_for_rescore(account_ids=[account.pk])
    return transition


def journey_stage_create(*, values: dict[str, Any]) -> JourneyStage:
    """Add a stage to the journey (validated by the model: only paying stages are ranked)."""
    stage = JourneyStage(**values)
    stage.full_clean()
    stage.save()
    return stage


def journey_stage_update(*, stage: JourneyStage, values: dict[str, Any]) -> JourneyStage:
    """Rename, re-rank or re-order a stage. A new kind or rank changes what moves through it mean, so the
    histories of the accounts that passed through it are re-derived and those accounts marked for rescoring."""
    rederive = any(name in values and values[name] != getattr(stage, name) for name in ("kind", "rank"))
    with transaction.atomic():
        for name, value in values.items():
            setattr(stage, name, value)
        stage.full_clean()
        stage.save()
        if rederive:
            account_ids = set(
                StageTransition.objects.filter(Q(to_stage=stage) | Q(from_stage=stage)).values_list(
                    "account_id", flat=True
                )
            )
            stage_history_rebuild(account_ids=account_ids)
            accounts_mark_for_rescore(account_ids=account_ids)
    return stage


def segment_create(*, values: dict[str, Any]) -> Segment:
    """Create a segment and evaluate its membership now."""
    with transaction.atomic():
        segment = Segment.objects.create(**values)
        segment_evaluate(segment=segment)
    return segment


def segment_update(*, segment: Segment, values: dict[str, Any]) -> Segment:
    """Change a segment; new criteria or a change of ``is_active`` re-evaluate its membership now."""
    with transaction.atomic():
        reevaluate = any(
            name in values and values[name] != getattr(segment, name) for name in ("criteria", "is_active")
        )
        for name, value in values.items():
            setattr(segment, name, value)
        segment.save()
        if reevaluate:
            segment_evaluate(segment=segment)
    return segment


def segment_delete(*, segment: Segment) -> None:
    """Delete a segment and its membership history."""
    segment.delete()
