"""The ThreatQ entity streams: their JSON schemas. Every stream is keyed by ``id``."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from tap_proofpoint_tap.mappers.threatq import entities as e

_ID = th.Property("id", th.StringType, required=True, description="Stable key (see README).")
_SOURCE = th.Property("source", th.StringType, description="The ThreatQ source name.")
_INDICATOR_TYPE = th.StringType(allowed_values=list(e.INDICATOR_TYPES))
_OBJECT_TYPES = "incident, corporate_email, indicator, event, campaign, adversary, malware or ttp"


def _text(name: str, description: str | None = None) -> th.Property[str]:
    return th.Property(name, th.StringType, description=description)


def _texts(name: str, description: str | None = None) -> th.Property[list[str]]:
    return th.Property(name, th.ArrayType(th.StringType), description=description)


def _named(field: str, description: str) -> dict[str, Any]:
    return th.PropertiesList(_ID, _text(field, description), _SOURCE).to_dict()


def _consistent(schema: dict[str, Any]) -> dict[str, Any]:
    """An ``enum`` on a property that may be null lists null too: the SDK writes the enum of
    a nullable property without it, and a validator then refuses the null the type allows."""
    for prop in schema["properties"].values():
        if "enum" in prop and "null" in prop.get("type", ()) and None not in prop["enum"]:
            prop["enum"] = [*prop["enum"], None]
    return schema


_SCHEMAS: dict[str, dict[str, Any]] = {
    e.CORPORATE_EMAILS: th.PropertiesList(
        _ID,
        _text("address", "Recipient who clicked, trimmed and lower case."),
        _SOURCE,
    ).to_dict(),
    e.INDICATORS: th.PropertiesList(
        _ID,
        th.Property("type", _INDICATOR_TYPE, description="ThreatQ indicator type (see README)."),
        _text(
            "value",
            "URLs, IPs, subjects and file names as sent; addresses, hashes and "
            "host names in lower case.",
        ),
        _text(
            "status",
            "ThreatQ indicator status (settings url_indicator_status and sender_indicator_status).",
        ),
        th.Property(
            "published_at",
            th.DateTimeType,
            description="When Proofpoint first saw it (threatTime; the click's or the "
            "message's time when absent).",
        ),
        _SOURCE,
    ).to_dict(),
    e.ATTRIBUTES: th.PropertiesList(
        _ID,
        _text("object_type", "indicator or campaign."),
        _text("object_id", "id of the indicator or campaign it belongs to."),
        _text("indicator_id", "object_id of an indicator's attribute (null for a campaign's)."),
        th.Property("indicator_type", _INDICATOR_TYPE),
        _text("indicator_value"),
        _text("name", "Attribute name, e.g. Classification, Threat Status, Sender IP."),
        _text("value"),
        _SOURCE,
    ).to_dict(),
    e.INCIDENTS: th.PropertiesList(
        th.Property("id", th.StringType, required=True, description="The click's id."),
        _text("title", "Who clicked what, sent by whom."),
        th.Property("started_at", th.DateTimeType, description="clickTime."),
        _SOURCE,
        _text("recipient"),
        _text("url"),
        _text("sender"),
        _text("classification"),
        _text("threat_status"),
        th.Property("threat_time", th.DateTimeType),
        _text("threat_id"),
        _text("threat_url"),
        _text("campaign_id"),
        _text("click_ip"),
        _text("user_agent"),
        _text("sender_ip"),
        _text("message_id"),
        _text("guid"),
    ).to_dict(),
    e.EVENTS: th.PropertiesList(
        th.Property("id", th.StringType, required=True, description="Stable key: of the GUID."),
        _text("type", "ThreatQ event type (mapper setting email_event_type)."),
        _text("title", "The subject and [message <GUID>]: unique per message."),
        th.Property("happened_at", th.DateTimeType, description="messageTime."),
        _SOURCE,
        _text("guid", "The message's GUID, which its clicks carry too."),
        _text("disposition", "delivered or blocked."),
        _text("subject"),
        _text("sender"),
        _text("sender_ip"),
        _text("message_id"),
        _texts("threats", "One line per threat: classification, type, value (status)."),
        th.Property("spam_score", th.NumberType),
        th.Property("phish_score", th.NumberType),
        th.Property("malware_score", th.NumberType),
        th.Property("impostor_score", th.NumberType),
        _texts("policy_routes"),
        _text("quarantine_folder"),
    ).to_dict(),
    e.CAMPAIGNS: th.PropertiesList(
        th.Property("id", th.StringType, required=True, description="Stable key: of the id."),
        _text("value", "The campaign's name."),
        _text("description"),
        _text("campaign_id", "Proofpoint's campaign id."),
        th.Property("started_at", th.DateTimeType, description="startDate."),
        _SOURCE,
    ).to_dict(),
    e.ADVERSARIES: _named("name", "An actor Proofpoint names."),
    e.MALWARE: _named("value", "A malware family Proofpoint names."),
    e.TTPS: _named("value", "A technique Proofpoint names."),
    e.RELATIONSHIPS: th.PropertiesList(
        _ID,
        _text("source_type", _OBJECT_TYPES + "."),
        _text("source_id", "id of the source entity."),
        _text("target_type", _OBJECT_TYPES + "."),
        _text("target_id", "id of the target entity."),
        _text(
            "target_key",
            "For an event or campaign the record names but does not carry: its GUID or "
            "Proofpoint id, which finds it outside the run.",
        ),
    ).to_dict(),
}
SCHEMAS = {stream: _consistent(schema) for stream, schema in _SCHEMAS.items()}
"""Each stream's schema, of the same JSON Schema draft as the tap's (2020-12)."""
