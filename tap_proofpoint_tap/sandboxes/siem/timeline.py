"""Each pooled threat's one identification time and its status timeline, anchored on the
traffic the sandbox serves: the truth events, summaries and campaigns agree on, and tests use.

The anchor is the store's origin (the first hour served) and the history span
(``Settings.origin`` and ``Settings.span``; the ``Sandbox`` sets both):

- ``I_n``, threat ``n``'s identification time (its ``threatTime`` in every event, its
  ``identifiedAt``, its ``threatTime`` as a campaign member): for ``EARLY_SHARE`` of the threats
  ``origin - u * EARLY`` (known shortly before the traffic starts), for the others
  ``origin + u * span``, with ``u`` hashed from (seed, n) in [0, 1); whole milliseconds, as the
  API writes times.
- Its status: ``active`` from ``I_n``; a threat whose pool status is ``cleared`` or
  ``falsePositive`` switches to it at ``C_n = I_n + d * span``, ``d`` hashed in
  [``CHANGE_MIN``, ``CHANGE_MAX``), so a day of traffic shows threats before and after their
  change. Events carry the status at their creation time, the Threat and Campaign APIs the
  status at the request's time; a test's ``Statuses`` change overrides both from then on.
"""

from __future__ import annotations

import bisect
import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from tap_proofpoint_tap.sandboxes.siem.pool import THREATS, WIDER_THREATS, pooled_threat


class Settings(Protocol):
    """What a timeline needs of the generator's Settings (``generator`` imports this module,
    so it is named by shape, not imported)."""

    @property
    def seed(self) -> int: ...
    @property
    def origin(self) -> datetime | None: ...
    @property
    def span(self) -> timedelta: ...


EARLY_SHARE = 0.3  # threats identified shortly before the traffic starts
EARLY = timedelta(hours=6)  # how shortly: up to this long before the origin
CHANGE_MIN, CHANGE_MAX = 0.05, 0.5  # C_n - I_n, as shares of the span
ACTIVE = "active"


@dataclass(frozen=True)
class Timeline:
    """A threat's identification time, its final status and when it takes it (None: the
    threat stays active)."""

    identified: datetime
    final: str
    changed: datetime | None

    def status_at(self, when: datetime) -> str:
        """The status an event created at ``when`` carries (the scheduled one, before any
        change a test makes)."""
        return self.final if self.changed is not None and when >= self.changed else ACTIVE


def anchor(settings: Settings) -> tuple[datetime, timedelta]:
    """``settings``' origin and span; an unanchored ``Settings`` cannot generate threats."""
    if settings.origin is None:
        raise ValueError(
            "Settings.origin is unset: anchor the settings on the traffic they serve "
            "(Settings.anchored(origin, span); the Sandbox does it from its clock and history)"
        )
    return settings.origin, settings.span


def timeline(settings: Settings, n: int) -> Timeline:
    """Threat ``n``'s timeline under ``settings``' seed and anchor."""
    origin, span = anchor(settings)
    return _timeline(settings.seed, origin, span, n)


def threat_time(settings: Settings, n: int) -> datetime:
    """``I_n``: threat ``n``'s identification time, its ``threatTime`` everywhere."""
    return timeline(settings, n).identified


def status_at(settings: Settings, n: int, when: datetime) -> str:
    """Threat ``n``'s scheduled status at ``when``."""
    return timeline(settings, n).status_at(when)


@functools.lru_cache(maxsize=8192)
def _timeline(seed: int, origin: datetime, span: timedelta, n: int) -> Timeline:
    rng = random.Random(f"{seed}|threat|{n}|timeline")
    if rng.random() < EARLY_SHARE:
        identified = origin - EARLY * rng.random()
    else:
        identified = origin + span * rng.random()
    identified = identified.replace(microsecond=identified.microsecond // 1000 * 1000)
    final = str(pooled_threat(seed, n)["status"])
    delay = span * rng.uniform(CHANGE_MIN, CHANGE_MAX)
    changed = identified + max(delay, timedelta(minutes=1)) if final != ACTIVE else None
    return Timeline(identified, final, changed)


@functools.lru_cache(maxsize=64)
def _known(
    seed: int, origin: datetime, span: timedelta, urls: bool
) -> tuple[list[datetime], list[int]]:
    """The event threats (URL threats only when ``urls``) by identification time: times, ids."""
    pairs = sorted(
        (_timeline(seed, origin, span, n).identified, n)
        for n in range(THREATS)
        if not urls or pooled_threat(seed, n)["type"] == "url"
    )
    return [t for t, _ in pairs], [n for _, n in pairs]


def pick_known(rng: random.Random, settings: Settings, when: datetime, urls: bool) -> int | None:
    """A threat of the events' pool identified by ``when`` (None: none is yet)."""
    origin, span = anchor(settings)
    times, ns = _known(settings.seed, origin, span, urls)
    count = bisect.bisect_right(times, when)
    return ns[rng.randrange(count)] if count else None


def pick_identified_in(
    rng: random.Random, settings: Settings, start: datetime, end: datetime, urls: bool
) -> int | None:
    """A threat of the events' pool identified in ``[start, end)`` (None: none was)."""
    origin, span = anchor(settings)
    times, ns = _known(settings.seed, origin, span, urls)
    first, last = bisect.bisect_left(times, start), bisect.bisect_left(times, end)
    return ns[rng.randrange(first, last)] if last > first else None


@functools.lru_cache(maxsize=16)
def threat_index(seed: int) -> dict[str, int]:
    """Every threat id of ``seed`` (the events' pool and the wider one) → its pool index."""
    return {pooled_threat(seed, n)["threatID"]: n for n in range(THREATS + WIDER_THREATS)}
