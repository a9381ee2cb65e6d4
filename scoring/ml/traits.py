"""Imported fields (``traits`` of accounts and their contacts) as features: which fields become columns and how
(:func:`traits_choose`), their names in words, and their columns at a cut-off (:func:`trait_columns_fill`).

Fields have no history: their value is the one known now, taken as known at every cut-off after the account (or the
contact that carries it) existed. A field that restates each account's current stage is left out (see
``STATE_FIELD_SHARE``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from .history import History

if TYPE_CHECKING:
    from .features import FeatureSpace

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

TRAIT_OTHER, TRAIT_MISSING = -1, -2  # codes of a categorical field's value outside the kept ones, and of none


def trait_label(key: str) -> str:
    """An imported field's name in words: "lead_source" → "Lead source", "TotalVisits" → "Total visits"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z][a-z])", " ", key.strip()).replace("_", " ").replace("-", " ").split()
    if not words:
        return "(unnamed field)"
    words = [w.lower() if i and w[:1].isupper() and w[1:].islower() else w for i, w in enumerate(words)]
    return words[0][:1].upper() + words[0][1:] + "".join(f" {w}" for w in words[1:])


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


def trait_columns_fill(
    x: np.ndarray, col: dict[str, int], h: History, space: FeatureSpace, t: float, idx: np.ndarray
) -> None:
    """Write the imported fields' columns of accounts ``idx`` at cut-off ``t`` into ``x``: what is known now, from
    when the account (or the contact that carries it) existed."""
    k = len(idx)
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
