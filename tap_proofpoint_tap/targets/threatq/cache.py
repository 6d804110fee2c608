"""The local record of what target-threatq loaded: re-reads that cost ThreatQ nothing.

The tap re-reads its look-back on every run, and a ``--full-refresh`` re-reads everything; the
mapper's rows are then equal to rows already loaded. This record keeps, per ThreatQ instance,
each loaded row's id, a digest of its content and when it was loaded; a row seen again with
the same digest within ``cache_hours`` is not sent. It is written only after ThreatQ committed
the rows, in one SQLite transaction per load.

It is an optimisation only: a missing, deleted or unreadable file costs requests (everything
is checked against ThreatQ again, as without it), never data. What an analyst deletes in
ThreatQ is loaded again by the first record naming it read more than ``cache_hours`` after
its last load (or at once with the file deleted).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable, Mapping

Row = dict[str, Any]
CHUNK = 500  # ids per query (SQLite allows 999 parameters before 3.32)
UNMADE = "unmade:"  # before the digest of a link given up
SKEW = 60.0  # seconds a row's time may be ahead of the clock


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/target-threatq``, else ``~/.cache/target-threatq``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "target-threatq"


def cache_file(folder: Path, api_url: str) -> Path:
    """One file per instance: ids mean nothing on another one."""
    name = hashlib.sha256(api_url.rstrip("/").casefold().encode()).hexdigest()[:16]
    return folder / f"{name}.sqlite3"


SET_ONCE = ("published_at", "status")
"""An indicator's fields that ThreatQ keeps from its creation (target-threatq sets its status
only then). The mapper takes them from the first record of a run that names the indicator, and
records come in no fixed order: a re-read that sees others is not sent again for them."""


def digest(row: Mapping[str, Any], salt: str = "") -> str:
    kept = {k: v for k, v in row.items() if k not in SET_ONCE}
    text = json.dumps(kept, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256((salt + text).encode()).hexdigest()[:32]


class Cache:
    """Rows loaded into one instance within the last ``hours``; off when ``path`` is None."""

    def __init__(
        self,
        path: Path | None,
        hours: float,
        logger: logging.Logger,
        salt: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path, self.hours, self.logger, self.salt, self.clock = path, hours, logger, salt, clock
        self.db: sqlite3.Connection | None = None
        if path is not None and hours > 0:
            self.db = self._open(path)

    def _open(self, path: Path) -> sqlite3.Connection | None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            # Keyed by id and digest: two pipelines into one instance (two tenants, each its
            # source) keep their own rows.
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS loaded (id TEXT NOT NULL, digest TEXT NOT NULL, "
                "at REAL NOT NULL, PRIMARY KEY (id, digest))"
            )
            self.db.execute("DELETE FROM loaded WHERE at NOT BETWEEN ? AND ?", self._period())
        except (sqlite3.Error, OSError) as error:
            self._off(error)
        return self.db

    def _off(self, error: Exception) -> None:
        self.logger.warning(
            "target-threatq's local cache %s cannot be used (%s): every row is checked "
            "against ThreatQ (more requests, no data lost); delete the file to start a new one.",
            self.path,
            error,
        )
        self.close()

    def _period(self) -> tuple[float, float]:
        """When a row must have been loaded to count: within ``hours``, and not later than a
        minute from now (a clock that ran ahead, then was set back, trusts no row longer)."""
        now = self.clock()
        return now - self.hours * 3600, now + SKEW

    def digest(self, row: Row) -> str:
        return digest(row, self.salt)

    def known(self, rows: Iterable[Row]) -> tuple[set[str], set[str]]:
        """The ids of ``rows`` loaded with this content within ``hours``, and of the links
        among them given up then (their other end was not in ThreatQ)."""
        if self.db is None:
            return set(), set()
        wanted = {row["id"]: self.digest(row) for row in rows}
        ids = list(wanted)
        period = self._period()
        loaded: set[str] = set()
        unmade: set[str] = set()
        try:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                marks = ",".join("?" * len(chunk))
                for row_id, row_digest in self.db.execute(
                    f"SELECT id, digest FROM loaded WHERE at BETWEEN ? AND ? AND id IN ({marks})",
                    (*period, *chunk),
                ):
                    if row_digest == wanted[row_id]:
                        loaded.add(row_id)
                    elif row_digest == UNMADE + wanted[row_id]:
                        unmade.add(row_id)
        except sqlite3.Error as error:
            self._off(error)
            return set(), set()
        return loaded, unmade

    def remember(self, rows: Iterable[Row], unmade: Iterable[Row] = ()) -> None:
        """After ThreatQ committed ``rows`` (and the links ``unmade`` were given up): one
        transaction."""
        if self.db is None:
            return
        now = self.clock()
        entries = [(row["id"], self.digest(row), now) for row in rows]
        entries += [(row["id"], UNMADE + self.digest(row), now) for row in unmade]
        try:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany(
                    "INSERT OR REPLACE INTO loaded (id, digest, at) VALUES (?, ?, ?)", entries
                )
        except sqlite3.Error as error:
            self._off(error)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
