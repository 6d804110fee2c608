"""Each OCSF stream's JSON schema, generated from its class in the OCSF schema: every attribute
of the class and of the security-control profile, objects described three levels down (the
deepest the events go: ``email.files[].hashes[]``), deeper ones any object."""

from __future__ import annotations

import functools
from typing import Any

from tap_proofpoint_tap.mappers.ocsf.schema import attributes, json_schema
from tap_proofpoint_tap.mappers.ocsf.vocabulary import PROFILES, Class

DEPTH = 3


@functools.cache
def stream_schema(kind: Class) -> dict[str, Any]:
    """The SCHEMA of ``kind``'s stream."""
    properties = {
        name: json_schema(spec, DEPTH)
        for name, spec in attributes("events", kind.name_in_ocsf, tuple(PROFILES)).items()
    }
    return {"type": "object", "properties": properties}
