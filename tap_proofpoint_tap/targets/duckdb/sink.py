"""One stream's pending rows in the DuckDB loader; the target decides when they are written.

A record is kept under its key, so a key read again within a batch replaces its row. A record
without a key value (null or absent) is refused rather than kept under the key ``None``, where
every such record would collapse into one row (``load_method: append-only`` keeps each).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Protocol, cast

import msgspec
from singer_sdk.sinks import BatchSink
from typing_extensions import override

from tap_proofpoint_tap.errors import LoadError
from tap_proofpoint_tap.targets.duckdb.columns import clash, columns, table_name
from tap_proofpoint_tap.targets.duckdb.fast import Unsupported, key_struct, struct
from tap_proofpoint_tap.targets.duckdb.messages import one_line, shown
from tap_proofpoint_tap.targets.duckdb.refusals import FastValidator, Row, as_record, record_key

if TYPE_CHECKING:
    from collections.abc import Callable

    from singer_sdk import Target
    from singer_sdk.sinks.core import BaseJSONSchemaValidator

from tap_proofpoint_tap.targets.duckdb.fast import RawRecordReader

UPSERT, APPEND, OVERWRITE = "upsert", "append-only", "overwrite"


class Loader(Protocol):
    """What a sink asks of its target (TargetDuckDB)."""

    message_reader: RawRecordReader

    @property
    def load_method(self) -> str: ...
    def add(self, sink: DuckDBSink) -> None: ...
    def received(self) -> None: ...
    def flush(self) -> None: ...
    def _handle_max_record_age(self) -> None: ...


class DuckDBSink(BatchSink):
    """One stream's pending rows; the target decides when they are written (never the SDK)."""

    @override
    def __init__(self, target: Target, *args: Any, **kwargs: Any) -> None:
        # set before the SDK's __init__, which asks for the validator
        self.owner = cast("Loader", target)
        super().__init__(target, *args, **kwargs)
        self.table = table_name(self.stream_name)
        self.wanted = columns(self.schema)
        both = clash(list(self.wanted))
        if both:
            raise LoadError(
                f"Stream {shown(self.stream_name)} declares properties {both[0]!r} and "
                f"{both[1]!r}, which DuckDB takes for one column (names differ only in ASCII "
                "case): rename one in the tap or with a stream map; nothing was loaded."
            )
        dedupe = self.owner.load_method != APPEND and self.key_properties
        self.keys: tuple[str, ...] = tuple(self.key_properties) if dedupe else ()
        self.rows: dict[Any, Row] = {}
        self.decode: Callable[[msgspec.Raw], Any] | None = None  # the short path's decoder
        self.key_fields: tuple[str, ...] = ()  # the decoded struct's names of the keys
        self.types: dict[str, str] | None = None  # how read_json reads the batch, once known
        self.owner.add(self)

    @property
    @override
    def max_size(self) -> int:
        return sys.maxsize

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        if not self.validate_schema:
            return None
        reader = self.owner.message_reader
        return FastValidator(
            self.schema, self.stream_name, self.key_properties, lambda: reader.line
        )

    def short_path(self) -> bool:
        """Compile the short path's decoder; False when the schema needs the dict path."""
        keys = tuple(self.key_properties)
        try:
            shape = (
                struct(self.schema, keys=keys)
                if self.validate_schema
                else key_struct(keys)
                if keys
                else None
            )
        except Unsupported:
            return False
        self.decode = msgspec.json.Decoder(shape).decode if shape else None
        names = (
            dict(zip(shape.__struct_encode_fields__, shape.__struct_fields__, strict=True))
            if shape
            else {}
        )
        self.key_fields = tuple(names[k] for k in self.keys)
        return True

    def accept_raw(self, raw: msgspec.Raw) -> None:
        """One record as bytes: checked (key properties present, types as declared), kept."""
        fields = self.key_fields
        if self.decode is not None:
            try:
                parsed = self.decode(raw)
            except msgspec.ValidationError as error:
                raise self.refusal(as_record(raw), one_line(str(error))) from None
            key = (
                getattr(parsed, fields[0])
                if len(fields) == 1
                else tuple(getattr(parsed, f) for f in fields)
                if fields
                else len(self.rows)
            )
        else:
            key = len(self.rows)
        self.keep(key, raw)
        self.tally_record_read()
        self.record_counter_metric.increment()
        # As the SDK's path does after each record (no public API): a batch older than the
        # SDK's max record age is drained.
        self.owner._handle_max_record_age()  # noqa: SLF001 - the SDK's check, no public API

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        keys = self.keys
        key = (
            (record.get(keys[0]) if len(keys) == 1 else tuple(map(record.get, keys)))
            if keys
            else len(self.rows)
        )
        self.keep(key, record)

    def keep(self, key: Any, row: Row) -> None:
        """The row under its key; a record whose key (or part of it) is null is refused."""
        if self.keys and (key is None or (isinstance(key, tuple) and None in key)):
            raise LoadError(
                f"A {shown(self.stream_name)} record (line {self.owner.message_reader.line}) has "
                f"no value for its key ({', '.join(map(shown, self.keys))}): records without "
                "one would collapse into one row. Fix the tap, or set load_method to "
                "append-only (every record a new row); nothing from it on was loaded."
            )
        self.rows[key] = row
        self.owner.received()

    def refusal(self, record: Any, reason: str) -> LoadError:
        """Why a record the short path decoded cannot be loaded, naming it."""
        key = record_key(record, self.key_properties)
        where = f"key {key}, line {self.owner.message_reader.line}"
        if not self.validate_schema or "out of range" in reason:  # no check would help
            return LoadError(
                f"A {shown(self.stream_name)} record ({where}) cannot be read ({reason}): nothing "
                "from it on was loaded; fix the tap."
            )
        return LoadError(
            f"A {shown(self.stream_name)} record does not match its SCHEMA ({reason}; {where}): "
            "nothing from it on is loaded. Fix the tap, or set validate_records to false."
        )

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        self.owner.flush()
