"""The ThreatQ vocabulary (streams, types, stable ids) and the permitted click's mapping.

ThreatQuotient's "Proofpoint TAP Emails" feed turns each permitted click into a Corporate Email
(the recipient), an Indicator of type URL (the link), an Indicator of type Email Address (the
sender) and an Incident (the click), and relates them. We do the same and add the attributes a
SOC analyst filters on. Every row carries a stable ``id`` derived from what identifies the entity
(the click id for an incident, the lower-cased address for an email, type and value for an
indicator), so the same click mapped twice, in one run or in two, yields the same keys and a
keyed target upserts instead of duplicating. The other feeds (messages, campaigns, threats,
forensics) are mapped in :mod:`.feeds`.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, NamedTuple

from tap_proofpoint_tap.normalise import derived_id

if TYPE_CHECKING:
    from collections.abc import Container, Iterator, Mapping

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
_TITLE_URL_CHARS = 100
_NEEDS_PARSING = re.compile(r"[<>\"(),;:\s\[\]\\]")


@dataclass(frozen=True)
class Options:
    """What the user decides about the entities (the mapper's settings)."""

    source: str = "Proofpoint TAP"
    url_status: str = "Active"  # what Proofpoint condemned: threats, malicious evidence
    sender_status: str = "Review"  # what a message carried: senders, IPs, subjects, parts
    event_type: str = "Spearphish"
    forensics: str = "malicious"  # which forensic evidence becomes indicators


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


def title(
    recipient: str | None, classification: str | None, url: str | None, sender: str | None
) -> str:
    """Who clicked what, from whom: the line an analyst reads in a list of incidents."""
    link = url or "an unknown URL"
    if len(link) > _TITLE_URL_CHARS:
        link = link[: _TITLE_URL_CHARS - 1] + "…"
    kind = f"{classification} " if classification else ""
    line = f"{recipient or 'Unknown recipient'} clicked {kind}link {link}"
    return f"{line} (sent by {sender})" if sender else line


def click_entities(
    click: Mapping[str, Any], options: Options = Options(), skip: Container[str] = frozenset()
) -> Iterator[tuple[str, Row]]:
    """Yield ``(stream, row)`` for every entity and link one permitted click stands for.

    Entities come before the relationships that refer to them. The same recipient, URL or
    sender in two clicks yields equal rows with equal ids; rows whose id is in ``skip`` (the
    mapper passes the ids it has written) are left out before they are built.
    """
    recipient = address(click.get("recipient"))
    sender = address(click.get("sender"))
    url = text(click.get("url"))
    classification = text(click.get("classification"))
    threat_time = text(click.get("threatTime"))
    published = threat_time or text(click.get("clickTime"))
    incident_id = text(click.get("id")) or derived_id(dict(click))

    email_id = entity_id("corporate_email", recipient) if recipient else None
    if recipient and email_id not in skip:
        yield CORPORATE_EMAILS, {"id": email_id, "address": recipient, "source": options.source}

    url_id = sender_id = None
    if url:
        url_id = entity_id("indicator", URL, url)
        yield from indicator(
            url_id,
            URL,
            url,
            options.url_status,
            published,
            options,
            skip,
            {
                "Classification": classification,
                "Threat Status": text(click.get("threatStatus")),
                "Threat ID": text(click.get("threatID")),
                "Threat URL": text(click.get("threatURL")),
                "Campaign ID": text(click.get("campaignId")),
            },
        )
    if sender:
        sender_id = entity_id("indicator", EMAIL_ADDRESS, sender)
        yield from indicator(
            sender_id,
            EMAIL_ADDRESS,
            sender,
            options.sender_status,
            published,
            options,
            skip,
            {"Sender IP": text(click.get("senderIP")), "Classification": classification},
        )

    if incident_id in skip:
        return  # the same click again: its entities and links are all written already
    yield (
        INCIDENTS,
        {
            "id": incident_id,
            "title": title(recipient, classification, url, sender),
            "started_at": text(click.get("clickTime")),
            "source": options.source,
            "recipient": recipient,
            "url": url,
            "sender": sender,
            "classification": classification,
            "threat_status": text(click.get("threatStatus")),
            "threat_time": threat_time,
            "threat_id": text(click.get("threatID")),
            "threat_url": text(click.get("threatURL")),
            "campaign_id": text(click.get("campaignId")),
            "click_ip": text(click.get("clickIP")),
            "user_agent": text(click.get("userAgent")),
            "sender_ip": text(click.get("senderIP")),
            "message_id": text(click.get("messageID")),
            "guid": text(click.get("GUID")),
        },
    )

    incident, email = End("incident", incident_id), End("corporate_email", email_id)
    url_end, sender_end = End("indicator", url_id), End("indicator", sender_id)
    links = (
        (incident, email),
        (incident, url_end),
        (incident, sender_end),
        (email, url_end),
        (url_end, sender_end),
    )
    for source, target in links:
        yield from link(source, target, skip)
    guid, campaign = text(click.get("GUID")), text(click.get("campaignId"))
    if guid:
        yield from link(incident, event_ref(guid), skip)
    if campaign:
        yield from link(incident, campaign_ref(campaign), skip)


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


def link(source: End, target: End, skip: Container[str]) -> Iterator[tuple[str, Row]]:
    """The relationship row between two entities (none for an entity and itself)."""
    if not source.id or not target.id or source.id == target.id:
        return
    link_id = entity_id("relationship", source.type, source.id, target.type, target.id)
    if link_id not in skip:
        yield (
            RELATIONSHIPS,
            {
                "id": link_id,
                "source_type": source.type,
                "source_id": source.id,
                "target_type": target.type,
                "target_id": target.id,
                "target_key": target.key,
            },
        )


def indicator(
    indicator_id: str,
    kind: str,
    value: str,
    status: str,
    published: str | None,
    options: Options,
    skip: Container[str],
    attributes: Mapping[str, str | None],
) -> Iterator[tuple[str, Row]]:
    if indicator_id not in skip:
        yield (
            INDICATORS,
            {
                "id": indicator_id,
                "type": kind,
                "value": value,
                "status": status,
                "published_at": published,
                "source": options.source,
            },
        )
    owner = ("indicator", indicator_id, kind, value)
    for name, attribute in attributes.items():
        if attribute:
            yield from attribute_row(owner, name, attribute, options, skip)


def attribute_row(
    owner: tuple[str, str, str | None, str | None],
    name: str,
    value: str,
    options: Options,
    skip: Container[str],
) -> Iterator[tuple[str, Row]]:
    """An attribute of an indicator or a campaign (``owner``: its type and id, and an
    indicator's type and value, which the stream carried before campaigns had attributes)."""
    attribute_id = entity_id("attribute", owner[1], name, value)
    if attribute_id not in skip:
        indicator = owner[0] == "indicator"
        yield (
            ATTRIBUTES,
            {
                "id": attribute_id,
                "object_type": owner[0],
                "object_id": owner[1],
                "indicator_id": owner[1] if indicator else None,
                "indicator_type": owner[2],
                "indicator_value": owner[3],
                "name": name,
                "value": value,
                "source": options.source,
            },
        )
