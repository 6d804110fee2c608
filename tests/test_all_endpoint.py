"""Reading the streams together through /v2/siem/all (issue 16).

The tap CLI and Meltano against the sandbox on 127.0.0.1, asserting on Singer messages, state
and the sandbox's request log; plus the pure parts (window series, envelope cutting) without
a server. Events are placed by hand in hours relative to the real clock's hour, so no test
depends on the time of day.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.budget import requests_line
from tap_proofpoint_tap.envelope import EnvelopeError, stream_arrays, whole_arrays
from tap_proofpoint_tap.sandboxes.siem import Fault
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS
from tap_proofpoint_tap.tap import combined_names
from tap_proofpoint_tap.windows import fmt
from tests.helpers import (
    AUTH,
    MELTANO,
    SANDBOX_CREDENTIALS,
    TAP,
    assert_no_secret,
    backfill_sandbox,
    catalog_selecting,
    click,
    consume,
    deselect,
    finish,
    hour_floor,
    run_tap,
    tap_config,
    truth,
)

ALL = "/v2/siem/all"
KEYS = {
    "clicks_permitted": "clicksPermitted",
    "clicks_blocked": "clicksBlocked",
    "messages_delivered": "messagesDelivered",
    "messages_blocked": "messagesBlocked",
}


def message(n: int, created: datetime, threat_type: str = "url") -> dict:
    """A message ``msg-<n>`` whose threat was recognised at ``created``."""
    stamp = created.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "id": f"msg-{n}",
        "GUID": f"guid-m{n}",
        "QID": f"q{n}",
        "messageTime": stamp,
        "messageID": f"<m{n}@bad.example>",
        "sender": "s@bad.example",
        "recipient": [f"user{n}@acme.example"],
        "subject": f"subject {n}",
        "threatsInfoMap": [
            {
                "threatID": f"t{n}",
                "classification": "phish",
                "threat": "https://bad.example",
                "threatStatus": "active",
                "threatTime": stamp,
                "threatType": threat_type,
            }
        ],
    }


def event(stream: str, n: int, created: datetime) -> dict:
    if stream.startswith("clicks"):
        return {**click(n, created), "id": f"{stream}-{n}"}
    return {**message(n, created), "id": f"{stream}-{n}"}


def place(sandbox, base: datetime, hours: dict[str, tuple[int, ...]]) -> dict[str, set[str]]:
    """Two events per listed hour (after ``base``) of each stream; returns the ids per stream."""
    ids: dict[str, set[str]] = {stream: set() for stream in STREAMS}
    for stream, listed in hours.items():
        for n, hour in enumerate(h for h in listed for _ in range(2)):
            created = base + timedelta(hours=hour, minutes=11 + 17 * (n % 2))
            sandbox.store.add(stream, event(stream, n, created))
            ids[stream].add(f"{stream}-{n}")
    return ids


def bookmarks(state: dict) -> dict[str, str | None]:
    return {
        stream: state["bookmarks"].get(stream, {}).get("replication_key_value")
        for stream in STREAMS
    }


def state_at(**marks: datetime) -> dict:
    return {
        "bookmarks": {
            stream: {"replication_key": "queryEndTime", "replication_key_value": fmt(when)}
            for stream, when in marks.items()
        }
    }


# -- the pure parts --


def plan(start: datetime, end: datetime) -> windows.Plan:
    return windows.Plan(windows.split(start, end, 60))


@pytest.mark.fast
def test_combined_windows_start_at_the_earliest_start_and_each_stream_joins_at_its_own():
    t0 = datetime(2026, 3, 4, 0, 0, tzinfo=timezone.utc)
    series = windows.combine(
        {
            "a": plan(t0 + timedelta(minutes=30), t0 + timedelta(hours=5)),
            "b": plan(t0, t0 + timedelta(hours=5)),
            "c": plan(t0 + timedelta(hours=2, minutes=45), t0 + timedelta(hours=5)),
            "d": windows.Plan([]),
        },
        60,
    )
    assert [w.start for w, _ in series] == [t0 + timedelta(hours=h) for h in range(5)]
    assert [sorted(members) for _, members in series] == [
        ["a", "b"],
        ["a", "b"],
        ["a", "b", "c"],
        ["a", "b", "c"],
        ["a", "b", "c"],
    ]
    assert windows.combine({"d": windows.Plan([])}, 60) == []


@pytest.mark.fast
def test_which_streams_read_together():
    four = ["clicks_blocked", "clicks_permitted", "messages_blocked", "messages_delivered"]
    assert combined_names(four, use_all=True, own=frozenset()) == four
    assert combined_names(four, use_all=False, own=frozenset()) == []
    assert combined_names(four[:1], use_all=True, own=frozenset()) == []
    assert combined_names(four, use_all=True, own=frozenset(four[2:])) == four[:2]
    assert combined_names(four[1:3], use_all=True, own=frozenset(four[2:])) == []


@pytest.mark.fast
def test_the_requests_line_shows_the_saving():
    assert requests_line({"shared": 168}, {"clicks_permitted": 168, "shared": 504}) == (
        "shared 168 (SIEM: 672 with each stream at its own endpoint: clicks_permitted 168, "
        "shared 504)"
    )
    assert requests_line(
        {"shared": 5, "threat_summary": 9}, {"clicks_permitted": 5, "shared": 15}
    ) == (
        "shared 5, threat_summary 9 (SIEM: 20 with each stream at its own endpoint: "
        "clicks_permitted 5, shared 15)"
    )
    assert (
        requests_line({"clicks_permitted": 7, "shared": 7}, {"clicks_permitted": 7, "shared": 7})
        == "clicks_permitted 7, shared 7"
    )
    assert requests_line({}, {}) == "none"


ENVELOPES = {
    "compact": b'{"clicksBlocked":[{"id":"b1"}],"clicksPermitted":[{"id":"p1"},{"id":"p2"}],'
    b'"messagesBlocked":[],"messagesDelivered":[{"id":"d1","x":[1,{"y":"]"}]}],'
    b'"queryEndTime":"2026-03-04T12:00:00Z"}',
    "spaced, queryEndTime first": b'{ "queryEndTime" : "2026-03-04T12:00:00Z",\n'
    b' "messagesDelivered" : [ {"id":"d1","x":[1,{"y":"]"}]} ] ,\n'
    b' "clicksPermitted": [{"id":"p1"}, {"id":"p2"}], "messagesBlocked":[ ],'
    b' "clicksBlocked" :[{"id":"b1"}] }',
    "queryEndTime between": b'{"clicksPermitted":[{"id":"p1"},{"id":"p2"}],'
    b'"queryEndTime":"2026-03-04T12:00:00Z","clicksBlocked":[{"id":"b1"}],'
    b'"messagesDelivered":[{"id":"d1","x":[1,{"y":"]"}]}],"messagesBlocked":[]}',
}


class Trickle(io.BytesIO):
    """A body that arrives a few bytes at a time, so keys are cut between reads."""

    def read(self, size: int = -1) -> bytes:
        return super().read(min(size, 7) if size > 0 else 7)


@pytest.mark.fast
@pytest.mark.parametrize("name", ENVELOPES)
@pytest.mark.parametrize("reader", [io.BytesIO, Trickle])
def test_envelope_arrays_are_cut_out_in_one_pass(name, reader):
    body = ENVELOPES[name]
    wanted = frozenset({"clicksPermitted", "messagesDelivered", "messagesBlocked"})
    got = sorted((key, item["id"]) for key, item in stream_arrays(reader(body), wanted))
    assert got == [
        ("clicksPermitted", "p1"),
        ("clicksPermitted", "p2"),
        ("messagesDelivered", "d1"),
    ]
    assert sorted((k, i["id"]) for k, i in whole_arrays(body, wanted)) == got


@pytest.mark.fast
@pytest.mark.parametrize(
    "body",
    [
        ENVELOPES["compact"][: len(ENVELOPES["compact"]) // 2],  # cut off
        ENVELOPES["compact"][:-1],  # the closing brace missing
        b'{"clicksBlocked":[{"id":"b1"}],"queryEndTime":"2026-03-04T12:00:00Z"}',  # no array
        b'{"clicksPermitted":null,"clicksBlocked":[]}',
        b'[{"clicksPermitted":[]}]',
        b"Internal error",
        b"",
        # a top-level key quoted inside an event: the cut is wrong, and the parsers say so
        b'{"clicksBlocked":[{"id":"b1","note":{"clicksPermitted":[1]}}],"clicksPermitted":[]}',
    ],
)
def test_an_envelope_that_is_not_whole_is_refused(body):
    with pytest.raises(EnvelopeError):
        list(stream_arrays(io.BytesIO(body), frozenset({"clicksPermitted"})))


@pytest.mark.fast
def test_an_event_quoting_a_key_is_still_read_whole_by_the_fallback():
    body = (
        b'{"clicksBlocked":[{"id":"b1","note":{"clicksPermitted":[1]}}],'
        b'"clicksPermitted":[{"id":"p1"}]}'
    )
    assert [i["id"] for _, i in whole_arrays(body, frozenset({"clicksPermitted"}))] == ["p1"]


# -- the sandbox's /all follows the rules of the other endpoints --


def get(sandbox, path, **params):
    return requests.get(
        sandbox.url + path, auth=AUTH, timeout=30, params={"format": "json", **params}
    )


@pytest.mark.fast
def test_sandbox_all_filters_pools_and_faults_like_the_other_endpoints(live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    interval = f"{fmt(base)}/{fmt(base + timedelta(hours=1))}"
    for stream in STREAMS:
        for n, status in enumerate(("active", "cleared", "falsePositive")):
            created = base + timedelta(minutes=10 + n)
            item = event(stream, n, created)
            if stream.startswith("clicks"):
                item["threatStatus"] = status
            else:
                item["threatsInfoMap"][0]["threatStatus"] = status
                item["threatsInfoMap"][0]["threatType"] = "attachment" if n else "url"
            live_sandbox.store.add(stream, item)
    body = get(live_sandbox, ALL, interval=interval).json()
    assert {key: len(body[key]) for key in KEYS.values()} == dict.fromkeys(KEYS.values(), 2)
    body = get(live_sandbox, ALL, interval=interval, threatStatus="falsePositive").json()
    assert {key: len(body[key]) for key in KEYS.values()} == dict.fromkeys(KEYS.values(), 1)
    own = get(
        live_sandbox, "/v2/siem/messages/blocked", interval=interval, threatType="url"
    ).json()["messagesBlocked"]
    typed = get(live_sandbox, ALL, interval=interval, threatType="url").json()
    assert [e["id"] for e in typed["messagesBlocked"]] == [e["id"] for e in own]
    assert len(typed["clicksPermitted"]) == 2  # threatType leaves clicks alone here (a guess)
    assert get(live_sandbox, ALL, interval=interval, threatStatus="bogus").status_code == 400
    assert get(live_sandbox, ALL).status_code == 400
    live_sandbox.inject(Fault("status", status=503, path=ALL))
    assert get(live_sandbox, "/v2/siem/clicks/blocked", interval=interval).status_code == 200
    assert get(live_sandbox, ALL, interval=interval).status_code == 503
    live_sandbox.rate_limit = len(live_sandbox.siem_requests()) - 1  # shared pool now full
    assert get(live_sandbox, ALL, interval=interval).status_code == 429
    assert get(live_sandbox, "/v2/siem/clicks/blocked", interval=interval).status_code == 429
    assert get(live_sandbox, "/v2/siem/clicks/permitted", interval=interval).status_code == 200


# -- the tap CLI --


def test_four_streams_one_request_per_window_each_event_once(tmp_path, live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=7)
    expected = place(
        live_sandbox,
        base,
        {"clicks_permitted": (0, 2, 4), "clicks_blocked": (1,), "messages_delivered": (0, 3)},
    )  # messages_blocked: none
    config = tap_config(live_sandbox, base, base + timedelta(hours=5))
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    asked = live_sandbox.siem_requests()
    assert [r.path for r in asked] == [ALL] * 5
    assert [r.params["interval"][0] for r in asked] == [
        f"{fmt(base + timedelta(hours=h))}/{fmt(base + timedelta(hours=h + 1))}" for h in range(5)
    ]
    assert all(
        "threatType" not in r.params and r.params["threatStatus"] == ["active", "cleared"]
        for r in asked
    )
    for stream in STREAMS:
        assert sorted(run.ids(stream)) == sorted(expected[stream]), stream
    for record in run.records():
        created = windows.parse(
            record.get("threatTime") or record["threatsInfoMap"][0]["threatTime"]
        )
        assert (
            windows.parse(record["queryEndTime"]) - timedelta(hours=1)
            <= created
            < windows.parse(record["queryEndTime"])
        )
    ends = [fmt(base + timedelta(hours=h)) for h in range(1, 6)]
    window_states = [bookmarks(s) for s in run.states if any(bookmarks(s).values())]
    assert [marks["clicks_permitted"] for marks in window_states][:5] == ends  # one per window
    assert all(len(set(marks.values())) == 1 for marks in window_states)  # every stream moves
    assert bookmarks(run.states[-1]) == dict.fromkeys(STREAMS, fmt(base + timedelta(hours=5)))
    assert (
        "(SIEM: 20 with each stream at its own endpoint: clicks_permitted 5, shared 15)"
        in run.stderr
    )


def killed_at_request(tmp_path, config: dict, state: dict | None, sandbox, count: int) -> list:
    """Run the tap into a file and SIGKILL it once the sandbox has seen ``count`` requests;
    return the whole lines it wrote (what a target would have consumed)."""
    (tmp_path / "config.json").write_text(json.dumps(config))
    argv = [TAP, "--config", str(tmp_path / "config.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        argv += ["--state", str(tmp_path / "state.json")]
    with open(tmp_path / "out.jsonl", "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        while len(sandbox.requests) < count and proc.poll() is None:
            time.sleep(0.002)
        assert proc.poll() is None, "the run ended before the kill point"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    text = (tmp_path / "out.jsonl").read_text()
    return [json.loads(line) for line in text.split("\n")[:-1]]  # a cut last line is dropped


def test_kill_9_at_random_requests_then_resume_costs_at_most_a_window_per_kill(tmp_path):
    rng = random.Random(16)
    with backfill_sandbox(16, days=3) as sandbox:
        end = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=1)
        start = end - timedelta(hours=48)
        expected = truth(sandbox, start, end)
        config = tap_config(sandbox, start, end, lookback_minutes=0)
        seen: dict[str, set[str]] = {stream: set() for stream in STREAMS}
        state = None
        kill_points = sorted(rng.sample(range(2, 46), 3))
        for count in kill_points:
            state = consume(killed_at_request(tmp_path, config, state, sandbox, count), seen, state)
        final = finish(tmp_path, config, state, seen)
        assert seen == expected
        assert {r.path for r in sandbox.siem_requests()} == {ALL}
        assert 48 < len(sandbox.siem_requests()) <= 48 + len(kill_points)
        assert bookmarks(final.states[-1]) == dict.fromkeys(STREAMS, fmt(end))


def test_differing_bookmarks_share_one_request_per_window(tmp_path, live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=7)
    end = base + timedelta(hours=5)
    every_hour = tuple(range(5))
    expected = place(live_sandbox, base, dict.fromkeys(STREAMS, every_hour))
    config = tap_config(live_sandbox, base, end)
    # clicks_permitted failed an hour in, clicks_blocked is three hours further, messages_blocked
    # is done, messages_delivered was added since (no bookmark: start_date).
    state = state_at(
        clicks_permitted=base + timedelta(hours=1),
        clicks_blocked=base + timedelta(hours=3),
        messages_blocked=end,
    )
    run = run_tap(tmp_path, config, state=state)
    assert run.returncode == 0, run.stderr
    asked = live_sandbox.siem_requests()
    assert [r.path for r in asked] == [ALL] * 5
    assert asked[0].params["interval"][0].startswith(fmt(base))
    assert sorted(run.ids("messages_delivered")) == sorted(expected["messages_delivered"])
    assert sorted(run.ids("clicks_permitted")) == sorted(expected["clicks_permitted"])
    # From the window holding its start (bookmark - look-back: hour 2:30) on, nothing before.
    assert sorted(run.ids("clicks_blocked")) == sorted(f"clicks_blocked-{n}" for n in range(4, 10))
    assert run.ids("messages_blocked") == []
    assert bookmarks(run.states[-1]) == dict.fromkeys(STREAMS, fmt(end))
    marks = [bookmarks(s)["clicks_blocked"] for s in run.states]
    assert list(dict.fromkeys(marks)) == [fmt(base + timedelta(hours=h)) for h in (3, 4, 5)]


def test_two_streams_together_skip_the_other_arrays(tmp_path, live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    expected = place(live_sandbox, base, dict.fromkeys(STREAMS, (0, 1)))
    broken = {**event("clicks_blocked", 99, base + timedelta(minutes=5)), "clickTime": "never"}
    live_sandbox.store.add("clicks_blocked", broken, created=base + timedelta(minutes=5))
    config = tap_config(live_sandbox, base, base + timedelta(hours=2))
    run = run_tap(
        tmp_path,
        config,
        catalog=catalog_selecting(tmp_path, config, "clicks_permitted", "messages_blocked"),
    )
    assert run.returncode == 0, run.stderr
    assert [r.path for r in live_sandbox.siem_requests()] == [ALL] * 2
    assert {m["stream"] for m in run.messages if m["type"] in ("RECORD", "SCHEMA")} == {
        "clicks_permitted",
        "messages_blocked",
    }
    assert sorted(run.ids("clicks_permitted")) == sorted(expected["clicks_permitted"])
    assert sorted(run.ids("messages_blocked")) == sorted(expected["messages_blocked"])
    assert "kept with repairs" not in run.stderr  # clicks_blocked's broken event: never built
    schemas = [m["stream"] for m in run.messages if m["type"] == "SCHEMA"]
    assert sorted(schemas) == ["clicks_permitted", "messages_blocked"]  # once each


@pytest.mark.parametrize(
    ("selected", "settings", "paths"),
    [
        (("clicks_blocked",), {}, {"/v2/siem/clicks/blocked"}),
        (
            STREAMS,
            {"use_all_endpoint": False},
            {
                "/v2/siem/clicks/permitted",
                "/v2/siem/clicks/blocked",
                "/v2/siem/messages/delivered",
                "/v2/siem/messages/blocked",
            },
        ),
    ],
)
def test_one_stream_or_the_setting_false_reads_the_own_endpoints(
    tmp_path, live_sandbox, selected, settings, paths
):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    expected = place(live_sandbox, base, dict.fromkeys(STREAMS, (0, 2)))
    config = tap_config(live_sandbox, base, base + timedelta(hours=3), **settings)
    run = run_tap(tmp_path, config, catalog=catalog_selecting(tmp_path, config, *selected))
    assert run.returncode == 0, run.stderr
    asked = live_sandbox.siem_requests()
    assert {r.path for r in asked} == paths and len(asked) == 3 * len(paths)
    for stream in selected:
        assert sorted(run.ids(stream)) == sorted(expected[stream])
    assert "with each stream at its own endpoint" not in run.stderr


def test_threat_type_sends_the_messages_to_their_own_endpoints(tmp_path, live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    place(live_sandbox, base, dict.fromkeys(STREAMS, (0, 1)))
    config = tap_config(live_sandbox, base, base + timedelta(hours=2), threat_type=["url"])
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    by_path: dict[str, list] = {}
    for request in live_sandbox.siem_requests():
        by_path.setdefault(request.path, []).append(request.params.get("threatType"))
    assert by_path == {
        ALL: [None, None],
        "/v2/siem/messages/delivered": [["url"]] * 2,
        "/v2/siem/messages/blocked": [["url"]] * 2,
    }
    assert run.stderr.count("threat_type is set") == 1
    assert all(run.ids(stream) for stream in STREAMS)


def test_429_mid_run_stops_every_stream_at_its_last_whole_window(tmp_path, live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=6)
    expected = place(live_sandbox, base, dict.fromkeys(STREAMS, (0, 1, 2, 3)))
    config = tap_config(live_sandbox, base, base + timedelta(hours=4))
    live_sandbox.rate_limit = 2
    throttled = run_tap(tmp_path, config)
    assert throttled.returncode != 0
    assert "(through /v2/siem/all): Proofpoint throttled the account (429)" in throttled.stderr
    assert "Traceback" not in throttled.stderr
    assert [r.status for r in live_sandbox.siem_requests()] == [200, 200, 429]
    assert bookmarks(throttled.states[-1]) == dict.fromkeys(STREAMS, fmt(base + timedelta(hours=2)))
    live_sandbox.rate_limit = 1800
    live_sandbox.clock.advance(timedelta(hours=24, minutes=1))
    rest = run_tap(tmp_path, config, state=throttled.states[-1])
    assert rest.returncode == 0, rest.stderr
    for stream in STREAMS:
        assert set(throttled.ids(stream)) | set(rest.ids(stream)) == expected[stream]


@pytest.mark.parametrize(
    "fault",
    [Fault("status", status=500), Fault("cut"), Fault("truncate"), Fault("text-plain")],
    ids=lambda f: f.kind + str(f.status if f.kind == "status" else ""),
)
def test_transient_faults_on_all_are_retried(tmp_path, live_sandbox, fault):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    expected = place(live_sandbox, base, dict.fromkeys(STREAMS, (0, 1)))
    config = tap_config(live_sandbox, base, base + timedelta(hours=2))
    fault.skip = 1
    live_sandbox.inject(fault)
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    for stream in STREAMS:
        assert sorted(run.ids(stream)) == sorted(expected[stream])  # once each
    assert len(live_sandbox.siem_requests()) == 2 + (fault.kind != "text-plain")


def test_stream_maps_and_deselected_properties_apply_to_streams_read_together(
    tmp_path, live_sandbox
):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    expected = place(live_sandbox, base, dict.fromkeys(STREAMS, (0,)))
    config = tap_config(
        live_sandbox,
        base,
        base + timedelta(hours=1),
        stream_maps={"messages_blocked": {"__alias__": "quarantined"}},
    )
    catalog = deselect(
        catalog_selecting(tmp_path, config, *STREAMS), "clicks_permitted", "userAgent"
    )
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert [r.path for r in live_sandbox.siem_requests()] == [ALL]
    clicks = run.records("clicks_permitted")
    assert clicks and all("userAgent" not in r for r in clicks)
    blocked = run.records("clicks_blocked")
    assert sorted(r["id"] for r in blocked) == sorted(expected["clicks_blocked"])
    assert all("userAgent" in r for r in blocked)
    assert run.records("quarantined") and not run.records("messages_blocked")


# -- --test --


def connection_test(tmp_path, sandbox, **settings):
    config = {**SANDBOX_CREDENTIALS, "api_url": sandbox.url, **settings}
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [TAP, "--config", str(tmp_path / "config.json"), "--test"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_no_secret(config, proc.stdout, proc.stderr)
    return proc


@pytest.mark.parametrize(
    ("settings", "path"), [({}, ALL), ({"use_all_endpoint": False}, "/v2/siem/clicks/blocked")]
)
def test_connection_test_costs_one_request(tmp_path, live_sandbox, settings, path):
    now = datetime.now(timezone.utc)
    for n in range(3):
        live_sandbox.store.add(
            "clicks_blocked", event("clicks_blocked", n, now - timedelta(minutes=20 + n))
        )
    proc = connection_test(tmp_path, live_sandbox, **settings)
    assert proc.returncode == 0, proc.stderr
    assert [r.path for r in live_sandbox.siem_requests()] == [path]
    start, end = (
        windows.parse(t) for t in live_sandbox.siem_requests()[0].params["interval"][0].split("/")
    )
    assert end - start == timedelta(hours=1) and now - end < timedelta(minutes=6)
    assert "Connection OK: principal accepted, 3 events in the last hour read" in proc.stderr
    assert "ERROR" not in proc.stderr and proc.stdout == ""


def test_connection_test_with_wrong_credentials_exits_1_with_the_401_line(tmp_path, live_sandbox):
    proc = connection_test(tmp_path, live_sandbox, secret="not-the-secret-42")
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Proofpoint refused the credentials (401)" in errors[0]
    assert "Traceback" not in proc.stderr and len(live_sandbox.siem_requests()) == 1


# -- Meltano, the tap alone and into JSONL --


def meltano(tmp_path, project, sandbox, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        "TAP_PROOFPOINT_TAP_API_URL": sandbox.url,
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path),
        **env,
    }
    proc = subprocess.run(
        [MELTANO, *args], cwd=project, env=environ, capture_output=True, text=True, timeout=600
    )
    assert_no_secret(SANDBOX_CREDENTIALS, proc.stdout, proc.stderr)
    return proc


def test_meltano_run_into_jsonl_spends_one_request_per_window(tmp_path, live_sandbox, project):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=5)
    expected = place(
        live_sandbox,
        base,
        {
            "clicks_permitted": (0, 2),
            "messages_blocked": (1,),
            "clicks_blocked": (2,),
            "messages_delivered": (0,),
        },
    )
    proc = meltano(
        tmp_path,
        project,
        live_sandbox,
        "run",
        "tap-proofpoint-tap",
        "target-jsonl",
        TAP_PROOFPOINT_TAP_START_DATE=fmt(base),
        TAP_PROOFPOINT_TAP_END_DATE=fmt(base + timedelta(hours=3)),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r.path for r in live_sandbox.siem_requests()] == [ALL] * 3
    for stream in STREAMS:
        lines = (tmp_path / f"{stream}.jsonl").read_text().splitlines()
        assert sorted(json.loads(line)["id"] for line in lines) == sorted(expected[stream])


def test_meltano_invoke_test_costs_one_request(tmp_path, live_sandbox, project):
    proc = meltano(tmp_path, project, live_sandbox, "invoke", "tap-proofpoint-tap", "--test")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Connection OK: principal accepted, 0 events in the last hour read" in proc.stderr
    assert [r.path for r in live_sandbox.siem_requests()] == [ALL]


def test_meltano_invoke_test_with_a_bad_setting_names_it_in_one_line(
    tmp_path, live_sandbox, project
):
    proc = meltano(
        tmp_path,
        project,
        live_sandbox,
        "invoke",
        "tap-proofpoint-tap",
        "--test",
        TAP_PROOFPOINT_TAP_WINDOW_MINUTES="0",
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "window_minutes must be between 1 and 60 (got 0)." in proc.stderr
    assert not live_sandbox.siem_requests()


def test_a_body_the_streaming_parser_refuses_is_read_again_whole(tmp_path, live_sandbox):
    """A NaN score (the stdlib's JSON, refused by ijson): the window's second try is parsed
    by the standard library, and every stream still gets its events once."""
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    expected = place(live_sandbox, base, {"clicks_blocked": (0,), "messages_delivered": (0,)})
    odd = {
        **event("messages_blocked", 0, base + timedelta(minutes=3)),
        "impostorScore": float("nan"),
    }
    live_sandbox.store.add("messages_blocked", odd)
    config = tap_config(live_sandbox, base, base + timedelta(hours=1))
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert [r.path for r in live_sandbox.siem_requests()] == [ALL, ALL]
    assert run.ids("messages_blocked") == ["messages_blocked-0"]
    for stream in ("clicks_blocked", "messages_delivered"):
        assert sorted(run.ids(stream)) == sorted(expected[stream])
