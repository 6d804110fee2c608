"""Which SIEM windows to ask for, as pure time arithmetic (no I/O, no clock of its own).

Every value is a whole-second UTC time rendered in one format (:data:`FORMAT`), because the
SDK compares bookmark values as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

FORMAT = "%Y-%m-%dT%H:%M:%SZ"
SAFETY_LAG = timedelta(minutes=5)
"""Windows end this long before now: the API refuses windows that are "still current"."""
MAX_AGE = timedelta(days=7)
AGE_MARGIN = timedelta(minutes=10)
"""Start no closer than this to the 7-day edge: clocks differ and a backfill takes time."""
MIN_WINDOW = timedelta(seconds=30)
DEFAULT_START = timedelta(hours=24)


@dataclass(frozen=True)
class Window:
    """One ``interval=<start>/<end>`` request."""

    start: datetime
    end: datetime

    @property
    def interval(self) -> str:
        return f"{fmt(self.start)}/{fmt(self.end)}"


@dataclass(frozen=True)
class Plan:
    """The windows of one run, and the span (if any) that is too old to fetch any more."""

    windows: list[Window]
    lost: Window | None = None


def plan_windows(
    *,
    now: datetime,
    bookmark: datetime | None,
    start_date: datetime | None,
    end_date: datetime | None,
    window_minutes: int,
    lookback_minutes: int,
) -> Plan:
    """Plan a run: from ``bookmark - lookback`` (or ``start_date``) to ``end_date`` or now - lag.

    A set ``start_date`` later than ``bookmark - lookback`` wins (the user asked to skip).
    A remainder shorter than 30 s is left for the next run, never requested.
    """
    latest = whole(now - SAFETY_LAG)
    end = min(whole(end_date), latest) if end_date else latest
    if bookmark is not None:
        if bookmark >= end:
            return Plan([])
        wanted = bookmark
        start = bookmark - timedelta(minutes=lookback_minutes)
        if start_date is not None:
            start = max(start, start_date)
    else:
        wanted = start = start_date if start_date is not None else now - DEFAULT_START
    start = whole(start)
    oldest = whole(now - MAX_AGE + AGE_MARGIN)
    lost = Window(whole(wanted), oldest) if wanted < oldest else None
    start = max(start, oldest)
    windows = []
    step = timedelta(minutes=window_minutes)
    while end - start >= MIN_WINDOW:
        stop = min(start + step, end)
        windows.append(Window(start, stop))
        start = stop
    return Plan(windows, lost)


def whole(when: datetime) -> datetime:
    """UTC, truncated to the second."""
    return when.astimezone(timezone.utc).replace(microsecond=0)


def fmt(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime(FORMAT)


def parse(text: str) -> datetime:
    """Parse an ISO 8601 time (``Z`` or offset; naive means UTC) into an aware UTC datetime."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
