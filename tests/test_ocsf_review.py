"""Review of issue 28 (mapper-proofpoint-ocsf): each test shows a defect found by reading the
mapper as an OCSF 1.7.0 expert, a SOC analyst querying the events and a new user of the README
(each failed before its fix)."""

from __future__ import annotations

import ipaddress
import re

import pytest

from tap_proofpoint_tap.mappers.ocsf.schema import attributes, ocsf_schema
from tap_proofpoint_tap.mappers.ocsf.vocabulary import Class
from tests.test_ocsf import CORPUS_RECORDS, mapped, readme_section, tap_record

TYPES = ocsf_schema()["dictionary"]["types"]["attributes"]
SPARSE_MESSAGE = {  # tests/samples' observed_message_delivered_sparse.json, in short
    "id": "m-sparse",
    "GUID": "G-sparse",
    "messageTime": "2026-12-07T09:00:00.000Z",
    "sender": "",
    "messageID": "",
    "messageSize": 0,
    "toAddresses": [""],
}


def typed_values(event: dict, specs: dict, path: str = ""):
    """``(path, OCSF type, value)`` of every scalar of ``event`` outside ``unmapped``."""
    for key, value in event.items():
        if key == "unmapped" and not path:
            continue
        spec = specs.get(key)
        if spec is None:
            continue
        kind = str(spec.get("object_type", spec.get("type")))
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and kind in ocsf_schema()["objects"]:
                yield from typed_values(item, attributes("objects", kind), f"{path}{key}.")
            elif not isinstance(item, dict):
                yield f"{path}{key}", spec.get("type"), item


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def class_specs(event: dict) -> dict:
    return next(k for k in Class if k.ids[0] == event["class_uid"]).attributes


def type_violations(event: dict) -> list[str]:
    """Values outside their OCSF type's ``regex``, ``max_len`` or ``range`` (pydantic-ocsf's
    models check none of them)."""
    found = []
    for path, kind, value in typed_values(event, class_specs(event)):
        rules = TYPES.get(kind, {})
        if isinstance(value, str) and "regex" in rules and not re.search(rules["regex"], value):
            found.append(f"{path}={value!r} is no {kind}")
        if isinstance(value, str) and len(value) > rules.get("max_len", len(value)):
            found.append(f"{path}={value!r} is longer than a {kind}")
        low, high = rules.get("range", (value, value))
        if isinstance(value, int) and not low <= value <= high:
            found.append(f"{path}={value!r} is outside a {kind}")
    return found


def missing_captions(value, specs: dict, path: str = "") -> list[str]:
    """Enumerated ``*_id`` attributes, at any depth, whose sibling caption is absent."""
    found = []
    for key, item in value.items():
        spec = specs.get(key)
        if spec is None or key == "unmapped":
            continue
        sibling = spec.get("sibling")
        if "enum" in spec and sibling in specs and sibling not in value:
            found.append(f"{path}{key} without {sibling}")
        kind = str(spec.get("object_type", spec.get("type")))
        if kind in ocsf_schema()["objects"]:
            for child in item if isinstance(item, list) else [item]:
                if isinstance(child, dict):
                    found += missing_captions(child, attributes("objects", kind), f"{path}{key}.")
    return found


# -- High: a record the tap writes crashes the mapper --


@pytest.mark.fast
@pytest.mark.parametrize(
    ("stream", "field", "value"),
    [
        ("clicks_permitted", "clickTime", "0001-01-01T00:00:00+01:00"),
        ("messages_delivered", "messageTime", "9999-12-31T23:59:59-01:00"),
        ("threats", "identifiedAt", "0001-01-01T00:00:00+01:00"),
    ],
)
def test_a_time_at_the_edge_of_the_calendar_does_not_crash_the_mapper(stream, field, value):
    record = tap_record(stream, {"id": "x", field: value})
    assert record[field] == value  # the tap writes it as sent: a valid RFC 3339 date-time
    event = mapped(stream, record)
    assert isinstance(event["time"], int)


# -- Medium: what a SOC analyst gets wrong --


def test_the_readmes_join_gives_a_click_its_one_message():
    duckdb = pytest.importorskip("duckdb")
    messages = [
        mapped(
            "messages_delivered",
            tap_record(
                "messages_delivered",
                {"id": f"m-{who}", "GUID": "G1", "recipient": [f"{who}@corp.example"],
                 "subject": "Invoice", "messageTime": "2026-12-07T07:00:00Z"},
            ),
        )
        for who in ("ann", "bob", "cid")
    ]  # fmt: skip
    click = mapped(
        "clicks_permitted",
        tap_record(
            "clicks_permitted",
            {"id": "c1", "GUID": "G1", "recipient": "ann@corp.example",
             "url": "https://bad.example/", "clickTime": "2026-12-07T08:00:00Z"},
        ),
    )  # fmt: skip
    sql = readme_section().split("```sql\n", 1)[1].split("```", 1)[0]
    with duckdb.connect() as con:  # the columns target-duckdb-proofpoint makes of the SCHEMA
        con.execute('create table ocsf_email_activity (metadata json, email json, "to" varchar[])')
        con.execute("create table ocsf_web_resources_activity (metadata json, actor json)")
        con.executemany(
            "insert into ocsf_email_activity values (?, ?, ?)",
            [[m["metadata"], m["email"], m["to"]] for m in messages],
        )
        con.execute(
            "insert into ocsf_web_resources_activity values (?, ?)",
            [click["metadata"], click["actor"]],
        )
        rows = con.execute(sql).fetchall()
    assert len(rows) == 1, rows


@pytest.mark.fast
def test_a_messages_severity_counts_only_its_active_threats():
    message = {"id": "m1", "threatsInfoMap": [
        {"threatStatus": "active", "classification": "spam", "threatType": "url",
         "threat": "http://spam.example/"},
        {"threatStatus": "cleared", "classification": "malware", "threatType": "attachment",
         "threat": "ab" * 32},
    ]}  # fmt: skip
    event = mapped("messages_delivered", tap_record("messages_delivered", message))
    assert (event["severity_id"], event["is_alert"]) == (3, True)  # Medium: spam got through


@pytest.mark.fast
@pytest.mark.parametrize(
    ("kind", "name", "type_id"),
    [("url", "http://evil.example/x", 6), ("attachment", "ab" * 32, 8)],
)
def test_a_threat_findings_url_or_hash_is_an_observable(kind, name, type_id):
    summary = {"id": "T1", "name": name, "type": kind, "status": "active"}
    event = mapped("threats", tap_record("threats", summary))
    found = {(o["type_id"], o["value"]) for o in event.get("observables", [])}
    assert (type_id, name) in found


# -- Medium / Low: OCSF semantics --


@pytest.mark.fast
@pytest.mark.parametrize("stream", ["messages_delivered", "clicks_blocked", "threats"])
def test_the_source_events_id_is_metadata_original_event_uid(stream):
    record = tap_record(stream, {"id": "source-1"})
    event = mapped(stream, record)
    assert event["metadata"].get("original_event_uid") == "source-1"


@pytest.mark.fast
def test_each_typed_attribute_holds_a_value_of_its_ocsf_type():
    events = [mapped("messages_delivered", tap_record("messages_delivered", SPARSE_MESSAGE))]
    events += [mapped(stream, record) for stream, _, record in CORPUS_RECORDS]
    found = sorted({v for event in events for v in type_violations(event)})
    assert found == []


@pytest.mark.fast
@pytest.mark.parametrize("stream", ["messages_blocked", "clicks_permitted"])
def test_an_ip_observable_holds_an_ip(stream):
    event = mapped(stream, tap_record(stream, {"id": "x", "senderIP": "999.1.1.1"}))
    assert event["unmapped"]["senderIP"] == "999.1.1.1"
    ips = [o["value"] for o in event.get("observables", []) if o["type_id"] == 2]
    assert [ip for ip in ips if not is_ip(ip)] == []


@pytest.mark.fast
def test_a_header_of_two_mailboxes_is_two_items():
    header = '"Clark Kent" <clark.kent@pharmtech.zz>; "Diana Prince" <diana.prince@pharmtech.zz>'
    message = {"id": "m1", "headerTo": header, "headerCC": header}
    email = mapped("messages_delivered", tap_record("messages_delivered", message))["email"]
    mailboxes = [
        '"Clark Kent" <clark.kent@pharmtech.zz>',
        '"Diana Prince" <diana.prince@pharmtech.zz>',
    ]
    assert (email["to_mailboxes"], email["cc_mailboxes"]) == (mailboxes, mailboxes)


@pytest.mark.fast
def test_the_email_subject_is_an_observable():
    message = {"id": "m1", "subject": "Invoice overdue"}
    event = mapped("messages_delivered", tap_record("messages_delivered", message))
    found = {(o["name"], o["type_id"], o["value"]) for o in event.get("observables", [])}
    assert ("email.subject", 40, "Invoice overdue") in found


@pytest.mark.fast
def test_every_enumerated_id_has_its_caption_at_any_depth():
    message = {"id": "m1", "messageParts": [
        {"filename": "a.pdf", "contentType": "application/pdf", "md5": "ab" * 16, "sha256": "cd" * 32}
    ]}  # fmt: skip
    event = mapped("messages_delivered", tap_record("messages_delivered", message))
    assert missing_captions(event, class_specs(event)) == []
