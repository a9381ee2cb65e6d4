"""Reads for scoring: current scores, history and the scorecard in use."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import AccountScore, ContactScore, PredictiveModel, ScoreHistory


def account_score_list() -> QuerySet[AccountScore]:
    """Current account scores with their accounts (one query for a page)."""
    return AccountScore.objects.select_related("account", "account__prediction")


def score_history_list(*, account_id: int) -> QuerySet[ScoreHistory]:
    """An account's score history (a row at every change, at least one per day rescored), oldest first."""
    return ScoreHistory.objects.filter(account_id=account_id).order_by("computed_at")


def contact_score_list(*, account_id: int) -> QuerySet[ContactScore]:
    """An account's contacts by engagement, most engaged first."""
    return ContactScore.objects.filter(account_id=account_id).select_related("contact").order_by("-engagement")


def predictive_model_list() -> QuerySet[PredictiveModel]:
    """Model versions, newest first per outcome, without their stored bytes."""
    return PredictiveModel.objects.defer("model_bytes", "feature_space", "baseline").order_by("outcome", "-version")
