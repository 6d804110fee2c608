"""The SIEM stream base: windows → requests (:mod:`reader`) → records → a bookmark per window.

A stream reads its own endpoint, or several streams read ``/v2/siem/all`` together: the first
of them runs the windows for all, one request per window, and each gets its array's events.
Only when a window's whole body was read do the bookmarks of the streams it served move to its
end, and one STATE message goes out. A run stopped at any point therefore resumes without
losing an event.

The tap hands each stream what it shares with the others (:class:`Shared`: the request budget
and the routes); a stream hands the reader what the reader needs (:class:`reader.Member`,
:class:`reader.Transport`), so neither reaches into the other.
"""

from __future__ import annotations

import collections
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.conform import declared_paths, generic_path
from tap_proofpoint_tap.errors import BudgetReached
from tap_proofpoint_tap.fast_path import FastRecordStream
from tap_proofpoint_tap.normalise import UNKNOWN_FIELDS
from tap_proofpoint_tap.reader import Endpoint, Member, Query, Reading, WindowReader
from tap_proofpoint_tap.repairs import Repairs
from tap_proofpoint_tap.wording import counted
from tap_proofpoint_tap.work import mentions_of

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Mapping

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_proofpoint_tap.budget import RequestBudget
    from tap_proofpoint_tap.intel_run import Intel
    from tap_proofpoint_tap.reader import Record

SCHEMA_DIR = Path(__file__).parent / "schemas"


@dataclass(frozen=True)
class Route:
    """Where a stream is read this run, and with which streams (the first runs the windows)."""

    endpoint: Endpoint
    streams: tuple[SiemStream, ...]


@dataclass(frozen=True)
class Shared:
    """What the tap gives each of its streams: the run's request budget and its routes."""

    budget: RequestBudget
    route_of: Callable[[SiemStream], Route]
    intel: Intel
    """The threats the records mention, for the streams that fetch them."""


class SiemStream(FastRecordStream):
    """One SIEM endpoint read in ``interval`` windows; subclasses name the endpoint only."""

    records_key: ClassVar[str]
    """The array of the endpoint's envelope, e.g. ``clicksPermitted``."""
    pool: ClassVar[str] = "shared"
    """Proofpoint's rate-limit pool: ``clicks/permitted`` has its own, the rest share one."""
    sends_threat_type: ClassVar[bool] = False

    primary_keys = ("id",)
    replication_key = "queryEndTime"
    is_sorted = True
    extra_retry_statuses = ()  # a 429 lasts up to 24 h: never retry it
    STATE_MSG_FREQUENCY = sys.maxsize  # STATE goes out per window, never mid-window
    # normalise.py already gives every record its schema's types: the SDK's pass would only
    # cost time (about half of it, measured in benchmarks/).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @override
    def __init__(self, tap: Tap, *, shared: Shared) -> None:
        super().__init__(tap=tap)
        self.shared = shared
        self._state_writer = tap.state_writer
        self._declared: set[str] | None = None  # the schema's field paths, unknown ones named
        self._repairs = Repairs()  # what the normaliser repaired in this window's events
        self._schema_written = False

    @staticmethod
    def normalise(event: dict[str, Any], problems: list[str]) -> Record:
        """The event in the stream's schema; each subclass names its normaliser."""
        raise NotImplementedError

    def member(self) -> Member:
        """This stream as the reader sees it."""
        return Member(
            self.name, self.records_key, self.pool, self.to_record, self.new_response, self.logger
        )

    def own_endpoint(self) -> Endpoint:
        """This stream's own endpoint, spending its own pool."""
        return Endpoint.own(self.member(), self.path, sends_threat_type=self.sends_threat_type)

    @override
    def _write_schema_message(self) -> None:
        """Once per run: a stream read with another one gets its SCHEMA before their first
        window, and not again when the SDK comes to sync it (private SDK API: the SDK's sync
        calls it; tests/test_sdk_private_tap.py checks that)."""
        if not self._schema_written:
            self._schema_written = True
            super()._write_schema_message()

    def announce(self) -> None:
        """Write this stream's SCHEMA now, before another stream's sync reads its windows."""
        self._write_schema_message()

    def to_record(self, event: dict[str, Any]) -> Record:
        """The event normalised to the schema; what could not keep its type is named."""
        problems: list[str] = []
        record = type(self).normalise(event, problems)
        if problems:
            self._repairs.add(problems, record["id"])
        if record.get(UNKNOWN_FIELDS):
            self._name_unknown_fields(record)
        intel = self.shared.intel
        if intel.noting:
            mentions_of(self.name, record, intel.mentioned)
        return record

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        route = self.shared.route_of(self)
        if route.streams[0] is self:
            yield from self._read(route)
        else:
            self.logger.info(
                "%s: read with %s, nothing left to sync", self.name, route.endpoint.label
            )

    def _read(self, route: Route) -> Generator[Record, None, None]:
        """Read the route's windows for all its streams: this stream's records are yielded
        to the SDK, the others' written by their streams; after each window every stream it
        served is bookmarked at its end, and one STATE goes out."""
        endpoint, streams = route.endpoint, route.streams
        for stream in streams[1:]:
            stream.announce()
        series = windows.combine(
            {s.name: s.plan() for s in streams}, int(self.config.get("window_minutes", 60))
        )
        reader = WindowReader(
            endpoint,
            self.transport(),
            self.shared.budget,
            Query.from_config(self.config),
            lambda: bookmarks_text(streams),
        )
        by_name = {stream.name: stream for stream in streams}
        intel = self.shared.intel
        intel.wanted()  # whether to note the records' threats
        events: collections.Counter[str] = collections.Counter()
        done: collections.Counter[str] = collections.Counter()
        for finished, (window, members) in enumerate(series):
            try:
                counts = yield from self._route(reader.read(window, members), by_name)
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
                stream.finish_window(window)
            events.update(counts)
            done.update(members)
            intel.settle(datetime.now(timezone.utc))  # with the window's STATE
            self._state_writer.write_state(self.tap_state)  # every stream's bookmark
            for stream in {self, *served}:
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
                "%s: done: %s, %s, bookmark %s (%s pool: %s this run)",
                stream.name,
                counted(done[stream.name], "window"),
                counted(events[stream.name], "event"),
                stream.bookmark_text(),
                endpoint.pool,
                counted(self.shared.budget.spent[endpoint.pool], "request"),
            )

    def _route(
        self, records: Reading, streams: Mapping[str, SiemStream]
    ) -> Generator[Record, None, dict[str, int]]:
        """This stream's records to the SDK, the others' to their streams; returns the counts."""
        name = self.name
        while True:
            try:
                stream, record = next(records)
            except StopIteration as stop:
                counts: dict[str, int] = stop.value
                return counts
            if stream == name:
                yield record
            else:
                streams[stream].emit(record)

    def plan(self) -> windows.Plan:
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

    def _name_unknown_fields(self, record: Record) -> None:
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

    def bookmark_text(self) -> str:
        return str(self.stream_state.get("replication_key_value", "none yet"))

    def finish_window(self, window: windows.Window) -> None:
        """The window is read and emitted: say what was repaired in it, and move the
        bookmark to its end."""
        line = self._repairs.line()
        if line:
            self.logger.warning("%s: window %s: %s", self.name, window.interval, line)
            self._repairs.clear()
        end = windows.fmt(window.end)
        state = self.stream_state
        current = state.get("replication_key_value")
        # Compared as times: a bookmark from --state may carry an offset or a lower-case "t".
        if current is None or windows.parse(str(current)) < window.end:
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = end

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Records never move the bookmark: only a whole window does (:meth:`finish_window`).

        The SDK would otherwise set the bookmark to a window's end as soon as its first record
        passes, and a STATE written then (e.g. on SIGTERM) would skip the rest of the window.
        Private SDK API: tests/test_sdk_private_tap.py checks that the SDK's record loop still
        calls it.
        """


def bookmarks_text(streams: Iterable[SiemStream]) -> str:
    """One bookmark when the streams share it, else each stream's."""
    marks = {stream.name: stream.bookmark_text() for stream in streams}
    if len(set(marks.values())) == 1:
        return next(iter(marks.values()))
    return ", ".join(f"{name} {mark}" for name, mark in marks.items())


def _optional_time(value: Any) -> datetime | None:
    return windows.parse(str(value)) if value else None
