"""Why the DuckDB loader refuses a record or a batch, in one line that names the record.

A record that breaks its SCHEMA (checked by fastjsonschema, compiled once per stream) or a
value DuckDB cannot load stops the run; the message names the record by its key, not the line
of a batch file the user never sees.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import fastjsonschema
import msgspec
from singer_sdk.sinks.core import BaseJSONSchemaValidator
from typing_extensions import override

from tap_proofpoint_tap.errors import LoadError
from tap_proofpoint_tap.targets.duckdb.messages import first_line

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import duckdb

Row = dict[str, Any] | msgspec.Raw  # a record as a dict (the SDK's path) or as its bytes
_LINE = re.compile(r'in file "([^"]*)", in line (\d+): ')


class FastValidator(BaseJSONSchemaValidator):
    """The stream's schema compiled to Python once; a refusal is one line that ends the run."""

    @override
    def __init__(self, schema: dict[str, Any], stream: str, keys: Sequence[str]) -> None:
        super().__init__(schema)
        self.stream, self.keys = stream, keys
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
                f"A {self.stream} record does not match its SCHEMA "
                f"({error.message}; key {key}): nothing from it on is loaded. Fix "
                "the tap, or set validate_records to false."
            ) from None


def culprit(error: duckdb.Error, rows: list[Row], keys: Sequence[str]) -> str:
    """DuckDB's reason, naming the record it could not load rather than the batch file."""
    reason = first_line(error)
    found = _LINE.search(reason)
    if found and 0 < int(found[2]) <= len(rows):
        row = rows[int(found[2]) - 1]
        record = msgspec.json.decode(row) if isinstance(row, msgspec.Raw) else row
        reason = reason.replace(found[0], f"record {record_key(record, keys)}: ")
    return reason


def record_key(record: dict[str, Any], keys: Sequence[str]) -> str:
    """The record's key as the message names it (its first 80 characters)."""
    values = [record.get(k) for k in keys] or ["(no key)"]
    return repr(values[0] if len(values) == 1 else tuple(values))[:80]
