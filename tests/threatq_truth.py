"""What ThreatQ must hold after the tap's records go through mapper-proofpoint-threatq and
target-threatq (issue 26's mapping contract), computed straight from the records, and what
the ThreatQ stand-in holds, in one shape: ``assert held(tq.store) == expected(records)``.

An independent reading of the contract: nothing here comes from the mapper or the target.
Where the contract leaves a choice, this oracle reads it as follows.

1. Clicks: the entities, attributes and links of tests/helpers.py ``expected_entities``
   (the recipient by ``recipient_of``), but values go through the contract's value rules like
   every other value: ``Name <a@b>`` gives ``a@b``, a URL is stripped, and an empty value
   gives no entity, link or attribute (``expected_entities`` links an empty recipient).
2. Attribute values are text, stripped; a missing or blank one gives no attribute. Names are
   kept as the contract spells them; values are case-folded (ThreatQ merges attribute rows
   without case).
3. One event per GUID: the first record of that GUID with a readable ``messageTime`` (else
   ``queryEndTime``, the end of the window that returned it: ThreatQ requires a time)
   (messages_delivered before messages_blocked, records in order) gives its title and time;
   recipients, indicators and links are the union over every record of the GUID. A message
   without GUID or without a readable time gives no event (its indicators stay,
   unlinked). Times are cut to the second, not rounded.
4. The title's subject is cut when longer than 200 characters (code points); the Email
   Subject indicator keeps the whole stripped subject.
5. ``threatType``, member and threat ``type``, evidence ``type``, ``disposition`` and
   ``scope`` are compared exactly as the contract writes them (the tap canonicalises
   ``threatType`` and lower-cases ``scope``). Campaign ids are compared exactly (stripped).
6. A threat record gives its adversaries, malware and TTPs even when its type gives no
   indicator (then they are linked to nothing).
7. ``forensics_indicators`` chooses the forensic records that count: one it leaves out gives
   neither evidence indicators nor the report's threat indicator; ``none`` gives nothing.
8. A ``reportName`` that is a SHA-256 is lower-cased (hashes are); a hash anywhere else is
   taken as sent, lower-cased, without checking its form.
9. Event type names are case-folded (ThreatQ looks them up without case); click ids, GUIDs,
   titles and ``happened_at`` are kept as they are.
10. ``held`` reads attributes of indicators and campaigns only, and by default refuses a
    store that holds duplicates (two events of one GUID, two incidents of one click, two
    pivots of one pair, two attribute rows equal without case), which sets would hide.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tests.helpers import recipient_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from tap_proofpoint_tap.sandboxes.threatq.store import Store

Key = tuple[str, ...]
Record = dict[str, Any]
MESSAGE_STREAMS = ("messages_delivered", "messages_blocked")
FORENSICS_INDICATORS = ("malicious", "all", "none")
TITLE_LIMIT = 200
SHA256 = re.compile(r"[0-9a-fA-F]{64}")
FRACTION = re.compile(r"(\d\d:\d\d:\d\d)\.(\d+)")


def _frozen(value: Iterable[Any]) -> frozenset[Any]:
    return value if isinstance(value, frozenset) else frozenset(value)


@dataclass(frozen=True)
class Truth:
    """ThreatQ's contents by natural key, case-folded where ThreatQ compares without case.

    ``indicators`` are (type, value); ``incidents`` click ids; ``events`` (GUID, type name,
    title, happened_at); ``attributes`` (object key, name, value) of indicators and campaigns;
    ``links`` pairs of object keys: ("corporate_email", address), ("indicator", type, value),
    ("incident", click id), ("event", GUID), ("campaign", value), ("adversary", name),
    ("malware", value), ("ttp", value).
    """

    corporate_emails: frozenset[str] = frozenset()
    indicators: frozenset[tuple[str, str]] = frozenset()
    incidents: frozenset[str] = frozenset()
    events: frozenset[tuple[str, str, str, str]] = frozenset()
    campaigns: frozenset[str] = frozenset()
    adversaries: frozenset[str] = frozenset()
    malware: frozenset[str] = frozenset()
    ttps: frozenset[str] = frozenset()
    attributes: frozenset[tuple[Key, str, str]] = frozenset()
    links: frozenset[frozenset[Key]] = frozenset()

    def __post_init__(self) -> None:
        for field in fields(self):
            object.__setattr__(self, field.name, _frozen(getattr(self, field.name)))

    def counts(self) -> dict[str, int]:
        """Items per field."""
        return {f.name: len(getattr(self, f.name)) for f in fields(self)}

    def diff(self, other: Truth, mine: str = "this", theirs: str = "other", limit: int = 5) -> str:
        """What differs, field by field, with the first ``limit`` items of each side."""
        lines = []
        for field in fields(self):
            a, b = getattr(self, field.name), getattr(other, field.name)
            if a == b:
                continue
            lines.append(f"{field.name} ({len(a)} vs {len(b)}):")
            for label, only in ((mine, a - b), (theirs, b - a)):
                if only:
                    first = sorted(only, key=_sort_key)[:limit]
                    more = f" … and {len(only) - limit} more" if len(only) > limit else ""
                    lines.append(f"  only in {label} ({len(only)}): {first}{more}")
        return "\n".join(lines) or "no difference"


def _sort_key(item: Any) -> str:
    return repr(sorted(item)) if isinstance(item, frozenset) else repr(item)


# -- keys --


def email_key(address: str) -> Key:
    """A Corporate Email's key in ``links`` and ``attributes``."""
    return ("corporate_email", address.casefold())


def indicator_key(kind: str, value: str) -> Key:
    """An indicator's key in ``links`` and ``attributes``."""
    return ("indicator", kind, value.casefold())


class _Builder:
    """Sets that grow into a Truth; every method ignores an empty value or a missing end."""

    def __init__(self) -> None:
        self.sets: dict[str, set[Any]] = {f.name: set() for f in fields(Truth)}

    def email(self, address: str) -> Key | None:
        if not address:
            return None
        self.sets["corporate_emails"].add(address.casefold())
        return email_key(address)

    def indicator(self, kind: str, value: str) -> Key | None:
        if not value:
            return None
        self.sets["indicators"].add((kind, value.casefold()))
        return indicator_key(kind, value)

    def named(self, field: str, code: str, value: str) -> Key | None:
        """A campaign, adversary, malware or TTP."""
        if not value:
            return None
        self.sets[field].add(value.casefold())
        return (code, value.casefold())

    def attribute(self, key: Key | None, name: str, value: Any) -> None:
        text = _text(value)
        if key is not None and text:
            self.sets["attributes"].add((key, name, text.casefold()))

    def link(self, a: Key | None, b: Key | None) -> None:
        if a is not None and b is not None and a != b:
            self.sets["links"].add(frozenset((a, b)))

    def truth(self) -> Truth:
        return Truth(**{name: frozenset(items) for name, items in self.sets.items()})


# -- values, by the contract's rules --


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _address(value: Any) -> str:
    """An e-mail address lower-cased; ``Name <a@b>`` gives ``a@b``."""
    text = _text(value)
    if text.endswith(">") and "<" in text:
        text = text[text.rindex("<") + 1 : -1].strip()
    return text.lower()


def _lower(value: Any) -> str:
    """Hashes and FQDNs."""
    return _text(value).lower()


def _items(value: Any) -> list[Any]:
    """An array's items (a lone string as one), ``None`` items dropped."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if v is not None] if isinstance(value, list) else []


def _names(value: Any) -> list[str]:
    return [_text(item.get("name")) for item in _items(value) if isinstance(item, dict)]


def happened_at(message_time: Any) -> str | None:
    """``messageTime`` as ThreatQ holds it (``YYYY-MM-DD HH:MM:SS``, UTC), None if unreadable."""
    text = _text(message_time)
    if not text:
        return None
    text = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    # Python 3.10's fromisoformat takes 3 or 6 digits of fraction only
    text = FRACTION.sub(lambda m: f"{m[1]}.{m[2][:6].ljust(6, '0')}", text, count=1)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def event_title(subject: Any, guid: str) -> str:
    """The subject stripped (``(no subject)`` when empty, cut to 200 characters) + the GUID."""
    text = _text(subject) or "(no subject)"
    if len(text) > TITLE_LIMIT:
        text = text[: TITLE_LIMIT - 1] + "…"
    return f"{text} [message {guid}]"


# -- expected: straight from the records --


def expected(
    records: Mapping[str, Sequence[Record]],
    *,
    event_type: str = "Spearphish",
    forensics_indicators: str = "malicious",
) -> Truth:
    """What ThreatQ must hold after the tap's ``records`` (stream name → records) are loaded."""
    if forensics_indicators not in FORENSICS_INDICATORS:
        raise ValueError(f"forensics_indicators must be one of {FORENSICS_INDICATORS}")
    out = _Builder()
    campaigns = _campaigns(out, records.get("campaigns", ()))
    events = _events(out, records, event_type)
    for stream in MESSAGE_STREAMS:
        for message in records.get(stream, ()):
            _message(out, message, events, campaigns)
    for click in records.get("clicks_permitted", ()):
        _click(out, click, events, campaigns)
    for threat in records.get("threats", ()):
        _threat(out, threat)
    if forensics_indicators != "none":
        for evidence in records.get("forensics", ()):
            if forensics_indicators == "all" or evidence.get("malicious") is True:
                _forensic(out, evidence, campaigns)
    return out.truth()


def _threat_indicator(out: _Builder, kind: Any, value: Any) -> Key | None:
    if kind == "url":
        return out.indicator("URL", _text(value))
    if kind == "attachment":
        return out.indicator("SHA-256", _lower(value))
    return None


def _campaigns(out: _Builder, records: Iterable[Record]) -> dict[str, set[Key]]:
    """Each campaign and what hangs on it; campaign id → the campaign objects of that id."""
    by_id: dict[str, set[Key]] = defaultdict(set)
    for record in records:
        campaign_id = _text(record.get("id"))
        value = _text(record.get("name")) or (
            f"Proofpoint campaign {campaign_id}" if campaign_id else ""
        )
        campaign = out.named("campaigns", "campaign", value)
        if campaign is None:
            continue
        by_id[campaign_id].add(campaign)
        out.attribute(campaign, "Campaign ID", campaign_id)
        out.attribute(campaign, "Start Date", record.get("startDate"))
        for name in _names(record.get("brands")):
            out.attribute(campaign, "Brand", name)
        for name in _names(record.get("families")):
            out.attribute(campaign, "Family", name)
        _actors_malware_techniques(out, record, campaign)
        for member in _items(record.get("campaignMembers")):
            if not isinstance(member, dict):
                continue
            indicator = _threat_indicator(out, member.get("type"), member.get("threat"))
            out.attribute(indicator, "Threat Status", member.get("threatStatus"))
            out.attribute(indicator, "Threat ID", member.get("id"))
            out.attribute(indicator, "Campaign ID", campaign_id)
            out.link(campaign, indicator)
    return by_id


def _actors_malware_techniques(out: _Builder, record: Record, linked: Key | None) -> None:
    for field, collection, code in (
        ("actors", "adversaries", "adversary"),
        ("malware", "malware", "malware"),
        ("techniques", "ttps", "ttp"),
    ):
        for name in _names(record.get(field)):
            out.link(linked, out.named(collection, code, name))


def _events(
    out: _Builder, records: Mapping[str, Sequence[Record]], event_type: str
) -> dict[str, Key]:
    """One event per GUID, from its first record with a readable time; GUID → event key."""
    events: dict[str, Key] = {}
    for stream in MESSAGE_STREAMS:
        for message in records.get(stream, ()):
            guid = _text(message.get("GUID"))
            when = happened_at(message.get("messageTime")) or happened_at(
                message.get("queryEndTime")
            )
            if guid and when and guid not in events:
                title = event_title(message.get("subject"), guid)
                out.sets["events"].add((guid, event_type.casefold(), title, when))
                events[guid] = ("event", guid)
    return events


def _message(
    out: _Builder, message: Record, events: dict[str, Key], campaigns: dict[str, set[Key]]
) -> None:
    event = events.get(_text(message.get("GUID")))
    for recipient in _items(message.get("recipient")):
        out.link(event, out.email(_address(recipient)))
    senders = [
        message.get("sender"),
        *_items(message.get("fromAddress")),
        *_items(message.get("replyToAddress")),
    ]
    for sender in senders:
        out.link(event, out.indicator("Email Address", _address(sender)))
    out.link(event, out.indicator("IP Address", _text(message.get("senderIP"))))
    out.link(event, out.indicator("Email Subject", _text(message.get("subject"))))
    for part in _items(message.get("messageParts")):
        if not isinstance(part, dict) or part.get("disposition") != "attached":
            continue
        for indicator in (
            out.indicator("MD5", _lower(part.get("md5"))),
            out.indicator("SHA-256", _lower(part.get("sha256"))),
            out.indicator("Filename", _text(part.get("filename"))),
        ):
            out.attribute(indicator, "Content Type", part.get("contentType"))
            out.link(event, indicator)
    for info in _items(message.get("threatsInfoMap")):
        if not isinstance(info, dict):
            continue
        indicator = _threat_indicator(out, info.get("threatType"), info.get("threat"))
        for name, field in (
            ("Classification", "classification"),
            ("Threat Status", "threatStatus"),
            ("Threat ID", "threatID"),
            ("Campaign ID", "campaignID"),
        ):
            out.attribute(indicator, name, info.get(field))
        out.link(event, indicator)
        for campaign in campaigns.get(_text(info.get("campaignID")), ()):
            out.link(event, campaign)


def _click(
    out: _Builder, click: Record, events: dict[str, Key], campaigns: dict[str, set[Key]]
) -> None:
    click_id = _text(click.get("id"))
    incident: Key | None = None
    if click_id:
        out.sets["incidents"].add(click_id)
        incident = ("incident", click_id)
    recipient = out.email(_address(recipient_of(click)))
    url = out.indicator("URL", _text(click.get("url")))
    sender = out.indicator("Email Address", _address(click.get("sender")))
    for a, b in ((incident, recipient), (incident, url), (incident, sender)):
        out.link(a, b)
    out.link(recipient, url)
    out.link(url, sender)
    for name, field in (
        ("Classification", "classification"),
        ("Threat Status", "threatStatus"),
        ("Threat ID", "threatID"),
        ("Threat URL", "threatURL"),
        ("Campaign ID", "campaignId"),
    ):
        out.attribute(url, name, click.get(field))
    out.attribute(sender, "Sender IP", click.get("senderIP"))
    out.attribute(sender, "Classification", click.get("classification"))
    out.link(incident, events.get(_text(click.get("GUID"))))
    for campaign in campaigns.get(_text(click.get("campaignId")), ()):
        out.link(incident, campaign)


def _threat(out: _Builder, threat: Record) -> None:
    indicator = _threat_indicator(out, threat.get("type"), threat.get("name"))
    for name, field in (
        ("Severity", "severityScore"),
        ("Attack Spread", "attackSpread"),
        ("Threat Category", "category"),
        ("Detection Type", "detectionType"),
    ):
        out.attribute(indicator, name, threat.get(field))
    _actors_malware_techniques(out, threat, indicator)


def _forensic(out: _Builder, evidence: Record, campaigns: dict[str, set[Key]]) -> None:
    what = evidence.get("what")
    what = what if isinstance(what, dict) else {}
    kind = evidence.get("type")
    found: list[Key | None] = []
    if kind == "url":
        found.append(out.indicator("URL", _text(what.get("url"))))
    elif kind == "dns":
        found.append(out.indicator("FQDN", _lower(what.get("host"))))
        found += [out.indicator("IP Address", _text(ip)) for ip in _items(what.get("ips"))]
    elif kind == "network":
        found.append(out.indicator("IP Address", _text(what.get("ip"))))
    elif kind in ("attachment", "file"):
        found.append(out.indicator("MD5", _lower(what.get("md5"))))
        found.append(out.indicator("SHA-256", _lower(what.get("sha256"))))
    ends: Iterable[Key | None] = ()
    if evidence.get("scope") == "threat":
        report = _text(evidence.get("reportName"))
        if "://" in report:
            ends = [out.indicator("URL", report)]
        elif SHA256.fullmatch(report):
            ends = [out.indicator("SHA-256", report.lower())]
    elif evidence.get("scope") == "campaign":
        ends = campaigns.get(_text(evidence.get("reportId")), ())
    for end in ends:
        for indicator in found:
            out.link(indicator, end)


# -- held: what the ThreatQ stand-in's store holds --


def _suffix(text: str, opening: str) -> str | None:
    """What ends ``text`` between ``opening`` and the last ``]``, or None."""
    start = text.rfind(opening)
    if start < 0 or not text.endswith("]"):
        return None
    return text[start + len(opening) : -1]


def held(store: Store, *, strict: bool = True) -> Truth:
    """The stand-in's objects, attributes and links by natural key; ``strict`` raises an
    AssertionError naming the duplicates the sets would hide."""
    out = _Builder()
    refs: dict[tuple[str, int], Key] = {}
    duplicates: list[str] = []
    have = store.collections
    email = next(
        (
            o.collection
            for o in store.lookups.objects
            if o.custom and o.display_name == "Corporate Email"
        ),
        "",
    )

    def rows(collection: str) -> list[Record]:
        return store.objects(collection) if collection in have else []

    def attributes(key: Key, row: Record) -> None:
        seen = Counter((a["name"].casefold(), a["value"].casefold()) for a in row["attributes"])
        duplicates.extend(f"attribute {pair} on {key}" for pair, n in seen.items() if n > 1)
        for a in row["attributes"]:
            out.sets["attributes"].add((key, a["name"], a["value"].casefold()))

    for row in rows(email):
        refs[email, row["id"]] = out.email(row["value"]) or email_key("")
    for row in rows("indicators"):
        key = out.indicator(row["type"]["name"], row["value"]) or indicator_key("", "")
        refs["indicators", row["id"]] = key
        attributes(key, row)
    incidents: Counter[str] = Counter()
    for row in rows("incident"):
        click_id = _suffix(row["value"], "[click ")
        click_id = row["value"] if click_id is None else click_id
        incidents[click_id] += 1
        out.sets["incidents"].add(click_id)
        refs["incident", row["id"]] = ("incident", click_id)
    guids: Counter[str] = Counter()
    for row in rows("events"):
        guid = _suffix(row["title"], " [message ") or ""
        guids[guid] += 1
        when = row.get("happened_at") or ""
        out.sets["events"].add((guid, row["type"]["name"].casefold(), row["title"], when))
        refs["events", row["id"]] = ("event", guid)
    for collection, field, code, name in (
        ("campaign", "campaigns", "campaign", "value"),
        ("adversaries", "adversaries", "adversary", "name"),
        ("malware", "malware", "malware", "value"),
        ("ttp", "ttps", "ttp", "value"),
    ):
        for row in rows(collection):
            key = out.named(field, code, row[name]) or (code, "")
            refs[collection, row["id"]] = key
            if collection == "campaign":
                attributes(key, row)
    duplicates += [f"{n} incidents of click {c!r}" for c, n in incidents.items() if n > 1]
    duplicates += [f"{n} events of GUID {g!r}" for g, n in guids.items() if g and n > 1]

    every = (email, "indicators", "incident", "events", "campaign", "adversaries", "malware", "ttp")
    collections = [c for c in every if c in have]
    pivots: Counter[frozenset[tuple[str, int]]] = Counter()
    for i, a in enumerate(collections):
        for b in collections[i:]:
            for x, y in store.links(a, b):
                pivots[frozenset(((a, x), (b, y)))] += 1
                out.sets["links"].add(frozenset((refs[a, x], refs[b, y])))
    duplicates += [
        f"{n} links between {sorted(refs[r] for r in pair)}" for pair, n in pivots.items() if n > 1
    ]
    if strict and duplicates:
        raise AssertionError("ThreatQ holds duplicates: " + "; ".join(duplicates[:10]))
    return out.truth()
