"""Properties (hypothesis) of the rescore's signal arrays: signals sorted by chunk, signals grouped with one key.
Pure NumPy, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import engine
from scoring.rescore.read import SignalArrays, SignalBuckets, signals_group

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _signals(account: list[int], rng: np.random.Generator) -> SignalArrays:
    n = len(account)
    return SignalArrays(
        np.array(account, dtype=np.int32), rng.integers(-1, 9, n).astype(np.int32), rng.integers(0, 4, n),
        rng.integers(-1, 3, n).astype(np.int32), rng.integers(0, 3, n), NOW.timestamp() - rng.uniform(0, 9e6, n),
    )  # fmt: skip


def _key(a: SignalArrays) -> list[tuple]:
    return sorted(zip(a.account.tolist(), a.contact.tolist(), a.type.tolist(), a.epoch.tolist(), strict=True))


@settings(max_examples=100, deadline=None)
@given(
    ids=st.lists(st.integers(1, 60), min_size=1, max_size=30, unique=True),
    others=st.lists(st.integers(1, 80), max_size=200),
    size=st.integers(1, 7),
    seed=st.integers(0, 2**16),
)
def test_signals_sorted_by_chunk_give_each_chunk_what_a_scan_would(ids, others, size, seed):
    ids = sorted(ids)
    signals = _signals(others, np.random.default_rng(seed))  # some of accounts that are in no chunk (deleted, new)
    chunks = [np.array(ids[i : i + size], dtype=np.int64) for i in range(0, len(ids), size)]
    bounds = np.array([c[0] for c in chunks], dtype=np.int64)
    half = len(others) // 2
    parts = [
        SignalBuckets.sort(s, bounds) for s in (signals._select(slice(0, half)), signals._select(slice(half, None)))
    ]
    buckets = SignalBuckets(bounds, parts)
    for chunk in chunks:
        taken, scanned = buckets.take(chunk), signals.take(chunk)
        assert _key(taken) == _key(scanned)


@settings(max_examples=60, deadline=None)
@given(accounts=st.lists(st.integers(1, 12), min_size=1, max_size=300), seed=st.integers(0, 2**16))
def test_one_key_grouping_makes_the_groups_of_sorting_three_keys(accounts, seed):
    """Grouping with one 64-bit key, and (forced) with lexsort, give the same rows in the same order."""
    from types import SimpleNamespace

    ids = np.arange(1, 13, dtype=np.int64)
    signals = _signals(accounts, np.random.default_rng(seed))
    card = SimpleNamespace(type_index=lambda t: np.asarray(t, dtype=np.int64), topic_multiplier={1: 2.0})
    contact_ids = np.arange(0, 6, dtype=np.int64)
    one = signals_group(signals, ids=ids, contact_ids=contact_ids, card=card, now=NOW)
    wide = SignalArrays(signals.account, signals.contact.astype(np.int64) << 40, signals.type, signals.topic,
                        signals.direction, signals.epoch)  # fmt: skip  # too wide for one key: the lexsort path
    three = signals_group(wide, ids=ids, contact_ids=contact_ids * (1 << 40), card=card, now=NOW)
    for name in ("account", "type", "age_days", "count", "topic_multiplier", "contact", "inbound"):
        assert np.array_equal(getattr(one, name), getattr(three, name)), name
    assert isinstance(one, engine.SignalRows)
