"""Seeded lookup tables: indicator types and statuses, event types and ``/api/objects``.

Ids differ between real instances (threatq-api.md §3), so they are shuffled from the seed and
never the 1..n a client might hard-code: a loader must resolve every id by name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

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


class Lookups:
    """The instance's lookup tables; event types can grow through ``POST /api/event/types``.

    ``corporate_email_code``: the custom object's code (its ``name`` in ``/api/objects``);
    ``corporate_email_collection``: its REST collection (default: the code, as for the built-in
    STIX objects); ``corporate_email=False`` leaves the custom object uninstalled.
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        corporate_email: bool = True,
        corporate_email_code: str = "corporate_email",
        corporate_email_collection: str | None = None,
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
        self._event_ids = shuffled_ids("event_types", seed, 10 * len(EVENT_TYPES))
        self.event_types: list[dict[str, Any]] = []
        for name in EVENT_TYPES:
            self.add_event_type(name)
        self.objects = list(STANDARD_OBJECTS)
        if corporate_email:
            self.objects.append(
                ObjectType(
                    corporate_email_code,
                    corporate_email_collection or corporate_email_code,
                    CORPORATE_EMAIL,
                    CORPORATE_EMAIL + "s",
                    custom=True,
                )
            )
        self._object_ids = shuffled_ids("objects", seed, len(self.objects))

    def indicator_type(self, name: str) -> dict[str, Any] | None:
        return _find(self.indicator_types, name)

    def status(self, name: str) -> dict[str, Any] | None:
        return _find(self.statuses, name)

    def event_type(self, name: str) -> dict[str, Any] | None:
        return _find(self.event_types, name)

    def add_event_type(self, name: str) -> dict[str, Any]:
        """The existing type of that name, else a new one (with the next seeded id)."""
        found = self.event_type(name)
        if found is None:
            found = {
                "id": self._event_ids[len(self.event_types)],
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
        return self._object_ids[self.objects.index(otype)]

    def objects_payload(self) -> list[dict[str, Any]]:
        """``GET /api/objects`` items: types and statuses only where the instance has them."""
        out = []
        for object_id, otype in zip(self._object_ids, self.objects, strict=True):
            item: dict[str, Any] = {
                "id": object_id,
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
