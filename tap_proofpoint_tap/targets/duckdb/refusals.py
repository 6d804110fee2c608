"""Why the DuckDB loader refuses a record or a batch, in one line that names the record.

A record that breaks its SCHEMA (checked by fastjsonschema, compiled once per stream) or a
value DuckDB cannot load stops the run; the message names the record by its key, not the line
of a batch file the user never sees.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import fastjsonschema
import msgspec
from singer_sdk.sinks.core import BaseJSONSchemaValidator
from typing_extensions import override

from tap_proofpoint_tap.errors import LoadError
from tap_proofpoint_tap.targets.duckdb.columns import REFUSED
from tap_proofpoint_tap.targets.duckdb.messages import first_line, one_line, shown

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import duckdb

Row = dict[str, Any] | msgspec.Raw  # a record as a dict (the SDK's path) or as its bytes
_LINE = re.compile(r'in file "([^"]*)", in line (\d+): ')
_FILE = re.compile(r'(in )?(file )?"?[^" ]*target-duckdb-proofpoint-[^" ]*"?')
_REFUSED = re.compile(rf"Invalid Input Error: (.*) {REFUSED} (.*)$")


class FastValidator(BaseJSONSchemaValidator):
    """The stream's schema compiled to Python once; a refusal is one line that ends the run."""

    @override
    def __init__(
        self, schema: dict[str, Any], stream: str, keys: Sequence[str], line: Callable[[], int]
    ) -> None:
        super().__init__(schema)
        self.stream, self.keys, self.line = stream, keys, line
        # compiled on first use: short-path streams never need it
        self.check: Callable[[dict[str, Any]], Any] | None = None

    @override
    def validate(self, record: dict[str, Any]) -> None:
        if self.check is None:
            self.check = fastjsonschema.compile(self.schema)
        try:
            self.check(record)
        except fastjsonschema.JsonSchemaValueException as error:
            key = record_key(record, self.keys)
            raise LoadError(
                f"A {shown(self.stream)} record does not match its SCHEMA "
                f"({one_line(error.message)}; key {key}, line {self.line()}): nothing from "
                "it on is loaded. Fix the tap, or set validate_records to false."
            ) from None


def culprit(error: duckdb.Error, rows: list[Row], keys: Sequence[str]) -> str:
    """DuckDB's reason, naming the record it could not load rather than the batch file."""
    reason = first_line(error)
    found = _LINE.search(reason)
    if found and 0 < int(found[2]) <= len(rows):
        record = as_record(rows[int(found[2]) - 1])
        reason = reason.replace(found[0], f"record {record_key(record, keys)}: ")
    refused = _REFUSED.search(reason)
    if refused:  # columns.loaded's error: '"column" "value" cannot be loaded as …'
        column, _, value = refused[1].partition(" ")
        name, text = json.loads(column), json.loads(value)
        record = next((r for r in map(as_record, rows) if _holds(r, name, text)), None)
        key = record_key(record, keys)
        reason = f"record {key}: {shown(name)} holds {value}, which {REFUSED} {refused[2]}"
    return one_line(_FILE.sub("the batch", reason))  # the batch file is the loader's business


def _holds(record: Any, name: str, text: Any) -> bool:
    """Whether ``record``'s property ``name`` is (or lists) the value DuckDB read as ``text``."""
    value = record.get(name) if isinstance(record, dict) else None
    values = value if isinstance(value, list) else [value]
    return any(v == text or (isinstance(v, float) and _number(text) == v) for v in values)


def _number(text: Any) -> float | None:
    """``text`` as DuckDB read a JSON number (``1e400`` → inf), None if it is none."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def as_record(row: Row) -> Any:
    """A kept row as Python values (numbers out of a double's range as infinities)."""
    if not isinstance(row, msgspec.Raw):
        return row
    try:
        return json.loads(bytes(row))
    except (ValueError, RecursionError):
        return None


def record_key(record: Any, keys: Sequence[str]) -> str:
    """The record's key as the message names it (its first 80 characters)."""
    if not isinstance(record, dict):
        return "(unreadable)"
    values = [record.get(k) for k in keys] or ["(no key)"]
    return repr(values[0] if len(values) == 1 else tuple(values))[:80]
