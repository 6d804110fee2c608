"""The events the sandbox can serve, each serialised once, with the filters the API applies."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.sandboxes.siem.generator import (
    STREAMS,
    Generated,
    Settings,
    creation_time,
    generate_hour,
)
from tap_proofpoint_tap.sandboxes.siem.pool import Statuses
from tap_proofpoint_tap.sandboxes.siem.rules import Window

if TYPE_CHECKING:
    import random
    from collections.abc import Iterator, Mapping

HOUR = timedelta(hours=1)
PIECE = 1000  # events per piece of a response body


@dataclass(frozen=True)
class Stored:
    """An event with its times, its filter facts and its JSON (one variant per part order);
    ``threats``: the threat ids it mentions, whose status a test may change."""

    event: dict[str, Any]
    created: datetime
    visible: datetime
    statuses: frozenset[str]
    types: frozenset[str]
    variants: tuple[bytes, ...]
    threats: frozenset[str] = frozenset()


def store(generated: Generated) -> Stored:
    """Precompute everything a request needs, so serving a window is a filter and a join."""
    event = generated.event
    infos = [i for i in _list(event.get("threatsInfoMap")) if isinstance(i, dict)]
    statuses = {event["threatStatus"]} if isinstance(event.get("threatStatus"), str) else set()
    statuses |= {i["threatStatus"] for i in infos if isinstance(i.get("threatStatus"), str)}
    types = frozenset(str(i.get("threatType", "")).lower() for i in infos)
    threats = [event.get("threatID"), *(_info_threat(i) for i in infos)]  # anything, in fuzzing
    variants = [_dump(event)]
    parts = _list(event.get("messageParts"))
    if len(parts) > 1:  # Proofpoint reorders messageParts between calls: serve both orders.
        variants.append(_dump({**event, "messageParts": parts[::-1]}))
    return Stored(
        event,
        generated.created,
        generated.visible,
        frozenset(statuses),
        types,
        tuple(variants),
        frozenset(t for t in threats if isinstance(t, str)),
    )


def restatus(stored: Stored, changed: Mapping[str, str]) -> Stored:
    """``stored`` with the statuses a test changed since (``Statuses``), serialised again."""
    event = dict(stored.event)
    threat = event.get("threatID")
    if isinstance(threat, str) and threat in changed:
        event["threatStatus"] = changed[threat]
    if isinstance(event.get("threatsInfoMap"), list):
        event["threatsInfoMap"] = [
            {**info, "threatStatus": changed[t]}
            if isinstance(info, dict) and isinstance(t := _info_threat(info), str) and t in changed
            else info
            for info in event["threatsInfoMap"]
        ]
    return store(Generated(event, stored.created, stored.visible))


def _info_threat(info: dict[str, Any]) -> object:
    """A threatsInfoMap entry's threat id: ``threatID`` on the wire, ``threatId`` in the doc."""
    return info.get("threatID", info.get("threatId"))


class EventStore:
    """Generated hours (made lazily, from ``origin`` on) plus events added by hand, served with
    the threat statuses of ``statuses``."""

    def __init__(
        self, settings: Settings, origin: datetime, statuses: Statuses | None = None
    ) -> None:
        self.settings = settings
        self.origin = origin.replace(minute=0, second=0, microsecond=0)
        self.statuses = statuses or Statuses()
        self._hours: dict[tuple[str, datetime], list[Stored]] = {}
        self._added: dict[str, list[Stored]] = {s: [] for s in STREAMS}
        self._lock = threading.Lock()

    def add(
        self,
        stream: str,
        event: dict[str, Any],
        visible: datetime | None = None,
        created: datetime | None = None,
        statuses: frozenset[str] | None = None,
    ) -> None:
        """Serve ``event`` in the window of its creation time, visible from ``visible`` on.

        ``created`` overrides the creation time read from the event and ``statuses`` the
        threat statuses the ``threatStatus`` filter sees (for events whose times or statuses
        are missing, garbage or in another case, as in fuzzing and third-party samples).
        """
        created = created or creation_time(event)
        stored = store(Generated(event, created, visible or created))
        if statuses is not None:
            stored = replace(stored, statuses=statuses)
        with self._lock:
            self._added[stream].append(stored)

    def select(
        self,
        stream: str,
        window: Window,
        now: datetime | None = None,
        statuses: frozenset[str] | None = None,
        types: frozenset[str] | None = None,
    ) -> list[Stored]:
        """Events created in ``window``, visible at ``now`` and matching the filters."""
        changed = self.statuses.changed()
        served = [
            s
            for s in self._candidates(stream, window)
            if window.start <= s.created < window.end and (now is None or s.visible <= now)
        ]
        if changed:
            served = [s if s.threats.isdisjoint(changed) else restatus(s, changed) for s in served]
        return [
            s
            for s in served
            if (statuses is None or s.statuses & statuses) and (types is None or s.types & types)
        ]

    def body(
        self, arrays: dict[str, list[Stored]], query_end: str, rng: random.Random
    ) -> tuple[int, Iterator[bytes]]:
        """The JSON envelope's length and its bytes in pieces, each joined as it is sent (a
        100,000-event hour starts at once instead of after a 90 MB copy): arrays in shuffled
        order, each event in a random part order.
        """
        parts: list[bytes | list[bytes]] = [b"{"]
        for key, events in arrays.items():
            picked = [
                rng.choice(s.variants) if len(s.variants) > 1 else s.variants[0] for s in events
            ]
            rng.shuffle(picked)
            parts += [json.dumps(key).encode() + b":[", picked, b"],"]
        parts.append(b'"queryEndTime":' + json.dumps(query_end).encode() + b"}")
        length = sum(
            len(part) if isinstance(part, bytes) else sum(map(len, part)) + max(len(part) - 1, 0)
            for part in parts
        )
        return length, _pieces(parts)

    def warm(self, start: datetime, end: datetime) -> None:
        """Generate and serialise every hour in ``[start, end)`` ahead of the first request."""
        for stream in STREAMS:
            self._candidates(stream, Window(start, end))

    def _candidates(self, stream: str, window: Window) -> list[Stored]:
        hour = max(window.start.replace(minute=0, second=0, microsecond=0), self.origin)
        out: list[Stored] = []
        while hour < window.end:
            out += self._hour(stream, hour)
            hour += HOUR
        with self._lock:
            out += self._added[stream]
        return out

    def _hour(self, stream: str, hour: datetime) -> list[Stored]:
        key = (stream, hour)
        with self._lock:
            cached = self._hours.get(key)
        if cached is None:
            cached = [store(g) for g in generate_hour(self.settings, stream, hour)]
            with self._lock:
                cached = self._hours.setdefault(key, cached)
        return cached


def _pieces(parts: list[bytes | list[bytes]]) -> Iterator[bytes]:
    """``parts`` as bytes: lists of events joined with commas, ``PIECE`` events at a time."""
    for part in parts:
        if isinstance(part, bytes):
            yield part
            continue
        for start in range(0, len(part), PIECE):
            yield (b"," if start else b"") + b",".join(part[start : start + PIECE])


def _list(value: object) -> list[Any]:
    """Events added by hand (fuzzing) may hold anything where a list belongs."""
    return value if isinstance(value, list) else []


def _dump(event: dict[str, Any]) -> bytes:
    try:
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # lone surrogates (fuzzing) can only travel as \u escapes
        return json.dumps(event, separators=(",", ":")).encode()
