"""A permitted click → the ThreatQ entities it stands for: the pure mapping behind the mapper.

ThreatQuotient's "Proofpoint TAP Emails" feed turns each permitted click into a Corporate Email
(the recipient), an Indicator of type URL (the link), an Indicator of type Email Address (the
sender) and an Incident (the click), and relates them. We do the same and add the attributes a
SOC analyst filters on. Every row carries a stable ``id`` derived from what identifies the entity
(the click id for an incident, the lower-cased address for an email, type and value for an
indicator), so the same click mapped twice, in one run or in two, yields the same keys and a
keyed target upserts instead of duplicating.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.normalise import derived_id

if TYPE_CHECKING:
    from collections.abc import Container, Iterator, Mapping

Row = dict[str, Any]  # an entity row of one of the five streams

CORPORATE_EMAILS = "threatq_corporate_emails"
INDICATORS = "threatq_indicators"
ATTRIBUTES = "threatq_indicator_attributes"
INCIDENTS = "threatq_incidents"
RELATIONSHIPS = "threatq_relationships"
ENTITY_STREAMS = (CORPORATE_EMAILS, INDICATORS, ATTRIBUTES, INCIDENTS, RELATIONSHIPS)

URL = "URL"
EMAIL_ADDRESS = "Email Address"

# Fixed namespace: ids must be equal across runs, machines and versions of this package.
NAMESPACE = uuid.UUID("5b0e3c1e-8f0a-4a43-9a57-3f1d2c6b7e10")
_NAMESPACE_BYTES = NAMESPACE.bytes
_TITLE_URL_CHARS = 100
_NEEDS_PARSING = re.compile(r"[<>\"(),;:\s\[\]\\]")


@dataclass(frozen=True)
class Options:
    """What the user decides about the entities (the mapper's settings)."""

    source: str = "Proofpoint TAP"
    url_status: str = "Active"
    sender_status: str = "Review"


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


def _text(raw: object) -> str | None:
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
    url = _text(click.get("url"))
    classification = _text(click.get("classification"))
    threat_time = _text(click.get("threatTime"))
    published = threat_time or _text(click.get("clickTime"))
    incident_id = _text(click.get("id")) or derived_id(dict(click))

    email_id = entity_id("corporate_email", recipient) if recipient else None
    if recipient and email_id not in skip:
        yield CORPORATE_EMAILS, {"id": email_id, "address": recipient, "source": options.source}

    url_id = sender_id = None
    if url:
        url_id = entity_id("indicator", URL, url)
        yield from _indicator(
            url_id,
            URL,
            url,
            options.url_status,
            published,
            options,
            skip,
            {
                "Classification": classification,
                "Threat Status": _text(click.get("threatStatus")),
                "Threat ID": _text(click.get("threatID")),
                "Threat URL": _text(click.get("threatURL")),
                "Campaign ID": _text(click.get("campaignId")),
            },
        )
    if sender:
        sender_id = entity_id("indicator", EMAIL_ADDRESS, sender)
        yield from _indicator(
            sender_id,
            EMAIL_ADDRESS,
            sender,
            options.sender_status,
            published,
            options,
            skip,
            {"Sender IP": _text(click.get("senderIP")), "Classification": classification},
        )

    if incident_id in skip:
        return  # the same click again: its entities and links are all written already
    yield (
        INCIDENTS,
        {
            "id": incident_id,
            "title": title(recipient, classification, url, sender),
            "started_at": _text(click.get("clickTime")),
            "source": options.source,
            "recipient": recipient,
            "url": url,
            "sender": sender,
            "classification": classification,
            "threat_status": _text(click.get("threatStatus")),
            "threat_time": threat_time,
            "threat_id": _text(click.get("threatID")),
            "threat_url": _text(click.get("threatURL")),
            "campaign_id": _text(click.get("campaignId")),
            "click_ip": _text(click.get("clickIP")),
            "user_agent": _text(click.get("userAgent")),
            "sender_ip": _text(click.get("senderIP")),
            "message_id": _text(click.get("messageID")),
            "guid": _text(click.get("GUID")),
        },
    )

    incident = ("incident", incident_id)
    links = (
        (incident, ("corporate_email", email_id)),
        (incident, ("indicator", url_id)),
        (incident, ("indicator", sender_id)),
        (("corporate_email", email_id), ("indicator", url_id)),
        (("indicator", url_id), ("indicator", sender_id)),
    )
    for (source_type, source_id), (target_type, target_id) in links:
        if source_id and target_id:
            link_id = entity_id("relationship", source_type, source_id, target_type, target_id)
            if link_id not in skip:
                yield (
                    RELATIONSHIPS,
                    {
                        "id": link_id,
                        "source_type": source_type,
                        "source_id": source_id,
                        "target_type": target_type,
                        "target_id": target_id,
                    },
                )


def _indicator(
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
    for name, attribute in attributes.items():
        attribute_id = attribute and entity_id("attribute", indicator_id, name, attribute)
        if attribute_id and attribute_id not in skip:
            yield (
                ATTRIBUTES,
                {
                    "id": attribute_id,
                    "indicator_id": indicator_id,
                    "indicator_type": kind,
                    "indicator_value": value,
                    "name": name,
                    "value": attribute,
                    "source": options.source,
                },
            )
