"""``mapper-proofpoint-ocsf``: a Singer mapper from the tap's streams to OCSF events.

Each ``messages_*``, ``clicks_*`` and ``threats`` record becomes one event of
:mod:`.events`, written to ``ocsf_email_activity``, ``ocsf_web_resources_activity`` or
``ocsf_detection_finding``; each stream's SCHEMA is generated from its OCSF class
(:mod:`.streams`). The streams have no key: OCSF events are appended, as Security Lake stores
them, and ``metadata.uid`` names each event for the reader who deduplicates (a look-back
re-reads a few minutes of events). STATE passes through unchanged; the tap's own streams pass
through too unless ``pass_through`` is off.
"""

from __future__ import annotations

import collections
import sys
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from singer_sdk.singerlib import Message, SchemaMessage
from typing_extensions import override

from tap_proofpoint_tap.mappers.ocsf import events
from tap_proofpoint_tap.mappers.ocsf.schema import OCSF_VERSION
from tap_proofpoint_tap.mappers.ocsf.streams import as_record, stream_schema
from tap_proofpoint_tap.mappers.ocsf.vocabulary import Class
from tap_proofpoint_tap.mappers.pipe import PipeMapper

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

MAPPINGS: Mapping[str, tuple[Class, Callable[[dict[str, Any], str], events.Event]]] = {
    "messages_delivered": (Class.EMAIL, events.email_activity),
    "messages_blocked": (Class.EMAIL, events.email_activity),
    "clicks_permitted": (Class.WEB, events.web_resources_activity),
    "clicks_blocked": (Class.WEB, events.web_resources_activity),
    "threats": (Class.FINDING, events.detection_finding),
}
"""The streams the mapper reads, each one's OCSF class and mapping."""


class OCSFMapper(PipeMapper):
    """Proofpoint TAP messages, clicks and threats as OCSF 1.7.0 events: Email Activity (4009),
    Web Resources Activity (6001) and Detection Finding (2004), security-control profile."""

    name = "mapper-proofpoint-ocsf"
    config_jsonschema = th.PropertiesList(
        th.Property(
            "pass_through",
            th.BooleanType,
            default=True,
            description="Also pass the tap's own streams through (off: only the OCSF "
            "streams and STATE reach the target).",
        ),
    ).to_dict()

    @override
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: collections.Counter[str] = collections.Counter()
        self.written: collections.Counter[str] = collections.Counter()
        self.schemas_sent: set[str] = set()

    # The SDK annotates these methods with Message only; passing messages are dicts.

    @override
    def map_schema_message(  # type: ignore[override]
        self, message_dict: dict[str, Any]
    ) -> Iterable[Message | dict[str, Any]]:
        if self.passes(message_dict):
            yield message_dict
        mapping = MAPPINGS.get(message_dict["stream"])
        if mapping is not None and mapping[0].stream not in self.schemas_sent:
            self.schemas_sent.add(mapping[0].stream)
            yield SchemaMessage(
                stream=mapping[0].stream, schema=stream_schema(mapping[0]), key_properties=[]
            )

    @override
    def map_record_message(  # type: ignore[override]
        self, message_dict: dict[str, Any]
    ) -> Iterable[Message | dict[str, Any]]:
        if self.passes(message_dict):
            yield message_dict
        stream = message_dict["stream"]
        mapping = MAPPINGS.get(stream)
        if mapping is None:
            return
        kind, to_event = mapping
        self.read[stream] += 1
        self.written[kind.stream] += 1
        event = to_event(message_dict["record"], stream)
        yield {"type": "RECORD", "stream": kind.stream, "record": as_record(kind, event)}

    @override
    def passes(self, message_dict: dict[str, Any]) -> bool:
        return bool(self.config["pass_through"])

    @override
    def process_endofpipe(self) -> None:
        """Print what was read and what was written, one line each."""
        read = ", ".join(f"{n} {s}" for s, n in sorted(self.read.items())) or "no record"
        written = ", ".join(f"{n} {s}" for s, n in sorted(self.written.items())) or "no event"
        sys.stderr.write(f"OCSF {OCSF_VERSION}: read {read}; wrote {written}\n")
        sys.stderr.flush()


if __name__ == "__main__":
    OCSFMapper.cli()
