"""Features of accounts at a cut-off, point in time: every value uses only what happened strictly before it.

The feature space (which columns, in which order, and what each means in the product's words) is fixed when a model
is trained and stored with it, so prediction builds the same columns from whatever the database holds later (a new
signal type is ignored by an old model, a vanished one is all zeros).

Columns, per account at cut-off ``t`` (windows end at ``t``, excluded):

- per signal type: count in the last 7, 30 and 90 days, and its trend (30 days against the 30 before, log ratio);
- per topic: count in the last 30 days;
- measures as the scorecard knows them: engagement (points decayed by each type's half-life), engagement trend
  (points per day of the last 14 days / of the 60 before), active users in 7 and 30 days, users seen in the year,
  share of active users, adoption (key features used in 30 days / key features), activation (milestones reached in
  the year / milestones), days since the last signal, signals in 30 days; the scorecard's lead, fit, engagement
  score and signal strength at ``t`` (``scores``); signals per day and stage changes per year over the account's life
  (at least ``MIN_LIFE_DAYS``, at most the lookback);
- fit fields: employees, annual revenue (missing stays missing), industry and country (the commonest ones);
- tenure, stage (one column per stage), days in the stage, paying rank;
- movements made before ``t`` (conversions, expansions, contractions, churns, reactivations);
- rule hits open at ``t`` (one column per signal rule);
- imported fields (``traits`` of accounts and their contacts; ``traits.traits_choose``): a numeric one as its number
  (missing stays missing), a categorical one as one column per common value, one for any other value (a value
  never seen in training lands there too) and one for "unknown". Fields have no history: their value is the one
  known now, taken as known at every cut-off after the account (or the contact that carries it) existed. A field
  that was filled in after the movement (a status) is leakage: the training guard refuses a model that learnt it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .history import DAY, History
from .scores import ScorecardSpec, scores_at
from .traits import trait_columns_fill, trait_label, traits_choose

WINDOWS = (7, 30, 90)
LOOKBACK_DAYS = 365  # nothing older counts: the same reach in training and in the nightly prediction
TREND_RECENT_DAYS, TREND_BASE_DAYS = 14, 60
DEFAULT_HALF_LIFE_DAYS = 30.0
TOP_CATEGORIES = 15
MAX_TOPICS = 40
PAST_MOVEMENTS = ("conversion", "expansion", "contraction", "churn", "reactivation")
MIN_LIFE_DAYS = 30  # rates per day of an account's life count at least a month (a 2-day-old account is no outlier)

# The measures (key, words, unit). A feature space stores the keys it was built with: a model trained before a
# measure existed keeps its columns (LEGACY_MEASURES when its space does not say).
MEASURES = (
    ("engagement", "Engagement (decayed points)", ""),
    ("engagement_trend", "Engagement trend", "×"),
    ("active_users_7d", "Active users in 7 days", ""),
    ("active_users_30d", "Active users in 30 days", ""),
    ("total_users", "Users seen in the last year", ""),
    ("active_ratio_30d", "Share of users active in 30 days", "%"),
    ("adoption", "Key features used in 30 days", "%"),
    ("activation", "Activation milestones reached", "%"),
    ("days_since_last_signal", "Days since the last signal", "days"),
    ("signals_30d", "Signals in 30 days", ""),
    ("tenure_days", "Tenure", "days"),
    ("days_in_stage", "Days in the current stage", "days"),
    ("paying_rank", "Plan rank", ""),
    ("employees", "Employees", ""),
    ("annual_revenue", "Annual revenue", ""),
    # the scorecard's own scores at the time (scores.py), and rates over the account's life
    ("lead_score", "Lead score", "score"),
    ("fit_score", "Fit score", "score"),
    ("engagement_score", "Engagement score", "score"),
    ("signal_strength", "Signal strength", "score"),
    ("signals_per_day", "Signals per day (over its life, up to a year)", ""),
    ("stage_changes_per_year", "Stage changes per year", ""),
)
LEGACY_MEASURES = [m[0] for m in MEASURES[:15]]
SCORE_MEASURES = ("lead_score", "fit_score", "engagement_score", "signal_strength")

# Measures the signal-rule language knows (scoring.conditions.MEASURES): a candidate over one of these can
# become a rule condition as it is.
RULE_MEASURES = {
    "engagement", "engagement_trend", "active_users_7d", "active_users_30d", "total_users", "active_ratio_30d",
    "adoption", "activation", "tenure_days",
}  # fmt: skip


@dataclass(frozen=True)
class Column:
    """One feature: a stable name, words for people, and what a rule condition over it would be."""

    name: str
    label: str
    # signal_count | signal_trend | topic_count | measure | field | category | stage | movement | rule |
    # trait_number | trait_category
    kind: str
    key: str = ""  # signal type / topic / measure / field / stage key / rule name
    window_days: int = 0
    unit: str = ""

    def describe(self, value: float) -> str:
        """The column and an account's value in product words ("Pricing page view: 4 in 7 days")."""
        if self.kind == "signal_count" or self.kind == "topic_count":
            return f"{self.label}: {_num(value)} in {self.window_days} days"
        if self.kind == "signal_trend":
            if not math.isfinite(value):
                return f"{self.label}: no trend yet"
            factor = math.exp(min(value, 700.0))  # (a log ratio: never near that)
            return f"{self.label} {'up' if factor >= 1 else 'down'} ×{factor:.1f} (30 days vs the 30 before)"
        if self.kind == "trait_category":
            return self.label
        if self.kind in ("category", "stage", "rule"):
            return self.label if value >= 0.5 else f"not {self.label[0].lower()}{self.label[1:]}"
        if self.kind == "movement":
            return f"{self.label}: {_num(value)} before"
        if not math.isfinite(value):
            return f"{self.label}: unknown"
        if self.unit == "score":
            return f"{self.label} {value:.0f} at the time"
        if self.unit == "%":
            return f"{self.label}: {100 * value:.0f}%"
        if self.unit == "×":
            return f"{self.label}: ×{value:.2f}"
        return f"{self.label}: {_num(value)}{(' ' + self.unit) if self.unit else ''}"


def _num(value: float) -> str:
    if not math.isfinite(value):
        return "unknown"
    return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:.2g}"


@dataclass
class FeatureSpace:
    """The columns of a model, fixed at training time and stored with it (``to_json`` / ``from_json``)."""

    type_keys: list[str]
    type_labels: list[str]
    topic_keys: list[str]
    topic_labels: list[str]
    industries: list[str]
    countries: list[str]
    stage_keys: list[str]
    stage_labels: list[str]
    rule_names: list[str]
    measure_keys: list[str] = field(default_factory=lambda: [m[0] for m in MEASURES])
    trait_numeric: list[str] = field(default_factory=list)  # imported fields read as numbers...
    trait_bands: list[list[float]] = field(default_factory=list)  # ...and the edges of their quintile bands
    trait_keys: list[str] = field(default_factory=list)  # imported fields read as categories...
    trait_values: list[list[str]] = field(default_factory=list)  # ...and the values of each with a column
    trait_left_out: list[list[str]] = field(default_factory=list)  # [field, why]: restates the current stage
    columns: list[Column] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.columns:
            self.columns = self._columns()
        self.index = {c.name: i for i, c in enumerate(self.columns)}

    @classmethod
    def from_history(cls, h: History) -> FeatureSpace:
        """Every signal type, stage and rule of the history; the commonest topics, industries and countries."""
        topic_n = np.bincount(h.ev_topic[h.ev_topic >= 0], minlength=len(h.topic_keys))
        topics = [i for i in np.argsort(-topic_n, kind="stable") if topic_n[i] > 0][:MAX_TOPICS]
        return cls(
            type_keys=list(h.type_keys),
            type_labels=list(h.type_labels),
            topic_keys=[h.topic_keys[i] for i in topics],
            topic_labels=[h.topic_labels[i] for i in topics],
            industries=_commonest(h.industry),
            countries=_commonest(h.country),
            stage_keys=list(h.stage_keys),
            stage_labels=list(h.stage_labels),
            rule_names=list(h.rule_names),
            **traits_choose(h),
        )

    def _columns(self) -> list[Column]:
        cols: list[Column] = []
        for key, label in zip(self.type_keys, self.type_labels, strict=True):
            for w in WINDOWS:
                cols.append(Column(f"type:{key}:{w}d", label, "signal_count", key, w))
            cols.append(Column(f"type:{key}:trend", label, "signal_trend", key, 30))
        for key, label in zip(self.topic_keys, self.topic_labels, strict=True):
            cols.append(Column(f"topic:{key}:30d", f"Signals about {label}", "topic_count", key, 30))
        known = dict((key, (label, unit)) for key, label, unit in MEASURES)
        for key in self.measure_keys:
            label, unit = known[key]
            kind = "field" if key in ("employees", "annual_revenue") else "measure"
            cols.append(Column(f"measure:{key}", label, kind, key, 0, unit))
        cols += [Column(f"industry:{v}", f"Industry is {v}", "category", v) for v in self.industries]
        cols += [Column(f"country:{v}", f"Country is {v}", "category", v) for v in self.countries]
        for key, label in zip(self.stage_keys, self.stage_labels, strict=True):
            cols.append(Column(f"stage:{key}", f"In stage {label}", "stage", key))
        words = {"conversion": "Conversions", "expansion": "Expansions", "contraction": "Contractions",
                 "churn": "Churns", "reactivation": "Reactivations"}  # fmt: skip
        cols += [Column(f"movement:{m}", words[m], "movement", m) for m in PAST_MOVEMENTS]
        cols += [Column(f"rule:{name}", f"Rule “{name}” holds", "rule", name) for name in self.rule_names]
        for j, key in enumerate(self.trait_numeric):
            cols.append(Column(f"trait:{key}", trait_label(key), "trait_number", key))
            # the band each number falls in: a linear model sees a threshold or a peak, not only a slope
            edges = self.trait_bands[j] if j < len(self.trait_bands) else []
            bounds = [-np.inf, *edges, np.inf]
            for b in range(len(edges) + 1):
                lo, hi = bounds[b], bounds[b + 1]
                band = f"below {_num(hi)}" if b == 0 else f"{_num(lo)} or more" if b == len(edges) else (
                    f"{_num(lo)} to {_num(hi)}")  # fmt: skip
                cols.append(Column(f"trait:{key}#{b}", f"{trait_label(key)} {band}", "trait_band", key))
        for key, values in zip(self.trait_keys, self.trait_values, strict=True):
            label = trait_label(key)
            cols += [Column(f"trait:{key}={v}", f"{label} is {v}", "trait_category", key) for v in values]
            cols.append(Column(f"trait:{key}|other", f"{label} is another value", "trait_category", key))
            cols.append(Column(f"trait:{key}|missing", f"{label} unknown", "trait_category", key))
        return cols

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def labels(self) -> list[str]:
        """Each column in product words ("Pricing page view, 30 days", "Lead source is Google")."""
        return [f"{c.label}, {c.window_days} days" if c.kind in ("signal_count", "topic_count") else
                f"{c.label} trend" if c.kind == "signal_trend" else c.label for c in self.columns]  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("columns")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpace:
        return cls(**{"measure_keys": LEGACY_MEASURES, **{k: list(v) for k, v in data.items()}})

    @property
    def traits_from(self) -> int:
        """The index of the first imported-field column (they come last); the column count when there is none."""
        kinds = [i for i, c in enumerate(self.columns) if c.kind.startswith("trait_")]
        return kinds[0] if kinds else len(self.columns)

    def without_traits(self, why: str) -> FeatureSpace:
        """This space without its imported-field columns (the same leading columns), each field noted as left out."""
        data = self.to_json()
        fields = [*self.trait_numeric, *self.trait_keys]
        data.update(trait_numeric=[], trait_bands=[], trait_keys=[], trait_values=[],
                    trait_left_out=[*self.trait_left_out, *([k, why] for k in fields)])  # fmt: skip
        return FeatureSpace.from_json(data)

    def compact(self) -> list[int]:
        """The columns of the compact model: measures, scores, fit fields and imported fields (no per-type, topic,
        category, stage, movement or rule column)."""
        return [
            i
            for i, c in enumerate(self.columns)
            if c.kind in ("measure", "field", "trait_number", "trait_band", "trait_category")
        ]


def _commonest(values: np.ndarray) -> list[str]:
    vals, counts = np.unique(np.asarray([v or "" for v in values], dtype=object).astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return [str(vals[i]) for i in order if vals[i]][:TOP_CATEGORIES]


def _map(keys: list[str], space_keys: list[str]) -> np.ndarray:
    pos = {k: i for i, k in enumerate(space_keys)}
    return np.array([pos.get(k, -1) for k in keys] + [-1], dtype=np.int64)  # last: for index -1


def features_at(
    h: History, space: FeatureSpace, t: float, idx: np.ndarray, *, current_stage: bool = False
) -> np.ndarray:
    """The features of accounts ``idx`` (indexes into ``h``) at cut-off ``t``: a (len(idx), columns) float32 array.

    Only signals, movements and rule hits strictly before ``t`` are read. ``current_stage``: when an account has no
    movement before ``t``, take its current stage (prediction for now; never in training). The column groups are
    filled in their stored order.
    """
    idx = np.asarray(idx, dtype=np.int64)
    if h.n // 2 < len(idx) < h.n:  # most accounts: all of them without filtering the signals is cheaper
        return features_at(h, space, t, np.arange(h.n), current_stage=current_stage)[idx]
    k, d = len(idx), len(space.columns)
    x = np.zeros((k, d), dtype=np.float64)
    col = space.index
    row_of = np.full(h.n, -1, np.int64)
    row_of[idx] = np.arange(k)
    ev = _signals_before(h, t, idx, row_of)
    by_band, tmap = _signal_type_columns(x, col, h, space, ev)
    _topic_columns(x, col, h, space, ev)
    _measure_columns(x, col, h, ev, by_band, tmap)
    _fit_columns(x, col, h, space, idx)
    _stage_columns(x, col, h, space, t, idx, current_stage=current_stage)
    _life_and_score_columns(x, col, h, t, idx, ev)
    trait_columns_fill(x, col, h, space, t, idx)
    _rule_columns(x, col, h, space, t, row_of)
    x[np.isinf(x)] = np.nan
    return x.astype(np.float32)


# Each signal's age band (< 7, < 14, < 30, < 60, < 74, < 90 days, older): one pass of integer counting serves every
# window below, instead of a weighted count per window.
_AGE_EDGES = np.array([7, TREND_RECENT_DAYS, 30, 60, TREND_RECENT_DAYS + TREND_BASE_DAYS, 90], dtype=np.float32)
_BANDS = len(_AGE_EDGES) + 1


def _upto(counts: np.ndarray, days: float) -> np.ndarray:
    """Counts within ``days`` from per-band counts (last axis: bands)."""
    return counts[..., : int(np.searchsorted(_AGE_EDGES, days, side="right"))].sum(axis=-1)


@dataclass
class _Signals:
    """The signals of the lookback before a cut-off of the accounts asked for (in time order)."""

    k: int  # how many accounts were asked for
    row: np.ndarray  # each signal's row in the features (its account's)
    type: np.ndarray
    topic: np.ndarray
    contact: np.ndarray
    age: np.ndarray  # days before the cut-off (float32)
    band: np.ndarray  # age band: 0 (< 7 days) … 6 (90 days or more)


def _signals_before(h: History, t: float, idx: np.ndarray, row_of: np.ndarray) -> _Signals:
    k = len(idx)
    lo = np.searchsorted(h.ev_time, t - LOOKBACK_DAYS * DAY, side="left")
    hi = np.searchsorted(h.ev_time, t, side="left")  # strictly before t
    r = row_of[h.ev_account[lo:hi]]
    sl = slice(lo, hi)
    if k == h.n and np.array_equal(idx, np.arange(k)):  # every account in order: nothing to drop, no copies
        ev_type, ev_topic, ev_contact = h.ev_type[sl], h.ev_topic[sl], h.ev_contact[sl]
        age = ((t - h.ev_time[sl]) / DAY).astype(np.float32)
    else:
        keep = r >= 0
        r = r[keep]
        ev_type, ev_topic, ev_contact = h.ev_type[sl][keep], h.ev_topic[sl][keep], h.ev_contact[sl][keep]
        age = ((t - h.ev_time[sl][keep]) / DAY).astype(np.float32)
    band = np.searchsorted(_AGE_EDGES, age, side="right").astype(np.int64)
    return _Signals(k, r, ev_type, ev_topic, ev_contact, age, band)


def _signal_type_columns(
    x: np.ndarray, col: dict[str, int], h: History, space: FeatureSpace, ev: _Signals
) -> tuple[np.ndarray, np.ndarray]:
    """Per signal type: counts in each window and the trend. Returns the counts per (account, type, age band) and
    each history type's column among the space's types (-1: none; last: for index -1)."""
    k, r, band, nb = ev.k, ev.row, ev.band, _BANDS
    tmap = _map(h.type_keys, space.type_keys)
    ty = tmap[ev.type]
    ts = len(space.type_keys)
    by_band: np.ndarray = np.zeros((k, ts, nb))
    if ts:
        if (ty >= 0).all():  # the usual case: every type of the history is a column (no copies)
            by_band = np.bincount((r * ts + ty) * nb + band, minlength=k * ts * nb).reshape(k, ts, nb)
        else:
            ok = ty >= 0
            by_band = np.bincount((r[ok] * ts + ty[ok]) * nb + band[ok], minlength=k * ts * nb).reshape(k, ts, nb)
        base = col[f"type:{space.type_keys[0]}:7d"]
        stride = len(WINDOWS) + 1
        for j, w in enumerate(WINDOWS):
            x[:, base + j : base + stride * ts : stride] = _upto(by_band, w)
        c30, c60 = _upto(by_band, 30), _upto(by_band, 60)
        x[:, base + len(WINDOWS) : base + stride * ts : stride] = np.log((c30 + 1.0) / (c60 - c30 + 1.0))
    return by_band, tmap


def _topic_columns(x: np.ndarray, col: dict[str, int], h: History, space: FeatureSpace, ev: _Signals) -> None:
    if space.topic_keys:
        tp = _map(h.topic_keys, space.topic_keys)[ev.topic]
        ok = (tp >= 0) & (ev.age < 30)
        n_top = len(space.topic_keys)
        topic_counts = np.bincount(ev.row[ok] * n_top + tp[ok], minlength=ev.k * n_top).reshape(ev.k, n_top)
        first = col[f"topic:{space.topic_keys[0]}:30d"]
        x[:, first : first + n_top] = topic_counts


def _measure_columns(
    x: np.ndarray, col: dict[str, int], h: History, ev: _Signals, by_band: np.ndarray, tmap: np.ndarray
) -> None:
    """Engagement and its trend, signals in 30 days, active users, adoption, activation, days since the last
    signal."""
    k, r, age, nb = ev.k, ev.row, ev.age, _BANDS
    points = h.type_points if np.any(h.type_points) else np.ones(len(h.type_keys))
    half = np.where(np.isnan(h.type_half_life), DEFAULT_HALF_LIFE_DAYS, h.type_half_life)
    pts = points[ev.type]
    decayed = pts * np.exp2(-age / half[ev.type])
    x[:, col["measure:engagement"]] = np.bincount(r, weights=decayed, minlength=k)
    points_by_band = np.bincount(r * nb + ev.band, weights=pts, minlength=k * nb).reshape(k, nb)
    recent_points = _upto(points_by_band, TREND_RECENT_DAYS)
    recent = recent_points / TREND_RECENT_DAYS
    baseline = (_upto(points_by_band, TREND_RECENT_DAYS + TREND_BASE_DAYS) - recent_points) / TREND_BASE_DAYS
    # negative points (tickets) count as nothing here: the trend is of activity, and a ratio needs positive parts
    x[:, col["measure:engagement_trend"]] = (np.maximum(recent, 0) + 0.1) / (np.maximum(baseline, 0) + 0.1)
    x[:, col["measure:signals_30d"]] = _upto(by_band.sum(axis=1), 30)
    _active_user_columns(x, col, ev)
    total = x[:, col["measure:total_users"]]
    x[:, col["measure:active_ratio_30d"]] = np.divide(
        x[:, col["measure:active_users_30d"]], total, out=np.zeros(k), where=total > 0
    )
    # adoption and activation: distinct key features (30 days) and milestones (the year) among the model's types
    in_space = tmap[:-1] >= 0
    key_cols = tmap[:-1][in_space & h.type_key_feature]
    mile_cols = tmap[:-1][in_space & h.type_milestone]
    if len(key_cols):
        x[:, col["measure:adoption"]] = (_upto(by_band[:, key_cols, :], 30) > 0).sum(axis=1) / len(key_cols)
    if len(mile_cols):
        x[:, col["measure:activation"]] = (by_band[:, mile_cols, :].sum(axis=-1) > 0).sum(axis=1) / len(mile_cols)
    last_age = np.full(k, float(LOOKBACK_DAYS), dtype=np.float32)
    if len(r):
        np.minimum.at(last_age, r, age)
    x[:, col["measure:days_since_last_signal"]] = last_age


def _active_user_columns(x: np.ndarray, col: dict[str, int], ev: _Signals) -> None:
    """Active users: each contact's newest signal (one unique over the window's contacts, then a minimum per
    contact)."""
    with_contact = ev.contact >= 0
    if with_contact.any():
        ids = ev.contact[with_contact]
        top = int(ids.max())
        if top < 20 * len(ids) + 1_000_000:  # ids dense enough: index by them (no sort)
            people_n, which = top + 1, ids
        else:
            people, which = np.unique(ids, return_inverse=True)
            people_n = len(people)
        newest = np.full(people_n, np.inf, dtype=np.float32)  # the same dtype as age: ufunc.at's fast path
        np.minimum.at(newest, which, ev.age[with_contact])
        person_row = np.zeros(people_n, np.int64)
        person_row[which] = ev.row[with_contact]  # a person belongs to one account here (any of theirs if several)
        for w, name in ((7, "active_users_7d"), (30, "active_users_30d"), (LOOKBACK_DAYS, "total_users")):
            weights = (newest < w).astype(np.float64)
            x[:, col[f"measure:{name}"]] = np.bincount(person_row, weights=weights, minlength=ev.k)


def _fit_columns(x: np.ndarray, col: dict[str, int], h: History, space: FeatureSpace, idx: np.ndarray) -> None:
    x[:, col["measure:employees"]] = h.employees[idx]
    x[:, col["measure:annual_revenue"]] = h.revenue[idx]
    for name, values in (("industry", h.industry[idx]), ("country", h.country[idx])):
        keys = space.industries if name == "industry" else space.countries
        if keys:
            lookup = {v: i for i, v in enumerate(keys)}
            which = np.array([lookup.get(v or "", -1) for v in values], dtype=np.int64)
            first = col[f"{name}:{keys[0]}"]
            has = which >= 0
            x[np.flatnonzero(has), first + which[has]] = 1.0


def _stage_columns(
    x: np.ndarray,
    col: dict[str, int],
    h: History,
    space: FeatureSpace,
    t: float,
    idx: np.ndarray,
    *,
    current_stage: bool,
) -> None:
    """Tenure, stage, days in it, paying rank, movements made before ``t``."""
    x[:, col["measure:tenure_days"]] = np.maximum((t - h.created[idx]) / DAY, 0.0)
    stage = h.stage_at(t, idx)
    since = h.stage_since(t, idx)
    if current_stage:
        stage = np.where(stage >= 0, stage, h.stage_now[idx])
    x[:, col["measure:days_in_stage"]] = np.where(np.isnan(since), np.nan, (t - since) / DAY)
    ranks = np.append(h.stage_ranks, 0)
    x[:, col["measure:paying_rank"]] = ranks[np.where(stage >= 0, stage, len(h.stage_ranks))]
    if space.stage_keys:
        smap = _map(h.stage_keys, space.stage_keys)[stage]
        first = col[f"stage:{space.stage_keys[0]}"]
        has = smap >= 0
        x[np.flatnonzero(has), first + smap[has]] = 1.0
    for m in PAST_MOVEMENTS:
        x[:, col[f"movement:{m}"]] = h.movements_between(m, idx, 0.0, t - 1e-6)


def _life_and_score_columns(
    x: np.ndarray, col: dict[str, int], h: History, t: float, idx: np.ndarray, ev: _Signals
) -> None:
    """Rates over the account's life (up to the lookback) and the scorecard's scores at the time."""
    life = np.clip((t - h.created[idx]) / DAY, MIN_LIFE_DAYS, LOOKBACK_DAYS)
    if "measure:signals_per_day" in col:
        x[:, col["measure:signals_per_day"]] = np.bincount(ev.row, minlength=ev.k) / life
    if "measure:stage_changes_per_year" in col:
        changes = h.changes_between(idx, t - LOOKBACK_DAYS * DAY, t - 1e-6)
        x[:, col["measure:stage_changes_per_year"]] = changes * 365.0 / life
    if any(f"measure:{m}" in col for m in SCORE_MEASURES):
        spec = h.scorecard if h.scorecard is not None else ScorecardSpec.from_history(h)
        got = scores_at(spec, h, t, idx, rows=ev.row, ev_type=ev.type, ev_topic=ev.topic, age=ev.age)
        for key, values in (("lead_score", got.lead), ("fit_score", got.fit), ("engagement_score", got.engagement),
                            ("signal_strength", got.strength)):  # fmt: skip
            if f"measure:{key}" in col:
                x[:, col[f"measure:{key}"]] = values


def _rule_columns(
    x: np.ndarray, col: dict[str, int], h: History, space: FeatureSpace, t: float, row_of: np.ndarray
) -> None:
    """Rule hits open at ``t``."""
    if space.rule_names and len(h.hit_account):
        rr = row_of[h.hit_account]
        rmap = _map(h.rule_names, space.rule_names)[h.hit_rule]
        sel = (rr >= 0) & (rmap >= 0) & (h.hit_set < t) & (h.hit_cleared >= t)
        first = col[f"rule:{space.rule_names[0]}"]
        x[rr[sel], first + rmap[sel]] = 1.0
