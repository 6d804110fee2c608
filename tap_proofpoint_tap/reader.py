"""One window's request, its retries, and its body turned into each stream's records.

A window is asked for once (plus bounded retries) for every stream it serves: one stream at its
own endpoint, or several through ``/v2/siem/all``. Every try counts against the pool's rate
limit and ``max_requests_per_run``; a failed try may already have yielded records, so the next
try skips the ids each stream already got: each id of a window goes out once per stream.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests
import urllib3
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers._util import utc_now

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.envelope import EnvelopeError, stream_arrays, whole_arrays
from tap_proofpoint_tap.errors import (
    AuthError,
    BudgetReached,
    ThrottledError,
    UnavailableError,
    WindowRefused,
)

if TYPE_CHECKING:
    from tap_proofpoint_tap.client import SiemStream

ALL_PATH = "/v2/siem/all"
RETRIABLE = (
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,  # raised while the body streams: cut, reset, read timeout
    ConnectionResetError,
)


@dataclass(frozen=True)
class Endpoint:
    """Where the windows of ``streams`` are asked for, and whose quota that spends."""

    path: str
    pool: str
    streams: tuple[SiemStream, ...]
    sends_threat_type: bool = False

    @classmethod
    def own(cls, stream: SiemStream) -> Endpoint:
        return cls(stream.path, stream.pool, (stream,), stream.sends_threat_type)

    @classmethod
    def all(cls, streams: tuple[SiemStream, ...]) -> Endpoint:
        """``/v2/siem/all`` for ``streams``; it counts against the shared pool (guess)."""
        return cls(ALL_PATH, "shared", streams)

    @property
    def label(self) -> str:
        """The streams as log lines name them."""
        names = ", ".join(stream.name for stream in self.streams)
        return names if len(self.streams) == 1 else f"{names} (through {self.path})"


class WindowReader:
    """Reads windows of one :class:`Endpoint`, with the HTTP set-up of its first stream."""

    def __init__(self, endpoint: Endpoint, bookmarks: Callable[[], str]) -> None:
        self.endpoint = endpoint
        self.http = endpoint.streams[0]
        self.bookmarks = bookmarks  # the state kept, for error messages

    def read(
        self, window: windows.Window, members: frozenset[str], *, tries: int | None = None
    ) -> Generator[tuple[SiemStream, dict], None, dict[str, int]]:
        """Yield ``(stream, record)`` for the streams named in ``members`` as the body streams
        in; retry the window on a failed try. Returns how many records each stream got."""
        http = self.http
        prepared = http.build_prepared_request(
            method="GET",
            url=f"{http.url_base}{self.endpoint.path}",
            params=self.params(window),
            headers=http.http_headers,
        )
        streams = [s for s in self.endpoint.streams if s.name in members]
        seen: dict[str, set[str]] = {stream.name: set() for stream in streams}
        waits = http.backoff_wait_generator()
        next(waits)  # the generator's priming value
        tries = tries or http.backoff_max_tries()
        whole = False
        for attempt in itertools.count(1):
            try:
                yield from self._records(prepared, window, streams, seen, whole=whole)
                return {name: len(ids) for name, ids in seen.items()}
            except RETRIABLE as error:
                # A body the streaming parser refuses is read whole by the stdlib next time,
                # at once: a cut body fails there too, anything else valid JSON is not lost.
                refused = isinstance(error, _StreamParseError) and not whole
                whole = whole or refused
                if attempt >= tries:
                    raise UnavailableError(
                        f"{self.endpoint.label}: Proofpoint did not serve {window.interval} "
                        f"after {tries} tries ({describe(error)}); state is kept at "
                        f"{self.bookmarks()}, run again later."
                    ) from None
                wait = 0.0 if refused else http.backoff_jitter(next(waits))
                http.logger.warning(
                    "%s: %s: try %d of %d failed (%s); trying again in %.1f s",
                    self.endpoint.label,
                    window.interval,
                    attempt,
                    tries,
                    describe(error),
                    wait,
                )
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _records(
        self,
        prepared: requests.PreparedRequest,
        window: windows.Window,
        streams: list[SiemStream],
        seen: dict[str, set[str]],
        *,
        whole: bool,
    ) -> Iterator[tuple[SiemStream, dict]]:
        """One try: each stream's new records, normalised, as the body is parsed."""
        query_end = windows.fmt(window.end)
        response = self.send(prepared)
        extracted_at = utc_now().isoformat(sep="T")
        for stream in streams:
            stream.new_response(extracted_at)
        by_key = {stream.records_key: stream for stream in streams}
        others: dict[str, list] = {}
        try:
            for key, event in self.events(response, frozenset(by_key), whole=whole):
                stream = by_key[key]
                if not isinstance(event, dict):
                    others.setdefault(key, []).append(event)
                    continue
                record = stream.to_record(event)
                ids = seen[stream.name]
                if record["id"] in ids:
                    continue
                ids.add(record["id"])
                record["queryEndTime"] = query_end
                yield stream, record
        finally:
            response.close()
        for key, items in others.items():
            by_key[key].logger.warning(
                "%s: %s: %d entries of %s are not objects and cannot be records: %s",
                by_key[key].name,
                window.interval,
                len(items),
                key,
                json.dumps(items, default=str)[:200],
            )

    def send(self, prepared: requests.PreparedRequest) -> requests.Response:
        """Send one request and check its status; the body is left to stream."""
        http, pool = self.http, self.endpoint.pool
        tap = http._tap
        budget = http.config.get("max_requests_per_run")
        if budget and tap.request_counts[pool] >= budget:
            raise BudgetReached
        tap.request_counts[pool] += 1
        for stream in self.endpoint.streams:  # what reading one stream at a time would cost
            tap.one_by_one_counts[stream.pool] += 1
        response = http.requests_session.send(prepared, timeout=http.timeout, stream=True)
        self.check_status(response)
        return response

    def events(
        self, response: requests.Response, keys: frozenset[str], *, whole: bool
    ) -> Iterator[tuple[str, Any]]:
        """``(array key, item)`` of the body, whatever its Content-Type; a body that is not
        JSON, stops half way or lacks an array raises a retriable error, so a window is never
        taken as empty by mistake."""
        if whole:
            try:
                yield from whole_arrays(response.content, keys)
            except EnvelopeError as error:
                raise RetriableAPIError(str(error), response) from None
            return
        response.raw.decode_content = True
        try:
            yield from stream_arrays(response.raw, keys)
        except EnvelopeError as error:
            raise _StreamParseError(str(error), response) from None

    def check_status(self, response: requests.Response) -> None:
        status, label = response.status_code, self.endpoint.label
        if status in (401, 403):
            raise AuthError(
                f"Proofpoint refused the credentials ({status}): check the 'principal' and "
                "'secret' settings (TAP_PROOFPOINT_TAP_PRINCIPAL / TAP_PROOFPOINT_TAP_SECRET)."
            )
        if status == 429:
            raise ThrottledError(
                f"{label}: Proofpoint throttled the account (429). It allows 1,800 requests "
                f"per rolling 24 hours per pool ({self.endpoint.pool} pool here) and keeps "
                f"refusing for up to 24 hours; state is kept at {self.bookmarks()}, run again "
                "later."
            )
        if 400 <= status < 500:
            raise WindowRefused(
                f"{label}: Proofpoint refused {_interval(response)} ({status}): "
                f"{response.text.strip() or 'no reason given'}"
            )
        if status >= 500:
            raise RetriableAPIError(f"{status} {response.reason}", response)

    def params(self, window: windows.Window) -> dict[str, Any]:
        config = self.http.config
        params: dict[str, Any] = {
            "format": "json",
            "interval": window.interval,
            "threatStatus": list(config.get("threat_status") or ["active", "cleared"]),
        }
        if self.endpoint.sends_threat_type and config.get("threat_type"):
            params["threatType"] = list(config["threat_type"])
        return params


def describe(error: Exception) -> str:
    """What went wrong on the last try, in words (never the request, which holds the auth)."""
    if isinstance(error, RetriableAPIError):
        return str(error)
    if isinstance(error, (requests.exceptions.Timeout, urllib3.exceptions.ReadTimeoutError)):
        return "no answer within request_timeout"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "cannot connect or the connection dropped: check api_url and the network"
    if isinstance(
        error, (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError)
    ):
        return "the body was cut off"
    return type(error).__name__


def _interval(response: requests.Response) -> str:
    query = parse_qs(urlsplit(response.url).query)
    return "interval " + query.get("interval", ["?"])[0]


class _StreamParseError(RetriableAPIError):
    """The streaming parser refused the body (cut off, or beyond what it can parse)."""
