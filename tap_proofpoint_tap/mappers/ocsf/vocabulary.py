"""OCSF's names for what the mapping says: the three classes, their headers and metadata, the
enumerations it uses, which attribute paths are observables, the captions beside enumerated
ids and the formats of OCSF's types (all read from the schema)."""

from __future__ import annotations

import enum
import functools
import ipaddress
import re
from typing import Any, NamedTuple

from tap_proofpoint_tap.mappers.ocsf.schema import (
    OCSF_VERSION,
    attributes,
    event_class,
    ocsf_schema,
)

PRODUCT = {"name": "Proofpoint TAP", "vendor_name": "Proofpoint"}
ALLOWED, DENIED = 1, 2  # action_id; disposition_id Allowed is 1 too
BLOCKED, QUARANTINED = 2, 3  # disposition_id
INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL = 1, 2, 3, 4, 5  # severity_id
SCORE_BANDS = ((900, CRITICAL), (700, HIGH), (400, MEDIUM), (100, LOW), (0, INFORMATIONAL))
"""A threat's severityScore (0 to 1000) → severity_id: the lowest bound it reaches."""
DEPTH_USED = 4  # the deepest an event's objects go (observables' in email.files[].hashes[])
EXTRA_OBSERVABLES = {"unmapped.sender": "email_t", "unmapped.senderIP": "ip_t"}
"""Observables kept under unmapped: a click's message's sender and its IP (and a message's
sender IP when it is no IP, which then is no observable)."""


class Class(enum.Enum):
    """The OCSF classes the mapper writes: ``(stream, class name, profiles)``. Every class
    carries the security-control profile (the outcome); clicks the host profile too, for
    ``actor``: who clicked."""

    EMAIL = ("ocsf_email_activity", "email_activity", ("security_control",))
    WEB = ("ocsf_web_resources_activity", "web_resources_activity", ("security_control", "host"))
    FINDING = ("ocsf_detection_finding", "detection_finding", ("security_control",))

    @property
    def stream(self) -> str:
        return str(self.value[0])

    @property
    def name_in_ocsf(self) -> str:
        return str(self.value[1])

    @property
    def profiles(self) -> tuple[str, ...]:
        return tuple(self.value[2])

    @property
    def attributes(self) -> dict[str, dict[str, Any]]:
        """The class's attributes, its profiles' included."""
        return attributes("events", self.name_in_ocsf, self.profiles)

    @property
    def scope(self) -> Scope:
        return ("events", self.name_in_ocsf, self.profiles)

    @functools.cached_property
    def ids(self) -> tuple[int, int, str, str]:
        return event_class(self.name_in_ocsf)

    def header(self, activity_id: int) -> dict[str, Any]:
        """The class and category attributes, their captions and the event's type."""
        class_uid, category_uid, class_name, category_name = self.ids
        activity = self.attributes["activity_id"]["enum"][str(activity_id)]["caption"]
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
    """The event's metadata: the product, the version, the event's id (the source record's,
    which ``original_event_uid`` also names; with the time of reading for a threat), its time
    as Proofpoint wrote it (``original``: the field that holds it)."""
    uid = record["id"] if read_at is None else f"{record['id']}@{read_at}"
    return {
        "version": OCSF_VERSION,
        "product": PRODUCT,
        "profiles": list(kind.profiles),
        "uid": uid,
        "original_event_uid": record["id"],
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
def slot_at(kind: Class, path: str) -> Slot | None:
    """The :class:`Slot` at ``path`` (``email.files.hashes.value``) of a class; None when the
    path names no OCSF attribute (``unmapped.sender``: :data:`EXTRA_OBSERVABLES`' type)."""
    if path in EXTRA_OBSERVABLES:
        of_type = EXTRA_OBSERVABLES[path]
        return Slot(of_type, None, None, {}, False, False, True, type_observable(of_type))
    slot: Slot | None = None
    found = slots(*kind.scope)
    for name in path.split("."):
        slot = found.get(name)
        if slot is None:
            return None
        found = slots("objects", slot.children) if slot.children else {}
    return slot


def type_observable(kind: str) -> tuple[int, str] | None:
    """The observable ``(type_id, type)`` of an OCSF type (``url_t``: 6, URL String)."""
    entry = ocsf_schema()["dictionary"]["types"]["attributes"].get(kind, {})
    return (entry["observable"], entry["caption"]) if "observable" in entry else None


class Slot(NamedTuple):
    """What the mapping needs to know of one attribute, read once from the schema."""

    type: str
    children: str | None  # the object's name, when it holds one
    sibling: str | None  # the caption beside an enumerated id, when its object has one
    names: dict[str, str]  # an enumerated id's captions by value
    is_array: bool
    required: bool
    checked: bool  # its type has a format (regex, length, range) or is ip_t
    observable: tuple[int, str] | None  # its observable (type_id, type): its own (an object's
    # attribute, as email.subject), its dictionary entry's, else its type's


@functools.cache
def slots(kind: str, name: str, profiles: tuple[str, ...] = ()) -> dict[str, Slot]:
    """The :class:`Slot` of each attribute of an event class (``kind`` "events") or object."""
    specs = attributes(kind, name, profiles)
    objects = ocsf_schema()["objects"]
    found = {}
    for key, spec in specs.items():
        of_type = str(spec.get("type", "string_t"))
        child = str(spec.get("object_type", of_type))
        sibling = spec.get("sibling")
        found[key] = Slot(
            type=of_type,
            children=child if child in objects else None,
            sibling=sibling if sibling in specs else None,
            names={k: v["caption"] for k, v in spec.get("enum", {}).items()},
            is_array=bool(spec.get("is_array")),
            required=spec.get("requirement") == "required",
            checked=of_type == "ip_t" or any(r is not None for r in _rules(of_type)),
            observable=(spec["observable"], spec["caption"])
            if isinstance(spec.get("observable"), int)
            else type_observable(of_type),
        )
    return found


@functools.cache
def required_objects(kind: str, name: str, profiles: tuple[str, ...]) -> tuple[str, ...]:
    """The object attributes a class requires (Email Activity's ``email``): kept, empty, when
    nothing of the record fills them."""
    found = slots(kind, name, profiles).items()
    return tuple(k for k, s in found if s.required and s.children and not s.is_array)


@functools.cache
def reaching(kind: str, name: str, profiles: tuple[str, ...], what: str) -> frozenset[str]:
    """The attributes of a class or object that are, or hold at any depth within the levels
    the events use, an enumerated id with a caption (``what`` "captions"), a value whose type
    has a format ("checks") or an observable ("observables"): the walks visit only these."""
    return frozenset(
        key for key, slot in slots(kind, name, profiles).items() if _reaches(slot, what, DEPTH_USED)
    )


def _reaches(slot: Slot, what: str, depth: int) -> bool:
    own = {
        "captions": bool(slot.names and slot.sibling),
        "checks": slot.checked,
        "observables": slot.observable is not None,
    }
    if own[what]:
        return True
    if slot.children is None or depth == 0:
        return False
    inner = slots("objects", slot.children).values()
    return any(_reaches(s, what, depth - 1) for s in inner)


Scope = tuple[str, str, tuple[str, ...]]
"""A class or object, as :func:`slots` takes it: ("events", class, profiles) or
("objects", object, ())."""


def captions(obj: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """``obj`` with the caption beside each enumerated id it sets, at any depth
    (``severity`` for ``severity_id``, ``classifications`` for ``classification_ids``), as
    OCSF names them: readers need not look the numbers up. ``unmapped`` is left as it is."""
    found = slots(*scope)
    out = dict(obj)
    wanted = reaching(*scope, "captions")
    for key in [k for k in obj if k in wanted]:  # in the event's order: the same every run
        slot, value = found[key], obj[key]
        if slot.names and slot.sibling and slot.sibling not in obj:
            names = [slot.names.get(str(v)) for v in _items(value)]
            if all(names):
                out[slot.sibling] = names if slot.is_array else names[0]
        if slot.children is None:
            continue
        inner: Scope = ("objects", slot.children, ())
        if isinstance(value, dict):
            out[key] = captions(value, inner)
        elif isinstance(value, list):
            out[key] = [captions(v, inner) if isinstance(v, dict) else v for v in value]
    return out


def fits(kind: str, value: Any) -> bool:
    """Whether ``value`` keeps the format of OCSF type ``kind`` (its regex, length, range; an
    IP address as Python reads one, which the regex's unescaped dots do not ensure)."""
    pattern, longest, bounds = _rules(kind)
    if isinstance(value, str):
        if kind == "ip_t" and not _is_ip(value):
            return False
        return (pattern is None or pattern.search(value) is not None) and (
            longest is None or len(value) <= longest
        )
    if isinstance(value, int) and bounds is not None:
        return bounds[0] <= value <= bounds[1]
    return True


@functools.cache
def _rules(kind: str) -> tuple[re.Pattern[str] | None, int | None, tuple[int, int] | None]:
    """The regex, maximum length and range of an OCSF type (None where it has none)."""
    rules = ocsf_schema()["dictionary"]["types"]["attributes"].get(kind, {})
    pattern = re.compile(rules["regex"]) if "regex" in rules else None
    bounds = tuple(rules["range"]) if "range" in rules else None
    return pattern, rules.get("max_len"), bounds


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
