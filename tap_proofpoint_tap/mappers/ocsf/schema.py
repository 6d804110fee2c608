"""The OCSF schema that pydantic-ocsf ships, read as data: classes, objects and their types.

The stream schemas are generated from it (never written by hand), and the tests validate every
event with pydantic-ocsf's models of the same version, so one file is the reference for both.
The file is read without importing pydantic-ocsf, which would load pydantic for nothing.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
from pathlib import Path
from typing import Any

OCSF_VERSION = "1.7.0"
"""The newest OCSF version pydantic-ocsf 3.0 ships (a test checks it is the newest)."""
SCHEMA_FILE = f"ocsf/schemas/v{OCSF_VERSION.replace('.', '_')}.json"
PROFILES: dict[str, tuple[str, ...]] = {
    # ocsf-schema 1.7.0 profiles/security_control.json and host.json. pydantic-ocsf's file
    # keeps the profiles' names (base_event includes them) but not their attributes: these.
    "host": ("actor", "device"),
    "security_control": (
        "action",
        "action_id",
        "attacks",
        "authorizations",
        "confidence",
        "confidence_id",
        "confidence_score",
        "disposition",
        "disposition_id",
        "firewall_rule",
        "is_alert",
        "malware",
        "malware_scan_info",
        "policy",
        "risk_details",
        "risk_level",
        "risk_level_id",
        "risk_score",
    ),
}


@functools.cache
def ocsf_schema() -> dict[str, Any]:
    """The compiled schema of :data:`OCSF_VERSION`, from pydantic-ocsf's installed files."""
    path = Path(str(importlib.metadata.distribution("pydantic-ocsf").locate_file(SCHEMA_FILE)))
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


@functools.cache
def attributes(kind: str, name: str, profiles: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Every attribute of an event class (``kind`` "events") or object ("objects"): its own,
    those of the classes it extends, and those of ``profiles``, each merged with its
    dictionary entry (type, enum, is_array, deprecation). Cached: read-only for callers."""
    dictionary = ocsf_schema()["dictionary"]["attributes"]
    merged: dict[str, dict[str, Any]] = {}
    for spec in reversed(_chain(kind, name)):
        merged.update((k, v) for k, v in spec["attributes"].items() if not k.startswith("$"))
    for attribute in (a for profile in profiles for a in PROFILES[profile]):
        merged.setdefault(attribute, {})
    return {k: {**dictionary.get(k, {}), **v} for k, v in merged.items()}


def event_class(name: str) -> tuple[int, int, str, str]:
    """``(class_uid, category_uid, class caption, category caption)`` of an event class."""
    schema = ocsf_schema()
    spec = schema["events"][name]
    category_name = next(s["category"] for s in _chain("events", name) if s.get("category"))
    category = schema["categories_meta"]["attributes"][category_name]
    return (
        category["uid"] * 1000 + spec["uid"],
        category["uid"],
        spec["caption"],
        category["caption"],
    )


def _chain(kind: str, name: str) -> list[dict[str, Any]]:
    schema = ocsf_schema()
    chain = []
    spec: dict[str, Any] | None = schema[kind][name]
    while spec is not None:
        chain.append(spec)
        parent = spec.get("extends")
        spec = schema[kind].get(parent) if parent else None
    return chain
