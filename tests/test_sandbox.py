"""The sandbox against a real HTTP client on loopback: every rule of shared/siem-api.md."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
import requests

from tap_proofpoint_tap.sandboxes.siem import Clock, Fault, Sandbox, rules
from tap_proofpoint_tap.sandboxes.siem.generator import (
    STREAMS,
    Settings,
    format_ms,
    generate_hour,
    parse_ms,
)
from tap_proofpoint_tap.sandboxes.siem.pool import pooled_threat
from tap_proofpoint_tap.sandboxes.siem.timeline import (
    EARLY,
    status_at,
    threat_index,
    threat_time,
    timeline,
)
from tests.helpers import AUTH, NOW

CLICKS = "/v2/siem/clicks/permitted"
HOUR = "2026-03-04T10:00:00Z/2026-03-04T11:00:00Z"
ONE_HOUR = timedelta(hours=1)


def anchored(settings: Settings) -> Settings:
    """``settings`` anchored as a Sandbox on ``NOW`` with a day of history anchors them."""
    return settings.anchored(NOW - timedelta(days=1), timedelta(days=1))


def get(sandbox, path=CLICKS, auth=AUTH, **params):
    params.setdefault("format", "json")
    return requests.get(sandbox.url + path, params=params, auth=auth, timeout=10)


def click(event_id: str, click_time: str, threat_time: str, status: str = "active") -> dict:
    return {
        "id": event_id,
        "GUID": "g-" + event_id,
        "url": "https://bad.example/" + event_id,
        "classification": "phish",
        "clickTime": click_time,
        "threatTime": threat_time,
        "threatStatus": status,
        "threatID": "t",
        "threatURL": "https://tu",
        "clickIP": "1.2.3.4",
        "userAgent": "ua",
        "sender": "s@bad.example",
        "recipient": "r@acme.example",
        "senderIP": "5.6.7.8",
        "messageID": "<m>",
    }


@pytest.fixture
def busy(clock):
    settings = Settings(seed=11, per_hour=tuple((s, 40) for s in STREAMS), late_fraction=0)
    with Sandbox(settings=settings, clock=clock, history=timedelta(days=2)) as sandbox:
        yield sandbox


@pytest.mark.fast
def test_endpoints_have_their_own_envelopes(busy):
    expected = {
        CLICKS: {"clicksPermitted"},
        "/v2/siem/clicks/blocked": {"clicksBlocked"},
        "/v2/siem/messages/delivered": {"messagesDelivered"},
        "/v2/siem/messages/blocked": {"messagesBlocked"},
        "/v2/siem/all": {
            "clicksPermitted",
            "clicksBlocked",
            "messagesDelivered",
            "messagesBlocked",
        },
        "/v2/siem/issues": {"clicksPermitted", "messagesDelivered"},
    }
    for path, keys in expected.items():
        body = get(busy, path, interval=HOUR).json()
        assert set(body) == keys | {"queryEndTime"}, path
        assert body["queryEndTime"] == "2026-03-04T11:00:00Z"
        assert all(body[k] for k in keys), path


@pytest.mark.fast
def test_all_carries_empty_arrays(quiet_sandbox):
    body = get(quiet_sandbox, "/v2/siem/all", interval=HOUR).json()
    assert body == {
        "clicksBlocked": [],
        "clicksPermitted": [],
        "messagesBlocked": [],
        "messagesDelivered": [],
        "queryEndTime": "2026-03-04T11:00:00Z",
    }


@pytest.mark.fast
@pytest.mark.parametrize(
    "auth", [None, ("sandbox-principal", "wrong"), ("other", "sandbox-secret")]
)
def test_wrong_or_missing_credentials_get_401(quiet_sandbox, auth):
    assert get(quiet_sandbox, auth=auth, interval=HOUR).status_code == 401


@pytest.mark.fast
@pytest.mark.parametrize(
    ("interval", "end"),
    [
        ("2026-03-04T10:00:00Z/2026-03-04T11:00:00Z", "2026-03-04T11:00:00Z"),
        ("PT30M/2026-03-04T11:00:00Z", "2026-03-04T11:00:00Z"),
        ("2026-03-04T10:00:00Z/PT45M", "2026-03-04T10:45:00Z"),
        ("2026-03-04T11:00:00+01:00/2026-03-04T11:30:00+01:00", "2026-03-04T10:30:00Z"),
        ("2026-03-04T10:00:00.250Z/2026-03-04T10:30:00.250Z", "2026-03-04T10:30:00.250Z"),
    ],
)
def test_interval_forms(quiet_sandbox, interval, end):
    response = get(quiet_sandbox, interval=interval)
    assert response.status_code == 200, response.text
    assert response.json()["queryEndTime"] == end


@pytest.mark.fast
def test_since_seconds_and_since_time_end_at_the_minute(quiet_sandbox):
    quiet_sandbox.clock.set(NOW + timedelta(seconds=42))
    assert get(quiet_sandbox, sinceSeconds="600").json()["queryEndTime"] == "2026-03-04T12:00:00Z"
    body = get(quiet_sandbox, sinceTime="2026-03-04T11:30:00Z").json()
    assert body["queryEndTime"] == "2026-03-04T12:00:00Z"


@pytest.mark.fast
@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"interval": "2026-03-04T10:00:00Z/2026-03-04T10:00:20Z"}, rules.TOO_SHORT),
        ({"interval": "2026-03-04T10:00:00Z/2026-03-04T11:00:01Z"}, rules.TOO_WIDE),
        ({"interval": "2026-02-25T10:00:00Z/2026-02-25T11:00:00Z"}, rules.TOO_OLD),
        ({"interval": "2026-03-04T11:30:00Z/2026-03-04T11:59:30Z"}, rules.STILL_CURRENT),
        ({"interval": "2026-03-04T11:00:00Z/2026-03-04T10:00:00Z"}, ""),
        ({"sinceSeconds": "10"}, rules.TOO_SHORT),
        ({"sinceTime": "2026-03-04T09:00:00Z"}, rules.SINCE_TIME_TOO_OLD),
    ],
)
def test_refused_windows_get_the_real_texts(quiet_sandbox, params, text):
    response = get(quiet_sandbox, **params)
    assert (response.status_code, response.text) == (400, text)


@pytest.mark.fast
def test_too_old_text_is_the_observed_one():
    assert rules.TOO_OLD == (
        "The requested start time is too far into the past. Requests for "
        "information up to 7.00d are accepted"
    )


@pytest.mark.fast
def test_format_json_is_required(quiet_sandbox):
    assert get(quiet_sandbox, format=None, interval=HOUR).status_code == 400


@pytest.mark.fast
def test_threat_status_default_and_repeated_keys(quiet_sandbox):
    for n, status in enumerate(("active", "cleared", "falsePositive")):
        quiet_sandbox.store.add(
            "clicks_permitted",
            click(f"c{n}", "2026-03-04T10:10:00.000Z", "2026-03-04T10:00:00.000Z", status),
        )

    def statuses(**params):
        body = get(quiet_sandbox, interval=HOUR, **params).json()
        return sorted(e["threatStatus"] for e in body["clicksPermitted"])

    assert statuses() == ["active", "cleared"]
    assert statuses(threatStatus=["falsePositive"]) == ["falsePositive"]
    assert statuses(threatStatus=["active", "falsePositive"]) == ["active", "falsePositive"]
    assert get(quiet_sandbox, interval=HOUR, threatStatus="bogus").status_code == 400


@pytest.mark.fast
def test_threat_type_filters_messages(busy):
    def types(**params):
        body = get(busy, "/v2/siem/messages/delivered", interval=HOUR, **params).json()
        return [{i["threatType"] for i in e["threatsInfoMap"]} for e in body["messagesDelivered"]]

    everything = types()
    attachments = types(threatType="attachment")
    assert 0 < len(attachments) < len(everything)
    assert all("attachment" in t for t in attachments)


@pytest.mark.fast
def test_event_is_served_in_the_window_of_its_creation_time(quiet_sandbox):
    # Clicked three days ago, condemned at 10:20 today: the 10:00-11:00 window returns it.
    quiet_sandbox.store.add(
        "clicks_permitted", click("retro", "2026-03-01T08:00:00.000Z", "2026-03-04T10:20:00.000Z")
    )
    assert [e["id"] for e in get(quiet_sandbox, interval=HOUR).json()["clicksPermitted"]] == [
        "retro"
    ]
    early = get(quiet_sandbox, interval="2026-03-01T07:30:00Z/2026-03-01T08:30:00Z").json()
    assert early["clicksPermitted"] == []


@pytest.mark.fast
def test_late_indexed_event_appears_only_after_its_lag(quiet_sandbox):
    quiet_sandbox.clock.set(NOW.replace(hour=10, minute=40))
    event = click("late", "2026-03-04T10:05:00.000Z", "2026-03-04T10:00:00.000Z")
    quiet_sandbox.store.add("clicks_permitted", event, visible=NOW.replace(hour=10, minute=25))
    window = "2026-03-04T10:00:00Z/2026-03-04T10:30:00Z"
    quiet_sandbox.clock.set(NOW.replace(hour=10, minute=20))
    assert (
        get(quiet_sandbox, interval="2026-03-04T10:00:00Z/2026-03-04T10:19:00Z").json()[
            "clicksPermitted"
        ]
        == []
    )
    quiet_sandbox.clock.set(NOW.replace(hour=10, minute=40))
    assert len(get(quiet_sandbox, interval=window).json()["clicksPermitted"]) == 1


@pytest.mark.fast
def test_generated_late_and_retroactive_events_exist():
    settings = anchored(Settings(seed=3, per_hour=(("clicks_permitted", 400),), late_fraction=0.1))
    hour = NOW.replace(hour=9)
    events = generate_hour(settings, "clicks_permitted", hour)
    assert any(g.visible > g.created for g in events)
    retro = [g for g in events if g.event["clickTime"] < g.event["threatTime"]]
    assert retro and all(g.event["threatTime"].startswith("2026-03-04T09") for g in retro)
    assert all(hour <= g.created < hour + timedelta(hours=1) for g in events)


@pytest.mark.fast
def test_a_day_of_traffic_has_one_threat_time_and_one_status_timeline_per_threat():
    """Every event names its threat's one identification time I_n (within the traffic's range)
    and the status of its timeline at the event's creation time: active before C_n, the final
    status from C_n on; some threats change within the day, and retroactive events exist."""
    settings = anchored(Settings(seed=5, per_hour=tuple((s, 30) for s in STREAMS)))
    origin, index = settings.origin, threat_index(5)
    times, sides, retro = defaultdict(set), defaultdict(set), Counter()
    for hour in (origin + timedelta(hours=h) for h in range(24)):
        for stream in STREAMS:
            generated = generate_hour(settings, stream, hour)
            assert generated == generate_hour(settings, stream, hour)  # a re-read: the same
            for g in generated:
                when = parse_ms(g.event.get("clickTime") or g.event["messageTime"])
                infos = g.event.get("threatsInfoMap") or [g.event]
                threat_times = [parse_ms(i["threatTime"]) for i in infos]
                assert g.created == max(when, *threat_times) and hour <= g.created < hour + ONE_HOUR
                if when < g.created:  # retroactive: its threat identified in this hour
                    retro[stream] += 1
                    assert max(threat_times) == g.created
                for info, identified in zip(infos, threat_times, strict=True):
                    n = index[info["threatID"]]
                    times[n].add(identified)
                    line = timeline(settings, n)
                    assert identified == line.identified == threat_time(settings, n)
                    assert info["threatStatus"] == status_at(settings, n, g.created)
                    if line.changed is None:
                        assert info["threatStatus"] == "active"
                    else:
                        before = g.created < line.changed
                        assert (info["threatStatus"] == "active") == before, (n, g.created)
                        sides[n].add(before)
    assert all(len(t) == 1 for t in times.values())  # one threat time per threat
    identified = [t for (t,) in times.values()]
    assert origin - EARLY <= min(identified) and max(identified) < origin + timedelta(days=1)
    assert min(identified) < origin < max(identified)  # some known before, most during
    changed = [n for n, seen in sides.items() if seen == {True, False}]
    assert len(changed) >= 10, "threats whose events show both statuses within the day"
    assert all(retro[s] >= 5 for s in STREAMS), retro


@pytest.mark.fast
def test_the_apis_serve_a_threats_status_at_the_time_of_the_request(clock):
    settings = Settings(seed=11, per_hour=tuple((s, 20) for s in STREAMS))
    with Sandbox(settings=settings, clock=clock, history=timedelta(days=1)) as sandbox:
        intel = sandbox.intel
        n = next(
            n
            for n in intel.threat_index.values()
            if (line := timeline(sandbox.settings, n)).changed is not None
            and NOW - timedelta(hours=20) < line.changed < NOW
            and pooled_threat(11, n)["campaign"] is not None
        )
        threat, line = pooled_threat(11, n), timeline(sandbox.settings, n)
        campaign = threat["campaignId"]

        def served() -> tuple[str, ...]:
            summary = get(sandbox, "/v2/threat/summary/" + threat["threatID"]).json()
            members = get(sandbox, "/v2/campaign/" + campaign).json()["campaignMembers"]
            member = next(m for m in members if m["id"] == threat["threatID"])
            report = get(sandbox, "/v2/forensics", threatId=threat["threatID"]).json()
            assert summary["identifiedAt"] == member["threatTime"] == format_ms(line.identified)
            return summary["status"], member["threatStatus"], report["reports"][0]["threatStatus"]

        sandbox.clock.set(line.changed - timedelta(milliseconds=1))
        assert served() == ("active",) * 3
        sandbox.clock.set(line.changed)
        assert served() == (line.final,) * 3
        sandbox.set_threat_status(threat["threatID"], "active")  # a test's change wins
        assert served() == ("active",) * 3


@pytest.mark.fast
def test_results_and_message_parts_are_shuffled(busy):
    def fetch():
        body = get(busy, "/v2/siem/messages/blocked", interval=HOUR).json()["messagesBlocked"]
        return [e["id"] for e in body], {
            e["id"]: [p["filename"] for p in e["messageParts"]] for e in body
        }

    orders, parts = zip(*(fetch() for _ in range(4)), strict=True)
    assert len({tuple(o) for o in orders}) > 1 and len({frozenset(o) for o in orders}) == 1
    assert any(parts[0][k] != p[k] for p in parts[1:] for k in p)


@pytest.mark.fast
def test_same_seed_same_events_other_seed_other_events(clock):
    def ids(seed):
        settings = Settings(seed=seed, per_hour=(("clicks_permitted", 30),), late_fraction=0)
        with Sandbox(settings=settings, clock=Clock(fixed=NOW)) as sandbox:
            return sorted(e["id"] for e in get(sandbox, interval=HOUR).json()["clicksPermitted"])

    assert ids(5) == ids(5) and ids(5) != ids(6)


@pytest.mark.fast
def test_documented_shapes_switch():
    settings = anchored(
        Settings(
            per_hour=(("messages_delivered", 20), ("clicks_permitted", 5)), documented_shapes=True
        )
    )
    message = generate_hour(settings, "messages_delivered", NOW)[0].event
    assert "id" not in message and "clusterId" in message and isinstance(message["recipient"], str)
    assert message["completelyRewritten"] in ("true", "false", "na")
    assert "threatId" in message["threatsInfoMap"][0]
    assert generate_hour(settings, "clicks_permitted", NOW)[0].event["classification"].isupper()


@pytest.mark.fast
def test_messages_are_one_event_per_recipient_sharing_a_guid():
    settings = anchored(Settings(seed=2, per_hour=(("messages_delivered", 200),)))
    events = [g.event for g in generate_hour(settings, "messages_delivered", NOW)]
    guids = {}
    for e in events:
        guids.setdefault(e["GUID"], []).append(e)
    shared = [group for group in guids.values() if len(group) > 1]
    assert shared and all(len({e["id"] for e in g}) == len(g) for g in shared)
    assert any(e["sender"] == "" and e["messageParts"] is None for e in events)  # sparse


@pytest.mark.fast
def test_rate_limit_pools_are_kept_apart(quiet_sandbox):
    quiet_sandbox.rate_limit = 3
    assert [get(quiet_sandbox, interval=HOUR).status_code for _ in range(4)] == [200] * 3 + [429]
    shared = ["/v2/siem/clicks/blocked", "/v2/siem/messages/delivered", "/v2/siem/all"]
    assert [get(quiet_sandbox, p, interval=HOUR).status_code for p in shared] == [200] * 3
    assert get(quiet_sandbox, "/v2/siem/messages/blocked", interval=HOUR).status_code == 429
    quiet_sandbox.clock.advance(timedelta(hours=24))
    assert get(quiet_sandbox, interval="PT1H/2026-03-05T11:00:00Z").status_code == 200


@pytest.mark.fast
def test_faults(quiet_sandbox):
    quiet_sandbox.store.add(
        "clicks_permitted", click("x", "2026-03-04T10:10:00.000Z", "2026-03-04T10:00:00.000Z")
    )
    quiet_sandbox.inject(
        Fault("status", status=503, skip=1),
        Fault("text-plain", skip=2),
        Fault("truncate", skip=3),
        Fault("cut", skip=4),
        Fault("reset", skip=5),
    )
    assert get(quiet_sandbox, interval=HOUR).status_code == 200
    assert get(quiet_sandbox, interval=HOUR).status_code == 503
    plain = get(quiet_sandbox, interval=HOUR)
    assert plain.headers["Content-Type"] == "text/plain" and json.loads(plain.text)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(quiet_sandbox, interval=HOUR)
    with pytest.raises(json.JSONDecodeError):
        json.loads(get(quiet_sandbox, interval=HOUR).text)
    with pytest.raises(requests.exceptions.ConnectionError):
        get(quiet_sandbox, interval=HOUR)
    assert get(quiet_sandbox, interval=HOUR).status_code == 200
    log = quiet_sandbox.siem_requests(CLICKS)
    assert [r.fault for r in log] == [
        None,
        "status",
        "text-plain",
        "truncate",
        "cut",
        "reset",
        None,
    ]
    assert log[0].params["interval"] == [HOUR] and log[1].status == 503


def test_delay_fault_stalls(quiet_sandbox):
    quiet_sandbox.inject(Fault("delay", seconds=1.5))
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(
            quiet_sandbox.url + CLICKS,
            params={"format": "json", "interval": HOUR},
            auth=AUTH,
            timeout=0.5,
        )


@pytest.mark.fast
def test_large_window_is_served_whole(clock):
    settings = Settings(per_hour=(("clicks_permitted", 20_000),), late_fraction=0)
    with Sandbox(settings=settings, clock=clock) as sandbox:
        expected = sandbox.store.select(
            "clicks_permitted",
            rules.Window(NOW.replace(hour=10), NOW.replace(hour=11)),
            statuses=rules.DEFAULT_THREAT_STATUSES,
        )
        body = get(sandbox, interval=HOUR).json()["clicksPermitted"]
        assert len(body) == len(expected) > 15_000
        assert len({e["id"] for e in body}) == len(body)


def test_cli_help_documents_every_option():
    out = subprocess.run(
        [sys.executable, "-m", "tap_proofpoint_tap.sandboxes.siem.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in (
        "--port",
        "--seed",
        "--principal",
        "--secret",
        "--history-hours",
        "--rate",
        "--documented-shapes",
        "--now",
        "--offset-minutes",
        "--rate-limit",
        "--fault",
        "--late-fraction",
        "--retroactive-fraction",
        "--log-requests",
    ):
        assert option in out


def test_cli_serves_on_a_printed_port():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tap_proofpoint_tap.sandboxes.siem.cli",
            "--port",
            "0",
            "--now",
            "2026-03-04T12:00:00Z",
            "--rate",
            "clicks_permitted=50",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = line.split(" on ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        body = requests.get(
            url + CLICKS, params={"format": "json", "interval": HOUR}, auth=AUTH, timeout=10
        ).json()
        assert body["clicksPermitted"]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
