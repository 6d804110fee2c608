"""mapper-proofpoint-ocsf (issue 28): every event a strict OCSF 1.7.0 event of its class, one per
source record, the same for the same input, nothing lost; checked with pydantic-ocsf's models
(tests/ocsf_check.py), in process here and through the CLIs on a day of sandbox traffic."""

from __future__ import annotations

import copy
import importlib.metadata
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tap_proofpoint_tap.intel_records import threat
from tap_proofpoint_tap.mappers.ocsf import events, fields
from tap_proofpoint_tap.mappers.ocsf.mapper import MAPPINGS, OCSFMapper
from tap_proofpoint_tap.mappers.ocsf.schema import OCSF_VERSION, PROFILES, ocsf_schema
from tap_proofpoint_tap.mappers.ocsf.streams import stream_schema
from tap_proofpoint_tap.mappers.ocsf.vocabulary import Class, slot_at
from tap_proofpoint_tap.normalise import SCHEMAS, normalise_click, normalise_message
from tests.intel_runs import SIEM, config, sync
from tests.ocsf_check import MODELS, OCSF_MAPPER, run_ocsf, strict_errors
from tests.test_external_samples import CORPUS

ROOT = Path(__file__).resolve().parents[1]
QUERY_END = "2026-12-07T10:00:00Z"
MAPPED = {
    "messages_delivered": fields.MESSAGE,
    "messages_blocked": fields.MESSAGE,
    "clicks_permitted": fields.CLICK,
    "clicks_blocked": fields.CLICK,
    "threats": fields.THREAT,
}
FETCHED = "2026-12-07T10:05:00Z"


def tap_record(stream: str, event: dict) -> dict:
    """What the tap writes for ``event`` of ``stream``: normalised, with its window's end."""
    if stream == "threats":
        return threat(event, FETCHED, [])
    normalise = normalise_click if stream.startswith("clicks") else normalise_message
    return {**normalise(event, []), "queryEndTime": QUERY_END}


def mapped(stream: str, record: dict) -> dict:
    kind, to_event = MAPPINGS[stream]
    event = to_event(copy.deepcopy(record), stream)
    assert event["class_uid"] == kind.ids[0]
    return event


def leaves(value) -> list:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def assert_nothing_lost(record: dict, event: dict, mapped_fields: frozenset[str]) -> None:
    """Each field with a value is under ``unmapped`` as the tap wrote it, or is mapped: its
    values (a time: in epoch milliseconds) are among the event's own, or it is under
    ``unmapped`` too (a value its OCSF type refuses: a sender ``""``, an IP that is none)."""
    found = set(map(json.dumps, leaves({k: v for k, v in event.items() if k != "unmapped"})))
    for key, value in record.items():
        if value is None:
            continue
        if key.endswith(("Time", "At")) and json.dumps(events._epoch_ms(value)) in found:
            continue  # a time, in epoch milliseconds
        if key not in mapped_fields or not set(map(json.dumps, leaves(value))) <= found:
            assert (event.get("unmapped") or {}).get(key) == value, key


CORPUS_RECORDS = [
    (stream, name, tap_record(stream, event))
    for stream, sample in CORPUS.items()
    for name, event in sample
]


@pytest.mark.fast
@pytest.mark.parametrize(("stream", "name", "record"), CORPUS_RECORDS, ids=lambda v: "")
def test_every_corpus_payload_is_a_strict_ocsf_event(stream, name, record):
    event = mapped(stream, record)
    assert strict_errors(event) == [], name
    assert event["metadata"]["uid"] == record["id"]
    assert event["metadata"]["version"] == OCSF_VERSION
    assert event["metadata"]["product"]["name"] == "Proofpoint TAP"
    assert event["metadata"].get("correlation_uid") == record.get("GUID")
    assert mapped(stream, record) == event  # the same input, the same event
    jsonschema.Draft7Validator(stream_schema(MAPPINGS[stream][0])).validate(event)
    assert_nothing_lost(record, event, MAPPED[stream])


@pytest.mark.fast
def test_the_strict_check_refuses_what_ocsf_does_not_define():
    """Not vacuous: an attribute OCSF lacks, at the top or deep, a value outside its
    enumeration, a profile attribute without the profile, a required attribute missing."""
    stream, _, record = next(r for r in CORPUS_RECORDS if r[0] == "messages_delivered")
    event = mapped(stream, record)
    assert strict_errors(event) == []
    bad = copy.deepcopy(event)
    bad["verdict"] = "x"
    bad["email"]["files"][0]["sandbox"] = "x"
    bad["disposition_id"] = 77
    assert strict_errors(bad) == [
        "verdict: not an OCSF attribute",
        "email.files.sandbox: not an OCSF attribute",
        "disposition_id: 77 is not in its enumeration",
    ]
    no_profile = copy.deepcopy(event)
    del no_profile["metadata"]["profiles"]
    assert "disposition_id: not an OCSF attribute" in strict_errors(no_profile)
    del no_profile["email"]
    assert any("email" in e and "required" in e for e in strict_errors(no_profile))
    assert strict_errors({**event, "unmapped": {"anything": {"goes": [1]}}}) == []


@pytest.mark.fast
@pytest.mark.parametrize("kind", list(Class))
def test_each_stream_schema_is_its_ocsf_class(kind):
    """The SCHEMA's columns are the class's attributes as pydantic-ocsf's model reads them
    (its own reading of the same schema), and those of its profiles."""
    model = MODELS[kind.ids[0]]
    attributes = {f.alias or name for name, f in model.model_fields.items()}
    columns = set(stream_schema(kind)["properties"])
    assert columns == attributes | {a for p in kind.profiles for a in PROFILES[p]}
    assert stream_schema(kind)["properties"]["time"]["type"] == ["integer", "null"]


@pytest.mark.fast
def test_the_version_is_the_newest_pydantic_ocsf_ships():
    files = importlib.metadata.distribution("pydantic-ocsf").files or []
    versions = [
        tuple(map(int, m.groups()))
        for f in files
        if (m := re.fullmatch(r"ocsf/schemas/v(\d+)_(\d+)_(\d+)\.json", str(f)))
    ]
    assert ".".join(map(str, max(versions))) == OCSF_VERSION == ocsf_schema()["version"]
    assert f"OCSF {OCSF_VERSION}" in (OCSFMapper.__doc__ or "")
    assert f"OCSF {OCSF_VERSION}" in (ROOT / "README.md").read_text()


def click(status: str, classification: str = "phish", **extra) -> dict:
    return {
        "id": "c1",
        "GUID": "G1",
        "url": "https://bad.example/x?y=1",
        "clickTime": "2026-12-07T09:00:00.5+01:00",
        "threatStatus": status,
        "classification": classification,
        "clickIP": "192.0.2.7",
        "recipient": "ann@corp.example",
        **extra,
    }


@pytest.mark.fast
@pytest.mark.parametrize(
    ("stream", "status", "classification", "action", "severity", "alert"),
    [
        ("clicks_permitted", "active", "phish", 1, 4, True),
        ("clicks_permitted", "active", "spam", 1, 3, True),
        ("clicks_blocked", "active", "malware", 2, 2, False),
        ("clicks_permitted", "cleared", "phish", 1, 1, False),
        ("clicks_permitted", "falsePositive", "malware", 1, 1, False),
    ],
)
def test_a_click_says_what_proofpoint_did_and_how_much_it_matters(
    stream, status, classification, action, severity, alert
):
    event = mapped(stream, tap_record(stream, click(status, classification)))
    assert strict_errors(event) == []
    assert (event["action_id"], event["disposition_id"]) == (action, 1 if action == 1 else 2)
    assert (event["severity_id"], event["is_alert"]) == (severity, alert)
    assert event["time"] == 1796630400500  # 08:00:00.5 UTC
    assert event["metadata"]["correlation_uid"] == "G1"
    assert event["src_endpoint"] == {"ip": "192.0.2.7"}
    assert event["actor"] == {"user": {"email_addr": "ann@corp.example"}}
    assert event["http_request"]["url"]["hostname"] == "bad.example"


@pytest.mark.fast
def test_a_message_and_its_clicks_join_on_the_guid():
    message = {"id": "m1", "GUID": "G1", "messageTime": "2026-12-07T07:00:00Z"}
    email = mapped("messages_delivered", tap_record("messages_delivered", message))
    web = mapped("clicks_permitted", tap_record("clicks_permitted", click("active")))
    assert email["metadata"]["correlation_uid"] == web["metadata"]["correlation_uid"] == "G1"
    assert email["message_trace_uid"] == "G1"


@pytest.mark.fast
def test_a_blocked_message_in_quarantine_says_so():
    message = {"id": "m1", "quarantineFolder": "Phish", "quarantineRule": "inbound_phish", "threatsInfoMap": [
        {"threatStatus": "active", "classification": "phish", "threatType": "url",
         "threat": "http://bad.example/"}
    ]}  # fmt: skip
    event = mapped("messages_blocked", tap_record("messages_blocked", message))
    assert (event["action_id"], event["disposition_id"], event["severity_id"]) == (2, 3, 2)
    assert event["policy"] == {"name": "inbound_phish", "is_applied": True}
    assert strict_errors(event) == []
    assert event["time"] == events._epoch_ms(QUERY_END)  # no messageTime: the window's end
    assert event["email"]["urls"] == [
        {
            "url_string": "http://bad.example/",
            "scheme": "http",
            "hostname": "bad.example",
            "path": "/",
        }
    ]


@pytest.mark.fast
@pytest.mark.parametrize(
    ("status", "status_id", "activity_id", "score", "severity"),
    [("active", 1, 1, 950, 5), ("cleared", 4, 3, 450, 3), ("falsePositive", 3, 3, 0, 1),
     ("something", 99, 2, None, 0)],
)  # fmt: skip
def test_a_threat_is_a_finding_read_at_a_time(status, status_id, activity_id, score, severity):
    summary = {"id": "T1", "name": "Evil", "status": status, "severityScore": score,
               "identifiedAt": "2026-12-06T10:00:00Z", "malware": [{"id": "m", "name": "Tordal"}]}  # fmt: skip
    record = tap_record("threats", summary)
    event = mapped("threats", record)
    assert strict_errors(event) == []
    assert (event["status_id"], event["activity_id"], event["severity_id"]) == (
        status_id, activity_id, severity
    )  # fmt: skip
    assert event["finding_info"]["uid"] == "T1"
    assert event["metadata"]["uid"] == f"T1@{FETCHED}"
    assert event["time"] == events._epoch_ms(FETCHED)
    assert event["finding_info"]["created_time"] == events._epoch_ms("2026-12-06T10:00:00Z")
    assert event["malware"] == [{"name": "Tordal", "classification_ids": [0]}]


hostile = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
hostile |= st.sampled_from(["999.1.1.1", "http://[bad", "http://x:99999/", "2026-13-45T99:99Z",
                            "::1", "", " ", "\x00", "0001-01-01T00:00:00+01:00"])  # fmt: skip
values = st.recursive(
    hostile,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
FIXED = {  # found by hand: a time at the first representable day, an IP that is none
    "clicks_permitted": {"clickIP": "999.1.1.1", "url": "http://[x"},
    "messages_delivered": {"messageTime": "0001-01-01T00:00:00+01:00", "senderIP": "1.2.3"},
}
SIEM_EVENTS = {
    stream: st.fixed_dictionaries(
        {},
        optional={
            k: values
            for k in SCHEMAS["click" if stream.startswith("clicks") else "message"]["properties"]
        },
    )
    for stream in ("clicks_permitted", "clicks_blocked", "messages_delivered", "messages_blocked")
}
THREAT_FIELDS = json.loads((ROOT / "tap_proofpoint_tap/schemas/threat.json").read_text())[
    "properties"
]
# a threat summary as the Threat API may send it: either spelling of the fields in dispute
SIEM_EVENTS["threats"] = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=8)},
    optional={k: values for k in [*THREAT_FIELDS, "severity", "verticals"] if k != "id"},
)


@pytest.mark.fast
@settings(max_examples=150, suppress_health_check=list(HealthCheck), deadline=None)
@given(stream=st.sampled_from(sorted(SIEM_EVENTS)), data=st.data())
@example(stream="clicks_permitted", data=None)
@example(stream="messages_delivered", data=None)
def test_any_event_the_tap_writes_maps_to_a_strict_ocsf_event(stream, data):
    """Whatever the API sent, once the tap wrote it: a valid event, nothing of it lost (a
    threat summary too)."""
    event = data.draw(SIEM_EVENTS[stream]) if data is not None else FIXED[stream]
    record = tap_record(stream, event)
    result = mapped(stream, record)
    assert strict_errors(result) == []
    assert_nothing_lost(record, result, MAPPED[stream])


def records_of(messages: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for m in messages:
        if m["type"] == "RECORD":
            found.setdefault(m["stream"], []).append(m["record"])
    return found


def test_a_day_of_sandbox_traffic_through_the_mapper_cli(tmp_path, day_of_traffic):
    """The tap's day (SIEM streams, threats, campaigns, forensics) through the console script:
    one strict event per message, click and threat read; the rest passes through untouched;
    the same input gives the same events; a click joins its message on the GUID."""
    tap = sync(config(day_of_traffic), select=(*SIEM, "threats", "campaigns", "forensics"))
    assert tap.error is None
    out, stderr = run_ocsf(tap.messages, hash_seed=1)
    source, written = records_of(tap.messages), records_of(out)
    for stream, records in source.items():  # everything passes through, in order
        assert written[stream] == records
    for kind in Class:
        events_of = written.get(kind.stream, [])
        read = [
            (s, r) for s, rs in source.items() if MAPPINGS.get(s, [None])[0] == kind for r in rs
        ]
        assert len(events_of) == len(read) > 0, kind
        assert sorted(e["metadata"]["uid"] for e in events_of) == sorted(
            f"{r['id']}@{r['fetchedAt']}" if s == "threats" else r["id"] for s, r in read
        )
        errors = {e["metadata"]["uid"]: strict_errors(e) for e in events_of}
        assert {uid: errs for uid, errs in errors.items() if errs} == {}
    schemas = [m for m in out if m["type"] == "SCHEMA" and m["stream"].startswith("ocsf_")]
    assert sorted(m["stream"] for m in schemas) == sorted(k.stream for k in Class)
    assert all(m["key_properties"] == [] for m in schemas)
    states = [m["value"] for m in out if m["type"] == "STATE"]
    assert states[-1] == tap.state
    guids = {e["message_trace_uid"] for e in written[Class.EMAIL.stream]} - {None}
    clicks = written[Class.WEB.stream]
    assert sum(e["metadata"].get("correlation_uid") in guids for e in clicks) > 0
    for kind in Class:  # every attribute of the stream, in its schema's order
        columns = list(stream_schema(kind)["properties"])
        assert all(list(e) == columns for e in written[kind.stream])
    again, _ = run_ocsf(tap.messages, hash_seed=2)
    assert again == out
    counts = ", ".join(
        f"{len(written[k.stream])} {k.stream}" for k in sorted(Class, key=lambda k: k.stream)
    )
    assert f"wrote {counts}" in stderr


def test_without_pass_through_only_the_ocsf_streams_and_state_leave(tmp_path, day_of_traffic):
    tap = sync(config(day_of_traffic), select=(*SIEM, "threats"))
    out, _ = run_ocsf(tap.messages, {"pass_through": False}, tmp_path)
    assert {m.get("stream") for m in out if m["type"] != "STATE"} == {k.stream for k in Class}
    assert [m["value"] for m in out if m["type"] == "STATE"][-1] == tap.state


def readme_section() -> str:
    return (ROOT / "README.md").read_text().split("## OCSF events", 1)[1].split("\n## ", 1)[0]


@pytest.mark.fast
def test_the_readme_mapping_tables_are_the_mappers():
    section = readme_section()
    for rows in (fields.MESSAGE_ROWS, fields.CLICK_ROWS, fields.THREAT_ROWS):
        for field, attribute, note in rows:
            assert f"| `{field}` | `{attribute}` | {note} |" in section, field


def test_the_readme_settings_table_equals_about():
    about = subprocess.run(
        [OCSF_MAPPER, "--about", "--format", "markdown"], capture_output=True, text=True, check=True
    ).stdout
    rows = [line for line in about.splitlines() if line.startswith("| ") and "Setting" not in line]
    assert rows and all(row in readme_section() for row in rows)
    assert f"OCSF {OCSF_VERSION}" in about


@pytest.mark.fast
@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-12-07T10:00:00.123456789Z", 1796637600123),
        ("2026-12-07t11:00+01:00", 1796637600000),
        ("1969-12-31T23:59:59.5Z", -500),
        ("0001-01-01T00:00:00+01:00", -62135600400000),
        ("9999-12-31T23:59:59-01:00", 253402304399000),
        ("2026-02-30T00:00:00Z", None),
        ("2026-12-07T24:00:00Z", None),
        ("not a time", None),
    ],
)
def test_times_become_epoch_milliseconds_or_nothing(text, ms):
    assert events._epoch_ms(text) == ms


def row_paths(attribute: str) -> list[str]:
    """The OCSF paths a mapping row names: ``finding_info.created_time, first_seen_time`` is
    two paths of one object."""
    paths: list[str] = []
    for part in (p.strip().replace("[]", "") for p in attribute.split(",")):
        parent = paths[-1].rsplit(".", 1)[0] if paths and "." in paths[-1] else ""
        paths.append(part if "." in part or not parent else f"{parent}.{part}")
    return paths


@pytest.mark.fast
@pytest.mark.parametrize(
    ("kind", "rows"),
    [
        (Class.EMAIL, fields.MESSAGE_ROWS),
        (Class.WEB, fields.CLICK_ROWS),
        (Class.FINDING, fields.THREAT_ROWS),
    ],
    ids=["messages", "clicks", "threats"],
)
def test_each_attribute_the_mapping_table_names_is_ocsfs_and_filled(kind, rows):
    """The README's table against the events: every attribute it names exists in the class
    (its profiles included) and holds a value in some event of the corpus or of these tests."""
    made = [mapped(s, r) for s, _, r in CORPUS_RECORDS if MAPPINGS[s][0] == kind]
    made += [
        mapped("messages_blocked", tap_record("messages_blocked", {"id": "q", "quarantineFolder": "P",
                                                                   "quarantineRule": "r"})),
        mapped("threats", tap_record("threats", {"id": "T", "name": "n", "identifiedAt": FETCHED,
                                                 "category": "phish", "severityScore": 5,
                                                 "status": "active", "detectionType": "d",
                                                 "malware": [{"name": "m"}]})),
    ]  # fmt: skip
    for _, attribute, _ in rows:
        for path in row_paths(attribute):
            assert slot_at(kind, path) is not None, path
            filled = [v for event in made for v in leaves(at(event, path)) if v is not None]
            assert filled, path


def at(value, path: str):
    for name in path.split("."):
        if isinstance(value, list):
            value = [v.get(name) for v in value if isinstance(v, dict)]
        elif isinstance(value, dict):
            value = value.get(name)
    return value


@pytest.mark.fast
@pytest.mark.parametrize(
    ("rows", "mapped_only"),
    [
        (fields.MESSAGE_ROWS, fields.MESSAGE),
        (fields.CLICK_ROWS, fields.CLICK),
        (fields.THREAT_ROWS, fields.THREAT),
    ],
    ids=["messages", "clicks", "threats"],
)
def test_each_field_kept_only_in_its_attribute_has_its_row_in_the_table(rows, mapped_only):
    """The two lists of fields.py agree: a field left out of ``unmapped`` is in the README's
    table, which says where it went."""
    named = {f.strip() for field, _, _ in rows for f in field.split(",")}
    assert mapped_only <= named, sorted(mapped_only - named)
