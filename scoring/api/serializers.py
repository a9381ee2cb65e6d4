"""Read-only representations of an account's scores, measures, explanations and history."""

from __future__ import annotations

from rest_framework import serializers

from ..models import AccountPrediction, AccountScore, ContactScore, PredictiveModel, RuleHit, ScoreHistory

OUTCOME_KEYS = ("conversion", "expansion", "churn")


class AccountScoreSerializer(serializers.ModelSerializer):
    account_external_id = serializers.CharField(source="account.external_id", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    measures = serializers.SerializerMethodField()
    explanations = serializers.JSONField(source="contributions", read_only=True)
    probabilities = serializers.SerializerMethodField(
        help_text="Per outcome (conversion, expansion, churn): status (ok, not_applicable, not_enough_history, "
        "no_model), the smoothed probability and the model's raw value, the model version, a typical account's "
        "probability (typical), and the top reasons up and down ({text, effect}, effect in probability against "
        "typical); otherwise a message saying what is missing."
    )
    health = serializers.SerializerMethodField(help_text="{band: good|normal|bad, since, reasons} or null.")

    class Meta:
        model = AccountScore
        fields = (
            "account_external_id", "account_name", "fit", "completeness", "engagement", "lead", "grade",
            "temperature", "qualified", "qualified_at", "signal_strength", "signal_strength_baseline", "surging",
            "measures", "explanations", "probabilities", "health", "config_version", "computed_at",
        )  # fmt: skip
        read_only_fields = fields

    def _prediction(self, score: AccountScore) -> AccountPrediction | None:
        try:
            return score.account.prediction
        except AccountPrediction.DoesNotExist:
            return None

    def get_probabilities(self, score: AccountScore) -> dict | None:
        prediction = self._prediction(score)
        if prediction is None:
            return None
        return {o: {"probability": getattr(prediction, o), **prediction.reasons.get(o, {})} for o in OUTCOME_KEYS}

    def get_health(self, score: AccountScore) -> dict | None:
        prediction = self._prediction(score)
        if prediction is None:
            return None
        return {"band": prediction.health, "since": prediction.health_since, "reasons": prediction.health_reasons}

    def get_measures(self, score: AccountScore) -> dict:
        return {
            "tenure_days": score.tenure_days,
            "size_band": score.size_band,
            "activation": score.activation,
            "engagement_trend": score.engagement_trend,
            "active_users_7d": score.active_users_7d,
            "active_users_30d": score.active_users_30d,
            "total_users": score.total_users,
            "active_ratio_30d": score.active_ratio_30d,
            "adoption": score.adoption,
        }


class ScoreHistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoreHistory
        fields = ("date", "fit", "engagement", "lead", "signal_strength", "grade", "temperature", "qualified",
                  "surging", "config_version", "computed_at")  # fmt: skip
        read_only_fields = fields


class ContactScoreSerializer(serializers.ModelSerializer):
    contact_external_id = serializers.CharField(source="contact.external_id", read_only=True)
    email = serializers.CharField(source="contact.email", read_only=True)

    class Meta:
        model = ContactScore
        fields = ("contact_external_id", "email", "engagement", "last_activity_at", "active", "computed_at")
        read_only_fields = fields


class RuleHitSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.name", read_only=True)

    class Meta:
        model = RuleHit
        fields = ("rule", "set_at", "cleared_at", "values", "evaluated_at")
        read_only_fields = fields


class PredictiveModelSerializer(serializers.ModelSerializer):
    """A model version: its validation figures, charts' data and the impact of each signal and measure."""

    class Meta:
        model = PredictiveModel
        fields = ("id", "outcome", "version", "family", "is_active", "created_at", "activated_at", "horizon_days",
                  "metrics", "comparison", "calibration", "lift", "impact", "training", "movements", "train_from",
                  "train_to", "validate_from", "validate_to")  # fmt: skip
        read_only_fields = fields
