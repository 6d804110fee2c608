"""target-duckdb-proofpoint against hostile input (issue 24), run as users run it: Singer lines
piped into the console script. Names that would share a table or a column, records without a
key, and broken lines each stop the run in one line, exit 1, no traceback; what was committed
before stays, no batch file is left behind, and the run with the input fixed loads everything
once. The property-based versions of these classes are in tests/test_fuzz_duckdb.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import TYPE_CHECKING

import pytest

from tests.helpers import duckdb_connect
from tests.test_target_duckdb import TARGET, errors, record, state, states

if TYPE_CHECKING:
    from pathlib import Path

TEXT = {"type": ["string", "null"]}
PROPS = {
    "id": {"type": ["string", "null"]},
    "n": {"type": ["number", "null"]},
    "seen_at": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "o": {"type": ["object", "null"]},
}


def schema(stream: str, props: dict) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"properties": props},
        "key_properties": ["id"],
    }


def feed(tmp_path: Path, lines: list, **config) -> subprocess.CompletedProcess:
    """Run the loader on ``lines`` (messages, or raw text sent as is); its scratch files go
    to ``tmp_path/scratch``, which must be empty afterwards."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"filepath": str(tmp_path / "w.duckdb"), **config}))
    proc = subprocess.run(
        [TARGET, "--config", str(path)],
        capture_output=True,
        text=True,
        input="".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in lines),
        env={**os.environ, "TMPDIR": str(scratch)},
        timeout=120,
    )
    assert list(scratch.iterdir()) == [], "a batch file (record data) was left behind"
    return proc


def one_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    (line,) = errors(proc)
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def table(tmp_path: Path, name: str) -> list[tuple]:
    with duckdb_connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return con.execute(f"select * from main.{name} order by all").fetchall()


def tables(tmp_path: Path) -> list[str]:
    with duckdb_connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return sorted(
            t for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()
        )


# -- 1. names that would share a table or a column ---------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        ("a-b", "a.b", "a_b"),
        ("a_b", "A_B", "a_b"),
        ("Émile", "émile", None),
        ("привет", "мир", None),
    ],
)
def test_streams_whose_names_make_one_table_are_refused_or_kept_apart(
    tmp_path, first, second, shared
):
    """Names that differ in what the table name keeps (letters of any script, digits, _; DuckDB
    ignores ASCII case only) get a table each; the others are refused naming both streams."""
    lines = [
        schema(first, {"id": TEXT}),
        schema(second, {"id": TEXT}),
        record(first, id="from the first"),
        record(second, id="from the second"),
        state(1),
    ]
    proc = feed(tmp_path, lines)
    if shared is None:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert table(tmp_path, f'"{first}"') == [("from the first",)]
        assert table(tmp_path, f'"{second}"') == [("from the second",)]
        return
    one_error(proc, f"Streams {first!r} and {second!r} would both load into table {shared}")
    assert proc.stdout == ""
    renamed = {"stream_maps": {second: {"__alias__": "second"}}}
    assert feed(tmp_path, lines, **renamed).returncode == 0
    assert table(tmp_path, "second") == [("from the second",)]
    assert table(tmp_path, shared) == [("from the first",)]


def test_a_stream_whose_name_makes_a_table_an_earlier_run_filled_is_refused(tmp_path):
    """Each table records the stream it holds: a-b's table is not a.b's in a later run."""
    assert (
        feed(tmp_path, [schema("a-b", {"id": TEXT}), record("a-b", id="from a-b")]).returncode == 0
    )
    later = [schema("a.b", {"id": TEXT}), record("a.b", id="from a.b")]
    one_error(
        feed(tmp_path, later),
        "Table main.a_b holds stream 'a-b', loaded by an earlier run; stream 'a.b' would load",
    )
    assert table(tmp_path, "a_b") == [("from a-b",)]
    assert feed(tmp_path, later, stream_maps={"a.b": {"__alias__": "ab"}}).returncode == 0
    assert table(tmp_path, "ab") == [("from a.b",)]
    assert feed(tmp_path, [schema("a-b", {"id": TEXT}), record("a-b", id="again")]).returncode == 0
    assert table(tmp_path, "a_b") == [("again",), ("from a-b",)]


def test_hostile_stream_and_property_names_load_into_their_own_columns(tmp_path):
    long = "s" * 300
    odd = {
        "id": TEXT,
        'say "hi"': TEXT,
        "tab\there": TEXT,
        "nul\x00": TEXT,
        "Émile": TEXT,
        "émile": TEXT,
    }
    row = {name: f"value of {name}" for name in odd}
    proc = feed(tmp_path, [schema(long, odd), record(long, **row), state(1)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    with duckdb_connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        cursor = con.execute(f"select * from main.{long}")
        assert dict(zip([c[0] for c in cursor.description], cursor.fetchone(), strict=True)) == row


def test_properties_duckdb_takes_for_one_column_are_refused(tmp_path):
    proc = feed(
        tmp_path, [schema("s", {"id": TEXT, "a_b": TEXT, "A_B": TEXT}), record("s", id="1")]
    )
    one_error(
        proc, "Stream s declares properties 'a_b' and 'A_B', which DuckDB takes for one column"
    )


# -- 2. records without a key value ------------------------------------------------------------


def test_records_whose_key_is_null_are_refused_and_append_only_keeps_each(tmp_path):
    lines = [
        schema("s", {"id": TEXT, "v": TEXT}),
        record("s", id="k", v="keyed"),
        state(1),
        record("s", id=None, v="first"),
        record("s", id=None, v="second"),
        state(2),
    ]
    proc = feed(tmp_path, lines, batch_size_rows=1)
    one_error(proc, "A s record (line 4) has no value for its key (id)", "append-only")
    assert states(proc) == [state(1)["value"]]
    assert table(tmp_path, "s") == [("k", "keyed")]
    assert feed(tmp_path, lines, load_method="append-only").returncode == 0
    assert table(tmp_path, "s") == [
        ("k", "keyed"),
        ("k", "keyed"),
        (None, "first"),
        (None, "second"),
    ]


# -- 3. lines the loader cannot load -----------------------------------------------------------

DEEP = 100_000
HUGE = 5_000_000


@pytest.mark.parametrize(
    ("bad", "config", "needles"),
    [
        (
            record("other", id="x"),
            {},
            ["Line 4 ", "a RECORD of stream 'other' comes before any SCHEMA"],
        ),
        (
            '{"type": "RECORD", "stream": "s", "record": {"id": "' + "x" * HUGE,
            {},
            ["Line 4 ", "is not JSON", f"({HUGE + 52:,} bytes)"],
        ),
        (
            '{"type": "STATE", "value": nope}',
            {},
            ["Line 4 ", "is not JSON", '\'{"type": "STATE", "value": nope}\''],
        ),
        ("[1, 2]", {}, ["Line 4 ", "it is JSON list, not a Singer message"]),
        (
            '{"type": "RECORD", "stream": "s", "record": {"id": "3", "n": 1e400}}',
            {},
            ["key '3', line 4", "Number out of range - at `$.n`"],
        ),
        (
            '{"type": "RECORD", "stream": "s", "record": {"id": "3", "n": 1e400}}',
            {"validate_records": False},
            ["record '3': n holds \"1e400\", which cannot be loaded as a finite number"],
        ),
        (
            '{"type": "RECORD", "stream": "s", "record": {"id": "3", "o": '
            + '{"a": ' * DEEP
            + "1"
            + "}" * DEEP
            + "}}",
            {},
            ["Line 4 ", "nested deeper than this loader can read"],
        ),
        (
            record("s", id="3", seen_at="epoch"),
            {},
            ["record '3': seen_at holds \"epoch\", which cannot be loaded as a date-time"],
        ),
        (
            record("s", id="3", seen_at="infinity"),
            {"validate_records": False},
            ['seen_at holds "infinity"'],
        ),
        (
            record("s", id="3", day="2026-03-04T10:11:12Z"),
            {},
            [
                "record '3': day holds \"2026-03-04T10:11:12Z\", which cannot be loaded as a date (without a time)"
            ],
        ),
        (
            '{"type": "RECORD", "stream": "s", "record": 5}',
            {"validate_records": False},
            ["A s record (key (unreadable), line 4) cannot be read"],
        ),
        (
            record("s", id="3", seen_at="soon"),
            {},
            ["record '3'", "Nothing of this batch was committed"],
        ),
    ],
    ids=[
        "record-before-schema",
        "malformed-line",
        "state-not-json",
        "not-an-object",
        "1e400",
        "1e400-unvalidated",
        "too-deep",
        "epoch",
        "infinity-unvalidated",
        "date-time-in-a-date",
        "unreadable-unvalidated",
        "failed-load-leaves-no-batch-file",
    ],
)
def test_a_line_it_cannot_load_stops_the_run_in_one_line_and_the_fixed_rerun_loads(
    tmp_path, bad, config, needles
):
    good = [schema("s", PROPS), record("s", id="1", n=1.5), state(1), record("s", id="2"), state(2)]
    proc = feed(tmp_path, [*good[:3], bad, *good[3:]], batch_size_rows=1, **config)
    line = one_error(proc, *needles)
    assert "validate_records" not in line or config.get("validate_records", True)
    assert len(proc.stderr) < 20_000  # the line is never echoed whole
    assert states(proc) == [state(1)["value"]]  # nothing after the bad line is confirmed
    assert [r[0] for r in table(tmp_path, "s")] == ["1"]
    assert feed(tmp_path, good, batch_size_rows=1, **config).returncode == 0
    assert [r[0] for r in table(tmp_path, "s")] == ["1", "2"]


def test_a_record_of_40_mb_and_one_nested_1000_deep_load_whole(tmp_path):
    """DuckDB's read_json refuses records over its maximum_object_size (16 MB; the error named
    the batch file); the loader raises the limit to the batch's longest record."""
    big, deep = "x" * (40 * 1024 * 1024), json.loads('{"a": ' * 1000 + "1" + "}" * 1000)
    proc = feed(
        tmp_path,
        [schema("s", PROPS), record("s", id="big", o={"big": big}), record("s", id="deep", o=deep)],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with duckdb_connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        loaded = dict(con.execute("select id, o::varchar from main.s").fetchall())
    assert json.loads(loaded["big"]) == {"big": big} and json.loads(loaded["deep"]) == deep


# -- 4. the loader's own --config --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [('{"filepath": ', "is not valid JSON"), ("[1]", "does not hold a JSON object")],
)
def test_a_broken_config_file_is_one_line(tmp_path, text, needle):
    path = tmp_path / "broken.json"
    path.write_text(text)
    proc = subprocess.run(
        [TARGET, "--config", str(path)], capture_output=True, text=True, input="", timeout=60
    )
    one_error(proc, f"The --config file {path} {needle}")
