"""Seeded synthetic SIEM events, shaped like the payloads captured from real tenants.

Events are generated per (stream, creation hour): the events of an hour depend only on the
seed, the stream, that hour and the anchor (``Settings.origin`` and ``span``, on which every
threat's identification time and status timeline hang: see ``timeline``), so two sandboxes
with the same anchor serve the same events for the hours they share.

An event's creation time is the later of its click or message time and its threat time(s):
an hour's events are those created in it. A usual event is on threats already identified when
it happens (``threatTime`` = ``I_n`` <= the click or message time); a retroactive one
(``retroactive_fraction``) is on a threat identified in that hour, clicked or delivered 1 to
6 hours before (its creation time is ``I_n``). Each threat carries its status at the event's
creation time.
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
    THREAT_TYPES,
    TYPE_WEIGHTS,
    pooled_threat,
    random_hex,
    random_ip,
    random_uuid,
)
from tap_proofpoint_tap.sandboxes.siem.timeline import (
    pick_identified_in,
    pick_known,
    status_at,
    threat_index,
    threat_time,
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

HOUR = timedelta(hours=1)
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
    # The anchor of the threats' identification times and status timelines (``timeline``): the
    # first hour of the traffic served and its span. The Sandbox sets both from its clock and
    # history; generating events needs them.
    origin: datetime | None = None
    span: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if self.threat_spelling not in THREAT_SPELLINGS:
            raise ValueError(
                f"threat_spelling {self.threat_spelling!r}: one of {', '.join(THREAT_SPELLINGS)}"
            )

    def anchored(self, origin: datetime, span: timedelta) -> Settings:
        """These settings anchored on traffic from ``origin`` (floored to the hour, UTC) over
        ``span``."""
        hour = origin.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
        return replace(self, origin=hour, span=span)

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
    for _ in range(count):  # each draw makes one event or more, none before any threat is known
        if len(out) >= count:
            break
        drawn = hour + timedelta(milliseconds=rng.randrange(3_600_000))
        created, events = make(rng, settings, stream, drawn, hour)
        for event in events:
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


_RETRO_MINUTES = (60, 6 * 60)  # a retroactive event's click or message, before I_n


def _click(
    rng: random.Random, settings: Settings, stream: str, drawn: datetime, hour: datetime
) -> tuple[datetime, list[dict[str, Any]]]:
    """A click at ``drawn`` on a threat identified by then or, retroactively, one on a threat
    identified in ``hour``, clicked 1 to 6 hours before; with its creation time."""
    retro = rng.random() < settings.retroactive_fraction
    n = pick_identified_in(rng, settings, hour, hour + HOUR, urls=True) if retro else None
    if n is not None:
        created = threat_time(settings, n)
        click_time = created - timedelta(minutes=rng.randrange(*_RETRO_MINUTES))
    else:
        n = pick_known(rng, settings, drawn, urls=True)
        if n is None:
            return drawn, []
        created = click_time = drawn
    threat = pooled_threat(settings.seed, n)
    event = {
        "id": random_uuid(rng),
        "GUID": _guid(rng),
        "url": threat["url"],
        "classification": threat["classification"],
        "clickTime": format_ms(click_time),
        "threatTime": format_ms(threat_time(settings, n)),
        "threatStatus": status_at(settings, n, created),
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
    created = _link_to_delivery(event, settings, click_time, created, hour)
    if event["campaignId"] is None and rng.random() < _ABSENT_CAMPAIGN_KEY_SHARE:
        del event["campaignId"]  # seen: the key is sometimes absent rather than null
    if settings.documented_shapes:
        event["classification"] = event["classification"].upper()
    return created, [event]


def _link_to_delivery(
    event: dict[str, Any],
    settings: Settings,
    click_time: datetime,
    created: datetime,
    hour: datetime,
) -> datetime:
    """Make the click one on a URL of a message delivered up to 6 hours before it; return its
    creation time.

    Its own generator (seeded by the click's id) picks the message, so the other fields and
    the other events stay as they were without links. The click takes the delivery's threat,
    so only threats that keep it what it was qualify: identified by the click for a usual
    click; for a retroactive one, after the click and within ``hour``.
    """
    pick = random.Random(event["id"])
    if pick.random() >= settings.delivered_click_fraction:
        return created
    retro = click_time < created
    start = click_time.replace(minute=0, second=0, microsecond=0) - timedelta(
        hours=pick.randrange(0, 6)
    )

    def keeps(identified: datetime) -> bool:
        if retro:
            return click_time < identified and hour <= identified < hour + HOUR
        return identified <= click_time

    candidates = [
        (m, info)
        for m in _delivered_hour(settings, start)
        if parse_ms(m["messageTime"]) < click_time
        for info in m["threatsInfoMap"]
        if info["threatType"] == "url" and keeps(parse_ms(info["threatTime"]))
    ]
    if not candidates:
        return created
    message, info = pick.choice(candidates)
    domain = info["threat"].split("/")[2]
    created = max(click_time, parse_ms(info["threatTime"]))
    n = threat_index(settings.seed)[info["threatID"]]
    event.update(
        {
            "GUID": message["GUID"],
            "recipient": message["recipient"][0],
            "url": info["threat"],
            "classification": info["classification"],
            "threatTime": info["threatTime"],
            "threatStatus": status_at(settings, n, created),
            "threatID": info["threatID"],
            "threatURL": info["threatUrl"],
            "campaignId": info["campaignID"],
            "sender": message["sender"],
            "senderIP": message["senderIP"],
            "messageID": message["messageID"] or f"<{random_hex(pick, 24)}@{domain}>",
        }
    )
    return created


@functools.lru_cache(maxsize=256)
def _delivered_hour(settings: Settings, hour: datetime) -> list[dict[str, Any]]:
    """The delivered messages created in ``hour``, in the shape of the current API."""
    undocumented = replace(settings, documented_shapes=False)
    return [g.event for g in generate_hour(undocumented, "messages_delivered", hour)]


def _message(
    rng: random.Random, settings: Settings, stream: str, drawn: datetime, hour: datetime
) -> tuple[datetime, list[dict[str, Any]]]:
    """A message at ``drawn`` on threats identified by then or, retroactively, one whose first
    threat was identified in ``hour``, 1 to 6 hours after the message; one event per
    recipient, with their creation time."""
    blocked = stream == "messages_blocked"
    size = rng.choice((1, 1, 1, 2))
    retro = rng.random() < settings.retroactive_fraction
    first = pick_identified_in(rng, settings, hour, hour + HOUR, urls=False) if retro else None
    if first is not None:
        created = threat_time(settings, first)
        message_time = created - timedelta(minutes=rng.randrange(*_RETRO_MINUTES))
        picked = [first, *(pick_known(rng, settings, created, urls=False) for _ in range(size - 1))]
    else:
        created = message_time = drawn
        picked = [pick_known(rng, settings, drawn, urls=False) for _ in range(size)]
    ns = [n for n in picked if n is not None]
    if not ns:
        return drawn, []
    threats = [pooled_threat(settings.seed, n) for n in ns]
    infos = []
    for n, threat in zip(ns, threats, strict=True):
        rng.choices(THREAT_TYPES, TYPE_WEIGHTS)  # the former per-entry type's draw, kept
        infos.append(
            {
                "threatID": threat["threatID"],
                "threatStatus": status_at(settings, n, created),
                "classification": threat["classification"],
                "threatUrl": f"https://threatinsight.proofpoint.com/{TENANT}/threat/email/"
                f"{threat['threatID']}",
                "threatTime": format_ms(threat_time(settings, n)),
                "threat": threat["threat"],
                "campaignID": threat["campaignId"],
                "threatType": threat["type"],
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
    return created, events


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
