"""A synthetic history of any size, with outcomes that follow behaviour: for tests and the speed bench.

Week by week, accounts produce signals (Poisson counts per type from their stage and two hidden traits, intent and
health) and move: free accounts convert after pricing views and invites, paying accounts churn when logins fall and
tickets pile up, and expand as they invite people. Pure NumPy, seeded: the same arguments give the same history.
"""

from __future__ import annotations

import numpy as np

from .history import DAY, History

TYPES = ("login", "pricing-page-view", "support-ticket-opened", "invite-user", "email-open")
TYPE_LABELS = ("Login", "Pricing page view", "Support ticket opened", "User invited", "Email open")
STAGES = ("trial", "freemium", "starter", "corporate", "churn")
STAGE_KIND = ("free", "free", "paying", "paying", "churn")
STAGE_RANK = (0, 0, 1, 2, 0)
TOPICS = ("analytics", "integrations")
START = 1_700_000_000.0  # a Tuesday in November 2023; any fixed moment would do


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def synthetic_history(
    *, accounts: int, weeks: int = 30, seed: int = 0, volume: float = 1.0, start: float = START
) -> History:
    """A history of ``accounts`` accounts over ``weeks`` weeks from ``start`` (``volume`` scales signal counts)."""
    rng = np.random.default_rng(seed)
    n = accounts
    intent = rng.normal(0, 1, n)
    healthy = rng.normal(0, 1, n)
    stage = np.where(rng.random(n) < 0.5, 0, np.where(rng.random(n) < 0.5, 1, 2 + (rng.random(n) < 0.3)))
    created = start - rng.uniform(10, 200, n) * DAY
    tr_a, tr_s, tr_t, tr_m = [np.arange(n)], [stage.copy()], [created + DAY], [np.full(n, "entry", dtype=object)]
    ev_a, ev_ty, ev_t = [], [], []
    # per-stage weekly rates of each type
    base = np.array([
        [3.0, 1.0, 0.3, 0.4, 1.0],  # trial
        [1.0, 0.3, 0.1, 0.1, 0.8],  # freemium
        [5.0, 0.1, 0.4, 0.3, 0.6],  # starter
        [8.0, 0.1, 0.6, 0.5, 0.6],  # corporate
        [0.0, 0.05, 0.0, 0.0, 0.3],  # churn
    ]) * volume  # fmt: skip
    lean = np.array([0.2, 0.6, -0.2, 0.4, 0.2])
    activity = np.exp(0.4 * healthy)
    for w in range(weeks):
        t0 = start + w * 7 * DAY
        decline = (stage >= 2) & (stage <= 3) & (rng.random(n) < _sigmoid(-3.5 - healthy))
        activity = np.where(decline, activity * 0.4, np.minimum(activity * 1.02, 3.0))
        lam = base[stage] * np.exp(np.outer(intent, lean))
        lam[:, 0] *= activity
        lam[:, 2] *= 1 + 2 * (activity < 0.5)
        counts = rng.poisson(lam)
        a, ty = np.nonzero(counts)
        c = counts[a, ty]
        ev_a.append(np.repeat(a, c))
        ev_ty.append(np.repeat(ty, c))
        ev_t.append(t0 + rng.uniform(0, 7 * DAY, int(c.sum())))
        # moves at the week's end, from the week's behaviour
        u = rng.random((3, n))
        free = stage <= 1
        convert = free & (u[0] < _sigmoid(-4.0 + 0.8 * counts[:, 1] + 0.6 * counts[:, 3] + 0.5 * intent))
        paying = (stage == 2) | (stage == 3)
        churn = paying & (u[1] < _sigmoid(-5.0 + 2.0 * (counts[:, 0] <= 1) + 0.6 * counts[:, 2] - 0.5 * healthy))
        expand = (stage == 2) & ~churn & (u[2] < _sigmoid(-5.0 + 0.8 * counts[:, 3] + 0.3 * intent))
        when = t0 + 7 * DAY - rng.uniform(0, DAY, n)
        for mask, to, movement in ((convert, 2, "conversion"), (churn, 4, "churn"), (expand, 3, "expansion")):
            idx = np.flatnonzero(mask)
            tr_a.append(idx)
            tr_s.append(np.full(len(idx), to))
            tr_t.append(when[idx])
            tr_m.append(np.full(len(idx), movement, dtype=object))
        stage = np.where(convert, 2, np.where(churn, 4, np.where(expand, 3, stage)))
    e_a = np.concatenate(ev_a)
    m = len(e_a)
    return History(
        account_ids=np.arange(1, n + 1),
        created=created,
        employees=np.where(rng.random(n) < 0.1, np.nan, np.round(rng.lognormal(4, 1.2, n))),
        revenue=np.full(n, np.nan),
        industry=rng.choice(np.array(["Software", "Retail", "Finance", ""], dtype=object), n),
        country=rng.choice(np.array(["DE", "FR", "US"], dtype=object), n),
        type_keys=list(TYPES),
        type_labels=list(TYPE_LABELS),
        topic_keys=list(TOPICS),
        topic_labels=["Analytics", "Integrations"],
        ev_account=e_a,
        ev_type=np.concatenate(ev_ty),
        ev_time=np.concatenate(ev_t),
        ev_topic=rng.integers(-1, len(TOPICS), m),
        ev_contact=e_a * 8 + rng.integers(0, 8, m),
        stage_keys=list(STAGES),
        stage_labels=[s.capitalize() for s in STAGES],
        stage_kinds=list(STAGE_KIND),
        stage_ranks=np.array(STAGE_RANK),
        tr_account=np.concatenate(tr_a),
        tr_stage=np.concatenate(tr_s),
        tr_time=np.concatenate(tr_t),
        tr_movement=np.concatenate(tr_m),
        stage_now=stage,
        type_points=np.array([1.0, 5.0, -2.0, 4.0, 1.0]),
        type_key_feature=np.array([False, False, False, True, False]),
        type_milestone=np.array([False, False, False, True, False]),
    )
