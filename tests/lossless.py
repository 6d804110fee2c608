"""The check that a record lost nothing of the event it came from.

Written from the README's "One shape per column", not from the normaliser: every non-null
value the event carried is in the record (at its documented new name or shape, case and time
format aside) or, as sent, in ``unknownFields`` under its path.
"""

from __future__ import annotations

import math
from typing import Any

THREAT_RENAMED = {"threatId": "threatID", "campaignId": "campaignID"}
TO_ARRAYS = {
    "recipient",
    "toAddresses",
    "ccAddresses",
    "fromAddress",
    "replyToAddress",
    "policyRoutes",
    "modulesRun",
}
TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def assert_nothing_lost(event: dict, record: dict, problems: list[str], kind: str) -> None:
    kept = record.get("unknownFields") or {}
    _check(event, record, "", kept, problems, kind)


def _check(source: Any, target: Any, path: str, kept: dict, problems: list[str], kind: str) -> None:
    if (
        path in kept or source is None or path == "queryEndTime" or (path == "id" and source == "")
    ):  # the tap's window end; an id derived for ""
        return
    if isinstance(source, dict):
        assert isinstance(target, dict), (path, source, target)
        for key, value in source.items():
            name = _renamed(kind, path, key)
            if name != key and key in target:  # both names came: the other one is kept
                name = key
            if f"{path}.{name}" in kept:  # kept under its new name
                continue
            _check(value, target.get(name), f"{path}.{key}" if path else key, kept, problems, kind)
        return
    if isinstance(source, list):
        if kind == "click" and path == "recipient":  # one address: the first
            first = next((v for v in source if v is not None), None)
            _check(first, target, path, kept, problems, kind)
            assert sum(v is not None for v in source) <= 1 or path in kept, (path, source)
            return
        assert isinstance(target, list), (path, source, target)
        survivors = list(target)  # in any order: Proofpoint reorders messageParts
        for index, value in enumerate(source):
            where = f"{path}[{index}]"
            if value is not None and where not in kept:
                survivors.remove(_match(value, survivors, where, kept, problems, kind))
        return
    if isinstance(source, str) and isinstance(target, dict) and ".actors[" in path:
        target = target.get("name")  # an actor sent as a bare name
    if kind == "message" and path in TO_ARRAYS and isinstance(source, str):
        assert target == ([source] if source else []), (path, source, target)
        return
    if target is None and _documented_null(path, source):
        return
    assert target is not None, (path, source, problems)
    assert _same(source, target) or _repaired(path, problems), (path, source, target)


def _match(
    source: Any, candidates: list, path: str, kept: dict, problems: list[str], kind: str
) -> Any:
    """The first candidate that holds all of ``source``."""
    for candidate in candidates:
        try:
            _check(source, candidate, path, kept, problems, kind)
        except AssertionError:
            continue
        return candidate
    raise AssertionError(("lost", path, source, candidates))


def _renamed(kind: str, path: str, key: str) -> str:
    """The wire's name of a documented one: ``clusterId``, a threat's ``threatId``/``campaignId``."""
    if kind != "message":
        return key
    if path == "":
        return "cluster" if key == "clusterId" else key
    if path.startswith("threatsInfoMap[") and path.endswith("]"):
        return THREAT_RENAMED.get(key, key)
    return key


def _documented_null(path: str, source: Any) -> bool:
    return path == "completelyRewritten" and str(source).strip().lower() in ("", "na", "n/a")


def _repaired(path: str, problems: list[str]) -> bool:
    return any(p.startswith(f"{path} held invalid Unicode") for p in problems)


def _same(source: Any, target: Any) -> bool:
    """Equal but for case, surrounding space, a time's ``T``/``Z`` or a number written as text."""
    if source == target and type(source) is type(target):
        return True
    if isinstance(target, bool):
        return str(source).strip().lower() in (TRUE if target else FALSE)
    if isinstance(target, (int, float)) or (
        isinstance(source, (int, float)) and not isinstance(source, bool)
    ):
        try:
            return math.isclose(float(source), float(target), rel_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return _folded(source) == _folded(target)


def _folded(value: Any) -> str:
    text = str(value).strip().lower()
    if len(text) > 10 and text[4:5] == "-" and text[10] in " t":
        text = (text[:10] + "t" + text[11:]).removesuffix("z")
    return text
