"""A permitted click → the ThreatQ entities it stands for (the Events feed).

ThreatQuotient's "Proofpoint TAP Emails" feed turns each permitted click into a Corporate Email
(the recipient), an Indicator of type URL (the link), an Indicator of type Email Address (the
sender) and an Incident (the click), and relates them. We do the same, add the attributes a
SOC analyst filters on, and relate the incident to the event of its message and to its
campaign.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.mappers.threatq.entities import (
    CORPORATE_EMAILS,
    DEFAULTS,
    EMAIL_ADDRESS,
    INCIDENTS,
    URL,
    End,
    Options,
    Row,
    address,
    campaign_ref,
    entity_id,
    event_ref,
    text,
)
from tap_proofpoint_tap.mappers.threatq.rows import indicator, link
from tap_proofpoint_tap.normalise import derived_id

if TYPE_CHECKING:
    from collections.abc import Container, Iterator, Mapping

_TITLE_URL_CHARS = 100


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
    click: Mapping[str, Any], options: Options = DEFAULTS, skip: Container[str] = frozenset()
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
