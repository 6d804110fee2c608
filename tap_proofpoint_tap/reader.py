"""One window's request, its retries, and its body turned into each member stream's records.

A window is asked for once (plus bounded retries) for every stream it serves: one stream at its
own endpoint, or several through ``/v2/siem/all``. Every try counts against the run's
:class:`~tap_proofpoint_tap.budget.RequestBudget`; a failed try may already have yielded
records, so the next try skips the ids each stream already got: each id of a window goes out
once per stream.

The reader is given all it needs — a :class:`Transport`, the budget, the query and one
:class:`Member` per stream — and knows nothing of the SDK's streams or of the tap.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.answers import (
    MAX_WHOLE,
    RETRIABLE,
    check_status,
    describe,
    read_bounded,
    secrets_of,
)
from tap_proofpoint_tap.deadline import Deadline
from tap_proofpoint_tap.envelope import EnvelopeError, stream_arrays, whole_arrays
from tap_proofpoint_tap.errors import UnavailableError, WindowRefused
from tap_proofpoint_tap.wording import counted

if TYPE_CHECKING:
    import logging

    from tap_proofpoint_tap.budget import RequestBudget

ALL_PATH = "/v2/siem/all"
MAX_EVENTS = 1_000_000
"""Events of one stream in one window whose ids the reader keeps (each goes out once, also
across retries): memory stays bounded (about 100 bytes an id) whatever a server sends."""
SHOWN = 3
"""Entries that are not objects quoted in the window's warning (the rest are counted)."""
Record = dict[str, Any]
Reading = Generator[tuple[str, Record], None, dict[str, int]]
"""``(stream name, record)`` as the body streams in; returns the records per stream."""


@dataclass(frozen=True)
class Member:
    """What the reader needs of one stream: its name, array, pool and record builder."""

    name: str
    records_key: str
    """The array of the envelope, e.g. ``clicksPermitted``."""
    pool: str
    """Proofpoint's rate-limit pool of the stream's own endpoint."""
    to_record: Callable[[Record], Record]
    """The event normalised to the stream's schema."""
    new_response: Callable[[str], None]
    """Told when a response arrives, with its ``time_extracted``."""
    logger: logging.Logger


@dataclass(frozen=True)
class Endpoint:
    """Where the windows of ``members`` are asked for, and whose quota that spends."""

    path: str
    pool: str
    members: tuple[Member, ...]
    sends_threat_type: bool = False

    @classmethod
    def own(cls, member: Member, path: str, *, sends_threat_type: bool) -> Endpoint:
        return cls(path, member.pool, (member,), sends_threat_type)

    @classmethod
    def all(cls, members: tuple[Member, ...]) -> Endpoint:
        """``/v2/siem/all`` for ``members``; it counts against the shared pool (guess)."""
        return cls(ALL_PATH, "shared", members)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(member.name for member in self.members)

    @property
    def label(self) -> str:
        """The streams as log lines name them."""
        names = ", ".join(self.names)
        return names if len(self.members) == 1 else f"{names} (through {self.path})"


@dataclass(frozen=True)
class Query:
    """The settings that go into every request's query string."""

    threat_status: tuple[str, ...] = ("active", "cleared")
    threat_type: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Query:
        """The tap's ``threat_status`` (default: active and cleared) and ``threat_type``."""
        return cls(
            tuple(config.get("threat_status") or cls.threat_status),
            tuple(config.get("threat_type") or ()),
        )

    def params(self, window: windows.Window, *, sends_threat_type: bool) -> dict[str, Any]:
        params: dict[str, Any] = {
            "format": "json",
            "interval": window.interval,
            "threatStatus": list(self.threat_status),
        }
        if sends_threat_type and self.threat_type:
            params["threatType"] = list(self.threat_type)
        return params


def _sleep(seconds: float) -> None:
    """``time.sleep`` looked up when called, so that a test's guard on it sees every wait."""
    time.sleep(seconds)


@dataclass(frozen=True)
class Transport:
    """How requests go out: the session, where, with which credentials, and how retries wait."""

    session: requests.Session
    base_url: str
    headers: Mapping[str, str]
    auth: requests.auth.AuthBase
    timeout: float
    tries: int
    waits: Callable[[], Iterator[float]]
    """A fresh series of waits between tries, in seconds."""
    logger: logging.Logger
    sleep: Callable[[float], None] = field(default=_sleep)

    def retry(
        self, label: str, where: str, attempt: int, tries: int, error: Exception, wait: float
    ) -> None:
        """Say which try failed and why, then wait ``wait`` seconds before the next."""
        self.logger.warning(
            "%s: %s: try %d of %d failed (%s); trying again in %.1f s",
            label,
            where,
            attempt,
            tries,
            describe(error),
            wait,
        )
        self.sleep(wait)


class WindowReader:
    """Reads windows of one :class:`Endpoint` through one :class:`Transport`."""

    def __init__(
        self,
        endpoint: Endpoint,
        transport: Transport,
        budget: RequestBudget,
        query: Query,
        bookmarks: Callable[[], str],
    ) -> None:
        self.endpoint = endpoint
        self.transport = transport
        self.budget = budget
        self.query = query
        self.bookmarks = bookmarks  # the state kept, for error messages
        self._own_pools = tuple(member.pool for member in endpoint.members)

    def read(
        self, window: windows.Window, members: frozenset[str], *, tries: int | None = None
    ) -> Reading:
        """Yield ``(stream name, record)`` for the members named in ``members`` as the body
        streams in; retry the window on a failed try. Returns how many records each got."""
        transport = self.transport
        prepared = transport.session.prepare_request(
            requests.Request(
                "GET",
                f"{transport.base_url}{self.endpoint.path}",
                params=self.query.params(window, sends_threat_type=self.endpoint.sends_threat_type),
                headers=dict(transport.headers),
                auth=transport.auth,
            )
        )
        wanted = [m for m in self.endpoint.members if m.name in members]
        seen: dict[str, set[str]] = {member.name: set() for member in wanted}
        waits = transport.waits()
        tries = tries or transport.tries
        whole = False
        for attempt in itertools.count(1):
            try:
                yield from self._records(prepared, window, wanted, seen, whole=whole)
                return {name: len(ids) for name, ids in seen.items()}
            except RETRIABLE as error:
                # A body the streaming parser refuses is read whole by the stdlib next time,
                # at once: a cut body fails there too, anything else valid JSON is not lost.
                refused = isinstance(error, _StreamParseError) and not whole
                whole = whole or refused
                # The server may close the connection of a failed try after its answer: the
                # next try opens a new one rather than spend a try on a dead connection.
                transport.session.close()
                if attempt >= tries:
                    raise UnavailableError(
                        f"{self.endpoint.label}: Proofpoint did not serve {window.interval} "
                        f"after {counted(tries, 'try', 'tries')} ({describe(error)}); state is "
                        f"kept at {self.bookmarks()}, run again later."
                    ) from None
                wait = 0.0 if refused else next(waits)
                transport.retry(self.endpoint.label, window.interval, attempt, tries, error, wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _records(
        self,
        prepared: requests.PreparedRequest,
        window: windows.Window,
        members: list[Member],
        seen: dict[str, set[str]],
        *,
        whole: bool,
    ) -> Iterator[tuple[str, Record]]:
        """One try: each member's new records, normalised, as the body is parsed."""
        query_end = windows.fmt(window.end)
        with Deadline(self.transport.timeout) as deadline:
            response = self.send(prepared, deadline)
            extracted_at = datetime.now(timezone.utc).isoformat(sep="T")
            for member in members:
                member.new_response(extracted_at)
            by_key = {member.records_key: member for member in members}
            others = _NotObjects()
            keys = frozenset(by_key)
            try:
                if whole:
                    events = whole_arrays(read_bounded(response, MAX_WHOLE), keys)
                else:
                    response.raw.decode_content = True
                    events = stream_arrays(response.raw, keys)
                for key, event in events:
                    member = by_key[key]
                    record = self._new_record(member, event, seen[member.name], others, window)
                    if record is not None:
                        record["queryEndTime"] = query_end
                        yield member.name, record
            except EnvelopeError as error:  # not JSON, stopped half way, or an array missing
                if deadline.expired:
                    raise deadline.error() from None
                failed = RetriableAPIError if whole else _StreamParseError
                raise failed(str(error), response) from None
            except Exception:
                if deadline.expired:  # the read was ended by the deadline, whatever it raised
                    raise deadline.error() from None
                raise
            finally:
                response.close()
        for key, (count, first) in others.seen.items():
            by_key[key].logger.warning(
                "%s: %s: %d entries of %s are not objects and cannot be records: %s",
                by_key[key].name,
                window.interval,
                count,
                key,
                json.dumps(first, default=str)[:200],
            )

    def _new_record(
        self,
        member: Member,
        event: Any,
        ids: set[str],
        others: _NotObjects,
        window: windows.Window,
    ) -> Record | None:
        """The event as its stream's record; None for an entry that is not an object (counted)
        or an id this window already sent."""
        if not isinstance(event, dict):
            others.add(member.records_key, event)
            return None
        record = member.to_record(event)
        if record["id"] in ids:
            return None
        if len(ids) == MAX_EVENTS:  # more ids than the tap keeps: memory stays bounded
            minutes = int((window.end - window.start).total_seconds() // 60)
            raise WindowRefused(
                f"{self.endpoint.label}: {window.interval} holds more than {MAX_EVENTS:,} "
                f"{member.name} events, more than the tap keeps track of in one window: set "
                f"window_minutes lower (it is {minutes}); state is kept at {self.bookmarks()}."
            )
        ids.add(record["id"])
        return record

    def send(self, prepared: requests.PreparedRequest, deadline: Deadline) -> requests.Response:
        """Send one request and check its status; the body is left to stream. No redirect is
        followed: the credentials go to ``api_url``'s host and nowhere else."""
        self.budget.spend(self.endpoint.pool, self._own_pools)
        transport = self.transport
        response = deadline.send(
            transport.session, prepared, timeout=transport.timeout, allow_redirects=False
        )
        try:
            check_status(
                response,
                self.endpoint.label,
                self.endpoint.pool,
                self.bookmarks,
                secrets_of(transport.auth),
            )
        except BaseException:
            response.close()
            raise
        return response


class _NotObjects:
    """Array entries that are not objects, per array: counted, the first few kept to quote
    (a body may hold millions)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[int, list[Any]]] = {}

    def add(self, key: str, entry: Any) -> None:
        count, first = self.seen.get(key, (0, []))
        if count < SHOWN:
            first.append(entry)
        self.seen[key] = (count + 1, first)


class _StreamParseError(RetriableAPIError):
    """The streaming parser refused the body (cut off, or beyond what it can parse)."""
