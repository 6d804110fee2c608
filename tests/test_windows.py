"""Window planning as pure arithmetic."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from tap_proofpoint_tap.windows import MIN_WINDOW, SAFETY_LAG, fmt, plan_windows

pytestmark = pytest.mark.fast  # the window planner: pure functions

NOW = datetime(2026, 3, 4, 12, 0, 30, 123456, tzinfo=timezone.utc)


def plan(**kwargs):
    args = {
        "now": NOW,
        "bookmark": None,
        "start_date": None,
        "end_date": None,
        "window_minutes": 60,
        "lookback_minutes": 30,
    }
    return plan_windows(**{**args, **kwargs})


def test_default_start_is_24_hours_ago_and_end_is_now_minus_lag():
    windows = plan().windows
    assert windows[0].start == (NOW - timedelta(hours=24)).replace(microsecond=0)
    assert windows[-1].end == (NOW - SAFETY_LAG).replace(microsecond=0)
    assert all(b.start == a.end for a, b in itertools.pairwise(windows))
    assert all(MIN_WINDOW <= w.end - w.start <= timedelta(hours=1) for w in windows)


def test_bookmark_minus_lookback():
    bookmark = datetime(2026, 3, 4, 9, 0, tzinfo=timezone.utc)
    windows = plan(bookmark=bookmark).windows
    assert windows[0].start == bookmark - timedelta(minutes=30)


def test_later_start_date_wins_over_bookmark():
    bookmark = datetime(2026, 3, 4, 9, 0, tzinfo=timezone.utc)
    start = datetime(2026, 3, 4, 10, 0, tzinfo=timezone.utc)
    assert plan(bookmark=bookmark, start_date=start).windows[0].start == start


def test_remainder_under_30_seconds_waits_for_the_next_run():
    start = datetime(2026, 3, 4, 10, 0, tzinfo=timezone.utc)
    end = start + timedelta(hours=1, seconds=20)
    windows = plan(start_date=start, end_date=end).windows
    assert [fmt(w.end) for w in windows] == ["2026-03-04T11:00:00Z"]
    assert plan(start_date=start, end_date=start + timedelta(seconds=29)).windows == []


def test_bookmark_at_end_date_means_nothing_to_do():
    end = datetime(2026, 3, 4, 10, 0, tzinfo=timezone.utc)
    assert plan(bookmark=end, end_date=end).windows == []


def test_old_bookmark_is_clamped_and_the_lost_span_reported():
    bookmark = NOW - timedelta(days=9)
    result = plan(bookmark=bookmark)
    oldest = result.windows[0].start
    assert NOW - timedelta(days=7) < oldest < NOW - timedelta(days=6, hours=23)
    assert result.lost.start == bookmark.replace(microsecond=0) and result.lost.end == oldest


def test_lookback_past_the_edge_alone_loses_nothing():
    bookmark = NOW - timedelta(days=7) + timedelta(minutes=15)
    result = plan(bookmark=bookmark)
    assert result.lost is None
    assert result.windows[0].start >= NOW - timedelta(days=7)


def test_window_minutes_bounds_every_window():
    windows = plan(window_minutes=15).windows
    assert max(w.end - w.start for w in windows) == timedelta(minutes=15)
