"""Seeded synthetic SIEM events, shaped like the payloads captured from real tenants.

Events are generated per (stream, creation hour): the events of an hour depend only on the
seed, the stream and that hour, so two sandboxes started at different times serve the same
events for the hours they share, and a later sandbox adds only the new hours.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from tap_proofpoint_tap.sandboxes.siem.pool import (
    STATUS_WEIGHTS,
    THREAT_STATUSES,
    THREAT_TYPES,
    THREATS,
    TYPE_WEIGHTS,
    pooled_threat,
    random_hex,
    random_ip,
    random_uuid,
    url_threat,
)
from tap_proofpoint_tap.sandboxes.siem.vocabulary import (
    AGENTS,
    CORP_DOMAINS,
    FIRST,
    LAST,
    MODULES,
    SUBJECTS,
    TENANT,
)

STREAMS = ("clicks_permitted", "clicks_blocked", "messages_delivered", "messages_blocked")
THREAT_SPELLINGS = ("docs", "xsoar")

_ABSENT_CAMPAIGN_KEY_SHARE = 0.5  # clicks without a campaign that lack the key rather than null it
_ACTOR_SHARE = 0.2  # message threats that name an actor
_EXECUTIVE_ROUTE_SHARE = 0.1  # messages routed by the executives policy too
_REWRITTEN_SHARE = 0.8  # messages completely rewritten


@dataclass(frozen=True)
class Settings:
    """What the generator produces: volume per hour per stream, shapes and timing quirks."""

    seed: int = 7
    per_hour: tuple[tuple[str, int], ...] = tuple((s, 20) for s in STREAMS)
    documented_shapes: bool = False
    retroactive_fraction: float = 0.05
    late_fraction: float = 0.05
    max_lag_minutes: int = 20
    sparse_fraction: float = 0.05
    # Clicks on a URL of a message delivered earlier (same GUID, recipient and threat), as in a
    # tenant; the rest stand alone, as when the delivery is older than the data read.
    delivered_click_fraction: float = 0.6
    # Shapes of the corpus (tests/samples) a tenant sends now and then, on every n-th event of
    # each hour and stream (0: never), so every hour that has events has them: a field the
    # schema does not declare (``type``, as Sumo Logic's feed carries it), which a reader keeps
    # aside; and a click whose ``recipient`` is an array of several addresses.
    undeclared_every: int = 10
    several_recipients_every: int = 10
    # The Threat API's field names, both published: "docs" (severityScore, verticallyTargeted,
    # geoTargeted, as OpenCTI reads the docs) or "xsoar" (severity, verticals, geographies, as
    # XSOAR's fixture and Proofpoint's community client have them).
    threat_spelling: str = "docs"

    def __post_init__(self) -> None:
        if self.threat_spelling not in THREAT_SPELLINGS:
            raise ValueError(
                f"threat_spelling {self.threat_spelling!r}: one of {', '.join(THREAT_SPELLINGS)}"
            )

    def rate(self, stream: str) -> int:
        """Mean events per hour of ``stream``."""
        return dict(self.per_hour).get(stream, 0)


@dataclass(frozen=True)
class Generated:
    """One event with the times the server needs: when it was created and became visible."""

    event: dict[str, Any]
    created: datetime
    visible: datetime


def generate_hour(settings: Settings, stream: str, hour: datetime) -> list[Generated]:
    """The events of ``stream`` whose creation time falls in ``[hour, hour + 1h)``."""
    rate = settings.rate(stream)
    if rate <= 0:
        return []
    rng = random.Random(_seed(settings.seed, stream, hour))
    # A working-day curve: busier mid-day, never silent, so volumes look like a tenant's.
    daily = 0.6 + 0.8 * max(0.0, 1 - abs(hour.hour - 13) / 9)
    count = max(0, round(rate * daily * rng.uniform(0.7, 1.3)))
    make = _click if stream.startswith("clicks") else _message
    out: list[Generated] = []
    while len(out) < count:
        created = hour + timedelta(milliseconds=rng.randrange(3_600_000))
        for event in make(rng, settings, stream, created):
            _add_corpus_shapes(event, settings, stream, len(out))
            lag = timedelta(0)
            if rng.random() < settings.late_fraction:
                lag = timedelta(seconds=rng.randrange(60, settings.max_lag_minutes * 60 + 1))
            out.append(Generated(event, created, created + lag))
    return out[:count]


_TYPES = {
    "clicks_permitted": "CLICK_PERMITTED",
    "clicks_blocked": "CLICK_BLOCKED",
    "messages_delivered": "MESSAGE_DELIVERED",
    "messages_blocked": "MESSAGE_BLOCKED",
}


def _add_corpus_shapes(event: dict[str, Any], settings: Settings, stream: str, n: int) -> None:
    """Give the ``n``-th event of an hour the corpus's rarer shapes (see ``Settings``); the
    extra recipients come from the event's own generator, so every other draw stays as it was."""
    if settings.undeclared_every and n % settings.undeclared_every == 0:
        event["type"] = _TYPES[stream]
    every = settings.several_recipients_every
    if stream.startswith("clicks") and every and n % every == every // 2:
        extra = random.Random(f"{event['id']}|recipients")
        event["recipient"] = [event["recipient"], _person(extra), _person(extra)]


def creation_time(event: dict[str, Any]) -> datetime:
    """The later of the click/message time and the threat time(s): the window an event is in."""
    times = [event.get("clickTime") or event.get("messageTime")]
    times.append(event.get("threatTime"))
    times += [t.get("threatTime") for t in event.get("threatsInfoMap") or []]
    return max(parse_ms(t) for t in times if t)


def parse_ms(text: str) -> datetime:
    """Parse the API's event timestamps (``2022-01-01T00:45:55.050Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def format_ms(when: datetime) -> str:
    """Event timestamps as the API writes them: milliseconds and ``Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _seed(seed: int, stream: str, hour: datetime) -> int:
    key = f"{seed}|{stream}|{hour.isoformat()}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def _guid(rng: random.Random) -> str:
    return base64.urlsafe_b64encode(rng.getrandbits(192).to_bytes(24, "big")).decode()


def _person(rng: random.Random) -> str:
    """A corporate mailbox from a bounded pool, so recipients repeat as in a real tenant."""
    return f"{rng.choice(FIRST)}.{rng.choice(LAST)}@{rng.choice(CORP_DOMAINS)}"


def _threat(rng: random.Random, settings: Settings) -> dict[str, Any]:
    """A pooled threat (see ``pool``), so the same threats recur as in a real tenant."""
    return pooled_threat(settings.seed, rng.randrange(THREATS))


def _status(rng: random.Random, threat: dict[str, Any]) -> str:
    """The threat's one status. The draw of the former per-event status is kept, so every
    other field of the event stays as it was."""
    rng.choices(THREAT_STATUSES, STATUS_WEIGHTS)
    return str(threat["status"])


def _click(
    rng: random.Random, settings: Settings, stream: str, created: datetime
) -> list[dict[str, Any]]:
    threat = url_threat(settings.seed, rng.randrange(THREATS))
    if rng.random() < settings.retroactive_fraction:
        # Clicked first, condemned later: the event appears in the window of the threat time.
        click_time = created - timedelta(minutes=rng.randrange(60, 5 * 24 * 60))
        threat_time = created
    else:
        click_time = created
        threat_time = created - timedelta(minutes=rng.randrange(1, 30 * 24 * 60))
    event = {
        "id": random_uuid(rng),
        "GUID": _guid(rng),
        "url": threat["url"],
        "classification": threat["classification"],
        "clickTime": format_ms(click_time),
        "threatTime": format_ms(threat_time),
        "threatStatus": _status(rng, threat),
        "threatID": threat["threatID"],
        "threatURL": f"https://threatinsight.proofpoint.com/{TENANT}/threat/email/"
        f"{threat['threatID']}",
        "campaignId": threat["campaignId"],
        "clickIP": random_ip(rng),
        "userAgent": rng.choice(AGENTS),
        "sender": threat["sender"],
        "recipient": _person(rng),
        "senderIP": threat["senderIP"],
        "messageID": f"<{random_hex(rng, 24)}@{threat['url'].split('/')[2]}>",
    }
    _link_to_delivery(event, settings, click_time)
    if event["campaignId"] is None and rng.random() < _ABSENT_CAMPAIGN_KEY_SHARE:
        del event["campaignId"]  # seen: the key is sometimes absent rather than null
    if settings.documented_shapes:
        event["classification"] = event["classification"].upper()
    return [event]


def _link_to_delivery(event: dict[str, Any], settings: Settings, click_time: datetime) -> None:
    """Make the click one on a URL of a message delivered up to 6 hours before it.

    Its own generator (seeded by the click's id) picks the message, so the other fields and
    the other events stay as they were without links.
    """
    pick = random.Random(event["id"])
    if pick.random() >= settings.delivered_click_fraction:
        return
    hour = click_time.replace(minute=0, second=0, microsecond=0) - timedelta(
        hours=pick.randrange(0, 6)
    )
    candidates = [
        (m, info)
        for m in _delivered_hour(settings, hour)
        if parse_ms(m["messageTime"]) < click_time
        for info in m["threatsInfoMap"]
        if info["threatType"] == "url"
    ]
    if not candidates:
        return
    message, info = pick.choice(candidates)
    domain = info["threat"].split("/")[2]
    event.update(
        {
            "GUID": message["GUID"],
            "recipient": message["recipient"][0],
            "url": info["threat"],
            "classification": info["classification"],
            "threatStatus": info["threatStatus"],
            "threatID": info["threatID"],
            "threatURL": info["threatUrl"],
            "campaignId": info["campaignID"],
            "sender": message["sender"],
            "senderIP": message["senderIP"],
            "messageID": message["messageID"] or f"<{random_hex(pick, 24)}@{domain}>",
        }
    )


@functools.lru_cache(maxsize=256)
def _delivered_hour(settings: Settings, hour: datetime) -> list[dict[str, Any]]:
    """The delivered messages created in ``hour``, in the shape of the current API."""
    undocumented = replace(settings, documented_shapes=False)
    return [g.event for g in generate_hour(undocumented, "messages_delivered", hour)]


def _message(
    rng: random.Random, settings: Settings, stream: str, created: datetime
) -> list[dict[str, Any]]:
    blocked = stream == "messages_blocked"
    threats = [_threat(rng, settings) for _ in range(rng.choice((1, 1, 1, 2)))]
    retro = rng.random() < settings.retroactive_fraction
    message_time = created - timedelta(hours=rng.randrange(2, 96)) if retro else created
    infos = []
    for i, threat in enumerate(threats):
        rng.choices(THREAT_TYPES, TYPE_WEIGHTS)  # the former per-entry type's draw, kept
        kind = threat["type"]
        threat_time = (
            created
            if retro and i == 0
            else message_time - timedelta(minutes=rng.randrange(0, 7 * 24 * 60))
        )
        infos.append(
            {
                "threatID": threat["threatID"],
                "threatStatus": _status(rng, threat),
                "classification": threat["classification"],
                "threatUrl": f"https://threatinsight.proofpoint.com/{TENANT}/threat/email/"
                f"{threat['threatID']}",
                "threatTime": format_ms(threat_time),
                "threat": threat["threat"],
                "campaignID": threat["campaignId"],
                "threatType": kind,
                "detectionType": rng.choice((None, "URL_DEFENSE", "SANDBOX", "PHISH")),
                "actors": [{"id": random_uuid(rng), "name": "TA" + str(rng.randrange(400, 600))}]
                if rng.random() < _ACTOR_SHARE
                else [],
            }
        )
    recipients = sorted({_person(rng) for _ in range(rng.choice((1, 1, 2, 3)))})
    sender = threats[0]["sender"] or f"noreply@{threats[0]['url'].split('/')[2]}"
    guid, qid = _guid(rng), f"{random_hex(rng, 12)}-1"
    parts = [
        {
            "disposition": "inline",
            "sha256": random_hex(rng),
            "md5": random_hex(rng, 32),
            "filename": "text.html",
            "sandboxStatus": None,
            "oContentType": "text/html",
            "contentType": "text/html",
        },
        {
            "disposition": "inline",
            "sha256": random_hex(rng),
            "md5": random_hex(rng, 32),
            "filename": "text.txt",
            "sandboxStatus": None,
            "oContentType": "text/plain",
            "contentType": "text/plain",
        },
    ]
    if any(i["threatType"] == "attachment" for i in infos):
        parts.append(
            {
                "disposition": "attached",
                "sha256": infos[0]["threatID"],
                "md5": random_hex(rng, 32),
                "filename": f"Invoice_{rng.randrange(9999)}.pdf",
                "sandboxStatus": "threat",
                "oContentType": "application/pdf",
                "contentType": "application/pdf",
            }
        )
    base = {
        "spamScore": rng.choice((0, 0, 5, 40, 100)),
        "phishScore": rng.choice((0, 46, 100)),
        "threatsInfoMap": infos,
        "messageTime": format_ms(message_time),
        "impostorScore": 0.0,
        "malwareScore": rng.choice((0, 0, 100)),
        "cluster": "acme_hosted",
        "subject": rng.choice(SUBJECTS).format(n=rng.randrange(1, 99)),
        "quarantineFolder": rng.choice(("Phish", "Malware", "Definite Spam")) if blocked else None,
        "quarantineRule": rng.choice(("phish", "module.sandbox.threat")) if blocked else None,
        "policyRoutes": ["default_inbound"]
        + (["executives"] if rng.random() < _EXECUTIVE_ROUTE_SHARE else []),
        "modulesRun": sorted(rng.sample(MODULES, rng.randrange(3, 8))),
        "messageSize": rng.randrange(2_000, 400_000),
        "headerFrom": f'"{sender.split("@")[0].title()}" <{sender}>',
        "headerReplyTo": None,
        "fromAddress": [sender],
        "ccAddresses": [],
        "replyToAddress": [],
        "toAddresses": recipients,
        "xmailer": rng.choice((None, "Microsoft Outlook 16.0", "PHPMailer 6.1")),
        "messageParts": parts,
        "completelyRewritten": rng.random() < _REWRITTEN_SHARE,
        "QID": qid,
        "GUID": guid,
        "sender": sender,
        "senderIP": threats[0]["senderIP"],
        "messageID": f"<{random_hex(rng, 24)}@{sender.split('@')[1]}>",
    }
    sparse = not blocked and rng.random() < settings.sparse_fraction
    events = []
    for recipient in recipients:
        event = dict(base, id=random_uuid(rng), recipient=[recipient])
        if sparse:
            event.update(
                {
                    k: None
                    for k in (
                        "subject",
                        "quarantineFolder",
                        "quarantineRule",
                        "policyRoutes",
                        "modulesRun",
                        "headerFrom",
                        "headerReplyTo",
                        "fromAddress",
                        "ccAddresses",
                        "replyToAddress",
                        "toAddresses",
                        "xmailer",
                        "messageParts",
                        "QID",
                    )
                },
                messageSize=0,
                sender="",
                messageID="",
            )
        events.append(_documented(event) if settings.documented_shapes else event)
    return events


def _documented(event: dict[str, Any]) -> dict[str, Any]:
    """The older documented shape: string addresses, ``clusterId``, string booleans, no ``id``."""
    doc = {k: v for k, v in event.items() if k not in ("id", "cluster")}
    doc["clusterId"] = event["cluster"]
    doc["recipient"] = event["recipient"][0]
    doc["fromAddress"] = (event["fromAddress"] or [None])[0]
    doc["replyToAddress"] = (event["replyToAddress"] or [None])[0]
    rewritten = event["completelyRewritten"]
    doc["completelyRewritten"] = "na" if rewritten is None else str(rewritten).lower()
    doc["threatsInfoMap"] = [
        {
            **{k: v for k, v in info.items() if k not in ("threatID", "campaignID")},
            "threatId": info["threatID"],
            "campaignId": info["campaignID"],
            "classification": info["classification"].upper(),
            "threatType": info["threatType"].upper(),
        }
        for info in event["threatsInfoMap"]
    ]
    return doc
