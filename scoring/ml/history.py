"""What is known about a set of accounts, as arrays: the input of feature building, labelling and mining."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

DAY = 86_400.0

OUTCOMES = ("conversion", "expansion", "churn")
# The movement (accounts.choices.Movement value) that makes an example of each outcome positive.
OUTCOME_MOVEMENT = {"conversion": "conversion", "expansion": "expansion", "churn": "churn"}
# The stage kinds an outcome applies to: conversion to free accounts, expansion and churn to paying ones (a free
# account that stops has nothing to lose; ``accounts.stages.OUTCOME_STAGE_KINDS`` says the same for the product).
OUTCOME_KINDS = {"conversion": ("free",), "expansion": ("paying",), "churn": ("paying",)}
OUTCOME_WORDS = {"conversion": "conversions", "expansion": "expansions", "churn": "churns"}


def _arr(values, dtype) -> np.ndarray:
    return np.asarray(values, dtype=dtype)


def _none() -> np.ndarray:
    """An optional array column left out: empty, and the constructor fills its default (sized to the history)."""
    return np.empty(0)


def trait_text(value: Any) -> str | None:
    """An imported field's value as the text features compare (None: missing; nested objects are not features)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def trait_number(text: str | None) -> float:
    """A value as a number, NaN when it is not one ("12", "3.5", "1e3"; not "nan", "inf" or "true")."""
    if text is None:
        return np.nan
    try:
        number = float(text)
    except ValueError:
        return np.nan
    return number if np.isfinite(number) else np.nan


@dataclass
class History:
    """Accounts (index 0..n-1), their signals, stage movements and rule hits. Times are Unix seconds (float).

    Signals need not be sorted: the constructor sorts them by time once (feature building slices by time).
    Contact ids only need to be distinct per person (-1: no contact); topic -1: no topic.
    """

    account_ids: np.ndarray  # (n,) database ids, for the caller
    created: np.ndarray  # (n,) when each account was created
    employees: np.ndarray  # (n,) float, NaN unknown
    revenue: np.ndarray  # (n,) float, NaN unknown
    industry: np.ndarray  # (n,) str, "" unknown
    country: np.ndarray  # (n,) str, "" unknown
    type_keys: list[str]
    type_labels: list[str]
    topic_keys: list[str]
    topic_labels: list[str]
    ev_account: np.ndarray
    ev_type: np.ndarray
    ev_time: np.ndarray
    ev_topic: np.ndarray = field(default_factory=_none)
    ev_contact: np.ndarray = field(default_factory=_none)
    stage_keys: list[str] = field(default_factory=list)
    stage_labels: list[str] = field(default_factory=list)
    stage_kinds: list[str] = field(default_factory=list)  # free / paying / churn
    stage_ranks: np.ndarray = field(default_factory=_none)  # paying rank, 0 for others
    tr_account: np.ndarray = field(default_factory=_none)
    tr_stage: np.ndarray = field(default_factory=_none)  # index into stage_keys
    tr_time: np.ndarray = field(default_factory=_none)
    tr_movement: np.ndarray = field(default_factory=_none)  # str: conversion, expansion, contraction, churn, ...
    stage_now: np.ndarray = field(default_factory=_none)  # (n,) current stage index (-1 none): when no movement known
    rule_names: list[str] = field(default_factory=list)
    hit_account: np.ndarray = field(default_factory=_none)
    hit_rule: np.ndarray = field(default_factory=_none)
    hit_set: np.ndarray = field(default_factory=_none)
    hit_cleared: np.ndarray = field(default_factory=_none)  # +inf while open
    type_points: np.ndarray = field(default_factory=_none)  # engagement points per signal of each type (0: none)
    type_half_life: np.ndarray = field(default_factory=_none)  # days; NaN: no decay rule (30 days used)
    type_key_feature: np.ndarray = field(default_factory=_none)
    type_milestone: np.ndarray = field(default_factory=_none)
    # contacts, for the scorecard's fit rules over contact fields (a contact counts from when it was created)
    ct_account: np.ndarray = field(default_factory=_none)
    ct_created: np.ndarray = field(default_factory=_none)
    ct_fields: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. {"title": (contacts,) str}
    scorecard: Any = None  # a scores.ScorecardSpec: the live scorecard (None: engagement from type_points)
    # imported fields (accounts' and their contacts' traits): key -> (n,) values as imported (None: missing), and
    # optionally when each became known (a contact's creation; NaN or absent: known whenever the account is)
    traits: dict[str, np.ndarray] = field(default_factory=dict)
    trait_since: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, t = len(self.account_ids), len(self.type_keys)
        self.account_ids = _arr(self.account_ids, np.int64)
        self.created = _arr(self.created, np.float64)
        self.employees = _arr(self.employees, np.float64)
        self.revenue = _arr(self.revenue, np.float64)
        self.industry = _arr(self.industry, object)
        self.country = _arr(self.country, object)
        m = len(self.ev_account)
        order = np.argsort(_arr(self.ev_time, np.float64))  # ties in any order: features are sums over windows
        self.ev_time = _arr(self.ev_time, np.float64)[order]
        self.ev_account = _arr(self.ev_account, np.int64)[order]
        self.ev_type = _arr(self.ev_type, np.int64)[order]
        self.ev_topic = (np.full(m, -1, np.int64) if not len(self.ev_topic) else _arr(self.ev_topic, np.int64))[order]
        contact = np.full(m, -1, np.int64) if not len(self.ev_contact) else _arr(self.ev_contact, np.int64)
        self.ev_contact = contact[order]
        s = len(self.stage_keys)
        self.stage_ranks = np.zeros(s, np.int64) if not len(self.stage_ranks) else _arr(self.stage_ranks, np.int64)
        self.tr_account = _arr(self.tr_account, np.int64)
        self.tr_stage = _arr(self.tr_stage, np.int64)
        self.tr_time = _arr(self.tr_time, np.float64)
        self.tr_movement = _arr(self.tr_movement, object)
        self.stage_now = np.full(n, -1, np.int64) if not len(self.stage_now) else _arr(self.stage_now, np.int64)
        self.hit_account = _arr(self.hit_account, np.int64)
        self.hit_rule = _arr(self.hit_rule, np.int64)
        self.hit_set = _arr(self.hit_set, np.float64)
        self.hit_cleared = _arr(self.hit_cleared, np.float64)
        self.type_points = np.zeros(t) if not len(self.type_points) else _arr(self.type_points, np.float64)
        half = np.full(t, np.nan) if not len(self.type_half_life) else _arr(self.type_half_life, np.float64)
        self.type_half_life = half
        self.type_key_feature = (
            np.zeros(t, bool) if not len(self.type_key_feature) else _arr(self.type_key_feature, bool)
        )
        self.type_milestone = np.zeros(t, bool) if not len(self.type_milestone) else _arr(self.type_milestone, bool)
        self.ct_account = _arr(self.ct_account, np.int64)
        self.ct_created = _arr(self.ct_created, np.float64)
        self.ct_fields = {k: _arr(v, object) for k, v in self.ct_fields.items()}
        self.traits = {k: np.array([trait_text(v) for v in values], dtype=object) for k, values in self.traits.items()}
        self.trait_since = {k: _arr(v, np.float64) for k, v in self.trait_since.items()}
        self._trait_numbers: dict[str, np.ndarray] = {}
        self._trait_codes: dict[tuple, np.ndarray] = {}  # traits.trait_codes
        # transitions by (account, time), for "stage at t"
        tr_order = np.lexsort((self.tr_time, self.tr_account))
        self.tr_account, self.tr_stage = self.tr_account[tr_order], self.tr_stage[tr_order]
        self.tr_time, self.tr_movement = self.tr_time[tr_order], self.tr_movement[tr_order]

    @property
    def n(self) -> int:
        return len(self.account_ids)

    def trait_numbers(self, key: str) -> np.ndarray:
        """A trait's values as numbers (NaN: missing or not a number), parsed once."""
        if key not in self._trait_numbers:
            self._trait_numbers[key] = np.array([trait_number(v) for v in self.traits[key]], dtype=np.float64)
        return self._trait_numbers[key]

    def trait_known(self, key: str, t: float, idx: np.ndarray) -> np.ndarray:
        """Whether each account's value of a trait was known before ``t`` (a contact's trait: once it existed)."""
        since = self.trait_since.get(key)
        if since is None:
            return np.ones(len(idx), bool)
        return ~(since[idx] >= t)  # NaN: known

    @property
    def data_end(self) -> float:
        """The latest moment anything is known for (a label window must end before it)."""
        ends = [-np.inf]
        if len(self.ev_time):
            ends.append(self.ev_time[-1])
        if len(self.tr_time):
            ends.append(self.tr_time.max())
        return float(max(ends))

    @property
    def data_start(self) -> float:
        """When signals start (movements imported from before then have no behaviour to learn from)."""
        if len(self.ev_time):
            return float(self.ev_time[0])
        return float(self.tr_time.min()) if len(self.tr_time) else np.inf

    def stage_at(self, t: float, idx: np.ndarray) -> np.ndarray:
        """Each account's stage index just before ``t`` (its latest movement strictly before t; -1 none)."""
        idx = np.asarray(idx, dtype=np.int64)
        if not len(self.tr_account):
            return np.full(len(idx), -1, np.int64)
        key = self.tr_account.astype(np.float64) * 1e10 + (self.tr_time - 1e9)
        pos = np.searchsorted(key, idx.astype(np.float64) * 1e10 + (t - 1e9), side="left") - 1
        pos_c = np.clip(pos, 0, len(key) - 1)
        ok = (pos >= 0) & (self.tr_account[pos_c] == idx)
        return np.where(ok, self.tr_stage[pos_c], -1)

    def stage_since(self, t: float, idx: np.ndarray) -> np.ndarray:
        """When each account entered its stage at ``t`` (NaN when unknown)."""
        idx = np.asarray(idx, dtype=np.int64)
        if not len(self.tr_account):
            return np.full(len(idx), np.nan)
        key = self.tr_account.astype(np.float64) * 1e10 + (self.tr_time - 1e9)
        pos = np.searchsorted(key, idx.astype(np.float64) * 1e10 + (t - 1e9), side="left") - 1
        pos_c = np.clip(pos, 0, len(key) - 1)
        ok = (pos >= 0) & (self.tr_account[pos_c] == idx)
        return np.where(ok, self.tr_time[pos_c], np.nan)

    def kind_of(self, stage: np.ndarray) -> np.ndarray:
        """The kind (free / paying / churn / "" for none) of each stage index."""
        kinds = np.array([*self.stage_kinds, ""], dtype=object)
        return kinds[np.where(stage >= 0, stage, len(self.stage_kinds))]

    def movements_between(self, movement: str, idx: np.ndarray, start: np.ndarray | float, end: np.ndarray | float):
        """How many movements of a kind each account made in (start, end]."""
        idx = np.asarray(idx, dtype=np.int64)
        sel = self.tr_movement == movement
        if not sel.any():
            return np.zeros(len(idx), np.int64)
        key = self.tr_account[sel].astype(np.float64) * 1e10 + (self.tr_time[sel] - 1e9)
        base = idx.astype(np.float64) * 1e10 - 1e9
        hi = np.searchsorted(key, base + end, side="right")
        lo = np.searchsorted(key, base + start, side="right")
        return hi - lo

    def changes_between(self, idx: np.ndarray, start: float, end: float) -> np.ndarray:
        """How many stage changes (any movement but the first entry) each account made in (start, end]."""
        idx = np.asarray(idx, dtype=np.int64)
        sel = self.tr_movement != "entry"
        if not sel.any():
            return np.zeros(len(idx), np.int64)
        key = self.tr_account[sel].astype(np.float64) * 1e10 + (self.tr_time[sel] - 1e9)
        base = idx.astype(np.float64) * 1e10 - 1e9
        return np.searchsorted(key, base + end, side="right") - np.searchsorted(key, base + start, side="right")
