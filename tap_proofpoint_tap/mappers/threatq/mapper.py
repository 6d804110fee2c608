"""``mapper-proofpoint-threatq``: a Singer mapper from the tap's streams to ThreatQ entities.

It reads the tap's messages and, for every ``clicks_permitted``, ``messages_delivered``,
``messages_blocked``, ``campaigns``, ``threats`` and ``forensics`` record, writes the entities of
:func:`~.clicks.click_entities` and :mod:`.feeds` into ten keyed streams, each id once
per run. STATE passes through unchanged (Meltano then keeps the tap's bookmark); the other
streams pass through untouched, and ``clicks_permitted`` itself too unless ``pass_through`` is
off. ACTIVATE_VERSION is never sent for entity streams: entities accumulate across runs, and a
new table version would make a target delete the earlier ones.
"""

from __future__ import annotations

import collections
import functools
import sys
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from singer_sdk.singerlib import Message, SchemaMessage
from typing_extensions import override

from tap_proofpoint_tap.mappers.pipe import PipeMapper
from tap_proofpoint_tap.mappers.threatq import clicks, feeds
from tap_proofpoint_tap.mappers.threatq import entities as e
from tap_proofpoint_tap.mappers.threatq.schemas import SCHEMAS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

CLICKS = "clicks_permitted"
SUMMARY_ROWS = (
    ("Corporate Emails", e.CORPORATE_EMAILS),
    ("Indicators", e.INDICATORS),
    ("Attributes", e.ATTRIBUTES),
    ("Incidents", e.INCIDENTS),
    ("Events", e.EVENTS),
    ("Campaigns", e.CAMPAIGNS),
    ("Adversaries", e.ADVERSARIES),
    ("Malware", e.MALWARE),
    ("TTPs", e.TTPS),
    ("Relationships", e.RELATIONSHIPS),
)
FEEDS: dict[
    str, Callable[[Mapping[str, Any], e.Options, set[str]], Iterator[tuple[str, e.Row]]]
] = {
    CLICKS: clicks.click_entities,
    "messages_delivered": functools.partial(feeds.message_entities, disposition="delivered"),
    "messages_blocked": functools.partial(feeds.message_entities, disposition="blocked"),
    "campaigns": feeds.campaign_entities,
    "threats": feeds.threat_entities,
    "forensics": feeds.forensic_entities,
}
"""The streams the mapper reads, and the mapping of each one's records."""


class ThreatQMapper(PipeMapper):
    """Clicks, messages, campaigns, threats and evidence → ThreatQ entities and their links."""

    name = "mapper-proofpoint-threatq"
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
            description="ThreatQ status of what Proofpoint condemned: clicked URLs, "
            "threats' URLs and hashes, malicious forensic evidence.",
        ),
        th.Property(
            "sender_indicator_status",
            th.StringType,
            default="Review",
            description="ThreatQ status of what a message carried: senders (often "
            "spoofed or compromised), IPs, subjects, attachments; an analyst reviews them.",
        ),
        th.Property(
            "email_event_type",
            th.StringType,
            default="Spearphish",
            description="ThreatQ event type of a message's event (target-threatq looks "
            "it up by name).",
        ),
        th.Property(
            "forensics_indicators",
            th.StringType,
            default="malicious",
            allowed_values=list(e.FORENSICS_INDICATORS),
            description="Which forensic evidence becomes indicators: malicious (what "
            "Proofpoint's sandbox condemned), all, or none.",
        ),
        th.Property(
            "source",
            th.StringType,
            default="Proofpoint TAP",
            description="Source name on every entity; one per tenant when you run several.",
        ),
    ).to_dict()

    @override
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = e.Options(
            source=self.config["source"],
            url_status=self.config["url_indicator_status"],
            sender_status=self.config["sender_indicator_status"],
            event_type=self.config["email_event_type"],
            forensics=self.config["forensics_indicators"],
        )
        self.written: set[str] = set()
        self.counts: collections.Counter[str] = collections.Counter()
        self.read: collections.Counter[str] = collections.Counter()
        self.schemas_sent = False

    # The SDK annotates these methods with Message only; passing messages are dicts.

    @override
    def map_schema_message(  # type: ignore[override]
        self, message_dict: dict[str, Any]
    ) -> Iterable[Message | dict[str, Any]]:
        if self.passes(message_dict):
            yield message_dict
        if message_dict["stream"] in FEEDS and not self.schemas_sent:
            self.schemas_sent = True
            for stream in e.ENTITY_STREAMS:
                yield SchemaMessage(stream=stream, schema=SCHEMAS[stream], key_properties=["id"])

    @override
    def map_record_message(  # type: ignore[override]
        self, message_dict: dict[str, Any]
    ) -> Iterable[Message | dict[str, Any]]:
        if self.passes(message_dict):
            yield message_dict
        mapping = FEEDS.get(message_dict["stream"])
        if mapping is None:
            return
        self.read[message_dict["stream"]] += 1
        for stream, row in mapping(message_dict["record"], self.options, self.written):
            self.written.add(row["id"])
            self.counts[stream] += 1
            yield {"type": "RECORD", "stream": stream, "record": row}

    @override
    def passes(self, message_dict: dict[str, Any]) -> bool:
        return message_dict["stream"] != CLICKS or bool(self.config["pass_through"])

    @override
    def process_endofpipe(self) -> None:
        """Print the run's distinct entity counts, shaped like the seed feed's run table."""
        rows = [(f"Read: {stream}", self.read[stream]) for stream in FEEDS if self.read[stream]]
        rows = rows or [(f"Read: {CLICKS}", 0)]
        rows += [(label, self.counts[stream]) for label, stream in SUMMARY_ROWS]
        width = max(len(label) for label, _ in rows)
        lines = [
            "ThreatQ run summary (Proofpoint TAP: Events, Emails and Campaigns)",
            f"| {'Metric':<{width}} | Result |",
            f"|{'-' * (width + 2)}|--------|",
        ]
        lines += [f"| {label:<{width}} | {count:>6} |" for label, count in rows]
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()


if __name__ == "__main__":
    ThreatQMapper.cli()
