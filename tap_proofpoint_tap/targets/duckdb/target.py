"""``target-duckdb-proofpoint``: the project's DuckDB loader, a Singer SDK target.

Named apart from PyPI's ``target-duckdb`` (a different program with other settings and column
rules). Records gather in memory, one batch per stream with each key once (the last record
wins), until ``batch_size_rows`` records are pending in all streams together; then every stream's
batch is written in ONE transaction and the STATE held since goes out after its COMMIT. A run
stopped at any point therefore leaves Meltano's bookmark at rows that are all in the file, and
the next run loads the rest once.

Speed: a stream without stream maps, flattening or record metadata (the usual case) takes the
short path of :mod:`~tap_proofpoint_tap.targets.duckdb.fast`: its records are never turned into
dicts. Other streams take the SDK's path, checked by a fastjsonschema validator compiled once.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import msgspec
from singer_sdk import typing as th
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.sinks import BatchSink
from typing_extensions import override

from tap_proofpoint_tap.errors import LoadError
from tap_proofpoint_tap.targets.duckdb.columns import columns, table_name
from tap_proofpoint_tap.targets.duckdb.database import Database
from tap_proofpoint_tap.targets.duckdb.fast import RawRecordReader, Unsupported, key_struct, struct
from tap_proofpoint_tap.targets.duckdb.refusals import FastValidator, Row, culprit, record_key
from tap_proofpoint_tap.targets.held_state import HeldStateTarget

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from singer_sdk.sinks import Sink
    from singer_sdk.sinks.core import BaseJSONSchemaValidator

UPSERT, APPEND, OVERWRITE = "upsert", "append-only", "overwrite"


class DuckDBSink(BatchSink):
    """One stream's pending rows; the target decides when they are written (never the SDK)."""

    @override
    def __init__(self, target: TargetDuckDB, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.owner = target
        self.table = table_name(self.stream_name)
        self.wanted = columns(self.schema)
        dedupe = target.load_method != APPEND and self.key_properties
        self.keys: tuple[str, ...] = tuple(self.key_properties) if dedupe else ()
        self.rows: dict[Any, Row] = {}
        self.decode: Callable[[msgspec.Raw], Any] | None = None  # the short path's decoder
        self.key_fields: tuple[str, ...] = ()  # the decoded struct's names of the keys
        self.types: dict[str, str] | None = None  # how read_json reads the batch, once known
        target.add(self)

    @property
    @override
    def max_size(self) -> int:
        return sys.maxsize

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        if not self.validate_schema:
            return None
        return FastValidator(self.schema, self.stream_name, self.key_properties)

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
                record = msgspec.json.decode(raw)
                raise LoadError(
                    f"A {self.stream_name} record does not match its SCHEMA "
                    f"({error}; key {record_key(record, self.key_properties)}): nothing "
                    "from it on is loaded. Fix the tap, or set validate_records to "
                    "false."
                ) from None
            key = (
                getattr(parsed, fields[0])
                if len(fields) == 1
                else tuple(getattr(parsed, f) for f in fields)
                if fields
                else len(self.rows)
            )
        else:
            key = len(self.rows)
        self.rows[key] = raw
        self.tally_record_read()
        self.record_counter_metric.increment()
        self.owner.received()
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
        self.rows[key] = record
        self.owner.received()

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        self.owner.flush()


class TargetDuckDB(HeldStateTarget):
    """Every stream into a table of a DuckDB file, upserted on the stream's key."""

    name = "target-duckdb-proofpoint"
    package_name = "tap-proofpoint-tap"
    destination = "DuckDB"
    default_sink_class = DuckDBSink
    message_reader_class = RawRecordReader
    message_reader: RawRecordReader
    config_jsonschema = th.PropertiesList(
        th.Property(
            "filepath",
            th.StringType,
            required=True,
            description="The DuckDB file (created with its folder when missing).",
        ),
        th.Property(
            "default_target_schema",
            th.StringType,
            default="main",
            description="Schema that receives one table per stream.",
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType,
            default=10000,
            description="Records (all streams together) per transaction; the STATE "
            "that follows them goes out after its COMMIT.",
        ),
        th.Property(
            "load_method",
            th.StringType,
            default=UPSERT,
            allowed_values=[UPSERT, APPEND, OVERWRITE],
            description="upsert: a record replaces the row with its key (streams "
            "without a key are appended); append-only: every record is a new row; "
            "overwrite: each table is emptied by the run's first write to it, then "
            "upserted.",
        ),
    ).to_dict()

    @override
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sinks: list[DuckDBSink] = []  # every sink with rows or a table to make
        self.active: dict[str, DuckDBSink] = {}  # each stream's latest sink
        self.waiting = 0  # records received since the last commit
        self.database: Database | None = None
        self.created: set[str] = set()  # tables made to hold their stream in this run
        self.emptied: set[str] = set()
        self.written: dict[str, int] = {}
        self.encoder = msgspec.json.Encoder(decimal_format="number")
        self.folder = Path(tempfile.mkdtemp(prefix="target-duckdb-proofpoint-"))
        self.batch_size_rows = int(self.config.get("batch_size_rows", 10000))

    def add(self, sink: DuckDBSink) -> None:
        """A stream (or a new schema of one) begins. The file is opened with the first, so a
        lock held by another process stops the run before any row is written."""
        if self.database is None:
            self.database = Database(
                self.config["filepath"], self.config.get("default_target_schema", "main")
            )
        self.sinks.append(sink)
        self.active[sink.stream_name] = sink

    @property
    def load_method(self) -> str:
        return str(self.config.get("load_method", UPSERT))

    def received(self) -> None:
        self.waiting += 1
        if self.waiting >= self.batch_size_rows:
            self.flush()

    @override
    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        key_properties: Sequence[str] | None = None,
    ) -> Sink:
        """The SDK's sink; on a SCHEMA (``schema`` given), the path its records take: the
        short one when the stream is loaded as sent and its schema compiles."""
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        if schema is None:
            return sink
        maps = self.mapper.stream_maps.get(stream_name, [])
        if (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
            and maps[0].stream_alias == stream_name
            and isinstance(sink, DuckDBSink)
            and not sink.include_sdc_metadata_properties
            and sink.short_path()
        ):
            self.message_reader.short[stream_name] = sink
        else:
            self.message_reader.short.pop(stream_name, None)
        return sink

    @override
    def pending(self) -> bool:
        return self.waiting > 0 or any(s.table not in self.created for s in self.sinks)

    @override
    def commit(self) -> None:
        """Every sink's batch in one transaction: create or evolve its table, then load."""
        assert self.database is not None, "opened with the first stream, before any row"
        sinks, self.waiting = self.sinks, 0
        self.sinks = [s for s in sinks if s is self.active.get(s.stream_name)]
        with self.database.transaction():
            for sink in sinks:
                self._write(sink, self.database)

    def _write(self, sink: DuckDBSink, db: Database) -> None:
        rows, sink.rows = sink.rows, {}
        table = sink.table
        try:
            if sink.types is None:  # the table is made to hold this schema once per sink
                final = db.ensure(table, sink.wanted)
                self.created.add(table)
                by_fold = {name.casefold(): kind for name, kind in final.items()}
                sink.types = {name: by_fold[name.casefold()] for name in sink.wanted}
            if self.load_method == OVERWRITE and table not in self.emptied:
                db.empty(table)
                self.emptied.add(table)
            if not rows:
                return
            path = self.folder / f"{table}.ndjson"
            with open(path, "wb") as out:
                for record in rows.values():
                    out.write(
                        record if isinstance(record, msgspec.Raw) else self.encoder.encode(record)
                    )
                    out.write(b"\n")
            db.load(table, sink.types, path, sink.keys)
        except duckdb.Error as error:
            reason = culprit(error, list(rows.values()), sink.key_properties)
            raise LoadError(
                f"Cannot load {len(rows)} {sink.stream_name} rows into "
                f"{db.schema}.{table}: {reason}. Nothing of this batch was "
                "committed and its STATE was not sent."
            ) from None
        self.written[table] = self.written.get(table, 0) + len(rows)

    @override
    def process_endofpipe(self) -> None:
        try:
            self.flush()  # also creates the tables of streams that sent no record
            super().process_endofpipe()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            if self.database is not None:
                self.database.close()
        loaded = ", ".join(f"{t} {n}" for t, n in sorted(self.written.items())) or "nothing"
        self.logger.info("Rows written to %s: %s", self.config["filepath"], loaded)


if __name__ == "__main__":
    TargetDuckDB.cli()
