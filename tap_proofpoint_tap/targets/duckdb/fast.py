"""The short path: RECORD lines read without building a dict per record.

Most records reach the loader untouched by stream maps or flattening. For those, the record's
JSON is kept as the bytes it arrived as (``msgspec.Raw``), checked by a msgspec decoder compiled
from the stream's schema (types, nullability, required keys, enumerations: C speed, no objects
kept), and written to the batch file as it is; DuckDB parses it once, at load. Schemas that
use a keyword this compiler does not know (patterns, bounds, ``$ref`` …) keep the dict path and
its fastjsonschema validator, so no check is ever skipped.

The reader also counts lines, so a refusal names the line, and checks each line the SDK reads
(:mod:`~tap_proofpoint_tap.singer_lines`) before the SDK acts on it.
"""

from __future__ import annotations

import decimal
import sys
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader
from typing_extensions import override

from tap_proofpoint_tap.errors import LoadError
from tap_proofpoint_tap.singer_lines import excerpt, fault

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Callable, Iterator

# What a schema may say for the compiler to check it whole; anything else → the dict path.
_KNOWN = {
    "type",
    "properties",
    "items",
    "format",
    "required",
    "enum",
    "description",
    "title",
    "anyOf",
    "additionalProperties",
    "default",
    "examples",
    "$schema",
}
_SCALARS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}
# Subscripted with what the schema says, known only at run time (mypy cannot check it).
_LITERAL: Any = Literal
_LIST: Any = list
_DEFAULTED = 3  # (name, type, default): a field that may be absent


class Envelope(msgspec.Struct):
    """A Singer line as far as the short path needs it: the record stays unparsed."""

    type: str
    stream: str = ""
    record: msgspec.Raw = msgspec.Raw(b"null")


_ENVELOPE = msgspec.json.Decoder(Envelope)
_MESSAGE = msgspec.json.Decoder(float_hook=decimal.Decimal)  # as the SDK's: numbers kept exact


class Unsupported(Exception):
    """The schema uses something the compiler cannot check."""


def _types(schema: dict[str, Any]) -> tuple[set[str], bool]:
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    branches = schema.get("anyOf", [])
    for branch in branches:
        if set(branch) - _KNOWN:
            raise Unsupported
        types |= _types(branch)[0]
    if branches and len(types - {"null"}) > 1:
        raise Unsupported
    return types - {"null"}, "null" in types


def python_type(schema: dict[str, Any], name: str = "Record") -> Any:
    """The msgspec type that accepts exactly the JSON the schema accepts."""
    if set(schema) - _KNOWN or schema.get("additionalProperties") not in (None, True):
        raise Unsupported
    types, nullable = _types(schema)
    if "enum" in schema:
        values = [v for v in schema["enum"] if v is not None]
        if not values or not all(isinstance(v, str) for v in values):
            raise Unsupported
        kind: Any = _LITERAL[tuple(values)]
        nullable = nullable or None in schema["enum"]
    elif not types:
        return Any
    elif len(types) > 1:
        raise Unsupported  # msgspec unions are narrower than JSON schema's
    elif (only := next(iter(types))) in _SCALARS:
        kind = _SCALARS[only]
    elif only == "array":
        kind = _LIST[python_type(schema.get("items", {}), name)]
    elif only == "object":
        kind = struct(schema, name) if schema.get("properties") else dict[str, Any]
    else:
        raise Unsupported
    return kind | None if nullable else kind


def struct(
    schema: dict[str, Any], name: str = "Record", keys: tuple[str, ...] = ()
) -> type[msgspec.Struct]:
    """A Struct of every declared property; keys and ``required`` properties must be present,
    the others default to null. Undeclared properties are skipped, as the table has no column
    for them."""
    required = set(schema.get("required", [])) | set(keys)
    fields: list[tuple[str, Any] | tuple[str, Any, None]] = []
    rename: dict[str, str] = {}
    for n, (prop, sub) in enumerate(schema.get("properties", {}).items()):
        if not prop.isprintable() or '"' in prop or "\\" in prop:
            raise Unsupported  # msgspec cannot rename to such a name; the dict path can
        rename[f"f{n}"] = prop
        kind = python_type(sub, f"{name}_{n}")
        fields.append((f"f{n}", kind) if prop in required else (f"f{n}", kind, None))
    fields.sort(key=lambda field: len(field) == _DEFAULTED)  # required fields first (no default)
    return msgspec.defstruct(name, fields, rename=rename)


def key_struct(keys: tuple[str, ...]) -> type[msgspec.Struct]:
    """Only the key properties (validation off), null when absent: everything else is skipped
    unread."""
    return msgspec.defstruct(
        "Key",
        [(f"k{n}", Any, None) for n in range(len(keys))],
        rename={f"k{n}": k for n, k in enumerate(keys)},
    )


class RawRecordReader(MsgSpecReader):
    """Reads stdin as bytes; RECORD lines of streams in ``short`` go to their sink's
    ``accept_raw``, every other line through the SDK as usual."""

    @override
    def __init__(self) -> None:
        super().__init__()
        self.short: dict[str, Any] = {}  # stream → its DuckDBSink
        self.line = 0  # the number of the line being read
        self.schemas: set[str] = set()  # the streams whose SCHEMA came

    @override
    def deserialize_json(self, line: str) -> dict[str, Any]:
        """The SDK's path's lines, checked; a fault stops the run naming the line, which is
        never echoed whole."""
        try:
            message = _MESSAGE.decode(line)
        except msgspec.DecodeError as error:
            raise LoadError(
                f"Line {self.line} of the input is not JSON ({error}): {excerpt(line)}. "
                "Nothing from it on was loaded; fix the line and run again."
            ) from None
        problem = fault(message, self.schemas)
        if problem:
            raise LoadError(
                f"Line {self.line} of the input is not a Singer message this loader can "
                f"load: {problem}. Nothing from it on was loaded; fix the line and run again."
            )
        if message["type"] == "SCHEMA":
            self.schemas.add(message["stream"])
        return cast("dict[str, Any]", message)

    @override
    def process_lines(
        self, file_input: IO[str] | None, callbacks: dict[str, Callable[[dict[str, Any]], None]]
    ) -> Counter[str]:
        raw, self.line = 0, 0

        def others() -> Iterator[bytes | str]:
            """The lines the SDK handles: all but the short path's RECORD lines."""
            nonlocal raw
            for line in file_input or sys.stdin.buffer:
                self.line += 1
                head = _head(line) if self.short else None
                if (
                    head is not None
                    and head.type == "RECORD"
                    and (sink := self.short.get(head.stream)) is not None
                ):
                    sink.accept_raw(head.record)
                    raw += 1
                else:
                    yield line

        # The SDK's reader only iterates its input, and msgspec decodes bytes as well as text.
        try:
            stats = super().process_lines(cast("IO[str]", others()), callbacks)
        except RecursionError:
            raise LoadError(
                f"Line {self.line} of the input is nested deeper than this loader can read: "
                "nothing from it on was loaded; flatten that record and run again."
            ) from None
        stats["RECORD"] += raw
        return stats


def _head(line: bytes | str) -> Envelope | None:
    try:
        return _ENVELOPE.decode(line)
    except msgspec.MsgspecError:  # not a Singer line: the SDK's path names the fault
        return None
