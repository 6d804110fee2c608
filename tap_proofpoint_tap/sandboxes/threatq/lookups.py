"""Seeded lookup tables: indicator types and statuses, event types and ``/api/objects``.

Ids differ between real instances (threatq-api.md §3), so they are shuffled from the seed and
never the 1..n a client might hard-code: a loader must resolve every id by name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

STAMP = "2024-01-15 09:30:00"
HOST_TYPES = frozenset(
    {
        "Filename",
        "File Path",
        "MD5",
        "Mutex",
        "Registry Key",
        "SHA-1",
        "SHA-256",
        "SHA-384",
        "SHA-512",
        "Service Name",
        "Username",
    }
)
INDICATOR_TYPES = (
    "ASN",
    "CIDR Block",
    "CVE",
    "Email Address",
    "Email Attachment",
    "Email Subject",
    "File Path",
    "Filename",
    "FQDN",
    "Fuzzy Hash",
    "IP Address",
    "IPv6 Address",
    "MAC Address",
    "MD5",
    "Mutex",
    "Registry Key",
    "Service Name",
    "SHA-1",
    "SHA-256",
    "SHA-384",
    "SHA-512",
    "String",
    "URL",
    "URL Path",
    "User-agent",
    "Username",
    "X-Mailer",
)
STATUSES = (
    ("Active", "Poses a threat and is being exported to detection tools."),
    ("Expired", "No longer poses a serious threat."),
    ("Indirect", "Associated to an active indicator or event (i.e. pDNS)."),
    ("Review", "Requires further analysis."),
    ("Whitelisted", "Poses NO risk and should never be deployed."),
)
EVENT_TYPES = (
    "Anonymization",
    "Command and Control",
    "Compromised PKI Certificate",
    "DoS Attack",
    "Exfiltration",
    "Host Characteristics",
    "Incident",
    "Login Compromise",
    "Malware",
    "Sighting",
    "Spearphish",
    "SQL Injection Attack",
    "Watchlist",
    "Watering Hole",
)


@dataclass(frozen=True)
class ObjectType:
    """One entry of ``/api/objects``: its REST collection and the field that names an object."""

    name: str
    collection: str
    display_name: str
    display_name_plural: str
    key: str = "value"
    custom: bool = False


STANDARD_OBJECTS = (
    ObjectType("indicator", "indicators", "Indicator", "Indicators"),
    ObjectType("adversary", "adversaries", "Adversary", "Adversaries", "name"),
    ObjectType("event", "events", "Event", "Events", "title"),
    ObjectType("attachment", "attachments", "Attachment", "Attachments", "title"),
    ObjectType("signature", "signatures", "Signature", "Signatures", "name"),
    ObjectType("task", "tasks", "Task", "Tasks", "name"),
    ObjectType("campaign", "campaign", "Campaign", "Campaigns"),
    ObjectType("course_of_action", "course_of_action", "Course of Action", "Courses of Action"),
    ObjectType("exploit_target", "exploit_target", "Exploit Target", "Exploit Targets"),
    ObjectType("incident", "incident", "Incident", "Incidents"),
    ObjectType("ttp", "ttp", "TTP", "TTPs"),
    ObjectType("attack_pattern", "attack_pattern", "Attack Pattern", "Attack Patterns"),
    ObjectType("identity", "identity", "Identity", "Identities"),
    ObjectType("intrusion_set", "intrusion_set", "Intrusion Set", "Intrusion Sets"),
    ObjectType("malware", "malware", "Malware", "Malware"),
    ObjectType("report", "report", "Report", "Reports"),
    ObjectType("tool", "tool", "Tool", "Tools"),
    ObjectType("vulnerability", "vulnerability", "Vulnerability", "Vulnerabilities"),
)
CORPORATE_EMAIL = "Corporate Email"


def shuffled_ids(table: str, seed: int, count: int) -> list[int]:
    """``count`` distinct ids above ``count``, in an order fixed by ``seed`` and ``table``."""
    rng = random.Random(f"threatq-sandbox:{seed}:{table}")
    return rng.sample(range(count + 1, 11 * count + 1), count)


def _find(rows: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """ThreatQ's MariaDB compares names case-insensitively."""
    wanted = name.casefold()
    return next((row for row in rows if row["name"].casefold() == wanted), None)


def _without(rows: list[dict[str, Any]], names: Iterable[str], table: str) -> list[dict[str, Any]]:
    """``rows`` less the named ones; a name the table lacks is a ValueError (a typo in a test
    would otherwise make a switch that switches nothing)."""
    names = list(names)
    drop = {name.casefold() for name in names}
    have = {row["name"].casefold() for row in rows}
    unknown = [name for name in names if name.casefold() not in have]
    if unknown:
        raise ValueError(f"no {table} named {', '.join(unknown)}")
    return [row for row in rows if row["name"].casefold() not in drop]


class Lookups:
    """The instance's lookup tables; event types can grow through ``POST /api/event/types``.

    ``corporate_email_code``: the custom object's code (its ``name`` in ``/api/objects``);
    ``corporate_email_collection``: its REST collection (default: the code, as for the built-in
    STIX objects); ``corporate_email=False`` leaves the custom object uninstalled.

    ``without_indicator_types``, ``without_statuses``, ``without_event_types`` (names, any
    case) and ``without_objects`` (object codes or collections, e.g. ``"ttp"``,
    ``"adversaries"``) play an instance that lacks them, so that a loader's "one line naming
    what is missing" can be tested. A missing object type is absent from ``/api/objects``, its
    collection answers 404 and it is no relationship key; a missing type or status is absent
    from its table and naming it is a 400. The remaining rows keep the ids they have on a full
    instance of the same seed. ``POST /api/event/types`` can still create a missing event type
    (as on ThreatQ); a missing object type cannot be installed through the API. A name the
    instance does not have is a ValueError.
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        corporate_email: bool = True,
        corporate_email_code: str = "corporate_email",
        corporate_email_collection: str | None = None,
        without_indicator_types: Iterable[str] = (),
        without_statuses: Iterable[str] = (),
        without_event_types: Iterable[str] = (),
        without_objects: Iterable[str] = (),
    ) -> None:
        ids = shuffled_ids("indicator_types", seed, len(INDICATOR_TYPES))
        self.indicator_types = [
            {
                "id": i,
                "name": name,
                "class": "host" if name in HOST_TYPES else "network",
                "score": None,
                "wildcard_matching": "Y" if name in ("FQDN", "URL") else "N",
                "created_at": STAMP,
                "updated_at": STAMP,
            }
            for i, name in zip(ids, INDICATOR_TYPES, strict=True)
        ]
        self.indicator_types = _without(
            self.indicator_types, without_indicator_types, "indicator type"
        )
        ids = shuffled_ids("indicator_statuses", seed, len(STATUSES))
        self.statuses = [
            {
                "id": i,
                "name": name,
                "description": text,
                "user_editable": "N",
                "visible": "Y",
                "include_in_export": "Y" if name == "Active" else "N",
                "protected": "Y",
                "created_at": STAMP,
                "updated_at": STAMP,
            }
            for i, (name, text) in zip(ids, STATUSES, strict=True)
        ]
        self.statuses = _without(self.statuses, without_statuses, "indicator status")
        self._event_ids = shuffled_ids("event_types", seed, 10 * len(EVENT_TYPES))
        self._event_count = 0  # ids handed out, the dropped types' included
        self.event_types: list[dict[str, Any]] = []
        for name in EVENT_TYPES:
            self.add_event_type(name)
        self.event_types = _without(self.event_types, without_event_types, "event type")
        objects = list(STANDARD_OBJECTS)
        if corporate_email:
            objects.append(
                ObjectType(
                    corporate_email_code,
                    corporate_email_collection or corporate_email_code,
                    CORPORATE_EMAIL,
                    CORPORATE_EMAIL + "s",
                    custom=True,
                )
            )
        ids = shuffled_ids("objects", seed, len(objects))
        self._object_ids = {o.name: i for o, i in zip(objects, ids, strict=True)}
        wanted = list(without_objects)
        drop = {name.casefold() for name in wanted}
        have = {o.name.casefold() for o in objects} | {o.collection.casefold() for o in objects}
        unknown = [name for name in wanted if name.casefold() not in have]
        if unknown:
            raise ValueError(f"no object type named {', '.join(unknown)}")
        self.objects = [
            o for o in objects if not {o.name.casefold(), o.collection.casefold()} & drop
        ]

    def indicator_type(self, name: str) -> dict[str, Any] | None:
        return _find(self.indicator_types, name)

    def status(self, name: str) -> dict[str, Any] | None:
        return _find(self.statuses, name)

    def event_type(self, name: str) -> dict[str, Any] | None:
        return _find(self.event_types, name)

    def add_event_type(self, name: str) -> dict[str, Any]:
        """The existing type of that name, else a new one (with the next unused seeded id)."""
        found = self.event_type(name)
        if found is None:
            self._event_count += 1
            found = {
                "id": self._event_ids[self._event_count - 1],
                "name": name,
                "user_editable": "Y",
                "created_at": STAMP,
                "updated_at": STAMP,
            }
            self.event_types.append(found)
        return found

    def object_type(self, collection: str) -> ObjectType | None:
        return next((o for o in self.objects if o.collection == collection), None)

    def object_id(self, otype: ObjectType) -> int:
        return self._object_ids[otype.name]

    def objects_payload(self) -> list[dict[str, Any]]:
        """``GET /api/objects`` items: types and statuses only where the instance has them."""
        out = []
        for otype in self.objects:
            item: dict[str, Any] = {
                "id": self._object_ids[otype.name],
                "name": otype.name,
                "display_name": otype.display_name,
                "display_name_plural": otype.display_name_plural,
                "collection": otype.collection,
                "types": [],
                "statuses": [],
            }
            if otype.collection == "indicators":
                item["types"] = [{"id": t["id"], "name": t["name"]} for t in self.indicator_types]
                item["statuses"] = [{"id": s["id"], "name": s["name"]} for s in self.statuses]
            elif otype.collection == "events":
                item["types"] = [{"id": t["id"], "name": t["name"]} for t in self.event_types]
            if otype.custom:
                item["fields"] = [
                    {"field": "value", "name": "Name", "required": "Yes"},
                    {"field": "description", "name": "Description", "required": "No"},
                ]
            out.append(item)
        return out
