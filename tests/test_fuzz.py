"""Fuzzed payloads (issue 7): no event crashes the tap, none is dropped, every record is valid.

Missing fields, nulls, wrong types, unknown extra fields, huge strings, non-ASCII and control
characters: first against the pure normalisers (hundreds of events), then a few batches served
by the sandbox and read by the tap CLI.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tap_proofpoint_tap.normalise import SCHEMAS, normalise_click, normalise_message
from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import Settings
from tests.helpers import catalog_selecting, hour_floor, run_tap, tap_config
from tests.lossless import assert_nothing_lost

CLICK_KEYS = list(SCHEMAS["click"]["properties"])
MESSAGE_KEYS = list(SCHEMAS["message"]["properties"])
THREAT_KEYS = [
    "threatID",
    "threatId",
    "campaignID",
    "campaignId",
    "classification",
    "threat",
    "threatTime",
    "threatType",
    "threatUrl",
    "detectionType",
    "actors",
]
VALIDATORS = {
    name: jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    for name, schema in SCHEMAS.items()
}

text = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    [
        "",
        " ",
        "na",
        "N/A",
        "true",
        "0",
        "12.5",
        "2026-02-30T00:00:00Z",
        "2026-03-04T10:00:00Z",
        "2026-03-04 10:00:00",
        "x" * 100_000,
        "bob@\x00corp.example",
        "\u202eevil@corp.example",
        "http://ex.ample/a\r\nb",
        "Ünïcødé <ü@exämple.de>",
        "\t\x07\x1b[31m",
    ]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def events(keys: list[str], special: dict) -> st.SearchStrategy[dict]:
    """Any subset of the known keys (and unknown ones) with any values; ``special`` biases some."""
    known = st.fixed_dictionaries({}, optional={key: special.get(key, values) for key in keys})
    extra = st.dictionaries(st.text(max_size=8), values, max_size=3)
    return st.builds(lambda a, b: {**b, **a}, known, extra)


threat = events(
    THREAT_KEYS,
    {
        "actors": st.lists(
            values | st.fixed_dictionaries({"id": values, "name": values}), max_size=2
        )
    },
)
clicks = events(CLICK_KEYS, {})
messages = events(
    MESSAGE_KEYS,
    {
        "threatsInfoMap": st.lists(threat, max_size=3) | values,
        "messageParts": st.lists(
            st.dictionaries(st.text(max_size=12), values, max_size=4) | values, max_size=3
        )
        | values,
        "recipient": st.lists(values, max_size=3) | values,
    },
)


def check_normalised(event: dict, record: dict, problems: list[str], stream: str) -> None:
    record = {**record, "queryEndTime": "2026-03-04T11:00:00Z"}
    VALIDATORS[stream].validate(record)
    json.dumps(record, allow_nan=False)
    assert isinstance(record["id"], str) and record["id"]
    assert_nothing_lost(event, record, problems, stream)


def check_normalise(normalise, event: dict, stream: str) -> None:
    problems: list[str] = []
    record = normalise(copy.deepcopy(event), problems)
    check_normalised(event, record, problems, stream)


# Examples hypothesis once found (kept so every run tries them again, whatever the seed).
@pytest.mark.fast
@given(event=clicks)
@example(event={"unknownFields": None})
@example(event={"recipient": [None]})
@example(event={"recipient": ["a@x.example", None, 7]})
@example(event={"id": ""})
@example(event={"queryEndTime": "0001-01-01T00:00:00"})
@example(event={"spamScore": 1.5, "clickTime": "2026-02-30T00:00:00Z", "": {"a": [1.5]}})
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_click_normalises_to_a_valid_record(event):
    check_normalise(normalise_click, event, "click")


@pytest.mark.fast
@given(event=messages)
@example(event={"threatsInfoMap": [{"threatId": {}}]})
@example(event={"threatsInfoMap": [{"threatId": []}, None, "x"]})
@example(event={"threatsInfoMap": [{"threatID": None, "actors": [""]}]})
@example(event={"threatsInfoMap": [{"threatId": "a", "threatID": "b", "campaignId": None}]})
@example(event={"completelyRewritten": "", "clusterId": None, "cluster": "c"})
@example(event={"spamScore": 12.5, "recipient": "", "fromAddress": "f@x.example"})
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_message_normalises_to_a_valid_record(event):
    check_normalise(normalise_message, event, "message")


# No shrinking through subprocesses: a failure reports the batch as generated, in seconds.
END_TO_END_PHASES = (Phase.explicit, Phase.reuse, Phase.generate)


def serve_and_read(tmp_path, stream: str, batch: list[dict]):
    """Serve ``batch`` in one window of the sandbox and read it with the tap CLI."""
    with Sandbox(settings=Settings(per_hour=()), clock=Clock(), history=timedelta(days=1)) as sb:
        base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
        for n, event in enumerate(batch):
            sb.store.add(stream, event, created=base + timedelta(seconds=10 * n + 1))
        config = tap_config(sb, base, base + timedelta(hours=1))
        if stream not in CATALOGS:  # discovery does not depend on the sandbox: once per stream
            CATALOGS[stream] = catalog_selecting(tmp_path, config, stream)
        return run_tap(tmp_path, config, catalog=CATALOGS[stream])


CATALOGS: dict[str, dict] = {}


@given(st.lists(clicks, min_size=1, max_size=25))
@settings(
    max_examples=5,
    deadline=None,
    phases=END_TO_END_PHASES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_tap_emits_every_fuzzed_click(tmp_path, batch):
    batch = [{**event, "threatStatus": "active"} for event in batch]  # served by the filter
    run = serve_and_read(tmp_path, "clicks_permitted", batch)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    expected = {normalise_click(copy.deepcopy(e), [])["id"] for e in batch}
    assert sorted(run.ids()) == sorted(expected)


@given(st.lists(messages, min_size=1, max_size=15))
@settings(
    max_examples=4,
    deadline=None,
    phases=END_TO_END_PHASES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_tap_emits_every_fuzzed_message(tmp_path, batch):
    batch = [
        {**event, "threatsInfoMap": [{"threatStatus": "active", "threatType": "url"}]}
        for event in batch
    ]
    run = serve_and_read(tmp_path, "messages_delivered", batch)
    assert run.returncode == 0, run.stderr[-2000:]
    expected = {normalise_message(copy.deepcopy(e), [])["id"] for e in batch}
    assert sorted(run.ids()) == sorted(expected)


def test_what_the_streaming_parser_refuses_is_read_whole_and_kept(tmp_path):
    """A lone surrogate escape stops the C parser; the stdlib reads it, the record keeps it."""
    batch = [
        {
            "id": "odd",
            "threatStatus": "active",
            "userAgent": "bad \udc80 agent",
            "clickTime": "2026-03-04T10:00:00.000Z",
            "spare": -(2**70),
        },
        {"id": "plain", "threatStatus": "active", "url": "https://x.example/ü\u2028\x85"},
    ]  # line separators, unescaped in JSON
    run = serve_and_read(tmp_path, "clicks_permitted", batch)
    assert run.returncode == 0, run.stderr[-2000:]
    records = {r["id"]: r for r in run.records()}
    assert set(records) == {"odd", "plain"}
    assert records["odd"]["userAgent"] == "bad \ufffd agent"
    assert records["plain"]["url"] == "https://x.example/ü\u2028\x85"
    assert "userAgent held invalid Unicode" in run.stderr
    assert "try 1 of 5 failed (unreadable body" in run.stderr  # then read whole, at once
