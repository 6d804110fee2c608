"""Time on the report's axes: every time axis spans the data's period, never more.

A click can be older than the period (a retroactive click is reported when its URL is condemned,
hours or days later) and a threat time can be weeks old: drawn as they are, they would stretch
the axis and squeeze the period's data into a sliver. So buckets are cut to the period, and
points outside it are counted and drawn on its edge.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tap_proofpoint_tap.report.queries import Period
    from tap_proofpoint_tap.report.table import Row

HOURLY_UP_TO = timedelta(hours=72)  # longer periods are drawn per UTC day
ISO = "%Y-%m-%dT%H:%M:%SZ"


def parse(iso: str) -> datetime:
    return datetime.strptime(iso, ISO).replace(tzinfo=timezone.utc)


def epoch_ms(when: datetime) -> float:
    """Milliseconds since the epoch (what Vega takes for a time domain)."""
    return when.timestamp() * 1000


@dataclass(frozen=True)
class Span:
    """The period as datetimes."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, period: Period) -> Span | None:
        if period.start is None or period.end is None:
            return None
        start, end = parse(period.start), parse(period.end)
        return cls(start, max(end, start + timedelta(minutes=1)))

    @property
    def hourly(self) -> bool:
        return self.end - self.start <= HOURLY_UP_TO

    def domain(self) -> list[float]:
        return [epoch_ms(self.start), epoch_ms(self.end)]

    def clamp(self, when: datetime) -> tuple[datetime, bool]:
        """``when`` moved onto the period's nearer edge, and whether it had to be."""
        if when < self.start:
            return self.start, True
        if when > self.end:
            return self.end, True
        return when, False


def bucket_start(when: datetime, hourly: bool) -> datetime:
    when = when.replace(minute=0, second=0, microsecond=0)
    return when if hourly else when.replace(hour=0)


def click_buckets(clicks: list[Row], span: Span) -> tuple[list[dict[str, Any]], int]:
    """Clicks per hour (or UTC day) of the period, by disposition and classification, each
    bucket cut to the period (``partial`` when it had to be) and stacked from the zero line
    (permitted up, blocked down: ``low`` to ``high``), and the number of clicks made before the
    period (reported in it later: retroactive), which no bucket holds."""
    counts: dict[tuple[datetime, str, str], int] = defaultdict(int)
    before = 0
    for click in clicks:
        when = parse(click["click_time"])
        if when < span.start:
            before += 1
            continue
        start = bucket_start(min(when, span.end), span.hourly)
        counts[start, click["disposition"], click["classification"]] += 1
    step = timedelta(hours=1) if span.hourly else timedelta(days=1)
    out = []
    stacked: dict[tuple[datetime, str], int] = defaultdict(int)  # the bar's top so far
    for (start, disposition, classification), events in sorted(counts.items()):
        low, high = max(start, span.start), min(start + step, span.end)
        sign = 1 if disposition == "permitted" else -1
        base = stacked[start, disposition]
        stacked[start, disposition] = base + events
        out.append(
            {
                "start": epoch_ms(low),
                "end": epoch_ms(high),
                "bucket": f"{low:%Y-%m-%d %H:%M} to {high:%H:%M}"
                if span.hourly
                else f"{low:%Y-%m-%d}",
                "disposition": disposition,
                "classification": classification,
                "events": events,
                "low": sign * base,
                "high": sign * (base + events),
                "partial": (low, high) != (start, start + step),
            }
        )
    return out, before


def day_column(day: str, span: Span) -> dict[str, Any]:
    """A UTC day (``YYYY-MM-DD``) as a chart column: its label, with the hours of it the period
    holds when that is not the whole day (``partial``)."""
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    end = start + timedelta(days=1)
    held = min(end, span.end) - max(start, span.start)
    partial = held < end - start
    hours = max(held, timedelta(0)).total_seconds() / 3600
    label = f"{day} ({hours:.1f} h read)" if partial else day
    return {"day": day, "column": label, "partial": partial}
