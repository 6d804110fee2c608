"""What a Singer line must be before a program that reads one (the mapper, the loaders) acts
on it: pure checks, each fault one sentence.

The SDK's reader trusts its input: a line that is not JSON is logged whole, three times (a bad
50 MB line gave 157 MB of stderr), and a RECORD before its SCHEMA, a SCHEMA without
``properties`` or a line that is a JSON list end in tracebacks. Every line the SDK's path reads
is checked here first; the reader names a fault by its line number and a short excerpt.
"""

from __future__ import annotations

from typing import Any

EXCERPT = 60  # characters of a bad line shown in its message
TYPES = "RECORD, SCHEMA, STATE, ACTIVATE_VERSION or BATCH"
# The fields each message type needs, and the JSON type each must have.
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "RECORD": {"stream": (str,), "record": (dict,)},
    "SCHEMA": {"stream": (str,), "schema": (dict,)},
    "STATE": {"value": (object,)},
    "ACTIVATE_VERSION": {"stream": (str,), "version": (int,)},
    "BATCH": {"stream": (str,), "encoding": (dict,), "manifest": (list,)},
}
_JSON_NAMES = {str: "a string", dict: "an object", int: "an integer", list: "a list"}


def excerpt(line: bytes | str) -> str:
    """The start of ``line`` as a Python literal, with its length when it is cut."""
    size = len(line.rstrip(b"\r\n")) if isinstance(line, bytes) else len(line.rstrip("\r\n"))
    start = line[: EXCERPT * 4]  # enough for EXCERPT characters, whatever their encoding
    text = (start.decode("utf-8", "replace") if isinstance(start, bytes) else start).rstrip("\r\n")
    return repr(text) if len(text) <= EXCERPT else f"{text[:EXCERPT]!r}… ({size:,} bytes)"


def fault(message: Any, schemas: set[str]) -> str | None:
    """Why a decoded line is not a Singer message the loader can act on (None when it is).
    ``schemas`` holds the streams whose SCHEMA came before."""
    if not isinstance(message, dict):
        return f"it is JSON {type(message).__name__}, not a Singer message (a JSON object)"
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        return f"its type {kind!r} is not {TYPES}"
    for field, types in _FIELDS[kind].items():
        if field not in message:
            return f"the {kind} has no {field!r}"
        value = message[field]
        if not isinstance(value, types) or (types == (int,) and isinstance(value, bool)):
            return f"the {kind}'s {field!r} is not {_JSON_NAMES[types[0]]}"
    if kind == "RECORD" and message["stream"] not in schemas:
        return (
            f"a RECORD of stream {message['stream']!r} comes before any SCHEMA of it "
            "(a tap sends a stream's SCHEMA first)"
        )
    return schema_fault(message) if kind == "SCHEMA" else None


def schema_fault(message: dict[str, Any]) -> str | None:
    """Why a SCHEMA message cannot make a table (None when it can)."""
    stream, properties = message["stream"], message["schema"].get("properties")
    keys = message.get("key_properties")
    if not stream:
        return "the SCHEMA's stream name is empty"
    if not isinstance(properties, dict):
        return f"the SCHEMA of {stream!r} has no 'properties' object"
    bad = next((name for name, sub in properties.items() if not isinstance(sub, dict)), None)
    problem = (
        f"the SCHEMA of {stream!r} declares a property whose name is empty"
        if "" in properties
        else f"property {bad!r} of the SCHEMA of {stream!r} is not a JSON schema (an object)"
        if bad is not None
        else None
        if keys is None
        else f"the SCHEMA of {stream!r} has 'key_properties' that are not a list of names"
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys)
        else None
    )
    missing = [key for key in keys or () if key not in properties] if problem is None else []
    if missing:
        return f"key property {missing[0]!r} of {stream!r} is not among its SCHEMA's properties"
    return problem
