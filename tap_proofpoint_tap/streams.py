"""The tap's streams: the four SIEM ones (each names its endpoint, array, schema, pool and
normaliser), then those of :mod:`intel_streams`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from singer_sdk import SchemaDirectory, StreamSchema

from tap_proofpoint_tap.client import SCHEMA_DIR, SiemStream
from tap_proofpoint_tap.intel_streams import INTEL_STREAM_TYPES
from tap_proofpoint_tap.normalise import normalise_click, normalise_message

if TYPE_CHECKING:
    from tap_proofpoint_tap.intel_client import IntelStream

SCHEMAS = SchemaDirectory(SCHEMA_DIR)


class ClicksPermittedStream(SiemStream):
    """Clicks on URLs that Proofpoint let through and later (or already) found malicious."""

    name = "clicks_permitted"
    path = "/v2/siem/clicks/permitted"
    records_key = "clicksPermitted"
    pool = "clicks_permitted"
    schema = StreamSchema(SCHEMAS, key="click")
    normalise = staticmethod(normalise_click)


class ClicksBlockedStream(SiemStream):
    """Clicks on URLs that Proofpoint blocked."""

    name = "clicks_blocked"
    path = "/v2/siem/clicks/blocked"
    records_key = "clicksBlocked"
    schema = StreamSchema(SCHEMAS, key="click")
    normalise = staticmethod(normalise_click)


class MessagesDeliveredStream(SiemStream):
    """Delivered messages that carried a threat, one event per recipient."""

    name = "messages_delivered"
    path = "/v2/siem/messages/delivered"
    records_key = "messagesDelivered"
    schema = StreamSchema(SCHEMAS, key="message")
    normalise = staticmethod(normalise_message)
    sends_threat_type = True


class MessagesBlockedStream(SiemStream):
    """Messages Proofpoint blocked because they carried a threat, one event per recipient."""

    name = "messages_blocked"
    path = "/v2/siem/messages/blocked"
    records_key = "messagesBlocked"
    schema = StreamSchema(SCHEMAS, key="message")
    normalise = staticmethod(normalise_message)
    sends_threat_type = True


SIEM_STREAM_TYPES: list[type[SiemStream]] = [  # by name, the order they always synced in
    ClicksBlockedStream,
    ClicksPermittedStream,
    MessagesBlockedStream,
    MessagesDeliveredStream,
]
ALL_STREAM_TYPES: list[type[SiemStream] | type[IntelStream]] = [
    *SIEM_STREAM_TYPES,
    *INTEL_STREAM_TYPES,
]
"""In the order they sync: the SIEM streams name the threats and campaigns the others fetch."""
