"""The --config, --state and --catalog files, and the state and catalog in them, checked before
the SDK uses them, so that a broken one gets one line that says what to fix, not a traceback."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.errors import InputError, StateError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime


def checked_json(source: IO[str] | Path, option: str) -> IO[str]:
    """The --config/--state/--catalog file again, once it is known to hold a JSON object."""
    name = str(source) if isinstance(source, Path) else getattr(source, "name", option)
    try:
        text = source.read_text() if isinstance(source, Path) else source.read()
    except OSError as error:
        raise InputError(f"The --{option} file {name} cannot be read: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise InputError(
            f"The --{option} file {name} is not UTF-8 text (a binary file?): pass a JSON file."
        ) from None
    try:
        value = json.loads(text, parse_constant=_not_json)
    except ValueError as error:
        raise InputError(
            f"The --{option} file {name} is not valid JSON ({error}): fix or replace it."
        ) from None
    except RecursionError:
        raise InputError(
            f"The --{option} file {name} is nested too deep to be a {option} file."
        ) from None
    if not isinstance(value, dict):
        raise InputError(f"The --{option} file {name} does not hold a JSON object.")
    return io.StringIO(text)


def bad_config(paths: tuple[str, ...]) -> InputError | None:
    """The first --config file (``ENV`` aside) that is not a JSON object, as its error."""
    for path in paths:
        if path != "ENV":
            try:
                checked_json(Path(path), "config")
            except InputError as error:
                return error
    return None


def _not_json(constant: str) -> Any:
    """NaN and Infinity, which Python's parser takes and JSON (and the SDK) does not."""
    raise ValueError(f"{constant} is not JSON")


def check_catalog(
    catalog: dict[str, Any], names: frozenset[str], replication_key: str = "queryEndTime"
) -> None:
    """Refuse a catalog the SDK would trip over, or one that selects a stream this tap does
    not have (a typo reads nothing), naming what to fix."""
    entries = catalog.get("streams")
    if not isinstance(entries, list):
        raise InputError("The --catalog file has no 'streams' list: use the output of --discover.")
    for number, entry in enumerate(entries, 1):
        problem = _entry_problem(entry, replication_key)
        if problem:
            raise InputError(
                f"The --catalog file's stream {number} {problem}: use the output of --discover."
            )
    selected = (
        entry.get("tap_stream_id") or entry.get("stream") for entry in entries if _selected(entry)
    )
    unknown = sorted(str(name) for name in selected if name not in names)
    if unknown:
        raise InputError(
            f"The --catalog file selects {', '.join(unknown)[:100]}, which this "
            f"tap does not have; its streams are {', '.join(sorted(names))}."
        )


def _entry_problem(entry: Any, replication_key: str) -> str | None:
    """What in one catalog entry is not the shape --discover writes, or None."""
    if not isinstance(entry, dict):
        return "is not an object"
    name = entry.get("tap_stream_id") or entry.get("stream")
    if not isinstance(name, str):
        return "has no 'tap_stream_id' text"
    metadata = entry.get("metadata", [])
    if not isinstance(metadata, list) or not all(
        isinstance(m, dict)
        and isinstance(m.get("breadcrumb", []), list)
        and isinstance(m.get("metadata", {}), dict)
        for m in metadata
    ):
        return f"({name[:40]}) has 'metadata' that is not a list of breadcrumbs and metadata"
    for m in metadata:
        key = m.get("metadata", {}).get("replication-key")
        if m.get("breadcrumb") == [] and key not in (None, replication_key):
            shown = str(key)[:40]
            return f"({name[:40]}) has replication-key {shown!r}; it can only be {replication_key}"
    return None


def _selected(entry: dict[str, Any]) -> bool:
    root = [m.get("metadata", {}) for m in entry.get("metadata") or [] if m.get("breadcrumb") == []]
    return bool(entry.get("selected") or (root and root[0].get("selected")))


def check_state(state: Any, names: frozenset[str], now: datetime) -> None:
    """Refuse a --state that is not a Singer state of these streams, or whose bookmarks are
    not times no later than ``now``."""
    bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
    if not isinstance(bookmarks, dict):
        if state:
            raise StateError(
                "The --state file is not a Singer state (no 'bookmarks'): pass "
                "the last STATE the tap printed, or no --state."
            )
        return
    foreign = sorted(set(bookmarks) - names)
    if foreign:
        raise StateError(
            f"The --state file has bookmarks of streams this tap does not have "
            f"({', '.join(foreign)[:100]}): is it another tap's state? Pass the last STATE "
            "this tap printed, or no --state."
        )
    for stream, entry in bookmarks.items():
        if stream in WORK_SHAPES:
            _check_work(stream, entry, now)
            continue
        value = entry.get("replication_key_value") if isinstance(entry, dict) else entry
        if value is not None:
            _check_bookmark(stream, str(value), now)


def _ids(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _two(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2  # noqa: PLR2004 - [a, b]


def _pairs(value: Any) -> bool:
    """``[[id, value], ...]``: ids to fetch, each with what is known of it."""
    return isinstance(value, list) and all(_two(v) and isinstance(v[0], str) for v in value)


def _map_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, dict) and all(map(check, value.values()))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _time_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        windows.parse(value)
    except ValueError:
        return False
    return True


CLOCK_SLACK = 60
"""Seconds a logged request may lie ahead of this machine's clock (another machine's)."""
_POOL_LOG = {
    "requests": _map_of(lambda v: isinstance(v, list) and all(map(_number, v))),
    "throttled": _map_of(_number),
}
_PEOPLE = {"snapshotAt": _time_text, "pagesNeeded": _count, **_POOL_LOG}
WORK_SHAPES: dict[str, dict[str, Callable[[Any], bool]]] = {
    "threats": {"pending": _pairs, "known": _map_of(_two), "failed": _map_of(_count)},
    "campaigns": {
        "pending": _pairs,
        "known": _map_of(_two),
        "failed": _map_of(_count),
        "discoveredThrough": _time_text,
        **_POOL_LOG,
    },
    "forensics": {
        "campaigns": _ids,
        "threats": _pairs,
        "done": _map_of(_time_text),
        "failed": _map_of(_count),
        **_POOL_LOG,
    },
    "very_attacked_people": _PEOPLE,
    "top_clickers": _PEOPLE,
}
"""The bookmarks of the streams that keep their work in the state (work.py, quota.py): what
each key must hold."""


def _check_work(stream: str, entry: Any, now: datetime) -> None:
    """Refuse a bookmark of the work-keeping streams that the tap did not write: its lists,
    maps and times are read without further checks."""
    shapes = WORK_SHAPES[stream]
    bad = (
        "it is not an object"
        if not isinstance(entry, dict)
        else next(
            (
                f"{key!r} does not hold what the tap writes there"
                for key, value in entry.items()
                if key in shapes and value is not None and not shapes[key](value)
            ),
            None,
        )
    )
    for key in ("discoveredThrough", "snapshotAt"):
        value = entry.get(key) if isinstance(entry, dict) else None
        if bad is None and isinstance(value, str) and windows.parse(value) > now:
            bad = f"{key!r} ({value}) is later than now ({windows.fmt(now)})"
    if bad is None and isinstance(entry, dict):
        logged = [at for log in (entry.get("requests") or {}).values() for at in log]
        logged += list((entry.get("throttled") or {}).values())
        if any(not math.isfinite(at) or at > now.timestamp() + CLOCK_SLACK for at in logged):
            bad = f"a time in 'requests' or 'throttled' is later than now ({windows.fmt(now)})"
    if bad:
        raise StateError(
            f"The --state bookmark of {stream} cannot be used: {bad}. Remove that stream's "
            "entry from the state (with Meltano: `meltano state edit`) to start its work "
            "over, or pass the last STATE the tap printed."
        )


def _check_bookmark(stream: str, value: str, now: datetime) -> None:
    """A bookmark is a time no later than now: one in the future would read nothing until
    then, silently (a state edited by hand, or written by a machine whose clock was wrong)."""
    try:
        bookmark = windows.parse(value)
    except ValueError:
        raise StateError(
            f"The --state bookmark of {stream} ({value[:40]!r}) is not a time: pass the last "
            "STATE the tap printed, or no --state to start from start_date."
        ) from None
    if bookmark > now:
        raise StateError(
            f"The --state bookmark of {stream} ({value}) is later than now ({windows.fmt(now)}), "
            "so nothing would be read until then: set it to an earlier time or remove it in the "
            "--state file (with Meltano: `meltano state list`, then `meltano state edit` or "
            "`meltano state clear` on that state id), or run with no --state to start from "
            "start_date."
        )
