"""``target-threatq``: a Singer target that loads the ThreatQ mapper's entities into ThreatQ.

It reads the ten ``threatq_*`` streams of ``mapper-proofpoint-threatq`` and ignores the others
(one INFO line names them). Rows gather until ``batch_size`` clicks and messages are pending and
are then loaded by :class:`~.load.Loader`. A STATE message goes out only once every row that
came before it is committed in ThreatQ (and every link it carries made, or given up at the end
of the input), so the bookmark Meltano keeps is never ahead of ThreatQ; a run stopped at any
point and run again loads every entity once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from singer_sdk.exceptions import ConfigValidationError, InvalidRecord
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator
from typing_extensions import override

from tap_proofpoint_tap.mappers.threatq import entities as e
from tap_proofpoint_tap.singer_io import CheckedReader
from tap_proofpoint_tap.targets.held_state import HeldStateTarget
from tap_proofpoint_tap.targets.threatq.api import ThreatQClient
from tap_proofpoint_tap.targets.threatq.cache import Cache, cache_file, default_dir
from tap_proofpoint_tap.targets.threatq.errors import ThreatQError
from tap_proofpoint_tap.targets.threatq.known import STREAMS, Instance
from tap_proofpoint_tap.targets.threatq.load import LABELS, Loader
from tap_proofpoint_tap.targets.threatq.settings import SETTINGS, masked, settings_errors

CORPORATE_EMAIL = "Corporate Email"
ROWS_PER_CLICK = 20  # a flush also comes when this many rows per batch_size record are pending
OBJECTS = ("indicator", "incident", "event", "campaign", "adversary", "malware", "ttp")
NAMED = {"id": int, "name": str}  # a lookup table's rows


class ThreatQSink(BatchSink):
    """Hands each row to the target's loader; the loader decides when to load (never the SDK)."""

    @override
    def __init__(self, target: TargetThreatQ, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.owner = target

    @property
    @override
    def max_size(self) -> int:
        return sys.maxsize

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """The SDK's validator, whose refusal ends the run with one line (not a logged
        traceback and a second error)."""
        inner = super().get_validator()
        return None if inner is None else _OneLineValidator(inner, self.stream_name)

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        self.owner.accept(self.stream_name, record)

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        self.owner.flush()


class _OneLineValidator(BaseJSONSchemaValidator):
    @override
    def __init__(self, inner: BaseJSONSchemaValidator, stream: str) -> None:
        super().__init__(inner.schema)
        self.inner, self.stream = inner, stream

    @override
    def validate(self, record: dict[str, Any]) -> None:
        try:
            self.inner.validate(record)
        except InvalidRecord as error:
            raise ThreatQError(
                f"A {self.stream} record does not match its SCHEMA ({error.error_message}): "
                "feed target-threatq the output of mapper-proofpoint-threatq; nothing after it "
                "is loaded."
            ) from None


class IgnoredSink(BatchSink):
    """A stream that is not the mapper's: read and dropped (the target names it once)."""

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        return

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        return


class TargetThreatQ(HeldStateTarget):
    """Corporate Emails, Indicators, Incidents, Events, Campaigns, Adversaries, Malware, TTPs,
    their attributes and links → ThreatQ."""

    name = "target-threatq"
    destination = "ThreatQ"
    package_name = "tap-proofpoint-tap"
    default_sink_class = ThreatQSink
    config_jsonschema = SETTINGS
    message_reader_class = CheckedReader

    @override
    def __init__(self, *args: Any, validate_config: bool = True, **kwargs: Any) -> None:
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as error:
            # The SDK validates after it has read the config: self.config holds the secrets.
            raise ConfigValidationError(
                str(error),
                errors=[masked(message, getattr(self, "config", {})) for message in error.errors],
            ) from None
        if validate_config:
            errors = settings_errors(self.config)
            if errors:
                raise ConfigValidationError("Config validation failed", errors=errors)
        self.loader: Loader | None = None
        self.ignored: set[str] = set()
        self.ending = False  # the input is read: nothing more can come for a waiting link

    @override
    def get_sink_class(self, stream_name: str) -> type[BatchSink]:
        if stream_name in e.ENTITY_STREAMS:
            return ThreatQSink
        self.ignored.add(stream_name)
        return IgnoredSink

    # -- rows and state --

    def accept(self, stream: str, row: dict[str, Any]) -> None:
        if self.loader is None:
            self.loader = Loader(self._connect, self._cache(), self.batch_size, self.logger)
        self.loader.add(stream, row)
        loader = self.loader
        if loader.records >= self.batch_size or loader.size >= ROWS_PER_CLICK * self.batch_size:
            self.flush()

    @override
    def pending(self) -> bool:
        """Rows to load, or links that came before the last STATE and wait for a later row
        (at the end of the input: any link that waits)."""
        loader = self.loader
        if loader is None:
            return False
        return loader.size > 0 or loader.holds_state or (self.ending and bool(loader.waiting))

    @override
    def commit(self) -> None:
        assert self.loader is not None, "rows are pending only once a loader took them"
        self.loader.flush(final=self.ending)

    @override
    def on_state(self) -> None:
        if self.loader is not None:
            self.loader.window_closed()

    @override
    def on_failure(self) -> None:
        sys.stderr.write(self.summary().replace("summary", "summary, until it stopped", 1) + "\n")
        if self.loader is not None:
            self.loader.cache.close()

    @property
    def batch_size(self) -> int:
        return int(self.config.get("batch_size", 500))

    # -- start and end --

    def _cache(self) -> Cache:
        hours = float(self.config.get("cache_hours", 24))
        folder = Path(self.config.get("cache_dir") or default_dir()).expanduser()
        path = cache_file(folder, self.config["api_url"])
        # A row loaded into another Corporate Email object is not this one's.
        salt = str(self.config.get("corporate_email_object") or "")
        return Cache(path if hours > 0 else None, hours, self.logger, salt)

    def _connect(self) -> tuple[ThreatQClient, Instance]:
        """Credentials, then every id the load needs, looked up by name (they differ between
        instances). One missing stops the run before anything is written."""
        client = ThreatQClient(self.config, self.logger)
        client.authenticate()
        objects = client.lookup("/api/objects", fields={"collection": str})
        by_name = {o.get("name"): o for o in objects}
        wanted = self.config.get("corporate_email_object")
        email = next(
            (
                o
                for o in objects
                if (
                    wanted in (o.get("name"), o.get("collection"))
                    if wanted
                    else o.get("display_name") == CORPORATE_EMAIL
                )
            ),
            None,
        )
        if email is None:
            raise ThreatQError(
                f"ThreatQ has no {CORPORATE_EMAIL} object"
                f"{f' with code {wanted!r}' if wanted else ''}: install the Corporate Email "
                "custom object (the Proofpoint TAP CDF's object set) first, or set "
                "corporate_email_object to its code as GET /api/objects lists it."
            )
        collections = {"corporate_email": email["collection"]}
        collections |= {k: by_name[k]["collection"] for k in OBJECTS if k in by_name}
        missing = [k for k in OBJECTS if k not in collections]
        if missing:  # checked before any load: one missing would stop a later one half way
            raise ThreatQError(
                f"ThreatQ has no {' and no '.join(missing)} object type (GET /api/objects does "
                f"not list {'it' if len(missing) == 1 else 'them'}): target-threatq loads "
                f"{', '.join(LABELS[STREAMS[k]] for k in missing)} there; enable "
                f"{'it' if len(missing) == 1 else 'them'} in ThreatQ first."
            )
        instance = Instance(
            collections=collections,
            indicator_types=_names(client.lookup("/api/indicator/types", fields=NAMED)),
            statuses=_names(client.lookup("/api/indicator/statuses", fields=NAMED)),
            event_types=_names(client.lookup("/api/event/types", fields=NAMED)),
        )
        self.logger.info(
            "ThreatQ: %s",
            ", ".join(f"{kind} → /api/{collection}" for kind, collection in collections.items()),
        )
        return client, instance

    @override
    def process_endofpipe(self) -> None:
        # The input is whole: the links that waited for a later row are made now if their end
        # came, else given up; then the STATE follows.
        self.ending = True
        self.flush()
        super().process_endofpipe()
        if self.ignored:
            self.logger.info(
                "Ignored streams (target-threatq loads only the threatq_* streams "
                "of mapper-proofpoint-threatq): %s",
                ", ".join(sorted(self.ignored)),
            )
        sys.stderr.write(self.summary() + "\n")
        sys.stderr.flush()
        if self.loader is not None:
            self.loader.cache.close()

    def summary(self) -> str:
        """The run table, shaped like the seed feed's, and what it cost in requests."""
        loader = self.loader
        width = max(map(len, LABELS.values()))
        lines = [
            "ThreatQ load summary (target-threatq)",
            f"| {'Metric':<{width}} | Created | Already there | Known (cache) |",
            f"|{'-' * (width + 2)}|---------|---------------|---------------|",
        ]
        for stream, label in LABELS.items():
            counts = loader.counts[stream] if loader else {}
            cached = loader.cached[stream] if loader else 0
            lines.append(
                f"| {label:<{width}} | {counts.get('created', 0):>7} | "
                f"{counts.get('already there', 0):>13} | {cached:>13} |"
            )
        if loader and loader.counts[e.RELATIONSHIPS].get("not made"):
            lines.append(
                f"Relationships not made: {loader.counts[e.RELATIONSHIPS]['not made']} (the "
                "event or campaign they name is not in ThreatQ: its record was not read)"
            )
        if loader and loader.cache.path is not None:
            lines.append(
                f"Known (cache): rows loaded within cache_hours, not sent again "
                f"({loader.cache.path}; delete it to check them against ThreatQ)"
            )
        requests = loader.client.requests if loader and loader.client else {}
        total, read = sum(requests.values()), loader.read if loader else 0
        per = f"{1000 * total / read:.1f}" if read else "n/a"
        kinds = "".join(f"; {k} {v}" for k, v in sorted(requests.items()))
        lines.append(f"Requests: {total} for {read} clicks and messages ({per} per 1,000{kinds})")
        return "\n".join(lines)


def _names(rows: list[dict[str, Any]]) -> dict[str, int]:
    """A lookup table: names (any case) → ids."""
    return {row["name"].casefold(): row["id"] for row in rows}


if __name__ == "__main__":
    TargetThreatQ.cli()
