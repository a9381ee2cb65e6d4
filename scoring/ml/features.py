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
- imported fields (``traits`` of accounts and their contacts; :func:`traits_choose`): a numeric one as its number
  (missing stays missing), a categorical one as one column per common value, one for any other value (a value
  never seen in training lands there too) and one for "unknown". Fields have no history: their value is the one
  known now, taken as known at every cut-off after the account (or the contact that carries it) existed. A field
  that was filled in after the movement (a status) is leakage: the training guard refuses a model that learnt it.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .history import DAY, History
from .scores import ScorecardSpec, scores_at

WINDOWS = (7, 30, 90)
LOOKBACK_DAYS = 365  # nothing older counts: the same reach in training and in the nightly prediction
TREND_RECENT_DAYS, TREND_BASE_DAYS = 14, 60
DEFAULT_HALF_LIFE_DAYS = 30.0
TOP_CATEGORIES = 15
MAX_TOPICS = 40
PAST_MOVEMENTS = ("conversion", "expansion", "contraction", "churn", "reactivation")
MIN_LIFE_DAYS = 30  # rates per day of an account's life count at least a month (a 2-day-old account is no outlier)
# Imported fields (traits): at most MAX_TRAITS of them (the most often filled), each filled for at least
# MIN_TRAIT_SHARE of the accounts (and MIN_TRAIT_ACCOUNTS); a field is a number when NUMERIC_SHARE of its values
# are; of a categorical one the TRAIT_VALUES commonest values held by MIN_TRAIT_ACCOUNTS accounts get a column each.
MAX_TRAITS = 40
MIN_TRAIT_SHARE = 0.01
MIN_TRAIT_ACCOUNTS = 5
NUMERIC_SHARE = 0.95
TRAIT_VALUES = 15
# A field that restates where each account is now (a plan, a status, a billing period) is today's value: no past
# moment knew it, and a model trained on it learns the answer (and then finds no current lead like the converted
# ones). It is left out when it tells this share more of the accounts' current stage kind than of their first one
# (uncertainty coefficient; the demo's plan 0.83, billing 0.68, seats 0.52; lead source 0.01).
STATE_FIELD_SHARE = 0.4

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


def trait_label(key: str) -> str:
    """An imported field's name in words: "lead_source" → "Lead source", "TotalVisits" → "Total visits"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z][a-z])", " ", key.strip()).replace("_", " ").replace("-", " ").split()
    if not words:
        return "(unnamed field)"
    words = [w.lower() if i and w[:1].isupper() and w[1:].islower() else w for i, w in enumerate(words)]
    return words[0][:1].upper() + words[0][1:] + "".join(f" {w}" for w in words[1:])


TRAIT_OTHER, TRAIT_MISSING = -1, -2  # codes of a categorical field's value outside the kept ones, and of none


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


def traits_choose(h: History) -> dict[str, list]:
    """Which imported fields become columns, and how (see the module's docstring): from their frequencies in the
    history (never from the outcomes), the most often filled first."""
    n = max(h.n, 1)
    need = max(MIN_TRAIT_ACCOUNTS, int(np.ceil(MIN_TRAIT_SHARE * n)))
    filled = {k: int(sum(v is not None for v in values)) for k, values in h.traits.items()}
    numeric, bands, keys, kept, left_out = [], [], [], [], []
    kind_now, kind_first = _stage_kinds_now_and_first(h) if h.traits else (None, None)
    for key in sorted((k for k in filled if filled[k] >= need), key=lambda k: (-filled[k], k))[:MAX_TRAITS]:
        numbers = h.trait_numbers(key)
        is_number = np.isfinite(numbers).sum() >= NUMERIC_SHARE * filled[key]
        if is_number:
            edges = (
                np.unique(np.nanquantile(numbers, [0.2, 0.4, 0.6, 0.8])) if np.isfinite(numbers).any() else np.empty(0)
            )
            value = np.where(np.isnan(numbers), -1, np.searchsorted(edges, numbers))
        else:  # rare values pooled (a value held by one account "tells" its stage: an id is no state)
            value = np.array(["\x00" if v is None else v for v in h.traits[key]], dtype=object)
            vals, inverse, counts = np.unique(value.astype(str), return_inverse=True, return_counts=True)
            value = np.where(counts[inverse] >= MIN_TRAIT_ACCOUNTS, value, "\x01")
        restates = _uncertainty(kind_now, value) - _uncertainty(kind_first, value)
        if restates >= STATE_FIELD_SHARE:
            why = (f"restates each account's current stage (it tells {restates:.0%} more of its kind now than of "
                   "its first one): its value is today's, which no past moment knew")  # fmt: skip
            left_out.append([key, why])
            continue
        if is_number:
            numeric.append(key)
            bands.append([float(e) for e in edges])
            continue
        vals, counts = np.unique(np.array([v for v in h.traits[key] if v is not None], dtype=str), return_counts=True)
        order = np.argsort(-counts, kind="stable")
        common = [str(vals[i]) for i in order if counts[i] >= MIN_TRAIT_ACCOUNTS][:TRAIT_VALUES]
        if common:
            keys.append(key)
            kept.append(common)
    return {"trait_numeric": numeric, "trait_bands": bands, "trait_keys": keys, "trait_values": kept,
            "trait_left_out": left_out}  # fmt: skip


def _stage_kinds_now_and_first(h: History) -> tuple[np.ndarray, np.ndarray]:
    """Each account's stage kind now (its latest movement, else its current stage) and at its first movement
    ("" unknown)."""
    everyone = np.arange(h.n)
    now = h.stage_at(h.data_end + 1.0, everyone) if np.isfinite(h.data_end) else np.full(h.n, -1, np.int64)
    now = np.where(now >= 0, now, h.stage_now)
    first = np.full(h.n, -1, np.int64)
    if len(h.tr_account):  # sorted by account then time: each account's first row
        starts = np.flatnonzero(np.r_[True, h.tr_account[1:] != h.tr_account[:-1]])
        first[h.tr_account[starts]] = h.tr_stage[starts]
    first = np.where(first >= 0, first, now)
    return h.kind_of(now), h.kind_of(first)


def _uncertainty(target: np.ndarray | None, feature: np.ndarray) -> float:
    """The share of ``target``'s entropy that ``feature`` explains (Theil's U), over accounts whose target is known."""
    if target is None:
        return 0.0
    known = target != ""
    t, f = np.asarray(target[known]).astype(str), np.asarray(feature[known]).astype(str)

    def entropy(labels: np.ndarray) -> float:
        _, c = np.unique(labels, return_counts=True)
        p = c / c.sum()
        return float(-(p * np.log2(p)).sum())

    whole = entropy(t) if len(t) else 0.0
    if whole <= 0:
        return 0.0
    values, inverse = np.unique(f, return_inverse=True)
    cond = sum((inverse == i).mean() * entropy(t[inverse == i]) for i in range(len(values)))
    return (whole - cond) / whole


def trait_codes(h: History, key: str, values: list[str]) -> np.ndarray:
    """Each account's value of a categorical field as the position among ``values`` (:data:`TRAIT_OTHER` for any
    other value, :data:`TRAIT_MISSING` for none), computed once per history and field."""
    cache = h._trait_codes
    ck = (key, tuple(values))
    if ck not in cache:
        pos = {v: i for i, v in enumerate(values)}
        raw = h.traits.get(key)
        if raw is None:
            cache[ck] = np.full(h.n, TRAIT_MISSING, np.int64)
        else:
            cache[ck] = np.array([TRAIT_MISSING if v is None else pos.get(v, TRAIT_OTHER) for v in raw], np.int64)
    return cache[ck]


def _commonest(values: np.ndarray) -> list[str]:
    vals, counts = np.unique(np.asarray([v or "" for v in values], dtype=object).astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return [str(vals[i]) for i in order if vals[i]][:TOP_CATEGORIES]


def _map(keys: list[str], space_keys: list[str]) -> np.ndarray:
    pos = {k: i for i, k in enumerate(space_keys)}
    return np.array([pos.get(k, -1) for k in keys] + [-1], dtype=np.int64)  # last: for index -1


# One pass over the columns in their stored order; splitting it would hide that order (hence the noqa below).
def features_at(  # noqa: C901, PLR0912, PLR0915
    h: History, space: FeatureSpace, t: float, idx: np.ndarray, *, current_stage: bool = False
) -> np.ndarray:
    """The features of accounts ``idx`` (indexes into ``h``) at cut-off ``t``: a (len(idx), columns) float32 array.

    Only signals, movements and rule hits strictly before ``t`` are read. ``current_stage``: when an account has no
    movement before ``t``, take its current stage (prediction for now; never in training).
    """
    idx = np.asarray(idx, dtype=np.int64)
    if h.n // 2 < len(idx) < h.n:  # most accounts: all of them without filtering the signals is cheaper
        return features_at(h, space, t, np.arange(h.n), current_stage=current_stage)[idx]
    k, d = len(idx), len(space.columns)
    x = np.zeros((k, d), dtype=np.float64)
    col = space.index
    row_of = np.full(h.n, -1, np.int64)
    row_of[idx] = np.arange(k)

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
    # Each signal's age band (< 7, < 14, < 30, < 60, < 74, < 90 days, older): one pass of integer counting serves every
    # window below, instead of a weighted count per window.
    edges = np.array([7, TREND_RECENT_DAYS, 30, 60, TREND_RECENT_DAYS + TREND_BASE_DAYS, 90], dtype=np.float32)
    band = np.searchsorted(edges, age, side="right").astype(np.int64)  # 0: < 7 days … 6: 90 days or more
    nb = len(edges) + 1

    def upto(counts: np.ndarray, days: float) -> np.ndarray:
        """Counts within ``days`` from per-band counts (last axis: bands)."""
        return counts[..., : int(np.searchsorted(edges, days, side="right"))].sum(axis=-1)

    # signal types
    tmap = _map(h.type_keys, space.type_keys)
    ty = tmap[ev_type]
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
            x[:, base + j : base + stride * ts : stride] = upto(by_band, w)
        c30, c60 = upto(by_band, 30), upto(by_band, 60)
        x[:, base + len(WINDOWS) : base + stride * ts : stride] = np.log((c30 + 1.0) / (c60 - c30 + 1.0))

    # topics
    if space.topic_keys:
        tp = _map(h.topic_keys, space.topic_keys)[ev_topic]
        ok = (tp >= 0) & (age < 30)
        n_top = len(space.topic_keys)
        topic_counts = np.bincount(r[ok] * n_top + tp[ok], minlength=k * n_top).reshape(k, n_top)
        first = col[f"topic:{space.topic_keys[0]}:30d"]
        x[:, first : first + n_top] = topic_counts

    # measures
    points = h.type_points if np.any(h.type_points) else np.ones(len(h.type_keys))
    half = np.where(np.isnan(h.type_half_life), DEFAULT_HALF_LIFE_DAYS, h.type_half_life)
    pts = points[ev_type]
    decayed = pts * np.exp2(-age / half[ev_type])
    x[:, col["measure:engagement"]] = np.bincount(r, weights=decayed, minlength=k)
    points_by_band = np.bincount(r * nb + band, weights=pts, minlength=k * nb).reshape(k, nb)
    recent_points = upto(points_by_band, TREND_RECENT_DAYS)
    recent = recent_points / TREND_RECENT_DAYS
    baseline = (upto(points_by_band, TREND_RECENT_DAYS + TREND_BASE_DAYS) - recent_points) / TREND_BASE_DAYS
    # negative points (tickets) count as nothing here: the trend is of activity, and a ratio needs positive parts
    x[:, col["measure:engagement_trend"]] = (np.maximum(recent, 0) + 0.1) / (np.maximum(baseline, 0) + 0.1)
    x[:, col["measure:signals_30d"]] = upto(by_band.sum(axis=1), 30)
    # active users: each contact's newest signal (one unique over the window's contacts, then a minimum per contact)
    with_contact = ev_contact >= 0
    if with_contact.any():
        ids = ev_contact[with_contact]
        top = int(ids.max())
        if top < 20 * len(ids) + 1_000_000:  # ids dense enough: index by them (no sort)
            people_n, which = top + 1, ids
        else:
            people, which = np.unique(ids, return_inverse=True)
            people_n = len(people)
        newest = np.full(people_n, np.inf, dtype=np.float32)  # the same dtype as age: ufunc.at's fast path
        np.minimum.at(newest, which, age[with_contact])
        person_row = np.zeros(people_n, np.int64)
        person_row[which] = r[with_contact]  # a person belongs to one account here (any of theirs if several)
        for w, name in ((7, "active_users_7d"), (30, "active_users_30d"), (LOOKBACK_DAYS, "total_users")):
            x[:, col[f"measure:{name}"]] = np.bincount(person_row, weights=(newest < w).astype(np.float64), minlength=k)
    total = x[:, col["measure:total_users"]]
    x[:, col["measure:active_ratio_30d"]] = np.divide(
        x[:, col["measure:active_users_30d"]], total, out=np.zeros(k), where=total > 0
    )
    # adoption and activation: distinct key features (30 days) and milestones (the year) among the model's types
    in_space = tmap[:-1] >= 0
    key_cols = tmap[:-1][in_space & h.type_key_feature]
    mile_cols = tmap[:-1][in_space & h.type_milestone]
    if len(key_cols):
        x[:, col["measure:adoption"]] = (upto(by_band[:, key_cols, :], 30) > 0).sum(axis=1) / len(key_cols)
    if len(mile_cols):
        x[:, col["measure:activation"]] = (by_band[:, mile_cols, :].sum(axis=-1) > 0).sum(axis=1) / len(mile_cols)
    last_age = np.full(k, float(LOOKBACK_DAYS), dtype=np.float32)
    if len(r):
        np.minimum.at(last_age, r, age)
    x[:, col["measure:days_since_last_signal"]] = last_age

    # fit fields
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

    # tenure, stage, movements
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

    # rates over the account's life (up to the lookback) and the scorecard's scores at the time
    life = np.clip((t - h.created[idx]) / DAY, MIN_LIFE_DAYS, LOOKBACK_DAYS)
    if "measure:signals_per_day" in col:
        x[:, col["measure:signals_per_day"]] = np.bincount(r, minlength=k) / life
    if "measure:stage_changes_per_year" in col:
        changes = h.changes_between(idx, t - LOOKBACK_DAYS * DAY, t - 1e-6)
        x[:, col["measure:stage_changes_per_year"]] = changes * 365.0 / life
    if any(f"measure:{m}" in col for m in SCORE_MEASURES):
        spec = h.scorecard if h.scorecard is not None else ScorecardSpec.from_history(h)
        got = scores_at(spec, h, t, idx, rows=r, ev_type=ev_type, ev_topic=ev_topic, age=age)
        for key, values in (("lead_score", got.lead), ("fit_score", got.fit), ("engagement_score", got.engagement),
                            ("signal_strength", got.strength)):  # fmt: skip
            if f"measure:{key}" in col:
                x[:, col[f"measure:{key}"]] = values

    # imported fields: what is known now, from when the account (or the contact that carries it) existed
    for i, key in enumerate(space.trait_numeric):
        j = col[f"trait:{key}"]
        if key in h.traits:
            x[:, j] = np.where(h.trait_known(key, t, idx), h.trait_numbers(key)[idx], np.nan)
        else:
            x[:, j] = np.nan
        if f"trait:{key}#0" in col:  # (a space stored before bands has none)
            known = np.flatnonzero(~np.isnan(x[:, j]))
            band = np.searchsorted(np.asarray(space.trait_bands[i]), x[known, j], side="right")
            x[known, col[f"trait:{key}#0"] + band] = 1.0
    for key, values in zip(space.trait_keys, space.trait_values, strict=True):
        code = trait_codes(h, key, values)[idx]
        code = np.where(h.trait_known(key, t, idx), code, TRAIT_MISSING)
        first = col[f"trait:{key}={values[0]}"]
        slot = np.where(code >= 0, code, np.where(code == TRAIT_OTHER, len(values), len(values) + 1))
        x[np.arange(k), first + slot] = 1.0

    # rule hits open at t
    if space.rule_names and len(h.hit_account):
        rr = row_of[h.hit_account]
        rmap = _map(h.rule_names, space.rule_names)[h.hit_rule]
        sel = (rr >= 0) & (rmap >= 0) & (h.hit_set < t) & (h.hit_cleared >= t)
        first = col[f"rule:{space.rule_names[0]}"]
        x[rr[sel], first + rmap[sel]] = 1.0
    x[np.isinf(x)] = np.nan
    return x.astype(np.float32)
