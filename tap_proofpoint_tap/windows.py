"""Which SIEM windows to ask for, as pure time arithmetic (no I/O, no clock of its own).

Every value is a whole-second UTC time rendered in one format (:data:`FORMAT`), because the
SDK compares bookmark values as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

FORMAT = "%Y-%m-%dT%H:%M:%SZ"
SAFETY_LAG = timedelta(minutes=5)
"""Windows end this long before now: the API refuses windows that are "still current"."""
MAX_AGE = timedelta(days=7)
AGE_MARGIN = timedelta(minutes=10)
"""Start no closer than this to the 7-day edge: clocks differ and a backfill takes time."""
MIN_WINDOW = timedelta(seconds=30)
HOUR_MINUTES = 60  # the longest window Proofpoint serves
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
    return Plan(split(max(start, oldest), end, window_minutes), lost)


def split(start: datetime, end: datetime, window_minutes: int) -> list[Window]:
    """``[start, end)`` in windows of ``window_minutes``; a last remainder under 30 s is left."""
    windows = []
    step = timedelta(minutes=window_minutes)
    while end - start >= MIN_WINDOW:
        stop = min(start + step, end)
        windows.append(Window(start, stop))
        start = stop
    return windows


def combine(plans: Mapping[str, Plan], window_minutes: int) -> list[tuple[Window, frozenset[str]]]:
    """One series of windows for streams read together, each with the streams it serves.

    The windows run from the earliest start any stream needs to the common end, so one
    request per window serves every stream. A stream takes part from the window that holds its
    own start on: a window that ends before it would only re-read what it has, while the
    window holding its start is read whole (at most one window more than its own plan, like
    the look-back).
    """
    starts = {name: plan.windows[0].start for name, plan in plans.items() if plan.windows}
    if not starts:
        return []
    end = max(plan.windows[-1].end for plan in plans.values() if plan.windows)
    return [
        (window, frozenset(name for name, start in starts.items() if start < window.end))
        for window in split(min(starts.values()), end, window_minutes)
    ]


def latest(now: datetime, window_minutes: int) -> Window:
    """The most recent window the API serves: ``window_minutes`` up to now minus the lag."""
    end = whole(now - SAFETY_LAG)
    return Window(end - timedelta(minutes=window_minutes), end)


def whole(when: datetime) -> datetime:
    """UTC, truncated to the second."""
    return when.astimezone(timezone.utc).replace(microsecond=0)


def fmt(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime(FORMAT)


def parse(text: str) -> datetime:
    """Parse an ISO 8601 time (``Z`` or offset; naive means UTC) into an aware UTC datetime."""
    stripped = text.strip()
    if stripped[10:11] in ("t", " "):  # RFC 3339 allows a lower-case t (and a space)
        stripped = f"{stripped[:10]}T{stripped[11:]}"
    value = datetime.fromisoformat(stripped.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+01:00: before the first representable day
        raise ValueError(f"{text!r} is out of range in UTC") from None
