"""Strict OCSF validation with pydantic-ocsf's models, and the mapper's CLI run on the tap's output.

pydantic-ocsf's models accept unknown attributes (``extra="allow"``) and leave out the profiles'
attributes (its schema file names the profiles but not what they add). So :func:`strict_errors`
validates the event with the class's model after taking out the security-control attributes,
validates each of those with the model (or enumeration, or type) of its dictionary entry, and
then walks every validated model: an attribute the model does not know is an error anywhere but
under ``unmapped``.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic
from ocsf.v1_7_0 import events as ocsf_events
from ocsf.v1_7_0 import objects as ocsf_objects

from tap_proofpoint_tap.mappers.ocsf.schema import PROFILES, ocsf_schema

OCSF_MAPPER = str(Path(sys.executable).parent / "mapper-proofpoint-ocsf")
MODELS = {
    4009: ocsf_events.EmailActivity,
    6001: ocsf_events.WebResourcesActivity,
    2004: ocsf_events.DetectionFinding,
}
SCALARS = {"string_t": str, "integer_t": int, "long_t": int, "float_t": (int, float)}


def strict_errors(event: dict[str, Any]) -> list[str]:
    """What makes ``event`` not a valid OCSF 1.7.0 event of its class; empty when it is one."""
    event = copy.deepcopy(event)  # the models' validators fill in captions in place
    model = MODELS.get(event.get("class_uid"))
    if model is None:
        return [f"class_uid {event.get('class_uid')!r} is not one the mapper writes"]
    known = {f.alias or name for name, f in model.model_fields.items()}
    profiles = event.get("metadata", {}).get("profiles") or []
    added = {a for p in profiles for a in PROFILES[p]} - known
    errors = [f"profile {p!r} unknown" for p in profiles if p not in PROFILES]
    core = {k: v for k, v in event.items() if k not in added}
    try:
        validated = model.model_validate(core)
    except pydantic.ValidationError as error:
        return [*errors, *(f"{e['loc']}: {e['msg']}" for e in error.errors())]
    errors += _extras(validated, "")
    for name in sorted(added & event.keys()):
        if event[name] is not None:  # null: absent, as for the class's own attributes
            errors += _profile_errors(name, event[name])
    return errors


def _extras(model: pydantic.BaseModel, path: str) -> list[str]:
    """Attributes no model knows, at any depth (``unmapped`` holds what OCSF has no place for)."""
    found = [f"{path}{key}: not an OCSF attribute" for key in model.model_extra or {}]
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        if key == "unmapped":
            continue
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, pydantic.BaseModel):
                found += _extras(item, f"{path}{key}.")
    return found


def _profile_errors(name: str, value: Any) -> list[str]:
    spec = ocsf_schema()["dictionary"]["attributes"][name]
    kind = spec.get("object_type", spec.get("type"))
    values = value if spec.get("is_array") else [value]
    if spec.get("is_array") and not isinstance(value, list):
        return [f"{name}: not an array"]
    errors = []
    for item in values:
        if kind in ocsf_schema()["objects"]:
            model = getattr(ocsf_objects, "".join(p.title() for p in kind.split("_")))
            try:
                errors += _extras(model.model_validate(item), f"{name}.")
            except pydantic.ValidationError as error:
                errors += [f"{name}{e['loc']}: {e['msg']}" for e in error.errors()]
        elif "enum" in spec and str(item) not in spec["enum"]:
            errors.append(f"{name}: {item!r} is not in its enumeration")
        elif kind == "boolean_t" and not isinstance(item, bool):
            errors.append(f"{name}: {item!r} is not a boolean")
        elif kind in SCALARS and (isinstance(item, bool) or not isinstance(item, SCALARS[kind])):
            errors.append(f"{name}: {item!r} is not a {kind}")
    return errors


def run_ocsf(
    messages: list[dict],
    config: dict | None = None,
    tmp_path: Path | None = None,
    hash_seed: int | None = None,
):
    """``mapper-proofpoint-ocsf`` (its console script) on the tap's messages: (messages, stderr);
    ``hash_seed`` fixes the process's string hashing (two seeds: an order that came from a set
    would differ)."""
    argv = [OCSF_MAPPER]
    if config is not None:
        assert tmp_path is not None
        path = tmp_path / "ocsf.json"
        path.write_text(json.dumps(config))
        argv += ["--config", str(path)]
    proc = subprocess.run(
        argv,
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=None if hash_seed is None else {**os.environ, "PYTHONHASHSEED": str(hash_seed)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line], proc.stderr
