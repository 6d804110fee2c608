"""One shape per column: the documented and observed SIEM payloads normalised to the wire's.

Pure functions from an event dict to a new event dict. They never raise on odd input: a value
that cannot be kept in its column's type becomes null and is reported in ``problems`` so the
caller can warn, because an event is never dropped. The last step, :func:`conform`, walks the
stream's JSON schema, so every record that leaves them matches its schema exactly (fields the
schema does not know are left out, as the SDK would).
"""

from __future__ import annotations

import functools
import json
import operator
import re
import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ID_NAMESPACE = uuid.UUID("6f1c8f5e-2b1e-4a35-9d2b-7c1b3e0c9a41")
ADDRESS_FIELDS = ("recipient", "toAddresses", "ccAddresses", "fromAddress", "replyToAddress")
STRING_LISTS = ("policyRoutes", "modulesRun")
PART_FIELDS = ("contentType", "oContentType", "disposition", "filename", "md5", "sha256",
               "sandboxStatus")
THREAT_RENAMES = {"threatId": "threatID", "campaignId": "campaignID"}
THREAT_FIELDS = ("threatID", "campaignID", "classification", "threat", "threatStatus",
                 "threatTime", "threatType", "threatUrl", "detectionType")
SCHEMAS = {name: json.loads((Path(__file__).parent / "schemas" / f"{name}.json").read_text())
           for name in ("click", "message")}
_NOT_NULL = functools.partial(operator.is_not, None)
_SURROGATE = re.compile("[\ud800-\udfff]")
_DATE_TIME = re.compile(  # the time of day is checked here; the calendar day by _valid_date
    r"(\d{4}-\d\d-\d\d)[Tt ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?")
_CANONICAL_TIME = re.compile(  # the form Proofpoint sends, kept as it is once the day is checked
    r"\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z").fullmatch


def normalise_click(event: dict, problems: list[str]) -> dict:
    """Clicks already have one shape; only ``classification`` case varies (old payloads)."""
    out = dict(event)
    out["classification"] = _lower(out.get("classification"))
    return _with_id(_CONFORM["click"](out, "", problems))


def normalise_message(event: dict, problems: list[str]) -> dict:
    """Addresses → arrays, ``completelyRewritten`` → boolean, ``clusterId`` → ``cluster``, …"""
    out = dict(event)
    if "clusterId" in out:
        cluster = out.pop("clusterId")
        out.setdefault("cluster", cluster)
    for key in ADDRESS_FIELDS:
        if key in out:
            out[key] = _string_list(out[key], key, problems)
    for key in STRING_LISTS:
        if key in out:
            out[key] = _string_list(out[key], key, problems)
    out["completelyRewritten"] = _boolean(out.get("completelyRewritten"), problems)
    if "messageParts" in out:
        out["messageParts"] = _objects(out["messageParts"], "messageParts", problems, _part)
    if "threatsInfoMap" in out:
        out["threatsInfoMap"] = _objects(out["threatsInfoMap"], "threatsInfoMap", problems,
                                         _threat)
    return _with_id(_CONFORM["message"](out, "", problems))


Conformer = Callable[[Any, str, list[str]], Any]


def compile_schema(schema: dict) -> Conformer:
    """A function that returns a value in the type ``schema`` declares, or None (reported).

    Compiled once per schema: a record's plain strings, the common case, pass with one type
    check each, which keeps normalisation cheap enough for 100,000-event windows.
    """
    types = schema.get("type", ())
    types = (types,) if isinstance(types, str) else tuple(types)
    if "object" in types:
        return _object_conformer(schema.get("properties", {}))
    if "array" in types:
        return _array_conformer(compile_schema(schema.get("items", {})))
    if "boolean" in types:
        return lambda value, name, problems: (
            value if isinstance(value, bool) else _boolean(value, problems))
    if "integer" in types:
        return lambda value, name, problems: _integer(value, name or "event", problems)
    if "number" in types:
        return lambda value, name, problems: _number(value, name or "event", problems)
    if schema.get("format") == "date-time":
        return _date_time_conformer
    return _string_conformer


def _plain_string(schema: dict) -> bool:
    types = schema.get("type", ())
    types = (types,) if isinstance(types, str) else tuple(types)
    return set(types) <= {"string", "null"} and "format" not in schema


def _object_conformer(properties: dict) -> Conformer:
    plan = {key: (compile_schema(sub), str if _plain_string(sub) else None)
            for key, sub in properties.items()}
    strings = {key for key, sub in properties.items() if _plain_string(sub)}
    times = tuple(key for key, sub in properties.items() if sub.get("format") == "date-time")
    textual = strings.union(times)

    def conform_object(value: Any, path: str, problems: list[str]) -> dict | None:
        if not isinstance(value, dict):
            problems.append(f"{path or 'event'} is not an object")
            return None
        try:  # a value other than null or text raises
            plain = value.keys() <= textual and all(
                map(str.isascii, filter(_NOT_NULL, value.values())))
        except TypeError:
            plain = False
        if plain:  # the usual event (every click): known keys, ASCII text; only times to check
            for key in times:
                text = value.get(key)
                if text is not None and not (_CANONICAL_TIME(text) and _valid_date(text[:10])):
                    value[key] = _date_time(text, key, problems)
            return value
        out = {}
        for key, item in value.items():
            entry = plan.get(key)
            if entry is None:  # not in the schema: left out, as the SDK would
                continue
            convert, fast = entry
            if item is None or (type(item) is fast and (item.isascii() or _valid_text(item))):
                out[key] = item
            else:
                out[key] = convert(item, f"{path}.{key}" if path else key, problems)
        return out

    return conform_object


def _array_conformer(convert: Conformer) -> Conformer:
    def conform_array(value: Any, path: str, problems: list[str]) -> list | None:
        if not isinstance(value, list):
            problems.append(f"{path} is not a list")
            return None
        items = (convert(item, f"{path}[]", problems) for item in value if item is not None)
        return [item for item in items if item is not None]

    return conform_array


def _string_conformer(value: Any, name: str, problems: list[str]) -> str | None:
    text = _text(value, name, problems)
    if text is None or text.isascii() or _valid_text(text):
        return text
    problems.append(f"{name} held invalid Unicode, replaced by U+FFFD")
    return _SURROGATE.sub("\ufffd", text)


def _valid_text(text: str) -> bool:
    """False for a lone surrogate (a \\ud800-\\udfff escape), which UTF-8 cannot carry."""
    return not _SURROGATE.search(text)


def _date_time_conformer(value: Any, name: str, problems: list[str]) -> str | None:
    text = _text(value, name, problems)
    return None if text is None else _date_time(text, name, problems)


def _date_time(text: str, name: str, problems: list[str]) -> str | None:
    """An RFC 3339 time as sent (``T`` between date and time, ``Z`` when no offset), or None."""
    stripped = text.strip()
    match = _DATE_TIME.fullmatch(stripped)
    if match and _valid_date(match[1]):
        if stripped[10] != "T" or match[2] == "z":  # the forms RFC 3339 validators refuse
            stripped = f"{stripped[:10]}T{stripped[11:]}".replace("z", "Z")
        return stripped if match[2] else stripped + "Z"
    problems.append(f"{name} is not a date-time")
    return None


@functools.lru_cache(maxsize=4096)
def _valid_date(text: str) -> bool:
    """A real calendar day (cached: the events of a window share a few days)."""
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def derived_id(event: dict) -> str:
    """A stable id from the canonical content: keys sorted, arrays sorted, window key left out.

    Proofpoint reorders ``messageParts`` (and other arrays) between calls, so arrays are
    ordered by their canonical JSON before hashing.
    """
    content = {k: v for k, v in event.items() if k not in ("id", "queryEndTime")}
    canonical = json.dumps(_canonical(content), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False, default=str)
    return str(uuid.uuid5(ID_NAMESPACE, canonical))


def _with_id(event: dict) -> dict:
    if not isinstance(event.get("id"), str) or not event["id"]:
        event["id"] = derived_id(event)
    return event


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _text(value: Any, key: str, problems: list[str]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal):  # as the stdlib's parser would have given it: a float
        return str(float(value))
    if isinstance(value, (int, float, bool)):
        return str(value)
    problems.append(f"{key} is not text")
    return None


def _string_list(value: Any, key: str, problems: list[str]) -> list[str] | None:
    """``"a@x"`` → ``["a@x"]``; ``"a@x, b@y"`` stays one address (Proofpoint sends one)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        out = [v if isinstance(v, str) else _text(v, key, problems) for v in value]
        return [v for v in out if v is not None]
    problems.append(f"{key} is neither a list nor text")
    return None


def _boolean(value: Any, problems: list[str]) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    if text not in ("na", "n/a", ""):
        problems.append(f"completelyRewritten {value!r} is not a boolean")
    return None


def _integer(value: Any, key: str, problems: list[str]) -> int | None:
    number = _number(value, key, problems)
    return number if number is None or isinstance(number, int) else round(number)


def _number(value: Any, key: str, problems: list[str]) -> float | None:
    """A finite float, or an int as it came (the streaming parser gives fractions as Decimal)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(f"{key} is not a number")
        return None
    if number != number or number in (float("inf"), float("-inf")):
        problems.append(f"{key} is not a finite number")
        return None
    return number


def _objects(value: Any, key: str, problems: list[str],
             each: Callable[[dict, list[str]], dict]) -> list[dict] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        problems.append(f"{key} is not a list")
        return None
    out = []
    for item in value:
        if isinstance(item, dict):
            out.append(each(item, problems))
        else:
            problems.append(f"{key} holds a non-object item")
    return out


def _part(part: dict, problems: list[str]) -> dict:
    return {k: _text(part.get(k), f"messageParts.{k}", problems) for k in PART_FIELDS}


def _threat(info: dict, problems: list[str]) -> dict:
    renamed = {THREAT_RENAMES.get(k, k): v for k, v in info.items()}
    out = {k: _text(renamed.get(k), f"threatsInfoMap.{k}", problems) for k in THREAT_FIELDS}
    out["classification"] = _lower(out["classification"])
    out["threatType"] = _threat_type(out["threatType"])
    out["actors"] = _actors(renamed.get("actors"), problems)
    return out


def _threat_type(value: str | None) -> str | None:
    """``URL``/``ATTACHMENT``/``MESSAGETEXT`` (documented) → ``url``/``attachment``/…"""
    if value is None:
        return None
    lowered = value.lower()
    return "messageText" if lowered == "messagetext" else lowered


def _actors(value: Any, problems: list[str]) -> list[dict] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        problems.append("threatsInfoMap.actors is not a list")
        return None
    out = []
    for actor in value:
        if isinstance(actor, dict):
            out.append({"id": _text(actor.get("id"), "actors.id", problems),
                        "name": _text(actor.get("name"), "actors.name", problems)})
        elif isinstance(actor, str):
            out.append({"id": None, "name": actor})
        else:
            problems.append("threatsInfoMap.actors holds an unreadable item")
    return out


_CONFORM = {name: compile_schema(schema) for name, schema in SCHEMAS.items()}
