"""When things happen in the demo world: its window of days before a fixed "now", each signal type's weekday pattern
or calendar of event days, and moments in the local business hours of an account's country."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from klearly.demo.catalog import TYPES

WINDOW_DAYS = 270  # about nine months of signals before "now"
DAY = 86_400


def demo_anchor(today: datetime | None = None) -> datetime:
    """The fixed "now" of a demo world: midnight UTC of today, so runs on the same day build the same world."""
    today = today or datetime.now(UTC)
    return today.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def day_factors(rng: np.random.Generator, start: datetime) -> np.ndarray:
    """A factor per day and type: the type's weekday pattern, or 1 on its event days and 0 elsewhere."""
    days = np.arange(WINDOW_DAYS)
    weekday = (start.weekday() + days) % 7
    weekend = weekday >= 5
    # Webinars every other Thursday; one virtual event a month on a Wednesday; customer meetups on some Tuesdays;
    # three trade shows of three days (Tuesday to Thursday) where booth visits happen.
    thursday, wednesday, tuesday = (np.flatnonzero(weekday == w) for w in (3, 2, 1))
    show_starts = rng.choice(tuesday[2:-2], size=3, replace=False)
    events = {
        "webinar": np.isin(days, thursday[rng.integers(0, 2) :: 2]),
        "virtual": np.isin(days, wednesday[rng.integers(0, 4) :: 4]),
        "meetup": np.isin(days, tuesday[rng.integers(0, 5) :: 5]),
        "tradeshow": np.isin(days, np.concatenate([show_starts, show_starts + 1, show_starts + 2])),
    }
    patterns = {
        "product": np.where(weekend, 0.18, 1.0),
        "marketing": np.where(weekend, 0.35, 1.0),
        "sales": np.where(weekend, 0.03, 1.0),
        # newsletters and nurture emails go out mid-week
        "outbound": np.select([weekend, np.isin(weekday, (1, 2, 3))], [0.0, 1.4], 0.6),
    }
    factor = np.empty((WINDOW_DAYS, len(TYPES)))
    for t, spec in enumerate(TYPES):
        factor[:, t] = events[spec.timing].astype(float) if spec.timing in events else patterns[spec.timing]
    return factor


def business_seconds(rng: np.random.Generator, offsets: np.ndarray, *, spread: float | np.ndarray = 0.85) -> np.ndarray:
    """Seconds into the UTC day of moments that mostly fall in local business hours (``offsets`` in hours)."""
    n = len(offsets)
    local = np.where(rng.random(n) < spread, rng.normal(13.0, 2.6, n), rng.uniform(0, 24, n))
    return (((local - offsets) % 24) * 3600).astype(np.int64)


def aware_datetimes(start: datetime, seconds: np.ndarray) -> list[datetime]:
    """Aware datetimes from whole seconds after ``start`` (NumPy does the arithmetic, Python only the tzinfo)."""
    naive = (np.datetime64(start.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]")).tolist()
    return [moment.replace(tzinfo=UTC) for moment in naive]
