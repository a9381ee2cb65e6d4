"""The journey simulation behind the demo world: pure NumPy, seeded, with no ORM.

It steps day by day over every account at once, draws each day's signals from rates that depend on the account's
stage, latent intent, activity and seats, and then decides tomorrow's stage changes from hazards computed on the
signals it actually drew (pricing views, invites, integrations, demo requests, usage trend, support tickets). So the
movements are caused by the recorded behaviour, and scores and models built later have something true to find.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from klearly.demo.catalog import (
    CAMPAIGNS,
    CHECK_IN,
    CHURN,
    CORPORATE,
    COUNTRIES,
    ENTERPRISE,
    EXPIRED,
    FREEMIUM,
    G_CTA,
    G_DEMO,
    G_INTEGRATION,
    G_INVITE,
    G_NURTURE,
    G_PRICING,
    G_QUOTE,
    G_SUPPORT,
    G_USAGE,
    IN,
    INDUSTRIES,
    INVITE,
    LEAD,
    LEAD_SOURCES,
    N_GROUPS,
    PLAN_PRICES,
    SALES_CALL,
    STAGE_KEYS,
    STARTER,
    SUPPORT,
    TRIAL,
    TYPE_INDEX,
    TYPES,
)
from klearly.demo.details import signal_details
from klearly.demo.people import assign_contacts, brands, contact_identities
from klearly.demo.timing import DAY, WINDOW_DAYS, business_seconds, day_factors, demo_anchor
from klearly.demo.workspace import OWNERS

# Product usage per seat, calibrated so an average account gathers about 1000 signals (300k for 300 accounts).
USAGE_VOLUME = 1.75
NOT_YET = -1
TRIAL_DAYS = 14
STAGE_SETTLE = 300  # seconds after a stage change before that day's behaviour of the new stage shows

Moves = list[tuple[np.ndarray, int | np.ndarray, str]]  # [(accounts, to stage, order detail)]


@dataclass
class DemoWorld:
    """Everything the simulation produced, as arrays; times are whole seconds after ``start`` (negative before)."""

    start: datetime
    now: datetime
    # accounts
    names: list[str]
    domains: list[str]
    industries: list[str]
    countries: list[str]
    employees: np.ndarray  # -1 when unknown
    revenue: np.ndarray  # NaN when unknown
    account_created: np.ndarray
    account_traits: list[dict[str, Any]]
    account_owner: list[str | None]
    final_stage: np.ndarray
    # stage transitions
    tr_account: np.ndarray
    tr_stage: np.ndarray
    tr_time: np.ndarray
    # contacts (sorted by account, then creation)
    c_account: np.ndarray
    c_created: np.ndarray
    c_first: list[str]
    c_last: list[str]
    c_email: list[str]
    c_title: list[str]
    c_last_seen: np.ndarray  # -1 when never seen
    # signals (sorted by time)
    s_account: np.ndarray
    s_type: np.ndarray
    s_time: np.ndarray
    s_contact: np.ndarray  # -1 when none
    s_topic: np.ndarray  # -1 when none
    s_detail: list[str]
    s_properties: list[dict[str, Any]]
    s_anonymous: list[str]
    s_received_delay: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _pick(rng: np.random.Generator, table: tuple[tuple, ...], n: int) -> np.ndarray:
    """Indices into a (name, share, ...) table, drawn by share."""
    shares = np.array([row[1] for row in table], dtype=float)
    return rng.choice(len(table), size=n, p=shares / shares.sum())


class _Simulation:
    """The day-by-day simulation behind :func:`demo_simulate`; every array has one entry per account."""

    def __init__(self, *, accounts: int, seed: int, now: datetime) -> None:
        self.rng = rng = np.random.default_rng(seed)
        self.n = n = accounts
        self.now = now
        self.start = now - timedelta(days=WINDOW_DAYS)

        # Firmographics, and the latent intent that drives each account's behaviour: bigger companies, some
        # industries and warm lead sources lean a little higher, but most of it is the account's own.
        employees = np.minimum(np.maximum(1, np.round(rng.lognormal(np.log(60), 1.5, n))), 120_000)
        self.employees = employees.astype(np.int64)
        self.employees_known = rng.random(n) >= 0.08
        self.industry = _pick(rng, INDUSTRIES, n)
        self.country = _pick(rng, COUNTRIES, n)
        self.lead_source = _pick(rng, LEAD_SOURCES, n)
        self.log_size = (np.log(self.employees) - np.log(60)) / 1.5
        self.intent = (
            rng.normal(0, 0.9, n)
            + 0.25 * self.log_size
            + np.array([row[2] for row in INDUSTRIES])[self.industry]
            + np.array([row[2] for row in LEAD_SOURCES])[self.lead_source]
        )
        # A customer's health: mostly its intent, partly luck; low health makes a fall in usage likelier.
        self.health = 0.7 * self.intent + rng.normal(0, 0.7, n)
        self.offsets = np.array([row[2] for row in COUNTRIES], dtype=float)[self.country]
        self.revenue = np.round(self.employees * rng.lognormal(np.log(170_000), 0.45, n), -3)
        self.revenue[(rng.random(n) < 0.2) | (~self.employees_known & (rng.random(n) < 0.6))] = np.nan
        self.billing_annual = rng.random(n) < 0.3

        # Older customers (about 15%) were won before the window and pay on its first day; the others are
        # created during the window, more of them lately (the company is growing).
        self.is_old = rng.random(n) < 0.15
        created_day = np.where(self.is_old, -rng.integers(60, 720, n), np.floor(WINDOW_DAYS * rng.random(n) ** 0.8))
        self.created_day = created_day.astype(np.int64)
        self.created_tod = business_seconds(rng, self.offsets)
        self.account_created = self.created_day * DAY + self.created_tod
        source_names = np.array([row[0] for row in LEAD_SOURCES])[self.lead_source]
        self.enters_as_trial = (rng.random(n) < 0.22) | (source_names == "product-signup")

        # State, per account.
        self.stage = np.full(n, NOT_YET)
        self.since = np.zeros(n, dtype=np.int64)  # day the current stage was entered
        self.floor = np.zeros(n, dtype=np.int64)  # seconds into today before which no signal of today may fall
        self.trial_end = np.zeros(n, dtype=np.int64)
        self.trial_extended = np.zeros(n, dtype=bool)
        self.paid_day = np.zeros(n, dtype=np.int64)  # billing anniversary
        self.seats = np.zeros(n, dtype=np.int64)  # people using the product (first user + those invited)
        self.activity = np.zeros(n)  # usage multiplier: grows for healthy customers, decays when declining
        self.declining = np.zeros(n, dtype=bool)
        self.seat_cap = np.where(self.employees_known, np.maximum(3, 0.6 * self.employees), 40.0)
        self.cumulative = np.zeros((N_GROUPS, n, WINDOW_DAYS + 1), dtype=np.int32)  # signals per group, summed

        # What the simulation records.
        self.tr_account: list[np.ndarray] = []
        self.tr_stage: list[np.ndarray] = []
        self.tr_time: list[np.ndarray] = []
        self.daily: list[tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]] = []  # acc, day, type, n, floor
        self.events: list[tuple[int, int, int, str, dict[str, Any]]] = []  # account, type, time, detail, properties

        self.day_factor = day_factors(rng, self.start)
        self.rates = np.array([spec.rates for spec in TYPES]).T  # (stage, type)
        self.intent_factor = np.exp(np.outer(self.intent, [spec.intent for spec in TYPES]))  # (account, type)
        scale = np.array([spec.scale for spec in TYPES])
        self.seat_cols, self.act_cols = np.flatnonzero(scale == "seats"), np.flatnonzero(scale == "act")
        self.group_of = np.zeros((len(TYPES), N_GROUPS), dtype=np.int32)
        for t, spec in enumerate(TYPES):
            if spec.group is not None:
                self.group_of[t, spec.group] = 1

    # --- helpers ----------------------------------------------------------------------------------------------
    def window(self, group: int, day: int, days: int) -> np.ndarray:
        """Signals of a group per account over the ``days`` days ending with ``day`` (included)."""
        return self.cumulative[group, :, day + 1] - self.cumulative[group, :, max(0, day + 1 - days)]

    def record(self, idx: np.ndarray, to: int | np.ndarray, times: np.ndarray) -> None:
        self.tr_account.append(idx.astype(np.int64))
        self.tr_stage.append(np.broadcast_to(np.asarray(to, dtype=np.int64), idx.shape).copy())
        self.tr_time.append(times.astype(np.int64))

    def order(self, idx: np.ndarray, times: np.ndarray, detail: str) -> None:
        """An order signal for each account at its current plan (new, upgrade, downgrade, renewal)."""
        for a, t in zip(idx.tolist(), times.tolist(), strict=True):
            plan, annual = int(self.stage[a]), bool(self.billing_annual[a])
            amount = PLAN_PRICES[plan] * (12 * 0.85 if annual else 1.0)
            props = {"plan": STAGE_KEYS[plan], "amount": round(amount, 2), "currency": "EUR",
                     "billing": "annual" if annual else "monthly"}  # fmt: skip
            self.events.append((a, TYPE_INDEX["order"], t + int(self.rng.integers(60, 1800)), detail, props))

    def start_trial(self, idx: np.ndarray, day: int, tod: np.ndarray) -> None:
        self.trial_end[idx] = day + TRIAL_DAYS
        self.seats[idx] = np.maximum(self.seats[idx], 1)
        self.activity[idx] = np.exp(0.35 * self.intent[idx] + self.rng.normal(0, 0.3, len(idx)))
        for a, t in zip(idx.tolist(), (day * DAY + tod).tolist(), strict=True):
            when = t + int(self.rng.integers(10, 120))
            self.events.append((a, TYPE_INDEX["trial-started"], when, "", {"plan": "corporate"}))

    # --- phases -----------------------------------------------------------------------------------------------
    def old_customers(self) -> None:
        """Write the history of customers won before the window (lead → trial → paying, maybe an expansion);
        on day 0 they are paying, with a team already using the product."""
        rng, old = self.rng, np.flatnonzero(self.is_old)
        k = len(old)
        corporate = rng.random(k) < _sigmoid(0.8 * self.log_size[old] + 0.3 * self.intent[old] - 0.6)
        tier = np.where(corporate, CORPORATE, STARTER)
        tier = np.where(corporate & (self.employees[old] >= 500) & (rng.random(k) < 0.5), ENTERPRISE, tier)
        trial_day = self.created_day[old] + rng.integers(1, 20, k)
        convert_day = trial_day + rng.integers(10, 28, k)
        expanded = (tier > STARTER) & (rng.random(k) < 0.6)
        # strictly after the conversion day and before the window
        expand_day = convert_day + 1 + np.floor(rng.random(k) * (-2 - convert_day)).astype(np.int64)
        offsets = self.offsets[old]
        self.record(old, LEAD, self.account_created[old])
        self.record(old, TRIAL, trial_day * DAY + business_seconds(rng, offsets))
        self.record(old, np.where(expanded, tier - 1, tier), convert_day * DAY + business_seconds(rng, offsets))
        self.record(
            old[expanded], tier[expanded], expand_day[expanded] * DAY + business_seconds(rng, offsets[expanded])
        )
        self.stage[old] = tier
        self.since[old] = np.where(expanded, expand_day, convert_day)
        self.paid_day[old] = convert_day
        seats = np.round(rng.lognormal(np.log(2 + self.employees[old] ** 0.35), 0.5))
        self.seats[old] = np.clip(seats, 1, 60).astype(np.int64)
        self.activity[old] = np.exp(0.3 * self.intent[old] + rng.normal(0, 0.3, k))

    def births(self, d: int) -> None:
        """Accounts created today enter as a lead, or straight into a trial (self-serve sign-up)."""
        born = np.flatnonzero((self.created_day == d) & ~self.is_old)
        if not len(born):
            return
        entry = np.where(self.enters_as_trial[born], TRIAL, LEAD)
        self.stage[born], self.since[born] = entry, d
        self.floor[born] = np.minimum(self.created_tod[born] + STAGE_SETTLE, DAY - 1)
        self.record(born, entry, self.account_created[born])
        trials = born[entry == TRIAL]
        self.start_trial(trials, d, self.created_tod[trials])

    def signals(self, d: int) -> None:
        """Today's signals: Poisson counts per account and type from stage, intent, activity and seats."""
        stage, seats, activity, declining = self.stage, self.seats, self.activity, self.declining
        alive = stage >= 0
        lam = self.rates[np.maximum(stage, 0)] * alive[:, None] * self.intent_factor
        lam[:, self.seat_cols] *= (USAGE_VOLUME * activity * np.maximum(seats, 1) ** 0.6)[:, None]
        lam[:, self.act_cols] *= activity[:, None]
        lam[:, SUPPORT] *= np.sqrt(np.maximum(seats, 1)) * (1 + 3 * declining)  # trouble shows in tickets
        lam[:, INVITE] *= activity * np.clip(1 - seats / self.seat_cap, 0.03, 1)  # fewer left to invite
        # sales follows up demo and quote requests; CS calls the customers whose usage falls
        asked = d > 0 and (self.window(G_DEMO, d - 1, 5) + self.window(G_QUOTE, d - 1, 5)) > 0
        lam[:, SALES_CALL] += 0.35 * (asked & (stage <= FREEMIUM) & alive)
        lam[:, CHECK_IN] *= 1 + declining
        counts = self.rng.poisson(lam * self.day_factor[d])
        acc, typ = np.nonzero(counts)
        self.daily.append((acc, d, typ, counts[acc, typ], self.floor[acc]))
        self.seats += counts[:, INVITE]
        self.cumulative[:, :, d + 1] = self.cumulative[:, :, d] + (counts @ self.group_of).T

        # renewals on the billing anniversary
        paying = (stage >= STARTER) & (stage <= ENTERPRISE)
        months = d - self.paid_day
        renew = np.flatnonzero(paying & (months > 0) & (months % np.where(self.billing_annual, 365, 30) == 0))
        if len(renew):
            floor = self.floor[renew]
            tod = floor + business_seconds(self.rng, self.offsets[renew]) * (DAY - floor) // DAY
            self.order(renew, d * DAY + tod, "renewal")

    def drift(self) -> None:
        """Activity drifts: healthy customers grow, declining ones fall off, free users drift away slowly."""
        rng, stage, n = self.rng, self.stage, self.n
        paying = (stage >= STARTER) & (stage <= ENTERPRISE)
        onset = paying & ~self.declining & (rng.random(n) < 0.004 * np.exp(-1.1 * self.health))
        recover = self.declining & (rng.random(n) < 0.006)
        self.declining = (self.declining | onset) & ~recover
        rate = np.select(
            [paying & self.declining, paying, stage == FREEMIUM, stage == TRIAL],
            [-1 / 28, 0.002 * self.health, -0.006 + 0.003 * self.intent, 0.01 * self.intent],
            0.0,
        )
        self.activity = np.clip(self.activity * np.exp(rate + rng.normal(0, 0.03, n)), 0.01, 3.0)

    def decide(self, d: int) -> Moves:
        """Tomorrow's moves, from the behaviour recorded up to today: [(accounts, to stage, order detail)]."""
        u = self.rng.random((12, self.n))  # the draws of every decision below, one row each
        age = d + 1 - self.since
        moves = self.decide_leads(d, u, age)
        trial_moves, converts = self.decide_trials(d, u)
        moves += trial_moves
        free_moves, free_churn = self.decide_free(d, u, age, converts)
        moves += free_moves
        moves += self.decide_paying(d, u, age, free_churn)
        return moves

    def decide_leads(self, d: int, u: np.ndarray, age: np.ndarray) -> Moves:
        """Leads start a trial (a few a free plan) when they show intent: pricing views, demo requests, content, CTA
        clicks."""
        stage, intent, w = self.stage, self.intent, self.window
        pricing14, demo14 = w(G_PRICING, d, 14), w(G_DEMO, d, 14)
        lead_logit = (
            -6.0 + 0.4 * intent + 0.4 * pricing14 + 1.4 * demo14 + 0.25 * w(G_NURTURE, d, 14) + 0.4 * w(G_CTA, d, 14)
        )
        go = (stage == LEAD) & (age >= 1) & (u[0] < _sigmoid(lead_logit))
        return [(np.flatnonzero(go & (u[1] >= 0.12)), TRIAL, ""), (np.flatnonzero(go & (u[1] < 0.12)), FREEMIUM, "")]

    def decide_trials(self, d: int, u: np.ndarray) -> tuple[Moves, np.ndarray]:
        """Trials buy (a few early, most at the end) in proportion to what they did in the last four weeks;
        hesitant ones with sales contact get two more weeks; the rest keep a free plan or expire.

        Returns the moves to a free plan or to expired, and which accounts buy (a mask over all accounts).
        """
        rng, stage, intent, w = self.rng, self.stage, self.intent, self.window
        pricing28, invite28, demo28, quote28 = (
            w(G_PRICING, d, 28),
            w(G_INVITE, d, 28),
            w(G_DEMO, d, 28),
            w(G_QUOTE, d, 28),
        )
        trial_score = (
            0.15 * pricing28 + 0.3 * invite28 + 0.5 * w(G_INTEGRATION, d, 28) + 0.9 * demo28 + 0.6 * quote28
            + 0.2 * intent
        )  # fmt: skip
        in_trial = stage == TRIAL
        early = in_trial & (u[2] < _sigmoid(-9.5 + trial_score))
        ending = in_trial & (d + 1 >= self.trial_end) & ~early
        extend = ending & ~self.trial_extended & (((demo28 + quote28) > 0) | (pricing28 >= 3)) & (u[3] < 0.35)
        ending &= ~extend
        converts = early | (ending & (u[4] < _sigmoid(-3.9 + trial_score)))
        rest = ending & ~converts
        to_freemium = rest & (u[5] < _sigmoid(-2.0 + 0.04 * w(G_USAGE, d, 28)))
        moves: Moves = [(np.flatnonzero(rest & ~to_freemium), EXPIRED, ""), (np.flatnonzero(to_freemium), FREEMIUM, "")]
        self.trial_extended |= extend
        self.trial_end[extend] += TRIAL_DAYS
        for a in np.flatnonzero(extend).tolist():
            when = (d + 1) * DAY + int(business_seconds(rng, self.offsets[a : a + 1])[0])
            self.events.append((a, TYPE_INDEX["trial-extended"], when, "", {"days": TRIAL_DAYS}))
        return moves, converts

    def decide_free(self, d: int, u: np.ndarray, age: np.ndarray, converts: np.ndarray) -> tuple[Moves, np.ndarray]:
        """Free accounts that come back buy too (freemium upgrades, win-backs of expired trials and churned ones),
        with the trials that buy (``converts``, extended here); free accounts unused for six weeks are lost.

        Returns the purchases and which free accounts are lost (a mask over all accounts).
        """
        rng, n, stage, intent, w = self.rng, self.n, self.stage, self.intent, self.window
        pricing14, demo14, quote14 = w(G_PRICING, d, 14), w(G_DEMO, d, 14), w(G_QUOTE, d, 14)
        invite14, integration14, usage14 = w(G_INVITE, d, 14), w(G_INTEGRATION, d, 14), w(G_USAGE, d, 14)
        free_logit = (
            -7.3 + 0.4 * pricing14 + 0.4 * invite14 + 0.5 * integration14 + 1.2 * demo14 + 0.8 * quote14
            + 0.02 * usage14 + 0.2 * intent
        )  # fmt: skip
        converts |= (stage == FREEMIUM) & (u[6] < _sigmoid(free_logit))
        converts |= (stage == EXPIRED) & (u[6] < _sigmoid(-8.5 + 0.5 * pricing14 + 1.5 * demo14 + quote14))
        reactivates = (stage == CHURN) & (u[6] < _sigmoid(-9.5 + 0.6 * w(G_PRICING, d, 30) + 1.5 * demo14))
        # The plan bought follows company size and intent; the biggest talk to sales and may go enterprise.
        plan = np.where(0.8 * self.log_size + 0.4 * intent + rng.normal(0, 0.5, n) > 0.9, CORPORATE, STARTER)
        plan = np.where((self.employees >= 1000) & (w(G_DEMO, d, 28) > 0) & (u[7] < 0.3), ENTERPRISE, plan)
        bought = np.flatnonzero(converts)
        moves: Moves = [(bought, plan[bought], "new"), (np.flatnonzero(reactivates), STARTER, "new")]
        free_churn = ~converts & (stage == FREEMIUM) & (age >= 45) & (w(G_USAGE, d, 42) == 0) & (u[8] < 0.03)
        return moves, free_churn

    def decide_paying(self, d: int, u: np.ndarray, age: np.ndarray, free_churn: np.ndarray) -> Moves:
        """Paying accounts: falling usage and support tickets lead to churn or a smaller plan; rising usage, new
        seats, integrations and sales conversations lead to a bigger plan. The lost free accounts churn with them."""
        stage, intent, w = self.stage, self.intent, self.window
        usage14 = w(G_USAGE, d, 14)
        paying = (stage >= STARTER) & (stage <= ENTERPRISE)
        baseline_days = min(max(d + 1 - 14, 0), 60)
        baseline = self.cumulative[G_USAGE, :, max(0, d + 1 - 14)] - self.cumulative[G_USAGE, :, max(0, d + 1 - 74)]
        log_trend = np.log((usage14 / 14 + 0.5) / (baseline / max(baseline_days, 1) + 0.5))
        if baseline_days < 14:
            log_trend[:] = 0.0  # too little history to tell a trend
        falling = np.clip(-log_trend, 0, 3)
        tickets30 = np.minimum(w(G_SUPPORT, d, 30), 5)
        churn_logit = -8.6 + 3.0 * falling + 0.5 * tickets30 - 0.3 * intent
        churns = paying & (age >= 30) & (u[9] < _sigmoid(churn_logit))
        contract_logit = -9.0 + 1.4 * falling + 0.3 * tickets30
        contracts = paying & (stage > STARTER) & (age >= 45) & ~churns & (u[10] < _sigmoid(contract_logit))
        expand_logit = (
            -7.0 + 0.45 * w(G_INVITE, d, 30) + 0.5 * w(G_INTEGRATION, d, 30) + 1.4 * np.clip(log_trend, -1, 1)
            + 0.8 * w(G_QUOTE, d, 30) + 0.8 * w(G_DEMO, d, 30) + 0.3 * intent
        )  # fmt: skip
        small_for_enterprise = (stage == CORPORATE) & self.employees_known & (self.employees < 200)
        expand_p = _sigmoid(expand_logit) * np.where(small_for_enterprise, 0.25, 1.0)
        expands = paying & (stage < ENTERPRISE) & (age >= 45) & ~churns & ~contracts & (u[11] < expand_p)
        contr, expa = np.flatnonzero(contracts), np.flatnonzero(expands)
        return [
            (np.flatnonzero(churns | free_churn), CHURN, ""),
            (contr, stage[contr] - 1, "downgrade"),
            (expa, stage[expa] + 1, "upgrade"),
        ]

    def apply(self, moves: Moves, day: int) -> None:
        """Move accounts at a business hour of ``day``; that day's signals come after the move."""
        tod = business_seconds(self.rng, self.offsets)
        for idx, to, detail in moves:
            if not len(idx):
                continue
            times = day * DAY + tod[idx]
            before = self.stage[idx].copy()
            self.stage[idx], self.since[idx] = to, day
            self.floor[idx] = np.minimum(tod[idx] + STAGE_SETTLE, DAY - 1)
            self.record(idx, to, times)
            if np.isscalar(to) and to == TRIAL:
                self.start_trial(idx, day, tod[idx])
            elif np.isscalar(to) and to == FREEMIUM:
                self.activity[idx] *= 0.6
            elif np.isscalar(to) and to == CHURN:
                self.declining[idx] = False
            if detail == "new":  # a purchase (from a trial, a free plan, or after churning)
                self.paid_day[idx] = day
                restart = np.exp(0.3 * self.intent[idx]) * 0.7
                self.activity[idx] = np.where(before == TRIAL, self.activity[idx], restart)
                self.seats[idx] = np.maximum(self.seats[idx], 1)
            if detail:
                self.order(idx, times, detail)

    def run(self) -> None:
        self.old_customers()
        for d in range(WINDOW_DAYS):
            self.births(d)
            self.signals(d)
            self.drift()
            self.floor[:] = 0
            if d + 1 < WINDOW_DAYS:
                self.apply(self.decide(d), d + 1)

    # --- results ----------------------------------------------------------------------------------------------
    def signal_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], list[dict[str, Any]]]:
        """Every signal as (account, type, time, event index) sorted by time, with the events' details and
        properties (index 0: none)."""
        rng = self.rng
        acc, day, typ, count, floor = (np.concatenate([np.broadcast_to(r[i], r[0].shape) for r in self.daily])
                                       for i in range(5))  # fmt: skip
        repeat = np.repeat(np.arange(len(count)), count)
        s_account, s_type, s_day, s_floor = acc[repeat], typ[repeat], day[repeat], floor[repeat]
        spread = np.array([0.7 if spec.timing == "product" else 0.85 for spec in TYPES])[s_type]
        tod = business_seconds(rng, self.offsets[s_account], spread=spread)
        s_time = s_day * DAY + s_floor + tod * (DAY - s_floor) // DAY  # squeezed after a stage change that day
        s_event = np.zeros(len(s_type), dtype=np.int64)
        details: list[str] = [""]
        properties: list[dict[str, Any]] = [{}]
        if self.events:
            ev = np.array([(a, t, when) for a, t, when, _detail, _props in self.events], dtype=np.int64)
            s_account = np.concatenate([s_account, ev[:, 0]])
            s_type = np.concatenate([s_type, ev[:, 1]])
            s_time = np.concatenate([s_time, np.minimum(ev[:, 2], WINDOW_DAYS * DAY - 1)])
            s_event = np.concatenate([s_event, np.arange(1, len(self.events) + 1)])
            details += [detail for _a, _t, _when, detail, _props in self.events]
            properties += [props for _a, _t, _when, _detail, props in self.events]
        order = np.lexsort((s_type, s_account, s_time))
        return s_account[order], s_type[order], s_time[order], s_event[order], details, properties

    def people(self, s_account: np.ndarray, s_time: np.ndarray, s_type: np.ndarray) -> tuple[np.ndarray, ...]:
        """Contacts as (account, created, is user), sorted by account then creation: each account's first person,
        the users invited in the product (created when invited), and people met through marketing."""
        rng, n = self.rng, self.n
        invited = s_type == INVITE
        # older customers' first users joined between the account's creation and the window start
        initial = np.where(self.is_old, self.seats - np.bincount(s_account[invited], minlength=n), 1)
        initial = np.maximum(initial, 1)
        extra = np.repeat(np.arange(n), initial - 1)
        marketing = np.repeat(np.arange(n), rng.poisson(2.0 + 2.0 * np.log10(self.employees + 1)))
        marketing_from = np.maximum(self.account_created[marketing], 0)
        c_account = np.concatenate([np.arange(n), extra, s_account[invited], marketing])
        c_created = np.concatenate(
            [
                self.account_created,
                self.account_created[extra] - (rng.random(len(extra)) * self.account_created[extra]).astype(np.int64),
                s_time[invited] + rng.integers(60, 3600, int(invited.sum())),
                marketing_from + (rng.random(len(marketing)) * (WINDOW_DAYS * DAY - marketing_from)).astype(np.int64),
            ]
        )
        c_user = np.concatenate([np.ones(n + len(extra) + int(invited.sum()), bool), np.zeros(len(marketing), bool)])
        order = np.lexsort((c_created, c_account))  # stable: each account's first person stays first
        return c_account[order], c_created[order], c_user[order]

    def account_fields(self) -> tuple[list[dict[str, Any]], list[str | None]]:
        """Traits (lead source, campaign, plan, billing, seats) and owner of each account, from how it ended."""
        draw = self.rng.random(self.n)
        traits: list[dict[str, Any]] = []
        owners: list[str | None] = []
        for a in range(self.n):
            stage, source = int(self.stage[a]), LEAD_SOURCES[self.lead_source[a]][0]
            item: dict[str, Any] = {"lead_source": source}
            if source in ("paid-search", "linkedin"):
                item["utm_campaign"] = CAMPAIGNS[a % len(CAMPAIGNS)]
            cs_owner = OWNERS[0] if draw[a] < 0.5 else OWNERS[1]
            if STARTER <= stage <= ENTERPRISE:
                billing = "annual" if self.billing_annual[a] else "monthly"
                item.update(plan=STAGE_KEYS[stage], billing=billing, seats=int(self.seats[a]))
                owners.append(cs_owner)  # customers belong to customer success
            elif stage in (CHURN, EXPIRED):
                item["plan"] = "none"
                owners.append(cs_owner if stage == CHURN else OWNERS[2])
            else:  # leads, trials and free plans belong to sales; some fresh leads are not assigned yet
                if stage != LEAD:
                    item.update(plan="free", seats=int(self.seats[a]))
                owners.append(OWNERS[2] if draw[a] < 0.75 or stage != LEAD else None)
            traits.append(item)
        return traits, owners


def demo_simulate(*, accounts: int = 300, seed: int = 42, now: datetime | None = None) -> DemoWorld:
    """Simulate the demo world: firmographics, nine months of daily behaviour and the stage moves it causes.

    Pure NumPy with one seeded generator: the same arguments give the same world.
    """
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    sim = _Simulation(accounts=accounts, seed=seed, now=demo_anchor(now))
    sim.run()
    rng, n = sim.rng, sim.n
    s_account, s_type, s_time, s_event, event_details, event_properties = sim.signal_rows()
    c_account, c_created, c_user = sim.people(s_account, s_time, s_type)
    s_contact = assign_contacts(rng, s_account, s_type, s_time, c_account, c_created, c_user, n)
    inbound = np.array([spec.direction == IN for spec in TYPES])[s_type]
    c_last_seen = np.full(len(c_account), -1, dtype=np.int64)
    seen = inbound & (s_contact >= 0)
    np.maximum.at(c_last_seen, s_contact[seen], s_time[seen])
    names, domains = brands(rng, n, sim.country)
    first, last, email, title = contact_identities(rng, c_account, c_user, sim.employees, sim.employees_known, domains)
    s_topic, s_detail, s_properties, s_anonymous = signal_details(
        rng, s_account, s_type, s_contact, s_event, event_details, event_properties, sim.industry, sim.health
    )
    traits, owners = sim.account_fields()
    return DemoWorld(
        start=sim.start,
        now=sim.now,
        names=names,
        domains=domains,
        industries=[INDUSTRIES[i][0] for i in sim.industry],
        countries=[COUNTRIES[i][0] for i in sim.country],
        employees=np.where(sim.employees_known, sim.employees, -1),
        revenue=sim.revenue,
        account_created=sim.account_created,
        account_traits=traits,
        account_owner=owners,
        final_stage=sim.stage.copy(),
        tr_account=np.concatenate(sim.tr_account),
        tr_stage=np.concatenate(sim.tr_stage),
        tr_time=np.concatenate(sim.tr_time),
        c_account=c_account,
        c_created=c_created,
        c_first=first,
        c_last=last,
        c_email=email,
        c_title=title,
        c_last_seen=c_last_seen,
        s_account=s_account,
        s_type=s_type,
        s_time=s_time,
        s_contact=s_contact,
        s_topic=s_topic,
        s_detail=s_detail,
        s_properties=s_properties,
        s_anonymous=s_anonymous,
        s_received_delay=rng.integers(1, 180, len(s_type)),
    )
