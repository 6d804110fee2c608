"""target-duckdb-proofpoint as users run it: Singer messages on stdin, a DuckDB file out.

Each test runs the console script on hand-built messages and reads the file afterwards; the
pipeline through Meltano is in test_meltano.py and test_faults.py, the column rule without a
database in test_duckdb_columns.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import duckdb_connect

TARGET = str(Path(sys.executable).parent / "target-duckdb-proofpoint")
TEXT = {"type": ["string", "null"]}
TEXT_SCHEMA = {"properties": {"id": {"type": "string"}, "address": TEXT, "source": TEXT}}
TYPED_SCHEMA = {
    "properties": {
        "id": {"type": "string"},
        "n": {"type": ["integer", "null"]},
        "score": {"type": ["number", "null"]},
        "ok": {"type": ["boolean", "null"]},
        "seen_at": {"type": ["string", "null"], "format": "date-time"},
        "to": {"type": ["array", "null"], "items": {"type": "string"}},
        "parts": {"type": ["array", "null"], "items": {"type": "object"}},
        "extra": {
            "type": ["object", "null"],
            "properties": {"k": {"type": "array", "items": {"type": "integer"}}},
        },
    }
}


def schema(stream: str, props: dict, keys=("id",)) -> dict:
    return {"type": "SCHEMA", "stream": stream, "schema": props, "key_properties": list(keys)}


def record(stream: str, **row) -> dict:
    return {"type": "RECORD", "stream": stream, "record": row}


def state(n: int) -> dict:
    return {"type": "STATE", "value": {"bookmarks": {"s": {"n": n}}}}


def text_row(i: int, tag: str = "") -> dict:
    return record("emails", id=f"e{i}", address=f"user{i}@acme.example{tag}", source="tap")


def typed_row(i: int) -> dict:
    return record(
        "events",
        id=f"t{i}",
        n=i,
        score=i / 4,
        ok=i % 2 == 0,
        seen_at=f"2026-11-30T10:{i % 60:02d}:00.250Z",
        to=[f"a{i}@x.example", "b@x.example"],
        parts=[{"md5": f"{i:032x}", "size": i}],
        extra={"k": [i]},
    )


def run(tmp_path: Path, messages: list[dict], **config) -> subprocess.CompletedProcess:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "filepath": str(tmp_path / "w.duckdb"),
                "default_target_schema": "proofpoint",
                **config,
            }
        )
    )
    return subprocess.run(
        [TARGET, "--config", str(path)],
        capture_output=True,
        text=True,
        input="".join(json.dumps(m) + "\n" for m in messages),
        timeout=120,
    )


def rows(tmp_path: Path, sql: str) -> list[tuple]:
    with duckdb_connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def states(proc: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def errors(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if "| ERROR" in line]


# -- loading --


@pytest.mark.parametrize("batch", [1, 7, 25, 10_000])
def test_every_row_of_every_stream_is_loaded_whatever_the_batch_size(tmp_path, batch):
    """All-text and typed tables, batches smaller and larger than batch_size_rows: no row is
    taken for a header, none is lost, every value is as sent."""
    messages = [schema("emails", TEXT_SCHEMA), schema("events", TYPED_SCHEMA)]
    for i in range(60):
        messages += [text_row(i), typed_row(i)]
        if i % 9 == 0:
            messages.append(state(i))
    proc = run(tmp_path, messages, batch_size_rows=batch)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = rows(tmp_path, "select id, address, source from proofpoint.emails order by id")
    assert sorted(got) == sorted((f"e{i}", f"user{i}@acme.example", "tap") for i in range(60))
    typed = {
        r[0]: r[1:]
        for r in rows(
            tmp_path,
            "select id, n, score, ok, strftime(seen_at, "
            "'%Y-%m-%dT%H:%M:%S.%gZ'), \"to\", parts::varchar, "
            "(extra->'k'->>0)::int from proofpoint.events",
        )
    }
    assert len(typed) == 60
    for i in range(60):
        assert typed[f"t{i}"] == (
            i,
            i / 4,
            i % 2 == 0,
            f"2026-11-30T10:{i % 60:02d}:00.250Z",
            [f"a{i}@x.example", "b@x.example"],
            json.dumps([{"md5": f"{i:032x}", "size": i}], separators=(",", ":")),
            i,
        )
    assert states(proc)[-1] == state(54)["value"]


def test_a_key_read_again_replaces_its_row_within_and_across_batches(tmp_path):
    first = [schema("emails", TEXT_SCHEMA), *(text_row(i) for i in range(10))]
    again = [
        text_row(5, ".v2"),
        text_row(6, ".v2"),
        text_row(7, ".v2"),
        text_row(7, ".v3"),
        *(text_row(i, ".v2") for i in range(8, 15)),
    ]  # e7 twice in one batch of 4
    assert run(tmp_path, first, batch_size_rows=4).returncode == 0
    proc = run(tmp_path, [schema("emails", TEXT_SCHEMA), *again], batch_size_rows=4)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert rows(tmp_path, "select count(*), count(distinct id) from proofpoint.emails") == [
        (15, 15)
    ]
    got = dict(rows(tmp_path, "select id, address from proofpoint.emails"))
    assert got["e1"] == "user1@acme.example" and got["e6"] == "user6@acme.example.v2"
    assert got["e7"] == "user7@acme.example.v3"


def test_append_only_and_overwrite(tmp_path):
    batch = [schema("emails", TEXT_SCHEMA), *(text_row(i) for i in range(6))]
    run(tmp_path, batch, load_method="append-only")
    run(tmp_path, batch, load_method="append-only")
    assert rows(tmp_path, "select count(*), count(distinct id) from proofpoint.emails") == [(12, 6)]
    proc = run(
        tmp_path,
        [schema("emails", TEXT_SCHEMA), text_row(1), text_row(2)],
        load_method="overwrite",
        batch_size_rows=1,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(rows(tmp_path, "select id from proofpoint.emails")) == [("e1",), ("e2",)]


def test_a_new_schema_adds_columns_and_widens_types(tmp_path):
    v1 = {"properties": {"id": {"type": "string"}, "n": {"type": ["integer", "null"]}}}
    v2 = {
        "properties": {
            **v1["properties"],
            "n": {"type": ["number", "null"]},
            "label": TEXT,
            "tags": {"type": "array", "items": {"type": "string"}},
        }
    }
    proc = run(
        tmp_path,
        [
            schema("s", v1),
            record("s", id="a", n=1),
            state(1),
            schema("s", v2),
            record("s", id="b", n=2.5, label="x", tags=["t"]),
        ],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert rows(
        tmp_path,
        "select column_name, data_type from duckdb_columns() where "
        "table_name = 's' order by column_index",
    ) == [("id", "VARCHAR"), ("n", "DOUBLE"), ("label", "VARCHAR"), ("tags", "VARCHAR[]")]
    assert rows(tmp_path, "select * from proofpoint.s order by id") == [
        ("a", 1.0, None, None),
        ("b", 2.5, "x", ["t"]),
    ]


def test_tables_pypi_target_duckdb_made_take_new_rows(tmp_path):
    """Lower-case column names and TIMESTAMP columns (as PyPI's target-duckdb 0.8.0 made them)
    are reused as they are: nothing is retyped, nothing is added twice."""
    with duckdb_connect(str(tmp_path / "w.duckdb")) as con:
        con.execute(
            "create schema proofpoint; create table proofpoint.events (id varchar, "
            'n bigint, score double, ok boolean, seen_at timestamp, "to" json, parts json, '
            "extra json)"
        )
        con.execute("insert into proofpoint.events (id, n) values ('old', 1)")
    proc = run(tmp_path, [schema("events", TYPED_SCHEMA), typed_row(3)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert rows(
        tmp_path,
        "select data_type from duckdb_columns() where table_name = 'events' "
        "and column_name = 'seen_at'",
    ) == [("TIMESTAMP",)]
    assert rows(
        tmp_path, 'select id, seen_at::varchar, "to"::varchar from proofpoint.events order by id'
    ) == [("old", None, None), ("t3", "2026-11-30 10:03:00.25", '["a3@x.example","b@x.example"]')]


def test_stream_maps_and_flattening_take_the_sdks_path(tmp_path):
    messages = [schema("events", TYPED_SCHEMA), *(typed_row(i) for i in range(5))]
    proc = run(
        tmp_path,
        messages,
        flattening_enabled=True,
        flattening_max_depth=1,
        stream_maps={"events": {"score": "__NULL__", "n2": "int(n * 2)"}},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = rows(
        tmp_path,
        "select id, n2, extra__k, strftime(seen_at, '%M:%S.%g') from proofpoint.events order by id",
    )
    assert got == [(f"t{i}", 2 * i, json.dumps([i]), f"{i:02d}:00.250") for i in range(5)]
    assert "score" not in {
        c
        for (c,) in rows(
            tmp_path, "select column_name from duckdb_columns() where table_name = 'events'"
        )
    }


@pytest.mark.parametrize("emails", [0, 1])
def test_a_stream_without_records_still_gets_its_table(tmp_path, emails):
    proc = run(
        tmp_path,
        [
            schema("emails", TEXT_SCHEMA),
            schema("events", TYPED_SCHEMA),
            *(text_row(i) for i in range(emails)),
            state(1),
        ],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert rows(tmp_path, "select count(*) from proofpoint.events") == [(0,)]
    assert rows(tmp_path, "select count(*) from proofpoint.emails") == [(emails,)]
    assert states(proc) == [state(1)["value"]]


# -- the bookmark is never ahead of a committed row --


@pytest.mark.parametrize("kill_after", [1, 3, 6])
def test_every_state_it_writes_covers_only_committed_rows(tmp_path, kill_after):
    """SIGKILL right after the k-th STATE the target writes: every record that came before that
    STATE on stdin is in the file (a STATE written before its COMMIT would fail this)."""
    messages, before = [schema("emails", TEXT_SCHEMA)], {}
    for i in range(4000):
        messages.append(text_row(i))
        if i % 500 == 499:
            messages.append(state(i))
            before[json.dumps(state(i)["value"])] = i + 1
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "filepath": str(tmp_path / "w.duckdb"),
                "default_target_schema": "proofpoint",
                "batch_size_rows": 700,
            }
        )
    )
    proc = subprocess.Popen(
        [TARGET, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    feed = "".join(json.dumps(m) + "\n" for m in messages).encode()
    seen = []
    writer = threading.Thread(target=feed_until_killed, args=(proc, feed))
    writer.start()
    for line in proc.stdout:
        seen.append(json.loads(line))
        if len(seen) == kill_after:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    writer.join()
    for pipe in (proc.stdin, proc.stdout):
        with contextlib.suppress(BrokenPipeError):  # stdin's unsent bytes, after the kill
            pipe.close()
    assert len(seen) == kill_after
    loaded = rows(tmp_path, "select count(*), count(distinct id) from proofpoint.emails")[0]
    assert loaded[0] == loaded[1] >= before[json.dumps(seen[-1])]


def feed_until_killed(proc: subprocess.Popen, feed: bytes) -> None:
    try:
        proc.stdin.write(feed)
        proc.stdin.close()
    except BrokenPipeError:  # the kill came first
        pass


# -- what a user can get wrong: one line each, nothing lost --


def test_a_file_held_by_another_process_is_one_line(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb."
            f"connect({str(tmp_path / 'w.duckdb')!r}); print('ready', "
            "flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        proc = run(tmp_path, [schema("emails", TEXT_SCHEMA), text_row(1), state(1)])
    finally:
        holder.kill()
        holder.communicate()
    assert proc.returncode == 1
    assert proc.stdout == ""  # no STATE: the bookmark stays where it was
    (line,) = errors(proc)
    assert f"DuckDB file {tmp_path / 'w.duckdb'} is locked by" in line
    assert f"(PID {holder.pid})" in line and "set filepath to another file" in line
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("maps", "reason"),
    [
        ({}, "Expected `int | null`, got `str` - at `$.n`"),  # the short path's msgspec decoder
        ({"stream_maps": {"events": {"score": "__NULL__"}}}, "data.n must be integer or null"),
    ],
    ids=["short-path", "sdk-path"],
)
def test_a_record_that_breaks_its_schema_stops_the_run_in_one_line(tmp_path, maps, reason):
    proc = run(
        tmp_path,
        [
            schema("events", TYPED_SCHEMA),
            typed_row(1),
            state(1),
            {**typed_row(2), "record": {**typed_row(2)["record"], "n": "many"}},
            state(2),
        ],
        batch_size_rows=1,
        **maps,
    )
    assert proc.returncode == 1
    (line,) = errors(proc)
    assert f"A events record does not match its SCHEMA ({reason}; key 't2', line 4)" in line
    assert "Traceback" not in proc.stderr
    assert states(proc) == [state(1)["value"]]  # the bad record's STATE is not sent
    assert rows(tmp_path, "select id from proofpoint.events") == [("t1",)]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"id": "k1", "kind": "url"}, "Invalid enum value 'url' - at `$.kind`"),
        ({"kind": "URL"}, "Object missing required field `id`"),
        ({"id": "k1", "kind": None}, "Expected `str`, got `null` - at `$.kind`"),
    ],
)
def test_the_short_path_checks_enumerations_keys_and_nulls(tmp_path, row, reason):
    kinds = {
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["URL", "Email Address"]},
        }
    }
    proc = run(
        tmp_path,
        [schema("kinds", kinds), record("kinds", id="k0", kind="URL"), record("kinds", **row)],
    )
    assert proc.returncode == 1
    (line,) = errors(proc)
    assert f"A kinds record does not match its SCHEMA ({reason}; key " in line


def test_a_value_its_column_cannot_hold_rolls_the_batch_back(tmp_path):
    """Validation off: DuckDB refuses the value; the batch is not committed, no STATE."""
    proc = run(
        tmp_path,
        [
            schema("events", TYPED_SCHEMA),
            typed_row(1),
            state(1),
            {**typed_row(2), "record": {**typed_row(2)["record"], "seen_at": "soon"}},
            typed_row(3),
            state(3),
        ],
        validate_records=False,
        batch_size_rows=1,
    )
    assert proc.returncode == 1
    (line,) = errors(proc)
    assert re.split(r"\| ERROR +\| \S+ +\| ", line)[1].startswith(
        "Cannot load 1 events rows into proofpoint.events: record 't2': seen_at holds "
        '"soon", which cannot be loaded as a date-time.'
    )
    assert ".ndjson" not in line  # the batch file is the loader's business
    assert "Nothing of this batch was committed" in line and "Traceback" not in proc.stderr
    assert states(proc) == [state(1)["value"]]
    assert rows(tmp_path, "select id from proofpoint.events") == [("t1",)]


def test_readme_settings_table_equals_about():
    about = subprocess.run(
        [TARGET, "--about", "--format", "markdown"], capture_output=True, text=True, check=True
    ).stdout
    names = [
        line.split("|")[1].strip()
        for line in about.splitlines()
        if line.startswith("| ") and not line.startswith("| Setting")
    ]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Loading into DuckDB", 1)[1].split("\n## ", 1)[0]
    for name in (
        "filepath",
        "default_target_schema",
        "batch_size_rows",
        "load_method",
        "validate_records",
    ):
        assert name in names, name
        assert f"| {name} |" in section, name
