"""The SIEM stream base: windows → requests (:mod:`reader`) → records → a bookmark per window.

A stream reads its own endpoint, or several streams read ``/v2/siem/all`` together: the first
of them runs the windows for all, one request per window, and each gets its array's events.
Only when a window's whole body was read do the bookmarks of the streams it served move to its
end, and one STATE message goes out. A run stopped at any point therefore resumes without
losing an event.
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Callable, Generator, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from requests.auth import HTTPBasicAuth
from singer_sdk import RESTStream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.conform import declared_paths, generic_path
from tap_proofpoint_tap.errors import BudgetReached
from tap_proofpoint_tap.normalise import UNKNOWN_FIELDS
from tap_proofpoint_tap.reader import Endpoint, WindowReader
from tap_proofpoint_tap.singer_io import record_envelope

SCHEMA_DIR = Path(__file__).parent / "schemas"


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
    _schema_written = False

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
            ) and all(
                type(m) is SameRecordTransform and not m.flattening_enabled
                for m in self.stream_maps
            )
        if not self._plain_messages:
            super()._write_record_message(record)
            return
        if self._envelopes is None:
            version = {} if self._stream_version is None else {"version": self._stream_version}
            self._envelopes = [
                record_envelope(
                    {
                        "type": "RECORD",
                        "stream": stream_map.stream_alias,
                        "time_extracted": self._extracted_at,
                        **version,
                    }
                )
                for stream_map in self.stream_maps
            ]
        for envelope in self._envelopes:
            self._tap.message_writer.write_record(envelope, record)
        self.state_manager.is_flushed = False

    def _write_schema_message(self) -> None:
        """Once per run: a stream read with another one gets its SCHEMA before their first
        window, and not again when the SDK comes to sync it."""
        if not self._schema_written:
            self._schema_written = True
            super()._write_schema_message()

    def new_response(self, extracted_at: str) -> None:
        """A window's response arrived: its records carry this ``time_extracted``."""
        self._extracted_at, self._envelopes = extracted_at, None

    def to_record(self, event: dict) -> dict:
        """The event normalised to the schema; what could not keep its type is named."""
        problems: list[str] = []
        record = type(self).normalise(event, problems)
        if problems:
            self.logger.warning(
                "%s: event %s kept with nulls (the values as sent are in %s): %s",
                self.name,
                record["id"],
                UNKNOWN_FIELDS,
                "; ".join(problems),
            )
        if UNKNOWN_FIELDS in record:
            self._name_unknown_fields(record)
        return record

    def emit(self, record: dict) -> None:
        """Write a record read for this stream while another stream's sync ran the request."""
        self._write_record_message(record)

    def get_records(self, context: dict | None) -> Iterable[dict]:
        endpoint = self._tap.endpoint_of(self)
        if endpoint.streams[0] is self:
            yield from self._read(endpoint)
        else:
            self.logger.info("%s: read with %s, nothing left to sync", self.name, endpoint.label)

    def _read(self, endpoint: Endpoint) -> Generator[dict, None, None]:
        """Read the endpoint's windows for all its streams: this stream's records are yielded
        to the SDK, the others' written by their streams; after each window every stream it
        served is bookmarked at its end, and one STATE goes out."""
        streams = endpoint.streams
        for stream in streams[1:]:
            stream._write_schema_message()
        series = windows.combine(
            {s.name: s._plan() for s in streams}, int(self.config.get("window_minutes", 60))
        )
        reader = WindowReader(endpoint, lambda: bookmarks_text(streams))
        events: collections.Counter[str] = collections.Counter()
        done: collections.Counter[str] = collections.Counter()
        for finished, (window, members) in enumerate(series):
            try:
                counts = yield from self._route(reader.read(window, members))
            except BudgetReached:
                self.logger.warning(
                    "%s: max_requests_per_run (%d) reached for the %s pool; stopping after %d "
                    "of %d windows with the bookmark at %s: the next run continues from there.",
                    endpoint.label,
                    self.config["max_requests_per_run"],
                    endpoint.pool,
                    finished,
                    len(series),
                    bookmarks_text(streams),
                )
                break
            served = [s for s in streams if s.name in members]
            for stream in served:
                stream._finish_window(window)
            events.update(counts)
            done.update(members)
            self.state_manager.is_flushed = False
            self._write_state_message()  # the tap's whole state: every stream's bookmark
            for stream in served:
                stream.state_manager.is_flushed = True
            self.logger.info(
                "%s: window %s: %s events; bookmark %s",
                endpoint.label,
                window.interval,
                counts[self.name]
                if len(streams) == 1
                else ", ".join(f"{s.name} {counts.get(s.name, 0)}" for s in served),
                bookmarks_text(served),
            )
        for stream in streams:
            stream.logger.info(
                "%s: done: %d windows, %d events, bookmark %s (%s pool: %d requests this run)",
                stream.name,
                done[stream.name],
                events[stream.name],
                stream._bookmark_text(),
                endpoint.pool,
                self._tap.request_counts[endpoint.pool],
            )

    def _route(
        self, records: Generator[tuple[SiemStream, dict], None, dict[str, int]]
    ) -> Generator[dict, None, dict[str, int]]:
        """This stream's records to the SDK, the others' to their streams; returns the counts."""
        while True:
            try:
                stream, record = next(records)
            except StopIteration as stop:
                return stop.value
            if stream is self:
                yield record
            else:
                stream.emit(record)

    def _plan(self) -> windows.Plan:
        """This stream's own windows, from its bookmark; warns of what is too old to fetch."""
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
                "no longer be fetched. Starting at %s.",
                self.name,
                windows.fmt(plan.lost.start),
                windows.fmt(plan.lost.end),
                windows.fmt(plan.lost.end),
            )
        return plan

    def _name_unknown_fields(self, record: dict) -> None:
        """Warn once per run for each field path the schema does not declare."""
        if self._declared is None:
            self._declared = declared_paths(self.schema)
        new = {generic_path(path) for path in record[UNKNOWN_FIELDS]} - self._declared
        if new:
            self._declared |= new
            self.logger.warning(
                "%s: %s not in the schema, kept in %s (first in event %s; named once per run)",
                self.name,
                ", ".join(sorted(new)),
                UNKNOWN_FIELDS,
                record["id"],
            )

    # -- state --

    def _bookmark(self) -> datetime | None:
        """The bookmark from --state (checked to be a time by the tap's ``load_state``)."""
        value = self.stream_state.get("replication_key_value")
        return windows.parse(str(value)) if value is not None else None

    def _bookmark_text(self) -> str:
        return str(self.stream_state.get("replication_key_value", "none yet"))

    def _finish_window(self, window: windows.Window) -> None:
        """The window is read and emitted: move the bookmark to its end."""
        end = windows.fmt(window.end)
        state = self.stream_state
        if end > state.get("replication_key_value", ""):
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = end

    def _increment_stream_state(self, latest_record: dict, *, context: Any = None) -> None:
        """Records never move the bookmark: only a whole window does (:meth:`_finish_window`).

        The SDK would otherwise set the bookmark to a window's end as soon as its first record
        passes, and a STATE written then (e.g. on SIGTERM) would skip the rest of the window.
        """


def bookmarks_text(streams: Iterable[SiemStream]) -> str:
    """One bookmark when the streams share it, else each stream's."""
    marks = {stream.name: stream._bookmark_text() for stream in streams}
    if len(set(marks.values())) == 1:
        return next(iter(marks.values()))
    return ", ".join(f"{name} {mark}" for name, mark in marks.items())


def _optional_time(value: Any) -> datetime | None:
    return windows.parse(str(value)) if value else None
