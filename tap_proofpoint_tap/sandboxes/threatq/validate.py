"""Check one posted object as ThreatQ's validation does, before anything is stored.

A failure raises ``Invalid`` with Laravel's field-keyed errors (threatq-api.md §1), which the
server answers with 400 ``{"data": {"errors": {field: [message]}}}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from tap_proofpoint_tap.sandboxes.threatq.lookups import Lookups, ObjectType

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
DEFAULT_STATUS = "Review"
SERVER_STAMPS = frozenset({"created_at", "updated_at", "touched_at"})


class Invalid(Exception):
    """A validation failure of one field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.errors = {field_name: [message]}


@dataclass(frozen=True)
class Source:
    """``source_type``: "users" or "oauth_clients" for the caller's own default source."""

    name: str
    tlp_id: int | None = None
    published_at: str | None = None
    source_type: str = "other_sources"


@dataclass(frozen=True)
class Attribute:
    name: str
    value: str
    sources: tuple[Source, ...] = ()
    published_at: str | None = None


@dataclass
class Item:
    """A posted object, checked: its own fields, its context and its relationship keys.

    ``defaults`` (the indicator status when none is sent) apply to a new object only, so a
    re-post without a status keeps the stored one.
    """

    fields: dict[str, Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    target_id: int | None = None
    attributes: list[Attribute] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    links: dict[str, list[int]] = field(default_factory=dict)


def timestamp(name: str, value: Any) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` or None; anything else (ISO 8601 with T or a zone) is refused."""
    if value is None:
        return None
    if not isinstance(value, str) or not TIMESTAMP.fullmatch(value):
        raise Invalid(name, f"The {name} does not match the format Y-m-d H:i:s.")
    try:
        datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise Invalid(name, f"The {name} is not a valid date.") from None
    return value


def text(name: str, value: Any, *, required: bool = True) -> str | None:
    """A required string field: numbers become strings, booleans the SDK's Yes/No."""
    if isinstance(value, bool):
        value = "Yes" if value else "No"
    if isinstance(value, int | float):
        value = str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid(name, f"The {name.replace('_', ' ')} field is required.")
        return None
    if not isinstance(value, str):
        raise Invalid(name, f"The {name} must be a string.")
    return value.strip()


def sources(name: str, raw: Any) -> list[Source]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Invalid(name, f"The {name} must be an array.")
    out = []
    for i, given in enumerate(raw):
        entry = {"name": given} if isinstance(given, str) else given
        if not isinstance(entry, dict):
            raise Invalid(f"{name}.{i}", "Each source must be an object with a name.")
        out.append(
            Source(
                text(f"{name}.{i}.name", entry.get("name")) or "",
                entry.get("tlp_id"),
                timestamp(f"{name}.{i}.published_at", entry.get("published_at")),
            )
        )
    return out


def attributes(raw: Any) -> list[Attribute]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Invalid("attributes", "The attributes must be an array.")
    out = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise Invalid(f"attributes.{i}", "Each attribute must be an object.")
        out.append(
            Attribute(
                text(f"attributes.{i}.name", entry.get("name")) or "",
                text(f"attributes.{i}.value", entry.get("value")) or "",
                tuple(sources(f"attributes.{i}.sources", entry.get("sources"))),
                timestamp(f"attributes.{i}.published_at", entry.get("published_at")),
            )
        )
    return out


def tags(raw: Any) -> list[str]:
    """Tags as strings or ``{"name"}`` objects (both forms are sent by public clients)."""
    entries = raw if isinstance(raw, list) else [] if raw is None else [raw]
    return [
        text(f"tags.{i}", e.get("name") if isinstance(e, dict) else e) or ""
        for i, e in enumerate(entries)
    ]


def _named(raw: dict[str, Any], name: str) -> Any:
    """``type``/``status`` as a name string or ``{"name": …}``; ``type_id``/``status_id`` as ids."""
    value = raw.get(name)
    return value.get("name") if isinstance(value, dict) else value


def _lookup(
    raw: dict[str, Any],
    name: str,
    rows: list[dict[str, Any]],
    by_name: Any,
    default: str | None = None,
) -> int:
    """The id ``raw`` gives by id or by name; ``default``'s id, or 400, when it gives none."""
    if raw.get(f"{name}_id") is not None:
        wanted = raw[f"{name}_id"]
        if not any(row["id"] == wanted for row in rows):
            raise Invalid(f"{name}_id", f"The selected {name} id is invalid.")
        return cast("int", wanted)
    label = _named(raw, name) or default
    if label is None:
        raise Invalid(f"{name}_id", f"The {name} id field is required.")
    found = by_name(text(name, label))
    if found is None:
        raise Invalid(name, f"The selected {name} is invalid.")
    return cast("int", found["id"])


def parse(raw: Any, otype: ObjectType, lookups: Lookups, collections: frozenset[str]) -> Item:
    """Check ``raw`` as an object of ``otype``; ``collections`` are the relationship keys.

    An event needs a type (by name or id) and ``happened_at``: the contract (§5) calls it
    "needed by the SDK" without saying whether ThreatQ refuses an event without it, so the
    stand-in takes the strict reading and answers 400.
    """
    if not isinstance(raw, dict):
        raise Invalid(otype.key, "Each item must be a JSON object.")
    fields: dict[str, Any] = {otype.key: text(otype.key, raw.get(otype.key))}
    defaults: dict[str, Any] = {}
    description = raw.get("description")
    if isinstance(description, list):  # the SDK sends adversary descriptions as [{"value": …}]
        description = description[0].get("value") if description else None
    if description is not None:
        fields["description"] = text("description", description, required=False)
    if otype.collection == "indicators":
        fields["type_id"] = _lookup(raw, "type", lookups.indicator_types, lookups.indicator_type)
        given = raw.get("status_id") is not None or _named(raw, "status") is not None
        (fields if given else defaults)["status_id"] = _lookup(
            raw, "status", lookups.statuses, lookups.status, DEFAULT_STATUS
        )
    elif otype.collection == "events":
        fields["type_id"] = _lookup(raw, "type", lookups.event_types, lookups.event_type)
        if raw.get("happened_at") is None:  # the SDK never sends an event without one (§5)
            raise Invalid("happened_at", "The happened at field is required.")
    for name in ("type", "status"):  # the other objects have no types or statuses out of the box
        known = name + "_id" in fields or name + "_id" in defaults
        if not known and (raw.get(name) or raw.get(name + "_id")) is not None:
            raise Invalid(f"{name}_id", f"The selected {name} id is invalid.")
    for key, value in raw.items():
        if key.endswith("_at") and key not in SERVER_STAMPS:
            fields[key] = timestamp(key, value)
    links: dict[str, list[int]] = {}
    for key in sorted(collections & raw.keys()):
        entries = raw[key] if isinstance(raw[key], list) else [raw[key]]
        links[key] = [
            e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), int)
        ]
    target = raw.get("id")
    return Item(
        fields,
        defaults,
        target if isinstance(target, int) else None,
        attributes(raw.get("attributes")),
        sources("sources", raw.get("sources")),
        tags(raw.get("tags")),
        links,
    )
