"""The five ThreatQ entity streams: their JSON schemas. Every stream is keyed by ``id``."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from tap_proofpoint_tap.mappers.threatq import entities as e

_ID = th.Property("id", th.StringType, required=True, description="Stable key (see README).")
_SOURCE = th.Property("source", th.StringType, description="The ThreatQ source name.")
_INDICATOR_TYPE = th.StringType(allowed_values=[e.URL, e.EMAIL_ADDRESS])


def _text(name: str, description: str | None = None) -> th.Property[str]:
    return th.Property(name, th.StringType, description=description)


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
        th.Property(
            "type", _INDICATOR_TYPE, description="URL (the link) or Email Address (the sender)."
        ),
        _text("value", "The URL as clicked, or the sender address in lower case."),
        _text(
            "status",
            "ThreatQ indicator status (settings url_indicator_status and sender_indicator_status).",
        ),
        th.Property(
            "published_at",
            th.DateTimeType,
            description="threatTime of the click (clickTime when absent).",
        ),
        _SOURCE,
    ).to_dict(),
    e.ATTRIBUTES: th.PropertiesList(
        _ID,
        _text("indicator_id", "id of the indicator in threatq_indicators."),
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
    e.RELATIONSHIPS: th.PropertiesList(
        _ID,
        _text("source_type", "incident, corporate_email or indicator."),
        _text("source_id", "id of the source entity."),
        _text("target_type", "corporate_email or indicator."),
        _text("target_id", "id of the target entity."),
    ).to_dict(),
}
SCHEMAS = {stream: _consistent(schema) for stream, schema in _SCHEMAS.items()}
"""Each stream's schema, of the same JSON Schema draft as the tap's (2020-12)."""
