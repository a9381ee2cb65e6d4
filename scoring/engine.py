"""The arithmetic of scoring, over NumPy arrays. No Django import: it is tested with tiny fixtures.

Accounts, signal types and contacts are integer indexes into the caller's arrays. Signals come as rows, each a
group of ``count`` signals of one (account, contact, type, topic, direction, day) with their age in days, so the
caller can fetch them with one aggregate query per chunk of accounts.

Formulas (every number is a setting or a rule):

- decay of a signal of age ``a``: ``0.5 ** (a / half_life)`` with a half-life, ``1 if a <= window else 0`` with a
  window, 1 with neither; weight = points × topic multiplier × count × decay. A type without an engagement rule takes
  the scorecard's default weight (points, half-life, cap), for its inbound signals only.
- engagement = Σ over types of (Σ weights of the type, limited to ±cap), kept within 0–100.
- window points (trend, signal strength) = Σ points × topic multiplier × count over signals in the window, undecayed;
  signal strength multiplies each by the largest segment boost that applies (segment member, type, within window).
- fit = Σ points of matching fit rules − penalties, kept within 0–100.
- lead = fit + engagement, kept within 0–100 (the clamp shows in the explanation as its own line).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCORE_MIN, SCORE_MAX = 0.0, 100.0
VOWELS = frozenset("aeiouyàáâäãåæèéêëìíîïòóôöõøùúûüýÿœ")


def _f(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _i(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _unset() -> np.ndarray:
    """An optional column left out: empty, and the constructor fills its default (one per group)."""
    return np.empty(0)


@dataclass(frozen=True)
class SignalRows:
    """Groups of signals of a set of accounts (parallel arrays, one entry per group)."""

    account: np.ndarray
    type: np.ndarray
    age_days: np.ndarray
    topic_multiplier: np.ndarray = field(default_factory=_unset)
    count: np.ndarray = field(default_factory=_unset)
    contact: np.ndarray = field(default_factory=_unset)  # -1: no known contact
    inbound: np.ndarray = field(default_factory=_unset)

    def __post_init__(self) -> None:
        n = len(self.account)
        set_ = object.__setattr__
        set_(self, "account", _i(self.account))
        set_(self, "type", _i(self.type))
        set_(self, "age_days", np.maximum(_f(self.age_days), 0.0))  # a signal from the future counts as new
        set_(self, "topic_multiplier", np.ones(n) if not len(self.topic_multiplier) else _f(self.topic_multiplier))
        set_(self, "count", np.ones(n) if not len(self.count) else _f(self.count))
        set_(self, "contact", np.full(n, -1, dtype=np.int64) if not len(self.contact) else _i(self.contact))
        set_(self, "inbound", np.ones(n, dtype=bool) if not len(self.inbound) else np.asarray(self.inbound, bool))

    def __len__(self) -> int:
        return len(self.account)


RuleValues = tuple[float, float | None, float | None, float | None]  # points, half-life, window, cap


@dataclass(frozen=True)
class EngagementRules:
    """Per signal type (index): points, half-life (nan: none), window (nan: none), cap (inf: none), and whether the
    type has no rule of its own and takes the default weight (``defaulted``): then only inbound signals count (what
    the account did, not what we sent it)."""

    points: np.ndarray
    half_life_days: np.ndarray
    window_days: np.ndarray
    cap: np.ndarray
    defaulted: np.ndarray = field(default_factory=_unset)

    def __post_init__(self) -> None:
        for name in ("points", "half_life_days", "window_days", "cap"):
            object.__setattr__(self, name, _f(getattr(self, name)))
        n = len(self.points)
        defaulted = np.zeros(n, bool) if not len(self.defaulted) else np.asarray(self.defaulted, dtype=bool)
        object.__setattr__(self, "defaulted", defaulted)

    @property
    def n_types(self) -> int:
        return len(self.points)

    @classmethod
    def build(
        cls,
        n_types: int,
        rules: Iterable[tuple[int, float, float | None, float | None, float | None]],
        default: RuleValues | None = None,
    ) -> EngagementRules:
        """From (type index, points, half-life, window, cap) tuples; types without a rule give ``default``'s points
        for their inbound signals (none without a default)."""
        points, half, window = np.zeros(n_types), np.full(n_types, np.nan), np.full(n_types, np.nan)
        cap = np.full(n_types, np.inf)
        defaulted = np.zeros(n_types, bool)
        if default is not None and default[0]:
            p, h, w, c = default
            defaulted[:] = True
            points[:] = p
            half[:] = np.nan if h is None else h
            window[:] = np.nan if w is None else w
            cap[:] = np.inf if c is None else c
        for t, p, h, w, c in rules:
            points[t] = p
            half[t] = np.nan if h is None else h
            window[t] = np.nan if w is None else w
            cap[t] = np.inf if c is None else c
            defaulted[t] = False
        return cls(points=points, half_life_days=half, window_days=window, cap=cap, defaulted=defaulted)

    def row_points(self, rows: SignalRows) -> np.ndarray:
        """Each row's points per signal: its type's, or 0 for an outbound signal of a type on the default weight."""
        points = self.points[rows.type]
        if self.defaulted.any():
            points = np.where(self.defaulted[rows.type] & ~rows.inbound, 0.0, points)
        return points


@dataclass(frozen=True)
class SegmentBoosts:
    """Configured boosts: per boost, the type index, multiplier, window and which accounts are in its segment."""

    type: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    multiplier: np.ndarray = field(default_factory=lambda: np.zeros(0))
    window_days: np.ndarray = field(default_factory=lambda: np.zeros(0))
    members: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))  # (boosts, accounts)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", _i(self.type))
        object.__setattr__(self, "multiplier", _f(self.multiplier))
        object.__setattr__(self, "window_days", _f(self.window_days))
        object.__setattr__(self, "members", np.asarray(self.members, dtype=bool))


def decay_factor(age_days: np.ndarray, half_life_days: np.ndarray, window_days: np.ndarray) -> np.ndarray:
    """How much a signal of each age still counts (1 when new, never more for an older signal)."""
    age = np.maximum(_f(age_days), 0.0)
    half, window = _f(half_life_days), _f(window_days)
    has_half, has_window = ~np.isnan(half), ~np.isnan(window)
    decayed = np.where(has_half, np.power(0.5, age / np.where(has_half, half, 1.0)), 1.0)
    in_window = (age <= np.where(has_window, window, 0.0)).astype(np.float64)
    return np.where(has_window, in_window, decayed)


def signal_weights(rows: SignalRows, rules: EngagementRules) -> np.ndarray:
    """Each row's engagement points after topic importance and decay."""
    t = rows.type
    decay = decay_factor(rows.age_days, rules.half_life_days[t], rules.window_days[t])
    return rules.row_points(rows) * rows.topic_multiplier * rows.count * decay


@dataclass(frozen=True)
class Engagement:
    score: np.ndarray  # (accounts,) within 0–100
    by_type: np.ndarray  # (accounts, types) each type's points after its cap; sums to the score before the clamp


def engagement(rows: SignalRows, rules: EngagementRules, n_accounts: int) -> Engagement:
    """Engagement per account: decayed, topic-weighted points per type, capped per type, kept within 0–100."""
    by_type = np.zeros((n_accounts, rules.n_types))
    if len(rows):
        np.add.at(by_type, (rows.account, rows.type), signal_weights(rows, rules))
    by_type = np.clip(by_type, -rules.cap, rules.cap)
    return Engagement(score=np.clip(by_type.sum(axis=1), SCORE_MIN, SCORE_MAX), by_type=by_type)


def window_mask(rows: SignalRows, start_days: float, end_days: float) -> np.ndarray:
    """Rows whose age is in [start, end)."""
    return (rows.age_days >= start_days) & (rows.age_days < end_days)


def raw_points(rows: SignalRows, rules: EngagementRules) -> np.ndarray:
    """Each row's points before decay: points × topic importance × count."""
    return rules.row_points(rows) * rows.topic_multiplier * rows.count


def boost_factor(rows: SignalRows, boosts: SegmentBoosts) -> np.ndarray:
    """Per row, the largest multiplier of the boosts that apply (1 when none does). One pass per boost rule."""
    best = np.full(len(rows), np.nan)
    for k in range(len(boosts.type)):
        hit = (rows.type == boosts.type[k]) & boosts.members[k, rows.account] & (rows.age_days <= boosts.window_days[k])
        best = np.where(hit, np.fmax(best, boosts.multiplier[k]), best)
    return np.where(np.isnan(best), 1.0, best)


@dataclass(frozen=True)
class Trend:
    recent: np.ndarray  # (accounts,) points of the recent window
    baseline: np.ndarray  # (accounts,) points of the baseline window scaled to the recent window's length
    ratio: np.ndarray  # recent / baseline per day, nan when the baseline has no points


def trend(rows: SignalRows, points: np.ndarray, n_accounts: int, *, recent_days: float, baseline_days: float) -> Trend:
    """Points of the last ``recent_days`` against the ``baseline_days`` before them (both per day)."""
    recent = np.zeros(n_accounts)
    base = np.zeros(n_accounts)
    m = window_mask(rows, 0, recent_days)
    np.add.at(recent, rows.account[m], points[m])
    m = window_mask(rows, recent_days, recent_days + baseline_days)
    np.add.at(base, rows.account[m], points[m])
    recent, base = np.maximum(recent, 0.0), np.maximum(base, 0.0) * (recent_days / baseline_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(base > 0, recent / np.where(base > 0, base, 1.0), np.nan)
    return Trend(recent=recent, baseline=base, ratio=ratio)


@dataclass(frozen=True)
class SignalStrength:
    strength: np.ndarray  # (accounts,) boosted points of the recent window
    baseline: np.ndarray  # (accounts,) boosted points of the baseline window, scaled to the recent window
    surging: np.ndarray  # (accounts,) bool
    by_type: np.ndarray  # (accounts, types) unboosted points of the recent window
    boost_by_type: np.ndarray  # (accounts, types) points the boosts added in the recent window


def signal_strength(
    rows: SignalRows,
    rules: EngagementRules,
    boosts: SegmentBoosts,
    n_accounts: int,
    *,
    recent_days: float,
    baseline_days: float,
    surging_factor: float,
    surging_min_points: float,
) -> SignalStrength:
    """Boosted engagement of the recent window against the account's own baseline; surging when well above it."""
    base_points = raw_points(rows, rules)
    boosted = base_points * boost_factor(rows, boosts)
    tr = trend(rows, boosted, n_accounts, recent_days=recent_days, baseline_days=baseline_days)
    by_type = np.zeros((n_accounts, rules.n_types))
    extra = np.zeros((n_accounts, rules.n_types))
    m = window_mask(rows, 0, recent_days)
    np.add.at(by_type, (rows.account[m], rows.type[m]), base_points[m])
    np.add.at(extra, (rows.account[m], rows.type[m]), boosted[m] - base_points[m])
    surging = (tr.recent >= surging_factor * tr.baseline) & (tr.recent >= surging_min_points)
    return SignalStrength(tr.recent, tr.baseline, surging, by_type, extra)


def active_users(rows: SignalRows, n_accounts: int, *, window_days: float) -> np.ndarray:
    """Distinct known contacts with inbound signals in the last ``window_days``, per account."""
    m = rows.inbound & (rows.contact >= 0) & (rows.age_days <= window_days)
    if not m.any():
        return np.zeros(n_accounts, dtype=np.int64)
    pairs = np.unique(np.stack([rows.account[m], rows.contact[m]]), axis=1)
    return np.bincount(pairs[0], minlength=n_accounts)


def distinct_types_share(account: np.ndarray, type_: np.ndarray, counted: np.ndarray, n_accounts: int) -> np.ndarray:
    """Per account, distinct counted types seen / counted types (nan when no type is counted).

    Adoption (key features) and activation (milestones) are both this share.
    """
    counted = np.asarray(counted, dtype=bool)
    total = int(counted.sum())
    if total == 0:
        return np.full(n_accounts, np.nan)
    account, type_ = _i(account), _i(type_)
    m = counted[type_] if len(type_) else np.zeros(0, bool)
    seen = np.zeros(n_accounts)
    if m.any():
        pairs = np.unique(np.stack([account[m], type_[m]]), axis=1)
        seen = np.bincount(pairs[0], minlength=n_accounts).astype(np.float64)
    return seen / total


@dataclass(frozen=True)
class ContactActivity:
    engagement: np.ndarray  # (contacts,) decayed points, uncapped, within 0–100
    last_age_days: np.ndarray  # (contacts,) age of the newest inbound signal, inf when none


def contact_activity(rows: SignalRows, rules: EngagementRules, n_contacts: int) -> ContactActivity:
    """Per contact: engagement from their own signals and how long ago they last did something."""
    eng = np.zeros(n_contacts)
    last = np.full(n_contacts, np.inf)
    m = rows.contact >= 0
    np.add.at(eng, rows.contact[m], signal_weights(rows, rules)[m])
    m &= rows.inbound
    np.minimum.at(last, rows.contact[m], rows.age_days[m])
    return ContactActivity(np.clip(eng, SCORE_MIN, SCORE_MAX), last)


# --- fit ---------------------------------------------------------------------------------------------------------


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or v == [] or v == {}


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na == nb
    return a == b


def value_matches(v: Any, operator: str, expected: Any) -> bool:
    """Whether one value satisfies a fit condition (text compared without case)."""
    if operator == "missing":
        return _is_missing(v)
    if _is_missing(v):
        return False
    if operator == "equals":
        return _same(v, expected)
    if operator == "in":
        return any(_same(v, e) for e in (expected or []))
    if operator == "contains":
        return str(expected).casefold() in str(v).casefold()
    if operator == "range":
        n = _number(v)
        if n is None or not isinstance(expected, dict):
            return False
        lo, hi = _number(expected.get("min")), _number(expected.get("max"))
        return (lo is None or n >= lo) and (hi is None or n <= hi)
    raise ValueError(f"unknown operator {operator!r}")


_EXACT_KEYS = {str, int, type(None)}  # values of these kinds are equal only when they are the same value


def _per_distinct(values: Sequence[Any], test: Any) -> np.ndarray:
    """``test`` of each value, computed once per distinct value (accounts and contacts share industries, names...)."""
    if set(map(type, values)) <= _EXACT_KEYS:  # the usual case, with C-level loops: no two kinds compare equal
        results = {v: bool(test(v)) for v in dict.fromkeys(values)}
        return np.fromiter(map(results.__getitem__, values), dtype=bool, count=len(values))
    seen: dict[tuple[type, Any], bool] = {}
    out = np.empty(len(values), dtype=bool)
    for i, v in enumerate(values):
        kind = type(v)
        if kind is str or kind is int or v is None:  # exact keys (not 0.0 == -0.0, True == 1, lists, dicts)
            hit = seen.get((kind, v))
            if hit is None:
                hit = seen[(kind, v)] = bool(test(v))
        else:
            hit = bool(test(v))
        out[i] = hit
    return out


def matches(values: Sequence[Any], operator: str, expected: Any) -> np.ndarray:
    """A fit condition over an array of values (one per account or contact)."""
    return _per_distinct(values, lambda v: value_matches(v, operator, expected))


def any_per_account(contact_account: np.ndarray, contact_mask: np.ndarray, n_accounts: int) -> np.ndarray:
    """True for accounts with at least one contact in the mask."""
    out = np.zeros(n_accounts, dtype=bool)
    contact_account, contact_mask = _i(contact_account), np.asarray(contact_mask, bool)
    out[contact_account[contact_mask]] = True
    return out


def count_per_account(contact_account: np.ndarray, contact_mask: np.ndarray, n_accounts: int) -> np.ndarray:
    """How many contacts of each account are in the mask."""
    contact_account, contact_mask = _i(contact_account), np.asarray(contact_mask, bool)
    return np.bincount(contact_account[contact_mask], minlength=n_accounts)


def free_email(emails: Sequence[str], free_domains: frozenset[str] | set[str]) -> np.ndarray:
    """Contacts whose email domain is on the free-email list."""

    def free(e: str) -> bool:
        return (e or "").rpartition("@")[2].strip().lower() in free_domains if "@" in (e or "") else False

    return _per_distinct(emails, free)


def has_no_vowel(names: Sequence[str]) -> np.ndarray:
    """Names (non-empty, with letters) that contain no vowel: a sign of a made-up name ("xzqw")."""

    def bad(name: str) -> bool:
        letters = [c for c in (name or "").casefold() if c.isalpha()]
        return bool(letters) and not any(c in VOWELS for c in letters)

    return _per_distinct(names, bad)


@dataclass(frozen=True)
class Fit:
    score: np.ndarray  # (accounts,) within 0–100
    rule_points: np.ndarray  # (rules, accounts)
    penalty_points: np.ndarray  # (penalties, accounts), negative
    completeness: np.ndarray  # (accounts,) % of key fields present


def fit(
    rule_points: Sequence[float] | np.ndarray, rule_matches: np.ndarray, penalties: np.ndarray, key_missing: np.ndarray
) -> Fit:
    """Fit = Σ points of matching rules − penalties, within 0–100; completeness = % of key fields present.

    ``rule_matches`` is (rules, accounts) bool; ``penalties`` (penalties, accounts) of points to take (≥ 0);
    ``key_missing`` (key fields, accounts) bool.
    """
    rule_matches = np.asarray(rule_matches, dtype=bool)
    n_accounts = rule_matches.shape[1] if rule_matches.ndim == 2 else np.asarray(key_missing).shape[-1]
    points = _f(rule_points).reshape(-1, 1) * rule_matches.reshape(len(rule_points), n_accounts)
    penalty = -_f(penalties).reshape(-1, n_accounts)
    missing = np.asarray(key_missing, dtype=bool).reshape(-1, n_accounts)
    total = points.sum(axis=0) + penalty.sum(axis=0)
    completeness = 100.0 * (1.0 - missing.mean(axis=0)) if len(missing) else np.full(n_accounts, 100.0)
    return Fit(np.clip(total, SCORE_MIN, SCORE_MAX), points, penalty, completeness)


# --- lead, bands -------------------------------------------------------------------------------------------------


def lead(fit_score: np.ndarray, engagement_score: np.ndarray) -> np.ndarray:
    """Lead score = fit + engagement, kept within 0–100 (a perfect fit with any engagement is simply 100)."""
    return np.clip(_f(fit_score) + _f(engagement_score), SCORE_MIN, SCORE_MAX)


def grades(lead_score: np.ndarray, *, a_min: float, b_min: float, c_min: float) -> np.ndarray:
    """A, B, C or D from the lower bounds of the bands."""
    s = _f(lead_score)
    return np.select([s >= a_min, s >= b_min, s >= c_min], ["A", "B", "C"], "D")


def temperatures(engagement_score: np.ndarray, *, hot_min: float, warm_min: float) -> np.ndarray:
    """hot, warm or cold from engagement."""
    s = _f(engagement_score)
    return np.select([s >= hot_min, s >= warm_min], ["hot", "warm"], "cold")
