"""The --config, --state and --catalog files checked before the SDK reads them, so that a
broken one gets one line that says what to fix, not a traceback."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import IO, Any

from tap_proofpoint_tap.errors import InputError


def checked_json(source: IO[str] | Path, option: str) -> IO[str]:
    """The --config/--state/--catalog file again, once it is known to hold a JSON object."""
    name = str(source) if isinstance(source, Path) else getattr(source, "name", option)
    try:
        text = source.read_text() if isinstance(source, Path) else source.read()
    except OSError as error:
        raise InputError(f"The --{option} file {name} cannot be read: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise InputError(
            f"The --{option} file {name} is not text (not UTF-8): give a JSON file."
        ) from None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise InputError(
            f"The --{option} file {name} is not valid JSON ({error}): fix or replace it."
        ) from None
    if not isinstance(value, dict):
        raise InputError(f"The --{option} file {name} does not hold a JSON object.")
    return io.StringIO(text)


def check_catalog(catalog: dict[str, Any], names: frozenset[str]) -> None:
    """Refuse a catalog that selects a stream this tap does not have (a typo reads nothing)."""
    entries = catalog.get("streams")
    if not isinstance(entries, list):
        raise InputError("The --catalog file has no 'streams' list: use the output of --discover.")
    selected = (
        entry.get("tap_stream_id") or entry.get("stream")
        for entry in entries
        if isinstance(entry, dict) and _selected(entry)
    )
    unknown = sorted(str(name) for name in selected if name not in names)
    if unknown:
        raise InputError(
            f"The --catalog file selects {', '.join(unknown)[:100]}, which this "
            f"tap does not have; its streams are {', '.join(sorted(names))}."
        )


def _selected(entry: dict[str, Any]) -> bool:
    root = [
        m.get("metadata", {})
        for m in entry.get("metadata") or []
        if isinstance(m, dict) and m.get("breadcrumb") == []
    ]
    return bool(entry.get("selected") or (root and root[0].get("selected")))
