"""The pure ML core over tiny NumPy histories: point in time, labels, time split, training, reasons, mining, steadiness."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.ml import explain, mining, steady
from scoring.ml.features import LEGACY_MEASURES, FeatureSpace, features_at
from scoring.ml.history import DAY, History
from scoring.ml.labels import cutoffs_weekly, eligible_at, examples_build, labels_at
from scoring.ml.scores import ScorecardSpec
from scoring.ml.synthetic import synthetic_history
from scoring.ml.training import BlendModel, CalibratedModel, NotEnoughHistory, fit, time_split, train_outcome

T0 = 1_700_000_000.0


def tiny(extra_events: list[tuple[int, int, float]] = (), extra_moves=(), extra_hits=()) -> History:
    """Two accounts: 0 a trial that looks at pricing and converts on day 20; 1 a paying one that churns on day 25."""
    events = [(0, 1, T0 + 1 * DAY), (0, 1, T0 + 5 * DAY), (0, 0, T0 + 6 * DAY), (1, 0, T0 + 2 * DAY)]
    events += list(extra_events)
    moves = [(0, 0, T0 - 10 * DAY, "entry"), (1, 1, T0 - 10 * DAY, "entry"), (0, 1, T0 + 20 * DAY, "conversion"),
             (1, 2, T0 + 25 * DAY, "churn"), *extra_moves]  # fmt: skip
    hits = [(1, 0, T0 + 3 * DAY, np.inf), *extra_hits]
    return History(
        account_ids=[10, 11],
        created=[T0 - 30 * DAY, T0 - 30 * DAY],
        employees=[40, np.nan],
        revenue=[np.nan, 1e6],
        industry=["Software", ""],
        country=["DE", "FR"],
        type_keys=["login", "pricing-page-view"],
        type_labels=["Login", "Pricing page view"],
        topic_keys=[],
        topic_labels=[],
        ev_account=[e[0] for e in events],
        ev_type=[e[1] for e in events],
        ev_time=[e[2] for e in events],
        ev_contact=[100 + e[0] for e in events],
        stage_keys=["trial", "starter", "churn", "corporate"],
        stage_labels=["Trial", "Starter", "Churn", "Corporate"],
        stage_kinds=["free", "paying", "churn", "paying"],
        stage_ranks=[0, 1, 0, 2],
        tr_account=[m[0] for m in moves],
        tr_stage=[m[1] for m in moves],
        tr_time=[m[2] for m in moves],
        tr_movement=[m[3] for m in moves],
        rule_names=["Expansion opportunity"],
        hit_account=[h[0] for h in hits],
        hit_rule=[h[1] for h in hits],
        hit_set=[h[2] for h in hits],
        hit_cleared=[h[3] for h in hits],
    )


def test_features_at_a_cutoff_read_only_what_happened_before_it():
    h = tiny()
    space = FeatureSpace.from_history(h)
    t = T0 + 10 * DAY
    before = features_at(h, space, t, np.array([0, 1]))
    later = tiny(
        extra_events=[(0, 1, T0 + 10 * DAY), (0, 1, T0 + 11 * DAY), (1, 0, T0 + 30 * DAY)],  # at and after t
        extra_moves=[(0, 2, T0 + 10 * DAY + 1, "churn")],
        extra_hits=[(0, 0, T0 + 10 * DAY, np.inf)],
    )
    after = features_at(later, FeatureSpace.from_history(later), t, np.array([0, 1]))
    np.testing.assert_array_equal(before, after)
    # and the features do see what came before: one signal more on day 9 changes them
    earlier = tiny(extra_events=[(0, 1, T0 + 9 * DAY)])
    assert not np.array_equal(before, features_at(earlier, FeatureSpace.from_history(earlier), t, np.array([0, 1])))


SCORECARD = ScorecardSpec(
    engagement={"pricing-page-view": (10.0, 7.0, None, 15.0), "login": (1.0, None, 30.0, None)},
    fit_rules=[("industry", "in", ["software"], 30.0), ("contact.title", "contains", "VP", 20.0),
               ("employees", "range", {"min": 10, "max": 49}, 10.0), ("traits.plan", "equals", "x", 50.0)],
    trend_recent_days=14.0,
)  # fmt: skip


def scored(extra_events=(), extra_moves=(), extra_hits=(), contacts=((0, T0 - 20 * DAY, "Engineer"),)) -> History:
    """``tiny`` with a scorecard and contacts (account, created, title)."""
    h = tiny(extra_events, extra_moves, extra_hits)
    h.scorecard = SCORECARD
    h.ct_account = np.array([c[0] for c in contacts], np.int64)
    h.ct_created = np.array([c[1] for c in contacts], np.float64)
    h.ct_fields = {"title": np.array([c[2] for c in contacts], dtype=object)}
    return h


def test_the_scorecards_scores_at_a_cutoff_are_point_in_time_too():
    t = T0 + 10 * DAY
    h = scored()
    space = FeatureSpace.from_history(h)
    before = features_at(h, space, t, np.array([0, 1]))
    later = scored(
        extra_events=[(0, 1, T0 + 10 * DAY), (0, 1, T0 + 11 * DAY), (1, 0, T0 + 30 * DAY)],
        extra_moves=[(0, 2, T0 + 10 * DAY + 1, "churn")],
        extra_hits=[(0, 0, T0 + 10 * DAY, np.inf)],
        contacts=[(0, T0 - 20 * DAY, "Engineer"), (0, T0 + 10 * DAY, "VP Sales"), (1, T0 + 12 * DAY, "VP")],
    )
    np.testing.assert_array_equal(before, features_at(later, FeatureSpace.from_history(later), t, np.array([0, 1])))
    # a VP known before t, a pricing view the day before and a stage change before t do count
    earlier = scored(extra_events=[(0, 1, T0 + 9 * DAY)], extra_moves=[(1, 3, T0 + 8 * DAY, "expansion")],
                     contacts=[(0, T0 - 20 * DAY, "Engineer"), (0, T0 + 9 * DAY, "VP Sales")])  # fmt: skip
    x = features_at(earlier, FeatureSpace.from_history(earlier), t, np.array([0, 1]))
    col = space.index
    for name in ("lead_score", "fit_score", "engagement_score", "signal_strength", "signals_per_day"):
        assert x[0, col[f"measure:{name}"]] > before[0, col[f"measure:{name}"]], name
    assert x[1, col["measure:stage_changes_per_year"]] > before[1, col["measure:stage_changes_per_year"]]


def test_the_scorecards_scores_are_its_arithmetic():
    h = scored()
    space = FeatureSpace.from_history(h)
    t = T0 + 10 * DAY
    x = features_at(h, space, t, np.array([0, 1]))
    col = space.index
    # account 0: Software (30) + 10–49 employees (10); the traits rule is not known to a history: left out
    assert x[0, col["measure:fit_score"]] == 40 and x[1, col["measure:fit_score"]] == 0
    # pricing views on days 1 and 5 (10 points, 7-day half-life: 9 and 5 days old), capped at 15; a login on day 6
    # (1 point, a 30-day window)
    pricing = min(10 * 0.5 ** (9 / 7) + 10 * 0.5 ** (5 / 7), 15)
    assert x[0, col["measure:engagement_score"]] == pytest.approx(pricing + 1, rel=1e-5)
    assert x[0, col["measure:lead_score"]] == pytest.approx(40 + pricing + 1, rel=1e-5)
    assert x[0, col["measure:signal_strength"]] == pytest.approx(21)  # undecayed points of the last 14 days
    assert x[1, col["measure:engagement_score"]] == pytest.approx(1)
    assert x[0, col["measure:signals_per_day"]] == pytest.approx(3 / 40)  # 3 signals over its 40 days
    assert x[0, col["measure:stage_changes_per_year"]] == 0  # its entry is no change
    assert space.columns[col["measure:lead_score"]].describe(72.4) == "Lead score 72 at the time"
    # without a scorecard: one point per signal, a 30-day half-life (the history has no engagement points)
    plain = tiny()
    y = features_at(plain, FeatureSpace.from_history(plain), t, np.array([0]))
    assert y[0, col["measure:engagement_score"]] == pytest.approx(sum(0.5 ** (a / 30) for a in (9, 5, 4)), rel=1e-5)


def test_the_fast_decay_is_the_engines():
    from scoring import engine
    from scoring.ml.scores import _decay

    rules = engine.EngagementRules.build(3, [(0, 5, 14, None, None), (1, 2, None, 30, None), (2, 1, None, None, None)])
    ev_type = np.array([0, 0, 1, 1, 2, 0])
    age = np.array([0.0, 14.0, 29.5, 30.5, 400.0, 100.0], dtype=np.float32)
    expected = engine.decay_factor(age, rules.half_life_days[ev_type], rules.window_days[ev_type])
    np.testing.assert_allclose(_decay(rules, ev_type, age), expected, rtol=1e-6)


def test_a_model_trained_before_the_new_measures_keeps_its_columns():
    h = scored()
    space = FeatureSpace.from_history(h)
    stored = space.to_json()
    assert stored["measure_keys"] == space.measure_keys and "lead_score" in space.measure_keys
    stored.pop("measure_keys")  # as a model stored before measure_keys existed
    old = FeatureSpace.from_json(stored)
    assert old.measure_keys == LEGACY_MEASURES and "measure:lead_score" not in old.index
    x = features_at(h, old, T0 + 10 * DAY, np.array([0, 1]))
    assert x.shape == (2, len(old.columns)) == (2, len(space.columns) - 6)


def test_features_say_what_the_account_did():
    h = tiny()
    space = FeatureSpace.from_history(h)
    x = features_at(h, space, T0 + 10 * DAY, np.array([0, 1]))
    col = space.index
    assert x[0, col["type:pricing-page-view:7d"]] == 1  # day 5 is within 7 days of day 10, day 1 is not
    assert x[0, col["type:pricing-page-view:30d"]] == 2
    assert x[0, col["stage:trial"]] == 1 and x[1, col["stage:starter"]] == 1
    assert x[1, col["rule:Expansion opportunity"]] == 1 and x[0, col["rule:Expansion opportunity"]] == 0
    assert x[0, col["measure:tenure_days"]] == pytest.approx(40)
    assert x[0, col["measure:active_users_30d"]] == 1
    assert x[0, col["measure:days_since_last_signal"]] == pytest.approx(4)
    assert np.isnan(x[1, col["measure:employees"]])
    assert x[0, col["industry:Software"]] == 1


def test_labels_follow_the_movement_within_the_horizon():
    h = tiny()
    t = T0 + 10 * DAY
    conv = eligible_at(h, "conversion", t)
    assert conv.tolist() == [0]
    assert labels_at(h, "conversion", t, conv, 30).tolist() == [1]
    assert labels_at(h, "conversion", t, conv, 5).tolist() == [0]  # day 20 is past a 5-day horizon
    assert eligible_at(h, "churn", t).tolist() == [1]  # churn is a paying customer's (account 0 is on a trial)
    assert labels_at(h, "churn", t, np.array([1]), 30).tolist() == [1]
    # after the conversion, account 0 is paying: no longer a conversion example, now an expansion one
    assert eligible_at(h, "conversion", T0 + 21 * DAY).tolist() == []
    assert eligible_at(h, "expansion", T0 + 21 * DAY).tolist() == [0, 1]  # starter, below corporate
    # and a churned account is in no outcome's examples
    assert 1 not in eligible_at(h, "churn", T0 + 26 * DAY).tolist()


def test_examples_and_the_time_split_never_mix_periods():
    h = synthetic_history(accounts=200, weeks=20, seed=1)
    space = FeatureSpace.from_history(h)
    cuts = cutoffs_weekly(h, horizon_days=14)
    assert cuts.max() + 14 * DAY <= h.data_end
    ex = examples_build(h, space, cuts, horizon_days=14)["churn"]
    split = time_split(ex, horizon_days=14)
    assert ex.t[split.fit].max() + 14 * DAY <= ex.t[split.calibrate].min()  # purged: fit labels end before
    assert ex.t[split.calibrate].max() + 14 * DAY <= ex.t[split.validate].min()
    assert not (split.fit & split.validate).any()


def test_sampling_keeps_the_base_rate_roughly():
    h = synthetic_history(accounts=300, weeks=20, seed=2)
    space = FeatureSpace.from_history(h)
    cuts = cutoffs_weekly(h, horizon_days=14)
    full = examples_build(h, space, cuts, horizon_days=14, outcomes=("churn",))["churn"]
    part = examples_build(h, space, cuts, horizon_days=14, outcomes=("churn",), max_examples=len(full.y) // 3)
    sample = part["churn"]
    assert len(sample.y) < len(full.y) * 0.45
    assert abs(sample.y.mean() - full.y.mean()) < 0.03


@pytest.fixture(scope="module")
def trained():
    h = synthetic_history(accounts=600, weeks=26, seed=3)
    space = FeatureSpace.from_history(h)
    cuts = cutoffs_weekly(h, horizon_days=21)
    ex = examples_build(h, space, cuts, horizon_days=21, outcomes=("churn",))["churn"]
    return h, space, ex, train_outcome(ex, horizon_days=21)


def test_training_compares_both_families_and_their_blend_and_keeps_the_best_calibrated(trained):
    _h, _space, ex, result = trained
    assert set(result.comparison) == {"logistic", "gradient_boosting", "blend"}
    best = max(result.comparison.values(), key=lambda m: m["pr_auc"])
    assert result.metrics == best
    assert result.metrics["roc_auc"] > 0.7  # churn follows logins and tickets in the synthetic world
    assert result.metrics["positives"] > 0 and result.metrics["negatives"] > 0
    p = result.model.predict(ex.x)
    assert ((p >= 0) & (p <= 1)).all()
    # calibrated: the mean probability is near the observed rate
    assert abs(p.mean() - ex.y.mean()) < 0.05
    assert len(result.calibration) == 10 and result.lift[0]["lift"] > 1.5
    again = CalibratedModel.from_bytes(result.model.to_bytes())
    np.testing.assert_allclose(again.predict(ex.x[:50]), p[:50], rtol=1e-6)


def test_the_compact_model_is_a_candidate_and_reads_only_measures(trained):
    _h, space, ex, _result = trained
    compact = space.compact()
    assert compact and all(space.columns[i].kind in ("measure", "field") for i in compact)
    result = train_outcome(ex, horizon_days=21, compact=compact)
    assert set(result.comparison) == {"logistic", "gradient_boosting", "compact", "blend"}
    assert result.comparison["compact"]["roc_auc"] > 0.6
    model = train_outcome(ex, horizon_days=21, compact=compact, families=("compact",)).model
    assert model.family == "compact"
    x = ex.x[:200].copy()
    p = model.predict(x)
    others = [i for i in range(x.shape[1]) if i not in set(compact)]
    x[:, others] = 7.0  # whatever the per-type, stage and rule columns say
    np.testing.assert_allclose(model.predict(x), p)
    x[:, compact[0]] += 50.0
    assert not np.allclose(model.predict(x), p)


def test_training_refuses_without_enough_positives():
    h = synthetic_history(accounts=60, weeks=10, seed=4)
    space = FeatureSpace.from_history(h)
    ex = examples_build(h, space, cutoffs_weekly(h, horizon_days=7), horizon_days=7, outcomes=("expansion",))
    ex["expansion"].y[:] = 0
    with pytest.raises(NotEnoughHistory, match="positive"):
        train_outcome(ex["expansion"], horizon_days=7)


def test_reasons_name_what_drives_the_probability_in_product_words(trained):
    _h, space, ex, result = trained
    impact = explain.impact(result.model, ex.x[-800:], result.baseline, space)
    assert impact[0]["label"] == "Login (signals)" and impact[0]["direction"] == "lowers"
    top = [r["group"] for r in impact[:8]]
    p, why = explain.reasons(result.model, ex.x[-400:], result.baseline, space, top)
    riskiest = np.argsort(-p)[:20]
    texts = [r["text"] for i in riskiest for r in why[i]["up"]]
    assert any(t.startswith("Login: ") for t in texts)
    assert all(r["effect"] > 0 for i in riskiest for r in why[i]["up"])
    assert all(r["effect"] < 0 for side in why for r in side["down"])


@pytest.mark.parametrize("family", ["logistic", "gradient_boosting", "compact", "blend"])
def test_effects_by_the_shortcut_equal_predicting_every_variant_in_full(trained, family):
    """Reasons re-walk only the trees that split on a group, and a linear model's change comes from the group's own
    columns, for the rows whose group is not typical already: the numbers must be those of predicting each account
    with each group set typical, in full."""
    _h, space, ex, _result = trained
    x, y = ex.x[:1500].copy(), ex.y[:1500]
    x[::7, 3] = np.nan  # a column with missing values: the logistic pipelines add an indicator column for it
    compact = [3, *range(10, 20)]
    fitted = {f: fit(f, x, y, seed=1, compact=compact) for f in ("logistic", "gradient_boosting", "compact")}
    for m in fitted.values():
        m.calibrate(ex.x[1500:2500], ex.y[1500:2500])
    model = BlendModel(list(fitted.values())) if family == "blend" else fitted[family]
    baseline = np.nanmedian(x, axis=0).astype(np.float32)
    names = list(explain.groups(space))
    rows = ex.x[-300:].copy()
    rows[::5, 3] = np.nan

    class Opaque:  # the same model behind a predict() the shortcut cannot see into
        def predict(self, x):
            return model.predict(x)

    p, effects = explain._effects(model, rows, baseline, space, names)
    p_full, effects_full = explain._effects(Opaque(), rows, baseline, space, names)
    # (scikit-learn's own path computes in the features' float32; the shortcut in float64: reasons keep 4 decimals)
    np.testing.assert_allclose(p, p_full, rtol=0, atol=1e-6)
    np.testing.assert_allclose(effects, effects_full, rtol=0, atol=1e-6)
    assert np.abs(effects).max() > 0.01  # the groups do move the probability: the comparison means something
    for m in fitted.values():  # the shortcut was taken, not the fallback
        assert explain._fast_raw(m, rows, baseline) is not None
    assert explain._columnwise_outputs(fitted["logistic"].model[:-1], x.shape[1])[3] == [3, x.shape[1]]


def test_impact_change_marks_signals_that_became_irrelevant():
    before = [{"group": "type:a", "label": "A", "impact": 0.05}, {"group": "type:b", "label": "B", "impact": 0.04}]
    now = [{"group": "type:a", "label": "A", "impact": 0.06}, {"group": "type:b", "label": "B", "impact": 0.0005}]
    rows = {r["group"]: r for r in explain.impact_change(now, before)}
    assert rows["type:a"]["change"] == pytest.approx(0.01) and not rows["type:a"]["irrelevant"]
    assert rows["type:b"]["became_irrelevant"] and rows["type:b"]["previous"] == 0.04


def test_mining_finds_the_planted_signal_with_its_evidence():
    h = synthetic_history(accounts=500, weeks=20, seed=5)
    space = FeatureSpace.from_history(h)
    ex = examples_build(h, space, cutoffs_weekly(h, horizon_days=14), horizon_days=14, outcomes=("conversion",))
    found = mining.candidates_mine(ex["conversion"], space)
    assert found
    assert any("Pricing page view" in c.title or "User invited" in c.title for c in found[:3])
    best = found[0]
    assert best.lift_low > 1.2 and best.lift_low <= best.lift <= best.lift_high
    assert best.rule["match"] == "all" and best.rule["conditions"]
    assert best.support >= 20 and best.accounts <= best.support


def test_wilson_interval():
    lo, hi = mining.wilson(5, 10)
    assert lo < 0.5 < hi and lo == pytest.approx(0.2366, abs=1e-3)
    assert mining.wilson(0, 0) == (0.0, 1.0)


def test_one_update_cannot_swing_a_probability_and_frequency_does_not_matter():
    once = steady.smooth(np.array([0.9]), np.array([0.1]), np.array([24.0]), half_life_hours=24, max_step=0.15)
    assert once[0] == pytest.approx(0.25)  # α = 0.5 would give 0.5; the step is capped
    # ten rescores six minutes apart move it as far as one an hour later (without the cap)
    p = np.array([0.1])
    for _ in range(10):
        p = steady.smooth(np.array([0.9]), p, np.array([0.1]), half_life_hours=24, max_step=1)
    one = steady.smooth(np.array([0.9]), np.array([0.1]), np.array([1.0]), half_life_hours=24, max_step=1)
    assert p[0] == pytest.approx(one[0])
    assert (
        steady.smooth(np.array([0.7]), np.array([np.nan]), np.array([0.0]), half_life_hours=24, max_step=0.1)[0] == 0.7
    )


def test_health_has_hysteresis():
    th = steady.HealthThresholds()
    churn = np.array([0.32, 0.25, 0.19, 0.10, 0.07, 0.12, 0.15])
    trend = np.ones(len(churn))
    bands, prev = [], None
    for c, t in zip(churn, trend, strict=True):
        prev = steady.health(np.array([c]), np.array([t]), [prev], th)[0]
        bands.append(prev)
    # bad from 0.32, still bad at 0.25 (not below the exit), normal at 0.19, good at 0.07, still good at 0.12
    assert bands == ["bad", "bad", "normal", "normal", "good", "good", "normal"]
    # a falling trend alone makes an account with some churn risk bad
    assert steady.health(np.array([0.15]), np.array([0.4]), [None], th)[0] == "bad"
    # no churn probability: the trend decides
    assert steady.health(np.array([np.nan]), np.array([0.2]), [None], th)[0] == "bad"


# --- the leakage guard (issue 11, item 4) -------------------------------------------------------------------------


def test_the_leakage_guard_lets_a_model_of_behaviour_through(trained):
    _h, _space, _ex, result = trained
    assert result.refused == ""
    assert 0.5 < result.leakage["horizon"]["roc_auc"] < 0.99


def test_a_column_that_tells_who_ever_makes_the_movement_is_refused(trained):
    """A field written when the account churned (a status): it is the answer for every cut-off of those accounts, not
    only within the horizon, so the model cannot validate at 1.0 on it, yet it is leakage."""
    from scoring.ml.labels import Examples

    _h, space, ex, _result = trained
    leak = ex.ever.astype(np.float32)[:, None]
    leaking = Examples(np.hstack([ex.x, leak]), ex.y, ex.t, ex.account, ex.ever)
    result = train_outcome(leaking, horizon_days=21, labels=[*space.labels, "Status is churned"])
    assert result.refused.startswith("Refused as probable leakage: “Status is churned” alone tells which accounts")
    assert result.leakage["ever"]["label"] == "Status is churned"


def test_a_validation_auc_too_good_to_be_true_is_refused(trained):
    from scoring.ml.labels import Examples

    _h, space, ex, _result = trained
    rng = np.random.default_rng(0)
    # two columns that together (not alone) give the answer away: each alone ranks the examples at ~0.85
    a = rng.normal(0, 1, len(ex.y))
    b = np.where(ex.y > 0, 2.0, 0.0) - a + rng.normal(0, 0.05, len(ex.y))
    x = np.hstack([ex.x, np.column_stack([a, b]).astype(np.float32)])
    result = train_outcome(Examples(x, ex.y, ex.t, ex.account, None), horizon_days=21, families=("logistic",))
    assert result.metrics["roc_auc"] >= 0.99
    assert "the validation ROC AUC is" in result.refused and "alone" not in result.refused


# --- imported fields (issue 11, item 5) -----------------------------------------------------------------------------


def traits_history(n: int = 60) -> History:
    """Leads (stage 0, free) of which the even ones convert (stage 1, paying); imported fields: a source, a number,
    a rare value, an id, a status that restates the stage, and a field carried by a contact created late."""
    converts = np.arange(n) % 2 == 0
    moves = [(a, 0, T0 - 50 * DAY, "entry") for a in range(n)]
    moves += [(a, 1, T0 + 10 * DAY, "conversion") for a in range(n) if converts[a]]
    source = ["Google" if a % 3 else "Referral" for a in range(n)]
    source[1] = "Carrier pigeon"  # held by one account: "another value"
    return History(
        account_ids=np.arange(n), created=np.full(n, T0 - 60 * DAY), employees=np.full(n, np.nan),
        revenue=np.full(n, np.nan), industry=[""] * n, country=[""] * n, type_keys=[], type_labels=[],
        topic_keys=[], topic_labels=[], ev_account=[], ev_type=[], ev_time=[],
        stage_keys=["lead", "customer"], stage_labels=["Lead", "Customer"], stage_kinds=["free", "paying"],
        stage_ranks=[0, 1], tr_account=[m[0] for m in moves], tr_stage=[m[1] for m in moves],
        tr_time=[m[2] for m in moves], tr_movement=[m[3] for m in moves],
        traits={
            "lead_source": source,
            "TotalVisits": [str(a % 7) if a % 5 else None for a in range(n)],
            "prospect_id": [f"p-{a}" for a in range(n)],
            "status": ["converted" if c else "open" for c in converts],
            "webinar": ["yes"] * n,
            "nested": [{"a": 1}] * n,
        },
        trait_since={"webinar": np.where(np.arange(n) < 30, T0 + 5 * DAY, np.nan)},
    )  # fmt: skip


def test_imported_fields_become_columns_chosen_from_their_frequencies():
    h = traits_history()
    space = FeatureSpace.from_history(h)
    assert space.trait_numeric == ["TotalVisits"] and space.trait_bands[0]
    assert dict(zip(space.trait_keys, space.trait_values, strict=True)) == {
        "lead_source": ["Google", "Referral"],
        "webinar": ["yes"],
    }  # fmt: skip  (an id has no value held by 5 accounts; a nested object is no feature)
    assert [k for k, _ in space.trait_left_out] == ["status"]  # it restates the stage: today's value, left out
    assert "Lead source is Google" in space.labels and "Total visits" in space.labels
    x = features_at(h, space, T0, np.arange(6))
    col = space.index
    assert x[0, col["trait:lead_source=Referral"]] == 1 and x[2, col["trait:lead_source=Google"]] == 1
    assert x[1, col["trait:lead_source|other"]] == 1  # a value without a column of its own
    assert np.isnan(x[5, col["trait:TotalVisits"]]) and x[4, col["trait:TotalVisits"]] == 4
    assert x[4, [i for i, c in enumerate(space.columns) if c.kind == "trait_band"]].sum() == 1
    # a contact's field counts from the contact's creation: unknown before it
    assert x[0, col["trait:webinar|missing"]] == 1 and x[0, col["trait:webinar=yes"]] == 0
    later = features_at(h, space, T0 + 6 * DAY, np.arange(1))
    assert later[0, col["trait:webinar=yes"]] == 1
    # stored and read back, a new value lands in "another value", a vanished field is unknown
    again = FeatureSpace.from_json(space.to_json())
    assert again.names == space.names
    h.traits["lead_source"][0] = "Bing"
    del h.traits["TotalVisits"]
    h._trait_codes.clear()
    x = features_at(h, again, T0, np.arange(1))
    assert x[0, col["trait:lead_source|other"]] == 1 and np.isnan(x[0, col["trait:TotalVisits"]])


def test_reasons_name_imported_fields_in_product_words():
    h = traits_history(200)
    space = FeatureSpace.from_history(h)
    x = features_at(h, space, T0, np.arange(h.n))
    y = (np.array(h.traits["lead_source"]) == "Referral").astype(int)
    model = fit("logistic", x, y)
    baseline = np.median(x, axis=0).astype(np.float32)
    names = [g for g in explain.groups(space) if g.startswith("trait:")]
    assert explain.group_label(space, "trait:lead_source") == "Lead source"
    _, why = explain.reasons(model, x[:6], baseline, space, names)
    texts = {r["text"] for w in why for side in ("up", "down") for r in w[side]}
    assert "Lead source is Referral" in texts


def test_imported_fields_that_do_not_help_on_unseen_accounts_are_left_out(trained):
    """A number per account that tells nothing (an id-like field) lets a model recognise the accounts it was fitted
    on; it is not kept unless it helps on accounts the model had not seen."""
    from scoring.ml.labels import Examples

    _h, space, ex, _result = trained
    noise = np.random.default_rng(1).normal(0, 1, 1000)[ex.account].astype(np.float32)[:, None]
    result = train_outcome(Examples(np.hstack([ex.x, noise]), ex.y, ex.t, ex.account, ex.ever), horizon_days=21,
                           optional_from=ex.x.shape[1])  # fmt: skip
    assert result.columns == ex.x.shape[1] and result.fields_note.startswith("left out: ")
    assert len(result.baseline) == ex.x.shape[1]
    assert result.model.predict(ex.x[:5]).shape == (5,)
