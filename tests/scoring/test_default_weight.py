"""A customer's own event names count from day one: types without an engagement rule take the scorecard's default
weight (inbound signals only), say so in the explanation, and give way to a rule of their own."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account
from scoring.models import AccountScore, EngagementRule, ScoringSettings, SignalRule, SmartSignalProposal
from scoring.predictions import ProposalError, proposal_confirm, scorecard_spec
from scoring.scorecard import scorecard_load
from scoring.services import accounts_rescore, accounts_rescore_all
from signals_app.importing import import_csv_stream
from signals_app.models import SignalType
from tests.factories import AccountFactory, SignalTypeFactory

from .factories import NOW, EngagementRuleFactory, signal

pytestmark = pytest.mark.django_db


def engagement_lines(account) -> list[tuple[str, str, float]]:
    score = AccountScore.objects.get(account=account)
    return [(line["source"], line["label"], line["points"]) for line in score.contributions["engagement"]]


def snake_case_world(days: int = 20) -> str:
    """signals.csv of a product that names its events the Segment way, never seen by Klearly's defaults (the last
    ``days`` days)."""
    rows = ["message_id,account_external_id,type,direction,source,occurred_at"]
    today = timezone.now().replace(microsecond=0)
    for a in range(3):
        for d in range(days):
            at = (today - timedelta(days=d, hours=1)).isoformat()
            for event in ("feature_used", "report_exported", "pricing_page_view"):
                rows.append(f"{a}-{d}-{event},acct-{a},{event},inbound,product,{at}")
        rows.append(f"{a}-mail,acct-{a},sales_email_sent,outbound,sales,{today.isoformat()}")
    return "\n".join(rows) + "\n"


def test_an_imported_world_of_snake_case_events_has_engagement_everywhere(card, django_capture_on_commit_callbacks):
    accounts = import_csv_stream(
        kind="accounts", stream=io.StringIO("external_id,name\nacct-0,A\nacct-1,B\nacct-2,C\n")
    )
    assert accounts.created == 3
    report = import_csv_stream(kind="signals", stream=io.StringIO(snake_case_world()))
    assert report.failed == 0
    with django_capture_on_commit_callbacks(execute=True):
        accounts_rescore_all()  # as the nightly rescore (and `manage.py rescore`) does, default rules first
    scores = dict(AccountScore.objects.values_list("account__external_id", "engagement"))
    assert set(scores) == {"acct-0", "acct-1", "acct-2"}
    assert all(value > 0 for value in scores.values()), scores
    # "pricing_page_view" is the type the default scorecard knows ("pricing-page-view"): its own rule applies.
    pricing = SignalType.objects.get(key="pricing-page-view")
    assert EngagementRule.objects.filter(signal_type=pricing).exists()
    lines = engagement_lines(Account.objects.get(external_id="acct-0"))
    labels = [label for _, label, _ in lines]
    assert any(label.startswith("Pricing page view × 20") for label in labels)
    assert ("default_weight", "Other activity: Feature used × 20 (capped at 10)", 10.0) in lines
    assert not any("Sales email sent" in label for label in labels)  # sent by us: not the account's engagement


def test_default_weight_counts_inbound_signals_decayed_and_capped(card):
    kind = SignalTypeFactory(key="feature-used", label="Feature used")
    account = AccountFactory()
    signal(account, kind, 0)
    signal(account, kind, 30)  # one half-life old: half a point
    signal(account, kind, 0, direction="outbound")  # what we did, not what the account did
    accounts_rescore(account_ids=[account.pk], now=NOW)
    assert engagement_lines(account) == [("default_weight", "Other activity: Feature used × 2", 1.5)]
    assert AccountScore.objects.get(account=account).engagement == 1.5

    card.default_points, card.default_cap = 4, 5
    card.save()
    accounts_rescore(account_ids=[account.pk], now=NOW)
    assert engagement_lines(account) == [("default_weight", "Other activity: Feature used × 2 (capped at 5)", 5.0)]


def test_a_rule_of_its_own_replaces_the_default_and_a_rule_switched_off_counts_nothing(card):
    kind = SignalTypeFactory(key="feature-used", label="Feature used")
    account = AccountFactory()
    signal(account, kind, 0)
    rule = EngagementRuleFactory(signal_type=kind, points=7, half_life_days=None)
    accounts_rescore(account_ids=[account.pk], now=NOW)
    assert engagement_lines(account) == [("engagement_rule", "Feature used × 1", 7.0)]
    rule.is_active = False
    rule.save()
    accounts_rescore(account_ids=[account.pk], now=NOW)
    assert engagement_lines(account) == []


def test_no_default_weight_when_the_setting_is_zero(card):
    card.default_points = 0
    card.save()
    account = AccountFactory()
    signal(account, SignalTypeFactory(), 0)
    accounts_rescore(account_ids=[account.pk], now=NOW)
    assert AccountScore.objects.get(account=account).engagement == 0


def test_the_ml_scorecard_counts_default_weighted_types_the_account_does_not_ones_we_send(card):
    inbound = SignalTypeFactory(key="feature-used", default_direction="inbound")
    outbound = SignalTypeFactory(key="sales-email-sent", default_direction="outbound")
    spec = scorecard_spec(scorecard_load())
    assert spec.engagement["feature-used"] == (1.0, 30.0, None, 10.0)
    assert "sales-email-sent" not in spec.engagement
    assert inbound.pk and outbound.pk


def test_a_smart_signal_about_a_snake_case_type_becomes_its_engagement_rule(card):
    kind = SignalTypeFactory(key="feature-used", label="Feature used")
    account = AccountFactory()
    signal(account, kind, 0)
    proposal = SmartSignalProposal.objects.create(
        outcome="conversion", title="Feature used at least 3 times in 30 days",
        conditions={"match": "all", "conditions": [
            {"signal": {"type": "feature_used"}, "window_days": 30, "op": "at_least", "count": 3}]},
        fingerprint="fp", support=50, accounts=20, positives=10, precision=0.2, base_rate=0.05, lift=4, lift_low=2,
        lift_high=6, created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    proposal_confirm(proposal=proposal, as_engagement_rule=True, points=6)
    assert EngagementRule.objects.get(signal_type=kind).points == 6
    accounts_rescore(account_ids=[account.pk], now=NOW)
    assert engagement_lines(account) == [("engagement_rule", "Feature used × 1", 6.0)]
    with pytest.raises(ProposalError):
        proposal_confirm(proposal=proposal, as_engagement_rule=True)


def test_rule_conditions_name_a_type_however_it_is_written(card):
    from scoring.rules import rule_hits_evaluate

    kind = SignalTypeFactory(key="pricing-page-view")
    account = AccountFactory()
    for _ in range(3):
        signal(account, kind, 1)
    rule = SignalRule.objects.create(
        name="Pricing thrice",
        conditions={"match": "all", "conditions": [
            {"signal": {"type": "pricing_page_view"}, "window_days": 7, "op": "at_least", "count": 3}]},
    )  # fmt: skip
    accounts_rescore(account_ids=[account.pk], now=NOW)
    rule_hits_evaluate(account_ids=[account.pk], now=NOW)
    assert rule.hits.filter(account=account, cleared_at__isnull=True).exists()


def test_the_settings_are_tunable_in_the_admin(admin_client):
    page = admin_client.get("/admin/scoring/scoringsettings/1/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Signal types without an engagement rule" in html and "default points per signal" in html.lower()
    assert ScoringSettings.load().default_points == 1
