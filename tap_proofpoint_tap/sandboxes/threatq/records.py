"""The stored data model: objects, attribute rows, source links, pivots, and the server policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from tap_proofpoint_tap.sandboxes.threatq.lookups import ObjectType

Ref = tuple[str, int]
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Policy:
    """Server behaviours the contract leaves open; the defaults are the likely ones.

    ``duplicate_reposts``: a re-posted identical attribute (name, value) or link pair makes a
    second row or pivot instead of touching the first. ``normalize_urls``: URL indicators are
    stored normalised (scheme and host lower-cased, default port, fragment and a bare "/" path
    dropped), so the stored value can differ from the one sent. ``incident_dedup``: incidents
    are unique on ``value`` like the other value-named objects (False: every post is new).
    ``relationship_limit``: links per object; past it links are silently not made and the
    object is flagged, as ThreatQ's Relationship Limits do. ``adversary_name_taken``: a plain
    ``POST /api/adversaries`` (not consume) naming a stored adversary, or naming one twice, is
    a 400 "The name has already been taken." instead of answering the stored one (§9 allows
    both; consume merges either way).
    """

    duplicate_reposts: bool = False
    normalize_urls: bool = False
    incident_dedup: bool = True
    relationship_limit: int = 10_000
    adversary_name_taken: bool = False


@dataclass
class SourceLink:
    """A source on an object or an attribute row: ``id`` the pivot, ``source_id`` the source."""

    id: int
    source_id: int
    name: str
    source_type: str
    tlp_id: int | None
    published_at: str | None
    created_at: str


@dataclass
class AttributeRow:
    id: int
    attribute_id: int
    name: str
    value: str
    published_at: str | None
    created_at: str
    updated_at: str
    touched_at: str
    sources: list[SourceLink] = field(default_factory=list)


@dataclass
class Record:
    otype: ObjectType
    id: int
    fields: dict[str, Any]
    created_at: str
    updated_at: str
    touched_at: str
    attributes: list[AttributeRow] = field(default_factory=list)
    sources: list[SourceLink] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    limit_reached: bool = False

    @property
    def ref(self) -> Ref:
        return self.otype.collection, self.id


@dataclass
class Pivot:
    id: int
    src: Ref
    dest: Ref
    created_at: str
    updated_at: str


def normalise_url(value: str) -> str:
    parts = urlsplit(value)
    if not parts.scheme or not parts.hostname:
        return value
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if parts.port is not None and parts.port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    path = "" if parts.path == "/" else parts.path
    return urlunsplit((scheme, host, path, parts.query, ""))
