"""The mapper's entity rows → ThreatQ request bodies: pure functions, tested without a server.

The mapper decides *what* the entities are; these decide only how ThreatQ spells them: its
``YYYY-MM-DD HH:MM:SS`` times (UTC), its ``sources`` lists, an incident's ``value`` (ThreatQ
identifies an incident by it, so it carries the click id: unique per click, equal on every
load of the same click), an adversary's ``name``, an event's ``title`` and type, and the
descriptions an analyst reads.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

DESCRIPTION_FIELDS = (
    ("Recipient", "recipient"),
    ("URL", "url"),
    ("Sender", "sender"),
    ("Classification", "classification"),
    ("Threat status", "threat_status"),
    ("Threat time", "threat_time"),
    ("Threat ID", "threat_id"),
    ("Threat URL", "threat_url"),
    ("Campaign ID", "campaign_id"),
    ("Click IP", "click_ip"),
    ("User agent", "user_agent"),
    ("Sender IP", "sender_ip"),
    ("Message-ID", "message_id"),
    ("Message GUID", "guid"),
    ("Click id", "id"),
)


def threatq_time(value: str | datetime | None) -> str | None:
    """An ISO 8601 time (or the datetime the SDK parsed it into) → ThreatQ's
    ``YYYY-MM-DD HH:MM:SS`` in UTC; None stays None."""
    if not value:
        return None
    parsed = (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    )
    return _utc(parsed)


def _utc(parsed: datetime) -> str:
    """A datetime as ThreatQ's UTC text; one without offset is taken as UTC."""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def incident_value(row: dict[str, Any]) -> str:
    """The incident's name in ThreatQ: the mapper's title plus the click id."""
    return f"{row.get('title') or 'Proofpoint TAP click'} [click {row['id']}]"


def sources(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": row["source"]}] if row.get("source") else []


def corporate_email_item(row: dict[str, Any]) -> dict[str, Any]:
    return {"value": row["address"], "sources": sources(row)}


def indicator_item(row: dict[str, Any], type_id: int) -> dict[str, Any]:
    """Without status: it is set only when the indicator is new (an analyst's change stays)."""
    item: dict[str, Any] = {"value": row["value"], "type_id": type_id, "sources": sources(row)}
    published = threatq_time(row.get("published_at"))
    if published:
        item["published_at"] = published
    return item


def incident_item(row: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "value": incident_value(row),
        "description": description(row),
        "sources": sources(row),
    }
    started = threatq_time(row.get("started_at"))
    if started:
        item["started_at"] = started
    return item


EVENT_FIELDS = (
    ("Disposition", "disposition"),
    ("Subject", "subject"),
    ("Sender", "sender"),
    ("Sender IP", "sender_ip"),
    ("Message-ID", "message_id"),
    ("Threats", "threats"),
    ("Spam score", "spam_score"),
    ("Phish score", "phish_score"),
    ("Malware score", "malware_score"),
    ("Impostor score", "impostor_score"),
    ("Policy routes", "policy_routes"),
    ("Quarantine folder", "quarantine_folder"),
    ("Message GUID", "guid"),
)


def description(
    row: dict[str, Any], fields: tuple[tuple[str, str], ...] = DESCRIPTION_FIELDS
) -> str:
    """One line per known fact, in the order an analyst reads them (lists joined by commas;
    a score of 0 is a fact too)."""
    return "\n".join(
        f"{label}: {_shown(row[key])}"
        for label, key in fields
        if row.get(key) not in (None, "", [])
    )


def _shown(value: Any) -> str:
    """A time as ThreatQ shows times (the SDK parsed it into a datetime); a list joined by
    commas; text as it is."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return _utc(value) if isinstance(value, datetime) else str(value)


def event_item(row: dict[str, Any], type_id: int) -> dict[str, Any]:
    """An event: ThreatQ requires ``happened_at``; a message without a time gets none, and
    ThreatQ refuses it, naming the event."""
    item: dict[str, Any] = {
        "title": row["title"],
        "type_id": type_id,
        "description": description(row, EVENT_FIELDS),
        "sources": sources(row),
    }
    happened = threatq_time(row.get("happened_at"))
    if happened:
        item["happened_at"] = happened
    return item


def campaign_item(row: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"value": row["value"], "sources": sources(row)}
    if row.get("description"):
        item["description"] = row["description"]
    return item


def adversary_item(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "sources": sources(row)}


def value_item(row: dict[str, Any]) -> dict[str, Any]:
    """A malware or TTP object: its value and source."""
    return {"value": row["value"], "sources": sources(row)}


def attribute_item(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "value": row["value"], "sources": sources(row)}
