"""From a stream's JSON schema to DuckDB columns: pure functions, tested without a database.

The rule (README, "Loading into DuckDB"): a string is ``VARCHAR``, a ``date-time`` string
``TIMESTAMPTZ`` and a ``date`` string ``DATE``; an integer ``BIGINT``, a number ``DOUBLE``, a
boolean ``BOOLEAN``; an array of one scalar type a DuckDB list of it (``VARCHAR[]``); an object,
an array of objects and anything without one clear type ``JSON``. Columns keep the stream's
property names (DuckDB matches identifiers without regard to case: ``messageid`` finds
``messageID``).
"""

from __future__ import annotations

import json
import re
from typing import Any

JSON = "JSON"
TEXT = "VARCHAR"
TIMESTAMP = "TIMESTAMP WITH TIME ZONE"  # TIMESTAMPTZ, as duckdb_columns() spells it
SCALARS = {"string": TEXT, "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}
FORMATS = {"date-time": TIMESTAMP, "date": "DATE"}
# What a column of the left type becomes when a later schema declares the right one: the
# narrowest type that holds both, so no value already loaded changes or is lost.
# TIMESTAMP columns are those of files PyPI's target-duckdb wrote: they keep their type.
WIDER = {
    ("BIGINT", "DOUBLE"): "DOUBLE",
    ("DOUBLE", "BIGINT"): "DOUBLE",
    (TIMESTAMP, "DATE"): TIMESTAMP,
    ("DATE", TIMESTAMP): TIMESTAMP,
    ("TIMESTAMP", TIMESTAMP): "TIMESTAMP",
    ("TIMESTAMP", "DATE"): "TIMESTAMP",
}
_NOT_A_NAME = re.compile(r"\W")  # letters and digits of any script are kept
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# What DuckDB's casts would read too leniently: the text each column type must match (None: any
# that converts), and what it holds, for the message. TIMESTAMP: PyPI target-duckdb's columns.
_TIME = r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d(:?\d\d)?)?"
STRICT: dict[str, tuple[str | None, str]] = {
    TIMESTAMP: (_TIME, "a date-time"),
    "TIMESTAMP": (_TIME, "a date-time"),
    "DATE": (r"\d{4}-\d\d-\d\d", "a date (without a time)"),
    "DOUBLE": (None, "a finite number"),
}
REFUSED = "cannot be loaded as"  # in the load's error: column, value, what the column holds


def _types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema admits, ``null`` aside (``anyOf`` branches included)."""
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        types |= _types(branch)
    return types - {"null"}


def _format(schema: dict[str, Any]) -> str | None:
    formats = {schema.get("format")} | {b.get("format") for b in schema.get("anyOf", [])}
    return next((FORMATS[f] for f in formats if f in FORMATS), None)


def column_type(schema: dict[str, Any]) -> str:
    """The DuckDB type of one property."""
    types = _types(schema)
    if len(types) != 1:
        return JSON  # no type, or several: kept as sent
    (kind,) = types
    if kind == "string":
        return _format(schema) or TEXT
    if kind in SCALARS:
        return SCALARS[kind]
    if kind == "array":
        items = schema.get("items")
        item = column_type(items) if isinstance(items, dict) else JSON
        return JSON if item == JSON else f"{item}[]"
    return JSON


def columns(schema: dict[str, Any]) -> dict[str, str]:
    """Every property of a stream's schema, in order, with its DuckDB type."""
    return {name: column_type(sub) for name, sub in schema.get("properties", {}).items()}


def widened(existing: str, wanted: str) -> str:
    """The type a column keeps or takes when a new SCHEMA declares ``wanted`` for it."""
    if existing == wanted or existing in (TEXT, JSON):  # text and JSON hold any value
        return existing
    if (existing, wanted) in WIDER:
        return WIDER[existing, wanted]
    if wanted == JSON or existing.endswith("[]") or wanted.endswith("[]"):
        return JSON
    return TEXT


def table_name(stream: str) -> str:
    """A stream name as a table name: characters other than letters, digits (of any script)
    and ``_`` become ``_`` (``public-users`` → ``public_users``)."""
    return _NOT_A_NAME.sub("_", stream)


def fold(name: str) -> str:
    """A name as DuckDB compares identifiers: ASCII letters without case, all else as is."""
    return name.translate(_ASCII_LOWER)


def clash(names: list[str]) -> tuple[str, str] | None:
    """The first two of ``names`` that DuckDB would take for one identifier, if any."""
    seen: dict[str, str] = {}
    for name in names:
        if (first := seen.setdefault(fold(name), name)) != name:
            return first, name
    return None


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def struct(types: dict[str, str]) -> str:
    """The ``columns`` argument of ``read_json``: every column named with the type it is read
    as, so DuckDB sniffs nothing."""
    return "{" + ", ".join(f"{literal(n)}: {literal(read_as(t))}" for n, t in types.items()) + "}"


def read_as(kind: str) -> str:
    """The type ``read_json`` reads a column of type ``kind`` as: text where :func:`loaded`
    checks the text before converting it."""
    base = kind.removesuffix("[]")
    return (TEXT + kind[len(base) :]) if base in STRICT else kind


def loaded(name: str, kind: str) -> str:
    """SQL for column ``name`` as read by ``read_json`` (see :func:`read_as`), converted to
    ``kind``. A value the conversion would change or cannot make (a JSON number out of range
    included) stops the load with an error naming the column and the value."""
    base = kind.removesuffix("[]")
    if base not in STRICT:
        return quote(name)
    pattern, what = STRICT[base]
    value = "x" if kind.endswith("[]") else quote(name)
    converted = f"TRY_CAST({value} AS {base})"
    ok = f"isfinite({converted})" if pattern is None else f"{converted} IS NOT NULL"
    if pattern is not None:
        ok = f"regexp_full_match({value}, {literal(pattern)}) AND {ok}"
    refusal = (
        f"{literal(json.dumps(name) + ' ')} || to_json({value}) || {literal(f' {REFUSED} {what}')}"
    )
    check = f"CASE WHEN {value} IS NULL OR {ok} THEN {converted} ELSE error({refusal}) END"
    return f"list_transform({quote(name)}, lambda x: {check})" if value == "x" else check


def plan(existing: dict[str, str], wanted: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The columns to add and the columns to retype so the table holds the new schema.

    A column the schema no longer declares is kept (older rows hold values in it; new rows
    leave it null). Matching is without regard to ASCII case, as DuckDB's.
    """
    by_fold = {fold(name): name for name in existing}
    add, retype = {}, {}
    for name, kind in wanted.items():
        have = by_fold.get(fold(name))
        if have is None:
            add[name] = kind
        elif (new := widened(existing[have], kind)) != existing[have]:
            retype[have] = new
    return add, retype
