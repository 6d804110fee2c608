"""The tap's and the mappers' output read by targets other than ours: a writer that takes a
stream's columns from its first record (as singer-io's target-csv does), singer-io's
``singer-check-tap``, and JSON Schema validators (one draft, enums that allow the nulls their
types allow)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest

from tap_proofpoint_tap.mappers.ocsf.streams import stream_schema
from tap_proofpoint_tap.mappers.ocsf.vocabulary import Class
from tap_proofpoint_tap.mappers.threatq.schemas import SCHEMAS as MAPPER_SCHEMAS
from tap_proofpoint_tap.normalise import SCHEMAS as TAP_SCHEMAS
from tests.helpers import ROOT, hour_floor, run_mapper, run_tap, tap_config, traffic_sandbox
from tests.ocsf_check import run_ocsf

CHECK_TAP = ROOT / ".venv-check" / "bin" / "singer-check-tap"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def header_from_first_record(lines: list[str]) -> dict[str, list[dict[str, str]]]:
    """Each stream's rows as a header-from-first-record CSV writer leaves them, read back.

    Like singer-io's target-csv: the header is the keys of the stream's first record, every
    record is written with ``csv.DictWriter(header, extrasaction="ignore")``, nested values as
    JSON text.
    """
    files: dict[str, io.StringIO] = {}
    writers: dict[str, csv.DictWriter] = {}
    for line in lines:
        message = json.loads(line)
        if message["type"] != "RECORD":
            continue
        stream, record = message["stream"], message["record"]
        if stream not in writers:
            files[stream] = io.StringIO()
            writers[stream] = csv.DictWriter(files[stream], list(record), extrasaction="ignore")
            writers[stream].writeheader()
        writers[stream].writerow({k: cell(v) for k, v in record.items()})
    return {s: list(csv.DictReader(io.StringIO(f.getvalue()))) for s, f in files.items()}


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def assert_every_value_in_its_column(lines: list[str]) -> int:
    rows = header_from_first_record(lines)
    records: dict[str, list[dict]] = {}
    for line in lines:
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    checked = 0
    for stream, sent in records.items():
        assert len(rows[stream]) == len(sent)
        for row, record in zip(rows[stream], sent, strict=True):
            assert set(row) == set(record), f"{stream}: {sorted(set(record) ^ set(row))}"
            for key, value in record.items():
                assert row[key] == cell(value), (stream, record.get("id"), key)
                checked += 1
    return checked


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    """Six hours of the tap's output on every stream (undeclared fields, several recipients,
    missing optional keys: the sandbox's default traffic), and the mapper's on top."""
    tmp_path = tmp_path_factory.mktemp("any-target")
    with traffic_sandbox(11, 12, timedelta(hours=8)) as sandbox:
        base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=7)
        run = run_tap(tmp_path, tap_config(sandbox, base, base + timedelta(hours=6)))
    assert run.returncode == 0, run.stderr[-2000:]
    tap_lines = [json.dumps(m) + "\n" for m in run.messages]
    mapped = run_mapper(tap_lines)
    ocsf, _ = run_ocsf(run.messages, {"pass_through": False}, tmp_path)
    return (
        tap_lines,
        [json.dumps(m) + "\n" for m in mapped.messages],
        [json.dumps(m) + "\n" for m in ocsf],
    )


def test_a_header_from_first_record_writer_finds_every_value_in_its_column(output):
    for lines in output:
        assert assert_every_value_in_its_column(lines) > 5_000


def test_every_record_carries_every_property_in_the_schemas_order(output):
    for lines in output:
        schemas = {}
        for message in map(json.loads, lines):
            if message["type"] == "SCHEMA":
                schemas[message["stream"]] = list(message["schema"]["properties"])
            elif message["type"] == "RECORD":
                assert list(message["record"]) == schemas[message["stream"]]


@pytest.mark.parametrize("which", ["tap", "mapper", "ocsf"])
def test_singer_check_tap_accepts_the_output(output, which):
    assert CHECK_TAP.exists(), "make test installs singer-tools into .venv-check"
    lines = output[("tap", "mapper", "ocsf").index(which)]
    proc = subprocess.run(
        [str(CHECK_TAP)], input="".join(lines), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "The output is valid." in proc.stdout


@pytest.mark.fast
def test_every_schema_is_of_one_draft_and_its_enums_allow_its_nulls():
    schemas = dict(TAP_SCHEMAS) | dict(MAPPER_SCHEMAS)
    schemas |= {kind.stream: stream_schema(kind) for kind in Class}
    for name, schema in schemas.items():
        assert schema.get("$schema") == DRAFT, name
        jsonschema.Draft202012Validator.check_schema(schema)
        for key, prop in schema["properties"].items():
            if "enum" in prop and "null" in prop.get("type", ()):
                assert None in prop["enum"], f"{name}.{key}"
                jsonschema.Draft202012Validator(prop).validate(None)
