"""proofpoint-tap-security-lake: the OCSF tables of a DuckDB file as AWS Security Lake
custom-source Parquet, read back with DuckDB.

The DuckDB file is made as users make it, once for the module: the sandbox's traffic across a
UTC midnight, read by two runs of ``tap-proofpoint-tap | mapper-proofpoint-ocsf |
target-duckdb-proofpoint`` whose windows overlap (the tap's look-back), so events are loaded
twice and fall on two eventDays. What each test expects comes from the mapper's own output
(the last record of each metadata.uid the loader received), never from the exporter's SQL.
The layout and type rules also have fast tests without DuckDB (Python 3.10 too).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import pytest

from tap_proofpoint_tap.mappers.ocsf.streams import stream_schema
from tap_proofpoint_tap.mappers.ocsf.vocabulary import Class
from tap_proofpoint_tap.security_lake.layout import (
    LayoutError,
    Target,
    event_class,
    event_day,
    source_name,
)
from tap_proofpoint_tap.security_lake.shapes import (
    JSON,
    Fields,
    Items,
    Leaf,
    Shape,
    ddl,
    misfit,
    paths,
    shape,
    shapes,
)
from tests.helpers import (
    BIN,
    duckdb_connect,
    exclusive,
    session_folder,
    tap_config,
    traffic_sandbox,
)

SCRIPT = BIN / "proofpoint-tap-security-lake"
# The console script once the project is installed (make install); the same main() through
# its module where this checkout is not the one installed (a worktree run with PYTHONPATH).
EXPORT = (
    [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "tap_proofpoint_tap.security_lake"]
)
REGION, ACCOUNT = "eu-west-2", "123456789012"
TARGET = Target(REGION, ACCOUNT)
DAY_FOLDER = re.compile(r"eventDay=(\d{8})")


@dataclass
class Lake:
    """The session's DuckDB file, what the loader received, and one export of it (read only:
    tests write into their own folders)."""

    database: Path
    received: dict[Class, dict[str, dict]]  # per class: metadata.uid -> the last event loaded
    records: Counter[Class]  # events loaded, duplicates included
    output: Path

    def save(self, file: Path) -> None:
        saved = {
            kind.name: {"received": self.received[kind], "records": self.records[kind]}
            for kind in Class
        }
        file.write_text(json.dumps(saved))

    @classmethod
    def load(cls, folder: Path) -> Lake:
        saved = json.loads((folder / "lake.json").read_text())
        received = {kind: saved[kind.name]["received"] for kind in Class}
        records = Counter({kind: saved[kind.name]["records"] for kind in Class})
        return cls(folder / "lake.duckdb", received, records, folder / "security-lake")


def export(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EXPORT, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def exported(database: Path, output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = export("--database", database, "--output", output, "--region", REGION,
                  "--account-id", ACCOUNT, *extra)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    """Built once per session: the first pytest worker that needs it builds it, the others
    wait for it and read the same files."""
    folder = session_folder(tmp_path_factory) / "security-lake"
    with exclusive(folder.parent / "security-lake.lock"):
        if not (folder / "lake.json").exists():
            build_lake(folder).save(folder / "lake.json")
        return Lake.load(folder)


def build_lake(tmp: Path) -> Lake:
    tmp.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    midnight = (now - timedelta(hours=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = midnight - timedelta(hours=1), midnight + timedelta(hours=1)
    runs = ((start, midnight + timedelta(minutes=30)), (midnight, end))  # 30 minutes read twice
    database = tmp / "lake.duckdb"
    target = tmp / "target.json"
    target.write_text(
        json.dumps({"filepath": str(database), "default_target_schema": "proofpoint"})
    )
    received: dict[Class, dict[str, dict]] = {kind: {} for kind in Class}
    records: Counter[Class] = Counter()
    streams = {kind.stream: kind for kind in Class}
    with traffic_sandbox(28, 12, now - start + timedelta(hours=1)) as sandbox:
        for n, (first, last) in enumerate(runs):
            config = tmp / f"tap{n}.json"
            config.write_text(json.dumps(tap_config(sandbox, first, last)))
            events = tmp / f"ocsf{n}.jsonl"
            pipe = (
                f"'{BIN}/tap-proofpoint-tap' --config '{config}' | '{BIN}/mapper-proofpoint-ocsf' "
                f"| tee '{events}' | '{BIN}/target-duckdb-proofpoint' --config '{target}'"
            )
            proc = subprocess.run(
                ["bash", "-o", "pipefail", "-c", pipe], capture_output=True, text=True, timeout=300
            )
            assert proc.returncode == 0, proc.stderr[-3000:]
            for line in events.read_text().splitlines():
                message = json.loads(line)
                if message["type"] == "RECORD" and message["stream"] in streams:
                    kind = streams[message["stream"]]
                    event = without_nulls(message["record"], kind)
                    received[kind][event["metadata"]["uid"]] = event
                    records[kind] += 1
    output = tmp / "security-lake"
    exported(database, output)
    return Lake(database, received, records, output)


def files(folder: Path) -> dict[str, str]:
    """Every file under ``folder``: relative path -> sha256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def source_glob(output: Path, kind: Class) -> str:
    return str(output / TARGET.source(kind) / "**" / "*.parquet")


def restore(value, node: Shape):
    """A Parquet value as the mapper's event had it: JSON text parsed, nulls (the struct's
    attributes the event did not have) left out."""
    if value is None:
        return None
    if isinstance(node, Fields):
        kept = {k: restore(value[k], sub) for k, sub in node.fields}
        return {k: v for k, v in kept.items() if v is not None}
    if isinstance(node, Items):
        return [restore(v, node.item) for v in value]
    return json.loads(value) if node.kind == JSON else value


def without_nulls(event: dict, kind: Class) -> dict:
    """The event as a table row holds it: an attribute the mapper sent as null is one it did
    not send (a column or struct field has no other way to be empty); JSON text as sent."""

    def pruned(value, node: Shape):
        if isinstance(node, Fields) and isinstance(value, dict):
            kept = {k: pruned(value.get(k), sub) for k, sub in node.fields}
            return {k: v for k, v in kept.items() if v is not None} | {
                k: v
                for k, v in value.items()
                if k not in kept  # unknown: left to fail
            }
        if isinstance(node, Items) and isinstance(value, list):
            return [pruned(v, node.item) for v in value]
        return value

    return pruned(event, Fields(tuple(shapes(stream_schema(kind)).items())))


def read_back(output: Path, kind: Class) -> list[dict]:
    """The source's events from its Parquet files (the partition keys apart)."""
    declared = shapes(stream_schema(kind))
    with duckdb_connect(":memory:") as con:
        cursor = con.execute(
            "SELECT * EXCLUDE (region, accountId, eventDay) FROM "
            f"read_parquet('{source_glob(output, kind)}', hive_partitioning = true)"
        )
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    events = []
    for row in rows:
        event = {n: restore(v, declared[n]) for n, v in zip(names, row, strict=True)}
        events.append({k: v for k, v in event.items() if v is not None})
    return events


# -- the export: what Security Lake gets ---------------------------------------------------


@pytest.mark.parametrize("kind", list(Class), ids=lambda k: k.name_in_ocsf)
def test_each_event_once_as_loaded_last(lake, kind):
    """The Parquet holds each metadata.uid once, exactly the event the loader received last
    (nested objects and unmapped included), and nothing else."""
    events = read_back(lake.output, kind)
    uids = [e["metadata"]["uid"] for e in events]
    assert len(uids) == len(set(uids)) == len(lake.received[kind]) > 0
    written = {e["metadata"]["uid"]: e for e in events}
    assert written.keys() == lake.received[kind].keys()
    for uid, event in lake.received[kind].items():
        assert written[uid] == event, difference(written[uid], event)


def difference(got, wanted, at: str = "") -> str:
    """The first path where two events differ, and the two values there."""
    if isinstance(got, dict) and isinstance(wanted, dict):
        for key in sorted(got.keys() | wanted.keys()):
            if key not in got or key not in wanted:
                return f"{at}.{key}: only in {'the Parquet' if key in got else 'the mapper'}"
            if got[key] != wanted[key]:
                return difference(got[key], wanted[key], f"{at}.{key}")
    if isinstance(got, list) and isinstance(wanted, list) and len(got) == len(wanted):
        for n, (a, b) in enumerate(zip(got, wanted, strict=True)):
            if a != b:
                return difference(a, b, f"{at}[{n}]")
    return f"{at or '.'}: {got!r} != {wanted!r}"


def test_the_look_back_loaded_events_twice(lake):
    """The overlap of the two runs loaded clicks and messages twice: there were duplicates to
    leave out (the test above would pass without deduplication otherwise)."""
    for kind in (Class.EMAIL, Class.WEB):
        assert lake.records[kind] > len(lake.received[kind])
    with duckdb_connect(lake.database, read_only=True) as con:
        (rows,) = con.execute("SELECT count(*) FROM proofpoint.ocsf_email_activity").fetchone()
    assert rows == lake.records[Class.EMAIL]


def test_partitions_as_security_lake_documents_them(lake):
    """ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/, one file per
    source and day, each row's UTC day of time its folder's, sorted by time, one class."""
    written = files(lake.output)
    by_source: dict[str, list[str]] = {}
    for path in written:
        parts = PurePosixPath(path).parts
        assert len(parts) == 6 and parts[0] == "ext", path
        day = parts[4].removeprefix("eventDay=")
        assert parts[2:5] == (f"region={REGION}", f"accountId={ACCOUNT}", f"eventDay={day}")
        assert re.fullmatch(r"\d{8}", day) and parts[5] == f"{parts[1]}-{day}.parquet"
        by_source.setdefault(parts[1], []).append(day)
    assert sorted(by_source) == sorted(source_name("proofpoint-tap", k) for k in Class)
    assert len(by_source[source_name("proofpoint-tap", Class.EMAIL)]) == 2  # midnight
    with duckdb_connect(":memory:") as con:
        for kind in Class:
            for file in (lake.output / TARGET.source(kind)).rglob("*.parquet"):
                day = DAY_FOLDER.search(str(file))[1]
                rows = con.execute(
                    f"SELECT time, class_uid FROM read_parquet('{file}', hive_partitioning = false)"
                ).fetchall()
                assert [t for t, _ in rows] == sorted(t for t, _ in rows)
                assert {event_day(t) for t, _ in rows} == {day}
                assert {c for _, c in rows} == {kind.ids[0]}


def test_one_schema_per_source_from_the_ocsf_class(lake):
    """Every file of a source has the same columns and types: the class's attributes in the
    stream schema's order, objects as structs, unmapped as JSON text, time as BIGINT; no
    partition key inside; zstd."""
    with duckdb_connect(":memory:") as con:
        for kind in Class:
            declared = shapes(stream_schema(kind))
            wanted = [  # as DuckDB spells the types (names quoted only where they must be)
                (n, con.execute(f"SELECT typeof(CAST(NULL AS {ddl(node)}))").fetchone()[0])
                for n, node in declared.items()
            ]
            for file in (lake.output / TARGET.source(kind)).rglob("*.parquet"):
                described = con.execute(
                    f"DESCRIBE SELECT * FROM read_parquet('{file}', hive_partitioning = false)"
                ).fetchall()
                assert [(c[0], c[1]) for c in described] == wanted
                codecs = con.execute(
                    f"SELECT DISTINCT compression FROM parquet_metadata('{file}')"
                ).fetchall()
                assert codecs == [("ZSTD",)]
            types = dict(wanted)
            assert types["time"] == "BIGINT" and types["unmapped"] == "VARCHAR"
            assert types["metadata"].startswith("STRUCT(") and types["observables"].endswith("[]")


def test_a_second_run_writes_the_same_files(lake, tmp_path):
    """Run again over the same file into the first run's folder: the same names and the same
    bytes, nothing left over."""
    output = tmp_path / "again"
    shutil.copytree(lake.output, output)
    stale = output / TARGET.file(Class.EMAIL, "20000101")  # a day the file no longer holds
    stale.parent.mkdir(parents=True)
    stale.write_text("")
    exported(lake.database, output)
    assert files(output) == files(lake.output)  # each source's folder replaced whole
    assert [p.name for p in output.iterdir()] == ["ext"]


def test_the_row_loaded_last_wins_even_on_another_day(lake, tmp_path):
    """A uid loaded again later with another time (a message read again with another
    window's queryEndTime) is written once, as loaded last, in its new day's file only."""
    database = tmp_path / "reloaded.duckdb"
    shutil.copy(lake.database, database)
    uid = sorted(lake.received[Class.EMAIL])[0]
    with duckdb_connect(database) as con:
        con.execute(
            "INSERT INTO proofpoint.ocsf_email_activity SELECT * REPLACE (time + 86400000 AS "
            'time, json_merge_patch(email, \'{"subject": "read again"}\') AS email) FROM '
            "proofpoint.ocsf_email_activity WHERE metadata->>'$.uid' = ?",
            [uid],
        )
    output = tmp_path / "reloaded"
    proc = exported(database, output, "--class", "email_activity")
    assert [p.name for p in (output / "ext").iterdir()] == [
        source_name("proofpoint-tap", Class.EMAIL)
    ]
    assert "email-activity" in proc.stdout
    found = [e for e in read_back(output, Class.EMAIL) if e["metadata"]["uid"] == uid]
    assert len(found) == 1 and found[0]["email"]["subject"] == "read again"
    first = lake.received[Class.EMAIL][uid]
    assert found[0]["time"] == first["time"] + 86400000
    with duckdb_connect(":memory:") as con:
        (day,) = con.execute(
            f"SELECT eventDay FROM read_parquet('{source_glob(output, Class.EMAIL)}', "
            "hive_partitioning = true) WHERE metadata.uid = ?",
            [uid],
        ).fetchone()
    assert str(day) == event_day(first["time"] + 86400000)


# -- mistakes: one line, exit 1, the output as it was ---------------------------------------


def broken(lake: Lake, folder: Path, sql: str) -> Path:
    database = folder / "broken.duckdb"
    shutil.copy(lake.database, database)
    with duckdb_connect(database) as con:
        con.execute(sql)
    return database


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("no database", "does not exist"),
        ("no OCSF table", "has no OCSF table in schema proofpoint"),
        ("an account id of 11 digits", "is neither a 12-digit AWS account ID"),
        ("a region that is none", "is not an AWS Region code"),
        ("no region", "the following arguments are required: --region"),
        ("an attribute OCSF lacks", "email.bogus (metadata.uid"),
        ("a number where OCSF has an integer", "risk_score (metadata.uid"),
        ("an output under a file", "cannot write to"),
    ],
)
def test_a_mistake_is_one_line_and_the_output_stays_as_it_was(lake, tmp_path, case, says):
    output = tmp_path / "kept"
    shutil.copytree(lake.output, output)
    for kind in Class:  # gone if the source's folder were replaced: a new export drops it
        (output / TARGET.source(kind) / "earlier.txt").write_text(case)
    before = files(output)
    database = lake.database
    args = ["--region", REGION, "--account-id", ACCOUNT]
    if case == "no database":
        database = tmp_path / "absent.duckdb"
    elif case == "no OCSF table":
        database = broken(lake, tmp_path, "DROP SCHEMA proofpoint CASCADE; CREATE TABLE t (x INT)")
    elif case == "an account id of 11 digits":
        args[3] = ACCOUNT[1:]
    elif case == "a region that is none":
        args[1] = "Mars"
    elif case == "no region":
        args = args[2:]
    elif case == "an attribute OCSF lacks":  # the email table is written first, then this
        database = broken(
            lake,
            tmp_path,
            "UPDATE proofpoint.ocsf_email_activity SET email = json_merge_patch(email, "
            "'{\"bogus\": 1}') WHERE rowid = (SELECT max(rowid) FROM proofpoint.ocsf_email_activity)",
        )
    elif case == "a number where OCSF has an integer":  # written last: two sources staged
        database = broken(  # a cast to BIGINT would round it without a word
            lake,
            tmp_path,
            "ALTER TABLE proofpoint.ocsf_detection_finding ALTER risk_score TYPE DOUBLE; "
            "UPDATE proofpoint.ocsf_detection_finding SET risk_score = 0.5",
        )
    elif case == "an output under a file":
        (tmp_path / "a-file").write_text("")
        output = tmp_path / "a-file" / "security-lake"
    proc = export("--database", database, "--output", output, *args)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("proofpoint-tap-security-lake: ") and says in proc.stderr
    assert files(output) == before if output.exists() else case == "an output under a file"


def test_a_class_the_file_lacks_is_named(lake, tmp_path):
    database = broken(lake, tmp_path, "DROP TABLE proofpoint.ocsf_detection_finding")
    output = tmp_path / "no-findings"
    proc = export("--database", database, "--output", output, "--region", REGION,
                  "--account-id", ACCOUNT, "--class", "detection_finding")  # fmt: skip
    assert proc.returncode == 1 and "has no ocsf_detection_finding" in proc.stderr
    assert not output.exists()  # made for the export, removed with it


# -- the rules, without DuckDB (fast tier) --------------------------------------------------


@pytest.mark.fast
@pytest.mark.parametrize(
    ("ms", "day"),
    [(0, "19700101"), (1796687999999, "20261207"), (1796688000000, "20261208"), (-1, "19691231")],
)
def test_event_day_is_the_utc_date_of_time(ms, day):
    assert event_day(ms) == day


@pytest.mark.fast
def test_the_paths_of_a_source():
    assert str(TARGET.file(Class.WEB, "20261208")) == (
        "ext/proofpoint-tap-web-resources-activity/region=eu-west-2/accountId=123456789012/"
        "eventDay=20261208/proofpoint-tap-web-resources-activity-20261208.parquet"
    )
    versioned = Target("us-east-1", "external_acme", prefix="tap", version="1.0")
    assert str(versioned.source(Class.FINDING)) == "ext/tap-detection-finding/1.0"
    assert [event_class(k) for k in Class] == [
        "EMAIL_ACTIVITY",
        "WEB_RESOURCES_ACTIVITY",
        "DETECTION_FINDING",
    ]


@pytest.mark.fast
@pytest.mark.parametrize(
    ("setting", "ok"),
    [
        ({"account_id": "123456789012"}, True),
        ({"account_id": "external"}, True),
        ({"account_id": "external_tenant-7"}, True),
        ({"account_id": "12345678901"}, False),
        ({"account_id": "external-7"}, False),
        ({"region": "ap-southeast-2"}, True),
        ({"region": "us-gov-west-1"}, True),
        ({"region": "US-EAST-1"}, False),
        ({"version": "1.0"}, True),
        ({"version": "1/0"}, False),
        ({"prefix": "x" * 60}, False),
        ({"prefix": "a b"}, False),
    ],
)
def test_what_security_lake_accepts(setting, ok):
    values = {"region": REGION, "account_id": ACCOUNT} | setting
    if ok:
        Target(**values)
    else:
        with pytest.raises(LayoutError):
            Target(**values)


@pytest.mark.fast
def test_types_from_a_stream_schema():
    text = {"type": ["string", "null"]}
    schema = {
        "properties": {
            "time": {"type": ["integer", "null"]},
            "file": {
                "type": ["object", "null"],
                "properties": {
                    "name": text,
                    "hashes": {
                        "type": ["array", "null"],
                        "items": {"type": "object", "properties": {"value": text}},
                    },
                    "owner": {"type": ["object", "null"]},
                },
            },
            "unmapped": {"type": ["object", "null"]},
            "data": {},
            "score": {"type": "number"},
            "tags": {"type": "array", "items": text},
        }
    }
    assert {n: ddl(s) for n, s in shapes(schema).items()} == {
        "time": "BIGINT",
        "file": 'STRUCT("name" VARCHAR, "hashes" STRUCT("value" VARCHAR)[], "owner" VARCHAR)',
        "unmapped": "VARCHAR",
        "data": "VARCHAR",
        "score": "DOUBLE",
        "tags": "VARCHAR[]",
    }
    declared = paths(shape(schema["properties"]["file"]))
    assert misfit(declared, "$.hashes[].value", "VARCHAR") is None
    assert misfit(declared, "$.owner.name", "VARCHAR") is None  # inside JSON text
    assert misfit(declared, "$.hashes[].value", "NULL") is None
    assert misfit(declared, "$.size", "BIGINT") == "is not an attribute the OCSF class declares"
    assert misfit(declared, "$.name", "BIGINT") == "holds an integer where OCSF has a string"
    assert misfit(declared, "$.hashes", "OBJECT") == "holds an object where OCSF has an array"
    assert (
        misfit(paths(Leaf("BIGINT")), "$", "DOUBLE") == "holds a number where OCSF has an integer"
    )


@pytest.mark.fast
def test_the_console_script_is_declared():
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'proofpoint-tap-security-lake = "tap_proofpoint_tap.security_lake.cli:main"' in pyproject
