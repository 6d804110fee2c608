"""The sandbox's notion of "now": fixed for deterministic tests, or real time plus an offset."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class Clock:
    """A settable UTC clock.

    ``Clock(fixed=dt)`` stands still until moved with :meth:`set` or :meth:`advance`;
    ``Clock(offset=td)`` follows real time shifted by ``td``.
    """

    def __init__(self, fixed: datetime | None = None, offset: timedelta = timedelta(0)) -> None:
        self._lock = threading.Lock()
        self._fixed = _utc(fixed) if fixed else None
        self._offset = offset

    def now(self) -> datetime:
        """The current sandbox time (UTC, aware)."""
        with self._lock:
            if self._fixed is not None:
                return self._fixed
            return datetime.now(timezone.utc) + self._offset

    def set(self, when: datetime) -> None:
        """Freeze the clock at ``when``."""
        with self._lock:
            self._fixed = _utc(when)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (a fixed clock stays fixed, a running one gains offset)."""
        with self._lock:
            if self._fixed is not None:
                self._fixed += delta
            else:
                self._offset += delta


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)
