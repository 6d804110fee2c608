"""Each custom source's one Parquet schema, from its OCSF stream's JSON schema: pure functions.

The rule (README, "Exporting to AWS Security Lake"): a string is ``VARCHAR``, an integer
``BIGINT`` (OCSF's ``integer_t`` and ``long_t`` alike: ``time`` stays epoch milliseconds), a
number ``DOUBLE``, a boolean ``BOOLEAN``; an array a list of its item; an object the schema
describes a ``STRUCT`` of every attribute it declares, whatever the data holds, so every file of
a source, every day and every run, has the same schema. An object the schema does not describe
(``unmapped``, whose keys are the source's own; attributes of OCSF type ``object``; objects
deeper than the stream schema goes) and a ``json_t`` value are JSON text (``VARCHAR``).

DuckDB's ``json_transform`` turns the loader's JSON columns into those structs, but it drops
what it has no place for (a key the struct lacks, a string where a number goes); :func:`misfit`
names any such value first, from the paths and JSON types ``json_tree`` finds in the data, so the
export refuses rather than loses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tap_proofpoint_tap.targets.duckdb.columns import literal, quote

JSON = "JSON"  # a leaf kept as JSON text
SCALARS = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}
FITS = {  # json_tree's type of a value -> the leaves that hold it unchanged
    "VARCHAR": {"VARCHAR", JSON},
    "BIGINT": {"BIGINT", "DOUBLE", JSON},
    "UBIGINT": {"BIGINT", "DOUBLE", JSON},
    "DOUBLE": {"DOUBLE", JSON},
    "BOOLEAN": {"BOOLEAN", JSON},
}
DESCRIBED = {"BIGINT": "an integer", "DOUBLE": "a number", "VARCHAR": "a string"}
DESCRIBED |= {"BOOLEAN": "true or false", "OBJECT": "an object", "ARRAY": "an array"}


@dataclass(frozen=True)
class Leaf:
    kind: str  # VARCHAR, BIGINT, DOUBLE, BOOLEAN or JSON


@dataclass(frozen=True)
class Items:
    item: Shape


@dataclass(frozen=True)
class Fields:
    fields: tuple[tuple[str, Shape], ...]


Shape = Leaf | Items | Fields


def shape(schema: dict[str, Any]) -> Shape:
    """The shape of one property of a stream's JSON schema."""
    declared = schema.get("type", [])
    types = [declared] if isinstance(declared, str) else list(declared)
    types = [t for t in types if t != "null"]
    if types == ["array"]:
        items = schema.get("items")
        return Items(shape(items) if isinstance(items, dict) else Leaf(JSON))
    if types == ["object"] and schema.get("properties"):
        return Fields(tuple((k, shape(v)) for k, v in schema["properties"].items()))
    if len(types) == 1 and types[0] in SCALARS:
        return Leaf(SCALARS[types[0]])
    return Leaf(JSON)  # an object it does not describe, json_t, or several types


def shapes(stream_schema: dict[str, Any]) -> dict[str, Shape]:
    """Every top-level attribute of a stream, in the schema's order, with its shape."""
    return {name: shape(sub) for name, sub in stream_schema.get("properties", {}).items()}


def ddl(node: Shape) -> str:
    """The DuckDB (and Parquet) type: JSON text is VARCHAR."""
    if isinstance(node, Items):
        return f"{ddl(node.item)}[]"
    if isinstance(node, Fields):
        return f"STRUCT({', '.join(f'{quote(k)} {ddl(v)}' for k, v in node.fields)})"
    return "VARCHAR" if node.kind == JSON else node.kind


def structure(node: Shape) -> Any:
    """``json_transform``'s structure for the shape (JSON leaves stay JSON, then text)."""
    if isinstance(node, Items):
        return [structure(node.item)]
    if isinstance(node, Fields):
        return {k: structure(v) for k, v in node.fields}
    return node.kind


def converted(name: str, table_type: str | None, node: Shape) -> str:
    """SQL for column ``name`` (of DuckDB type ``table_type``; None: the table lacks it) as
    the source's Parquet column."""
    if table_type is None:
        return f"CAST(NULL AS {ddl(node)})"
    if table_type == JSON and node != Leaf(JSON):
        plan = literal(json.dumps(structure(node), separators=(",", ":")))
        return f"CAST(json_transform({quote(name)}, {plan}) AS {ddl(node)})"
    return f"CAST({quote(name)} AS {ddl(node)})"


def paths(node: Shape, at: str = "$") -> dict[str, Shape]:
    """Every path the shape declares, as ``json_tree`` spells a value's path with its array
    indexes as ``[]`` (``$.files[].hashes[].value``)."""
    found: dict[str, Shape] = {at: node}
    if isinstance(node, Items):
        found |= paths(node.item, f"{at}[]")
    elif isinstance(node, Fields):
        for key, sub in node.fields:
            found |= paths(sub, f"{at}.{key}")
    return found


def misfit(declared: dict[str, Shape], path: str, json_type: str) -> str | None:
    """Why a value of JSON type ``json_type`` at ``path`` would not reach the Parquet column
    unchanged, or None when it would (``declared``: :func:`paths` of the column's shape)."""
    node = declared.get(path)
    if json_type == "NULL" or node == Leaf(JSON):
        return None
    if node is None:
        inside = (p for p, n in declared.items() if n == Leaf(JSON))
        if any(path.startswith((f"{p}.", f"{p}[")) for p in inside):
            return None  # within JSON text: anything goes
        return "is not an attribute the OCSF class declares"
    if isinstance(node, Leaf):
        fits, wanted = node.kind in FITS.get(json_type, set()), node.kind
    else:
        wanted = "OBJECT" if isinstance(node, Fields) else "ARRAY"
        fits = json_type == wanted
    if fits:
        return None
    return f"holds {DESCRIBED.get(json_type, json_type.lower())} where OCSF has {DESCRIBED[wanted]}"
