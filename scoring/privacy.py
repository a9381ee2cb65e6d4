"""A person's contact scores in an export (``signals_app.hooks.person_exporting``, connected in ``apps.py``). Their
scores go with their contacts when they are forgotten (cascade), and the accounts' are recomputed by the rescore
that the erasure marks."""

from __future__ import annotations

from typing import Any

from signals_app.privacy import Mentions, Person

from .models import ContactScore


def on_person_exporting(sender: Any, person: Person, mentions: Mentions, **kwargs: Any) -> dict:
    """Each of the person's contacts' engagement, last activity and whether they count as active."""
    rows = ContactScore.objects.filter(contact_id__in=person.contact_ids).select_related("contact").order_by("pk")
    return {
        "contact_scores": [
            {
                "contact_external_id": s.contact.external_id,
                "engagement": s.engagement,
                "active": s.active,
                "last_activity_at": s.last_activity_at.isoformat() if s.last_activity_at else None,
                "computed_at": s.computed_at.isoformat(),
            }
            for s in rows
        ]
    }
