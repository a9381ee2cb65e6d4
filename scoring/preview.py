"""Previewing a scorecard change before it is saved: the change is applied inside a transaction, today's accounts
are rescored and their rules evaluated with it, the outcome is compared with the scores in force, and everything
is rolled back. Nothing the preview computes is kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import Account

from .models import AccountScore, RuleHit
from .rules import rule_hits_evaluate
from .services import accounts_rescore

PREVIEW_MAX_ACCOUNTS = 20_000


@dataclass
class PreviewResult:
    """What a change would do to today's accounts."""

    accounts: int = 0
    sampled: bool = False
    newly_qualified: int = 0
    no_longer_qualified: int = 0
    grade_changes: Counter = field(default_factory=Counter)  # (from, to) -> accounts
    hits_started: Counter = field(default_factory=Counter)  # rule name -> accounts
    hits_stopped: Counter = field(default_factory=Counter)

    # Lists for templates (a template's ``counter.items`` would look up the key "items" and get 0).
    @property
    def grade_change_rows(self) -> list[tuple[str, str, int]]:
        return [(a, b, n) for (a, b), n in sorted(self.grade_changes.items())]

    @property
    def started_rows(self) -> list[tuple[str, int]]:
        return sorted(self.hits_started.items())

    @property
    def stopped_rows(self) -> list[tuple[str, int]]:
        return sorted(self.hits_stopped.items())


class _Rollback(Exception):
    pass


def _snapshot(ids: list[int]) -> tuple[dict[int, tuple[bool, str]], set[tuple[str, int]]]:
    scores = {a: (q, g) for a, q, g in AccountScore.objects.filter(account_id__in=ids).values_list(
        "account_id", "qualified", "grade")}  # fmt: skip
    hits = set(
        RuleHit.objects.filter(account_id__in=ids, cleared_at__isnull=True).values_list("rule__name", "account_id")
    )
    return scores, hits


def change_preview(*, apply: Callable[[], None], max_accounts: int = PREVIEW_MAX_ACCOUNTS) -> PreviewResult:
    """Run ``apply`` (which saves the change) and measure its effect, then roll all of it back."""
    ids = list(Account.objects.order_by("?").values_list("pk", flat=True)[: max_accounts + 1])
    result = PreviewResult(sampled=len(ids) > max_accounts)
    ids = sorted(ids[:max_accounts])
    result.accounts = len(ids)
    try:
        with transaction.atomic():
            # The scores in force, recomputed now with today's configuration, so decay since the last rescore is
            # not mistaken for an effect of the change.
            accounts_rescore(account_ids=ids)
            rule_hits_evaluate(account_ids=ids)
            before_scores, before_hits = _snapshot(ids)
            apply()
            accounts_rescore(account_ids=ids)
            rule_hits_evaluate(account_ids=ids)
            after_scores, after_hits = _snapshot(ids)
            raise _Rollback
    except _Rollback:
        pass
    for account_id, (qualified, grade) in after_scores.items():
        was_qualified, was_grade = before_scores.get(account_id, (False, None))
        result.newly_qualified += qualified and not was_qualified
        result.no_longer_qualified += was_qualified and not qualified
        if was_grade is not None and was_grade != grade:
            result.grade_changes[(was_grade, grade)] += 1
    for rule, _ in after_hits - before_hits:
        result.hits_started[rule] += 1
    for rule, _ in before_hits - after_hits:
        result.hits_stopped[rule] += 1
    return result
