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
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import Account, SegmentMembership, StageTransition
from accounts.stages import can_expand, top_paying_rank
from signals_app.models import RuleHit, Signal, SignalRule
from signals_app.rule_conditions import MEASURES, SignalCount, compile_conditions, evaluate, merge

from .models import AccountScore


@dataclass
class RuleStats:
    """Hits opened, cleared and still open after an evaluation."""

    opened: int = 0
    cleared: int = 0
    open: int = 0
    # (rule id, account id) of the hits opened and cleared, for ``scoring.hooks.scores_changed``
    opened_pairs: list[tuple[int, int]] = field(default_factory=list)
    cleared_pairs: list[tuple[int, int]] = field(default_factory=list)


def _plain(value: Any) -> Any:
    """A JSON-friendly value: Decimals as floats, NaN as None."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value != value:
        return None
    return value


def _counts(account_ids: Sequence[int], keys: frozenset[SignalCount], now: datetime) -> dict[SignalCount, dict]:
    result = {}
    for key in keys:
        # the window ends at ``now``: a backtest's cut-off is in the past, and later signals were not known then
        query = Q(account_id__in=account_ids, occurred_at__gte=now - timedelta(days=key.window_days))
        query &= Q(occurred_at__lte=now)
        if key.type:
            query &= Q(type__key=key.type)
        if key.topic:
            query &= Q(topic__key=key.topic) | Q(topic__parent__key=key.topic)
        if key.category:
            query &= Q(type__category=key.category)
        rows = Signal.objects.filter(query).values("account_id").annotate(n=Count("id")).values_list("account_id", "n")
        result[key] = dict(rows)
    return result


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
    columns = _columns_by_field(ids, fields, segments, counts)
    to_open, to_refresh, to_clear = [], [], []
    for rule, _needs in rules:
        holds = _mask(rule.conditions, columns, len(ids)).tolist()
        for position, account_id in enumerate(ids):
            hit = open_hits.get((rule.pk, account_id))
            if not holds[position]:
                if hit is not None:
                    to_clear.append(hit)
                continue
            # Only accounts the rule holds for are walked one by one, to record the values that made it true.
            _, values = evaluate(
                rule.conditions,
                fields={name: column[position] for name, column in fields.items()},
                segments=segments.get(account_id, set()),
                counts={key: per.get(account_id, 0) for key, per in counts.items()},
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
    return _mask(rule.conditions, _columns_by_field(ids, fields, segments, counts), len(ids))


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
    needs = merge([n for _, n in rules]) if rules else None
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
                fields[name][i] = _plain(value)
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
                fields[name][i] = _plain(value)
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
    counts = _counts(ids, needs.counts, now) if needs else {}
    return fields, segments, counts


def _columns(
    ids: list[int], fields: dict[int, dict[str, Any]], segments: dict[int, set[str]], counts: dict[SignalCount, dict]
) -> dict[Any, np.ndarray]:
    """The values as one array per field, segment and signal count, in the order of ``ids``, from fields given per
    account (the playbooks' conditions use it)."""
    names = set().union(*(f.keys() for f in fields.values())) if fields else set()
    by_field = {name: [fields.get(a, {}).get(name) for a in ids] for name in names}
    return _columns_by_field(ids, by_field, segments, counts)


def _columns_by_field(
    ids: list[int], fields: dict[str, list[Any]], segments: dict[int, set[str]], counts: dict[SignalCount, dict]
) -> dict[Any, np.ndarray]:
    """The values as one array per field, segment and signal count, in the order of ``ids`` (``fields``: a column
    per field already)."""
    columns: dict[Any, np.ndarray] = {}
    for name, values in fields.items():
        column = np.empty(len(ids), dtype=object)
        column[:] = values
        columns[("field", name)] = column
    for name in set().union(*segments.values()) if segments else set():
        columns[("segment", name)] = np.array([name in segments.get(a, ()) for a in ids], dtype=bool)
    for key, per in counts.items():
        columns[("count", key)] = np.array([per.get(a, 0) for a in ids], dtype=np.int64)
    return columns


def _mask(cond: dict, columns: dict[Any, np.ndarray], n: int) -> np.ndarray:
    """Where the condition holds, for every account of the chunk at once (same meaning as ``evaluate``)."""
    if "conditions" in cond:
        masks = [_mask(c, columns, n) for c in cond["conditions"]]
        return np.logical_and.reduce(masks) if cond.get("match", "all") == "all" else np.logical_or.reduce(masks)
    if "segment" in cond:
        inside = columns.get(("segment", cond["segment"]), np.zeros(n, dtype=bool))
        return inside if cond.get("op", "in") == "in" else ~inside
    if "signal" in cond:
        from signals_app.rule_conditions import _check_signal

        counted = columns.get(("count", _check_signal(cond, "")), np.zeros(n, dtype=np.int64))
        op = cond.get("op", "at_least")
        if op == "none":
            return counted == 0
        return counted >= cond.get("count", 1) if op == "at_least" else counted <= cond.get("count", 1)
    values = columns.get(("field", cond["field"]))
    if values is None:
        values = np.full(n, None, dtype=object)
    op, expected = cond["op"], cond.get("value")
    empty = np.array([v is None or v == "" for v in values], dtype=bool)
    if op == "missing":
        return empty
    if op == "present":
        return ~empty
    if op in ("eq", "ne", "in", "not_in"):
        if op in ("eq", "ne"):
            equal = np.array([v == expected for v in values], dtype=bool)
        else:
            allowed = expected or ()  # validated to be a list
            equal = np.array([v in allowed for v in values], dtype=bool)
        return equal if op in ("eq", "in") else ~equal
    numeric = np.array(
        [float(v) if isinstance(v, (int, float)) and not isinstance(v, str) else np.nan for v in values], dtype=float
    )
    with np.errstate(invalid="ignore"):
        result = {"gt": numeric > expected, "gte": numeric >= expected, "lt": numeric < expected,
                  "lte": numeric <= expected}[op]  # fmt: skip
    return result & ~np.isnan(numeric)
