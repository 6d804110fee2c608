"""The tap's records as OCSF events: pure functions, one per class (README, "OCSF events").

- a message (``messages_delivered``, ``messages_blocked``) is an Email Activity (4009), Scan;
- a click (``clicks_permitted``, ``clicks_blocked``) is a Web Resources Activity (6001), Read;
- a threat summary (``threats``) is a Detection Finding (2004).

Each event carries the security-control profile: what Proofpoint did (``action_id``,
``disposition_id``) and whether it asks for a person (``is_alert``). ``metadata.uid`` is the
record's id (a threat's id with the time it was read: one event per reading), and a message and
its clicks share the message's GUID in ``metadata.correlation_uid``. What OCSF has no attribute
for is kept under ``unmapped`` with the source's own names (:mod:`.fields` lists the fields
that are not), so no field is lost.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from datetime import date
from typing import Any

from tap_proofpoint_tap.mappers.ocsf import fields
from tap_proofpoint_tap.mappers.ocsf.vocabulary import (
    ALLOWED,
    BLOCKED,
    DENIED,
    EXTRA_OBSERVABLES,
    HIGH,
    INFORMATIONAL,
    LOW,
    MEDIUM,
    QUARANTINED,
    Class,
    captions,
    metadata,
    observable_type,
    severity_of_score,
)

Event = dict[str, Any]
ACTIVE = "active"
HARMFUL = frozenset({"malware", "phish", "impostor"})
MD5, SHA256 = 1, 3  # fingerprint.algorithm_id
REGULAR_FILE = 1
EXTRA_OBSERVED = tuple(path.removeprefix("unmapped.") for path in EXTRA_OBSERVABLES)
REQUIRED_OBJECTS = ("email",)  # kept when empty: Email Activity requires it
OTHER, UPDATE = 99, 2
FINDING_STATUS = {"active": (1, 1), "cleared": (4, 3), "falsePositive": (3, 3)}
"""A threat's status → (finding ``status_id``, ``activity_id``): New and Create while active;
Resolved, or Suppressed for a false positive, and Close after; another status is Other (its
name in ``status``) and Update."""
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?"
    r"(?:([Zz])|([+-])(\d\d):?(\d\d))?"
)


def email_activity(record: dict[str, Any], stream: str) -> Event:
    """A message Proofpoint scanned: delivered (allowed) or blocked (denied)."""
    delivered = stream == "messages_delivered"
    threats = [t for t in record.get("threatsInfoMap") or [] if isinstance(t, dict)]
    email: Event = {
        "message_uid": record.get("messageID"),
        "subject": record.get("subject"),
        "size": record.get("messageSize"),
        "from": _first(record.get("fromAddress")),
        "from_list": record.get("fromAddress"),
        "from_mailbox": record.get("headerFrom"),
        "to": record.get("toAddresses"),
        "to_mailboxes": _listed(record.get("headerTo")),
        "cc": record.get("ccAddresses"),
        "cc_mailboxes": _listed(record.get("headerCC")),
        "reply_to_list": record.get("replyToAddress"),
        "reply_to_mailboxes": _listed(record.get("headerReplyTo")),
        "files": [_file(part) for part in record.get("messageParts") or []],
        "urls": [
            url
            for t in threats
            if t.get("threatType") == "url" and (url := _url(t.get("threat"))) is not None
        ],
    }
    if delivered:
        action, disposition = ALLOWED, ALLOWED
    else:
        action = DENIED
        disposition = QUARANTINED if record.get("quarantineFolder") else BLOCKED
    statuses = [t.get("threatStatus") for t in threats]
    kinds = [t.get("classification") for t in threats]
    event: Event = {
        **Class.EMAIL.header(activity_id=3),
        "time": _time(record.get("messageTime"), record["queryEndTime"]),
        "metadata": metadata(
            record,
            stream,
            Class.EMAIL,
            correlation=record.get("GUID"),
            tenant="cluster",
            original="messageTime",
        ),
        "direction_id": _direction(record.get("policyRoutes")),
        "message_trace_uid": record.get("GUID"),
        "from": record.get("sender"),
        "to": record.get("recipient"),
        "src_endpoint": _endpoint(record.get("senderIP")),
        "email": email,
        "action_id": action,
        "disposition_id": disposition,
        "policy": {"name": record["quarantineRule"], "is_applied": True}
        if record.get("quarantineRule")
        else None,
        "severity_id": _severity(statuses, kinds, allowed=delivered),
        "is_alert": delivered and ACTIVE in statuses,
        "unmapped": fields.unmapped(record, fields.MESSAGE),
    }
    return _finish(event, Class.EMAIL, record, "senderIP")


def web_resources_activity(record: dict[str, Any], stream: str) -> Event:
    """A click on a rewritten URL: permitted (allowed) or blocked (denied)."""
    permitted = stream == "clicks_permitted"
    url = _url(record.get("url"))
    event: Event = {
        **Class.WEB.header(activity_id=2),
        "time": _time(record.get("clickTime"), record["queryEndTime"]),
        "metadata": metadata(
            record, stream, Class.WEB, correlation=record.get("GUID"), original="clickTime"
        ),
        "web_resources": [{"url_string": record.get("url"), "type": "URL"}],
        "http_request": {"url": url, "user_agent": record.get("userAgent")},
        "src_endpoint": {
            **(_endpoint(record.get("clickIP")) or {}),
            "owner": {"email_addr": record.get("recipient")},
        },
        "action_id": ALLOWED if permitted else DENIED,
        "disposition_id": ALLOWED if permitted else BLOCKED,
        "severity_id": _severity(
            [record.get("threatStatus")], [record.get("classification")], allowed=permitted
        ),
        "is_alert": permitted and record.get("threatStatus") == ACTIVE,
        "unmapped": fields.unmapped(record, fields.CLICK),
    }
    return _finish(event, Class.WEB, record, "clickIP")


def detection_finding(record: dict[str, Any], stream: str) -> Event:
    """A threat as Proofpoint's Threat API described it when the tap read it."""
    status_id, activity_id = FINDING_STATUS.get(record.get("status") or "", (OTHER, UPDATE))
    identified = _epoch_ms(record.get("identifiedAt"))
    names = [m.get("name") for m in record.get("malware") or [] if isinstance(m, dict)]
    event: Event = {
        **Class.FINDING.header(activity_id=activity_id),
        "time": _time(record.get("fetchedAt"), record.get("identifiedAt")) or 0,
        "metadata": metadata(record, stream, Class.FINDING, read_at=record.get("fetchedAt")),
        "finding_info": {
            "uid": record["id"],
            "title": record.get("name") or record["id"],
            "types": [t for t in (record.get("category"), record.get("type")) if t],
            "created_time": identified,
            "first_seen_time": identified,
            "analytic": {"name": record["detectionType"], "type_id": OTHER, "type": "Other"}
            if record.get("detectionType")
            else None,
            "data_sources": ["Proofpoint TAP Threat API"],
        },
        "status_id": status_id,
        "status": record.get("status") if status_id == OTHER else None,
        "severity_id": severity_of_score(record.get("severityScore")),
        "risk_score": record.get("severityScore"),
        "is_alert": record.get("status") == ACTIVE,
        "malware": [{"name": n, "classification_ids": [0]} for n in names if n] or None,
        "unmapped": fields.unmapped(record, fields.THREAT),
    }
    return _finish(event, Class.FINDING, record)


def _finish(event: Event, kind: Class, record: dict[str, Any], ip_field: str = "") -> Event:
    """The event without empty attributes (``unmapped`` aside, kept as sent), an IP field that
    holds no IP kept in unmapped, and the observables."""
    kept = event.pop("unmapped")
    if ip_field and record.get(ip_field) is not None and not _ip(record[ip_field]):
        kept[ip_field] = record[ip_field]
    required = [k for k in REQUIRED_OBJECTS if k in event]
    event = _compact(event)
    for key in required:
        event.setdefault(key, {})
    attributes = {k: v for k, v in event.items() if k != "metadata"}
    extra = {k: kept[k] for k in EXTRA_OBSERVED if k in kept}
    name = kind.name_in_ocsf
    found = [
        {"name": path, "type_id": observable[0], "type": observable[1], "value": value}
        for path, value in _walk({**attributes, "unmapped": extra}, "")
        if (observable := observable_type(name, path)) is not None
    ]
    event["unmapped"] = kept or None
    event["observables"] = found or None
    event |= captions(kind.name_in_ocsf, event)
    return {k: v for k, v in event.items() if v is not None}


def _walk(value: Any, path: str) -> list[tuple[str, str]]:
    """``(path, text)`` of every non-empty string in the event; arrays add no step."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            found += _walk(item, path)
    elif isinstance(value, str) and value:
        found.append((path, value))
    return found


def _severity(statuses: list[Any], kinds: list[Any], *, allowed: bool) -> int:
    """Allowed and active: High for malware, phish or impostor, else Medium; stopped but
    active: Low; nothing active (cleared, false positive): Informational."""
    if ACTIVE not in statuses:
        return INFORMATIONAL
    if not allowed:
        return LOW
    return HIGH if HARMFUL & {str(k).lower() for k in kinds} else MEDIUM


def _direction(routes: Any) -> int:
    """Inbound (1) or outbound (2) from PPS's policy routes (``default_inbound``); else 0."""
    names = " ".join(r for r in routes or [] if isinstance(r, str)).lower()
    inbound, outbound = "inbound" in names, "outbound" in names
    return 1 if inbound and not outbound else 2 if outbound and not inbound else 0


def _file(part: Any) -> Event:
    part = part if isinstance(part, dict) else {}
    hashes = [
        {"algorithm_id": algorithm, "value": part[key]}
        for algorithm, key in ((MD5, "md5"), (SHA256, "sha256"))
        if part.get(key)
    ]
    return {
        "name": part.get("filename") or "",
        "type_id": REGULAR_FILE,
        "mime_type": part.get("contentType"),
        "hashes": hashes,
    }


def _url(text: Any) -> Event | None:
    """A URL object: the string as sent, and its parts when it parses."""
    if not isinstance(text, str) or not text:
        return None
    url: Event = {"url_string": text}
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:  # a bad port or bracket: the string alone
        return url
    if parts.scheme and parts.hostname:
        url |= {
            "scheme": parts.scheme,
            "hostname": parts.hostname,
            "port": port,
            "path": parts.path or None,
            "query_string": parts.query or None,
        }
    return url


def _endpoint(ip: Any) -> Event | None:
    return {"ip": ip} if _ip(ip) else None


def _ip(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


def _listed(text: Any) -> list[str] | None:
    return [text] if isinstance(text, str) and text else None


def _time(*texts: Any) -> int | None:
    """The first of ``texts`` that is a time, in epoch milliseconds."""
    return next((ms for ms in map(_epoch_ms, texts) if ms is not None), None)


def _epoch_ms(text: Any) -> int | None:
    """Milliseconds since the epoch of an RFC 3339 time (no offset: UTC); None when not one.
    Counted in integers from the day's ordinal: Python 3.10's fromisoformat refuses fractions
    other than 3 or 6 digits, and datetime arithmetic overflows at the years 1 and 9999."""
    match = _TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    year, month, day, hour, minute = (int(match[i]) for i in range(1, 6))
    second = int(match[6] or 0)
    try:
        days = date(year, month, day).toordinal() - _EPOCH_DAY
    except ValueError:
        return None
    if hour > 23 or minute > 59 or second > 60:  # noqa: PLR2004 - 60: a leap second
        return None
    offset = 0
    if match[9]:
        offset = (int(match[10]) * 60 + int(match[11])) * 60 * (1 if match[9] == "+" else -1)
    seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset
    return seconds * 1_000 + int((match[7] or "0")[:3].ljust(3, "0"))


def _compact(obj: Event) -> Event:
    """``obj`` without None, empty lists and empty objects, at any depth (the events hold no
    list of lists: ``unmapped``, which may, is never compacted)."""
    out: Event = {}
    for key, value in obj.items():
        kept = value
        if isinstance(value, dict):
            kept = _compact(value)
        elif isinstance(value, list):
            kept = [_compact(v) if isinstance(v, dict) else v for v in value]
        if kept is not None and kept not in ([], {}):
            out[key] = kept
    return out
