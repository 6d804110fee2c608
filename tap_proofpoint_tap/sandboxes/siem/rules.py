"""The SIEM API's request rules as pure functions: windows, filters and their 400 texts.

Texts marked *guess* in ``shared/siem-api.md`` are not known from the real service; they are
kept here as constants so that a client never depends on their exact wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pendulum

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

TOO_OLD = (
    "The requested start time is too far into the past. "
    "Requests for information up to 7.00d are accepted"
)
TOO_SHORT = "The requested interval is too short. Requests must be for at least 30.00s of data"
STILL_CURRENT = "The requested interval is still current."
TOO_WIDE = "The requested interval is too wide"  # guess
SINCE_TIME_TOO_OLD = "The sinceTime parameter gives a time too far into the past"
END_BEFORE_START = ""  # the real service answers 400 with an empty body

MIN_WINDOW = timedelta(seconds=30)
MAX_WINDOW = timedelta(hours=1)
MAX_AGE = timedelta(days=7)
THREAT_STATUSES = ("active", "cleared", "falsePositive")
DEFAULT_THREAT_STATUSES = frozenset({"active", "cleared"})
THREAT_TYPES = ("url", "attachment", "messageText")


class ApiError(Exception):
    """A request the real API would refuse: ``status`` and the plain-text ``body``."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Window:
    """A half-open time window ``[start, end)`` in UTC."""

    start: datetime
    end: datetime


def resolve_window(
    params: Mapping[str, Sequence[str]], now: datetime, current_lag: timedelta
) -> Window:
    """Turn ``interval`` / ``sinceSeconds`` / ``sinceTime`` into a window, or raise ``ApiError``.

    ``current_lag``: how close to ``now`` an interval may end before it is "still current".
    """
    given = [name for name in ("interval", "sinceSeconds", "sinceTime") if name in params]
    if len(given) != 1:
        raise ApiError(400, "Exactly one of interval, sinceSeconds or sinceTime is required")
    name = given[0]
    value = params[name][0]
    minute = now.replace(second=0, microsecond=0)
    if name == "interval":
        window = parse_interval(value)
        _check_span(window, TOO_WIDE)
        _check_age(window, now, TOO_OLD)
        if window.end > now - current_lag:
            raise ApiError(400, STILL_CURRENT)
        return window
    if name == "sinceSeconds":
        try:
            seconds = int(value)
        except ValueError:
            raise ApiError(400, f"Invalid sinceSeconds value: {value}") from None
        window = Window(minute - timedelta(seconds=seconds), minute)
        _check_span(window, TOO_WIDE)
        return window
    window = Window(_parse_time(value), minute)
    _check_span(window, SINCE_TIME_TOO_OLD)
    _check_age(window, now, SINCE_TIME_TOO_OLD)
    return window


def threat_statuses(params: Mapping[str, Sequence[str]]) -> frozenset[str]:
    """The ``threatStatus`` filter (repeated keys or comma lists); active + cleared by default."""
    values = _split(params.get("threatStatus", ()))
    for value in values:
        if value not in THREAT_STATUSES:
            raise ApiError(400, f"Invalid threatStatus value: {value}")
    return frozenset(values) or DEFAULT_THREAT_STATUSES


def threat_types(params: Mapping[str, Sequence[str]]) -> frozenset[str] | None:
    """The ``threatType`` filter in lower case, or None when absent (no filtering)."""
    values = _split(params.get("threatType", ()))
    allowed = {t.lower() for t in THREAT_TYPES}
    for value in values:
        if value.lower() not in allowed:
            raise ApiError(400, f"Invalid threatType value: {value}")
    return frozenset(v.lower() for v in values) or None


def check_format(params: Mapping[str, Sequence[str]]) -> None:
    """Only JSON is served; the real default format is undocumented, so ask for it explicitly."""
    fmt = params.get("format", [None])[0]
    if fmt is None:
        raise ApiError(400, "format=json is required (the sandbox does not guess the default)")
    if fmt.lower() != "json":
        raise ApiError(400, f"Unsupported format: {fmt} (the sandbox serves json only)")


def format_time(when: datetime) -> str:
    """``queryEndTime`` as the API writes it: whole seconds unless the request had fractions."""
    when = when.astimezone(timezone.utc)
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _split(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _check_span(window: Window, too_wide: str) -> None:
    if window.end < window.start:
        raise ApiError(400, END_BEFORE_START)
    if window.end - window.start < MIN_WINDOW:
        raise ApiError(400, TOO_SHORT)
    if window.end - window.start > MAX_WINDOW:
        raise ApiError(400, too_wide)


def _check_age(window: Window, now: datetime, text: str) -> None:
    if window.start < now - MAX_AGE:
        raise ApiError(400, text)


def parse_interval(value: str) -> Window:
    """An ISO 8601 interval: ``start/end``, ``start/duration`` or ``duration/end``."""
    parts = value.split("/")
    if len(parts) != 2:  # noqa: PLR2004  (start/end, start/duration or duration/end)
        raise ApiError(400, f"Invalid interval: {value}")
    first, second = (part.strip() for part in parts)
    if first.upper().startswith("P") and second.upper().startswith("P"):
        raise ApiError(400, f"Invalid interval: {value}")
    if first.upper().startswith("P"):
        end = _parse_time(second)
        return Window(end - _parse_duration(first), end)
    start = _parse_time(first)
    if second.upper().startswith("P"):
        return Window(start, start + _parse_duration(second))
    return Window(start, _parse_time(second))


def _parse_time(value: str) -> datetime:
    # A '+' offset sent unencoded arrives as a space: accept it as the real service does.
    text = value.strip().replace(" ", "+")
    try:
        parsed: object = pendulum.parse(text, strict=False)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        raise ApiError(400, f"Invalid time: {value}") from None
    if not isinstance(parsed, datetime):
        raise ApiError(400, f"Invalid time: {value}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return _plain(parsed)


def _parse_duration(value: str) -> timedelta:
    try:
        parsed = pendulum.parse(value.strip())
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        raise ApiError(400, f"Invalid duration: {value}") from None
    if not isinstance(parsed, timedelta):
        raise ApiError(400, f"Invalid duration: {value}")
    return timedelta(seconds=parsed.total_seconds())


def _plain(when: datetime) -> datetime:
    """A stdlib UTC datetime (pendulum's subclass compares fine but prints differently)."""
    utc = when.astimezone(timezone.utc)
    return datetime(
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
        tzinfo=timezone.utc,
    )
