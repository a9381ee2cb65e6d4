"""Smart-signal proposals: the candidates training mined stored for people to judge, and a confirmed one turned into
a signal rule (or an engagement rule) that the next rescore uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from signals_app.models import SignalType
from signals_app.parsing import signal_type_key

from ..choices import ProposalStatus
from ..ml import mining
from ..models import EngagementRule, SignalRule, SmartSignalProposal
from ..scorecard import rescore_all_after_commit

PROPOSALS_PER_OUTCOME = 8


def _fingerprint(outcome: str, conditions: dict) -> str:
    return hashlib.sha256(f"{outcome}:{json.dumps(conditions, sort_keys=True)}".encode()).hexdigest()


def proposals_refresh(*, outcome: str, candidates: Sequence[mining.Candidate], evidence: dict[str, Any]) -> int:
    """Store new candidates as proposals and update the evidence of open ones; decided ones are left alone (a
    rejected idea is not proposed again). Returns how many were created."""
    now = timezone.now()
    prints = {_fingerprint(outcome, c.rule): c for c in candidates}
    existing = {p.fingerprint: p for p in SmartSignalProposal.objects.filter(fingerprint__in=list(prints))}
    created, updated = [], []
    for fp, cand in prints.items():
        values = dict(
            title=cand.title[:500], conditions=cand.rule, support=cand.support, accounts=cand.accounts,
            positives=cand.positives, precision=cand.precision, base_rate=cand.base_rate, lift=cand.lift,
            lift_low=cand.lift_low, lift_high=cand.lift_high, evidence=evidence, updated_at=now,
        )  # fmt: skip
        if fp in existing:
            proposal = existing[fp]
            if proposal.status == ProposalStatus.PROPOSED:
                for k, v in values.items():
                    setattr(proposal, k, v)
                updated.append(proposal)
        else:
            created.append(SmartSignalProposal(outcome=outcome, fingerprint=fp, created_at=now, **values))
    SmartSignalProposal.objects.bulk_create(created)
    if updated:
        SmartSignalProposal.objects.bulk_update(updated, [*values.keys()])
    return len(created)


class ProposalError(ValueError):
    """A proposal cannot be confirmed as asked; the message says why."""


def proposal_confirm(*, proposal: SmartSignalProposal, user: Any = None, as_engagement_rule: bool = False,
                     points: float = 10.0) -> SmartSignalProposal:  # fmt: skip
    """Turn a proposal into a signal rule (or, for a single signal type, an engagement rule worth ``points``),
    which the next rescore uses; the proposal records what it became."""
    from ..conditions import ConditionError, compile_conditions

    if proposal.status != ProposalStatus.PROPOSED:
        raise ProposalError(f"This proposal is already {proposal.get_status_display().lower()}.")
    with transaction.atomic():
        if as_engagement_rule:
            conds = proposal.conditions.get("conditions", [])
            types = [c["signal"].get("type") for c in conds if isinstance(c.get("signal"), dict)]
            if len(conds) != 1 or not types or not types[0]:
                raise ProposalError("Only a proposal about one signal type can become an engagement rule.")
            signal_type = SignalType.objects.filter(key=signal_type_key(types[0])).first()
            if signal_type is None:
                raise ProposalError(f"The signal type {types[0]!r} no longer exists.")
            if EngagementRule.objects.filter(signal_type=signal_type).exists():
                raise ProposalError(f"{signal_type} already has an engagement rule: change its points instead.")
            rule = EngagementRule(signal_type=signal_type, points=points, half_life_days=None,
                                  window_days=conds[0].get("window_days") or 30)  # fmt: skip
            rule.full_clean()
            rule.save()
            proposal.engagement_rule = rule
        else:
            try:
                compile_conditions(proposal.conditions)
            except ConditionError as exc:
                raise ProposalError(f"The conditions are no longer valid: {exc}") from exc
            name = f"{proposal.get_outcome_display()} signal: {proposal.title}"[:120]
            if SignalRule.objects.filter(name=name).exists():
                name = f"{name[:110]} #{proposal.pk}"
            description = (
                f"Proposed by Klearly from {proposal.support} past examples ({proposal.accounts} accounts): "
                f"{100 * proposal.precision:.1f}% made a {proposal.outcome} within the horizon against "
                f"{100 * proposal.base_rate:.1f}% overall (lift {proposal.lift:.2f}, 95% interval "
                f"{proposal.lift_low:.2f}–{proposal.lift_high:.2f})."
            )
            proposal.signal_rule = SignalRule.objects.create(
                name=name, description=description, conditions=proposal.conditions
            )
        proposal.status = ProposalStatus.CONFIRMED
        proposal.decided_at = timezone.now()
        proposal.decided_by = user if getattr(user, "pk", None) else None
        proposal.save()
        rescore_all_after_commit()
    return proposal


def proposal_reject(*, proposal: SmartSignalProposal, user: Any = None) -> SmartSignalProposal:
    """Reject a proposal: it is kept (so it is not proposed again) and creates nothing."""
    if proposal.status != ProposalStatus.PROPOSED:
        raise ProposalError(f"This proposal is already {proposal.get_status_display().lower()}.")
    proposal.status = ProposalStatus.REJECTED
    proposal.decided_at = timezone.now()
    proposal.decided_by = user if getattr(user, "pk", None) else None
    proposal.save(update_fields=["status", "decided_at", "decided_by"])
    return proposal
