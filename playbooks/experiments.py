"""Experiments: reproducible random assignment of accounts to variants, and each variant's goal rate with a Wilson
confidence interval."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Q

from .models import ExperimentGroup, Playbook, PlaybookRun


def variant_index(*, group_id: int, account_id: int, n: int) -> int:
    """Which of ``n`` variants an account gets: a hash of group and account, so the same account always lands in
    the same variant (across workers, retries and restarts) and the split is even."""
    digest = hashlib.sha256(f"klearly-experiment:{group_id}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


def variants_ordered(playbooks: Sequence[Playbook]) -> list[Playbook]:
    """A group's active variants in a stable order (by variant name, then id)."""
    return sorted((p for p in playbooks if p.is_active), key=lambda p: (p.variant, p.pk))


def variant_for(*, group_id: int, account_id: int, variants: Sequence[Playbook]) -> Playbook:
    """The variant (playbook) an account is assigned to."""
    return variants[variant_index(group_id=group_id, account_id=account_id, n=len(variants))]


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 0) without trials."""
    if trials <= 0:
        return 0.0, 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class VariantResult:
    """One variant's numbers: entries (runs), goals reached, runs settled (reached or past the deadline)."""

    playbook_id: int
    name: str
    variant: str
    entries: int
    reached: int
    settled: int
    rate: float
    low: float
    high: float


def experiment_results(*, group: ExperimentGroup) -> list[VariantResult]:
    """Entries, goals reached and conversion per variant, one aggregate query."""
    rows = (
        PlaybookRun.objects.filter(playbook__experiment_group=group)
        .values("playbook_id")
        .annotate(
            entries=Count("pk"),
            reached=Count("pk", filter=Q(goal_reached_at__isnull=False)),
            settled=Count("pk", filter=Q(goal_checked_at__isnull=False)),
        )
    )
    by_playbook = {r["playbook_id"]: r for r in rows}
    results = []
    for playbook in group.variants.order_by("variant", "pk"):
        r = by_playbook.get(playbook.pk, {"entries": 0, "reached": 0, "settled": 0})
        low, high = wilson_interval(r["reached"], r["entries"])
        rate = r["reached"] / r["entries"] if r["entries"] else 0.0
        results.append(VariantResult(playbook.pk, playbook.name, playbook.variant, r["entries"], r["reached"],
                                     r["settled"], rate, low, high))  # fmt: skip
    return results
