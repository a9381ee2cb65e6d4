"""Rescoring through the database: scores, measures, explanations, history, marks and idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import RescoreMark, Segment, SegmentMembership
from accounts.services import accounts_mark_for_rescore
from scoring.models import AccountScore, ConfigVersion, ContactScore, EngagementRule, ScoreHistory, TopicImportance
from scoring.services import accounts_rescore, accounts_rescore_all, accounts_rescore_marked, scoring_defaults_ensure
from tests.factories import AccountFactory, ContactFactory, SignalTopicFactory, SignalTypeFactory

from .factories import NOW, EngagementRuleFactory, FitRuleFactory, SegmentBoostFactory, signal

pytestmark = pytest.mark.django_db


def score(account) -> AccountScore:
    return AccountScore.objects.get(account=account)


def lines_sum(score: AccountScore, kind: str) -> float:
    return sum(line["points"] for line in score.contributions[kind])


def test_the_classic_example_holds_through_the_database(card):
    rfp, video, pricing = (EngagementRuleFactory(points=12).signal_type for _ in range(3))
    active, latent = AccountFactory(), AccountFactory()
    for kind, days in ((rfp, 9), (video, 5), (pricing, 2)):
        signal(active, kind, days)
    for kind, days in ((rfp, 175), (video, 100), (pricing, 30)):
        signal(latent, kind, days)
    accounts_rescore(account_ids=[active.pk, latent.pk], now=NOW)
    assert score(active).engagement > 30 > 10 > score(latent).engagement
    assert score(active).temperature == "warm" and score(latent).temperature == "cold"


def test_engagement_explains_each_type_with_caps_and_topic_importance(card):
    line = SignalTopicFactory(key="analytics")
    child = SignalTopicFactory(key="analytics--dashboards", parent=line)
    own = SignalTopicFactory(key="analytics--alerts", parent=line)
    TopicImportance.objects.create(topic=line, multiplier=2)
    TopicImportance.objects.create(topic=own, multiplier=1)
    click = EngagementRuleFactory(points=5, half_life_days=None, signal_type__label="Email click").signal_type
    visit = EngagementRuleFactory(points=4, half_life_days=None, cap=6, signal_type__label="Visit").signal_type
    account = AccountFactory()
    signal(account, click, 1, topic=child)  # inherits the line's ×2: 10
    signal(account, click, 1, topic=own)  # its own ×1: 5
    for _ in range(3):
        signal(account, visit, 1)  # 12, capped at 6
    accounts_rescore(account_ids=[account.pk], now=NOW)
    s = score(account)
    assert s.engagement == 21
    assert s.contributions["engagement"] == [
        {"source": "engagement_rule", "label": "Email click × 2", "points": 15.0},
        {"source": "engagement_rule", "label": "Visit × 3 (capped at 6)", "points": 6.0},
    ]


def test_fit_rules_penalties_and_completeness(card):
    card.key_fields = ["industry", "country", "traits.plan"]
    card.save()
    FitRuleFactory(label="Software", field="industry", operator="equals", value="software", points=30)
    FitRuleFactory(label="Mid-size", field="employees", operator="range", value={"min": 50, "max": 999}, points=25)
    FitRuleFactory(label="A VP", field="contact.title", operator="contains", value="VP", points=15)
    FitRuleFactory(label="Gold", field="traits.tier", operator="in", value=["gold", "platinum"], points=10)
    FitRuleFactory(label="No country", field="country", operator="missing", value=None, points=-5)
    good = AccountFactory(industry="Software", employees=120, country="DE", traits={"tier": "Gold", "plan": "pro"})
    ContactFactory(account=good, title="VP Sales")
    poor = AccountFactory(industry="", employees=5, country="", traits={})
    ContactFactory(account=poor, email="someone@gmail.com", title="Engineer")
    ContactFactory(account=poor, first_name="Xzqw", last_name="Brtk")
    accounts_rescore(account_ids=[good.pk, poor.pk], now=NOW)
    assert (score(good).fit, score(good).completeness) == (80, 100)
    assert score(poor).completeness == 0
    assert [(line["label"], line["points"]) for line in score(poor).contributions["fit"]] == [
        ("No country", -5.0),
        ("1 contact(s) with a free email address", -10.0),
        ("1 contact(s) with a name without vowels", -10.0),
        ("Missing industry", -5.0),
        # no "Missing country −5": the "No country" rule already takes points for that gap (one gap, one penalty)
        ("Missing traits.plan", -5.0),
        ("Fit is kept within 0–100", 35.0),
    ]
    assert score(poor).fit == 0
    for s in (score(good), score(poor)):
        for kind, value in (("fit", s.fit), ("engagement", s.engagement), ("lead", s.lead)):
            assert lines_sum(s, kind) == pytest.approx(value, abs=0.011)


def test_grades_temperature_and_qualification_set_once_and_cleared(card):
    FitRuleFactory(field="industry", operator="equals", value="Software", points=40)
    demo = EngagementRuleFactory(points=30, half_life_days=None, window_days=10).signal_type
    account = AccountFactory(industry="Software")
    accounts_rescore(account_ids=[account.pk], now=NOW)
    assert (score(account).lead, score(account).grade, score(account).qualified) == (40, "C", False)
    signal(account, demo, 1)
    accounts_rescore(account_ids=[account.pk], now=NOW)
    first = score(account)
    assert (first.lead, first.grade, first.temperature, first.qualified, first.qualified_at) == (
        70, "B", "warm", True, NOW,
    )  # fmt: skip
    accounts_rescore(account_ids=[account.pk], now=NOW + timedelta(days=5))
    assert score(account).qualified_at == NOW  # still above: the time it first crossed is kept
    accounts_rescore(account_ids=[account.pk], now=NOW + timedelta(days=12))  # outside the window
    assert (score(account).qualified, score(account).qualified_at, score(account).grade) == (False, None, "C")
    dates = list(ScoreHistory.objects.filter(account=account).values_list("date", "lead", "qualified"))
    # one row per rescore that changed something (the second run "at" NOW rewrote the first's row: same clock)
    assert [(d.isoformat(), lead, q) for d, lead, q in dates] == [
        ("2026-06-13", 40, False), ("2026-06-06", 70, True), ("2026-06-01", 70, True),
    ]  # fmt: skip


def test_segment_boosts_change_signal_strength_and_surging(card):
    pricing = EngagementRuleFactory(points=5, signal_type__label="Pricing page view").signal_type
    trial = Segment.objects.create(name="Trial")
    SegmentBoostFactory(segment=trial, signal_type=pricing, multiplier=2, window_days=7)
    member, other = AccountFactory(), AccountFactory()
    SegmentMembership.objects.create(segment=trial, account=member, entered_at=NOW - timedelta(days=30))
    for account in (member, other):
        signal(account, pricing, 2)
        signal(account, pricing, 10)
    accounts_rescore(account_ids=[member.pk, other.pk], now=NOW)
    assert (score(member).signal_strength, score(other).signal_strength) == (15, 10)
    assert score(member).contributions["signal_strength"][-1] == {
        "source": "boost", "label": "Pricing page view: segment boost", "points": 5.0,
    }  # fmt: skip
    assert score(member).surging and score(other).surging  # no baseline and at least 10 points
    for days in (20, 30, 40, 50, 60, 70):
        signal(other, pricing, days)  # a steady baseline: 30 points over 60 days, 7 per 14 days
    accounts_rescore(account_ids=[other.pk], now=NOW)
    assert score(other).signal_strength_baseline == 7 and not score(other).surging
    assert lines_sum(score(member), "signal_strength") == score(member).signal_strength


def test_measures_tenure_activation_active_users_adoption_and_contacts(card):
    login = SignalTypeFactory(key="login")
    dashboards = SignalTypeFactory(key="dashboards", is_key_feature=True, is_activation_milestone=True)
    alerts = SignalTypeFactory(key="alerts", is_key_feature=True)
    SignalTypeFactory(key="invite", is_activation_milestone=True)
    EngagementRuleFactory(signal_type=dashboards, points=2)
    account = AccountFactory(created_at=NOW - timedelta(days=200), employees=120)
    ann, bob, cat, _dan = (ContactFactory(account=account) for _ in range(4))
    signal(account, login, 2, contact=ann)
    signal(account, dashboards, 20, contact=bob)
    signal(account, dashboards, 1, contact=ann)
    signal(account, login, 5, contact=cat, direction="outbound")  # we reached out: not activity of theirs
    signal(account, alerts, 45, contact=cat)
    accounts_rescore(account_ids=[account.pk], now=NOW)
    s = score(account)
    assert (s.tenure_days, s.size_band) == (200, "medium")
    assert (s.active_users_7d, s.active_users_30d, s.total_users, s.active_ratio_30d) == (1, 2, 4, 0.5)
    assert s.activation == 0.5  # dashboards reached, invite not
    assert s.adoption == 0.5  # dashboards in the last 30 days, alerts only before
    contacts = {c.contact_id: c for c in ContactScore.objects.filter(account=account)}
    assert len(contacts) == 4
    assert contacts[ann.pk].active and contacts[ann.pk].last_activity_at == NOW - timedelta(days=1)
    assert contacts[ann.pk].engagement > contacts[bob.pk].engagement > 0
    assert not contacts[cat.pk].active and contacts[cat.pk].last_activity_at == NOW - timedelta(days=45)


def test_engagement_trend_compares_recent_days_with_the_accounts_own_baseline(card):
    use = EngagementRuleFactory(points=1).signal_type
    rising, falling, new = AccountFactory(), AccountFactory(), AccountFactory()
    for days in range(0, 14, 2):
        signal(rising, use, days)  # 7 recent
    for days in range(20, 74, 9):
        signal(rising, use, days)  # 6 in the baseline
        signal(falling, use, days)
    signal(new, use, 1)
    accounts_rescore(account_ids=[rising.pk, falling.pk, new.pk], now=NOW)
    assert score(rising).engagement_trend == pytest.approx(7 / (6 * 14 / 60), rel=1e-3)
    assert score(falling).engagement_trend == 0
    assert score(new).engagement_trend is None


def test_scores_record_the_configuration_version(card):
    version = ConfigVersion.objects.get().version
    rule = EngagementRuleFactory(points=1)
    assert ConfigVersion.objects.get().version == version + 1
    rule.points = 2
    rule.save()
    account = AccountFactory()
    accounts_rescore(account_ids=[account.pk], now=NOW)
    assert score(account).config_version == version + 2
    assert ScoreHistory.objects.get(account=account).config_version == version + 2
    rule.delete()
    assert ConfigVersion.objects.get().version == version + 3


def test_rescoring_is_idempotent_and_drains_marks(card):
    kind = EngagementRuleFactory(points=7).signal_type
    accounts = [AccountFactory() for _ in range(5)]
    for i, account in enumerate(accounts):
        ContactFactory(account=account)
        signal(account, kind, i * 3)
    accounts_mark_for_rescore(account_ids=[a.pk for a in accounts], now=NOW - timedelta(minutes=1))

    def snapshot():
        return (
            list(AccountScore.objects.order_by("pk").values()),
            list(ScoreHistory.objects.order_by("pk").values()),
            list(ContactScore.objects.order_by("pk").values()),
        )

    stats = accounts_rescore_marked(chunk_size=2)
    assert (stats.accounts, stats.chunks, stats.marks_cleared) == (5, 3, 5)
    assert not RescoreMark.objects.exists()
    accounts_rescore(account_ids=[a.pk for a in accounts], now=NOW)
    first = snapshot()
    accounts_rescore(account_ids=[a.pk for a in accounts], now=NOW)
    assert snapshot() == first
    assert len(first[0]) == len(first[2]) == 5
    assert len(first[1]) == 10  # one history row per account and day: today's run, and the run "on" NOW


def test_marks_the_rescore_could_not_see_survive_it(card):
    from django.db import connection

    from accounts.services import MarksWatermark
    from scoring.rescore.pipeline import chunk_rescore
    from scoring.scorecard import scorecard_load

    account = AccountFactory()
    # A mark written by a transaction the rescore's reads could not see (PostgreSQL: an xid at or above the snapshot's
    # xmax; SQLite: an id above the highest one seen). tests/accounts covers real concurrent writers on PostgreSQL.
    RescoreMark.objects.create(account=account, marked_at=NOW, xact=5)
    blind = MarksWatermark(snapshot="5:5:") if connection.vendor == "postgresql" else MarksWatermark(max_id=0)
    stats = chunk_rescore(account_ids=[account.pk], card=scorecard_load(), now=NOW, watermark=blind)
    assert stats.marks_cleared == 0 and RescoreMark.objects.filter(account=account).exists()
    stats = chunk_rescore(account_ids=[account.pk], card=scorecard_load(), now=NOW)  # a watermark taken now
    assert stats.marks_cleared == 1 and not RescoreMark.objects.exists()


def test_full_rescore_scores_every_account_and_creates_default_rules(card):
    pricing = SignalTypeFactory(key="pricing-page-view")
    accounts = [AccountFactory() for _ in range(3)]
    signal(accounts[0], pricing, 1)
    stats = accounts_rescore_all(now=NOW, chunk_size=2)
    assert (stats.accounts, stats.chunks) == (3, 2)
    assert EngagementRule.objects.get(signal_type=pricing).points == 5
    assert score(accounts[0]).engagement > 0
    EngagementRule.objects.all().delete()
    assert scoring_defaults_ensure() == 0  # once per database: a deleted default stays deleted
    assert scoring_defaults_ensure(force=True) == 1


def test_rescoring_is_set_based(card, django_assert_max_num_queries):
    """Reads are the same for 5 accounts as for 50; writes are bulk (SQLite may need a second batch)."""
    kinds = [EngagementRuleFactory(points=3).signal_type for _ in range(3)]
    FitRuleFactory(field="contact.title", operator="contains", value="VP")
    trial = Segment.objects.create(name="Trial")
    SegmentBoostFactory(segment=trial, signal_type=kinds[0])
    SignalTypeFactory(key="milestone", is_activation_milestone=True)

    def world(n):
        accounts = [AccountFactory() for _ in range(n)]
        for i, account in enumerate(accounts):
            contact = ContactFactory(account=account)
            SegmentMembership.objects.create(segment=trial, account=account, entered_at=NOW)
            for kind in kinds:
                signal(account, kind, i % 20, contact=contact)
        return [a.pk for a in accounts]

    def queries(ids):
        with CaptureQueriesContext(connection) as ctx:
            accounts_rescore(account_ids=ids, now=NOW)
        selects = [q for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
        return len(selects), len(ctx.captured_queries)

    small_selects, small_total = queries(world(5))
    big_selects, big_total = queries(world(50))
    assert small_selects == big_selects
    if connection.vendor == "postgresql":
        assert small_total == big_total
    else:
        assert big_total <= small_total + 3
    assert AccountScore.objects.count() == 55


def test_history_gets_a_row_at_every_change_and_one_a_day_but_nothing_for_a_rescore_that_changes_nothing(card):
    kind = EngagementRuleFactory(points=10, half_life_days=None, window_days=30).signal_type
    quiet, busy = AccountFactory(), AccountFactory()
    signal(quiet, kind, 1)

    def rows(account):
        return list(ScoreHistory.objects.filter(account=account).order_by("computed_at").values_list("lead", flat=True))

    accounts_rescore(account_ids=[quiet.pk, busy.pk], now=NOW)
    assert (rows(quiet), rows(busy)) == ([10], [0])
    accounts_rescore(account_ids=[quiet.pk, busy.pk], now=NOW + timedelta(hours=1))
    assert (rows(quiet), rows(busy)) == ([10], [0])  # same numbers, same day: nothing new
    signal(busy, kind, 0, now=NOW + timedelta(hours=1))
    accounts_rescore(account_ids=[quiet.pk, busy.pk], now=NOW + timedelta(hours=2))
    assert (rows(quiet), rows(busy)) == ([10], [0, 10])  # only the account whose numbers moved
    accounts_rescore(account_ids=[quiet.pk, busy.pk], now=NOW + timedelta(hours=2))
    assert (rows(quiet), rows(busy)) == ([10], [0, 10])  # rescoring twice adds nothing
    accounts_rescore(account_ids=[quiet.pk, busy.pk], now=NOW + timedelta(days=1))
    assert (rows(quiet), rows(busy)) == ([10, 10], [0, 10, 10])  # at least one a day


def test_scores_as_of_a_past_moment_see_milestones_and_segments_as_they_were(card):
    pricing = EngagementRuleFactory(points=5, signal_type__label="Pricing page view").signal_type
    milestone = SignalTypeFactory(key="first-dashboard", is_activation_milestone=True)
    trial = Segment.objects.create(name="Trial")
    SegmentBoostFactory(segment=trial, signal_type=pricing, multiplier=2, window_days=7)
    account = AccountFactory()
    SegmentMembership.objects.create(segment=trial, account=account, entered_at=NOW - timedelta(days=3))
    signal(account, milestone, 2)
    signal(account, pricing, 12)
    past = NOW - timedelta(days=10)
    accounts_rescore(account_ids=[account.pk], now=past)
    then = score(account)
    assert (then.activation, then.signal_strength) == (0, 5)  # neither the milestone nor the segment yet
    accounts_rescore(account_ids=[account.pk], now=NOW)
    assert score(account).activation == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the overlapped full rescore is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_full_rescore_outside_a_transaction_matches_rescoring_chunk_by_chunk(card):
    """The full rescore's own path (signals read once by two connections, sorted by chunk, writes in a thread) gives
    the same rows as rescoring each account on its own; ids with gaps (a deleted account) included."""
    kinds = [EngagementRuleFactory(points=p, cap=12).signal_type for p in (3, 5)]
    accounts = [AccountFactory() for _ in range(7)]
    for i, account in enumerate(accounts):
        contact = ContactFactory(account=account)
        for k in range(i + 1):
            signal(account, kinds[k % 2], k * 2.5, contact=contact if k % 3 else None)
    accounts.pop(3).delete()

    def rows():
        return list(
            AccountScore.objects.order_by("account_id").values_list("account_id", "engagement", "contributions")
        )

    accounts_rescore_all(now=NOW, chunk_size=2)
    full = rows()
    AccountScore.objects.all().delete()
    for account in accounts:
        accounts_rescore(account_ids=[account.pk], now=NOW)
    assert rows() == full and len(full) == 6


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the pipelined full rescore is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_pipelined_full_rescore_stores_predictions_and_announces_each_change_once(card):
    """Reader, predictor and writer threads: every account gets its prediction row (here "not enough history"),
    listeners hear of every changed account exactly once after its chunk committed, and a second run announces
    nothing new."""
    from scoring.hooks import scores_changed
    from scoring.models import AccountPrediction

    kind = EngagementRuleFactory(points=4).signal_type
    accounts = [AccountFactory() for _ in range(7)]
    for i, account in enumerate(accounts):
        for k in range(i):
            signal(account, kind, k + 1)
    heard: list[int] = []

    def listen(sender, changes, **kwargs):
        heard.extend(c["account"] for c in changes)

    scores_changed.connect(listen)
    try:
        accounts_rescore_all(now=NOW, chunk_size=2)
        first = sorted(heard)
        heard.clear()
        accounts_rescore_all(now=NOW, chunk_size=2)
    finally:
        scores_changed.disconnect(listen)
    assert first == sorted(a.pk for a in accounts)  # each new account once, from four chunks
    assert heard == []  # nothing moved on the second run
    assert AccountPrediction.objects.count() == 7
    assert set(AccountPrediction.objects.values_list("churn_status", flat=True)) <= {
        "not_enough_history",
        "not_applicable",
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the pipelined full rescore is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_failed_chunk_write_stops_the_full_rescore_with_its_error_and_keeps_the_chunks_written(card, monkeypatch):
    import threading

    from scoring.rescore import pipeline

    accounts = [AccountFactory() for _ in range(6)]
    real = pipeline.chunk_write_pg
    calls = []

    def failing_on_the_second_chunk(computed, raw=None):
        calls.append(computed.account_ids)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        real(computed, raw)

    monkeypatch.setattr(pipeline, "chunk_write_pg", failing_on_the_second_chunk)
    threads_before = threading.active_count()
    with pytest.raises(RuntimeError, match="disk full"):
        accounts_rescore_all(now=NOW, chunk_size=2)
    assert threading.active_count() == threads_before  # no thread of the pipeline left behind
    written = set(AccountScore.objects.values_list("account_id", flat=True))
    assert set(calls[0]) <= written  # the chunk committed before the failure stays
    assert not set(calls[1]) & written  # the failed chunk's transaction wrote nothing
    assert len(written) < len(accounts)


def test_score_history_backfill_stores_past_scores_as_a_rescore_then_would_and_touches_nothing_else(card):
    from scoring.services import score_history_backfill

    kind = EngagementRuleFactory(points=6).signal_type
    old = AccountFactory(created_at=NOW - timedelta(days=60))
    new = AccountFactory(created_at=NOW - timedelta(days=5))
    for days in (40, 20, 2):
        signal(old, kind, days)
    signal(new, kind, 1)
    accounts_rescore(account_ids=[old.pk, new.pk], now=NOW)
    current = list(AccountScore.objects.order_by("account_id").values_list("account_id", "engagement", "computed_at"))
    history_now = ScoreHistory.objects.count()
    moments = [NOW - timedelta(days=30), NOW - timedelta(days=10)]

    assert score_history_backfill(moments=moments) == 2  # the new account did not exist yet at either moment
    assert score_history_backfill(moments=moments) == 2  # again: the same rows, none added
    past = list(
        ScoreHistory.objects.filter(computed_at__lt=NOW - timedelta(days=1)).order_by("computed_at")
        .values_list("account_id", "computed_at", "engagement")
    )  # fmt: skip
    assert [(a, at) for a, at, _ in past] == [(old.pk, moments[0]), (old.pk, moments[1])]
    assert past[0][2] < past[1][2]  # 30 days ago only the 40-day-old signal had happened; 10 days ago two had
    assert ScoreHistory.objects.count() == history_now + 2
    assert (
        list(AccountScore.objects.order_by("account_id").values_list("account_id", "engagement", "computed_at"))
        == current
    )

    # the same numbers a rescore as of that moment stores
    accounts_rescore(account_ids=[old.pk], now=moments[1])
    assert score(old).engagement == past[1][2]


def test_score_history_backfill_at_now_equals_what_the_rescore_then_stores_field_by_field(card):
    """Issue 11 item 1: after seed_demo every past row had engagement and signal strength 0, because the backfill ran
    before the default engagement rules were made (a full rescore makes them first). A backfill at a moment is the
    rescore at that moment: at ``now`` it equals the live row, every score; in the past it counts earlier signals."""
    from scoring.rescore.read import HISTORY_FIELDS
    from scoring.services import score_history_backfill

    demo = SignalTypeFactory(key="demo-request", label="Demo request")  # default engagement rules exist for these
    pricing = SignalTypeFactory(key="pricing-page-view", label="Pricing page view")
    assert not EngagementRule.objects.exists()
    FitRuleFactory(label="Software", field="industry", operator="equals", value="Software", points=30)
    busy = AccountFactory(industry="Software", created_at=NOW - timedelta(days=120))
    quiet = AccountFactory(created_at=NOW - timedelta(days=120))
    contact = ContactFactory(account=busy)
    for days in (95, 60, 45, 12, 3, 1):
        signal(busy, demo, days, contact=contact)
        signal(busy, pricing, days + 0.5, contact=contact)
    signal(quiet, pricing, 70)

    fields = [*HISTORY_FIELDS, "date", "conversion", "expansion", "churn"]

    def rows() -> dict[int, tuple]:
        return {r[0]: r[1:] for r in ScoreHistory.objects.filter(computed_at=NOW).values_list("account_id", *fields)}

    assert score_history_backfill(moments=[NOW]) == 2
    backfilled = rows()
    ScoreHistory.objects.all().delete()
    accounts_rescore_all(now=NOW)
    live = rows()
    assert backfilled == live  # every field of both accounts, engagement and signal strength included
    assert live[busy.pk][fields.index("engagement")] > 0 and live[busy.pk][fields.index("signal_strength")] >= 0
    for account in (busy, quiet):  # and the live scores themselves
        current = AccountScore.objects.filter(account=account).values_list(*HISTORY_FIELDS).get()
        assert current == live[account.pk][: len(HISTORY_FIELDS)]

    # a moment in the past with signals before it has engagement from them (not 0)
    past = NOW - timedelta(days=40)
    assert score_history_backfill(moments=[past]) == 2
    then = ScoreHistory.objects.get(account=busy, computed_at=past)
    assert then.engagement > 0 and then.signal_strength >= 0
    accounts_rescore(account_ids=[busy.pk], now=past)
    assert score(busy).engagement == then.engagement
