"""Each OCSF stream's JSON schema, generated from its class in the OCSF schema: every attribute
of the class and of its profiles, objects described three levels down (the
deepest the events go: ``email.files[].hashes[]``), deeper ones any object. A record carries
every attribute of its stream's schema, in its order (null when the event has none), as the
tap's records do: a target that takes its columns from the first record misses none."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.mappers.ocsf.schema import json_schema

if TYPE_CHECKING:
    from tap_proofpoint_tap.mappers.ocsf.vocabulary import Class

DEPTH = 3
DRAFT = "https://json-schema.org/draft/2020-12/schema"  # the tap's schemas' draft


def as_record(kind: Class, event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with every attribute of its stream, in the schema's order."""
    return dict.fromkeys(stream_schema(kind)["properties"]) | event


@functools.cache
def stream_schema(kind: Class) -> dict[str, Any]:
    """The SCHEMA of ``kind``'s stream."""
    properties = {name: json_schema(spec, DEPTH) for name, spec in kind.attributes.items()}
    return {"$schema": DRAFT, "type": "object", "properties": properties}
