"""OCSF's names for what the mapping says: the three classes, their headers and metadata, the
enumerations it uses and which attribute paths are observables (read from the schema)."""

from __future__ import annotations

import enum
import functools
from typing import Any

from tap_proofpoint_tap.mappers.ocsf.schema import (
    OCSF_VERSION,
    attributes,
    event_class,
    ocsf_schema,
)

PRODUCT = {"name": "Proofpoint TAP", "vendor_name": "Proofpoint"}
PROFILES = ["security_control"]
ALLOWED, DENIED = 1, 2  # action_id; disposition_id Allowed is 1 too
BLOCKED, QUARANTINED = 2, 3  # disposition_id
INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL = 1, 2, 3, 4, 5  # severity_id
SCORE_BANDS = ((900, CRITICAL), (700, HIGH), (400, MEDIUM), (100, LOW), (0, INFORMATIONAL))
"""A threat's severityScore (0 to 1000) → severity_id: the lowest bound it reaches."""
EXTRA_OBSERVABLES = {"unmapped.sender": "email_t", "unmapped.senderIP": "ip_t"}
"""Observables a click keeps under unmapped: the sender of the message clicked, and its IP."""


class Class(enum.Enum):
    """The OCSF classes the mapper writes: ``(stream, class name)``."""

    EMAIL = ("ocsf_email_activity", "email_activity")
    WEB = ("ocsf_web_resources_activity", "web_resources_activity")
    FINDING = ("ocsf_detection_finding", "detection_finding")

    @property
    def stream(self) -> str:
        return self.value[0]

    @property
    def name_in_ocsf(self) -> str:
        return self.value[1]

    @functools.cached_property
    def ids(self) -> tuple[int, int, str, str]:
        return event_class(self.name_in_ocsf)

    def header(self, activity_id: int) -> dict[str, Any]:
        """The class and category attributes, their captions and the event's type."""
        class_uid, category_uid, class_name, category_name = self.ids
        activities = attributes("events", self.name_in_ocsf)["activity_id"]["enum"]
        activity = activities[str(activity_id)]["caption"]
        return {
            "category_uid": category_uid,
            "category_name": category_name,
            "class_uid": class_uid,
            "class_name": class_name,
            "activity_id": activity_id,
            "activity_name": activity,
            "type_uid": class_uid * 100 + activity_id,
            "type_name": f"{class_name}: {activity}",
        }


def metadata(
    record: dict[str, Any],
    stream: str,
    kind: Class,
    *,
    correlation: Any = None,
    tenant: str | None = None,
    read_at: Any = None,
    original: str | None = None,
) -> dict[str, Any]:
    """The event's metadata: the product, the version, the source record's id, its time as
    Proofpoint wrote it (``original``: the field that holds it)."""
    uid = record["id"] if read_at is None else f"{record['id']}@{read_at}"
    return {
        "version": OCSF_VERSION,
        "product": PRODUCT,
        "profiles": PROFILES,
        "uid": uid,
        "correlation_uid": correlation,
        "log_name": stream,
        "tenant_uid": record.get(tenant) if tenant else None,
        "original_time": record.get(original) if original else None,
    }


def severity_of_score(score: Any) -> int:
    """severity_id of a threat's severityScore (:data:`SCORE_BANDS`); Unknown (0) without one."""
    if not isinstance(score, int):
        return 0
    return next((severity for bound, severity in SCORE_BANDS if score >= bound), 0)


@functools.cache
def observable_type(class_name: str, path: str) -> tuple[int, str] | None:
    """OCSF's observable ``(type_id, type)`` of the attribute at ``path``
    (``email.files.hashes.value``) of a class, from its dictionary entry or else its type;
    None when it is not an observable."""
    if path in EXTRA_OBSERVABLES:
        return _type_observable(EXTRA_OBSERVABLES[path])
    spec: dict[str, Any] | None = None
    found = attributes("events", class_name, tuple(PROFILES))
    for name in path.split("."):
        spec = found.get(name)
        if spec is None:
            return None
        kind = str(spec.get("object_type", spec.get("type")))
        found = attributes("objects", kind) if kind in ocsf_schema()["objects"] else {}
    assert spec is not None
    entry = ocsf_schema()["dictionary"]["attributes"].get(path.rsplit(".", 1)[-1], {})
    if isinstance(entry.get("observable"), int):
        return entry["observable"], entry["caption"]
    return _type_observable(spec.get("type", ""))


def _type_observable(kind: str) -> tuple[int, str] | None:
    entry = ocsf_schema()["dictionary"]["types"]["attributes"].get(kind, {})
    return (entry["observable"], entry["caption"]) if "observable" in entry else None


def captions(class_name: str, event: dict[str, Any]) -> dict[str, str]:
    """The caption beside each enumerated ``*_id`` the event sets (``severity`` for
    ``severity_id``), as OCSF names them: readers need not look the numbers up."""
    found = attributes("events", class_name, tuple(PROFILES))
    named = {}
    for key, value in event.items():
        if not key.endswith("_id"):
            continue
        spec = found.get(key, {})
        caption = spec.get("enum", {}).get(str(value), {}).get("caption")
        sibling = spec.get("sibling", key.removesuffix("_id"))
        if caption and sibling in found and sibling not in event:
            named[sibling] = caption
    return named
