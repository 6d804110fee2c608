"""The tap: its settings, their validation, and the stream list."""

from __future__ import annotations

import collections
import io
import json
import logging
import sys
from collections.abc import Generator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.client import SiemStream
from tap_proofpoint_tap.errors import InputError, StateError, TapError
from tap_proofpoint_tap.reader import Endpoint, WindowReader
from tap_proofpoint_tap.singer_io import StateFlushingWriter
from tap_proofpoint_tap.streams import STREAM_TYPES

THREAT_STATUSES = ("active", "cleared", "falsePositive")
THREAT_TYPES = ("url", "attachment", "messageText")
STREAM_NAMES = frozenset(t.name for t in STREAM_TYPES)


class TapProofpointTap(Tap):
    """Proofpoint TAP SIEM API: permitted/blocked clicks and delivered/blocked threat messages."""

    name = "tap-proofpoint-tap"
    message_writer_class = StateFlushingWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "principal",
            th.StringType,
            required=True,
            description="TAP service principal (Settings → Connected Applications).",
        ),
        th.Property(
            "secret",
            th.StringType,
            required=True,
            secret=True,
            description="TAP service secret of that principal.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://tap-api-v2.proofpoint.com",
            description="Base URL of the TAP API (http or https).",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="ISO 8601 time to start from when there is no bookmark "
            "(default: 24 hours ago; at most 7 days back, as the API allows). A "
            "start_date later than the bookmark wins.",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="ISO 8601 time to stop at (default: now minus a 5-minute "
            "safety lag; a later end_date is capped to that).",
        ),
        th.Property(
            "threat_status",
            th.ArrayType(th.StringType),
            default=["active", "cleared"],
            description="Threat statuses to fetch: any of active, cleared, "
            "falsePositive (sent as repeated threatStatus keys).",
        ),
        th.Property(
            "threat_type",
            th.ArrayType(th.StringType),
            description="Message streams only: any of url, attachment, messageText (default: all).",
        ),
        th.Property(
            "window_minutes",
            th.IntegerType,
            default=60,
            description="Length of each API window in minutes, 1-60.",
        ),
        th.Property(
            "lookback_minutes",
            th.IntegerType,
            default=30,
            description="Each run starts this many minutes before the bookmark, to "
            "catch events Proofpoint indexed late (0-1440).",
        ),
        th.Property(
            "request_timeout",
            th.IntegerType,
            default=300,
            description="Seconds to wait for one API response before retrying.",
        ),
        th.Property(
            "max_requests_per_run",
            th.IntegerType,
            description="Most requests (retries included) each rate-limit pool may "
            "spend in one run; when reached, the pool's streams stop cleanly after "
            "their last whole window and the next run continues (default: no limit).",
        ),
        th.Property(
            "use_all_endpoint",
            th.BooleanType,
            default=True,
            description="Read two or more selected streams together through "
            "/v2/siem/all: one request per window for all of them instead of one per "
            "stream (with threat_type set, the message streams read their own).",
        ),
    ).to_dict()

    def __init__(self, *args: Any, validate_config: bool = True, **kwargs: Any) -> None:
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as error:  # the SDK's messages quote the wrong value
            secret = str(getattr(self, "_config", {}).get("secret", "")) or None
            raise ConfigValidationError(
                str(error),
                errors=[
                    message.replace(secret, "<secret>") if secret else message
                    for message in error.errors
                ],
            ) from None
        self.request_counts: collections.Counter[str] = collections.Counter()
        self.one_by_one_counts: collections.Counter[str] = collections.Counter()
        """What the same windows would have cost with each stream at its own endpoint."""
        self._endpoints: dict[str, Endpoint] | None = None
        if validate_config:
            errors = settings_errors(self.config, datetime.now(timezone.utc))
            if errors:
                raise ConfigValidationError("Config validation failed", errors=errors)
        if isinstance(kwargs.get("catalog"), dict):
            check_catalog(kwargs["catalog"])

    def load_state(self, state: dict[str, Any]) -> None:
        """Refuse a state whose bookmarks are not times, naming the stream, before any request."""
        bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
        if not isinstance(bookmarks, dict):
            bookmarks = {}
            if state:
                raise StateError(
                    "The --state file is not a Singer state (no 'bookmarks'): pass "
                    "the last STATE the tap printed, or no --state."
                )
        foreign = sorted(set(bookmarks) - STREAM_NAMES)
        if foreign:
            raise StateError(
                f"The --state file has bookmarks of streams this tap does not have "
                f"({', '.join(foreign)[:100]}): is it another tap's state? Pass the last STATE "
                "this tap printed, or no --state."
            )
        for stream, entry in bookmarks.items():
            value = entry.get("replication_key_value") if isinstance(entry, dict) else entry
            try:
                if value is not None:
                    windows.parse(str(value))
            except ValueError:
                raise StateError(
                    f"The --state bookmark of {stream} ({str(value)[:40]!r}) is not a time: "
                    "pass the last STATE the tap printed, or no --state to start from "
                    "start_date."
                ) from None
        super().load_state(state)

    def discover_streams(self) -> list:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    def endpoint_of(self, stream: SiemStream) -> Endpoint:
        """Where ``stream`` is read this run: with others through /v2/siem/all, or alone."""
        if self._endpoints is None:
            selected = [s for s in self.streams.values() if s.selected]
            names = combined_names(
                [s.name for s in selected],
                use_all=bool(self.config.get("use_all_endpoint", True)),
                own=self._own_endpoint_names(selected),
            )
            together = Endpoint.all(tuple(s for s in selected if s.name in names))
            self._endpoints = {
                s.name: together if s.name in names else Endpoint.own(s) for s in selected
            }
        return self._endpoints[stream.name]

    def _own_endpoint_names(self, selected: list[SiemStream]) -> frozenset[str]:
        """The streams that must read their own endpoint: with threat_type, the messages."""
        if not self.config.get("threat_type"):
            return frozenset()
        own = frozenset(s.name for s in selected if s.sends_threat_type)
        if own and self.config.get("use_all_endpoint", True) and len(selected) > 1:
            self.logger.info(
                "threat_type is set: %s read their own endpoints with it (what threatType does "
                "to the clicks of /v2/siem/all is not documented); no /v2/siem/all request "
                "carries it.",
                ", ".join(sorted(own)),
            )
        return own

    def sync_all(self) -> None:
        """Sync, then say what the run cost in each rate-limit pool (also when it failed)."""
        try:
            super().sync_all()
        finally:
            self.logger.info(
                "Requests this run, per rate-limit pool: %s.",
                requests_line(self.request_counts, self.one_by_one_counts),
            )

    def run_connection_test(self) -> bool:
        """``--test``: one request for the latest window (through /v2/siem/all unless
        use_all_endpoint is false): credentials and envelope checked, one line said."""
        streams = tuple(self.streams.values())
        endpoint = (
            Endpoint.all(streams)
            if self.config.get("use_all_endpoint", True)
            else Endpoint.own(streams[0])
        )
        minutes = int(self.config.get("window_minutes", 60))
        window = windows.latest(datetime.now(timezone.utc), minutes)
        reader = WindowReader(endpoint, lambda: "unchanged (a test keeps no state)")
        counts = yield_counts(reader.read(window, frozenset(s.name for s in streams), tries=1))
        span = "hour" if minutes == 60 else f"{minutes} minutes"
        self.logger.info(
            "Connection OK: principal accepted, %d events in the last %s read (%s, 1 request).",
            sum(counts.values()),
            span,
            endpoint.path,
        )
        return True

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test`` ends with one line and exit 1 on a :class:`TapError`, as a sync does."""
        try:
            super().cb_test(ctx, param, value)
        except TapError as error:
            cls.logger.error("%s", error, exc_info=cls.logger.isEnabledFor(logging.DEBUG))
            ctx.exit(1)

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Check each --config file first, so a broken one gets a line, not a traceback."""
        for path in value:
            if path != "ENV":
                try:
                    checked_json(Path(path), "config")
                except InputError as error:
                    raise click.BadParameter(str(error)) from None
        return super().cb_config(ctx, param, value)

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the CLI; a :class:`TapError` ends it with its one-line message and exit 1."""
        try:
            for option in ("state", "catalog"):
                if kwargs.get(option) is not None:
                    kwargs[option] = checked_json(kwargs[option], option)
            super().invoke(*args, **kwargs)
        except TapError as error:
            cls.logger.error("%s", error, exc_info=cls.logger.isEnabledFor(logging.DEBUG))
            sys.exit(1)


def combined_names(selected: list[str], *, use_all: bool, own: frozenset[str]) -> list[str]:
    """The selected streams read together through /v2/siem/all: two or more, unless the
    setting is off; the ``own`` ones read their own endpoints."""
    names = [name for name in selected if name not in own] if use_all else []
    return names if len(names) >= 2 else []


def requests_line(spent: Mapping[str, int], one_by_one: Mapping[str, int]) -> str:
    """``shared 168 (672 with each stream at its own endpoint: clicks_permitted 168, ...)``."""

    def pools(counts: Mapping[str, int]) -> str:
        return ", ".join(f"{pool} {count}" for pool, count in sorted(counts.items()) if count)

    line = pools(spent) or "none"
    if sum(one_by_one.values()) > sum(spent.values()):
        line += (
            f" ({sum(one_by_one.values())} with each stream at its own endpoint: "
            f"{pools(one_by_one)})"
        )
    return line


def yield_counts(records: Generator[Any, None, dict[str, int]]) -> dict[str, int]:
    """Run a window read to its end, keeping only how many records each stream got."""
    while True:
        try:
            next(records)
        except StopIteration as stop:
            return stop.value


def checked_json(source: IO[str] | Path, option: str) -> IO[str]:
    """The --config/--state/--catalog file again, once it is known to hold a JSON object."""
    name = str(source) if isinstance(source, Path) else getattr(source, "name", option)
    try:
        text = source.read_text() if isinstance(source, Path) else source.read()
    except OSError as error:
        raise InputError(f"The --{option} file {name} cannot be read: {error.strerror}.") from None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise InputError(
            f"The --{option} file {name} is not valid JSON ({error}): fix or replace it."
        ) from None
    if not isinstance(value, dict):
        raise InputError(f"The --{option} file {name} does not hold a JSON object.")
    return io.StringIO(text)


def check_catalog(catalog: dict) -> None:
    """Refuse a catalog that selects a stream this tap does not have (a typo reads nothing)."""
    entries = catalog.get("streams")
    if not isinstance(entries, list):
        raise InputError("The --catalog file has no 'streams' list: use the output of --discover.")
    selected = (
        entry.get("tap_stream_id") or entry.get("stream")
        for entry in entries
        if isinstance(entry, dict) and _selected(entry)
    )
    unknown = sorted(str(name) for name in selected if name not in STREAM_NAMES)
    if unknown:
        raise InputError(
            f"The --catalog file selects {', '.join(unknown)[:100]}, which this "
            f"tap does not have; its streams are {', '.join(sorted(STREAM_NAMES))}."
        )


def _selected(entry: dict) -> bool:
    root = [
        m.get("metadata", {})
        for m in entry.get("metadata") or []
        if isinstance(m, dict) and m.get("breadcrumb") == []
    ]
    return bool(entry.get("selected") or (root and root[0].get("selected")))


def settings_errors(config: dict, now: datetime) -> list[str]:
    """One message per mistake in the settings, each naming the setting and what to change."""
    errors = []
    for name in ("principal", "secret"):
        if not str(config.get(name) or "").strip():
            errors.append(
                f"{name} is empty: set it in the config or as TAP_PROOFPOINT_TAP_{name.upper()}."
            )
    api_url = str(config.get("api_url", ""))
    if not api_url.lower().startswith(("http://", "https://")):
        errors.append(f"api_url must start with https:// (got {api_url[:60]!r}).")
    for name, allowed in (("threat_status", THREAT_STATUSES), ("threat_type", THREAT_TYPES)):
        for value in config.get(name) or []:
            if value not in allowed:
                errors.append(f"{name}: unknown value {value!r}; use {', '.join(allowed)}.")
    bounds = {
        "window_minutes": (1, 60),
        "lookback_minutes": (0, 1440),
        "request_timeout": (1, 3600),
        "max_requests_per_run": (1, 1800),
    }
    for name, (low, high) in bounds.items():
        value = config.get(name)
        if value is not None and not low <= value <= high:
            errors.append(f"{name} must be between {low} and {high} (got {value}).")
    times = {}
    for name in ("start_date", "end_date"):
        if config.get(name):
            try:
                times[name] = windows.parse(str(config[name]))
            except ValueError:
                errors.append(f"{name} {config[name]!r} is not an ISO 8601 date-time.")
    if "start_date" in times and times["start_date"] > now:
        errors.append(f"start_date {config['start_date']} is in the future.")
    if {"start_date", "end_date"} <= times.keys() and (
        times["end_date"] - times["start_date"] < timedelta(minutes=1)
    ):
        errors.append("end_date must be at least a minute after start_date.")
    return errors


if __name__ == "__main__":
    TapProofpointTap.cli()
