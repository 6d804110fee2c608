"""A stream's JSON schema compiled into a function that makes any value fit it, losing nothing.

A value that cannot keep its declared type becomes null and is reported in ``problems``; a field
the schema does not declare is left out of its place. Neither is lost: both go, as sent, into
``kept`` under their path (``threatsInfoMap[1].actors[0].type``), which the normaliser puts in the
record's ``unknownFields`` column. So the record matches its schema exactly and still carries
everything Proofpoint sent, including fields it adds after this schema was written.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

Conformer = Callable[[Any, str, list[str], dict[str, Any]], Any]
"""``(value, path, problems, kept) -> value in the schema's type, or None``."""

_NOT_NULL = functools.partial(operator.is_not, None)
_SURROGATE = re.compile("[\ud800-\udfff]")
_INDEX = re.compile(r"\[\d+\]")
_DATE_TIME = re.compile(  # the time of day is checked here; the calendar day by _valid_date
    r"(\d{4}-\d\d-\d\d)[Tt ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?"
)
_CANONICAL_TIME = re.compile(  # the form Proofpoint sends, kept as it is once the day is checked
    r"\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z"
).fullmatch


def compile_schema(schema: dict[str, Any]) -> Conformer:  # noqa: PLR0911 - one per JSON type
    """A function that returns a value in the type ``schema`` declares, or None (reported).

    Compiled once per schema: a record's plain strings, the common case, pass with one type
    check each, which keeps normalisation cheap enough for 100,000-event windows.
    """
    types = _types(schema)
    if "object" in types:
        return _object_conformer(schema.get("properties", {}))
    if "array" in types:
        return _array_conformer(compile_schema(schema.get("items", {})))
    if "boolean" in types:
        return lambda value, name, problems, kept: (
            value if isinstance(value, bool) else boolean(value, name, problems)
        )
    if "integer" in types:
        return lambda value, name, problems, kept: _integer(value, name or "event", problems)
    if "number" in types:
        return lambda value, name, problems, kept: _number(value, name or "event", problems)
    if schema.get("format") == "date-time":
        return _date_time_conformer
    return _string_conformer


def declared_paths(schema: dict[str, Any], path: str = "") -> set[str]:
    """Every field path the schema declares, arrays written ``[]``: ``threatsInfoMap[].actors``."""
    paths = {path} if path else set()
    for key, sub in schema.get("properties", {}).items():
        paths |= declared_paths(sub, f"{path}.{key}" if path else key)
    if "items" in schema:
        paths |= declared_paths(schema["items"], f"{path}[]")
    return paths


def generic_path(path: str) -> str:
    """``threatsInfoMap[1].actors[0].type`` → ``threatsInfoMap[].actors[].type``."""
    return _INDEX.sub("[]", path)


def as_json(value: Any) -> Any:
    """A value as sent, made encodable: Decimal → number, lone surrogates → U+FFFD.

    The streaming parser gives fractions as Decimal and the stdlib accepts NaN; a kept value
    must survive any JSON encoder and any target.
    """
    if isinstance(value, str):
        return value if value.isascii() or _valid_text(value) else _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {as_json(str(k)): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, (Decimal, float)) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else str(value)
    return value


def _types(schema: dict[str, Any]) -> tuple[str, ...]:
    types = schema.get("type", ())
    return (types,) if isinstance(types, str) else tuple(types)


def _plain_string(schema: dict[str, Any]) -> bool:
    return set(_types(schema)) <= {"string", "null"} and "format" not in schema


def _object_conformer(properties: dict[str, Any]) -> Conformer:
    plan = {
        key: (compile_schema(sub), str if _plain_string(sub) else None)
        for key, sub in properties.items()
    }
    strings = {key for key, sub in properties.items() if _plain_string(sub)}
    times = tuple(key for key, sub in properties.items() if sub.get("format") == "date-time")
    textual = strings.union(times)

    def conform_object(
        value: Any, path: str, problems: list[str], kept: dict[str, Any]
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            problems.append(f"{path or 'event'} is not an object")
            return None
        try:  # a value other than null or text raises
            plain = value.keys() <= textual and all(
                map(str.isascii, filter(_NOT_NULL, value.values()))
            )
        except TypeError:
            plain = False
        if plain:  # the usual event (every click): known keys, ASCII text; only times to check
            for key in times:
                text = value.get(key)
                if text is not None and not (_CANONICAL_TIME(text) and _valid_date(text[:10])):
                    value[key] = _date_time(text, key, problems)
                    if value[key] is None:
                        kept[f"{path}.{key}" if path else key] = text
            return value
        out = {}
        for key, item in value.items():
            entry = plan.get(key)
            if entry is None:  # not in the schema: kept as sent
                kept[f"{path}.{key}" if path else key] = as_json(item)
                continue
            convert, fast = entry
            if item is None or (type(item) is fast and (item.isascii() or _valid_text(item))):
                out[key] = item
                continue
            where = f"{path}.{key}" if path else key
            before = len(problems)
            out[key] = convert(item, where, problems, kept)
            if len(problems) > before and _lost(out[key]):
                kept[where] = as_json(item)
        return out

    return conform_object


def _array_conformer(convert: Conformer) -> Conformer:
    def conform_array(
        value: Any, path: str, problems: list[str], kept: dict[str, Any]
    ) -> list[Any] | None:
        if not isinstance(value, list):
            problems.append(f"{path} is not a list")
            return None
        out = []
        for index, item in enumerate(value):
            if item is None:
                continue
            where = f"{path}[{index}]"
            before = len(problems)
            result = convert(item, where, problems, kept)
            if len(problems) > before and _lost(result):
                kept[where] = as_json(item)
            if result is not None:
                out.append(result)
        return out

    return conform_array


def _lost(result: Any) -> bool:
    """After a problem: the value as sent is gone (null, or a rounded number), not merely
    repaired (U+FFFD in a string) or partly kept (a container keeps the rest, kept inside)."""
    return not isinstance(result, (dict, list, str))


def _string_conformer(
    value: Any, name: str, problems: list[str], kept: dict[str, Any]
) -> str | None:
    text = _text(value, name, problems)
    if text is None or text.isascii() or _valid_text(text):
        return text
    problems.append(f"{name} held invalid Unicode, replaced by U+FFFD")
    return _SURROGATE.sub("\ufffd", text)


def _valid_text(text: str) -> bool:
    """False for a lone surrogate (a \\ud800-\\udfff escape), which UTF-8 cannot carry."""
    return not _SURROGATE.search(text)


def _date_time_conformer(
    value: Any, name: str, problems: list[str], kept: dict[str, Any]
) -> str | None:
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


def _text(value: Any, key: str, problems: list[str]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal):  # as the stdlib's parser would have given it: a float
        return str(float(value))
    if isinstance(value, (int, float, bool)):
        return str(value)
    problems.append(f"{key} is not text")
    return None


def boolean(value: Any, name: str, problems: list[str]) -> bool | None:
    """``true``/``false`` in any case, ``1``/``0``, ``yes``/``no``; ``na`` (documented) is null."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    if text not in ("na", "n/a", ""):
        problems.append(f"{name} {value!r} is not a boolean")
    return None


def _integer(value: Any, key: str, problems: list[str]) -> int | None:
    number = _number(value, key, problems)
    if number is None or isinstance(number, int):
        return number
    if not number.is_integer():
        problems.append(f"{key} {number!r} is not a whole number, rounded")
    return round(number)


def _number(value: Any, key: str, problems: list[str]) -> float | None:
    """A finite float, or an int as it came (the streaming parser gives fractions as Decimal)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(f"{key} is not a number")
        return None
    if not math.isfinite(number):
        problems.append(f"{key} is not a finite number")
        return None
    return number
