"""Each OCSF stream's JSON schema, generated from its class in the OCSF schema: every attribute
of the class and of its profiles, objects described three levels down (the
deepest the events go: ``email.files[].hashes[]``), deeper ones any object. A record carries
every attribute of its stream's schema, in its order (null when the event has none), as the
tap's records do: a target that takes its columns from the first record misses none."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.mappers.ocsf.schema import ocsf_schema
from tap_proofpoint_tap.mappers.ocsf.vocabulary import Slot, slots

if TYPE_CHECKING:
    from tap_proofpoint_tap.mappers.ocsf.vocabulary import Class

DEPTH = 3
DRAFT = "https://json-schema.org/draft/2020-12/schema"  # the tap's schemas' draft
BASE_TYPES = {
    "string_t": {"type": ["string", "null"]},
    "integer_t": {"type": ["integer", "null"]},
    "long_t": {"type": ["integer", "null"]},
    "float_t": {"type": ["number", "null"]},
    "boolean_t": {"type": ["boolean", "null"]},
    "json_t": {},
}
"""The JSON schema of each base type of OCSF's dictionary (the others derive from these)."""


def as_record(kind: Class, event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with every attribute of its stream, in the schema's order."""
    return dict.fromkeys(stream_schema(kind)["properties"]) | event


@functools.cache
def stream_schema(kind: Class) -> dict[str, Any]:
    """The SCHEMA of ``kind``'s stream."""
    properties = {name: json_schema(slot, DEPTH) for name, slot in slots(*kind.scope).items()}
    return {"$schema": DRAFT, "type": "object", "properties": properties}


def json_schema(slot: Slot, depth: int, path: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON schema of one attribute: objects described ``depth`` levels down (and never
    inside themselves; OCSF's generic ``object`` never), deeper ones any object."""
    item: dict[str, Any]
    if slot.children is not None:
        item = {"type": ["object", "null"]}
        if depth > 0 and slot.children not in (*path, "object"):
            inner = slots("objects", slot.children).items()
            path = (*path, slot.children)
            item["properties"] = {k: json_schema(s, depth - 1, path) for k, s in inner}
    else:
        types = ocsf_schema()["dictionary"]["types"]["attributes"]
        base = types.get(slot.type, {}).get("type", slot.type)
        item = dict(BASE_TYPES.get(base, BASE_TYPES.get(slot.type, {})))
    if slot.is_array:
        return {"type": ["array", "null"], "items": item}
    return item
