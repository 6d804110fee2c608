"""The tap: its settings, their validation, and the stream list."""

from __future__ import annotations

import collections
import io
import json
import logging
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.errors import InputError, StateError, TapError
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
        th.Property("principal", th.StringType, required=True,
                    description="TAP service principal (Settings → Connected Applications)."),
        th.Property("secret", th.StringType, required=True, secret=True,
                    description="TAP service secret of that principal."),
        th.Property("api_url", th.StringType, default="https://tap-api-v2.proofpoint.com",
                    description="Base URL of the TAP API (http or https)."),
        th.Property("start_date", th.DateTimeType,
                    description="ISO 8601 time to start from when there is no bookmark "
                    "(default: 24 hours ago; at most 7 days back, as the API allows). A "
                    "start_date later than the bookmark wins."),
        th.Property("end_date", th.DateTimeType,
                    description="ISO 8601 time to stop at (default: now minus a 5-minute "
                    "safety lag; a later end_date is capped to that)."),
        th.Property("threat_status", th.ArrayType(th.StringType),
                    default=["active", "cleared"],
                    description="Threat statuses to fetch: any of active, cleared, "
                    "falsePositive (sent as repeated threatStatus keys)."),
        th.Property("threat_type", th.ArrayType(th.StringType),
                    description="Message streams only: any of url, attachment, messageText "
                    "(default: all)."),
        th.Property("window_minutes", th.IntegerType, default=60,
                    description="Length of each API window in minutes, 1-60."),
        th.Property("lookback_minutes", th.IntegerType, default=30,
                    description="Each run starts this many minutes before the bookmark, to "
                    "catch events Proofpoint indexed late (0-1440)."),
        th.Property("request_timeout", th.IntegerType, default=300,
                    description="Seconds to wait for one API response before retrying."),
        th.Property("max_requests_per_run", th.IntegerType,
                    description="Most requests (retries included) each rate-limit pool may "
                    "spend in one run; when reached, the pool's streams stop cleanly after "
                    "their last whole window and the next run continues (default: no limit)."),
    ).to_dict()

    def __init__(self, *args: Any, validate_config: bool = True, **kwargs: Any) -> None:
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as error:  # the SDK's messages quote the wrong value
            secret = str(getattr(self, "_config", {}).get("secret", "")) or None
            raise ConfigValidationError(str(error), errors=[
                message.replace(secret, "<secret>") if secret else message
                for message in error.errors]) from None
        self.request_counts: collections.Counter[str] = collections.Counter()
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
                raise StateError("The --state file is not a Singer state (no 'bookmarks'): pass "
                                 "the last STATE the tap printed, or no --state.")
        foreign = sorted(set(bookmarks) - STREAM_NAMES)
        if foreign:
            raise StateError(
                f"The --state file has bookmarks of streams this tap does not have "
                f"({', '.join(foreign)[:100]}): is it another tap's state? Pass the last STATE "
                "this tap printed, or no --state.")
        for stream, entry in bookmarks.items():
            value = entry.get("replication_key_value") if isinstance(entry, dict) else entry
            try:
                if value is not None:
                    windows.parse(str(value))
            except ValueError:
                raise StateError(
                    f"The --state bookmark of {stream} ({str(value)[:40]!r}) is not a time: "
                    "pass the last STATE the tap printed, or no --state to start from "
                    "start_date.") from None
        super().load_state(state)

    def discover_streams(self) -> list:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    def sync_all(self) -> None:
        """Sync, then say what the run cost in each rate-limit pool (also when it failed)."""
        try:
            super().sync_all()
        finally:
            spent = ", ".join(f"{pool} {count}" for pool, count in
                              sorted(self.request_counts.items())) or "none"
            self.logger.info("Requests this run, per rate-limit pool: %s.", spent)

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
        raise InputError(f"The --{option} file {name} is not valid JSON ({error}): fix or "
                         "replace it.") from None
    if not isinstance(value, dict):
        raise InputError(f"The --{option} file {name} does not hold a JSON object.")
    return io.StringIO(text)


def check_catalog(catalog: dict) -> None:
    """Refuse a catalog that selects a stream this tap does not have (a typo reads nothing)."""
    entries = catalog.get("streams")
    if not isinstance(entries, list):
        raise InputError("The --catalog file has no 'streams' list: use the output of "
                         "--discover.")
    selected = (entry.get("tap_stream_id") or entry.get("stream")
                for entry in entries if isinstance(entry, dict) and _selected(entry))
    unknown = sorted(str(name) for name in selected if name not in STREAM_NAMES)
    if unknown:
        raise InputError(f"The --catalog file selects {', '.join(unknown)[:100]}, which this "
                         f"tap does not have; its streams are {', '.join(sorted(STREAM_NAMES))}.")


def _selected(entry: dict) -> bool:
    root = [m.get("metadata", {}) for m in entry.get("metadata") or []
            if isinstance(m, dict) and m.get("breadcrumb") == []]
    return bool(entry.get("selected") or (root and root[0].get("selected")))


def settings_errors(config: dict, now: datetime) -> list[str]:
    """One message per mistake in the settings, each naming the setting and what to change."""
    errors = []
    for name in ("principal", "secret"):
        if not str(config.get(name) or "").strip():
            errors.append(f"{name} is empty: set it in the config or as "
                          f"TAP_PROOFPOINT_TAP_{name.upper()}.")
    api_url = str(config.get("api_url", ""))
    if not api_url.lower().startswith(("http://", "https://")):
        errors.append(f"api_url must start with https:// (got {api_url[:60]!r}).")
    for name, allowed in (("threat_status", THREAT_STATUSES), ("threat_type", THREAT_TYPES)):
        for value in config.get(name) or []:
            if value not in allowed:
                errors.append(f"{name}: unknown value {value!r}; use {', '.join(allowed)}.")
    bounds = {"window_minutes": (1, 60), "lookback_minutes": (0, 1440),
              "request_timeout": (1, 3600), "max_requests_per_run": (1, 1800)}
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
            times["end_date"] - times["start_date"] < timedelta(minutes=1)):
        errors.append("end_date must be at least a minute after start_date.")
    return errors


if __name__ == "__main__":
    TapProofpointTap.cli()
