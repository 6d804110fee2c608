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

import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import fastjsonschema
import msgspec
from singer_sdk import typing as th
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from tap_proofpoint_tap.errors import LoadError
from tap_proofpoint_tap.targets.duckdb.columns import columns, table_name
from tap_proofpoint_tap.targets.duckdb.database import Database
from tap_proofpoint_tap.targets.duckdb.fast import RawRecordReader, Unsupported, key_struct, struct
from tap_proofpoint_tap.targets.duckdb.messages import first_line
from tap_proofpoint_tap.targets.held_state import HeldStateTarget

UPSERT, APPEND, OVERWRITE = "upsert", "append-only", "overwrite"
_LINE = re.compile(r'in file "([^"]*)", in line (\d+): ')


class DuckDBSink(BatchSink):
    """One stream's pending rows; the target decides when they are written (never the SDK)."""

    def __init__(self, target: TargetDuckDB, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.owner = target
        self.table = table_name(self.stream_name)
        self.wanted = columns(self.schema)
        dedupe = target.load_method != APPEND and self.key_properties
        self.keys: tuple[str, ...] = tuple(self.key_properties) if dedupe else ()
        self.rows: dict[Any, dict | msgspec.Raw] = {}
        self.decode: Any = None  # the short path's decoder, once it is chosen
        self.types: dict[str, str] | None = None  # how read_json reads the batch, once known
        target.add(self)

    @property
    def max_size(self) -> int:
        return sys.maxsize

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
                    f"({error}; key {_key(record, self.key_properties)}): nothing "
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
        self.owner._handle_max_record_age()  # the SDK's path checks it after each record too

    def process_record(self, record: dict, context: dict) -> None:
        keys = self.keys
        key = (
            (record.get(keys[0]) if len(keys) == 1 else tuple(map(record.get, keys)))
            if keys
            else len(self.rows)
        )
        self.rows[key] = record
        self.owner.received()

    def process_batch(self, context: dict) -> None:
        self.owner.flush()


class FastValidator(BaseJSONSchemaValidator):
    """The stream's schema compiled to Python once; a refusal is one line that ends the run."""

    def __init__(self, schema: dict, stream: str, keys: list[str]) -> None:
        super().__init__(schema)
        self.stream, self.keys = stream, keys
        self.check: Any = None  # compiled on first use: short-path streams never need it

    def validate(self, record: dict) -> None:
        if self.check is None:
            self.check = fastjsonschema.compile(self.schema)
        try:
            self.check(record)
        except fastjsonschema.JsonSchemaValueException as error:
            key = _key(record, self.keys)
            raise LoadError(
                f"A {self.stream} record does not match its SCHEMA "
                f"({error.message}; key {key}): nothing from it on is loaded. Fix "
                "the tap, or set validate_records to false."
            ) from None


def _culprit(error: duckdb.Error, rows: list[dict], keys: list[str]) -> str:
    """DuckDB's reason, naming the record it could not load rather than the batch file."""
    reason = first_line(error)
    found = _LINE.search(reason)
    if found and 0 < int(found[2]) <= len(rows):
        record = rows[int(found[2]) - 1]
        record = msgspec.json.decode(record) if type(record) is msgspec.Raw else record
        reason = reason.replace(found[0], f"record {_key(record, keys)}: ")
    return reason


def _key(record: dict, keys: list[str]) -> str:
    """The record's key as the message names it (its first 80 characters)."""
    values = [record.get(k) for k in keys] or ["(no key)"]
    return repr(values[0] if len(values) == 1 else tuple(values))[:80]


class TargetDuckDB(HeldStateTarget):
    """Every stream into a table of a DuckDB file, upserted on the stream's key."""

    name = "target-duckdb-proofpoint"
    package_name = "tap-proofpoint-tap"
    destination = "DuckDB"
    default_sink_class = DuckDBSink
    message_reader_class = RawRecordReader
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sinks: list[DuckDBSink] = []
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

    @property
    def load_method(self) -> str:
        return self.config.get("load_method", UPSERT)

    def received(self) -> None:
        self.waiting += 1
        if self.waiting >= self.batch_size_rows:
            self.flush()

    def _process_schema_message(self, message_dict: dict) -> None:
        super()._process_schema_message(message_dict)
        name = message_dict["stream"]
        maps = self.mapper.stream_maps[name]
        sink = self._sinks_active.get(name)
        plain = (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
            and maps[0].stream_alias == name
            and sink is not None
            and not sink.include_sdc_metadata_properties
        )
        if plain and sink.short_path():
            self.message_reader.short[name] = sink
        else:
            self.message_reader.short.pop(name, None)

    def pending(self) -> bool:
        return self.waiting > 0 or any(s.table not in self.created for s in self.sinks)

    def commit(self) -> None:
        """Every sink's batch in one transaction: create or evolve its table, then load."""
        sinks, self.waiting = self.sinks, 0
        self.sinks = [s for s in sinks if s is self._sinks_active.get(s.stream_name)]
        with self.database.transaction():
            for sink in sinks:
                self._write(sink)

    def _write(self, sink: DuckDBSink) -> None:
        rows, sink.rows = sink.rows, {}
        table, db = sink.table, self.database
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
                        record if type(record) is msgspec.Raw else self.encoder.encode(record)
                    )
                    out.write(b"\n")
            db.load(table, sink.types, path, sink.keys)
        except duckdb.Error as error:
            reason = _culprit(error, list(rows.values()), sink.key_properties)
            raise LoadError(
                f"Cannot load {len(rows)} {sink.stream_name} rows into "
                f"{db.schema}.{table}: {reason}. Nothing of this batch was "
                "committed and its STATE was not sent."
            ) from None
        self.written[table] = self.written.get(table, 0) + len(rows)

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
