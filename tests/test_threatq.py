"""The ThreatQ mapper: the pure click → entities mapping, and the console script fed real streams."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from tap_proofpoint_tap.mappers.threatq.clicks import click_entities, title
from tap_proofpoint_tap.mappers.threatq.entities import NAMESPACE, Options, address, entity_id
from tap_proofpoint_tap.sandboxes.siem.rules import DEFAULT_THREAT_STATUSES, Window
from tests.helpers import (
    ENTITIES,
    MAPPER,
    catalog_selecting,
    expected_entities,
    hour_floor,
    natural,
    run_mapper,
    run_tap,
    tap_config,
)


def as_lines(messages: list[dict]) -> list[str]:
    return [json.dumps(m) + "\n" for m in messages]


CLICK_SCHEMA = {
    "type": "SCHEMA",
    "stream": "clicks_permitted",
    "key_properties": ["id"],
    "schema": {"type": "object", "properties": {"id": {"type": "string"}}},
}


def click(click_id: str, **fields) -> dict:
    record = {
        "id": click_id,
        "url": "https://bad.example/a",
        "recipient": "alice@corp.example",
        "sender": "mallory@bad.example",
        "senderIP": "203.0.113.9",
        "classification": "phish",
        "threatStatus": "active",
        "threatID": "t-1",
        "threatURL": "https://threatinsight.proofpoint.com/t-1",
        "campaignId": "camp-1",
        "clickTime": "2026-03-04T10:00:00.000Z",
        "threatTime": "2026-03-04T10:05:00.000Z",
        "clickIP": "192.0.2.1",
        "userAgent": "Mozilla/5.0",
        "GUID": "g-1",
        "messageID": "<m1@bad.example>",
        "queryEndTime": "2026-03-04T11:00:00Z",
    }
    record.update(fields)
    return {"type": "RECORD", "stream": "clicks_permitted", "record": record}


# -- the pure mapping --


@pytest.mark.fast
def test_one_click_yields_every_entity_and_link():
    rows = list(click_entities(click("c1")["record"]))
    streams = [stream for stream, _ in rows]
    assert streams.count("threatq_corporate_emails") == 1
    assert streams.count("threatq_indicators") == 2
    assert streams.count("threatq_incidents") == 1
    links = [r for s, r in rows if s == "threatq_relationships"]
    assert len(links) == 7  # five between its entities, and to its message's event and campaign
    assert {(r["target_type"], r["target_key"]) for r in links if r["target_key"]} == {
        ("event", "g-1"),
        ("campaign", "camp-1"),
    }
    types = {r["id"]: r["type"] for s, r in rows if s == "threatq_indicators"}
    attributes = {
        (types[r["object_id"]], r["name"]): r["value"]
        for s, r in rows
        if s == "threatq_indicator_attributes"
    }
    assert attributes == {
        ("URL", "Classification"): "phish",
        ("URL", "Threat Status"): "active",
        ("URL", "Threat ID"): "t-1",
        ("URL", "Threat URL"): "https://threatinsight.proofpoint.com/t-1",
        ("URL", "Campaign ID"): "camp-1",
        ("Email Address", "Sender IP"): "203.0.113.9",
        ("Email Address", "Classification"): "phish",
    }
    position = {stream: n for n, (stream, _) in reversed(list(enumerate(rows)))}
    assert position["threatq_relationships"] > max(position[s] for s in ENTITIES[:4])


@pytest.mark.fast
def test_statuses_and_source_come_from_options():
    rows = list(
        click_entities(
            click("c1")["record"],
            Options(source="TAP eu", url_status="Review", sender_status="Indirect"),
        )
    )
    indicators = {r["type"]: r for s, r in rows if s == "threatq_indicators"}
    assert indicators["URL"]["status"] == "Review"
    assert indicators["Email Address"]["status"] == "Indirect"
    assert {r.get("source") for s, r in rows if s != "threatq_relationships"} == {"TAP eu"}
    assert indicators["URL"]["published_at"] == "2026-03-04T10:05:00.000Z"


@pytest.mark.fast
def test_ids_are_stable_and_independent_of_case_and_padding():
    a = dict(click_entities(click("c1", recipient=" Alice@Corp.Example ")["record"]))
    b = dict(click_entities(click("c9", recipient="alice@corp.example")["record"]))
    assert a["threatq_corporate_emails"] == b["threatq_corporate_emails"]
    assert a["threatq_corporate_emails"]["address"] == "alice@corp.example"


@pytest.mark.fast
def test_entity_id_is_uuid5_of_the_joined_parts():
    for parts in (
        ("corporate_email", "alice@corp.example"),
        ("indicator", "URL", "https://ü.example/"),
        ("relationship", "incident", "c1", "indicator", "x"),
    ):
        assert entity_id(*parts) == str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


@pytest.mark.fast
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bad Guy <Bad@Evil.Example>", "bad@evil.example"),
        ("  ", None),
        ("", None),
        (None, None),
        ("not-an-address", "not-an-address"),
        (" Bob@Corp.Example ", "bob@corp.example"),
        ('"Doe, Jane" <Jane@Corp.Example>', "jane@corp.example"),
        (5, None),
    ],
)
def test_address(raw, expected):
    assert address(raw) == expected


@pytest.mark.fast
def test_title_says_who_clicked_what_from_whom():
    assert (
        title("bob@corp.example", "malware", "https://x.example/p", "eve@x.example")
        == "bob@corp.example clicked malware link https://x.example/p (sent by eve@x.example)"
    )
    long = title(None, None, "https://x.example/" + "a" * 300, None)
    assert long.startswith("Unknown recipient clicked link https://x.example/")
    assert long.endswith("…") and len(long) < 150


@pytest.mark.fast
def test_click_without_sender_recipient_or_url_still_is_an_incident():
    rows = list(click_entities({"id": "c1", "url": " ", "recipient": None, "sender": ""}))
    assert [stream for stream, _ in rows] == ["threatq_incidents"]


@pytest.mark.fast
def test_click_without_id_gets_a_stable_derived_one():
    record = click("c1")["record"]
    del record["id"]
    first = dict(click_entities(record))["threatq_incidents"]["id"]
    assert first == dict(click_entities(dict(reversed(record.items()))))["threatq_incidents"]["id"]


# -- the console script on hand-built streams --

EDGE_CASES = [
    CLICK_SCHEMA,
    click("c1", recipient="Alice@Corp.example "),
    click("c2", recipient="alice@corp.example", sender="", campaignId=None),  # no sender
    click(
        "c3",
        recipient="bob@corp.example",
        url="https://bad.example/b",
        campaignId=None,
        threatID="t-2",
        threatURL=None,
        classification="malware",
    ),
    click("c1", recipient="Alice@Corp.example "),  # seen twice
    {
        "type": "STATE",
        "value": {
            "bookmarks": {
                "clicks_permitted": {
                    "replication_key": "queryEndTime",
                    "replication_key_value": "2026-03-04T11:00:00Z",
                }
            }
        },
    },
]


def test_edge_cases_give_exact_counts_and_links():
    run = run_mapper(as_lines(EDGE_CASES))
    assert sorted(r["address"] for r in run.rows("threatq_corporate_emails")) == [
        "alice@corp.example",
        "bob@corp.example",
    ]
    assert sorted((r["type"], r["value"]) for r in run.rows("threatq_indicators")) == [
        ("Email Address", "mallory@bad.example"),
        ("URL", "https://bad.example/a"),
        ("URL", "https://bad.example/b"),
    ]
    assert sorted(r["id"] for r in run.rows("threatq_incidents")) == ["c1", "c2", "c3"]
    values = {r["id"]: r["value"] for r in run.rows("threatq_indicators")}
    attributes = sorted(
        (values[r["object_id"]], r["name"], r["value"])
        for r in run.rows("threatq_indicator_attributes")
    )
    assert attributes == sorted(
        [
            ("https://bad.example/a", "Classification", "phish"),
            ("https://bad.example/a", "Threat Status", "active"),
            ("https://bad.example/a", "Threat ID", "t-1"),
            ("https://bad.example/a", "Threat URL", "https://threatinsight.proofpoint.com/t-1"),
            ("https://bad.example/a", "Campaign ID", "camp-1"),
            ("https://bad.example/b", "Classification", "malware"),
            ("https://bad.example/b", "Threat Status", "active"),
            ("https://bad.example/b", "Threat ID", "t-2"),
            ("mallory@bad.example", "Sender IP", "203.0.113.9"),
            ("mallory@bad.example", "Classification", "phish"),
            ("mallory@bad.example", "Classification", "malware"),
        ]
    )
    a, b = "https://bad.example/a", "https://bad.example/b"
    alice, bob, mallory = "alice@corp.example", "bob@corp.example", "mallory@bad.example"
    assert natural(run) == {
        ("c1", alice),
        ("c1", a),
        ("c1", mallory),
        (alice, a),
        (a, mallory),
        ("c2", alice),
        ("c2", a),
        ("c3", bob),
        ("c3", b),
        ("c3", mallory),
        (bob, b),
        (b, mallory),
    }
    for stream in ENTITIES:
        ids = [r["id"] for r in run.rows(stream)]
        assert len(ids) == len(set(ids)), stream
    assert run.summary() == {
        "Read: clicks_permitted": 4,
        "Corporate Emails": 2,
        "Indicators": 3,
        "Attributes": 11,
        "Incidents": 3,
        "Events": 0,
        "Campaigns": 0,
        "Adversaries": 0,
        "Malware": 0,
        "TTPs": 0,
        "Relationships": 12 + 4,  # and each click's to its message's event, c1's to its campaign
    }


def test_schemas_have_keys_and_every_row_validates():
    run = run_mapper(as_lines(EDGE_CASES))
    schemas = {m["stream"]: m for m in run.messages if m["type"] == "SCHEMA"}
    for stream in ENTITIES:
        assert schemas[stream]["key_properties"] == ["id"]
        validator = jsonschema.Draft7Validator(
            schemas[stream]["schema"], format_checker=jsonschema.FormatChecker()
        )
        for row in run.rows(stream):
            validator.validate(row)
    first_record = next(n for n, m in enumerate(run.messages) if m["type"] == "RECORD")
    assert all(m["type"] == "SCHEMA" for m in run.messages[:first_record])


def test_state_and_other_streams_pass_through_untouched(tmp_path):
    other = [
        {
            "type": "SCHEMA",
            "stream": "messages_blocked",
            "key_properties": ["id"],
            "schema": {"type": "object", "properties": {"id": {"type": "string"}}},
        },
        {"type": "RECORD", "stream": "messages_blocked", "record": {"id": "m1", "x": [1]}},
        {"type": "ACTIVATE_VERSION", "stream": "messages_blocked", "version": 7},
    ]
    state = EDGE_CASES[-1]
    for pass_through in (True, False):
        run = run_mapper(
            as_lines(EDGE_CASES[:-1] + other + [state]), {"pass_through": pass_through}, tmp_path
        )
        assert [m for m in run.messages if m.get("stream") == "messages_blocked"] == other
        assert [m for m in run.messages if m["type"] == "STATE"] == [state]
        clicks = [m for m in run.messages if m.get("stream") == "clicks_permitted"]
        assert clicks == (EDGE_CASES[:-1] if pass_through else [])
        assert len(run.rows("threatq_incidents")) == 3


# -- the console script on the tap's own output --


def test_tap_output_maps_to_exactly_the_independent_count(tmp_path, busy_live):
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    end = start + timedelta(hours=3)
    config = tap_config(busy_live, start, end)
    tap = run_tap(
        tmp_path,
        config,
        catalog=catalog_selecting(tmp_path, config, "clicks_permitted", "clicks_blocked"),
    )
    assert tap.returncode == 0, tap.stderr
    truth = [
        s.event
        for s in busy_live.store.select(
            "clicks_permitted", Window(start, end), None, DEFAULT_THREAT_STATUSES
        )
    ]
    # enough clicks to mean something at any hour: the stand-in's working-day curve gives
    # 60/h at least 0.6 times 0.7 of that, so 3 hours hold at least 75 (94 seen at 03:00 UTC)
    assert len(truth) > 50
    expected = expected_entities(truth)
    assert any(not c["sender"] for c in truth), "the sandbox should send some empty senders"
    lines = [json.dumps(m) + "\n" for m in tap.messages]
    run = run_mapper(lines)
    assert {r["address"] for r in run.rows("threatq_corporate_emails")} == expected["emails"]
    assert {r["value"] for r in run.rows("threatq_indicators")} == expected["indicators"]
    assert {r["id"] for r in run.rows("threatq_incidents")} == expected["incidents"]
    assert natural(run) == expected["links"]
    assert len(expected["emails"]) < len(truth), "recipients should repeat in a real tenant"
    summary = run.summary()
    assert summary["Incidents"] == len(truth)
    assert summary["Corporate Emails"] == len(expected["emails"])
    assert summary["Indicators"] == len(expected["indicators"])
    assert summary["Relationships"] == len(expected["links"]) + len(
        [r for r in run.rows("threatq_relationships") if r["target_key"]]
    )
    assert (
        summary["Attributes"]
        == len(expected["attributes"])
        == len(run.rows("threatq_indicator_attributes"))
    )
    assert [m for m in run.messages if m["type"] == "STATE"] == [
        m for m in tap.messages if m["type"] == "STATE"
    ]
    assert [
        m["record"]
        for m in run.messages
        if m.get("stream") == "clicks_blocked" and m["type"] == "RECORD"
    ] == tap.records("clicks_blocked")


def test_readme_mapper_settings_table_equals_about():
    about = subprocess.run(
        [MAPPER, "--about", "--format", "markdown"], capture_output=True, text=True, check=True
    ).stdout
    readme = (Path(__file__).parents[1] / "README.md").read_text().splitlines()
    rows = [
        line
        for line in about.splitlines()
        if line.startswith("| ") and line.split("|")[1].strip() not in ("Setting", "")
    ]
    assert [line.split("|")[1].strip() for line in rows] == [
        "pass_through",
        "url_indicator_status",
        "sender_indicator_status",
        "email_event_type",
        "forensics_indicators",
        "source",
    ]
    assert all(line in readme for line in rows)
