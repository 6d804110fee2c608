"""Read the DuckDB file's OCSF tables and write each source's Parquet files, one per eventDay.

The file is attached read-only to an in-memory DuckDB, so the export runs beside readers and
never changes the pipeline's file. Per class:

1. every value the Parquet struct would drop (:func:`.shapes.misfit`) stops the export;
2. the events to write: one row per ``metadata.uid``, the one loaded last. The OCSF streams have
   no key, so the loader appends, and a look-back re-read appends the same event again. In a
   table only ever appended to, ``rowid`` follows the order the rows were inserted in (DuckDB's
   "Order Preservation": on a materialized table the ``rowid`` pseudo-column gives the original
   row order; deletes and checkpoints keep it, checked by hand with DuckDB 2.0.1), so the last
   loaded is the highest ``rowid``: the tables hold no load time to order by. Rows without a
   uid have nothing to be deduplicated on and are all kept;
3. for each eventDay (``time`` in UTC), one file: the day's events sorted by ``time`` (then
   load order), zstd-compressed, every column of the class's schema (:mod:`.shapes`).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from tap_proofpoint_tap.mappers.ocsf.streams import stream_schema
from tap_proofpoint_tap.mappers.ocsf.vocabulary import Class
from tap_proofpoint_tap.security_lake.layout import CLASSES, EVENT_DAY_SQL, LakeError, Target
from tap_proofpoint_tap.security_lake.shapes import (
    JSON,
    Leaf,
    Shape,
    converted,
    ddl,
    misfit,
    paths,
    shapes,
)
from tap_proofpoint_tap.security_lake.staging import publish, staged
from tap_proofpoint_tap.targets.duckdb.columns import literal, quote
from tap_proofpoint_tap.targets.duckdb.messages import first_line, lock_holder

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

UID = "json_extract_string(metadata, '$.uid')"
_ARRAY_INDEX = r"\[[0-9]+\]"
PARQUET = "FORMAT parquet, COMPRESSION zstd"


class ExportError(LakeError):
    """The file or a table cannot be exported as it is."""


@dataclass(frozen=True)
class Table:
    """An OCSF table of the file: its class, schema and columns with their DuckDB types."""

    kind: Class
    schema: str
    columns: dict[str, str]

    @property
    def sql(self) -> str:
        return f"src.{quote(self.schema)}.{quote(self.kind.stream)}"


@dataclass(frozen=True)
class Written:
    """What one source got: the table's rows, the events written, their days."""

    kind: Class
    rows: int
    events: int
    days: tuple[str, ...]


def run(
    database: Path, schema: str, output: Path, target: Target, classes: list[str] | None
) -> list[Written]:
    """Export the classes asked for (None: every OCSF table of ``schema``) from ``database``
    to ``output``, each source replacing its earlier export only once all are written."""
    with staged(output) as stage, opened(database, stage / "spill") as con:
        present = tables(con, schema)
        asked = [CLASSES[name] for name in classes] if classes else None
        wanted = asked or [kind for kind in Class if kind in present]
        missing = [kind.stream for kind in wanted if kind not in present]
        if not wanted or missing:
            raise ExportError(
                f"{database} has no {', '.join(missing) or 'OCSF table'} in schema {schema}: "
                "load mapper-proofpoint-ocsf's streams with target-duckdb-proofpoint (meltano "
                "run tap-proofpoint-tap ocsf target-duckdb-proofpoint), or pass --schema"
            )
        written = [export(con, present[kind], target, stage) for kind in dict.fromkeys(wanted)]
        con.close()  # DuckDB's spill files go before the folders move
        for done in written:
            publish(stage, output, target.source(done.kind))
    return written


@contextmanager
def opened(path: Path, spill: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the file attached read-only as ``src``; what DuckDB spills
    goes to ``spill``."""
    if path.is_dir():
        raise ExportError(f"{path} is a folder, not a DuckDB file: pass the file with --database")
    if not path.is_file():
        raise ExportError(
            f"{path} does not exist: pass the DuckDB file target-duckdb-proofpoint loads the "
            "OCSF streams into with --database (make demo writes output/sandbox.duckdb)"
        )
    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = {literal(str(spill))}")
        con.execute(f"ATTACH {literal(str(path))} AS src (READ_ONLY)")
    except duckdb.Error as exc:
        con.close()
        if "lock" in str(exc).lower():
            raise ExportError(
                f"{path} is locked by {lock_holder(exc) or 'another process'}: retry when the "
                "process writing it (the pipeline, dbt) ends"
            ) from None
        raise ExportError(f"cannot open {path} as a DuckDB database: {first_line(exc)}") from None
    try:
        yield con
    finally:
        con.close()


def tables(con: duckdb.DuckDBPyConnection, schema: str) -> dict[Class, Table]:
    """The OCSF tables in ``schema``, by class."""
    found: dict[Class, dict[str, str]] = {}
    streams = {kind.stream: kind for kind in Class}
    for table, column, kind in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = "
        "'src' AND schema_name = ? ORDER BY table_name, column_index",
        [schema],
    ).fetchall():
        if table in streams:
            found.setdefault(streams[table], {})[column] = kind
    return {kind: Table(kind, schema, columns) for kind, columns in found.items()}


def export(con: duckdb.DuckDBPyConnection, table: Table, target: Target, out: Path) -> Written:
    """Write ``table``'s source under ``out`` (files at :meth:`Target.file`)."""
    declared = shapes(stream_schema(table.kind))
    for needed in ("time", "metadata"):
        if needed not in table.columns:
            raise ExportError(
                f"{table.kind.stream} has no {needed} column: it is not a table of "
                "mapper-proofpoint-ocsf's events (pass --schema, or leave the class out)"
            )
    check(con, table, declared)
    rows, without_time = con.execute(
        f"SELECT count(*), count(*) - count(time) FROM {table.sql}"
    ).fetchone() or (0, 0)
    if without_time:
        raise ExportError(
            f"{table.kind.stream}: {without_time} rows have no time, so no eventDay: OCSF "
            "requires time; nothing was exported"
        )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE keep AS SELECT rowid AS rid, time, "
        f"{EVENT_DAY_SQL.format(time='time')} AS day FROM {table.sql} "
        f"QUALIFY {UID} IS NULL OR row_number() OVER (PARTITION BY {UID} ORDER BY rowid DESC) = 1 "
        "ORDER BY day, time"
    )
    days = con.execute(
        "SELECT day, min(time), max(time), count(*) FROM keep GROUP BY day ORDER BY day"
    ).fetchall()
    columns = ", ".join(
        f"{converted(name, table.columns.get(name), node)} AS {quote(name)}"
        for name, node in declared.items()
    )
    for day, first, last, _ in days:
        file = out / target.file(table.kind, day)
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            con.execute(
                f"COPY (SELECT {columns} FROM (SELECT * FROM {table.sql} WHERE time BETWEEN "
                f"{first} AND {last} AND rowid IN (SELECT rid FROM keep WHERE day = "
                f"{literal(day)}) ORDER BY time, rowid)) TO {literal(str(file))} ({PARQUET})"
            )
        except duckdb.Error as exc:
            raise ExportError(
                f"{table.kind.stream}: cannot write eventDay {day}: {first_line(exc)}"
            ) from None
    return Written(table.kind, rows, sum(n for *_, n in days), tuple(d for d, *_ in days))


def check(con: duckdb.DuckDBPyConnection, table: Table, declared: dict[str, Shape]) -> None:
    """Refuse a table holding what the Parquet schema has no place for: a column the class
    does not declare, a value its column's OCSF type would change, or a value inside a JSON
    column that ``json_transform`` would drop."""
    for column in table.columns:
        if column not in declared and _holds(con, table, f"{quote(column)} IS NOT NULL"):
            raise _refusal(table, column, "is not an attribute the OCSF class declares")
    for column, node in declared.items():
        have = table.columns.get(column)
        if have == JSON and node != Leaf(JSON):
            _check_json(con, table, column, node)
        elif have not in (None, JSON, ddl(node)):  # a column the loader typed otherwise
            cast = f"TRY_CAST(TRY_CAST({quote(column)} AS {ddl(node)}) AS {have})"
            changed = f"{quote(column)} IS NOT NULL AND {cast} IS DISTINCT FROM {quote(column)}"
            if _holds(con, table, changed):
                reason = f"holds a value OCSF's type for it ({ddl(node)}) cannot hold unchanged"
                raise _refusal(table, column, reason, _uid_where(con, table, changed))


def _check_json(con: duckdb.DuckDBPyConnection, table: Table, column: str, node: Shape) -> None:
    """Every path and JSON type of the column's values, against the shape's."""
    found = con.execute(
        f"SELECT DISTINCT regexp_replace(t.fullkey, {literal(_ARRAY_INDEX)}, '[]', 'g') AS p, "
        f"t.type FROM {table.sql} AS e, json_tree(e.{quote(column)}) AS t ORDER BY p, t.type"
    ).fetchall()
    declared = paths(node)
    for path, json_type in found:
        reason = misfit(declared, path, json_type)
        if reason is not None:
            raise _refusal(table, column + path[1:], reason, _example(con, table, column, path))


def _holds(con: duckdb.DuckDBPyConnection, table: Table, condition: str) -> bool:
    found = con.execute(f"SELECT count(*) FROM {table.sql} WHERE {condition}").fetchone()
    return bool(found and found[0])


def _uid_where(con: duckdb.DuckDBPyConnection, table: Table, condition: str) -> str | None:
    found = con.execute(f"SELECT {UID} FROM {table.sql} WHERE {condition} LIMIT 1").fetchone()
    return None if found is None or found[0] is None else str(found[0])


def _example(con: duckdb.DuckDBPyConnection, table: Table, column: str, path: str) -> str | None:
    found = con.execute(
        f"SELECT {UID} FROM {table.sql} AS e, json_tree(e.{quote(column)}) AS t WHERE "
        f"regexp_replace(t.fullkey, {literal(_ARRAY_INDEX)}, '[]', 'g') = ? LIMIT 1",
        [path],
    ).fetchone()
    return None if found is None or found[0] is None else str(found[0])


def _refusal(table: Table, where: str, reason: str, uid: str | None = None) -> ExportError:
    event = f" (metadata.uid {uid})" if uid else ""
    return ExportError(
        f"{table.kind.stream}: {where}{event} {reason}, so its Parquet schema has no place "
        "for it: nothing was exported. Fix the mapper, or leave the class out with --class"
    )
