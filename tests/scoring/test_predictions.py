"""Predictive scores through the database: training, versions, activation and rollback, prediction in every rescore,
"not enough history", smart-signal proposals, the command, the admin pages and the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Account, Contact, JourneyStage, StageTransition
from scoring import predictions, services
from scoring.choices import PredictionStatus, ProposalStatus
from scoring.ml.features import FeatureSpace
from scoring.ml.history import DAY
from scoring.ml.synthetic import synthetic_history
from scoring.models import AccountPrediction, PredictionSettings, PredictiveModel, SignalRule, SmartSignalProposal
from signals_app.models import IngestionSource, Signal, SignalTopic, SignalType

pytestmark = pytest.mark.django_db


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), tz=UTC)


def world_write(*, accounts: int = 100, weeks: int = 20, seed: int = 7) -> datetime:
    """Write a synthetic history to the database; return the moment just after its end ("now")."""
    start = timezone.now().timestamp() - (weeks * 7 + 2) * DAY
    h = synthetic_history(accounts=accounts, weeks=weeks, seed=seed, start=start)
    stages = {s.key: s for s in JourneyStage.objects.all()}
    types = [SignalType.objects.get_or_create(key=k, defaults={"label": lbl})[0]
             for k, lbl in zip(h.type_keys, h.type_labels, strict=True)]  # fmt: skip
    topics = [SignalTopic.objects.get_or_create(key=k, defaults={"label": lbl})[0]
              for k, lbl in zip(h.topic_keys, h.topic_labels, strict=True)]  # fmt: skip
    rows = Account.objects.bulk_create(
        [
            Account(
                external_id=f"syn-{i}",
                name=f"Syn {i}",
                created_at=_dt(h.created[i]),
                employees=None if np.isnan(h.employees[i]) else int(h.employees[i]),
                industry=h.industry[i] or "",
            )
            for i in range(h.n)
        ]  # fmt: skip
    )
    ids = [a.pk for a in rows]
    last: dict[int, object] = {}
    moves = []
    for a, s, t, m in zip(h.tr_account, h.tr_stage, h.tr_time, h.tr_movement, strict=True):
        to = stages[h.stage_keys[s]]
        moves.append(StageTransition(account_id=ids[a], from_stage=last.get(a), to_stage=to, changed_at=_dt(t),
                                     movement=m))  # fmt: skip
        last[a] = to
    StageTransition.objects.bulk_create(moves)
    for a, to in last.items():
        Account.objects.filter(pk=ids[a]).update(stage=to)
    source = IngestionSource.objects.create(name="synthetic")
    Signal.objects.bulk_create(
        [Signal(account_id=ids[a], type=types[ty], topic=topics[tp] if tp >= 0 else None, direction="inbound",
                source="product", occurred_at=_dt(t), ingestion_source=source, idempotency_key=f"s{i}")
         for i, (a, ty, tp, t) in enumerate(zip(h.ev_account, h.ev_type, h.ev_topic, h.ev_time, strict=True))],
        batch_size=5000,
    )  # fmt: skip
    return _dt(h.data_end + DAY)


@pytest.fixture
def world(db):
    return world_write()


@pytest.fixture
def trained(world):
    report = predictions.models_train(now=world, rescore=False)
    return world, report


def test_training_stores_an_active_version_per_outcome_with_its_metrics(trained):
    now, report = trained
    assert set(report.trained) == {"conversion", "expansion", "churn"}
    for model in report.trained.values():
        assert model.is_active and model.version == 1
        assert model.family in ("logistic", "gradient_boosting", "compact", "blend")
        assert set(model.comparison) == {"logistic", "gradient_boosting", "compact", "blend"}
        for key in ("roc_auc", "pr_auc", "brier", "base_rate", "positives", "negatives"):
            assert key in model.metrics
        assert model.train_from < model.train_to < model.validate_from <= model.validate_to < now
        assert model.impact and model.impact[0]["impact"] >= model.impact[-1]["impact"]
        assert model.calibration and model.lift
    churn = report.trained["churn"]
    assert 0 <= churn.metrics["roc_auc"] <= 1  # quality: test_ml_core on a larger world, and bench/ml_eval.py


def test_a_second_training_is_a_new_version_and_rollback_goes_back(trained):
    now, _ = trained
    second = predictions.models_train(now=now, outcomes=("churn",), rescore=False).trained["churn"]
    assert second.version == 2
    assert "previous" in second.impact[0] and second.impact[0]["previous"] is not None
    predictions.predictive_model_activate(model=second, rescore=False)
    back = predictions.predictive_model_rollback(outcome="churn")
    assert back.version == 1
    assert list(PredictiveModel.objects.filter(outcome="churn", is_active=True).values_list("version", flat=True)) == [
        1
    ]


def test_every_rescore_predicts_with_the_active_models_and_says_why(trained):
    now, _ = trained
    stats = services.accounts_rescore(account_ids=Account.objects.values_list("pk", flat=True), now=now)
    assert stats.accounts == Account.objects.count() == AccountPrediction.objects.count()
    paying = AccountPrediction.objects.filter(account__stage__kind="paying")
    rows = list(paying.filter(churn_status=PredictionStatus.OK).order_by("-churn"))
    assert rows and all(0 < r.churn <= 1 for r in rows)
    entries = [r.reasons["churn"] for r in rows]
    assert all(e["model_version"] == 1 for e in entries)
    assert any(e["up"] for e in entries) and any(e["down"] for e in entries)
    assert all(isinstance(r["text"], str) and r["effect"] > 0 for e in entries for r in e["up"])
    # Every entry says where its reasons start from (a typical account), so they add up to the probability shown.
    from scoring.reasons import reason_breakdown

    for e in entries:
        assert 0 < e["typical"] < 1
        b = reason_breakdown(e)
        assert round(b.typical + sum(points for _, points in b.lines), 1) == b.total == round(100 * e["probability"], 1)
    row = rows[0]
    assert row.conversion is None and row.conversion_status == PredictionStatus.NOT_APPLICABLE
    free = AccountPrediction.objects.filter(account__stage__kind="free", conversion_status=PredictionStatus.OK)
    assert free.exists()
    assert row.health in ("good", "normal", "bad") and row.health_since == now


def test_a_rescore_cannot_swing_a_probability_and_health_keeps_its_since(trained):
    now, _ = trained
    ids = list(Account.objects.values_list("pk", flat=True))
    services.accounts_rescore(account_ids=ids, now=now)
    first = dict(AccountPrediction.objects.values_list("account_id", "churn"))
    since = dict(AccountPrediction.objects.values_list("account_id", "health_since"))
    # a burst of support tickets for every account an hour later
    source = IngestionSource.objects.get(name="synthetic")
    ticket = SignalType.objects.get(key="support-ticket-opened")
    Signal.objects.bulk_create([
        Signal(account_id=a, type=ticket, direction="inbound", source="product", ingestion_source=source,
               occurred_at=now + timedelta(minutes=30 + k), idempotency_key=f"burst-{a}-{k}")
        for a in ids for k in range(5)
    ])  # fmt: skip
    later = now + timedelta(hours=1)
    services.accounts_rescore(account_ids=ids, now=later)
    settings = PredictionSettings.load()
    for a, churn, raw in AccountPrediction.objects.values_list("account_id", "churn", "churn_raw"):
        if churn is None or first[a] is None:
            continue
        assert abs(churn - first[a]) <= settings.smoothing_max_step + 1e-6
        assert abs(churn - first[a]) <= abs(raw - first[a]) + 1e-6  # moved towards the raw value, not past it
    unchanged = AccountPrediction.objects.filter(health_since=now)
    assert unchanged.count() >= 1 and all(since[r.account_id] == now for r in unchanged)


def test_below_the_minimum_history_the_outcome_says_what_is_missing(world):
    StageTransition.objects.filter(movement="expansion").exclude(
        pk__in=list(StageTransition.objects.filter(movement="expansion").values_list("pk", flat=True)[:2])
    ).delete()
    report = predictions.models_train(now=world, rescore=False)
    assert "expansion" in report.skipped and "2 past expansions recorded, 5 needed" in report.skipped["expansion"]
    ids = list(Account.objects.filter(stage__key="starter").values_list("pk", flat=True)[:5])
    services.accounts_rescore(account_ids=ids, now=world)
    row = AccountPrediction.objects.get(account_id=ids[0])
    assert row.expansion is None and row.expansion_status == PredictionStatus.NOT_ENOUGH_HISTORY
    assert "3 more" in row.reasons["expansion"]["message"]


def test_without_any_model_the_rescore_still_writes_a_status(world):
    ids = list(Account.objects.values_list("pk", flat=True)[:10])
    services.accounts_rescore(account_ids=ids, now=world)
    statuses = set(AccountPrediction.objects.values_list("churn_status", flat=True))
    assert statuses <= {PredictionStatus.NO_MODEL, PredictionStatus.NOT_APPLICABLE}
    row = AccountPrediction.objects.filter(churn_status=PredictionStatus.NO_MODEL).first()
    assert "train_models" in row.reasons["churn"]["message"]


def test_proposals_are_stored_once_and_confirming_makes_a_rule_the_rescore_uses(trained):
    now, report = trained
    assert report.proposals > 0
    count = SmartSignalProposal.objects.count()
    predictions.models_train(now=now, rescore=False)
    assert SmartSignalProposal.objects.count() == count  # the same ideas are updated, not duplicated
    proposal = SmartSignalProposal.objects.filter(outcome="churn").order_by("-lift_low").first()
    assert proposal.lift_low > 1 and proposal.support >= proposal.positives > 0
    predictions.proposal_confirm(proposal=proposal)
    proposal.refresh_from_db()
    rule = proposal.signal_rule
    assert proposal.status == ProposalStatus.CONFIRMED and rule.conditions == proposal.conditions
    assert "lift" in rule.description
    services.accounts_rescore(account_ids=Account.objects.values_list("pk", flat=True), now=now)
    assert rule.hits.exists()  # the rescore evaluates the new rule
    with pytest.raises(predictions.ProposalError, match="already confirmed"):
        predictions.proposal_confirm(proposal=proposal)
    other = SmartSignalProposal.objects.filter(status=ProposalStatus.PROPOSED).first()
    predictions.proposal_reject(proposal=other)
    other.refresh_from_db()
    assert other.status == ProposalStatus.REJECTED and other.signal_rule is None
    before = SignalRule.objects.count()
    predictions.models_train(now=now, rescore=False)
    other.refresh_from_db()
    assert other.status == ProposalStatus.REJECTED and SignalRule.objects.count() == before


def test_train_models_command_reports_each_outcome(world, capsys):
    call_command("train_models", "--no-rescore", verbosity=0)
    out = capsys.readouterr().out
    assert "churn: v1" in out and "ROC AUC" in out


def test_scores_changed_reports_probabilities_and_health_before_and_after(trained, django_capture_on_commit_callbacks):
    from scoring.hooks import scores_changed

    now, _ = trained
    heard: list[dict] = []

    def listen(sender, changes, **kwargs):
        heard.extend(changes)

    scores_changed.connect(listen)
    try:
        ids = list(Account.objects.filter(stage__kind="paying").values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            services.accounts_rescore(account_ids=ids, now=now)
        first = {c["account"]: c for c in heard}
        assert first and all(c["before"] is None for c in first.values())
        change = next(c for c in first.values() if c["after"]["churn_probability"] is not None)
        assert change["after"]["health"] in ("good", "normal", "bad")
        assert change["after"]["conversion_probability"] is None  # paying accounts do not convert
        heard.clear()
        PredictionSettings.objects.create(pk=1, smoothing_half_life_hours=0, smoothing_max_step=1)  # no smoothing
        AccountPrediction.objects.filter(account_id=change["account"]).update(churn=0.99, health="bad")
        with django_capture_on_commit_callbacks(execute=True):
            services.accounts_rescore(account_ids=[change["account"]], now=now + timedelta(hours=1))
        again = heard[0]
        assert again["before"]["churn_probability"] == 0.99 and again["before"]["health"] == "bad"
        assert again["after"]["churn_probability"] == round(change["after"]["churn_probability"], 2)
    finally:
        scores_changed.disconnect(listen)


def test_admin_model_page_shows_metrics_charts_and_activates_and_rolls_back(trained, admin_client):
    now, _ = trained
    second = predictions.models_train(now=now, outcomes=("churn",), rescore=False).trained["churn"]
    PredictiveModel.objects.filter(pk=second.pk).update(is_active=False)
    first = PredictiveModel.objects.get(outcome="churn", version=1)
    url = f"/admin/scoring/predictivemodel/{second.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "ROC AUC" in page and "Calibration plot" in page and "Lift chart" in page and "Impact chart" in page
    assert "Activate this version" in page
    assert admin_client.post(url, {"_activate": "1"}).status_code == 302
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.is_active and not first.is_active
    page = admin_client.get(url).content.decode()
    assert "Roll back to the previous version" in page
    admin_client.post(url, {"_rollback": "1"})
    first.refresh_from_db()
    assert first.is_active
    listing = admin_client.get("/admin/scoring/predictivemodel/").content.decode()
    assert "Churn v2" in listing


def test_admin_confirms_and_rejects_proposals(trained, admin_client):
    proposals = list(SmartSignalProposal.objects.order_by("pk")[:2])
    url = "/admin/scoring/smartsignalproposal/"
    assert proposals[0].title in admin_client.get(url).content.decode()
    admin_client.post(url, {"action": "confirm_as_signal_rule", "_selected_action": [proposals[0].pk]})
    admin_client.post(url, {"action": "reject", "_selected_action": [proposals[1].pk]})
    proposals[0].refresh_from_db()
    proposals[1].refresh_from_db()
    assert proposals[0].status == ProposalStatus.CONFIRMED and proposals[0].signal_rule is not None
    assert proposals[1].status == ProposalStatus.REJECTED
    response = admin_client.post(url, {"action": "reject", "_selected_action": [proposals[1].pk]}, follow=True)
    assert "already rejected" in response.content.decode()


def test_admin_account_prediction_page_shows_reasons(trained, admin_client):
    now, _ = trained
    services.accounts_rescore(account_ids=Account.objects.values_list("pk", flat=True), now=now)
    row = AccountPrediction.objects.filter(churn_status=PredictionStatus.OK).first()
    page = admin_client.get(f"/admin/scoring/accountprediction/{row.pk}/change/").content.decode()
    assert "Why this health" in page and "Effect" in page
    assert admin_client.get("/admin/scoring/accountprediction/?health=bad").status_code == 200
    assert admin_client.get("/admin/scoring/predictionsettings/add/").status_code == 200


def test_every_proposal_is_a_valid_signal_rule(trained):
    from scoring.conditions import compile_conditions

    proposals = list(SmartSignalProposal.objects.all())
    assert proposals
    for proposal in proposals:
        compile_conditions(proposal.conditions)  # raises on anything the rule language does not know
        assert proposal.lift_low <= proposal.lift <= proposal.lift_high
        assert proposal.evidence["horizon_days"] == 30 and proposal.evidence["model_version"] == 1


def test_an_engagement_rule_proposal_needs_one_signal_type(trained):
    single = next(
        (p for p in SmartSignalProposal.objects.all()
         if len(p.conditions["conditions"]) == 1 and "signal" in p.conditions["conditions"][0]
         and p.conditions["conditions"][0]["signal"].get("type")),
        None,
    )  # fmt: skip
    pair = next((p for p in SmartSignalProposal.objects.all() if len(p.conditions["conditions"]) == 2), None)
    if pair is not None:
        with pytest.raises(predictions.ProposalError, match="one signal type"):
            predictions.proposal_confirm(proposal=pair, as_engagement_rule=True)
    if single is not None:
        from scoring.models import EngagementRule

        EngagementRule.objects.filter(signal_type__key=single.conditions["conditions"][0]["signal"]["type"]).delete()
        predictions.proposal_confirm(proposal=single, as_engagement_rule=True, points=7)
        single.refresh_from_db()
        assert single.engagement_rule.points == 7 and single.status == ProposalStatus.CONFIRMED
    assert pair is not None or single is not None


def test_the_weekly_task_trains_and_is_scheduled(world, settings):
    from scoring.tasks import train_models

    assert settings.CELERY_BEAT_SCHEDULE["train-models-weekly"]["task"] == "scoring.tasks.train_models"
    result = train_models.apply().get()
    assert result["churn"] == "v1 (active)" and result["conversion"] == "v1 (active)"
    assert PredictiveModel.objects.filter(is_active=True).count() == 3


def test_probabilities_are_kept_in_score_history_for_trends(trained):
    from scoring.models import ScoreHistory, ScoringSettings

    now, _ = trained
    # Scores that cannot move in five minutes: no decaying default weight (it could move one by 0.01 by rounding).
    ScoringSettings.objects.filter(pk=1).update(default_points=0)
    ids = list(Account.objects.filter(stage__kind="paying").values_list("pk", flat=True))
    services.accounts_rescore(account_ids=ids, now=now)
    rows = {r.account_id: r for r in ScoreHistory.objects.filter(account_id__in=ids, computed_at=now)}
    predicted = dict(AccountPrediction.objects.filter(account_id__in=ids).values_list("account_id", "churn"))
    assert rows and all(rows[a].churn == predicted[a] for a in rows)
    assert any(r.churn is not None for r in rows.values())
    # The probability moves while the scores do not: the account gets a row of its own at that rescore, with its
    # current scores; accounts where nothing moved get none.
    account = next(a for a, r in rows.items() if r.churn is not None)
    PredictionSettings.objects.create(pk=1, smoothing_half_life_hours=0, smoothing_max_step=1)  # no smoothing
    AccountPrediction.objects.filter(account_id=account).update(churn=0.99)
    later = now + timedelta(minutes=5)
    services.accounts_rescore(account_ids=ids, now=later)
    fresh = ScoreHistory.objects.filter(computed_at=later)
    assert list(fresh.values_list("account_id", flat=True)) == [account]
    row = fresh.get()
    assert row.churn == AccountPrediction.objects.get(account_id=account).churn != 0.99
    assert row.lead == rows[account].lead
    services.accounts_rescore(account_ids=ids, now=later)  # retried with the same clock: nothing added
    assert ScoreHistory.objects.filter(computed_at=later).count() == 1


def test_the_live_scorecard_becomes_features_in_training_and_prediction_alike(world):
    """The scorecard's own scores at the time are features: the live fit rules and engagement rules reach them."""
    from scoring.ml.features import features_at
    from scoring.models import EngagementRule, FitRule

    FitRule.objects.all().delete()
    FitRule.objects.create(label="Software", field="industry", operator="in", value=["software"], points=40)
    FitRule.objects.create(label="A VP", field="contact.title", operator="contains", value="VP", points=15)
    login = SignalType.objects.get(key="login")
    EngagementRule.objects.update_or_create(signal_type=login, defaults={"points": 2, "half_life_days": 10, "cap": 50})
    spec = predictions.scorecard_spec()
    assert spec.engagement["login"] == (2.0, 10.0, None, 50.0)
    assert ("industry", "in", ["software"], 40.0) in spec.fit_rules
    account = Account.objects.filter(industry="Software").first() or Account.objects.first()
    Account.objects.filter(pk=account.pk).update(industry="Software")
    Contact.objects.create(
        account=account, email="vp@example.com", title="VP Sales", created_at=world - timedelta(days=3)
    )
    h = predictions.history_load(account_ids=[account.pk], since=world - timedelta(days=365), now=world, scorecard=spec)
    space = FeatureSpace.from_history(h)
    col = space.index
    x_now = features_at(h, space, world.timestamp(), np.array([0]))
    x_before = features_at(h, space, (world - timedelta(days=5)).timestamp(), np.array([0]))
    assert x_now[0, col["measure:fit_score"]] == 55  # the industry and the VP known now
    assert x_before[0, col["measure:fit_score"]] == 40  # the VP was not known five days before
    logins = Signal.objects.filter(account=account, type=login, occurred_at__lt=world)
    if logins.exists():
        assert x_now[0, col["measure:engagement_score"]] > 0
    assert x_now[0, col["measure:lead_score"]] == pytest.approx(
        min(100, 55 + x_now[0, col["measure:engagement_score"]])
    )


def test_history_of_the_past_gets_the_probabilities_of_what_was_known_then(trained):
    """score_history_backfill puts the active models' probabilities into the past rows: for a moment, exactly the
    probability the model gives the features of that cut-off (later signals and movements change nothing)."""
    from scoring.ml.features import features_at
    from scoring.ml.labels import eligible_at
    from scoring.models import ScoreHistory
    from scoring.services import score_history_backfill

    now, _report = trained
    at = now - timedelta(days=21)
    assert score_history_backfill(moments=[at]) > 0
    rows = {a: (c, e, ch) for a, c, e, ch in ScoreHistory.objects.filter(computed_at=at).values_list(
        "account_id", "conversion", "expansion", "churn")}  # fmt: skip
    assert any(c is not None for c, _e, _ch in rows.values()) and any(ch is not None for *_x, ch in rows.values())

    # the same number, computed by hand from a history that ends at the moment
    churn = predictions.active_models()["churn"]
    h = predictions.history_load(account_ids=sorted(rows), since=at - timedelta(days=365), now=at,
                                 scorecard=predictions.scorecard_spec())  # fmt: skip
    idx = eligible_at(h, "churn", at.timestamp())
    expected = churn.model.predict(features_at(h, churn.space, at.timestamp(), idx))
    got = [rows[a][2] for a in h.account_ids[idx].tolist()]
    assert got == pytest.approx(expected.tolist(), abs=1e-4)
    # accounts churn does not apply to then (not paying at that moment) have none
    paying_then = set(h.account_ids[idx].tolist())
    assert all(ch is None for a, (_c, _e, ch) in rows.items() if a not in paying_then)


def test_history_backfill_at_now_equals_the_live_probabilities(trained):
    """Issue 11 item 1, probabilities: a backfill at the rescore's moment gives every account the probabilities the
    live rescore stores then (no previous value to smooth against: the first value is the model's own)."""
    from scoring.models import ScoreHistory
    from scoring.services import score_history_backfill

    now, _report = trained
    assert not AccountPrediction.objects.exists()
    fields = ("account_id", "fit", "engagement", "lead", "signal_strength", "conversion", "expansion", "churn")
    assert score_history_backfill(moments=[now]) == Account.objects.count()
    backfilled = set(ScoreHistory.objects.filter(computed_at=now).values_list(*fields))
    ScoreHistory.objects.all().delete()
    services.accounts_rescore_all(now=now)
    live = set(ScoreHistory.objects.filter(computed_at=now).values_list(*fields))
    assert backfilled == live
    assert any(row[-1] is not None for row in live) and any(row[-3] is not None for row in live)
