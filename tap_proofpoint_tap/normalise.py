"""One shape per column: the documented and observed SIEM payloads normalised to the wire's.

Pure functions from an event dict to a new event dict. They never raise on odd input and never
lose what was sent: shapes seen in real payloads are rewritten to the wire's (a click's
one-address ``recipient`` array, doc-shape strings where the wire has arrays, ``threatId``, case
variants of enumerated values), then :mod:`tap_proofpoint_tap.conform` makes the record match its
schema exactly. A value that cannot keep its column's type becomes null and is reported in
``problems`` so the caller can warn; it and every field the schema does not declare are kept as
sent in the record's ``unknownFields`` object, keyed by path.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.conform import as_json, compile_schema, generic_path
from tap_proofpoint_tap.depth import MAX_DEPTH, bounded

if TYPE_CHECKING:
    from collections.abc import Callable

ID_NAMESPACE = uuid.UUID("6f1c8f5e-2b1e-4a35-9d2b-7c1b3e0c9a41")
UNKNOWN_FIELDS = "unknownFields"
ADDRESS_FIELDS = ("recipient", "toAddresses", "ccAddresses", "fromAddress", "replyToAddress")
STRING_LISTS = ("policyRoutes", "modulesRun")
PART_FIELDS = (
    "contentType",
    "oContentType",
    "disposition",
    "filename",
    "md5",
    "sha256",
    "sandboxStatus",
)
THREAT_RENAMES = {"threatId": "threatID", "campaignId": "campaignID"}
THREAT_FIELDS = (
    "threatID",
    "campaignID",
    "classification",
    "threat",
    "threatStatus",
    "threatTime",
    "threatType",
    "threatUrl",
    "detectionType",
)
THREAT_STATUSES = {s.lower(): s for s in ("active", "cleared", "falsePositive")}
THREAT_TYPES = {s.lower(): s for s in ("url", "attachment", "messageText")}
SCHEMAS = {
    name: json.loads((Path(__file__).parent / "schemas" / f"{name}.json").read_text())
    for name in ("click", "message")
}
_CONFORM = {name: compile_schema(schema) for name, schema in SCHEMAS.items()}
_EMPTY = {name: dict.fromkeys(schema["properties"]) for name, schema in SCHEMAS.items()}


def normalise_click(event: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """A click in the clicks' schema (see :func:`_click`), whatever its depth."""
    return _depth_safe(_click, event, problems)


def normalise_message(event: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """A message in the messages' schema (see :func:`_message`), whatever its depth."""
    return _depth_safe(_message, event, problems)


def _depth_safe(
    normalise: Callable[[dict[str, Any], list[str]], dict[str, Any]],
    event: dict[str, Any],
    problems: list[str],
) -> dict[str, Any]:
    """``normalise(event)``, safe for an event nested deeper than recursion goes: what lies
    below :data:`depth.MAX_DEPTH` levels is kept as JSON text, and named in ``problems``."""
    try:
        record = normalise(event, problems)
    except RecursionError:
        record = normalise(bounded(event), problems)
        problems.append(f"values nested deeper than {MAX_DEPTH} levels kept as JSON text")
        return record
    if record.get(UNKNOWN_FIELDS):
        kept = bounded(record[UNKNOWN_FIELDS])
        if kept is not record[UNKNOWN_FIELDS]:
            record[UNKNOWN_FIELDS] = kept
            problems.append(f"values nested deeper than {MAX_DEPTH} levels kept as JSON text")
    return record


def _click(event: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Case of ``classification``/``threatStatus``; ``recipient`` sent as an array (Rapid7)."""
    out = dict(event)
    kept: dict[str, Any] = {}
    recipient = out.get("recipient")
    if isinstance(recipient, list):
        addresses = [r for r in recipient if r is not None]
        out["recipient"] = addresses[0] if addresses else None
        if len(addresses) > 1:
            kept["recipient"] = as_json(recipient)
            problems.append(
                f"recipient holds {len(addresses)} addresses: recipient keeps the "
                f"first, {UNKNOWN_FIELDS}.recipient all of them"
            )
    out["classification"] = _lower(out.get("classification"))
    out["threatStatus"] = _enum(out.get("threatStatus"), THREAT_STATUSES)
    if isinstance(out.get("messageParts"), list):
        out["messageParts"] = [_part(p) for p in out["messageParts"]]
    return _finish(out, "click", problems, kept)


def _message(event: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Addresses → arrays, ``completelyRewritten`` → boolean, ``clusterId`` → ``cluster``, …"""
    out = dict(event)
    _rename(out, "clusterId", "cluster")
    for key in (*ADDRESS_FIELDS, *STRING_LISTS):
        if isinstance(out.get(key), str):  # the documented shape: one address as text
            out[key] = [out[key]] if out[key] else []
    out.setdefault("completelyRewritten", None)
    if isinstance(out.get("messageParts"), list):
        out["messageParts"] = [_part(p) for p in out["messageParts"]]
    if isinstance(out.get("threatsInfoMap"), list):
        out["threatsInfoMap"] = [_threat(t) for t in out["threatsInfoMap"]]
    return _finish(out, "message", problems, {})


def derived_id(event: dict[str, Any]) -> str:
    """A stable id from the canonical content: keys sorted, arrays sorted, window key left out.

    Proofpoint reorders ``messageParts`` (and other arrays) between calls, so arrays are
    ordered by their canonical JSON before hashing, and kept fields count by their path
    without array positions.
    """
    content = {k: v for k, v in event.items() if k not in ("id", "queryEndTime")}
    if UNKNOWN_FIELDS in content:
        content[UNKNOWN_FIELDS] = [
            [generic_path(path), value] for path, value in (content[UNKNOWN_FIELDS] or {}).items()
        ]
    canonical = json.dumps(
        _canonical(content), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return str(uuid.uuid5(ID_NAMESPACE, canonical))


def _finish(
    event: dict[str, Any], kind: str, problems: list[str], kept: dict[str, Any]
) -> dict[str, Any]:
    record: dict[str, Any] = _CONFORM[kind](event, "", problems, kept)
    if kept:
        record[UNKNOWN_FIELDS] = {**(record.get(UNKNOWN_FIELDS) or {}), **kept}
    if not isinstance(record.get("id"), str) or not record["id"]:
        record["id"] = derived_id(record)
    # Every declared property, in the schema's order, null when not sent: targets that take
    # their columns from a stream's first record (singer-io's target-csv) then put every value
    # in its column. Filled after the id is derived, so derived ids stay as they were.
    out = _EMPTY[kind].copy()  # the schema's keys in order; the record's values over them
    out.update(record)
    return out


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return value


def _rename(event: dict[str, Any], old: str, new: str) -> None:
    """The documented name → the wire's, unless both came with different values (both kept)."""
    if old not in event:
        return
    value = event[old]
    if value is None or event.get(new) is None or event[new] == value:
        del event[old]
        if value is not None:
            event[new] = value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _enum(value: Any, canonical: dict[str, str]) -> Any:
    """A known value in any case → its canonical spelling; anything else as it came."""
    return canonical.get(value.lower(), value) if isinstance(value, str) else value


def _part(part: Any) -> Any:
    """Every documented key present (null when absent), so derived ids stay as they were."""
    if not isinstance(part, dict):
        return part
    return {**dict.fromkeys(PART_FIELDS), **part}


def _threat(info: Any) -> Any:
    if not isinstance(info, dict):
        return info
    out = {**dict.fromkeys(THREAT_FIELDS), "actors": None, **info}
    for old, new in THREAT_RENAMES.items():
        _rename(out, old, new)
    out["classification"] = _lower(out["classification"])
    out["threatType"] = _enum(out["threatType"], THREAT_TYPES)
    out["threatStatus"] = _enum(out["threatStatus"], THREAT_STATUSES)
    if isinstance(out["actors"], list):
        out["actors"] = [_actor(a) for a in out["actors"]]
    return out


def _actor(actor: Any) -> Any:
    """``{"id", "name", "type"}``; an actor sent as a bare name becomes ``{"name": ...}``."""
    if isinstance(actor, str):
        return {"id": None, "name": actor}
    if isinstance(actor, dict):
        return {"id": None, "name": None, **actor}
    return actor
