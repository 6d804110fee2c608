"""The requests of the last 24 hours per rate-limit pool, kept in the state.

Proofpoint counts each pool over a rolling 24 hours, and four of the pools the tap spends
allow only 50 requests (shared with every other tool on the principal). Each request is
logged here *before* it is sent, in the bookmark of the stream that spends the pool, and that
bookmark goes out with every STATE: however often the tap runs and however a run ends (kill -9
included), the next one knows what was spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from tap_proofpoint_tap import windows

DAY = timedelta(hours=24)
REST = timedelta(hours=1)
"""How long a pool rests after Proofpoint answered 429 (each run in between asks nothing)."""


@dataclass(frozen=True)
class Pool:
    """A rate-limit pool: Proofpoint's limit, and the most of it the tap spends per 24 h."""

    name: str
    limit: int
    share: int
    setting: str | None = None
    """The setting that sets ``share``, to name when it is spent."""


POOLS = {
    pool.name: pool
    for pool in (
        Pool("campaign_ids", 50, 40),
        Pool("vap", 50, 40),
        Pool("top_clickers", 50, 40),
        Pool("forensics_threat", 50, 40, "forensics_threat_requests_per_day"),
        Pool("forensics_campaign", 1800, 1500),
    )
}
"""The pools with a daily share. The tap leaves a fifth of each to the other tools on the
principal (forensics by threat: what ``forensics_threat_requests_per_day`` leaves)."""


class QuotaLog:
    """The pools' request times (``requests``: pool → epoch seconds) and when a 429 came
    (``throttled``: pool → epoch seconds), kept in one stream's bookmark ``entry``."""

    def __init__(self, entry: dict[str, Any], shares: dict[str, int]) -> None:
        self.entry = entry
        self.shares = shares

    def used(self, pool: str, now: datetime) -> int:
        """Requests to ``pool`` in the 24 hours before ``now`` (older ones are dropped)."""
        log = self._log(pool)
        since = (now - DAY).timestamp()
        kept = [at for at in log if at > since]
        if len(kept) != len(log):
            self.entry["requests"][pool] = kept
        return len(kept)

    def refusal(self, pool: str, now: datetime) -> str | None:
        """Why ``pool`` may not be asked now (its share spent, or resting after a 429)."""
        throttled = self.entry.get("throttled", {}).get(pool)
        if isinstance(throttled, (int, float)) and now.timestamp() < throttled + REST.seconds:
            return (
                f"Proofpoint answered 429 at {windows.fmt(_time(throttled))}; the pool rests "
                f"until {windows.fmt(_time(throttled) + REST)}"
            )
        used, share = self.used(pool, now), self.shares[pool]
        setting = POOLS[pool].setting
        if share == 0:
            return f"{setting or 'its share'} is 0"
        if used >= share:
            first = min(self._log(pool))
            return (
                f"{used} requests in the last 24 hours, the tap's share "
                f"({f'{setting} = ' if setting else ''}{share} of {POOLS[pool].limit}); the "
                f"next is free at {windows.fmt(_time(first) + DAY)}"
            )
        return None

    def spend(self, pool: str, now: datetime) -> None:
        """Log one request to ``pool`` at ``now`` (before it is sent)."""
        self._log(pool).append(int(now.timestamp()))
        self.entry.get("throttled", {}).pop(pool, None)

    def throttled(self, pool: str, now: datetime) -> None:
        """Proofpoint answered 429: the pool rests for :data:`REST`."""
        self.entry.setdefault("throttled", {})[pool] = int(now.timestamp())

    def _log(self, pool: str) -> list[int | float]:
        requests = self.entry.setdefault("requests", {})
        log: list[int | float] | None = requests.get(pool)
        if not isinstance(log, list):
            log = requests[pool] = []
        return log


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)
