"""Fuzzed input for target-duckdb-proofpoint (issue 24): hostile stream and property names,
malformed lines, extreme numbers and depths, driven in-process through the loader's reader.

Each property says: the loader either loads every value where it belongs, or stops with ONE
line (a LoadError, which the CLI prints as its one line, exit 1) that names what to fix, and
then nothing of the run is in the file and no batch file is left. Any other exception fails.
tests/test_duckdb_hostile.py runs the same classes through the CLI, one example each.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import tempfile
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytest.importorskip("duckdb")  # the duckdb extra, which Python 3.10 lacks

from tap_proofpoint_tap.errors import LoadError
from tap_proofpoint_tap.targets.duckdb.target import TargetDuckDB
from tests.helpers import duckdb_connect

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.fast

# Each example opens a DuckDB file: a tenth of the profile's examples (40 derandomised, 500
# under `make fuzz`).
EXAMPLES = max(10, (settings.default.max_examples or 100) // 10)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RUNS = itertools.count()

# Names: what a tap could send, and what breaks identifiers, file names and msgspec renames.
name_parts = st.sampled_from(
    ["a", "A", "b", "_", "-", ".", " ", "É", "é", "ß", "Ж", "ж", "ǅ", '"', "'", "\\", "\n",
     "\x00", "\x07", "\u202e", "😀", "1", "x" * 150]
)  # fmt: skip
names = st.lists(name_parts, min_size=1, max_size=6).map("".join)
TEXT = {"type": ["string", "null"]}


def schema(stream: str, props: dict, keys: tuple[str, ...] = ("id",)) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"properties": props},
        "key_properties": list(keys),
    }


def record(stream: str, **row) -> dict:
    return {"type": "RECORD", "stream": stream, "record": row}


def load(tmp_path: Path, lines: list, **config) -> tuple[LoadError | None, Path]:
    """The loader on ``lines`` (messages, or bytes sent as they are), in-process as the CLI
    runs it; the error it stopped with, if any, checked to be one line that names a fault."""
    run = tmp_path / f"run{next(RUNS)}"
    scratch = run / "scratch"
    scratch.mkdir(parents=True)
    data = b"".join((m if isinstance(m, bytes) else json.dumps(m).encode()) + b"\n" for m in lines)
    target = TargetDuckDB(config={"filepath": str(run / "w.duckdb"), **config})
    tempdir, tempfile.tempdir = tempfile.tempdir, str(scratch)
    try:
        target.listen(io.BytesIO(data))  # type: ignore[arg-type]
        error = None
    except LoadError as refused:
        error = refused
        message = str(refused)
        assert "\n" not in message and len(message) < 1500, message
    finally:
        tempfile.tempdir = tempdir
        if target.database is not None:
            target.database.close()
    assert list(scratch.iterdir()) == [], "a batch file (record data) was left behind"
    return error, run / "w.duckdb"


def contents(path: Path) -> dict[str, list[dict]]:
    """Every table of the file: its rows as dicts of column → value."""
    if not path.exists():
        return {}
    with duckdb_connect(path, read_only=True) as con:
        found = {}
        for (table,) in con.execute("select table_name from duckdb_tables()").fetchall():
            cursor = con.execute(f'select * from "{table.replace(chr(34), chr(34) * 2)}"')
            columns = [c[0] for c in cursor.description]
            found[table] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return found


def rows_of(path: Path) -> list[dict]:
    return [row for rows in contents(path).values() for row in rows]


@FUZZ
@given(first=names, second=names)
@example(first="a-b", second="a.b")
@example(first="a_b", second="A_B")
@example(first="Émile", second="émile")
@example(first="привет", second="мир")
@example(first="x" * 300, second="y")
@example(first="aa___a", second="aa__\na")
def test_two_streams_never_share_a_table_silently(tmp_path, first, second):
    """Each stream's rows land in a table of their own, or the run is refused naming both."""
    if first == second:
        return
    lines = [
        schema(first, {"id": TEXT}),
        schema(second, {"id": TEXT}),
        record(first, id="first"),
        record(second, id="second"),
    ]
    error, path = load(tmp_path, lines)
    if error is None:
        tables = {table: [r["id"] for r in rows] for table, rows in contents(path).items()}
        assert sorted(tables.values()) == [["first"], ["second"]]
    else:
        assert f"Streams {first!r} and {second!r} would both load into table" in str(error)
        assert rows_of(path) == []


@FUZZ
@given(props=st.lists(names, min_size=1, max_size=4, unique=True))
@example(props=['say "hi"', "tab\there", "nul\x00", "back\\slash"])
@example(props=["Émile", "émile"])
@example(props=["a_b", "A_B"])
def test_any_property_names_keep_each_value_in_its_column(tmp_path, props):
    row = {"id": "k", **{name: f"value {n}" for n, name in enumerate(props)}}
    if len(row) <= len(props):  # a property named id
        return
    error, path = load(tmp_path, [schema("s", dict.fromkeys(row, TEXT)), record("s", **row)])
    if error is None:
        assert rows_of(path) == [row]
    else:
        assert "which DuckDB takes for one column" in str(error), error
        assert any(a != b and a.lower() == b.lower() for a in row for b in row), error
        assert rows_of(path) == []


# Lines: a valid run, then one line mangled.
VALID = [
    schema("s", {"id": TEXT, "n": {"type": ["number", "null"]}, "o": {}}),
    record("s", id="1", n=1.5, o={"a": [1, None]}),
    {"type": "STATE", "value": {"bookmarks": {"s": 1}}},
    record("s", id="2", n=None, o="text"),
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
mangled = st.one_of(
    st.binary(max_size=40),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda message, key, value: json.dumps({**message, key: value}).encode(),
        st.sampled_from(VALID),
        st.sampled_from(["type", "stream", "record", "schema", "key_properties", "value"]),
        json_values,
    ),
)


@FUZZ
@given(at=st.integers(0, len(VALID) - 1), cut=st.integers(0, 200), line=mangled)
@example(at=1, cut=0, line=b'{"type": "STATE", "value": nope}')
@example(at=1, cut=0, line=b'{"type": "RECORD", "stream": "other", "record": {}}')
@example(at=3, cut=0, line=b'{"type": "RECORD", "stream": "s", "record": {"id": null}}')
@example(at=0, cut=0, line=b'{"type": "SCHEMA", "stream": "s", "schema": {"properties": 5}}')
def test_a_malformed_line_is_loaded_or_refused_in_one_line(tmp_path, at, cut, line):
    """One line replaced (or the valid line cut short): either the run loads, or it stops at
    that line, naming it or the record, with nothing loaded."""
    lines: list = [json.dumps(m).encode() for m in VALID]
    lines[at] = line if cut == 0 else lines[at][:cut]
    error, path = load(tmp_path, lines)
    if error is not None:
        assert rows_of(path) == []


# Numbers as a tap may write them, a double's range and beyond included.
number_texts = st.one_of(
    st.sampled_from(["1e400", "-1e400", "1e-400", "1E+308", "-0", "0.1", "4.9e-324"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@FUZZ
@given(text=number_texts, kind=st.sampled_from(["number", "integer", None]), check=st.booleans())
@example(text="1e400", kind="number", check=False)
@example(text="1e400", kind=None, check=True)
@example(text="1e-400", kind=None, check=True)
@example(text=str(2**63), kind="integer", check=True)
def test_an_extreme_number_is_loaded_as_its_value_or_refused(tmp_path, text, kind, check):
    """Never an infinity for a number out of range, never a wrapped integer: the value, the
    nearest double for a ``number``, or one line naming the record."""
    prop = {"type": [kind, "null"]} if kind else {}
    line = f'{{"type": "RECORD", "stream": "s", "record": {{"id": "1", "v": {text}}}}}'.encode()
    error, path = load(
        tmp_path, [schema("s", {"id": TEXT, "v": prop}), line], validate_records=check
    )
    whole = text.lstrip("-").isdigit()
    if error is not None:
        assert "'1'" in str(error), error
        assert rows_of(path) == []
        assert (
            kind is None
            or not math.isfinite(float(text))
            or (kind == "integer" and (not whole or abs(int(text)) >= 2**63))
        ), error
        return
    (row,) = rows_of(path)
    value = row["v"]
    if kind is None:  # a JSON column holds the number (floats as the nearest double)
        assert json.loads(value) == json.loads(text)
    elif kind == "number":
        assert math.isfinite(value) and value == float(text)
    elif whole:
        assert value == int(text)
    else:  # a fraction in an integer column: only unchecked records get DuckDB's cast
        assert not check


@settings(FUZZ, max_examples=max(3, EXAMPLES // 4))
@given(depth=st.integers(1, 200_000), brackets=st.sampled_from(["[]", "{}"]))
@example(depth=1000, brackets="{}")
@example(depth=100_000, brackets="[]")
def test_any_depth_is_loaded_whole_or_refused(tmp_path, depth, brackets):
    opening = "[" if brackets == "[]" else '{"a":'
    nested = opening * depth + "1" + brackets[1] * depth
    line = f'{{"type": "RECORD", "stream": "s", "record": {{"id": "1", "o": {nested}}}}}'
    error, path = load(tmp_path, [schema("s", {"id": TEXT, "o": {}}), line.encode()])
    if error is not None:
        assert "nested deeper than this loader can read" in str(error), error
        assert rows_of(path) == []
        return
    (row,) = rows_of(path)
    assert row["o"] == nested
