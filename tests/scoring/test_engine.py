"""The scoring arithmetic over tiny NumPy fixtures, and its properties (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import engine

RFP, VIDEO, PRICING = 0, 1, 2


def three_types(half_life: float = 30, cap: float | None = None) -> engine.EngagementRules:
    return engine.EngagementRules.build(3, [(t, 12.0, half_life, None, cap) for t in (RFP, VIDEO, PRICING)])


def test_the_classic_example_active_behaviour_outranks_latent_behaviour_with_the_same_raw_points():
    rules = three_types()
    # Account 0: an RFP download, a demo video and a pricing visit in the last ten days (36 raw points).
    # Account 1: the same 36 raw points spread thinly over six months.
    rows = engine.SignalRows(
        account=[0, 0, 0, 1, 1, 1],
        type=[RFP, VIDEO, PRICING, RFP, VIDEO, PRICING],
        age_days=[9, 5, 2, 175, 100, 20],
    )
    assert engine.raw_points(rows, rules)[:3].sum() == engine.raw_points(rows, rules)[3:].sum() == 36
    active, latent = engine.engagement(rows, rules, 2).score
    assert active > 30 and latent < 10
    assert active > 3 * latent


def test_a_window_counts_recent_signals_in_full_and_older_ones_not_at_all():
    rules = engine.EngagementRules.build(1, [(0, 4.0, None, 30, None)])
    rows = engine.SignalRows(account=[0, 0, 1], type=[0, 0, 0], age_days=[1, 30, 31])
    assert engine.engagement(rows, rules, 2).score.tolist() == [8.0, 0.0]


def test_caps_limit_points_per_type_and_topics_multiply():
    rules = engine.EngagementRules.build(2, [(0, 5.0, None, None, 12), (1, 2.0, None, None, None)])
    rows = engine.SignalRows(
        account=[0, 0, 0], type=[0, 1, 1], age_days=[0, 0, 0], count=[10, 1, 1], topic_multiplier=[1, 1.5, 1]
    )
    result = engine.engagement(rows, rules, 1)
    assert result.by_type.tolist() == [[12.0, 5.0]]
    assert result.score.tolist() == [17.0]


def test_engagement_and_lead_stay_within_0_and_100():
    rules = engine.EngagementRules.build(2, [(0, 80.0, None, None, None), (1, -50.0, None, None, None)])
    rows = engine.SignalRows(account=[0, 0, 1], type=[0, 0, 1], age_days=[0, 0, 0])
    score = engine.engagement(rows, rules, 2).score
    assert score.tolist() == [100.0, 0.0]
    assert engine.lead(np.array([70.0, 10.0]), score).tolist() == [100.0, 10.0]


def test_grades_and_temperatures_follow_the_bands():
    lead = np.array([80, 79.9, 60, 40, 39.9])
    assert engine.grades(lead, a_min=80, b_min=60, c_min=40).tolist() == ["A", "B", "B", "C", "D"]
    assert engine.temperatures(np.array([40, 39, 15, 14.9]), hot_min=40, warm_min=15).tolist() == [
        "hot", "warm", "warm", "cold",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "operator", "expected", "result"),
    [
        ("Software", "equals", "software", True),
        ("Software", "equals", "Fintech", False),
        (120, "equals", "120", True),
        ("DE", "in", ["de", "FR"], True),
        ("US", "in", ["DE", "FR"], False),
        (120, "range", {"min": 50, "max": 999}, True),
        (1000, "range", {"min": 50, "max": 999}, False),
        (20, "range", {"min": 50}, False),
        ("12.5", "range", {"max": 20}, True),
        ("not a number", "range", {"max": 20}, False),
        (None, "range", {"max": 20}, False),
        ("VP Sales", "contains", "vp", True),
        ("Engineer", "contains", "VP", False),
        (None, "missing", None, True),
        ("  ", "missing", None, True),
        ("x", "missing", None, False),
        (None, "equals", "x", False),
    ],
)
def test_fit_operators(value, operator, expected, result):
    assert engine.value_matches(value, operator, expected) is result


def test_fit_sums_rules_takes_penalties_and_reports_completeness():
    matches = np.array([[True, False, True], [True, True, False]])
    penalties = np.array([[10, 0, 0], [0, 0, 0], [5, 0, 5], [5, 0, 0]], dtype=float)
    key_missing = np.array([[True, False, True], [True, False, False]])
    result = engine.fit(np.array([30.0, -5.0]), matches, penalties, key_missing)
    assert result.score.tolist() == [5.0, 0.0, 25.0]
    assert result.completeness.tolist() == [0.0, 100.0, 50.0]
    assert (result.rule_points.sum(axis=0) + result.penalty_points.sum(axis=0)).tolist() == [5.0, -5.0, 25.0]


def test_data_quality_checks():
    assert engine.free_email(["a@Gmail.com", "b@acme.com", "", "nobody"], {"gmail.com"}).tolist() == [
        True, False, False, False,
    ]  # fmt: skip
    assert engine.has_no_vowel(["Xzqw", "Ada", "", "Brynn", "Øst", "-"]).tolist() == [
        True, False, False, False, False, False,
    ]  # fmt: skip
    assert engine.any_per_account(np.array([0, 0, 2]), np.array([False, True, True]), 3).tolist() == [True, False, True]


def test_segment_boosts_raise_signal_strength_of_members_within_their_window():
    rules = engine.EngagementRules.build(1, [(0, 5.0, 30, None, None)])
    rows = engine.SignalRows(account=[0, 0, 1, 1], type=[0, 0, 0, 0], age_days=[2, 10, 2, 10])
    boosts = engine.SegmentBoosts(type=[0], multiplier=[2.0], window_days=[7], members=[[True, False]])
    result = engine.signal_strength(
        rows, rules, boosts, 2, recent_days=14, baseline_days=60, surging_factor=1.5, surging_min_points=10
    )
    assert result.strength.tolist() == [15.0, 10.0]  # the 2-day-old signal of the member counts twice
    assert result.boost_by_type.tolist() == [[5.0], [0.0]]
    assert result.surging.tolist() == [True, True]  # no baseline, and at least 10 points


def test_surging_needs_strength_well_above_the_baseline():
    rules = engine.EngagementRules.build(1, [(0, 5.0, None, None, None)])
    # account 0: 4 recent, 4 in the 60-day baseline (scaled to 14 days: 4 * 5 * 14/60 ≈ 4.7); account 1: flat
    ages = [1, 2, 3, 4, 20, 30, 40, 50] + [1, 2, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65]
    rows = engine.SignalRows(account=[0] * 8 + [1] * 12, type=[0] * 20, age_days=ages)
    result = engine.signal_strength(
        rows, rules, engine.SegmentBoosts(members=np.zeros((0, 2), bool)), 2,
        recent_days=14, baseline_days=60, surging_factor=1.5, surging_min_points=10,
    )  # fmt: skip
    assert result.strength.tolist() == [20.0, 10.0]
    assert result.baseline[0] == pytest.approx(20 * 14 / 60)
    assert result.surging.tolist() == [True, False]


def test_trend_active_users_and_shares():
    rows = engine.SignalRows(
        account=[0, 0, 0, 0, 1],
        type=[0, 1, 1, 2, 0],
        age_days=[1, 6, 20, 40, 3],
        contact=[0, 1, 2, 0, -1],
        inbound=[True, True, True, True, True],
    )
    points = np.ones(5)
    tr = engine.trend(rows, points, 2, recent_days=14, baseline_days=60)
    assert tr.recent.tolist() == [2.0, 1.0]
    assert tr.ratio[0] == pytest.approx(2 / (2 * 14 / 60)) and math.isnan(tr.ratio[1])
    assert engine.active_users(rows, 2, window_days=7).tolist() == [2, 0]
    assert engine.active_users(rows, 2, window_days=30).tolist() == [3, 0]
    share = engine.distinct_types_share(rows.account, rows.type, np.array([True, True, False, True]), 2)
    assert share.tolist() == [2 / 3, 1 / 3]
    assert np.isnan(engine.distinct_types_share(rows.account, rows.type, np.zeros(4, bool), 2)).all()


# --- properties ----------------------------------------------------------------------------------------------------

ages = st.floats(min_value=0, max_value=400, allow_nan=False)
rule = st.tuples(
    st.floats(min_value=-20, max_value=50, allow_nan=False),  # points
    st.one_of(st.none(), st.floats(min_value=0.5, max_value=200)),  # half-life
    st.one_of(st.none(), st.integers(min_value=1, max_value=365)),  # window
    st.one_of(st.none(), st.floats(min_value=0, max_value=100)),  # cap
)
signals = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 2), ages, st.floats(min_value=0, max_value=3)), max_size=30
)


def build(rule_list, signal_list):
    rules = engine.EngagementRules.build(3, [(t, *r) for t, r in enumerate(rule_list)])
    rows = engine.SignalRows(
        account=[s[0] for s in signal_list],
        type=[s[1] for s in signal_list],
        age_days=[s[2] for s in signal_list],
        topic_multiplier=[s[3] for s in signal_list],
    )
    return rules, rows


@settings(max_examples=150, deadline=None)
@given(rules=st.lists(rule, min_size=3, max_size=3), signal_list=signals, extra=st.tuples(st.integers(0, 3), ages))
def test_more_of_a_positively_weighted_signal_never_lowers_engagement(rules, signal_list, extra):
    rules[0] = (abs(rules[0][0]), *rules[0][1:])
    before_rules, before = build(rules, signal_list)
    _, after = build(rules, [*signal_list, (extra[0], 0, extra[1], 1.0)])
    assert np.all(engine.engagement(after, before_rules, 4).score >= engine.engagement(before, before_rules, 4).score)


@settings(max_examples=150, deadline=None)
@given(r=rule, a=ages, b=ages)
def test_an_older_signal_never_counts_more_than_a_newer_one_of_the_same_kind(r, a, b):
    r = (abs(r[0]), *r[1:])
    rules = engine.EngagementRules.build(1, [(0, *r)])
    older, newer = max(a, b), min(a, b)
    rows = engine.SignalRows(account=[0, 1], type=[0, 0], age_days=[older, newer])
    score = engine.engagement(rows, rules, 2).score
    assert score[0] <= score[1]


@settings(max_examples=150, deadline=None)
@given(rules=st.lists(rule, min_size=3, max_size=3), signal_list=signals, fit=st.floats(-500, 500))
def test_scores_stay_within_their_bounds_and_are_deterministic(rules, signal_list, fit):
    engagement_rules, rows = build(rules, signal_list)
    first = engine.engagement(rows, engagement_rules, 4)
    again = engine.engagement(rows, engagement_rules, 4)
    assert np.array_equal(first.score, again.score) and np.array_equal(first.by_type, again.by_type)
    assert np.all((first.score >= 0) & (first.score <= 100))
    lead = engine.lead(np.full(4, fit), first.score)
    assert np.all((lead >= 0) & (lead <= 100))
    strength = engine.signal_strength(
        rows, engagement_rules, engine.SegmentBoosts(members=np.zeros((0, 4), bool)), 4,
        recent_days=14, baseline_days=60, surging_factor=1.5, surging_min_points=10,
    )  # fmt: skip
    assert np.all(strength.strength >= 0) and np.all(strength.baseline >= 0)
    contact = engine.contact_activity(rows, engagement_rules, 0)
    assert len(contact.engagement) == 0
