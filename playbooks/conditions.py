"""Playbook conditions on the account: the signal rules' condition language (``signals_app.rule_conditions``),
plus the owner, more account fields and every score column (probabilities and health once they exist).

Evaluation is set-based: the values the conditions name are loaded for all candidate accounts of a chunk with a
fixed number of queries, and ``scoring.rules``' NumPy masks decide them all at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from accounts.models import Account, SegmentMembership
from accounts.stages import can_expand, top_paying_rank
from scoring import models as scoring_models
from scoring.models import AccountScore
from scoring.rules import _columns, _counts, _mask, _plain
from signals_app.rule_conditions import (
    ACCOUNT_FIELDS,
    MEASURES,
    Needs,
    RuleConditionError,
    _check_field,
    compile_conditions,
)

# Fields playbooks may read besides the signal rules' own: the owner and more of the account.
EXTRA_ACCOUNT_FIELDS = ("owner_email", "name", "domain", "external_id")


# Conditions may read the predictions (AccountPrediction), under the names scores_changed uses.
PREDICTION_FIELDS = (
    {"conversion_probability": "conversion", "expansion_probability": "expansion", "churn_probability": "churn",
     "health": "health"} if hasattr(scoring_models, "AccountPrediction") else {}
)  # fmt: skip


def score_fields() -> tuple[str, ...]:
    """Every readable score column, and the predictions' probabilities and health."""
    skip = {"account", "contributions", "computed_at", "qualified_at", "config_version"}
    return tuple(f.name for f in AccountScore._meta.concrete_fields if f.name not in skip) + tuple(PREDICTION_FIELDS)


class ConditionError(ValueError):
    """The conditions are not well formed; the message says which one and why."""


def _swap_fields(cond: Any, where: str, fields: set[str]) -> Any:
    """A copy of the conditions in which fields only playbooks know are replaced by a rule field of the same kind,
    so the rule language's checks (ops, values, segments, signal windows) apply to them too."""
    if isinstance(cond, dict) and "conditions" in cond and isinstance(cond["conditions"], list):
        return {
            **cond,
            "conditions": [
                _swap_fields(c, f"{where} condition {i}", fields) for i, c in enumerate(cond["conditions"], 1)
            ],
        }
    if isinstance(cond, dict) and "field" in cond:
        name = cond["field"]
        if isinstance(name, str) and (name in EXTRA_ACCOUNT_FIELDS or name in score_fields()):
            fields.add(name)
            if name not in MEASURES and name not in ACCOUNT_FIELDS:
                checked = {**cond, "field": "industry"}
                _check_field(checked, where)
                return checked
        elif isinstance(name, str) and (name in MEASURES or name in ACCOUNT_FIELDS or name.startswith("traits.")):
            fields.add(name)
    return cond


def conditions_compile(conditions: Any) -> Needs | None:
    """Validate conditions (empty means "every account") and say what they read; raise ConditionError."""
    if conditions in (None, {}, []):
        return None
    fields: set[str] = set()
    try:
        swapped = _swap_fields(conditions, "conditions", fields)
        needs = compile_conditions(swapped)
    except RuleConditionError as exc:
        raise ConditionError(str(exc)) from None
    return Needs(frozenset(fields), needs.segments, needs.counts)


def conditions_load(
    needs: Needs, account_ids: Sequence[int], now: datetime
) -> tuple[dict[int, dict[str, Any]], dict[int, set[str]], dict]:
    """The values the conditions read for these accounts: at most one query each for scores, account fields and
    segments, and one aggregate per signal count."""
    fields: dict[int, dict[str, Any]] = defaultdict(dict)
    ids = list(account_ids)
    predictions = sorted(needs.fields & set(PREDICTION_FIELDS))
    if predictions:
        columns = [PREDICTION_FIELDS[name] for name in predictions]
        for row in scoring_models.AccountPrediction.objects.filter(account_id__in=ids).values_list(
            "account_id", *columns
        ):
            fields[row[0]].update({name: _plain(v) for name, v in zip(predictions, row[1:], strict=True)})
    scores = sorted(needs.fields & set(score_fields()) - set(PREDICTION_FIELDS))
    if scores:
        for row in AccountScore.objects.filter(account_id__in=ids).values("account_id", *scores):
            fields[row.pop("account_id")].update({k: _plain(v) for k, v in row.items()})
    if needs.fields - set(scores):
        top = top_paying_rank() if "can_expand" in needs.fields else 0
        for row in Account.objects.filter(pk__in=ids).values(
            "pk", "employees", "industry", "country", "annual_revenue", "stage__key", "stage__kind", "stage__rank",
            "traits", "owner__email", "name", "domain", "external_id",
        ):  # fmt: skip
            f = fields[row["pk"]]
            f.update(employees=row["employees"], industry=row["industry"], country=row["country"],
                     annual_revenue=_plain(row["annual_revenue"]), stage=row["stage__key"],
                     stage_kind=row["stage__kind"], owner_email=row["owner__email"], name=row["name"],
                     domain=row["domain"], external_id=row["external_id"],
                     can_expand=can_expand(row["stage__kind"], row["stage__rank"], top))  # fmt: skip
            for key, value in (row["traits"] or {}).items():
                f[f"traits.{key}"] = value
    segments: dict[int, set[str]] = defaultdict(set)
    if needs.segments:
        for account_id, name in SegmentMembership.objects.filter(
            account_id__in=ids, exited_at__isnull=True, segment__name__in=needs.segments
        ).values_list("account_id", "segment__name"):
            segments[account_id].add(name)
    counts = _counts(ids, needs.counts, now) if needs.counts else {}
    return fields, segments, counts


def conditions_mask(conditions: Any, account_ids: Sequence[int], now: datetime) -> np.ndarray:
    """Where the conditions hold, for every account at once (in the order of ``account_ids``)."""
    ids = list(account_ids)
    needs = conditions_compile(conditions)
    if needs is None or not ids:
        return np.ones(len(ids), dtype=bool)
    fields, segments, counts = conditions_load(needs, ids, now)
    return _mask(conditions, _columns(ids, fields, segments, counts), len(ids))
