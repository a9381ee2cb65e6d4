"""Evaluating signal rules for a chunk of accounts, set-based, after their scores and measures are computed.

Per chunk: one query for measures and scores, one for account fields, one for open segment memberships, one
aggregate per distinct (signal filter, window) the active rules name, one for open hits; then the rules are
evaluated in memory and hits are opened, refreshed or cleared in bulk. Query count does not depend on the number
of accounts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, SegmentMembership, StageTransition
from accounts.stages import can_expand, top_paying_rank

from .conditions import (
    MEASURES,
    SignalCount,
    columns_by_field,
    columns_mask,
    compile_conditions,
    conditions_evaluate,
    needs_merge,
    plain_value,
    signal_counts,
)
from .models import AccountScore, RuleHit, SignalRule


@dataclass
class RuleStats:
    """Hits opened, cleared and still open after an evaluation."""

    opened: int = 0
    cleared: int = 0
    open: int = 0
    # (rule id, account id) of the hits opened and cleared, for ``scoring.hooks.scores_changed``
    opened_pairs: list[tuple[int, int]] = field(default_factory=list)
    cleared_pairs: list[tuple[int, int]] = field(default_factory=list)


Measures = dict[str, list[Any]]  # "account_id" and measure names -> one value per account, in the same order


def rule_measures(scores: dict[str, list[Any]]) -> Measures:
    """The measures rules read, from a rescore's freshly computed score columns (no reading them back)."""
    return {"account_id": scores["account_id"], **{name: scores[name] for name in MEASURES if name in scores}}


def rule_hits_evaluate(
    *, account_ids: Sequence[int], now: datetime | None = None, measures: Measures | None = None
) -> RuleStats:
    """Open, refresh or clear the hits of every active rule for these accounts (idempotent). ``measures``: the
    accounts' just-computed measures and scores (else they are read from ``AccountScore``)."""
    now = now or timezone.now()
    stats = RuleStats()
    rules = [(rule, compile_conditions(rule.conditions)) for rule in SignalRule.objects.filter(is_active=True)]
    ids = list(account_ids)
    if not ids:
        return stats
    fields, segments, counts = _inputs(ids, rules, now, measures)

    open_hits = {
        (rule_id, account_id): pk
        for pk, rule_id, account_id in RuleHit.objects.filter(account_id__in=ids, cleared_at__isnull=True).values_list(
            "pk", "rule_id", "account_id"
        )
    }
    active_rules = {rule.pk for rule, _ in rules}
    columns = columns_by_field(ids, fields, segments, counts)
    to_open, to_refresh, to_clear = [], [], []
    for rule, _needs in rules:
        holds = columns_mask(rule.conditions, columns, len(ids), now=now).tolist()
        for position, account_id in enumerate(ids):
            hit = open_hits.get((rule.pk, account_id))
            if not holds[position]:
                if hit is not None:
                    to_clear.append(hit)
                continue
            # Only accounts the rule holds for are walked one by one, to record the values that made it true.
            _, values = conditions_evaluate(
                rule.conditions,
                fields={name: column[position] for name, column in fields.items()},
                segments=segments.get(account_id, set()),
                counts={key: per.get(account_id, 0) for key, per in counts.items()},
                now=now,
            )
            if hit is None:
                to_open.append(RuleHit(rule=rule, account_id=account_id, set_at=now, values=values, evaluated_at=now))
            else:
                to_refresh.append(RuleHit(pk=hit, values=values, evaluated_at=now))
    # Hits of rules that were switched off or deleted are closed too.
    to_clear += [pk for (rule_id, _), pk in open_hits.items() if rule_id not in active_rules]
    RuleHit.objects.bulk_create(to_open, batch_size=1000)
    RuleHit.objects.bulk_update(to_refresh, ["values", "evaluated_at"], batch_size=1000)
    RuleHit.objects.filter(pk__in=to_clear).update(cleared_at=now, evaluated_at=now)
    stats.opened, stats.cleared, stats.open = len(to_open), len(to_clear), len(to_open) + len(to_refresh)
    stats.opened_pairs = [(hit.rule_id, hit.account_id) for hit in to_open]
    cleared = set(to_clear)
    stats.cleared_pairs = [pair for pair, pk in open_hits.items() if pk in cleared]
    return stats


def rule_holds(*, rule: SignalRule, account_ids: Sequence[int], now: datetime, measures: Measures) -> np.ndarray:
    """Where ``rule`` holds for these accounts as of ``now``, which may be in the past (backtests): measures as
    computed for that moment, stage from the stage history, segment membership and signal counts as of then. Other
    account fields (employees, industry, traits) are today's: they have no history."""
    ids = list(account_ids)
    if not ids:
        return np.zeros(0, dtype=bool)
    fields, segments, counts = _inputs(ids, [(rule, compile_conditions(rule.conditions))], now, measures, as_of=True)
    return columns_mask(rule.conditions, columns_by_field(ids, fields, segments, counts), len(ids), now=now)


def _inputs(  # noqa: C901, PLR0912 — one branch per condition kind, all read in one pass
    ids: list[int],
    rules: Sequence[tuple[SignalRule, Any]],
    now: datetime,
    measures: Measures | None,
    *,
    as_of: bool = False,
) -> tuple[dict[str, list[Any]], dict[int, set[str]], dict[SignalCount, dict]]:
    """What the rules read for these accounts: fields and measures, segments (member at ``now``), signal counts.
    ``as_of``: the stage is the one the stage history gives at ``now`` rather than the current one."""
    needs = needs_merge([n for _, n in rules]) if rules else None
    position = {a: i for i, a in enumerate(ids)}
    fields: dict[str, list[Any]] = {}  # one column per field, in the order of ``ids``
    wanted = sorted(needs.fields & set(MEASURES)) if needs else []
    if wanted and measures is not None:
        if measures["account_id"] == ids:  # the rescore's own columns, in the same order: taken as they are
            fields.update({name: measures[name] for name in wanted})
        else:
            where = [position.get(a) for a in measures["account_id"]]
            for name in wanted:
                column = fields[name] = [None] * len(ids)
                for i, value in zip(where, measures[name], strict=True):
                    if i is not None:
                        column[i] = value
    elif wanted:
        for name in wanted:
            fields[name] = [None] * len(ids)
        for row in AccountScore.objects.filter(account_id__in=ids).values_list("account_id", *wanted):
            i = position[row[0]]
            for name, value in zip(wanted, row[1:], strict=True):
                fields[name][i] = plain_value(value)
    own = sorted(needs.fields - set(MEASURES)) if needs else []
    expand = "can_expand" in own  # derived from the stage's kind and rank (accounts.stages)
    if expand:
        own = sorted(set(own) - {"can_expand"} | {"stage_kind", "stage_rank"})
    if own:
        for name in own:
            fields[name] = [None] * len(ids)
        names = {"stage": "stage__key", "stage_kind": "stage__kind", "stage_rank": "stage__rank"}
        plain = [n for n in own if not n.startswith("traits.")]
        traits = [n for n in own if n.startswith("traits.")]
        for row in Account.objects.filter(pk__in=ids).values_list(
            "pk", *(names.get(n, n) for n in plain), *(["traits"] if traits else [])
        ):
            i = position[row[0]]
            for name, value in zip(plain, row[1 : 1 + len(plain)], strict=True):
                fields[name][i] = plain_value(value)
            for name in traits:
                fields[name][i] = (row[-1] or {}).get(name[len("traits.") :])
    if as_of and needs and needs.fields & {"stage", "stage_kind", "can_expand"}:
        stage_at = {}
        for account_id, key, kind, rank in (
            StageTransition.objects.filter(account_id__in=ids, changed_at__lte=now)
            .order_by("account_id", "changed_at", "id")
            .values_list("account_id", "to_stage__key", "to_stage__kind", "to_stage__rank")
        ):
            stage_at[account_id] = (key, kind, rank)  # the last one before ``now`` wins
        fields["stage"] = [stage_at.get(a, (None, None, None))[0] for a in ids]
        fields["stage_kind"] = [stage_at.get(a, (None, None, None))[1] for a in ids]
        fields["stage_rank"] = [stage_at.get(a, (None, None, None))[2] for a in ids]
    if expand:
        top = top_paying_rank()
        fields["can_expand"] = [
            can_expand(kind, rank, top) for kind, rank in zip(fields["stage_kind"], fields["stage_rank"], strict=True)
        ]
    segments: dict[int, set[str]] = defaultdict(set)
    if needs and needs.segments:
        for account_id, name in SegmentMembership.objects.filter(
            Q(exited_at__isnull=True) | Q(exited_at__gt=now),
            account_id__in=ids,
            entered_at__lte=now,
            segment__name__in=needs.segments,
        ).values_list("account_id", "segment__name"):
            segments[account_id].add(name)
    counts = signal_counts(ids, needs.counts, now) if needs else {}
    return fields, segments, counts
