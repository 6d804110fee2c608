"""The five streams that follow the SIEM ones against hostile answers and hand-edited state, as
a demanding user and a broken server would try them. Each test names what a user saw before."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from tap_proofpoint_tap.errors import AuthError, StateError
from tests.hostile import Hostile, answer, only_when
from tests.intel_runs import (
    DEFAULT,
    SIEM,
    config,
    mentioned,
    sync,
)

pytestmark = [pytest.mark.fast, pytest.mark.usefixtures("no_retry_waits")]


def query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


def fmt(when_: datetime) -> str:
    return when_.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- settings --


def test_a_forensics_threat_share_of_0_reads_no_threat_forensics_and_says_so(day_of_traffic):
    """forensics_threat_requests_per_day accepts 0 (0-50): "ask only by campaign". The pool's
    refusal then reads the earliest logged request of an empty log."""
    threat = next(iter(mentioned(sync(config(day_of_traffic), select=SIEM))[0]))
    state = {"bookmarks": {"forensics": {"threats": [[threat, 1]]}}}
    run = sync(
        config(day_of_traffic, forensics_threat_requests_per_day=0),
        state=state,
        select=("forensics",),
    )
    assert run.error is None, repr(run.error)
    assert day_of_traffic.pool_requests("forensics_threat") == []
    assert run.state["bookmarks"]["forensics"]["threats"] == [[threat, 1]], "it waits"


# -- one id that always fails must not hold up the others --

POISON = "a" * 64


@pytest.mark.parametrize(
    "body",
    [
        pytest.param((200, b"[]"), id="json-list"),
        pytest.param((200, b'"summary"'), id="json-string"),
        pytest.param((200, b"[" * 100_000 + b"]" * 100_000), id="deep-nesting"),
        pytest.param((500, b"Internal Server Error"), id="always-500"),
    ],
)
def test_one_threat_id_that_always_fails_does_not_hold_up_every_other_threat(day_of_traffic, body):
    """A threat whose summary Proofpoint cannot serve (a bug on its side for that one id) sits
    first in ``threats.pending``: every run asks it first, fails, stops the stream, and the
    threats queued behind it are never fetched, run after run."""
    status, payload = body
    with Hostile(upstream=day_of_traffic.url) as front:
        front.on(answer(status, payload), path=f"/v2/threat/summary/{POISON}")
        cfg = config(day_of_traffic, api_url=front.url)
        state = {"bookmarks": {"threats": {"pending": [[POISON, "active"]]}}}
        first = sync(cfg, state=state, select=DEFAULT)
        second = sync(cfg, state=first.state, select=DEFAULT)
    threats, _ = mentioned(first)
    fetched = {r["id"] for r in first.records("threats") + second.records("threats")}
    assert fetched == threats, (
        f"{len(threats - fetched)} of {len(threats)} threats never fetched behind {POISON[:8]}…"
    )


def test_one_threat_whose_forensics_always_fail_does_not_spend_the_daily_share_on_itself(
    day_of_traffic,
):
    """forensics by threat is a 50-a-day pool: five tries of the same failing id per run, and
    the stream stopping there, spent the whole share on one id in eight runs. Now: two tries a
    run, the others asked all the same, and the id given up after three runs."""
    threats = sorted(mentioned(sync(config(day_of_traffic), select=SIEM))[0])[:4]
    poison = threats[0]
    with Hostile(upstream=day_of_traffic.url) as front:
        front.on(
            only_when(lambda p: query(p).get("threatId") == [poison], answer(500, b"oops")),
            path="/v2/forensics",
        )
        cfg = config(day_of_traffic, api_url=front.url, forensics_threat_requests_per_day=10)
        state = {"bookmarks": {"forensics": {"threats": [[t, 1] for t in threats]}}}
        for _ in range(4):
            run = sync(cfg, state=state, select=("forensics",))
            assert run.error is None, "one id failing is no failure of the run"
            state = run.state
    asked = [r for r in front.received if r.path.startswith("/v2/forensics")]
    others = {query(r.path)["threatId"][0] for r in asked} - {poison}
    assert others == set(threats[1:]), "the threats behind it were never asked"
    assert sum(query(r.path)["threatId"] == [poison] for r in asked) == 2 * 3, (
        "two tries a run, three runs, then given up"
    )
    assert state["bookmarks"]["forensics"]["threats"] == []
    assert state["bookmarks"]["forensics"]["failed"] == {}


# -- discovery --


@pytest.mark.parametrize("status", [400, 500])
def test_a_campaign_ids_day_proofpoint_refuses_does_not_stop_the_campaigns_events_name(
    day_of_traffic, status
):
    """How far back /v2/campaign/ids reaches is not documented (tap-apis.md §2.1): a 400 for
    the 7-days-back day is plausible. Discovery raises it out of the stream, so not one of the
    campaigns the events name is fetched, and the same day is asked again every run."""
    with Hostile(upstream=day_of_traffic.url) as front:
        front.on(
            answer(status, b'{"errors": ["The interval is too far back"]}'),
            path="/v2/campaign/ids",
            times=1 if status == 400 else None,
        )
        cfg = config(day_of_traffic, api_url=front.url, discover_campaigns=True)
        run = sync(cfg, select=DEFAULT)
    _, campaigns = mentioned(run)
    assert campaigns
    assert {r["id"] for r in run.records("campaigns")} >= campaigns, (
        f"campaigns fetched: {len(run.records('campaigns'))} of the {len(campaigns)} named"
    )


def test_a_campaign_id_discovery_lists_is_bounded_like_the_ids_events_name(day_of_traffic):
    """Ids from SIEM events longer than 128 characters are dropped ("would only grow the
    state"); ids from /v2/campaign/ids (and from threat summaries) are not."""
    huge = "c" * 200_000
    body = json.dumps({"campaigns": [{"id": huge, "lastUpdatedAt": "2026-01-01T00:00:00Z"}]})
    with Hostile(upstream=day_of_traffic.url) as front:
        front.on(answer(200, body.encode()), path="/v2/campaign/ids")
        cfg = config(day_of_traffic, api_url=front.url, discover_campaigns=True)
        run = sync(cfg, select=(*SIEM, "campaigns"))
    size = len(json.dumps(run.state))
    assert size < 100_000, f"the state is {size} bytes"
    assert all(len(r.path) < 10_000 for r in front.received), "a 200 kB URL was sent"


# -- quota --


@pytest.mark.parametrize("payload", [b"[]", b'"ok"', b"null"])
def test_a_json_answer_that_is_not_an_object_costs_one_request_of_a_50_pool_not_five(
    day_of_traffic, payload
):
    """A body that parsed whole is not a cut body: trying it again gets the same answer and
    spends the 50-a-day pool once per try (five per run, the share in eight runs)."""
    with Hostile(upstream=day_of_traffic.url) as front:
        front.on(answer(200, payload), path="/v2/people/vap")
        run = sync(config(day_of_traffic, api_url=front.url), select=("very_attacked_people",))
    asked = [r for r in front.received if r.path.startswith("/v2/people/vap")]
    assert len(asked) == 1, f"{len(asked)} vap requests for one answer ({run.error})"


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param({"throttled": {"vap": 1e18}}, id="throttled"),
        pytest.param({"requests": {"vap": [1e18] * 40}}, id="requests"),
        pytest.param({"throttled": {"vap": 0}, "requests": {"vap": [float("inf")]}}, id="inf"),
    ],
)
def test_a_hand_edited_pool_log_is_refused_in_one_line(day_of_traffic, entry):
    """A time past year 9999 broke the refusal's wording with a traceback; a time later than
    now (a state written by a machine whose clock was ahead) kept the pool shut until then."""
    state = {"bookmarks": {"very_attacked_people": entry}}
    with pytest.raises(StateError, match=r"very_attacked_people cannot be used: .* later than now"):
        sync(config(day_of_traffic), state=state, select=("very_attacked_people",))


def test_a_pool_log_from_the_future_is_refused_like_a_future_bookmark(day_of_traffic):
    future = (datetime.now(timezone.utc) + timedelta(days=3650)).timestamp()
    state = {"bookmarks": {"very_attacked_people": {"throttled": {"vap": int(future)}}}}
    with pytest.raises(StateError, match="later than now"):
        sync(config(day_of_traffic), state=state, select=("very_attacked_people",))
    assert day_of_traffic.pool_requests("vap") == []


# -- people --


def test_a_ranking_whose_page_is_shorter_than_asked_but_short_of_its_total_is_read_whole(
    day_of_traffic,
):
    """The API may serve fewer rows than ``size`` asks (a server-side maximum; Rapid7's client
    gets 100 for 200): the tap ends the snapshot at the first short page although
    ``totalVapUsers`` says more, and records a half ranking as the whole snapshot."""
    full = day_of_traffic.vap(30)
    users = full["users"]
    assert len(users) >= 4

    def paged(handler, server):
        page = int(query(handler.path).get("page", ["1"])[0])
        body = {**full, "users": users[(page - 1) * 2 : page * 2]}
        answer(200, json.dumps(body).encode())(handler, server)

    with Hostile(upstream=day_of_traffic.url) as front:
        front.on(paged, path="/v2/people/vap")
        run = sync(config(day_of_traffic, api_url=front.url), select=("very_attacked_people",))
    assert len(run.records("very_attacked_people")) == full["totalVapUsers"] == len(users)


# -- credentials and one-line errors on the new paths --

SECRET = "sandbox-secret"


def reason_500(handler, server):
    handler.send_response(500, f"Internal error for {SECRET}")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(reason_500, id="500-reason-phrase"),
        pytest.param(answer(400, f'{{"errors": ["bad secret {SECRET}"]}}'.encode()), id="400-body"),
        pytest.param(
            answer(302, b"", headers={"Location": f"http://evil.example/?s={SECRET}"}),
            id="redirect-location",
        ),
    ],
)
def test_a_server_that_echoes_the_secret_on_a_new_path_never_gets_it_into_the_logs(
    day_of_traffic, caplog, action
):
    with Hostile(upstream=day_of_traffic.url) as front:
        front.on(only_when(lambda p: p.startswith("/v2/threat/summary/"), action))
        run = sync(config(day_of_traffic, api_url=front.url), select=DEFAULT, caplog=caplog)
    said = "\n".join([*run.logs, str(run.error)])
    assert SECRET not in said, next(line for line in said.splitlines() if SECRET in line)
    hosts = {r.headers.get("Host") for r in front.received}
    assert len(hosts) == 1, "no request left api_url's host"


def test_a_catalog_from_before_the_new_streams_reads_none_of_them(day_of_traffic):
    """A user's catalog written by --discover before the upgrade: only the four SIEM streams."""
    from tap_proofpoint_tap.tap import TapProofpointTap

    catalog = TapProofpointTap(config=config(day_of_traffic), validate_config=False).catalog_dict
    catalog["streams"] = [e for e in catalog["streams"] if e["tap_stream_id"] in SIEM]
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = True
    tap = TapProofpointTap(config=config(day_of_traffic), catalog=catalog)
    assert not any(
        tap.streams[s].selected for s in ("forensics", "very_attacked_people", "top_clickers")
    ), "a catalog from before selects no stream that spends a 50-request pool"


# -- records --


def test_forensics_records_have_every_column_both_shapes_and_a_stable_key(day_of_traffic):
    threat = sorted(mentioned(sync(config(day_of_traffic), select=SIEM))[0])[0]

    def report(generated: str) -> bytes:
        items = [
            {
                "type": "attachment",
                "display": "a",
                "engine": "av",
                "malicious": True,
                "time": 0,
                "what": {"sha256": "00" * 32, "blacklisted": 1},
                "platforms": [{"name": "w"}],
            },
            {
                "type": "network",
                "display": "n",
                "engine": "iee",
                "malicious": False,
                "time": 0,
                "what": {"ip": "1.2.3.4", "port": "443", "action": "connect"},
                "platforms": [],
                "extra": "kept",
            },
        ]
        body = {
            "generated": generated,
            "reports": [
                {
                    "scope": "THREAT",
                    "id": threat,
                    "name": "x",
                    "threatStatus": "active",
                    "forensics": items,
                }
            ],
        }
        return json.dumps(body).encode()

    runs = []
    for generated in ("2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"):
        with Hostile(upstream=day_of_traffic.url) as front:
            front.on(answer(200, report(generated)), path="/v2/forensics")
            state = {"bookmarks": {"forensics": {"threats": [[threat, 1]]}}}
            runs.append(
                sync(config(day_of_traffic, api_url=front.url), state=state, select=("forensics",))
            )
    first, second = (run.records("forensics") for run in runs)
    assert len(first) == 2
    from tap_proofpoint_tap.intel_records import SCHEMAS

    declared = set(SCHEMAS["forensic"]["properties"])
    assert all(set(r) >= declared for r in first)
    attachment, network = first
    assert attachment["what"]["blacklisted"] is True and network["what"]["port"] == 443
    assert attachment["scope"] == "threat" and network["unknownFields"] == {"extra": "kept"}
    assert [r["id"] for r in first] == [r["id"] for r in second], "the key ignores `generated`"


def test_a_429_on_forensics_by_campaign_leaves_forensics_by_threat_going(day_of_traffic):
    """The two forensics pools are apart: one refused, the other still asked."""
    day_of_traffic.pool_limits["forensics_campaign"] = 0
    run = sync(config(day_of_traffic), select=(*DEFAULT, "forensics"))
    assert run.error is None
    assert day_of_traffic.pool_requests("forensics_threat"), "forensics by threat went on"
    assert {r["queriedBy"] for r in run.records("forensics")} == {"threatId"}
    waiting = run.state["bookmarks"]["forensics"]["campaigns"]
    assert set(waiting) == {r["id"] for r in run.records("campaigns")}, "they wait"
    assert run.state["bookmarks"]["forensics"]["throttled"]["forensics_campaign"]


def test_refused_credentials_on_a_new_path_stop_the_run_at_once_in_one_line(day_of_traffic):
    """A 401 on the summaries (a principal allowed the SIEM API only) is no id to pass over."""
    with Hostile(upstream=day_of_traffic.url) as front:
        front.on(only_when(lambda p: p.startswith("/v2/threat/summary/"), answer(401, b"")))
        run = sync(config(day_of_traffic, api_url=front.url), select=DEFAULT)
        asked = [r for r in front.received if r.path.startswith("/v2/threat/summary/")]
    assert isinstance(run.error, AuthError), repr(run.error)
    assert "check the 'principal' and 'secret' settings" in str(run.error)
    assert len(asked) == 1 and run.records("campaigns") == []


def test_threats_the_full_forensics_queue_cannot_take_are_said_once(
    day_of_traffic, monkeypatch, caplog
):
    monkeypatch.setattr("tap_proofpoint_tap.work.MAX_PENDING_FORENSICS", 3)
    run = sync(
        config(day_of_traffic, forensics_threat_requests_per_day=1),
        select=(*SIEM, "forensics"),
        caplog=caplog,
    )
    assert run.error is None
    lines = [line for line in run.logs if "not queued" in line]
    assert len(lines) == 1 and "3 already wait" in lines[0], lines
    assert len(run.state["bookmarks"]["forensics"]["threats"]) == 3 - 1
