"""Threat summaries, campaigns, forensic reports and people rankings as records.

Pure functions, as :mod:`normalise` is for the SIEM events: both published spellings of a
field land in one column, every declared property is present (null when not sent), a value
that cannot keep its column's type is null and named in ``problems``, and whatever has no
column is kept as sent in ``unknownFields``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tap_proofpoint_tap.conform import compile_schema
from tap_proofpoint_tap.depth import bounded
from tap_proofpoint_tap.normalise import ID_NAMESPACE, UNKNOWN_FIELDS

Record = dict[str, Any]
KINDS = ("threat", "campaign", "forensic", "very_attacked_person", "top_clicker")
SCHEMAS = {
    kind: json.loads((Path(__file__).parent / "schemas" / f"{kind}.json").read_text())
    for kind in KINDS
}
_CONFORM = {kind: compile_schema(schema) for kind, schema in SCHEMAS.items()}
_EMPTY = {kind: dict.fromkeys(schema["properties"]) for kind, schema in SCHEMAS.items()}
THREAT_SPELLINGS = {
    "severity": "severityScore",
    "verticals": "verticallyTargeted",
    "geographies": "geoTargeted",
}
"""XSOAR's fixture and pfptcommunity's client → the documented names (OpenCTI's model)."""
_ASKED = ("id", "queriedBy", "queriedId", "generated", "fetchedAt", "threatStatus")
"""What an evidence's id leaves out: how and when it was asked for, and its threat's status."""
IDENTITY = ("guid", "customerUserId", "emails", "name", "department", "location", "title", "vip")


def threat(summary: dict[str, Any], fetched_at: str, problems: list[str]) -> Record:
    """A ``/v2/threat/summary/{id}`` answer as a ``threats`` record."""
    out = dict(summary)
    for old, new in THREAT_SPELLINGS.items():
        _rename(out, old, new)
    out["fetchedAt"] = fetched_at
    return _finish(out, "threat", problems)


def campaign(
    details: dict[str, Any], fetched_at: str, updated: str | None, problems: list[str]
) -> Record:
    """A ``/v2/campaign/{id}`` answer as a ``campaigns`` record; ``updated`` is the
    ``lastUpdatedAt`` discovery listed (if it did)."""
    out = dict(details)
    members = out.get("campaignMembers")
    if isinstance(members, list):
        out["campaignMembers"] = [_member(m) for m in members]
    out["lastUpdatedAt"] = updated
    out["fetchedAt"] = fetched_at
    return _finish(out, "campaign", problems)


def forensics(
    answer: dict[str, Any], asked: tuple[str, str], fetched_at: str, problems: list[str]
) -> list[Record]:
    """A ``/v2/forensics`` answer as ``forensics`` records, one per evidence item;
    ``asked`` is ``("threatId" or "campaignId", the id)``."""
    records = []
    for report in _objects(answer.get("reports"), "reports", problems):
        report_fields = {
            "queriedBy": asked[0],
            "queriedId": asked[1],
            "scope": _lower(report.get("scope")),
            "reportId": report.get("id"),
            "reportName": report.get("name"),
            "threatStatus": report.get("threatStatus"),
            "generated": answer.get("generated"),
            "fetchedAt": fetched_at,
        }
        for item in _objects(report.get("forensics"), "forensics", problems):
            record = _finish({**item, **report_fields}, "forensic", problems)
            record["id"] = _evidence_id(record)
            records.append(record)
    return records


def people(
    answer: dict[str, Any], kind: str, snapshot: tuple[str, int], problems: list[str]
) -> list[Record]:
    """A ``/v2/people/vap`` (``kind`` very_attacked_person) or ``/v2/people/top-clickers``
    (top_clicker) page as records; ``snapshot`` is ``(snapshotAt, window)``."""
    totals = {
        key: answer.get(key)
        for key in ("totalVapUsers", "averageAttackIndex", "vapAttackIndexThreshold")
        if kind == "very_attacked_person"
    } or {"totalTopClickers": answer.get("totalTopClickers")}
    records = []
    for user in _objects(answer.get("users"), "users", problems):
        out = {
            k: v
            for k, v in user.items()
            if k not in ("identity", "threatStatistics", "clickStatistics")
        }
        identity = user.get("identity")
        stats = user.get(
            "threatStatistics" if kind == "very_attacked_person" else "clickStatistics"
        )
        for part, name in ((identity, "identity"), (stats, "statistics")):
            if isinstance(part, dict):
                out.update(part)
            elif part is not None:
                out[name] = part  # not an object: kept in unknownFields
        out.update(
            snapshotAt=snapshot[0], window=snapshot[1], interval=answer.get("interval"), **totals
        )
        record = _finish(out, kind, problems)
        if not isinstance(record.get("guid"), str) or not record["guid"]:
            record["guid"] = _derived({k: record.get(k) for k in IDENTITY})
        records.append(record)
    return records


def _member(member: Any) -> Any:
    if isinstance(member, dict):
        member = dict(member)
        _rename(member, "name", "threat")  # pfptcommunity's reading of the member's threat
    return member


def _objects(value: Any, key: str, problems: list[str]) -> list[dict[str, Any]]:
    """The objects of an array; what is not one is named in ``problems``."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{key} is not an array")
        return []
    objects = [item for item in value if isinstance(item, dict)]
    if len(objects) != len(value):
        problems.append(f"{len(value) - len(objects)} entries of {key} are not objects")
    return objects


def _finish(value: dict[str, Any], kind: str, problems: list[str]) -> Record:
    kept: dict[str, Any] = {}
    record: Record = _CONFORM[kind](bounded(value), "", problems, kept) or {}
    if kept:
        record[UNKNOWN_FIELDS] = {**(record.get(UNKNOWN_FIELDS) or {}), **kept}
    out = _EMPTY[kind].copy()
    out.update(record)
    return out


def _evidence_id(record: Record) -> str:
    """The evidence's content and its report, not when or how it was asked for."""
    return _derived({k: v for k, v in record.items() if k not in _ASKED})


def _derived(content: dict[str, Any]) -> str:
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return str(uuid.uuid5(ID_NAMESPACE, text))


def _rename(value: dict[str, Any], old: str, new: str) -> None:
    """The other spelling → ours, unless both came with different values (both kept)."""
    if old in value and (value.get(new) is None or value[new] == value[old]):
        moved = value.pop(old)
        if moved is not None or new not in value:
            value[new] = moved


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
