"""All four streams: exact events, valid records, one type per column, derived ids (issue 4)."""

from __future__ import annotations

import copy
import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from tap_proofpoint_tap.normalise import derived_id, normalise_click, normalise_message
from tap_proofpoint_tap.repairs import Repairs
from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings
from tap_proofpoint_tap.sandboxes.siem.rules import DEFAULT_THREAT_STATUSES, Window
from tap_proofpoint_tap.sandboxes.siem.server import ENDPOINTS
from tap_proofpoint_tap.singer_io import ENCODER, StateFlushingWriter, record_envelope
from tap_proofpoint_tap.windows import fmt
from tests.helpers import catalog_selecting, deselect, hour_floor, run_tap, tap_config

SAMPLES = Path(__file__).parent / "samples"  # copied from shared/samples
SCHEMAS = Path(__file__).resolve().parents[1] / "tap_proofpoint_tap" / "schemas"


def test_repairs_are_told_once_per_stream_and_window_with_their_counts(tmp_path, busy_live):
    """The sandbox's traffic has clicks with several recipients and undeclared fields: what
    the normaliser repaired is one warning per stream and window, counting every event."""
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    run = run_tap(tmp_path, tap_config(busy_live, start, start + timedelta(hours=3)))
    assert run.returncode == 0, run.stderr
    told = {}
    for line in run.stderr.splitlines():
        found = re.search(r"\| (\w+): window (\S+): ([\d,]+) events? kept with repairs", line)
        if found:
            assert (found[1], found[2]) not in told, "one line per stream and window"
            told[found[1], found[2]] = int(found[3].replace(",", ""))
    normalisers = {"clicks": normalise_click, "messages": normalise_message}
    expected = {}
    for stream in STREAMS:
        for hour in range(3):
            window = Window(start + timedelta(hours=hour), start + timedelta(hours=hour + 1))
            events = busy_live.store.select(stream, window, None, DEFAULT_THREAT_STATUSES)
            normalise = normalisers[stream.split("_")[0]]
            repaired = sum(
                bool(normalise(copy.deepcopy(s.event), p := [])) and bool(p) for s in events
            )
            if repaired:
                expected[stream, f"{fmt(window.start)}/{fmt(window.end)}"] = repaired
    assert told == expected and sum(told.values()) > 10


def test_every_stream_emits_exactly_its_events_and_they_validate(tmp_path, busy_live):
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    end = start + timedelta(hours=3)
    run = run_tap(tmp_path, tap_config(busy_live, start, end))
    assert run.returncode == 0, run.stderr
    schemas = {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}
    assert set(schemas) == {*STREAMS, "threats", "campaigns"}, "the default catalog"
    for stream in STREAMS:
        truth = busy_live.store.select(stream, Window(start, end), None, DEFAULT_THREAT_STATUSES)
        assert sorted(run.ids(stream)) == sorted(s.event["id"] for s in truth), stream
        validator = jsonschema.Draft7Validator(
            schemas[stream], format_checker=jsonschema.FormatChecker()
        )
        for record in run.records(stream):
            validator.validate(record)
        keys = next(m for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == stream)
        assert keys["key_properties"] == ["id"]
        assert run.bookmark(stream) == end.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_deselected_streams_cost_no_requests(tmp_path, busy_live):
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    config = tap_config(busy_live, start, start + timedelta(hours=2))
    run = run_tap(tmp_path, config, catalog=catalog_selecting(tmp_path, config, "messages_blocked"))
    assert run.returncode == 0, run.stderr
    assert {r.path for r in busy_live.requests} == {"/v2/siem/messages/blocked"}, "nothing else"
    assert {m["stream"] for m in run.messages if m["type"] == "RECORD"} == {"messages_blocked"}


def test_threat_type_is_sent_for_message_streams_only(tmp_path, busy_live):
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=2)
    config = tap_config(
        busy_live, start, start + timedelta(hours=1), threat_type=["attachment", "url"]
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    for request in busy_live.requests:
        sent = request.params.get("threatType")
        if request.path.startswith("/v2/siem/messages"):
            assert sent == ["attachment", "url"]
        else:
            assert sent is None


def test_documented_shapes_come_out_like_observed_ones(tmp_path):
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    types = {}
    for documented in (False, True):
        settings = Settings(
            seed=9,
            per_hour=tuple((s, 30) for s in STREAMS),
            documented_shapes=documented,
            late_fraction=0,
        )
        with Sandbox(settings=settings, clock=Clock(), history=timedelta(hours=5)) as sandbox:
            run = run_tap(tmp_path, tap_config(sandbox, start, start + timedelta(hours=2)))
        assert run.returncode == 0, run.stderr
        types[documented] = {s: column_types(run.records(s)) for s in STREAMS}
        assert all(r["id"] for r in run.records())
    for stream in STREAMS:
        documented, observed = types[True][stream], types[False][stream]
        assert documented.keys() <= observed.keys()  # a column may be all null in one run
        assert {k: documented[k] for k in documented} == {k: observed[k] for k in documented}
        assert {k: t for k, t in observed.items() if len(t) > 1} == {}


def column_types(records: list[dict]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for record in records:
        for key, value in record.items():
            if value is not None:
                out.setdefault(key, set()).add(type(value).__name__)
    return out


def load(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


@pytest.mark.fast
def test_every_sample_normalises_to_the_schema_types():
    message_schema = json.loads((SCHEMAS / "message.json").read_text())
    click_schema = json.loads((SCHEMAS / "click.json").read_text())
    clicks = [
        load(n)
        for n in (
            "doc_example_click_event.json",
            "observed_click_blocked.json",
            "observed_click_permitted_cleared.json",
            "observed_click_permitted_retroactive.json",
        )
    ]
    clicks += load("observed_clicks_blocked_envelope_demo_tenant.json")["clicksBlocked"]
    messages = [
        load(n)
        for n in (
            "doc_example_message_event.json",
            "observed_message_blocked.json",
            "observed_message_delivered_full.json",
            "observed_message_delivered_sparse.json",
            "sumo_demo_message_blocked_event.json",
        )
    ]
    messages += load("observed_all_envelope_demo_tenant.json")["messagesBlocked"]
    now = "2026-01-01T00:00:00Z"
    for event, schema, normalise in [(c, click_schema, normalise_click) for c in clicks] + [
        (m, message_schema, normalise_message) for m in messages
    ]:
        problems: list[str] = []
        record = {**normalise(event, problems), "queryEndTime": now}
        assert problems == []
        record = {k: v for k, v in record.items() if k in schema["properties"]}
        jsonschema.validate(record, schema)
    doc = normalise_message(load("doc_example_message_event.json"), [])
    assert doc["fromAddress"] == ["badguy@evil.zz"] and doc["cluster"] == "pharmtech_hosted"
    assert doc["completelyRewritten"] is True and doc["threatsInfoMap"][0]["threatID"]
    assert doc["threatsInfoMap"][0]["classification"] == "malware"
    assert doc["threatsInfoMap"][0]["threatType"] == "attachment"
    sumo = normalise_message(load("sumo_demo_message_blocked_event.json"), [])
    assert sumo["recipient"] == ["user@recipient.example"]
    assert normalise_message({"completelyRewritten": "na"}, [])["completelyRewritten"] is None


@pytest.mark.fast
def test_derived_id_is_stable_under_reordering():
    event = load("doc_example_message_event.json")
    rng = random.Random(1)
    ids = set()
    for _ in range(20):
        shuffled = dict(rng.sample(list(event.items()), len(event)))
        parts = list(shuffled.get("messageParts") or [])
        rng.shuffle(parts)
        shuffled["messageParts"] = [dict(rng.sample(list(p.items()), len(p))) for p in parts]
        ids.add(normalise_message(shuffled, [])["id"])
    assert len(ids) == 1
    changed = dict(event, subject="something else")
    assert normalise_message(changed, [])["id"] not in ids
    assert derived_id(event) == derived_id({**event, "queryEndTime": "other window"})


@pytest.mark.fast
def test_sandbox_envelopes_match_the_streams():
    from tap_proofpoint_tap.streams import SIEM_STREAM_TYPES as STREAM_TYPES

    assert {t.path: (t.name,) for t in STREAM_TYPES}.items() <= ENDPOINTS.items()


def test_a_deselected_property_is_left_out(tmp_path, busy_live):
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    config = tap_config(busy_live, start, start + timedelta(hours=1))
    catalog = deselect(
        catalog_selecting(tmp_path, config, "clicks_permitted"), "clicks_permitted", "userAgent"
    )
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert run.records() and all("userAgent" not in r and "clickIP" in r for r in run.records())
    plain = run_tap(
        tmp_path, config, catalog=catalog_selecting(tmp_path, config, "clicks_permitted")
    )
    assert plain.returncode == 0, plain.stderr
    assert len(plain.records()) == len(run.records())
    assert all("userAgent" in r for r in plain.records())
    assert all(
        isinstance(m.get("time_extracted"), str) for m in plain.messages if m["type"] == "RECORD"
    )


def test_stream_maps_and_flattening_give_what_the_sdk_gives(tmp_path, busy_live):
    """The tap writes RECORD lines itself only when nothing transforms records; stream maps and
    flattening take the SDK's path, and flattening clicks changes nothing but their one object,
    ``unknownFields``, which becomes JSON text: else the same messages."""
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    config = tap_config(busy_live, start, start + timedelta(hours=1))
    catalog = catalog_selecting(tmp_path, config, "clicks_permitted")

    def records(**settings) -> list[dict]:
        run = run_tap(tmp_path, {**config, **settings}, catalog=catalog)
        assert run.returncode == 0, run.stderr
        lines = [m for m in run.messages if m["type"] == "RECORD"]
        assert lines and all(isinstance(m["time_extracted"], str) for m in lines)
        lines.sort(key=lambda m: m["record"]["id"])  # the sandbox shuffles every answer
        return [{k: v for k, v in m.items() if k != "time_extracted"} for m in lines]

    plain = records()
    assert any(m["record"]["unknownFields"] for m in plain), "the sandbox sends such clicks"

    def unflattened(message: dict) -> dict:
        record = dict(message["record"])
        if isinstance(record.get("unknownFields"), str):
            record["unknownFields"] = json.loads(record["unknownFields"])
        return {**message, "record": record}

    flat = records(flattening_enabled=True, flattening_max_depth=1)
    assert [m["record"] for m in flat if m["record"]["unknownFields"]] and all(
        isinstance(m["record"]["unknownFields"], str) for m in flat if m["record"]["unknownFields"]
    )
    assert [unflattened(m) for m in flat] == plain
    renamed = records(stream_maps={"clicks_permitted": {"__alias__": "clicks", "userAgent": None}})
    assert [m["stream"] for m in renamed] == ["clicks"] * len(plain)
    assert [m["record"] for m in renamed] == [
        {k: v for k, v in m["record"].items() if k != "userAgent"} for m in plain
    ]


@pytest.mark.fast
def test_a_record_line_is_its_message_encoded():
    record = {"id": "1", "url": 'https://x.example/"record":null', "note": "é\u2028"}
    for fields in (
        {"type": "RECORD", "stream": "clicks_permitted"},
        {"type": "RECORD", "stream": 'odd "record":null', "time_extracted": "t", "version": 3},
    ):
        head, tail = record_envelope(fields)
        line = head + ENCODER.encode(record) + tail
        assert line.endswith(b"\n") and json.loads(line) == {**fields, "record": record}


@pytest.mark.fast
def test_a_message_that_cannot_be_encoded_leaves_no_half_line(capsysbinary):

    writer = StateFlushingWriter()
    envelope = record_envelope({"type": "RECORD", "stream": "s"})
    writer.write_record(envelope, {"id": "1"})
    with pytest.raises(UnicodeEncodeError):
        writer.write_record(envelope, {"id": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        writer.write_message({"type": "RECORD", "stream": "s", "record": {"id": "\udfff"}})
    writer.write_message({"type": "STATE", "value": {}})
    lines = capsysbinary.readouterr().out.split(b"\n")
    assert [json.loads(line) for line in lines if line] == [
        {"type": "RECORD", "stream": "s", "record": {"id": "1"}},
        {"type": "STATE", "value": {}},
    ]


@pytest.mark.fast
def test_a_windows_repairs_name_the_most_common_kinds_and_count_the_rest():
    repairs = Repairs()
    for n in range(8):
        repairs.add([f"kind {k}" for k in range(n + 1)], f"e{n}")
    line = repairs.line()
    assert line.startswith("8 events kept with repairs")
    assert "kind 0 (8 events, first e0); kind 1 (7 events, first e1)" in line
    assert line.endswith("and 3 more kinds of repair")
    repairs.clear()
    assert repairs.line() is None
