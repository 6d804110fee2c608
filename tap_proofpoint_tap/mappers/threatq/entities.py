"""The ThreatQ vocabulary of the mapping: its streams, types and stable ids, and how a row names
an entity that another record maps.

Every row carries a stable ``id`` derived from what identifies the entity (the click id for an
incident, the GUID for an event, Proofpoint's id for a campaign, the lower-cased address for an
email, type and value for an indicator), so the same record mapped twice, in one run or in two,
yields the same keys and a keyed target upserts instead of duplicating. Clicks are mapped in
:mod:`.clicks`, the other feeds in :mod:`.feeds`.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any, NamedTuple

Row = dict[str, Any]  # an entity row of one of the entity streams

CORPORATE_EMAILS = "threatq_corporate_emails"
INDICATORS = "threatq_indicators"
ATTRIBUTES = "threatq_indicator_attributes"
INCIDENTS = "threatq_incidents"
RELATIONSHIPS = "threatq_relationships"
EVENTS = "threatq_events"
CAMPAIGNS = "threatq_campaigns"
ADVERSARIES = "threatq_adversaries"
MALWARE = "threatq_malware"
TTPS = "threatq_ttps"
ENTITY_STREAMS = (
    CORPORATE_EMAILS,
    INDICATORS,
    ATTRIBUTES,
    INCIDENTS,
    EVENTS,
    CAMPAIGNS,
    ADVERSARIES,
    MALWARE,
    TTPS,
    RELATIONSHIPS,
)

URL = "URL"
EMAIL_ADDRESS = "Email Address"
IP_ADDRESS = "IP Address"
EMAIL_SUBJECT = "Email Subject"
MD5 = "MD5"
SHA256 = "SHA-256"
FILENAME = "Filename"
FQDN = "FQDN"
INDICATOR_TYPES = (URL, EMAIL_ADDRESS, IP_ADDRESS, EMAIL_SUBJECT, MD5, SHA256, FILENAME, FQDN)
FORENSICS_INDICATORS = ("malicious", "all", "none")

# Fixed namespace: ids must be equal across runs, machines and versions of this package.
NAMESPACE = uuid.UUID("5b0e3c1e-8f0a-4a43-9a57-3f1d2c6b7e10")
_NAMESPACE_BYTES = NAMESPACE.bytes
_NEEDS_PARSING = re.compile(r"[<>\"(),;:\s\[\]\\]")


@dataclass(frozen=True)
class Options:
    """What the user decides about the entities (the mapper's settings)."""

    source: str = "Proofpoint TAP"
    url_status: str = "Active"  # what Proofpoint condemned: threats, malicious evidence
    sender_status: str = "Review"  # what a message carried: senders, IPs, subjects, parts
    event_type: str = "Spearphish"
    forensics: str = "malicious"  # which forensic evidence becomes indicators


DEFAULTS = Options()


@functools.lru_cache(maxsize=1 << 16)
def entity_id(*parts: str) -> str:
    """A stable id for an entity from what identifies it: ``uuid.uuid5`` of the joined parts.

    Computed straight from SHA-1 (the same bytes ``uuid5`` hashes, the same version and variant
    bits) and cached: recipients, URLs and senders repeat from click to click.
    """
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "\x1f".join(parts).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def address(raw: object) -> str | None:
    """An email address trimmed and lower-cased (``Name <a@b>`` → ``a@b``); None when empty."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text:
        return None
    if not _NEEDS_PARSING.search(text):  # a bare address, the usual case: no parser needed
        return text.lower()
    parsed = parseaddr(text)[1]
    return (parsed if "@" in parsed else text).lower()


def text(raw: object) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


class End(NamedTuple):
    """One end of a relationship; ``key`` is what finds it outside the run (a message's GUID,
    a campaign's Proofpoint id), for the ends a record names but does not map."""

    type: str
    id: str | None
    key: str | None = None


def event_ref(guid: str) -> End:
    """The event of the message with this GUID, which a click names."""
    return End("event", entity_id("event", guid), guid)


def campaign_ref(campaign_id: str) -> End:
    """A campaign, which events, clicks and evidence name by Proofpoint's id."""
    return End("campaign", entity_id("campaign", campaign_id), campaign_id)
