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

import json
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
    Scope,
    captions,
    fits,
    metadata,
    reaching,
    required_objects,
    severity_of_score,
    slot_at,
    slots,
    type_observable,
)

Event = dict[str, Any]
ACTIVE = "active"
HARMFUL = frozenset({"malware", "phish", "impostor"})
MD5, SHA256 = 1, 3  # fingerprint.algorithm_id
REGULAR_FILE = 1
EXTRA_OBSERVED = tuple(path.removeprefix("unmapped.") for path in EXTRA_OBSERVABLES)
THREAT_OBSERVABLES = {"url": "url_t", "attachment": "file_hash_t"}
"""A threat's name is its URL or its attachment's hash: an observable of its finding's title,
of that OCSF type."""
_MAILBOX = re.compile(r'(?:"(?:[^"\\]|\\.)*"|<[^>]*>|\([^)]*\)|[^,;"<(])+')
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
        "to_mailboxes": _mailboxes(record.get("headerTo")),
        "cc": record.get("ccAddresses"),
        "cc_mailboxes": _mailboxes(record.get("headerCC")),
        "reply_to_list": record.get("replyToAddress"),
        "reply_to_mailboxes": _mailboxes(record.get("headerReplyTo")),
        "files": [
            _file(part)
            for part in record.get("messageParts") or []
            if isinstance(part, dict) and part.get("filename")
        ],
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
    kinds = [t.get("classification") for t in threats if t.get("threatStatus") == ACTIVE]
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
        "policy": {"name": record["quarantineRule"], "is_applied": not delivered}
        if record.get("quarantineRule")
        else None,
        "severity_id": _severity(statuses, kinds, allowed=delivered),
        "is_alert": delivered and ACTIVE in statuses,
        "unmapped": fields.unmapped(record, fields.MESSAGE),
    }
    return _finish(event, Class.EMAIL, record, fields.MESSAGE)


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
        "src_endpoint": _endpoint(record.get("clickIP")),
        "actor": {"user": {"email_addr": record.get("recipient")}},
        "action_id": ALLOWED if permitted else DENIED,
        "disposition_id": ALLOWED if permitted else BLOCKED,
        "severity_id": _severity(
            [record.get("threatStatus")], [record.get("classification")], allowed=permitted
        ),
        "is_alert": permitted and record.get("threatStatus") == ACTIVE,
        "unmapped": fields.unmapped(record, fields.CLICK),
    }
    return _finish(event, Class.WEB, record, fields.CLICK)


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
    name, of_type = record.get("name"), THREAT_OBSERVABLES.get(record.get("type") or "")
    titled = [] if not name or of_type is None else [("finding_info.title", of_type, name)]
    return _finish(event, Class.FINDING, record, fields.THREAT, titled)


def _finish(
    event: Event,
    kind: Class,
    record: dict[str, Any],
    mapped: frozenset[str],
    titled: list[tuple[str, str, str]] | None = None,
) -> Event:
    """The event without empty attributes, the values that break their OCSF type taken out
    (the record's fields that held them kept in ``unmapped`` as sent), the captions of its
    enumerated ids, then its observables. ``unmapped`` is kept as the tap wrote it."""
    kept = event.pop("unmapped")
    required = [k for k in required_objects(*kind.scope) if k in event]
    event, refused = _typed(event, kind.scope)
    event = captions(_compact(event), kind.scope)
    for key in required:
        event.setdefault(key, {})
    for key in mapped if refused else ():
        if refused & {_json_key(v) for v in _scalars(record.get(key))}:
            kept[key] = record[key]
    paths = _walk(event, "", kind.scope)
    paths += [(f"unmapped.{k}", kept[k]) for k in EXTRA_OBSERVED if isinstance(kept.get(k), str)]
    found = [
        {"name": path, "type_id": slot.observable[0], "type": slot.observable[1], "value": value}
        for path, value in paths
        if (slot := slot_at(kind, path)) is not None
        and slot.observable is not None
        and fits(slot.type, value)
    ]
    found += [
        {"name": path, "type_id": observable[0], "type": observable[1], "value": value}
        for path, of_type, value in titled or []
        if fits(of_type, value) and (observable := type_observable(of_type)) is not None
    ]
    event["unmapped"] = kept or None
    event["observables"] = found or None  # with their captions (type) already
    return {k: v for k, v in event.items() if v is not None}


def _typed(obj: Event, scope: Scope) -> tuple[Event, set[str]]:
    """``obj`` without the strings and numbers that break their OCSF type's format (a sender
    ``""`` is no ``email_t``, a hash cut with ``...`` no ``file_hash_t``) and the objects that
    lost a required attribute so, and what it took out (as :func:`_json_key`)."""
    found = slots(*scope)
    out = dict(obj)
    refused: set[str] = set()
    wanted = reaching(*scope, "checks")
    for key in [k for k in obj if k in wanted]:  # in the event's order: the same every run
        slot, value = found[key], obj[key]
        inner: Scope = ("objects", slot.children or "", ())
        kept = []
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and slot.children:
                checked, lost = _typed(item, inner)
                refused |= lost
                required = (k for k, s in slots(*inner).items() if s.required)
                if lost and any(checked.get(k) is None for k in required):
                    continue  # a fingerprint without its value: no fingerprint
                kept.append(checked)
            elif isinstance(item, dict) or fits(slot.type, item):
                kept.append(item)
            else:
                refused.add(_json_key(item))
        out[key] = kept if isinstance(value, list) else (kept[0] if kept else None)
    return out, refused


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [s for v in value for s in _scalars(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    return [value]


def _walk(value: Any, path: str, scope: Scope) -> list[tuple[str, str]]:
    """``(path, text)`` of every non-empty string of the event that may be an observable
    (``metadata`` aside); arrays add no step to the path."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        attributes = slots(*scope)
        wanted = reaching(*scope, "observables")
        for key in [k for k in value if k in wanted and k != "metadata"]:
            inner: Scope = ("objects", attributes[key].children or "", ())
            found += _walk(value[key], f"{path}.{key}" if path else key, inner)
    elif isinstance(value, list):
        for item in value:
            found += _walk(item, path, scope)
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
    """An endpoint at ``ip`` (one that is no IP address is taken out by :func:`_typed`)."""
    return {"ip": ip} if ip is not None else None


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


def _mailboxes(text: Any) -> list[str] | None:
    """A header's mailboxes, one per item (split at the commas and semicolons outside quotes,
    angle brackets and comments)."""
    if not isinstance(text, str):
        return None
    return [m.strip() for m in _MAILBOX.findall(text) if m.strip()] or None


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
