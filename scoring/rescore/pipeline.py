"""Rescoring accounts: a chunk at a time (read, compute, write, predict, announce, clear marks; one transaction per
chunk), the marked accounts, every account (on PostgreSQL a pipeline of three threads over signals read once), and
score history for past moments. Set-based, chunked and idempotent."""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import marked_account_ids
from accounts.services import MarksWatermark, marks_clear, marks_watermark

from ..hooks import scores_changed_announce
from ..models import ScoreHistory
from ..rules import Measures, rule_hits_evaluate, rule_measures
from ..scorecard import Scorecard, scorecard_load, scoring_defaults_ensure
from .compute import Computed, chunk_compute
from .read import HISTORY_FIELDS, SignalArrays, SignalBuckets, chunk_read, signals_fetch, signals_fetch_all
from .write import chunk_write, chunk_write_pg, contacts_last_seen_from_scores

CHUNK_SIZE = 5000

Progress = Callable[[int], object]


@dataclass
class RescoreStats:
    """What a rescore did."""

    accounts: int = 0
    chunks: int = 0
    marks_cleared: int = 0
    newly_qualified: int = 0
    config_version: int = 0

    def add(self, other: RescoreStats) -> None:
        self.accounts += other.accounts
        self.chunks += other.chunks
        self.marks_cleared += other.marks_cleared
        self.newly_qualified += other.newly_qualified
        self.config_version = other.config_version or self.config_version


def chunk_rescore(
    *,
    account_ids: Sequence[int],
    card: Scorecard,
    now: datetime,
    signals: SignalBuckets | None = None,
    watermark: MarksWatermark | None = None,
) -> RescoreStats:
    """Rescore one chunk of accounts in one transaction: read, compute, write, evaluate rules, predict, announce the
    changes after commit and clear the chunk's marks."""
    # Marks written by transactions the chunk's reads could not see stay for the next run (``watermark``: taken
    # before ``signals`` were read, for a full rescore that read them all at once).
    with transaction.atomic():
        watermark = watermark or marks_watermark()
        chunk = chunk_read(account_ids=account_ids, card=card, now=now, signals=signals)
        computed = chunk_compute(chunk=chunk, card=card, now=now)
        chunk_write(computed)
        measures = rule_measures(computed.scores)
        hits = rule_hits_evaluate(account_ids=computed.account_ids, now=now, measures=measures)
        ml = _predict(account_ids, now, signals or chunk.signals, measures, card)  # the signals just read, not again
        # Listeners (playbooks) hear of the changed accounts once this transaction has committed.
        scores_changed_announce(changes=computed.changes(hits, ml), computed_at=now.isoformat())
        cleared = marks_clear(account_ids=account_ids, watermark=watermark)
    return RescoreStats(
        accounts=len(chunk.ids),
        chunks=1,
        marks_cleared=cleared,
        newly_qualified=computed.newly_qualified,
        config_version=card.version,
    )


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def accounts_rescore(
    *,
    account_ids: Iterable[int],
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
    card: Scorecard | None = None,
) -> RescoreStats:
    """Recompute the scores, measures and explanations of these accounts, a chunk at a time (one transaction per
    chunk), and clear their rescore marks set before the chunk started. Idempotent."""
    now = now or timezone.now()
    ids = sorted({int(a) for a in account_ids})
    stats = RescoreStats()
    if not ids:
        return stats
    card = card or scorecard_load()
    for chunk in _chunks(ids, chunk_size):
        stats.add(chunk_rescore(account_ids=chunk, card=card, now=now))
        if progress:
            progress(len(chunk))
    return stats


def accounts_rescore_marked(
    *, limit: int | None = None, chunk_size: int = CHUNK_SIZE, progress: Progress | None = None
) -> RescoreStats:
    """Rescore accounts marked for rescoring, oldest marks first, until none are left (or ``limit`` accounts)."""
    stats = RescoreStats()
    card = None
    while limit is None or stats.accounts < limit:
        size = chunk_size if limit is None else min(chunk_size, limit - stats.accounts)
        ids = marked_account_ids(limit=size)
        if not ids:
            break
        card = card or scorecard_load()
        with _fewer_collections():
            done = accounts_rescore(account_ids=ids, chunk_size=chunk_size, progress=progress, card=card)
        # New signals are what marked most of these accounts: their contacts' last activity moves with them (done
        # here, off the ingestion path, so concurrent event batches never write contact rows).
        contacts_last_seen_from_scores(account_ids=ids)
        stats.add(done)
        if done.marks_cleared == 0:  # marked again while we worked: the next run picks them up
            break
    return stats


def accounts_rescore_all(
    *, now: datetime | None = None, chunk_size: int = CHUNK_SIZE, progress: Progress | None = None
) -> RescoreStats:
    """Rescore every account (the nightly run: decay and windows move scores without new signals)."""
    scoring_defaults_ensure()
    now = now or timezone.now()
    card = scorecard_load()
    stats = RescoreStats()
    signals: SignalBuckets | None = None
    watermark = None
    if connection.vendor == "postgresql":
        # The signals table is not in account order, so reading it a chunk at a time reads (nearly) all its pages
        # for every chunk: read it once and group each chunk's part in NumPy. The chunks are fixed first (accounts
        # created after this moment are marked and rescored by the next run); marks set by transactions this read
        # cannot see stay for the next run. Memory: about 40 bytes per signal within the horizon.
        watermark = marks_watermark()
        all_ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
        fixed = [all_ids[i : i + chunk_size] for i in range(0, len(all_ids), chunk_size)]
        bounds = np.array([c[0] for c in fixed], dtype=np.int64)
        since = now - timedelta(days=card.horizon_days)
        outside = connection.get_autocommit() and not connection.in_atomic_block
        if outside:
            signals = signals_fetch_all(since=since, now=now, bounds=bounds)
        else:
            signals = SignalBuckets(
                bounds, [SignalBuckets.sort(signals_fetch(account_ids=None, since=since, now=now), bounds)]
            )
        if outside:
            return _rescore_overlapped(
                fixed, card=card, now=now, signals=signals, watermark=watermark, progress=progress
            )
        chunks: Iterable[list[int]] = fixed
    else:
        chunks = _keyset(chunk_size)
    for ids in chunks:
        stats.add(chunk_rescore(account_ids=ids, card=card, now=now, signals=signals, watermark=watermark))
        if progress:
            progress(len(ids))
    return stats


def score_history_backfill(
    *, moments: Sequence[datetime], chunk_size: int = CHUNK_SIZE, progress: Progress | None = None
) -> int:
    """Score history for past moments (a demo's months before today; signals imported from before Klearly): each
    account's scores as of each moment, computed as a backtest computes them (signals, milestones, segment
    membership and stage as known then; account fields as they are today), stored as ``ScoreHistory`` rows only.
    Current scores, rule hits, predictions and listeners are left alone. With active models the rows also get the
    probabilities the models give for what was known then (``scoring.predictions.probabilities_at``, not smoothed).
    Accounts created after a moment get no row for it. Idempotent: one row per account and moment. Returns the rows
    written.

    The default engagement rules are made first, as a full rescore makes them (``scoring_defaults_ensure``): without
    them every past row had engagement and signal strength 0 where today's rescore found points."""
    from ..predictions import prediction_context_load, probabilities_at

    scoring_defaults_ensure()
    card = scorecard_load()
    context = prediction_context_load(card)
    written = 0
    for at in sorted(moments):
        for ids in _keyset(chunk_size):
            chunk = chunk_read(account_ids=ids, card=card, now=at)
            computed = chunk_compute(chunk=chunk, card=card, now=at)
            c = computed.scores
            existed = [i for i, created in enumerate(chunk.accounts["created_at"]) if created <= at]
            probabilities = probabilities_at(account_ids=[c["account_id"][i] for i in existed], at=at, context=context)
            rows = computed.history_objects(existed)
            for row in rows:
                for outcome, by_account in probabilities.items():
                    setattr(row, outcome, by_account.get(row.account_id))
            ScoreHistory.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["account", "computed_at"],
                update_fields=[f for f in HISTORY_FIELDS if f != "computed_at"] + list(probabilities),
                batch_size=1000,
            )
            written += len(rows)
            if progress:
                progress(len(ids))
    return written


def _keyset(chunk_size: int) -> Iterable[list[int]]:
    """Every account id in chunks, by keyset pagination (no OFFSET)."""
    last = 0
    while ids := list(Account.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk_size]):
        last = ids[-1]
        yield ids


def _rescore_overlapped(
    chunks: Iterable[list[int]],
    *,
    card: Scorecard,
    now: datetime,
    signals: SignalBuckets,
    watermark: MarksWatermark,
    progress: Progress | None,
) -> RescoreStats:
    """A full rescore on PostgreSQL as a pipeline of three threads, each chunk passing through them in order.

    This thread reads a chunk (scores' and predictions' inputs) and computes its scores, which touches no database;
    a predictor thread computes its probabilities and reasons (the models' tree walks release the GIL); a writer
    thread, on a connection of its own, evaluates its rules and stores it in one transaction (scores, history,
    contact scores, predictions, marks). So reading, computing, predicting and writing different chunks overlap. A
    chunk's reads are not in its write transaction: like the signals read once at the start, and chunks never share
    accounts; marks the ``watermark`` does not cover stay for the next run. Listeners hear of a chunk's changes
    (here, in chunk order) once it committed. At most ``AHEAD`` chunks wait between the threads (memory).
    """
    from ..predictions import prediction_context_load, predictions_compute, predictions_read, predictions_write

    stats = RescoreStats()
    context = prediction_context_load(card)

    def write(ids: list[int], computed: Computed, measures: Measures, predicting: Future) -> tuple:
        predicted = predicting.result()
        hits = rule_hits_evaluate(account_ids=ids, now=now, measures=measures)  # rules read no score back
        connection.ensure_connection()
        raw = connection.connection  # the writer thread's own
        with raw.transaction():
            chunk_write_pg(computed, raw)
            predictions_write(predicted, raw)
            cleared = marks_clear(account_ids=ids, watermark=watermark, raw=raw)
        return cleared, computed.changes(hits, predicted.changes)

    def finish(ids: list[int], computed: Computed, writing: Future) -> None:
        cleared, changes = writing.result()
        stats.add(
            RescoreStats(
                accounts=len(computed.account_ids),
                chunks=1,
                marks_cleared=cleared,
                newly_qualified=computed.newly_qualified,
                config_version=card.version,
            )
        )
        scores_changed_announce(changes=changes, computed_at=now.isoformat())  # committed: heard at once
        if progress:
            progress(len(ids))

    pending: deque[tuple[list[int], Computed, Future]] = deque()
    predictor, writer = ThreadPoolExecutor(1, "rescore-predictor"), ThreadPoolExecutor(1, "rescore-writer")
    with _fewer_collections(), predictor, writer:
        try:
            for ids in chunks:
                chunk = chunk_read(account_ids=ids, card=card, now=now, signals=signals)
                inputs = predictions_read(
                    account_ids=ids, now=now, signals=signals.take(chunk.ids), context=context, trends_given=True
                )
                computed = chunk_compute(chunk=chunk, card=card, now=now)
                measures = rule_measures(computed.scores)
                predicting = predictor.submit(predictions_compute, inputs, _trends(measures))
                pending.append((ids, computed, writer.submit(write, ids, computed, measures, predicting)))
                while len(pending) > AHEAD:
                    finish(*pending.popleft())
            while pending:
                finish(*pending.popleft())
        finally:
            for _ids, _computed, writing in pending:
                writing.cancel()
            writer.submit(lambda: connection.close()).result()  # the writer thread's own connection (looked up there)
    return stats


AHEAD = 2  # chunks read and computed ahead of the last one written


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cyclic garbage collector less often while a full rescore runs. It makes millions of short-lived objects
    (rows, explanations, reasons), which set off a collection every 700 allocations and a full one every hundred:
    4.9 s of a 36 s full rescore with every thread stopped, against 0.6 s with a collection every 50,000 (the bench).
    Also around marked rescores (a worker drains them a chunk at a time)."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _predict(
    account_ids: Sequence[int],
    now: datetime,
    signals: SignalBuckets | SignalArrays | None,
    measures: Measures | None = None,
    card: Scorecard | None = None,
) -> Any:
    """Probabilities, reasons and health of the chunk with the active models (``scoring.predictions``); returns
    their before/after values for ``scores_changed``. ``measures``: the chunk's just computed columns (its
    engagement trends are not read back). ``card``: the rescore's scorecard (the models' score features use it)."""
    from ..predictions import predictions_refresh

    ids = np.array(sorted(account_ids), dtype=np.int64)
    chunk_signals = None if signals is None else signals.take(ids)
    trends = None if measures is None else _trends(measures)
    return predictions_refresh(account_ids=ids.tolist(), now=now, signals=chunk_signals, trends=trends, card=card)


def _trends(measures: Measures) -> dict[int, float | None]:
    """Each account's engagement trend from a chunk's just-computed measures (the predictions' health reads it)."""
    return dict(zip(measures["account_id"], measures["engagement_trend"], strict=True))
