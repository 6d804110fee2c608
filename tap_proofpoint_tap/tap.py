"""The tap: its settings, their validation, and the stream list."""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.budget import RequestBudget
from tap_proofpoint_tap.client import Route, Shared, SiemStream
from tap_proofpoint_tap.config_schema import CONFIG_SCHEMA
from tap_proofpoint_tap.errors import TapError, UnavailableError
from tap_proofpoint_tap.inputs import bad_config, check_catalog, check_state, checked_json
from tap_proofpoint_tap.intel_run import Intel
from tap_proofpoint_tap.reader import Endpoint, Query, WindowReader
from tap_proofpoint_tap.settings import (
    environment_errors,
    schema_error,
    settings_errors,
    unknown_settings,
)
from tap_proofpoint_tap.singer_io import StateFlushingWriter
from tap_proofpoint_tap.streams import ALL_STREAM_TYPES
from tap_proofpoint_tap.work import Wanted

if TYPE_CHECKING:
    from collections.abc import Generator

    import click
    from singer_sdk import Stream

STREAM_NAMES = frozenset(str(vars(t)["name"]) for t in ALL_STREAM_TYPES)  # the classes' own


class TapProofpointTap(Tap):
    """Proofpoint TAP: SIEM clicks and messages, threats, campaigns, forensics, people rankings."""

    name = "tap-proofpoint-tap"
    message_writer_class = StateFlushingWriter

    config_jsonschema = CONFIG_SCHEMA

    @override
    def __init__(self, *args: Any, validate_config: bool = True, **kwargs: Any) -> None:
        if isinstance(kwargs.get("catalog"), dict):  # before the SDK, which trusts its shape
            check_catalog(kwargs["catalog"], STREAM_NAMES)
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as error:  # the SDK's messages quote the wrong value
            secret = str(getattr(self, "config", {}).get("secret", "")) or None
            raise ConfigValidationError(
                str(error),
                errors=[schema_error(message, secret) for message in error.errors],
            ) from None
        except ValueError:  # a setting from the environment the SDK cannot read as its type
            errors = environment_errors(self.config_jsonschema, "TAP_PROOFPOINT_TAP_", os.environ)
            if not errors:
                raise
            raise ConfigValidationError("Config validation failed", errors=errors) from None
        if validate_config:
            errors = settings_errors(self.config, datetime.now(timezone.utc))
            if errors:
                raise ConfigValidationError("Config validation failed", errors=errors)
            known = self.config_jsonschema.get("properties", {})
            for line in unknown_settings(self.config, frozenset(known)):
                self.logger.warning("%s", line)

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """Refuse a state that is not this tap's, or whose bookmarks are not times no later
        than now, naming the stream, before any request."""
        check_state(state, STREAM_NAMES, datetime.now(timezone.utc))
        for entry in (state.get("bookmarks") or {}).values() if state else ():
            value = entry.get("replication_key_value") if isinstance(entry, dict) else None
            if value is not None:  # one form, the tap's own: the SDK and comparisons read it
                entry["replication_key_value"] = windows.fmt(windows.parse(str(value)))
        super().load_state(state)

    @override
    def discover_streams(self) -> list[Stream]:
        """The four SIEM streams, then the five that fetch what they mention, sharing this
        run's request budget, routes and work."""
        self.budget = RequestBudget(self.config.get("max_requests_per_run"))
        routes: dict[str, Route] = {}

        def route_of(stream: SiemStream) -> Route:
            if not routes:  # in the order the SDK syncs them: the first of a route reads
                selected = [s for s in self.streams.values() if s.selected]
                routes.update(self._routes([s for s in selected if isinstance(s, SiemStream)]))
            return routes[stream.name]

        self.intel = Intel(lambda: self.state.setdefault("bookmarks", {}), self._wanted)
        shared = Shared(self.budget, route_of, self.intel)
        return [stream_type(tap=self, shared=shared) for stream_type in ALL_STREAM_TYPES]

    @override  # type: ignore[misc]  # @final in the SDK: see the docstring
    def load_streams(self) -> list[Stream]:
        """The streams in the order they sync: the SIEM ones first, whose events name the
        threats and campaigns the others fetch (the SDK's order is by name).

        Overrides a method the SDK marks ``@final``; tests/test_sdk_private_tap.py checks
        that the SDK still builds ``streams`` with it and syncs them in its order.
        """
        order = {str(vars(t)["name"]): n for n, t in enumerate(ALL_STREAM_TYPES)}
        return sorted(super().load_streams(), key=lambda stream: order[stream.name])

    def _wanted(self) -> Wanted:
        """Which streams that follow the SIEM ones are selected (known once the catalog is)."""
        streams = self.streams
        return Wanted(
            threats=streams["threats"].selected,
            campaigns=streams["campaigns"].selected,
            forensics=streams["forensics"].selected,
            refresh=timedelta(hours=int(self.config.get("threat_refresh_hours", 24))),
            threat_forensics=int(self.config.get("forensics_threat_requests_per_day", 40)) > 0,
            siem=any(s.selected for s in streams.values() if isinstance(s, SiemStream)),
        )

    def _routes(self, selected: list[SiemStream]) -> dict[str, Route]:
        """Where each selected stream is read this run: with others through /v2/siem/all,
        or alone."""
        names = combined_names(
            [s.name for s in selected],
            use_all=bool(self.config.get("use_all_endpoint", True)),
            own=self._own_endpoint_names(selected),
        )
        together = tuple(s for s in selected if s.name in names)
        route = Route(Endpoint.all(tuple(s.member() for s in together)), together)
        return {
            s.name: route if s.name in names else Route(s.own_endpoint(), (s,)) for s in selected
        }

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

    @override  # type: ignore[misc]  # @final in the SDK: see the docstring
    def sync_all(self) -> None:
        """Sync, then say what the run cost in each rate-limit pool (also when it failed).

        Overrides a method the SDK marks ``@final``; tests/test_sdk_private_tap.py checks
        that the SDK's CLI still runs it and that it still runs the SDK's own sync.
        """
        try:
            super().sync_all()
        finally:
            self.logger.info("Requests this run, per rate-limit pool: %s.", self.budget.line())
        if self.intel.failures:  # said when they came; the other streams went on
            raise UnavailableError(" ".join(self.intel.failures))

    @override  # type: ignore[misc]  # @final in the SDK: see the docstring
    def run_connection_test(self) -> bool:
        """``--test``: one request for the latest window (through /v2/siem/all unless
        use_all_endpoint is false): credentials and envelope checked, one line said.

        The SDK's (``@final``) would sync every stream until its first record: up to a
        request per window of the last 24 hours. tests/test_sdk_private_tap.py checks that
        ``--test`` still runs this one.
        """
        streams: list[SiemStream] = [s for s in self.streams.values() if isinstance(s, SiemStream)]
        endpoint = (
            Endpoint.all(tuple(s.member() for s in streams))
            if self.config.get("use_all_endpoint", True)
            else streams[0].own_endpoint()
        )
        minutes = int(self.config.get("window_minutes", 60))
        window = windows.latest(datetime.now(timezone.utc), minutes)
        reader = WindowReader(
            endpoint,
            streams[0].transport(),
            self.budget,
            Query.from_config(self.config),
            lambda: "unchanged (a test keeps no state)",
        )
        counts = yield_counts(reader.read(window, frozenset(endpoint.names), tries=1))
        span = "hour" if minutes == windows.HOUR_MINUTES else f"{minutes} minutes"
        self.logger.info(
            "Connection OK: principal accepted, %d events in the last %s read (%s, 1 request).",
            sum(counts.values()),
            span,
            endpoint.path,
        )
        return True

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test`` ends as a sync does: one line per bad setting, or the :class:`TapError`'s
        line, and exit 1 (the SDK's CLI catches neither here: its callback runs before it)."""
        try:
            super().cb_test(ctx, param, value)
        except ConfigValidationError as error:
            for line in error.errors:
                cls.logger.error("%s", line)
            ctx.exit(1)
        except TapError as error:
            cls.logger.error("%s", error, exc_info=cls.logger.isEnabledFor(logging.DEBUG))
            ctx.exit(1)

    @classmethod
    @override
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Check each --config file first, so a broken one gets one line and exit 1, not a
        traceback (nor click's three-line usage error)."""
        error = bad_config(value)
        if error is not None:
            cls.logger.error("%s", error)
            ctx.exit(1)
        return super().cb_config(ctx, param, value)

    @classmethod
    @override
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
    return names if len(names) > 1 else []


def yield_counts(records: Generator[Any, None, dict[str, int]]) -> dict[str, int]:
    """Run a window read to its end, keeping only how many records each stream got."""
    while True:
        try:
            next(records)
        except StopIteration as stop:
            counts: dict[str, int] = stop.value
            return counts


if __name__ == "__main__":
    TapProofpointTap.cli()
