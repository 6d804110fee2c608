"""From a stream's JSON schema to DuckDB columns: pure functions, tested without a database.

The rule (README, "Loading into DuckDB"): a string is ``VARCHAR``, a ``date-time`` string
``TIMESTAMPTZ`` and a ``date`` string ``DATE``; an integer ``BIGINT``, a number ``DOUBLE``, a
boolean ``BOOLEAN``; an array of one scalar type a DuckDB list of it (``VARCHAR[]``); an object,
an array of objects and anything without one clear type ``JSON``. Columns keep the stream's
property names (DuckDB matches identifiers without regard to case: ``messageid`` finds
``messageID``).
"""

from __future__ import annotations

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
_NOT_A_NAME = re.compile(r"[^0-9A-Za-z_]")


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
        item = column_type(schema.get("items", {}))
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
    """A stream name as a table name: characters other than letters, digits and ``_`` become
    ``_`` (``public-users`` → ``public_users``)."""
    return _NOT_A_NAME.sub("_", stream)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def struct(types: dict[str, str]) -> str:
    """The ``columns`` argument of ``read_json``: every column named with its type, so DuckDB
    sniffs nothing."""
    return "{" + ", ".join(f"{literal(n)}: {literal(t)}" for n, t in types.items()) + "}"


def plan(existing: dict[str, str], wanted: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The columns to add and the columns to retype so the table holds the new schema.

    A column the schema no longer declares is kept (older rows hold values in it; new rows
    leave it null). Matching is without regard to case, as DuckDB's.
    """
    by_fold = {name.casefold(): name for name in existing}
    add, retype = {}, {}
    for name, kind in wanted.items():
        have = by_fold.get(name.casefold())
        if have is None:
            add[name] = kind
        elif (new := widened(existing[have], kind)) != existing[have]:
            retype[have] = new
    return add, retype
