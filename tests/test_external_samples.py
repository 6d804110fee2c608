"""Payloads other integrators captured or wrote (tests/samples/external, provenance in its
MANIFEST.md) through the tap CLI and the mapper: every event once, valid, nothing lost (issue 13).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from tap_proofpoint_tap.normalise import normalise_click, normalise_message
from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings
from tap_proofpoint_tap.sandboxes.threatq import ThreatQSandbox
from tap_proofpoint_tap.windows import fmt
from tests.helpers import (
    expected_entities,
    hour_floor,
    natural,
    run_mapper,
    run_tap,
    tap_config,
)
from tests.lossless import assert_nothing_lost
from tests.ocsf_check import run_ocsf, strict_errors
from tests.threatq_feeds import load
from tests.threatq_truth import expected as expected_truth
from tests.threatq_truth import held

MESSAGES = ("messages_delivered", "messages_blocked")

SAMPLES = Path(__file__).parent / "samples" / "external"
ARRAYS = {
    "clicksPermitted": "clicks_permitted",
    "clicksBlocked": "clicks_blocked",
    "messagesDelivered": "messages_delivered",
    "messagesBlocked": "messages_blocked",
}
KIND = {
    "clicks_permitted": "click",
    "clicks_blocked": "click",
    "messages_delivered": "message",
    "messages_blocked": "message",
}
EVENTS_IN_MANIFEST = 59
CANONICAL = {
    "threatStatus": {"active", "cleared", "falsePositive"},
    "classification": {"malware", "phish", "spam", "impostor", "unknown"},
    "threatType": {"url", "attachment", "messageText"},
}


def corpus() -> dict[str, list[tuple[str, dict]]]:
    """Per stream, ``(file, event)`` for every event of every sample: a file is one event (its
    stream in its name) or a whole API envelope."""
    events: dict[str, list[tuple[str, dict]]] = {s: [] for s in STREAMS}
    for path in sorted(SAMPLES.glob("*.json")):
        data = json.loads(path.read_text())
        if any(key in data for key in ARRAYS):
            for key, stream in ARRAYS.items():
                events[stream] += [(path.name, e) for e in data.get(key) or []]
        else:
            kind = re.search(r"(clicks|messages)-(permitted|blocked|delivered)", path.name)
            events[f"{kind[1]}_{kind[2]}"].append((path.name, data))
    return events


CORPUS = corpus()


@pytest.mark.fast
def test_the_corpus_is_whole():
    assert sum(map(len, CORPUS.values())) == EVENTS_IN_MANIFEST
    assert all(CORPUS.values())


@pytest.fixture(scope="module")
def served():
    """Every sample event served verbatim by the sandbox, one per stream and 1-minute window
    (several samples share an id), then read twice by the tap CLI and once by the mapper."""
    with Sandbox(settings=Settings(per_hour=()), clock=Clock(), history=timedelta(days=1)) as sb:
        base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
        windows: dict[tuple[str, str], tuple[str, dict]] = {}
        for stream, events in CORPUS.items():
            for minute, (name, event) in enumerate(events):
                created = base + timedelta(minutes=minute, seconds=10)
                # The samples' statuses are missing or in any case: let the filter pass them.
                sb.store.add(stream, event, created=created, statuses=frozenset({"active"}))
                windows[stream, fmt(created.replace(second=0) + timedelta(minutes=1))] = (
                    name,
                    event,
                )
        end = base + timedelta(minutes=max(map(len, CORPUS.values())))
        yield windows, tap_config(sb, base, end, window_minutes=1)


def test_every_sample_arrives_once_valid_and_whole(tmp_path, served):
    windows, config = served
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert "not in the schema" not in run.stderr  # every field seen in them is declared
    schemas = {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}
    got = [(m["stream"], m["record"]) for m in run.messages if m["type"] == "RECORD"]
    assert sorted((s, r["queryEndTime"]) for s, r in got) == sorted(windows)
    for stream, record in got:
        name, event = windows[stream, record["queryEndTime"]]
        jsonschema.Draft7Validator(
            schemas[stream], format_checker=jsonschema.FormatChecker()
        ).validate(record)
        if isinstance(event.get("id"), str) and event["id"]:
            assert record["id"] == event["id"], name
        assert_nothing_lost(event, record, [], KIND[stream])
        for where in [record, *(record.get("threatsInfoMap") or [])]:
            for field, allowed in CANONICAL.items():
                assert where.get(field) in allowed | {None}, (name, field, where.get(field))


def test_sample_ids_are_stable_across_reads(tmp_path, served):
    _, config = served
    first, second = (run_tap(tmp_path, config) for _ in range(2))
    assert first.returncode == second.returncode == 0
    ids = [
        sorted(
            (m["stream"], m["record"]["queryEndTime"], m["record"]["id"])
            for m in run.messages
            if m["type"] == "RECORD"
        )
        for run in (first, second)
    ]
    assert ids[0] == ids[1]
    assert len(ids[0]) == EVENTS_IN_MANIFEST


def test_sample_clicks_map_to_their_entities(tmp_path, served):
    _, config = served
    tap = run_tap(tmp_path, config)
    assert tap.returncode == 0, tap.stderr[-3000:]
    run = run_mapper([json.dumps(m) + "\n" for m in tap.messages])
    clicks = tap.records("clicks_permitted")
    expected = expected_entities(clicks)
    assert {r["id"] for r in run.rows("threatq_incidents")} == expected["incidents"]
    # the messages' recipients, senders, subjects, parts and threats beside the clicks'
    assert {r["address"] for r in run.rows("threatq_corporate_emails")} >= expected["emails"]
    assert {r["value"] for r in run.rows("threatq_indicators")} >= expected["indicators"]
    assert natural(run) >= expected["links"]
    schemas = {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}
    for message in run.messages:
        if message["type"] == "RECORD" and message["stream"].startswith("threatq_"):
            jsonschema.validate(message["record"], schemas[message["stream"]])
    rapid7 = [c for c in clicks if c["id"] == "9de5069c-5afe-602b-2ea0-a04b66beb2c0"]
    assert rapid7 and all(c["recipient"] == "user@example.com" for c in rapid7)
    # Every payload of the corpus, clicks and messages, into the ThreatQ stand-in: exactly what
    # the independent reading of the mapping computes from the records.
    records = {s: tap.records(s) for s in ("clicks_permitted", *MESSAGES)}
    assert all(records.values())
    with ThreatQSandbox(duplicate_reposts=True) as tq:
        load(tq, run.messages, cache_hours=0)
        want = expected_truth(records)
        assert held(tq.store) == want, held(tq.store).diff(want, "held", "expected")


# -- the rules behind it, on the pure normalisers --


@pytest.mark.fast
def test_a_click_recipient_array_becomes_its_address():
    problems: list[str] = []
    assert (
        normalise_click({"id": "c", "recipient": ["Bob@corp.example"]}, problems)["recipient"]
        == "Bob@corp.example"
    )
    assert problems == []
    record = normalise_click({"id": "c", "recipient": ["a@x.example", "b@x.example"]}, problems)
    assert record["recipient"] == "a@x.example"
    assert record["unknownFields"] == {"recipient": ["a@x.example", "b@x.example"]}
    assert problems == [
        "recipient holds 2 addresses: recipient keeps the first, "
        "unknownFields.recipient all of them"
    ]


@pytest.mark.fast
@pytest.mark.parametrize(
    ("sent", "canonical"),
    [
        ("falsepositive", "falsePositive"),
        ("FALSEPOSITIVE", "falsePositive"),
        ("Active", "active"),
        ("CLEARED", "cleared"),
        ("retired", "retired"),
    ],
)
def test_threat_status_in_any_case_is_understood(sent, canonical):
    assert normalise_click({"id": "c", "threatStatus": sent}, [])["threatStatus"] == canonical
    message = normalise_message(
        {"id": "m", "threatsInfoMap": [{"threatStatus": sent, "threatType": "MESSAGETEXT"}]}, []
    )
    assert message["threatsInfoMap"][0]["threatStatus"] == canonical
    assert message["threatsInfoMap"][0]["threatType"] == "messageText"


@pytest.mark.fast
def test_undeclared_and_unconvertible_values_are_kept_by_path():
    problems: list[str] = []
    record = normalise_message(
        {
            "id": "m",
            "spamScore": "high",
            "newTopLevel": {"a": 1.5},
            "threatsInfoMap": [
                {
                    "threatId": "t1",
                    "threatID": "t2",
                    "actors": [{"id": "a1", "name": "TA1", "type": "ACTOR", "aliases": ["x"]}],
                }
            ],
        },
        problems,
    )
    assert record["spamScore"] is None
    assert record["threatsInfoMap"][0]["threatID"] == "t2"
    assert record["threatsInfoMap"][0]["actors"] == [{"id": "a1", "name": "TA1", "type": "ACTOR"}]
    assert record["unknownFields"] == {
        "spamScore": "high",
        "newTopLevel": {"a": 1.5},
        "threatsInfoMap[0].threatId": "t1",
        "threatsInfoMap[0].actors[0].aliases": ["x"],
    }
    assert problems == ["spamScore is not a number"]


def test_each_unknown_field_is_named_once_per_run(tmp_path, live_sandbox):
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    for n in range(6):
        live_sandbox.store.add(
            "messages_blocked",
            {
                "id": f"m{n}",
                "messageTime": fmt(start + timedelta(minutes=10 * n + 1)),
                "brandNew": n,
                "threatsInfoMap": [
                    {"threatStatus": "active", "later": "x"},
                    {"threatStatus": "active", "later": "y"},
                ],
            },
        )
    config = tap_config(live_sandbox, start, start + timedelta(hours=2))
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    records = run.records("messages_blocked")
    assert len(records) == 6
    assert all(
        r["unknownFields"]
        == {
            "brandNew": int(r["id"][1:]),
            "threatsInfoMap[0].later": "x",
            "threatsInfoMap[1].later": "y",
        }
        for r in records
    )
    named = [line for line in run.stderr.splitlines() if "not in the schema" in line]
    assert len(named) == 1, named
    assert (
        "messages_blocked: brandNew, threatsInfoMap[].later not in the schema, kept in "
        "unknownFields" in named[0]
    )


def test_every_sample_is_a_strict_ocsf_event_through_the_clis(tmp_path, served):
    """Issue 28: the tap's output of the corpus through mapper-proofpoint-ocsf: one valid
    OCSF event per sample (tests/ocsf_check.py), named by the record's id."""
    _, config = served
    tap = run_tap(tmp_path, config)
    assert tap.returncode == 0, tap.stderr[-3000:]
    out, _ = run_ocsf(tap.messages, {"pass_through": False}, tmp_path)
    events = [m["record"] for m in out if m["type"] == "RECORD"]
    assert len(events) == EVENTS_IN_MANIFEST
    # several samples share an id: the (id, stream) pairs are compared, as many of each
    assert sorted((e["metadata"]["uid"], e["metadata"]["log_name"]) for e in events) == sorted(
        (m["record"]["id"], m["stream"]) for m in tap.messages if m["type"] == "RECORD"
    )
    classes = {"clicks": 6001, "messages": 4009}
    for event in events:
        assert strict_errors(event) == [], event["metadata"]["uid"]
        assert classes[event["metadata"]["log_name"].split("_")[0]] == event["class_uid"]
