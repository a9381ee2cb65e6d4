"""Playbook conditions on the account: the signal rules' condition language (``scoring.conditions``,
docs/conditions.md), plus the owner, more account fields and every score column (probabilities and health once they
exist).

Evaluation is set-based: the values the conditions name are loaded for all candidate accounts of a chunk with a
fixed number of queries, and ``scoring.conditions``' NumPy masks decide them all at once.
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
from scoring.conditions import (
    Needs,
    columns_by_account,
    columns_mask,
    conditions_needs,
    plain_value,
    signal_counts,
)
from scoring.models import AccountScore

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


def conditions_compile(conditions: Any) -> Needs | None:
    """Validate conditions (empty means "every account") and say what they read; raise ConditionError."""
    if conditions in (None, {}, []):
        return None
    return conditions_needs(conditions, extra_fields=(*EXTRA_ACCOUNT_FIELDS, *score_fields()))


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
            fields[row[0]].update({name: plain_value(v) for name, v in zip(predictions, row[1:], strict=True)})
    scores = sorted(needs.fields & set(score_fields()) - set(PREDICTION_FIELDS))
    if scores:
        for row in AccountScore.objects.filter(account_id__in=ids).values("account_id", *scores):
            fields[row.pop("account_id")].update({k: plain_value(v) for k, v in row.items()})
    if needs.fields - set(scores):
        top = top_paying_rank() if "can_expand" in needs.fields else 0
        for row in Account.objects.filter(pk__in=ids).values(
            "pk", "employees", "industry", "country", "annual_revenue", "stage__key", "stage__kind", "stage__rank",
            "traits", "owner__email", "name", "domain", "external_id",
        ):  # fmt: skip
            f = fields[row["pk"]]
            f.update(employees=row["employees"], industry=row["industry"], country=row["country"],
                     annual_revenue=plain_value(row["annual_revenue"]), stage=row["stage__key"],
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
    counts = signal_counts(ids, needs.counts, now) if needs.counts else {}
    return fields, segments, counts


def conditions_mask(conditions: Any, account_ids: Sequence[int], now: datetime) -> np.ndarray:
    """Where the conditions hold, for every account at once (in the order of ``account_ids``)."""
    ids = list(account_ids)
    needs = conditions_compile(conditions)
    if needs is None or not ids:
        return np.ones(len(ids), dtype=bool)
    fields, segments, counts = conditions_load(needs, ids, now)
    return columns_mask(conditions, columns_by_account(ids, fields, segments, counts), len(ids), now=now)
