"""The DuckDB file: open it, keep each table in step with its stream's schema, load batches.

Batches arrive as newline-delimited JSON files and are read by DuckDB's ``read_json`` with every
column's type given (``columns=``): nothing is sniffed, so no row is taken for a header and no
type is guessed. An upsert is a ``DELETE`` of the batch's keys and an ``INSERT`` of its rows,
inside the caller's transaction, so a reader sees either the old rows or the new ones. Tables
have no PRIMARY KEY: DuckDB's index made the same upsert 2-4x slower (``INSERT OR REPLACE``,
measured on 100,000 rows) and forbids retyping a key column; the loader keeps keys unique
itself (each batch is de-duplicated before it is loaded).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from tap_proofpoint_tap.errors import LoadError
from tap_proofpoint_tap.targets.duckdb.columns import fold, literal, loaded, plan, quote, struct
from tap_proofpoint_tap.targets.duckdb.messages import first_line, lock_holder

if TYPE_CHECKING:
    from collections.abc import Iterator

_DEFAULT_OBJECT_SIZE = 16 * 1024 * 1024  # read_json's own limit, kept for ordinary batches
# Each table's comment names the stream it holds, so a later run can tell a stream whose name
# makes the same table (a-b, then a.b) from the one that made it.
HOLDS = "target-duckdb-proofpoint stream: "


class Database:
    """One read-write connection to the file for the whole run (DuckDB lets one process hold a
    file for writing)."""

    def __init__(self, path: str, schema: str) -> None:
        self.path, self.schema = path, schema
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(path)
        except duckdb.IOException as error:
            holder = lock_holder(error)
            raise LoadError(
                f"DuckDB file {path} is locked by {holder}: stop that process (dbt, a notebook, "
                "the DuckDB UI) or set filepath to another file; nothing was loaded."
                if holder
                else f"Cannot open DuckDB file {path}: {first_line(error)}"
            ) from None
        except duckdb.Error as error:
            raise LoadError(
                f"Cannot open DuckDB file {path}: {first_line(error)} (is it a DuckDB database?)"
            ) from None
        self.con.execute("SET TimeZone = 'UTC'")  # a time without offset is UTC
        self.con.execute("SET checkpoint_threshold = '1GB'")
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")

    def table(self, name: str) -> str:
        return f"{quote(self.schema)}.{quote(name)}"

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def columns(self, name: str) -> dict[str, str]:
        """The table's columns and types, in order (empty when there is no such table)."""
        return dict(
            self.con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
                "current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index",
                [self.schema, name],
            ).fetchall()
        )

    def holder(self, name: str) -> str | None:
        """The stream an earlier run recorded for table ``name`` (as DuckDB matches names), or
        None (no such table, or one another program made)."""
        for table, comment in self.con.execute(
            "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = "
            "current_database() AND schema_name = ?",
            [self.schema],
        ).fetchall():
            if fold(table) == fold(name) and (comment or "").startswith(HOLDS):
                return str(comment)[len(HOLDS) :]
        return None

    def ensure(self, name: str, wanted: dict[str, str], stream: str) -> dict[str, str]:
        """Create the table (recording that it holds ``stream``), or add and widen its columns
        for ``wanted``; its columns after."""
        existing = self.columns(name)
        if not existing:
            body = ", ".join(f"{quote(c)} {t}" for c, t in wanted.items())
            self.con.execute(f"CREATE TABLE {self.table(name)} ({body})")
        if self.holder(name) is None:  # made now, or by another program: this stream's now
            self.con.execute(f"COMMENT ON TABLE {self.table(name)} IS {literal(HOLDS + stream)}")
        if not existing:
            return dict(wanted)
        add, retype = plan(existing, wanted)
        for column, kind in add.items():
            self.con.execute(f"ALTER TABLE {self.table(name)} ADD COLUMN {quote(column)} {kind}")
        for column, kind in retype.items():
            self.con.execute(f"ALTER TABLE {self.table(name)} ALTER {quote(column)} TYPE {kind}")
        return self.columns(name) if add or retype else existing

    def empty(self, name: str) -> None:
        self.con.execute(f"DELETE FROM {self.table(name)}")

    def load(
        self, name: str, types: dict[str, str], rows: Path, keys: tuple[str, ...], longest: int
    ) -> None:
        """Insert the rows of the file ``rows`` (its longest line ``longest`` bytes); with
        ``keys``, first delete the table's rows that have the same key (the batch holds each
        key once)."""
        size = max(_DEFAULT_OBJECT_SIZE, longest + 1)  # DuckDB refuses a longer record
        read = (
            f"read_json({literal(str(rows))}, format = 'newline_delimited', "
            f"columns = {struct(types)}, maximum_object_size = {size})"
        )
        names = ", ".join(map(quote, types))
        converted = ", ".join(f"{loaded(c, t)} AS {quote(c)}" for c, t in types.items())
        read = f"(SELECT {converted} FROM {read})"
        if keys:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE batch AS SELECT * FROM {read}")
            match = " AND ".join(f"t.{quote(k)} IS NOT DISTINCT FROM b.{quote(k)}" for k in keys)
            self.con.execute(f"DELETE FROM {self.table(name)} AS t USING batch AS b WHERE {match}")
            read = "batch"
        self.con.execute(f"INSERT INTO {self.table(name)} ({names}) SELECT {names} FROM {read}")

    def close(self) -> None:
        self.con.close()
