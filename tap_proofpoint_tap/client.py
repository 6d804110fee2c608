"""The SIEM stream base: windows → requests → records → one bookmark per window.

Each window is requested once (plus bounded retries). Its body is parsed as it arrives (ijson's
C backend), so memory stays flat however large the hour; its records are emitted as they are
parsed, and only when the whole body was read does the bookmark move to the window's end and a
STATE message go out. A run stopped at any point therefore resumes without losing an event.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import ijson
import requests
import urllib3
from requests.auth import HTTPBasicAuth
from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.conform import declared_paths, generic_path
from tap_proofpoint_tap.errors import (
    AuthError,
    BudgetReached,
    ThrottledError,
    UnavailableError,
    WindowRefused,
)
from tap_proofpoint_tap.normalise import UNKNOWN_FIELDS
from tap_proofpoint_tap.singer_io import record_envelope

SCHEMA_DIR = Path(__file__).parent / "schemas"
RETRIABLE = (
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,  # raised while the body streams: cut, reset, read timeout
    ConnectionResetError,
)
ENVELOPE_CHECK_BYTES = 1 << 16


class SiemStream(RESTStream):
    """One SIEM endpoint read in ``interval`` windows; subclasses name the endpoint only."""

    records_key: ClassVar[str]
    """The array of the endpoint's envelope, e.g. ``clicksPermitted``."""
    pool: ClassVar[str] = "shared"
    """Proofpoint's rate-limit pool: ``clicks/permitted`` has its own, the rest share one."""
    normalise: ClassVar[Callable[[dict, list[str]], dict]]
    sends_threat_type: ClassVar[bool] = False

    primary_keys: ClassVar[list[str]] = ["id"]
    replication_key = "queryEndTime"
    is_sorted = True
    extra_retry_statuses: ClassVar[list[int]] = []  # a 429 lasts up to 24 h: never retry it
    STATE_MSG_FREQUENCY = sys.maxsize  # STATE goes out per window, never mid-window
    # normalise.py already gives every record its schema's types: the SDK's pass would only
    # cost time (about half of it, measured in benchmarks/).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    _plain_messages: bool | None = None  # worked out from the catalog on the first record
    _extracted_at: str | None = None  # when the current window's response arrived
    _envelopes: list[tuple[bytes, bytes]] | None = None  # RECORD lines' fixed bytes, per window
    _declared: set[str] | None = None  # field paths of the schema, and unknown ones named once

    @property
    def url_base(self) -> str:
        return self.config["api_url"].rstrip("/")

    @property
    def authenticator(self) -> HTTPBasicAuth:
        return HTTPBasicAuth(self.config["principal"], self.config["secret"])

    @property
    def timeout(self) -> int:
        return int(self.config.get("request_timeout", 300))

    def generate_child_contexts(self, record: dict, context: dict | None) -> Iterable[dict]:
        """The SIEM streams have no child streams: nothing to derive per record."""
        return ()

    def _write_record_message(self, record: dict) -> None:
        """Write the record's RECORD message without the SDK's per-record selection walk,
        identity stream map and message object: the writer puts the encoded record inside the
        message's other fields, encoded once per window (the SDK's path costs 1.7x the CPU
        time per record, measured on the benchmark's window). ``time_extracted`` is when the
        window's response arrived. With deselected properties, stream maps or flattening the
        SDK's own path runs.

        Private SDK API, hence the pinned minor version; tests cover each fallback.
        """
        if self._plain_messages is None:
            self._plain_messages = not any(
                not selected for breadcrumb, selected in self.mask.items() if breadcrumb
            ) and all(type(m) is SameRecordTransform and not m.flattening_enabled
                      for m in self.stream_maps)
        if not self._plain_messages:
            super()._write_record_message(record)
            return
        if self._envelopes is None:
            version = {} if self._stream_version is None else {"version": self._stream_version}
            self._envelopes = [
                record_envelope({"type": "RECORD", "stream": stream_map.stream_alias,
                                 "time_extracted": self._extracted_at, **version})
                for stream_map in self.stream_maps]
        for envelope in self._envelopes:
            self._tap.message_writer.write_record(envelope, record)
        self.state_manager.is_flushed = False

    def get_records(self, context: dict | None) -> Iterable[dict]:
        plan = windows.plan_windows(
            now=datetime.now(timezone.utc),
            bookmark=self._bookmark(),
            start_date=_optional_time(self.config.get("start_date")),
            end_date=_optional_time(self.config.get("end_date")),
            window_minutes=int(self.config.get("window_minutes", 60)),
            lookback_minutes=int(self.config.get("lookback_minutes", 30)),
        )
        if plan.lost:
            self.logger.warning(
                "%s: Proofpoint serves only the last 7 days; events created from %s to %s can "
                "no longer be fetched. Starting at %s.", self.name, windows.fmt(plan.lost.start),
                windows.fmt(plan.lost.end), windows.fmt(plan.lost.end))
        events = done = 0
        for window in plan.windows:
            try:
                count = yield from self._read_window(window, context)
            except BudgetReached:
                self.logger.warning(
                    "%s: max_requests_per_run (%d) reached for the %s pool; stopping after %d "
                    "of %d windows with the bookmark at %s: the next run continues from there.",
                    self.name, self.config["max_requests_per_run"], self.pool, done,
                    len(plan.windows), self._bookmark_text())
                break
            events += count
            done += 1
            self._finish_window(window, count)
        self.logger.info(
            "%s: done: %d windows, %d events, bookmark %s (%s pool: %d requests this run)",
            self.name, done, events, self._bookmark_text(), self.pool,
            self._tap.request_counts[self.pool])

    # -- one window --

    def _read_window(self, window: windows.Window,
                     context: dict | None) -> Generator[dict, None, int]:
        """Yield the window's records as its body streams in; retry the window on a failed try.

        A failed try may already have yielded records: the next try reads the window again and
        skips the ids already yielded, so each id of a window goes out once. Returns how many
        went out.
        """
        prepared = self.build_prepared_request(
            method="GET",
            url=self.get_url(context),
            params=self._params(window),
            headers=self.http_headers,
        )
        seen: set[str] = set()
        waits = self.backoff_wait_generator()
        next(waits)  # the generator's priming value
        tries = self.backoff_max_tries()
        whole = False
        for attempt in itertools.count(1):
            try:
                yield from self._records(prepared, window, seen, whole=whole)
                return len(seen)
            except RETRIABLE as error:
                # A body the streaming parser refuses is read whole by the stdlib next time,
                # at once: a cut body fails there too, anything else valid JSON is not lost.
                refused = isinstance(error, _StreamParseError) and not whole
                whole = whole or refused
                if attempt >= tries:
                    raise UnavailableError(
                        f"{self.name}: Proofpoint did not serve {window.interval} after "
                        f"{tries} tries ({_describe(error)}); state is kept at "
                        f"{self._bookmark_text()}, run again later.") from None
                wait = 0.0 if refused else self.backoff_jitter(next(waits))
                self.logger.warning("%s: %s: try %d of %d failed (%s); trying again in %.1f s",
                                    self.name, window.interval, attempt, tries,
                                    _describe(error), wait)
                time.sleep(wait)

    def _records(self, prepared: requests.PreparedRequest, window: windows.Window,
                 seen: set[str], *, whole: bool = False) -> Iterator[dict]:
        """One try: the window's new records, normalised, as the body is parsed."""
        query_end = windows.fmt(window.end)
        response = self._send(prepared)
        self._extracted_at, self._envelopes = utc_now().isoformat(sep="T"), None
        normalise = type(self).normalise
        try:
            for event in self._events(response, whole=whole):
                problems: list[str] = []
                record = normalise(event, problems)
                if problems:
                    self.logger.warning("%s: event %s kept with nulls (the values as sent are in "
                                        "%s): %s", self.name, record["id"], UNKNOWN_FIELDS,
                                        "; ".join(problems))
                if UNKNOWN_FIELDS in record:
                    self._name_unknown_fields(record)
                if record["id"] in seen:
                    continue
                seen.add(record["id"])
                record["queryEndTime"] = query_end
                yield record
        finally:
            response.close()

    def _name_unknown_fields(self, record: dict) -> None:
        """Warn once per run for each field path the schema does not declare."""
        if self._declared is None:
            self._declared = declared_paths(self.schema)
        new = {generic_path(path) for path in record[UNKNOWN_FIELDS]} - self._declared
        if new:
            self._declared |= new
            self.logger.warning(
                "%s: %s not in the schema, kept in %s (first in event %s; named once per run)",
                self.name, ", ".join(sorted(new)), UNKNOWN_FIELDS, record["id"])

    def _send(self, prepared: requests.PreparedRequest) -> requests.Response:
        """Send one request and check its status; the body is left to stream.

        Every try counts against the pool's rate limit and ``max_requests_per_run``.
        """
        budget = self.config.get("max_requests_per_run")
        if budget and self._tap.request_counts[self.pool] >= budget:
            raise BudgetReached
        self._tap.request_counts[self.pool] += 1
        response = self.requests_session.send(prepared, timeout=self.timeout, stream=True)
        self.validate_response(response)
        return response

    def _events(self, response: requests.Response, *, whole: bool = False) -> Iterator[dict]:
        """The objects of the envelope's array, parsed from the stream whatever the Content-Type.

        A body that is not JSON, stops half way or has no such array raises
        :class:`RetriableAPIError`: a window is never taken as empty by mistake. ``whole``
        reads the body into memory and parses it with the stdlib instead.
        """
        if whole:
            items = self._whole_body_items(response)
        else:
            response.raw.decode_content = True
            body = _Head(response.raw)
            items = ijson.items(body, f"{self.records_key}.item")  # floats come as Decimal
        count, others = 0, []
        try:
            for item in items:
                count += 1
                if isinstance(item, dict):
                    yield item
                else:
                    others.append(item)
        except (ijson.JSONError, UnicodeDecodeError) as error:  # the stdlib reads more
            raise _StreamParseError(f"unreadable body ({body.size} bytes read: "
                                    f"{str(error).splitlines()[0]})", response) from None
        if count == 0 and not whole and not body.has_array(self.records_key):
            raise RetriableAPIError(f"body without a {self.records_key} array", response)
        if others:
            self.logger.warning("%s: %s: %d entries of %s are not objects and cannot be "
                                "records: %s", self.name, _interval(response), len(others),
                                self.records_key, json.dumps(others, default=str)[:200])

    def _whole_body_items(self, response: requests.Response) -> list:
        items = _envelope_items(response.content, self.records_key)
        if items is None:
            raise RetriableAPIError(f"body without a {self.records_key} array "
                                    f"({len(response.content)} bytes)", response)
        return items

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status in (401, 403):
            raise AuthError(
                f"Proofpoint refused the credentials ({status}): check the 'principal' and "
                "'secret' settings (TAP_PROOFPOINT_TAP_PRINCIPAL / TAP_PROOFPOINT_TAP_SECRET).")
        if status == 429:
            raise ThrottledError(
                f"{self.name}: Proofpoint throttled the account (429). It allows 1,800 requests "
                f"per rolling 24 hours per pool ({self.pool} pool here) and keeps refusing for "
                f"up to 24 hours; state is kept at {self._bookmark_text()}, run again later.")
        if 400 <= status < 500:
            interval = _interval(response)
            raise WindowRefused(
                f"{self.name}: Proofpoint refused {interval} ({status}): "
                f"{response.text.strip() or 'no reason given'}")
        if status >= 500:
            raise RetriableAPIError(f"{status} {response.reason}", response)

    # -- state --

    def _bookmark(self) -> datetime | None:
        """The bookmark from --state (checked to be a time by the tap's ``load_state``)."""
        value = self.stream_state.get("replication_key_value")
        return windows.parse(str(value)) if value is not None else None

    def _bookmark_text(self) -> str:
        return str(self.stream_state.get("replication_key_value", "none yet"))

    def _finish_window(self, window: windows.Window, count: int) -> None:
        """The window is read and emitted: move the bookmark to its end and say so."""
        end = windows.fmt(window.end)
        state = self.stream_state
        if end > state.get("replication_key_value", ""):
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = end
        self.state_manager.is_flushed = False
        self._write_state_message()
        self.logger.info("%s: window %s: %d events; bookmark %s", self.name, window.interval,
                         count, self._bookmark_text())

    def _increment_stream_state(self, latest_record: dict, *, context: Any = None) -> None:
        """Records never move the bookmark: only a whole window does (:meth:`_finish_window`).

        The SDK would otherwise set the bookmark to a window's end as soon as its first record
        passes, and a STATE written then (e.g. on SIGTERM) would skip the rest of the window.
        """

    # -- requests --

    def _params(self, window: windows.Window) -> dict[str, Any]:
        params: dict[str, Any] = {
            "format": "json",
            "interval": window.interval,
            "threatStatus": list(self.config.get("threat_status") or ["active", "cleared"]),
        }
        if self.sends_threat_type and self.config.get("threat_type"):
            params["threatType"] = list(self.config["threat_type"])
        return params


def _optional_time(value: Any) -> datetime | None:
    return windows.parse(str(value)) if value else None


def _interval(response: requests.Response) -> str:
    query = parse_qs(urlsplit(response.url).query)
    return "interval " + query.get("interval", ["?"])[0]


def _describe(error: Exception) -> str:
    """What went wrong on the last try, in words (never the request, which holds the auth)."""
    if isinstance(error, RetriableAPIError):
        return str(error)
    if isinstance(error, (requests.exceptions.Timeout, urllib3.exceptions.ReadTimeoutError)):
        return "no answer within request_timeout"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "cannot connect or the connection dropped: check api_url and the network"
    if isinstance(error, (requests.exceptions.ChunkedEncodingError,
                          urllib3.exceptions.ProtocolError)):
        return "the body was cut off"
    return type(error).__name__


def _envelope_items(body: bytes, key: str) -> list | None:
    """The ``key`` array of a whole JSON body, or None when it is not JSON or has no such array."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    items = envelope.get(key) if isinstance(envelope, dict) else None
    return items if isinstance(items, list) else None


class _StreamParseError(RetriableAPIError):
    """The streaming parser refused the body (cut off, or beyond what it can parse)."""


class _Head:
    """A body reader that keeps the first bytes read, to check the envelope of an empty result."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.head = bytearray()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.size += len(data)
        if len(self.head) < ENVELOPE_CHECK_BYTES:
            self.head += data[: ENVELOPE_CHECK_BYTES - len(self.head)]
        return data

    def has_array(self, key: str) -> bool:
        """True when the (whole, small) body is an object whose ``key`` is a list."""
        return (self.size <= ENVELOPE_CHECK_BYTES
                and _envelope_items(bytes(self.head), key) is not None)
