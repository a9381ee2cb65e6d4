"""Read-only representations of an account's scores, measures, explanations and history."""

from __future__ import annotations

from rest_framework import serializers

from signals_app.models import RuleHit

from ..models import AccountScore, ContactScore, ScoreHistory


class AccountScoreSerializer(serializers.ModelSerializer):
    account_external_id = serializers.CharField(source="account.external_id", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    measures = serializers.SerializerMethodField()
    explanations = serializers.JSONField(source="contributions", read_only=True)

    class Meta:
        model = AccountScore
        fields = (
            "account_external_id", "account_name", "fit", "completeness", "engagement", "lead", "grade",
            "temperature", "qualified", "qualified_at", "signal_strength", "signal_strength_baseline", "surging",
            "measures", "explanations", "config_version", "computed_at",
        )  # fmt: skip
        read_only_fields = fields

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
