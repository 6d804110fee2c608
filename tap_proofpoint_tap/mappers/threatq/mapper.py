"""``mapper-proofpoint-threatq``: a Singer mapper from permitted clicks to ThreatQ entities.

It reads the tap's messages and, for every ``clicks_permitted`` record, writes the entities of
:func:`~.entities.click_entities` into five keyed streams, each id once
per run. STATE passes through unchanged (Meltano then keeps the tap's bookmark); the other
streams pass through untouched, and ``clicks_permitted`` itself too unless ``pass_through`` is
off. ACTIVATE_VERSION is never sent for entity streams: entities accumulate across runs, and a
new table version would make a target delete the earlier ones.
"""

from __future__ import annotations

import collections
import sys
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities
from singer_sdk.mapper_base import InlineMapper
from singer_sdk.singerlib import Message, SchemaMessage, StateMessage
from typing_extensions import override

from tap_proofpoint_tap.errors import TapError
from tap_proofpoint_tap.mappers.threatq import entities as e
from tap_proofpoint_tap.mappers.threatq.schemas import SCHEMAS
from tap_proofpoint_tap.singer_io import CheckedReader, StateFlushingWriter

if TYPE_CHECKING:
    from collections.abc import Iterable

CLICKS = "clicks_permitted"
SUMMARY_ROWS = (
    ("Corporate Emails", e.CORPORATE_EMAILS),
    ("Indicators", e.INDICATORS),
    ("Indicator Attributes", e.ATTRIBUTES),
    ("Incidents", e.INCIDENTS),
    ("Relationships", e.RELATIONSHIPS),
)


class ThreatQMapper(InlineMapper):
    """Permitted clicks → Corporate Emails, Indicators, Attributes, Incidents and their links."""

    name = "mapper-proofpoint-threatq"
    package_name = "tap-proofpoint-tap"
    message_reader_class = CheckedReader
    message_writer_class = StateFlushingWriter
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]
    config_jsonschema = th.PropertiesList(
        th.Property(
            "pass_through",
            th.BooleanType,
            default=True,
            description="Also pass the clicks_permitted records through (other "
            "streams always pass through).",
        ),
        th.Property(
            "url_indicator_status",
            th.StringType,
            default="Active",
            description="ThreatQ status of URL indicators: Proofpoint condemned the link.",
        ),
        th.Property(
            "sender_indicator_status",
            th.StringType,
            default="Review",
            description="ThreatQ status of sender indicators: senders are often "
            "spoofed or compromised, so an analyst reviews them.",
        ),
        th.Property(
            "source",
            th.StringType,
            default="Proofpoint TAP",
            description="Source name on every entity; one per tenant when you run several.",
        ),
    ).to_dict()

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the CLI; a bad input line, or a target that stops reading, ends it with one
        line and exit 1."""
        try:
            super().invoke(*args, **kwargs)
        except TapError as error:
            cls.logger.error("%s", error)
            sys.exit(1)

    @override
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = e.Options(
            source=self.config["source"],
            url_status=self.config["url_indicator_status"],
            sender_status=self.config["sender_indicator_status"],
        )
        self.written: set[str] = set()
        self.counts: collections.Counter[str] = collections.Counter()
        self.clicks = 0
        self.schemas_sent = False

    # Messages that pass through are written as they came: dicts, which StateFlushingWriter
    # writes as well as Messages. The SDK annotates these methods with Message only, hence
    # the ignore[override] on the three that yield dicts.

    @override
    def map_schema_message(  # type: ignore[override]
        self, message_dict: dict[str, Any]
    ) -> Iterable[Message | dict[str, Any]]:
        if self._passes(message_dict):
            yield message_dict
        if message_dict["stream"] == CLICKS and not self.schemas_sent:
            self.schemas_sent = True
            for stream in e.ENTITY_STREAMS:
                yield SchemaMessage(stream=stream, schema=SCHEMAS[stream], key_properties=["id"])

    @override
    def map_record_message(  # type: ignore[override]
        self, message_dict: dict[str, Any]
    ) -> Iterable[Message | dict[str, Any]]:
        if self._passes(message_dict):
            yield message_dict
        if message_dict["stream"] != CLICKS:
            return
        self.clicks += 1
        for stream, row in e.click_entities(message_dict["record"], self.options, self.written):
            self.written.add(row["id"])
            self.counts[stream] += 1
            yield {"type": "RECORD", "stream": stream, "record": row}

    @override
    def map_state_message(self, message_dict: dict[str, Any]) -> Iterable[Message]:
        yield StateMessage(value=message_dict["value"])

    @override
    def map_activate_version_message(  # type: ignore[override]
        self, message_dict: dict[str, Any]
    ) -> Iterable[Message | dict[str, Any]]:
        if self._passes(message_dict):
            yield message_dict

    def _passes(self, message_dict: dict[str, Any]) -> bool:
        return message_dict["stream"] != CLICKS or bool(self.config["pass_through"])

    @override
    def process_endofpipe(self) -> None:
        """Print the run's distinct entity counts, shaped like the seed feed's run table."""
        rows = [("Clicks read", self.clicks)]
        rows += [(label, self.counts[stream]) for label, stream in SUMMARY_ROWS]
        width = max(len(label) for label, _ in rows)
        lines = [
            "ThreatQ run summary (Proofpoint TAP Emails)",
            f"| {'Metric':<{width}} | Result |",
            f"|{'-' * (width + 2)}|--------|",
        ]
        lines += [f"| {label:<{width}} | {count:>6} |" for label, count in rows]
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()


if __name__ == "__main__":
    ThreatQMapper.cli()
