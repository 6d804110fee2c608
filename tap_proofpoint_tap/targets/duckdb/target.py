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

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import msgspec
from singer_sdk import typing as th
from singer_sdk.mapper import SameRecordTransform
from typing_extensions import override

from tap_proofpoint_tap.errors import LoadError
from tap_proofpoint_tap.targets.duckdb.columns import fold
from tap_proofpoint_tap.targets.duckdb.database import Database
from tap_proofpoint_tap.targets.duckdb.fast import RawRecordReader
from tap_proofpoint_tap.targets.duckdb.messages import shown
from tap_proofpoint_tap.targets.duckdb.refusals import culprit
from tap_proofpoint_tap.targets.duckdb.sink import APPEND, OVERWRITE, UPSERT, DuckDBSink
from tap_proofpoint_tap.targets.held_state import HeldStateTarget

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from singer_sdk.sinks import Sink

    from tap_proofpoint_tap.targets.duckdb.refusals import Row


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
        # each table (as DuckDB compares names) → the stream it holds, and its name
        self.tables: dict[str, tuple[str, str]] = {}
        self.batch_file: Path | None = None  # the batch being loaded, removed once it is
        self.batch_size_rows = int(self.config.get("batch_size_rows", 10000))

    def add(self, sink: DuckDBSink) -> None:
        """A stream (or a new schema of one) begins. The file is opened with the first, so a
        lock held by another process stops the run before any row is written. Two streams
        whose names make one table are refused: the second would overwrite the first's rows."""
        other, table = self.tables.setdefault(fold(sink.table), (sink.stream_name, sink.table))
        if other != sink.stream_name:
            raise LoadError(
                f"Streams {other!r} and {sink.stream_name!r} would both load into table "
                f"{table} (a table name keeps letters, digits and _, and DuckDB ignores "
                "ASCII case): rename one with a stream map (stream_maps: "
                f"{{{json.dumps(sink.stream_name)}: "
                '{"__alias__": "another_name"}}); nothing was loaded.'
            )
        if self.database is None:
            self.database = Database(
                self.config["filepath"], self.config.get("default_target_schema", "main")
            )
        holder = self.database.holder(sink.table)
        if holder not in (None, sink.stream_name):
            raise LoadError(
                f"Table {self.database.schema}.{sink.table} holds stream {holder!r}, loaded by "
                f"an earlier run; stream {sink.stream_name!r} would load into it too: rename it "
                "with a stream map, or, if it is that stream renamed, first run COMMENT ON TABLE "
                f"{self.database.table(sink.table)} IS NULL; nothing was loaded."
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
                final = db.ensure(table, sink.wanted, sink.stream_name)
                self.created.add(table)
                by_fold = {name.casefold(): kind for name, kind in final.items()}
                sink.types = {name: by_fold[name.casefold()] for name in sink.wanted}
            if self.load_method == OVERWRITE and table not in self.emptied:
                db.empty(table)
                self.emptied.add(table)
            if not rows:
                return
            longest = self._write_batch(rows.values())
            assert self.batch_file is not None, "written just now"
            db.load(table, sink.types, self.batch_file, sink.keys, longest)
        except duckdb.Error as error:
            reason = culprit(error, list(rows.values()), sink.key_properties)
            raise LoadError(
                f"Cannot load {len(rows)} {shown(sink.stream_name)} rows into "
                f"{db.schema}.{table}: {reason}. Nothing of this batch was "
                "committed and its STATE was not sent."
            ) from None
        finally:
            self.discard()
        self.written[table] = self.written.get(table, 0) + len(rows)

    def _write_batch(self, rows: Iterable[Row]) -> int:
        """The rows into a new batch file, one JSON line each; the longest line's length."""
        handle, name = tempfile.mkstemp(prefix="target-duckdb-proofpoint-", suffix=".ndjson")
        self.batch_file, longest = Path(name), 0
        with os.fdopen(handle, "wb") as out:
            for record in rows:
                line = record if isinstance(record, msgspec.Raw) else self.encoder.encode(record)
                longest = max(longest, len(line))
                out.write(line)
                out.write(b"\n")
        return longest

    @override
    def discard(self) -> None:
        """The batch file holds record data: removed after every load, failed or not."""
        if self.batch_file is not None:
            self.batch_file.unlink(missing_ok=True)
            self.batch_file = None

    @override
    def process_endofpipe(self) -> None:
        try:
            self.flush()  # also creates the tables of streams that sent no record
            super().process_endofpipe()
        finally:
            if self.database is not None:
                self.database.close()
        loaded = ", ".join(f"{t} {n}" for t, n in sorted(self.written.items())) or "nothing"
        self.logger.info("Rows written to %s: %s", self.config["filepath"], loaded)


if __name__ == "__main__":
    TargetDuckDB.cli()
