"""The sandbox's Threat, Campaign, Forensics and People APIs against a real HTTP client on
loopback: shapes, errors, quotas, faults and consistency with its SIEM traffic
(shared/tap-apis.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tap_proofpoint_tap.sandboxes.siem import POOLS, Fault, Sandbox
from tap_proofpoint_tap.sandboxes.siem.cli import parse_fault, parse_pool_limits
from tap_proofpoint_tap.sandboxes.siem.evidence import TYPES
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings, creation_time
from tap_proofpoint_tap.sandboxes.siem.pool import CAMPAIGNS, WIDER_CAMPAIGNS
from tap_proofpoint_tap.sandboxes.siem.timeline import status_at, threat_index
from tests.helpers import AUTH, NOW

SUMMARY = "/v2/threat/summary/"
CAMPAIGN = "/v2/campaign/"
IDS = "/v2/campaign/ids"
FORENSICS = "/v2/forensics"
VAP = "/v2/people/vap"
CLICKERS = "/v2/people/top-clickers"
ALL = "/v2/siem/all"
DAY = timedelta(days=1)
WEDNESDAY = datetime(2026, 3, 4, tzinfo=timezone.utc)  # NOW's day
UNKNOWN = "f" * 64
LISTS = ("actors", "families", "malware", "techniques", "brands")


def get(sandbox, path, auth=AUTH, **params):
    return requests.get(sandbox.url + path, params=params, auth=auth, timeout=10)


def day(start: datetime) -> str:
    return f"{start:%Y-%m-%dT%H:%M:%SZ}/{start + DAY:%Y-%m-%dT%H:%M:%SZ}"


def settings(**extra) -> Settings:
    return Settings(seed=11, per_hour=tuple((s, 20) for s in STREAMS), late_fraction=0, **extra)


@pytest.fixture
def sandbox(clock):
    with Sandbox(settings=settings(), clock=clock, history=timedelta(days=2)) as sb:
        yield sb


def events_of(sandbox, start: datetime, hours: int) -> list[dict]:
    """Every event of ``hours`` hours of /all from ``start``, all statuses."""
    out = []
    for h in range(hours):
        begin = start + timedelta(hours=h)
        interval = f"{begin:%Y-%m-%dT%H:%M:%SZ}/{begin + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"
        body = get(
            sandbox,
            ALL,
            format="json",
            interval=interval,
            threatStatus=["active", "cleared", "falsePositive"],
        ).json()
        out += [e for key in ("clicksPermitted", "clicksBlocked") for e in body[key]]
        out += [e for key in ("messagesDelivered", "messagesBlocked") for e in body[key]]
    return out


def threats_in(event: dict) -> list[tuple[str, str | None, str]]:
    """(threat id, campaign id, status) of each threat an event mentions, in either shape."""
    if "threatsInfoMap" not in event:
        return [(event["threatID"], event.get("campaignId"), event["threatStatus"])]
    return [
        (
            i.get("threatID", i.get("threatId")),
            i.get("campaignID", i.get("campaignId")),
            i["threatStatus"],
        )
        for i in event["threatsInfoMap"]
    ]


def some_threat(sandbox, campaign: bool = True) -> str:
    """A threat id of this hour's traffic (in a campaign or not)."""
    for event in events_of(sandbox, NOW - timedelta(hours=2), 1):
        for threat, campaign_id, _ in threats_in(event):
            if (campaign_id is not None) == campaign:
                return threat
    raise AssertionError("no such threat in an hour of traffic")


def campaign_of(sandbox, threat: str) -> str:
    """The campaign a threat is a member of (through the ground truth)."""
    return next(
        c
        for c in sandbox.intel.campaign_index
        if threat in {m["id"] for m in sandbox.campaign(c)["campaignMembers"]}
    )


# -- Threat API --


@pytest.mark.fast
def test_threat_summary_has_the_documented_fields(sandbox):
    threat = some_threat(sandbox)
    response = get(sandbox, SUMMARY + threat)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body == sandbox.summary(threat)
    assert body["id"] == threat and body["identifiedAt"].endswith("Z")
    assert body["type"] in ("url", "attachment", "messageText")
    assert body["category"] in ("phish", "malware", "spam", "impostor")
    assert body["status"] in ("active", "cleared", "falsePositive")
    assert isinstance(body["detectionType"], str)
    assert 0 <= body["severityScore"] <= 1000 and isinstance(body["attackSpread"], int)
    for flag in ("notable", "verticallyTargeted", "geoTargeted"):
        assert isinstance(body[flag], bool)
    for key in LISTS:
        assert all(set(item) == {"id", "name"} for item in body[key]), key
    assert body["malware"] or body["families"]
    assert not {"severity", "verticals", "geographies"} & set(body)


@pytest.mark.fast
def test_threat_summary_xsoar_spelling(clock):
    with Sandbox(settings=settings(threat_spelling="xsoar"), clock=clock) as sb:
        threat = some_threat(sb)
        body = get(sb, SUMMARY + threat).json()
    assert {"severity", "verticals", "geographies"} <= set(body)
    assert not {"severityScore", "verticallyTargeted", "geoTargeted"} & set(body)
    with pytest.raises(ValueError, match="threat_spelling"):
        Settings(threat_spelling="openct")


@pytest.mark.fast
@pytest.mark.parametrize(
    ("path", "params"),
    [
        (SUMMARY + UNKNOWN, {}),
        (CAMPAIGN + "00000000-0000-4000-8000-000000000000", {}),
        (FORENSICS, {"threatId": UNKNOWN}),
        (FORENSICS, {"campaignId": "00000000-0000-4000-8000-000000000000"}),
        (SUMMARY, {}),  # no id: an unknown path
        (CAMPAIGN + "a/b", {}),
        ("/v2/people/unknown", {}),
    ],
)
def test_unknown_ids_and_paths_get_404(sandbox, path, params):
    assert get(sandbox, path, **params).status_code == 404


@pytest.mark.fast
def test_new_paths_need_credentials(sandbox):
    threat = some_threat(sandbox)
    for path, params in [(SUMMARY + threat, {}), (VAP, {"window": "30"})]:
        assert get(sandbox, path, auth=("sandbox-principal", "wrong"), **params).status_code == 401
    assert sandbox.pool_requests("vap") == []  # a refused login spends nothing


# -- Campaign API --


@pytest.mark.fast
def test_campaign_details_and_members_are_served_threats(sandbox):
    threat = some_threat(sandbox)
    campaign_id = campaign_of(sandbox, threat)
    body = get(sandbox, CAMPAIGN + campaign_id).json()
    assert body == sandbox.campaign(campaign_id)
    assert body["id"] == campaign_id and body["name"] and body["description"]
    assert body["startDate"].endswith("Z") and isinstance(body["notable"], bool)
    for key in LISTS:
        assert all(set(item) == {"id", "name"} for item in body[key]), key
    members = body["campaignMembers"]
    assert threat in {m["id"] for m in members} and len(members) > 1
    for member in members:
        assert set(member) == {"id", "threat", "threatStatus", "type", "subType", "threatTime"}
        summary = get(sandbox, SUMMARY + member["id"]).json()
        assert (member["threatStatus"], member["type"], member["threatTime"]) == (
            summary["status"],
            summary["type"],
            summary["identifiedAt"],
        )
        assert member["threat"] == summary["name"] and member["threatTime"] >= body["startDate"]
        assert summary["malware"] == body["malware"]


@pytest.mark.fast
def test_campaign_ids_for_a_weekday_and_its_pages(sandbox):
    monday = WEDNESDAY - 2 * DAY
    rows = sandbox.campaign_ids(monday, monday + DAY)
    assert rows and len(rows) > 3
    body = get(sandbox, IDS, interval=day(monday)).json()
    assert body == {"campaigns": rows}  # size 100 by default: one page
    stamps = [r["lastUpdatedAt"] for r in rows]
    assert stamps == sorted(stamps) and all(s.startswith("2026-03-02T") for s in stamps)
    for row in rows:
        assert set(row) == {"id", "lastUpdatedAt"} and sandbox.campaign(row["id"]) is not None
    pages = [get(sandbox, IDS, interval=day(monday), size="2", page=str(p)) for p in range(1, 9)]
    assert all(p.status_code == 200 for p in pages)
    assert [r for p in pages for r in p.json()["campaigns"]] == rows
    assert pages[-1].json() == {"campaigns": []}  # past the end: an empty page, not a 404


@pytest.mark.fast
def test_campaign_ids_404_on_weekends_and_quiet_days(sandbox):
    for weekend in (WEDNESDAY - 4 * DAY, WEDNESDAY - 3 * DAY):  # Saturday, Sunday
        assert weekend.weekday() >= 5 and sandbox.campaign_ids(weekend, weekend + DAY) is None
        response = get(sandbox, IDS, interval=day(weekend))
        assert (response.status_code, response.content) == (404, b"")
    quiet = next(  # a weekday of the last month: campaigns had started, none was updated
        d
        for d in (WEDNESDAY - n * DAY for n in range(1, 31))
        if d.weekday() < 5 and sandbox.campaign_ids(d, d + DAY) is None
    )
    response = get(sandbox, IDS, interval=day(quiet))
    assert (response.status_code, response.content) == (404, b"")
    tomorrow = WEDNESDAY + DAY  # nothing updated after the clock's now
    assert get(sandbox, IDS, interval=day(tomorrow)).status_code == 404


@pytest.mark.fast
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"interval": "2026-03-02T00:00:00Z/2026-03-03T00:00:01Z"},  # over a day
        {"interval": "2026-03-03T00:00:00Z/2026-03-02T00:00:00Z"},  # end before start
        {"interval": "yesterday"},
        {"interval": day(WEDNESDAY - 2 * DAY), "size": "201"},
        {"interval": day(WEDNESDAY - 2 * DAY), "size": "0"},
        {"interval": day(WEDNESDAY - 2 * DAY), "page": "0"},
        {"interval": day(WEDNESDAY - 2 * DAY), "page": "x"},
    ],
)
def test_campaign_ids_refuses_bad_parameters(sandbox, params):
    assert get(sandbox, IDS, **params).status_code == 400


@pytest.mark.fast
def test_touch_campaign_moves_its_last_update(sandbox):
    monday = WEDNESDAY - 2 * DAY
    row = sandbox.campaign_ids(monday, monday + DAY)[0]
    later = monday + timedelta(hours=23, minutes=30)
    sandbox.touch_campaign(row["id"], later)
    rows = get(sandbox, IDS, interval=day(monday)).json()["campaigns"]
    assert rows[-1] == {"id": row["id"], "lastUpdatedAt": "2026-03-02T23:30:00.000Z"}
    assert row not in rows
    saturday = WEDNESDAY - 4 * DAY
    sandbox.touch_campaign(row["id"], saturday + timedelta(hours=9))
    assert get(sandbox, IDS, interval=day(saturday)).json()["campaigns"] == [
        {"id": row["id"], "lastUpdatedAt": "2026-02-28T09:00:00.000Z"}
    ]
    sandbox.touch_campaign(row["id"], NOW + timedelta(hours=1))  # shown once the clock is there
    future = {"id": row["id"], "lastUpdatedAt": "2026-03-04T13:00:00.000Z"}
    assert future not in (sandbox.campaign_ids(WEDNESDAY, WEDNESDAY + DAY) or [])
    sandbox.clock.set(NOW + timedelta(hours=2))
    assert get(sandbox, IDS, interval=day(WEDNESDAY)).json()["campaigns"][-1] == future
    with pytest.raises(KeyError):
        sandbox.touch_campaign("no-such-campaign", NOW)


# -- Forensics API --


@pytest.mark.fast
def test_forensics_by_threat_and_by_campaign(sandbox):
    threat = some_threat(sandbox)
    summary = sandbox.summary(threat)
    body = get(sandbox, FORENSICS, threatId=threat).json()
    assert body == sandbox.forensics(threat_id=threat)
    assert body["generated"] == "2026-03-04T12:00:00.000Z"
    [report] = body["reports"]
    assert (report["scope"], report["id"], report["name"]) == ("THREAT", threat, summary["name"])
    assert report["threatStatus"] == summary["status"]
    for item in report["forensics"]:
        assert set(item) == {
            "type",
            "display",
            "engine",
            "malicious",
            "note",
            "time",
            "what",
            "platforms",
        }
        assert item["type"] in TYPES and isinstance(item["malicious"], bool)
        assert isinstance(item["time"], int) and isinstance(item["what"], dict)
        assert all({"name", "os"} <= set(p) for p in item["platforms"])
    campaign_id = campaign_of(sandbox, threat)
    with_campaign = get(sandbox, FORENSICS, threatId=threat, includeCampaignForensics="true")
    by_campaign = get(sandbox, FORENSICS, campaignId=campaign_id).json()
    [campaign_report] = by_campaign["reports"]
    assert with_campaign.json()["reports"] == [report, campaign_report]
    assert campaign_report["scope"] == "CAMPAIGN" and "threatStatus" not in campaign_report
    assert campaign_report["name"] == sandbox.campaign(campaign_id)["name"]
    again = get(sandbox, FORENSICS, threatId=threat, includeCampaignForensics="false").json()
    assert again == body  # the same evidence on every call


@pytest.mark.fast
def test_forensics_cover_the_published_types_and_both_shapes(sandbox):
    items = [
        item
        for threat in sandbox.intel.threat_index
        for report in sandbox.forensics(threat_id=threat)["reports"]
        for item in report["forensics"]
    ]
    assert {i["type"] for i in items} == set(TYPES)
    assert {i["malicious"] for i in items} == {True, False}
    flags = [i["what"]["blacklisted"] for i in items if "blacklisted" in i["what"]]
    assert {type(f) for f in flags} == {bool, int} and set(flags) <= {0, 1}
    ports = [i["what"]["port"] for i in items if i["type"] == "network"]
    assert {type(p) for p in ports} == {int, str}


@pytest.mark.fast
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"threatId": "a", "campaignId": "b"},
        {"campaignId": "b", "includeCampaignForensics": "true"},
        {"threatId": "a", "includeCampaignForensics": "maybe"},
    ],
)
def test_forensics_refuses_bad_parameters(sandbox, params):
    assert get(sandbox, FORENSICS, **params).status_code == 400


# -- People API --


@pytest.mark.fast
@pytest.mark.parametrize("window", [14, 30, 90])
def test_vap_envelope_order_and_pages(sandbox, window):
    truth = sandbox.vap(window)
    body = get(sandbox, VAP, window=str(window)).json()
    assert body == truth  # size 1000 by default: one page
    assert set(body) == {
        "users",
        "totalVapUsers",
        "interval",
        "averageAttackIndex",
        "vapAttackIndexThreshold",
    }
    assert body["totalVapUsers"] == len(body["users"]) > 10
    start = (NOW - timedelta(days=window)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["interval"] == f"{start}/2026-03-04T12:00:00Z"
    indexes = [u["threatStatistics"]["attackIndex"] for u in body["users"]]
    assert indexes == sorted(indexes, reverse=True)
    for user in body["users"]:
        assert set(user["identity"]) == {
            "guid",
            "customerUserId",
            "emails",
            "name",
            "department",
            "location",
            "title",
            "vip",
        }
        assert all(set(f) == {"name", "score"} for f in user["threatStatistics"]["families"])
    pages = [get(sandbox, VAP, window=str(window), size="7", page=str(p)).json() for p in (1, 2)]
    assert [u for p in pages for u in p["users"]] == body["users"][:14]
    assert pages[1]["totalVapUsers"] == body["totalVapUsers"]
    assert get(sandbox, VAP, window=str(window), size="7", page="99").json()["users"] == []


@pytest.mark.fast
def test_top_clickers_and_the_same_people(sandbox):
    body = get(sandbox, CLICKERS, window="30").json()
    assert body == sandbox.top_clickers(30)
    assert set(body) == {"users", "totalTopClickers", "interval"}
    assert body["totalTopClickers"] == len(body["users"]) > 10
    counts = [u["clickStatistics"]["clickCount"] for u in body["users"]]
    assert counts == sorted(counts, reverse=True)
    for user in body["users"]:
        families = user["clickStatistics"]["families"]
        assert sum(f["clicks"] for f in families) == user["clickStatistics"]["clickCount"]
    by_email = {u["identity"]["emails"][0]: u["identity"] for u in sandbox.vap(90)["users"]}
    shared = [u["identity"] for u in body["users"] if u["identity"]["emails"][0] in by_email]
    assert shared and all(by_email[i["emails"][0]] == i for i in shared)
    pages = [get(sandbox, CLICKERS, window="30", size="5", page=str(p)).json() for p in (1, 2)]
    assert [u for p in pages for u in p["users"]] == body["users"][:10]


@pytest.mark.fast
@pytest.mark.parametrize("path", [VAP, CLICKERS])
@pytest.mark.parametrize(
    "params",
    [{}, {"window": "7"}, {"window": "thirty"}, {"window": "30", "size": "0"}],
)
def test_people_refuse_bad_parameters(sandbox, path, params):
    assert get(sandbox, path, **params).status_code == 400


@pytest.mark.fast
def test_top_clickers_size_is_at_most_200(sandbox):
    assert get(sandbox, CLICKERS, window="14", size="201").status_code == 400
    assert get(sandbox, CLICKERS, window="14", size="200").status_code == 200


# -- quotas --


def spend(sandbox, pool: str):
    threat = next(iter(sandbox.intel.threat_index))
    campaign_id = next(iter(sandbox.intel.campaign_index))
    path, params = {
        "campaign_ids": (IDS, {"interval": day(WEDNESDAY - 2 * DAY)}),
        "vap": (VAP, {"window": "14"}),
        "top_clickers": (CLICKERS, {"window": "90"}),
        "forensics_threat": (FORENSICS, {"threatId": threat, "includeCampaignForensics": "true"}),
        "forensics_campaign": (FORENSICS, {"campaignId": campaign_id}),
        "shared": ("/v2/siem/messages/delivered", {"format": "json", "sinceSeconds": "600"}),
        "clicks_permitted": (
            "/v2/siem/clicks/permitted",
            {"format": "json", "sinceSeconds": "600"},
        ),
    }[pool]
    return get(sandbox, path, **params)


@pytest.mark.fast
@pytest.mark.parametrize("pool", POOLS)
def test_each_pool_answers_429_after_its_limit_for_24_hours(clock, pool):
    with Sandbox(settings=settings(), clock=clock, pool_limits={pool: 2}) as sb:
        assert [spend(sb, pool).status_code for _ in range(2)] == [200, 200]
        refused = spend(sb, pool)
        assert (refused.status_code, refused.content) == (429, b"")
        others = [p for p in POOLS if p != pool]
        assert all(spend(sb, p).status_code == 200 for p in others)  # pools are apart
        assert [r.status for r in sb.pool_requests(pool)] == [200, 200, 429]
        assert all(len(sb.pool_requests(p)) == 1 for p in others)
        clock.advance(timedelta(hours=23, minutes=59))
        assert spend(sb, pool).status_code == 429
        clock.advance(timedelta(minutes=1))
        assert spend(sb, pool).status_code == 200


@pytest.mark.fast
def test_default_limits_and_the_free_apis(clock):
    with Sandbox(settings=settings(), clock=clock) as sb:
        assert {p: sb.limit(p) for p in POOLS} == {
            "shared": 1800,
            "clicks_permitted": 1800,
            "campaign_ids": 50,
            "vap": 50,
            "top_clickers": 50,
            "forensics_threat": 50,
            "forensics_campaign": 1800,
        }
        assert [spend(sb, "vap").status_code for _ in range(51)] == [200] * 50 + [429]
    with Sandbox(settings=settings(), clock=clock, pool_limits=dict.fromkeys(POOLS, 0)) as sb:
        threat = next(iter(sb.intel.threat_index))
        campaign_id = next(iter(sb.intel.campaign_index))
        for _ in range(3):  # summaries and campaign details count in no pool
            assert get(sb, SUMMARY + threat).status_code == 200
            assert get(sb, CAMPAIGN + campaign_id).status_code == 200
        assert all(sb.pool_requests(p) == [] for p in POOLS)
    with pytest.raises(ValueError, match="unknown pools"):
        Sandbox(pool_limits={"campaigns": 5})


@pytest.mark.fast
def test_refused_and_missing_ids_still_count(clock):
    with Sandbox(settings=settings(), clock=clock, pool_limits={"forensics_threat": 2}) as sb:
        assert get(sb, FORENSICS, threatId=UNKNOWN).status_code == 404
        assert get(sb, FORENSICS).status_code == 400  # no id: the threat pool's
        assert get(sb, FORENSICS, threatId=UNKNOWN).status_code == 429
        assert [r.status for r in sb.pool_requests("forensics_threat")] == [404, 400, 429]


# -- consistency with the SIEM traffic --


@pytest.mark.fast
@pytest.mark.parametrize("documented", [False, True])
def test_every_id_of_a_day_of_traffic_resolves(clock, documented):
    with Sandbox(
        settings=settings(documented_shapes=documented), clock=clock, history=timedelta(days=2)
    ) as sb:
        events = events_of(sb, NOW - timedelta(hours=25), 24)
        threats, campaigns = set(), set()
        for event in events:
            created = creation_time(event)
            for threat, campaign_id, status in threats_in(event):
                # the threat's status when the event was created (its one timeline)
                assert status == status_at(sb.settings, threat_index(11)[threat], created)
                threats.add(threat)
                if campaign_id is not None:
                    campaigns.add(campaign_id)
        assert len(threats) > 100 and len(campaigns) > 10
        for threat in threats:
            summary = get(sb, SUMMARY + threat).json()
            now = status_at(sb.settings, threat_index(11)[threat], NOW)  # the status at the request
            assert (summary["id"], summary["status"]) == (threat, now)
            assert sb.forensics(threat_id=threat)["reports"][0]["id"] == threat
        members = {}
        for campaign_id in campaigns:
            body = get(sb, CAMPAIGN + campaign_id).json()
            members.update({m["id"]: campaign_id for m in body["campaignMembers"]})
            assert sb.forensics(campaign_id=campaign_id)["reports"][0]["id"] == campaign_id
        assert all(get(sb, SUMMARY + m).status_code == 200 for m in members)
        for event in events:
            for threat, campaign_id, _ in threats_in(event):
                assert members.get(threat) == campaign_id or campaign_id is None
                if campaign_id is None:
                    assert threat not in members
        assert len(sb.intel.campaign_index) == CAMPAIGNS + WIDER_CAMPAIGNS
        sizes = [len(m) for m in sb.intel.members.values()]
        assert min(sizes) >= 2 and sum(sizes) / len(sizes) > 5


@pytest.mark.fast
def test_event_facts_agree_with_the_summary(sandbox):
    for event in events_of(sandbox, NOW - timedelta(hours=3), 2):
        infos = event.get("threatsInfoMap") or [event]
        for info in infos:
            summary = sandbox.summary(info.get("threatID", info.get("threatId")))
            assert summary["category"] == info["classification"].lower()
            if "threatType" in info:
                assert info["threatType"].lower() == summary["type"].lower()
                assert info["threat"] == summary["name"]
            else:  # a click: on a URL threat
                assert summary["type"] == "url" and event["url"] == summary["name"]


@pytest.mark.fast
def test_set_threat_status_reaches_everything_served(sandbox):
    window = {"format": "json", "interval": "2026-03-04T09:00:00Z/2026-03-04T10:00:00Z"}
    # a campaign's threat whose events of the window name it alone (an event naming another,
    # active threat too passes the default filter whatever this one's status)
    events = events_of(sandbox, NOW - timedelta(hours=3), 1)
    shared = {t for e in events if len(threats_in(e)) > 1 for t, _, _ in threats_in(e)}
    threat = next(
        t
        for e in events
        for t, c, _ in threats_in(e)
        if c is not None and t not in shared and sandbox.summary(t)["status"] != "falsePositive"
    )

    def mentions(**params):
        body = get(sandbox, ALL, **window, **params).json()
        events = [e for k in body if k != "queryEndTime" for e in body[k]]
        return [(t, s) for e in events for t, _, s in threats_in(e) if t == threat]

    seen = mentions()
    assert seen
    sandbox.set_threat_status(threat, "falsePositive")
    assert mentions() == []  # the default filter (active, cleared) drops its events now
    assert mentions(threatStatus="falsePositive") == [(threat, "falsePositive")] * len(seen)
    assert get(sandbox, SUMMARY + threat).json()["status"] == "falsePositive"
    campaign_id = campaign_of(sandbox, threat)
    members = get(sandbox, CAMPAIGN + campaign_id).json()["campaignMembers"]
    assert {m["threatStatus"] for m in members if m["id"] == threat} == {"falsePositive"}
    report = get(sandbox, FORENSICS, threatId=threat).json()["reports"][0]
    assert report["threatStatus"] == "falsePositive"
    sandbox.set_threat_status(threat, "cleared")
    assert mentions() == [(threat, "cleared")] * len(seen)
    with pytest.raises(ValueError, match="unknown status"):
        sandbox.set_threat_status(threat, "gone")


# -- faults and the request log --


@pytest.mark.fast
@pytest.mark.parametrize("path", [SUMMARY, CAMPAIGN, FORENSICS, IDS, VAP, CLICKERS])
def test_faults_on_the_new_paths(sandbox, path):
    threat = next(iter(sandbox.intel.threat_index))
    campaign_id = next(iter(sandbox.intel.campaign_index))
    target, params = {
        SUMMARY: (SUMMARY + threat, {}),
        CAMPAIGN: (CAMPAIGN + campaign_id, {}),
        FORENSICS: (FORENSICS, {"campaignId": campaign_id}),
        IDS: (IDS, {"interval": day(WEDNESDAY - 2 * DAY)}),
        VAP: (VAP, {"window": "30"}),
        CLICKERS: (CLICKERS, {"window": "30"}),
    }[path]
    rule = path if path.endswith("/") else target
    sandbox.inject(
        Fault("status", path=rule),
        Fault("cut", path=rule, skip=1),
        Fault("truncate", path=rule, skip=2),
        Fault("text-plain", path=rule, skip=3),
        Fault("reset", path=rule, skip=4),
    )
    assert get(sandbox, target, **params).status_code == 500
    with pytest.raises(json.JSONDecodeError):
        json.loads(get(sandbox, target, **params).text)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(sandbox, target, **params)
    plain = get(sandbox, target, **params)
    assert plain.headers["Content-Type"] == "text/plain" and json.loads(plain.text)
    with pytest.raises(requests.exceptions.ConnectionError):
        get(sandbox, target, **params)
    assert get(sandbox, target, **params).status_code == 200
    assert [r.fault for r in sandbox.requests_under(target)] == [
        "status",
        "cut",
        "truncate",
        "text-plain",
        "reset",
        None,
    ]


@pytest.mark.fast
def test_a_fault_without_path_hits_the_siem_paths_only(sandbox):
    threat = next(iter(sandbox.intel.threat_index))
    sandbox.inject(Fault("status", status=503, skip=1))
    siem = {"format": "json", "sinceSeconds": "600"}
    assert get(sandbox, SUMMARY + threat).status_code == 200
    assert get(sandbox, ALL, **siem).status_code == 200  # the fault's skipped one
    assert get(sandbox, VAP, window="14").status_code == 200
    assert get(sandbox, ALL, **siem).status_code == 503


@pytest.mark.fast
def test_request_log_by_prefix_and_pool(sandbox):
    threats = list(sandbox.intel.threat_index)[:3]
    for threat in threats:
        get(sandbox, SUMMARY + threat)
    get(sandbox, ALL, format="json", sinceSeconds="600")
    get(sandbox, VAP, window="14")
    assert [r.path for r in sandbox.siem_requests(SUMMARY)] == [SUMMARY + t for t in threats]
    assert [r.path for r in sandbox.requests_under(SUMMARY)] == [SUMMARY + t for t in threats]
    assert [r.path for r in sandbox.siem_requests()] == [ALL]  # the SIEM API's only
    assert [r.path for r in sandbox.siem_requests(ALL)] == [ALL]
    assert [(r.path, r.pool) for r in sandbox.pool_requests("vap")] == [(VAP, "vap")]
    assert len(sandbox.requests) == 5
    with pytest.raises(ValueError, match="unknown pool"):
        sandbox.pool_requests("people")


# -- the command line --


@pytest.mark.fast
def test_cli_parses_pool_limits_and_fault_paths():
    assert parse_pool_limits(["vap=3", "forensics_threat=0"]) == {"vap": 3, "forensics_threat": 0}
    with pytest.raises(SystemExit):
        parse_pool_limits(["people=3"])
    fault = parse_fault("cut:2:1:/v2/threat/summary/", 5)
    assert (fault.kind, fault.count, fault.skip, fault.path) == ("cut", 2, 1, SUMMARY)
    fault = parse_fault("502", 5)
    assert (fault.kind, fault.status, fault.path) == ("status", 502, None)


@pytest.mark.fast
def test_ground_truth_logs_nothing(sandbox):
    threat = next(iter(sandbox.intel.threat_index))
    sandbox.summary(threat)
    sandbox.forensics(threat_id=threat)
    sandbox.vap(30)
    sandbox.top_clickers(30)
    sandbox.campaign_ids(WEDNESDAY - 2 * DAY, WEDNESDAY - DAY)
    assert sandbox.requests == []


def test_cli_serves_the_new_apis_with_its_flags():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tap_proofpoint_tap.sandboxes.siem.cli",
            "--now",
            "2026-03-04T12:00:00Z",
            "--threat-spelling",
            "xsoar",
            "--pool-limit",
            "vap=1",
            "--fault",
            "500:1:0:/v2/campaign/",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().split(" on ")[1].split()[0]

        def ask(path, **params):
            return requests.get(url + path, params=params, auth=AUTH, timeout=10)

        assert [ask(VAP, window="30").status_code for _ in range(2)] == [200, 429]
        body = ask(IDS, interval=day(WEDNESDAY - 2 * DAY))
        assert body.status_code == 500
        campaign_id = ask(IDS, interval=day(WEDNESDAY - 2 * DAY)).json()["campaigns"][0]["id"]
        member = ask(CAMPAIGN + campaign_id).json()["campaignMembers"][0]["id"]
        assert "severity" in ask(SUMMARY + member).json()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    help_text = subprocess.run(
        [sys.executable, "-m", "tap_proofpoint_tap.sandboxes.siem.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--pool-limit", "--threat-spelling", "PATH"):
        assert option in help_text
