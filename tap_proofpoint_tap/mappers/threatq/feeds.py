"""Messages, campaigns, threats and forensic evidence → ThreatQ entities: the pure mapping of
ThreatQuotient's Emails and Campaigns feeds (clicks are in :mod:`.entities`).

Each function yields ``(stream, row)`` for one record: entities first, then the relationships
that refer to them, each id once (``skip`` holds the ids the mapper wrote already). Ids are
derived from what identifies the entity in ThreatQ, so a message read twice (by two recipients'
records, or by the look-back) or a campaign fetched again maps to the same rows. What a record
names but does not carry (the campaign of a message's threat) is a relationship whose end has
a ``target_key``: the loader finds that entity in the run or in ThreatQ.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.mappers.threatq import entities as e
from tap_proofpoint_tap.mappers.threatq.entities import End, Options, Row, address, entity_id, text
from tap_proofpoint_tap.mappers.threatq.rows import Rows

if TYPE_CHECKING:
    from collections.abc import Container, Iterable, Iterator, Mapping

TITLE_SUBJECT_CHARS = 200
THREAT_TYPES = {"url": e.URL, "attachment": e.SHA256}
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def message_entities(
    message: Mapping[str, Any],
    options: Options,
    skip: Container[str],
    *,
    disposition: str,
) -> Iterator[tuple[str, Row]]:
    """A delivered or blocked message (``disposition``): its event, recipients, senders,
    subject, attachments and threats, each related to the event. TAP sends one record per
    recipient, in no fixed order: the event holds what they share (who received it is in the
    Corporate Emails linked to it), so it is the same whichever record comes first."""
    out = Rows(options, skip)
    # Without a GUID the records of one message cannot be told apart from another's: no
    # event (its recipients and indicators still land, unlinked).
    guid = text(message.get("GUID"))
    event = e.event_ref(guid) if guid else End("event", None)
    subject = text(message.get("subject"))
    # ThreatQ requires an event's time: without messageTime, the end of the window that read it.
    when = text(message.get("messageTime")) or text(message.get("queryEndTime"))
    recipients = [a for a in map(address, _list(message.get("recipient"))) if a]
    threats = [t for t in _list(message.get("threatsInfoMap")) if isinstance(t, dict)]
    if guid:
        out.add(
            e.EVENTS,
            {
                "id": event.id,
                "type": options.event_type,
                "title": event_title(subject, guid),
                "happened_at": when,
                "source": options.source,
                "guid": guid,
                "disposition": disposition,
                "subject": subject,
                "sender": address(message.get("sender")),
                "sender_ip": text(message.get("senderIP")),
                "message_id": text(message.get("messageID")),
                "threats": [_threat_line(t) for t in threats],
                "spam_score": message.get("spamScore"),
                "phish_score": message.get("phishScore"),
                "malware_score": message.get("malwareScore"),
                "impostor_score": message.get("impostorScore"),
                "policy_routes": [str(r) for r in _list(message.get("policyRoutes"))],
                "quarantine_folder": text(message.get("quarantineFolder")),
            },
        )
    review = options.sender_status
    related: list[End] = []
    for recipient in recipients:
        email_id = entity_id("corporate_email", recipient)
        out.add(
            e.CORPORATE_EMAILS, {"id": email_id, "address": recipient, "source": options.source}
        )
        related.append(End("corporate_email", email_id))
    senders = [message.get("sender"), *_list(message.get("fromAddress"))]
    senders += _list(message.get("replyToAddress"))
    related += [out.indicator(e.EMAIL_ADDRESS, s, review, when) for s in senders]
    related.append(out.indicator(e.IP_ADDRESS, message.get("senderIP"), review, when))
    related.append(out.indicator(e.EMAIL_SUBJECT, subject, review, when))
    for part in _list(message.get("messageParts")):
        if isinstance(part, dict) and part.get("disposition") == "attached":
            content = {"Content Type": part.get("contentType")}
            for part_kind, field in (
                (e.MD5, "md5"),
                (e.SHA256, "sha256"),
                (e.FILENAME, "filename"),
            ):
                related.append(out.indicator(part_kind, part.get(field), review, when, content))
    for threat in threats:
        kind = THREAT_TYPES.get(str(threat.get("threatType")).lower())
        if kind:
            related.append(
                out.indicator(
                    kind,
                    threat.get("threat"),
                    options.url_status,
                    text(threat.get("threatTime")) or when,
                    {
                        "Classification": threat.get("classification"),
                        "Threat Status": threat.get("threatStatus"),
                        "Threat ID": threat.get("threatID"),
                        "Campaign ID": threat.get("campaignID"),
                    },
                )
            )
        campaign = text(threat.get("campaignID"))
        if campaign:
            related.append(e.campaign_ref(campaign))
    for end in related:
        out.link(event, end)
    yield from out


def event_title(subject: str | None, guid: str) -> str:
    """The subject and the GUID: unique per message, so ThreatQ (which does not deduplicate
    events) finds the event by its title before creating it again."""
    shown = subject or "(no subject)"
    if len(shown) > TITLE_SUBJECT_CHARS:
        shown = shown[: TITLE_SUBJECT_CHARS - 1] + "…"
    return f"{shown} [message {guid}]"


def _threat_line(threat: Mapping[str, Any]) -> str:
    parts = [text(threat.get(k)) for k in ("classification", "threatType", "threat")]
    status = text(threat.get("threatStatus"))
    line = " ".join(p for p in parts if p)
    return f"{line} ({status})" if status else line


def campaign_entities(
    campaign: Mapping[str, Any], options: Options, skip: Container[str]
) -> Iterator[tuple[str, Row]]:
    """A campaign with its actors, malware, techniques and member threats, all related to it."""
    campaign_id = text(campaign.get("id"))
    if campaign_id is None:
        return
    out = Rows(options, skip)
    end = e.campaign_ref(campaign_id)
    out.add(
        e.CAMPAIGNS,
        {
            "id": end.id,
            "value": text(campaign.get("name")) or f"Proofpoint campaign {campaign_id}",
            "description": text(campaign.get("description")),
            "campaign_id": campaign_id,
            "started_at": text(campaign.get("startDate")),
            "source": options.source,
        },
    )
    out.attribute(end, "Campaign ID", campaign_id)
    out.attribute(end, "Start Date", campaign.get("startDate"))
    for name in _names(campaign.get("brands")):
        out.attribute(end, "Brand", name)
    for name in _names(campaign.get("families")):
        out.attribute(end, "Family", name)
    related = _actors_malware_techniques(out, campaign)
    for member in _list(campaign.get("campaignMembers")):
        if not isinstance(member, dict):
            continue
        kind = THREAT_TYPES.get(str(member.get("type")).lower())
        if kind:
            related.append(
                out.indicator(
                    kind,
                    member.get("threat"),
                    options.url_status,
                    text(member.get("threatTime")),
                    {
                        "Threat Status": member.get("threatStatus"),
                        "Threat ID": member.get("id"),
                        "Campaign ID": campaign_id,
                    },
                )
            )
    for other in related:
        out.link(end, other)
    yield from out


def threat_entities(
    threat: Mapping[str, Any], options: Options, skip: Container[str]
) -> Iterator[tuple[str, Row]]:
    """A threat summary: attributes on its indicator (url and attachment threats), related
    to its actors, malware and techniques."""
    out = Rows(options, skip)
    kind = THREAT_TYPES.get(str(threat.get("type")).lower())
    end = (
        End("indicator", None)
        if kind is None
        else out.indicator(
            kind,
            threat.get("name"),
            options.url_status,
            text(threat.get("identifiedAt")),
            {
                "Severity": threat.get("severityScore"),
                "Attack Spread": threat.get("attackSpread"),
                "Threat Category": threat.get("category"),
                "Detection Type": threat.get("detectionType"),
            },
        )
    )
    for other in _actors_malware_techniques(out, threat):  # an actor of a message-text
        out.link(end, other)  # threat (impostor) too, though it has no indicator to link to
    yield from out


def forensic_entities(
    item: Mapping[str, Any], options: Options, skip: Container[str]
) -> Iterator[tuple[str, Row]]:
    """Forensic evidence (``options.forensics``: malicious only, all or none) as indicators,
    related to the campaign or the threat of its report."""
    malicious = item.get("malicious") is True
    if options.forensics == "none" or (options.forensics == "malicious" and not malicious):
        return
    out = Rows(options, skip)
    status = options.url_status if malicious else options.sender_status
    when = text(item.get("generated"))
    what = item.get("what")
    found = [
        out.indicator(kind, value, status, when)
        for kind, value in _evidence(str(item.get("type")).lower(), what)
    ]
    report = _report_end(out, item)
    for end in found:
        out.link(end, report)
    yield from out


def _evidence(kind: str, what: object) -> Iterable[tuple[str, object]]:
    """The indicators one piece of evidence names (``what`` as the report sent it)."""
    if not isinstance(what, dict):
        return
    if kind == "url":
        yield e.URL, what.get("url")
    elif kind == "dns":
        yield e.FQDN, what.get("host")
        for ip in _list(what.get("ips")):
            yield e.IP_ADDRESS, ip
    elif kind == "network":
        yield e.IP_ADDRESS, what.get("ip")
    elif kind in ("attachment", "file"):
        yield e.MD5, what.get("md5")
        yield e.SHA256, what.get("sha256")


def _report_end(out: Rows, item: Mapping[str, Any]) -> End:
    """The campaign of a campaign report, or the threat's indicator of a threat report."""
    scope, report_id = str(item.get("scope")).lower(), text(item.get("reportId"))
    if scope == "campaign" and report_id:
        return e.campaign_ref(report_id)
    name = text(item.get("reportName"))
    if scope != "threat" or not name:
        return End("indicator", None)
    kind = e.URL if "://" in name else e.SHA256 if _SHA256.fullmatch(name) else None
    if kind is None:
        return End("indicator", None)
    return out.indicator(kind, name, out.options.url_status, None)


def _actors_malware_techniques(out: Rows, source: Mapping[str, Any]) -> list[End]:
    ends = [out.named(e.ADVERSARIES, "adversary", n) for n in _names(source.get("actors"))]
    ends += [out.named(e.MALWARE, "malware", n) for n in _names(source.get("malware"))]
    ends += [out.named(e.TTPS, "ttp", n) for n in _names(source.get("techniques"))]
    return ends


def _names(raw: object) -> list[object]:
    return [x.get("name") for x in _list(raw) if isinstance(x, dict)]


def _list(raw: object) -> list[Any]:
    return raw if isinstance(raw, list) else []
