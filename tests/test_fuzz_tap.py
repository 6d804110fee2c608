"""Fuzzed hostile input for the tap (issue 24), in process: event arrays of any depth, numbers
no float holds and key names that look like the envelope's; and any answer a broken or hostile
server can give. `make fuzz` explores further (tests/fuzz.py)."""

from __future__ import annotations

import io
import json
import logging

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.budget import RequestBudget
from tap_proofpoint_tap.envelope import ARRAY_KEYS, EnvelopeError, stream_arrays, whole_arrays
from tap_proofpoint_tap.errors import TapError
from tap_proofpoint_tap.normalise import normalise_click
from tap_proofpoint_tap.reader import Endpoint, Member, Query, Transport, WindowReader
from tap_proofpoint_tap.singer_io import ENCODER
from tests.hostile import Hostile

pytestmark = pytest.mark.fast
LOGGER = logging.getLogger("test_fuzz_tap")

numbers = st.sampled_from(
    ["1e400", "-1e400", "1E-400", "123456789012345678901234567890", "-0", "0.0", "1.5e308"]
) | st.integers(min_value=-(10**40), max_value=10**40).map(str)
names = st.text(max_size=12) | st.sampled_from(
    ['"', "\\", "\x00", "\u2028", "clicksPermitted", '"clicksPermitted":[', "}],", ""]
)


@st.composite
def deep_fields(draw: st.DrawFn) -> tuple[str, str]:
    """A field name and the JSON text of a value nested ``levels`` deep around a number."""
    levels = draw(st.integers(min_value=0, max_value=3000))
    shape = draw(st.sampled_from(["[", '{"k":', '[{"k":']))
    closing = {"[": "]", '{"k":': "}", '[{"k":': "}]"}[shape]
    return draw(names), shape * levels + draw(numbers) + closing * levels


@given(fields=st.lists(deep_fields(), min_size=1, max_size=3))
@example(fields=[("deep", "[" * 100_000 + "1" + "]" * 100_000)])
@example(fields=[("clicksPermitted", "[1e400]")])
@example(fields=[("n", "1e400"), ("m", '{"k":' * 2000 + "-1e400" + "}" * 2000)])
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_depth_and_any_number_is_decoded_kept_and_encoded(fields):
    members = ",".join(f"{json.dumps(name)}:{value}" for name, value in fields)
    event = '{"id":"e1","clickTime":"2026-03-04T10:00:00Z",' + members + "}"
    body = '{"clicksBlocked":[],"clicksPermitted":[' + event + ',{"id":"e2"}]}'
    wanted = frozenset({"clicksPermitted"})
    try:
        decoded = list(stream_arrays(io.BytesIO(body.encode()), wanted))
    except EnvelopeError:  # a key quoted in an event fools the cuts: the reader reads it whole
        decoded = list(whole_arrays(body.encode(), wanted))
    assert [item["id"] for _, item in decoded] == ["e1", "e2"]
    problems: list[str] = []
    record = normalise_click(decoded[0][1], problems)
    line = json.loads(ENCODER.encode(record))  # encodable, and valid JSON once encoded
    assert line["id"] == "e1" and line["clickTime"] == "2026-03-04T10:00:00Z"
    kept = {**(line["unknownFields"] or {}), **{k: v for k, v in line.items() if v is not None}}
    assert all(name in kept for name, _ in fields)  # every field sent is somewhere


ENVELOPE = json.dumps(
    {
        "queryEndTime": "2026-03-04T12:00:00Z",
        **{
            key: [{"id": f"{key}-{n}", "threatStatus": "active"} for n in range(3)]
            for key in ARRAY_KEYS
        },
    }
).encode()
bodies = (
    st.binary(max_size=3000)
    | st.integers(min_value=0, max_value=len(ENVELOPE)).map(lambda n: ENVELOPE[:n])
    | st.tuples(st.integers(0, len(ENVELOPE) - 1), st.binary(min_size=1, max_size=8)).map(
        lambda cut: ENVELOPE[: cut[0]] + cut[1] + ENVELOPE[cut[0] + len(cut[1]) :]
    )
    | st.just(ENVELOPE)
)
statuses = st.sampled_from([200, 200, 200, 204, 301, 302, 307, 400, 401, 403, 404, 429, 500, 503])
content_types = st.sampled_from(["application/json", "text/plain", "text/html", ""])
headers = st.dictionaries(
    st.sampled_from(["Location", "Content-Encoding", "Retry-After", "Transfer-Encoding"]),
    st.sampled_from(["gzip", "chunked", "http://elsewhere.example/", "\x7f", "", "999"]),
    max_size=2,
)


@pytest.fixture(scope="module")
def server():
    answer: dict = {}

    def respond(handler, _server):
        handler.send_response(answer["status"])
        for name, value in {"Content-Type": answer["type"], **answer["headers"]}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer["body"])))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(answer["body"])
        handler.close_connection = True

    with Hostile().on(respond) as server:
        yield server.url, answer


@given(status=statuses, body=bodies, content_type=content_types, extra=headers)
@example(status=200, body=ENVELOPE, content_type="application/json", extra={})
@example(status=302, body=b"", content_type="", extra={"Location": "\x7f"})
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_answer_ends_in_records_or_one_tap_error(server, status, body, content_type, extra):
    url, answer = server
    answer.update(status=status, body=body, type=content_type, headers=extra)
    transport = Transport(
        session=requests.Session(),
        base_url=url,
        headers={},
        auth=requests.auth.HTTPBasicAuth("p", "s"),
        timeout=5,
        tries=1,
        waits=lambda: iter([0.0] * 5),
        logger=LOGGER,
        sleep=lambda _: None,
    )
    members = tuple(
        Member(name, key, "shared", lambda e: {"id": str(e.get("id"))}, lambda _: None, LOGGER)
        for name, key in zip(("a", "b", "c", "d"), ARRAY_KEYS, strict=True)
    )
    reader = WindowReader(Endpoint.all(members), transport, RequestBudget(None), Query(), str)
    end = windows.parse("2026-03-04T12:00:00Z")
    window = windows.Window(end.replace(hour=11), end)
    got = []
    try:
        reading = reader.read(window, frozenset("abcd"))
        while True:
            got.append(next(reading))
    except StopIteration:  # taken as read: only a whole envelope, every object in it
        assert status == 200
        sent = json.loads(body)
        assert len(got) == sum(isinstance(e, dict) for key in ARRAY_KEYS for e in sent[key])
    except TapError as error:  # anything else: one line
        assert "\n" not in str(error) and len(str(error)) < 1000
    finally:
        transport.session.close()
