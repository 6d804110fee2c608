"""The pure logic of the streams that follow the SIEM ones: what is due (work.py), what the
pools allow (quota.py), the records (intel_records.py), and the state they keep (inputs.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tap_proofpoint_tap import intel_records
from tap_proofpoint_tap.errors import StateError
from tap_proofpoint_tap.inputs import check_state
from tap_proofpoint_tap.quota import QuotaLog
from tap_proofpoint_tap.work import Mention, Wanted, Work, mentions_of

pytestmark = pytest.mark.fast

NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
ALL = Wanted(threats=True, campaigns=True, forensics=True, refresh=timedelta(hours=24))


def click(threat: str, status: str = "active", campaign: str | None = None) -> dict:
    return {"id": "c", "threatID": threat, "threatStatus": status, "campaignId": campaign}


def message(*infos: tuple[str, str, str | None]) -> dict:
    return {
        "id": "m",
        "threatsInfoMap": [
            {"threatID": t, "threatStatus": s, "campaignID": c} for t, s, c in infos
        ],
    }


def test_mentions_come_from_clicks_and_from_each_threat_of_a_message():
    seen: dict[str, Mention] = {}
    mentions_of("clicks_blocked", click("t1", campaign="c1"), seen)
    mentions_of(
        "messages_delivered", message(("t2", "cleared", None), ("t3", "active", "c3")), seen
    )
    mentions_of("messages_blocked", {"id": "x", "threatsInfoMap": None}, seen)
    mentions_of("clicks_blocked", {"id": "y", "threatID": None}, seen)
    assert seen == {
        "t1": Mention("active", "c1", urgent=False),
        "t2": Mention("cleared", None, urgent=True),
        "t3": Mention("active", "c3", urgent=True),
    }
    mentions_of("clicks_blocked", click("t2", "cleared"), seen)
    assert seen["t2"].urgent, "a threat that reached someone stays first in line"


def test_a_threat_is_due_when_new_when_its_status_changes_and_after_the_refresh():
    work = Work({}, ALL)
    work.settle({"t": Mention("active", None, urgent=False)}, NOW)
    assert work.threats_pending() == [("t", "active")]
    work.threat_done("t", "active", NOW)
    assert work.threats_pending() == []
    work.settle({"t": Mention("active", None, urgent=False)}, NOW + timedelta(hours=1))
    assert work.threats_pending() == [], "the same status, within threat_refresh_hours"
    work.settle({"t": Mention("cleared", None, urgent=False)}, NOW + timedelta(hours=2))
    assert work.threats_pending() == [("t", "cleared")]
    work.threat_done("t", "cleared", NOW + timedelta(hours=2))
    work.settle({"t": Mention("cleared", None, urgent=False)}, NOW + timedelta(hours=27))
    assert work.threats_pending() == [("t", "cleared")], "after threat_refresh_hours"


def test_a_campaign_is_due_when_new_after_the_refresh_or_updated_in_discovery():
    work = Work({}, ALL)
    work.settle({"t": Mention("active", "c", urgent=False)}, NOW)
    assert work.campaigns_pending() == [("c", None)]
    work.campaign_done("c", "2026-12-06T10:00:00Z", NOW)
    work.settle({"t": Mention("active", "c", urgent=False)}, NOW + timedelta(hours=1))
    work.discovered("c", "2026-12-06T10:00:00Z")
    assert work.campaigns_pending() == []
    work.discovered("c", "2026-12-07T09:00:00Z")
    assert work.campaigns_pending() == [("c", "2026-12-07T09:00:00Z")]
    assert work.forensics_campaigns() == ["c"], "each campaign fetched: its forensics"


def test_forensics_wait_for_threats_in_no_campaign_those_that_reached_someone_first():
    work = Work({}, ALL)
    work.settle(
        {
            "blocked": Mention("active", None, urgent=False),
            "in-campaign": Mention("active", "c", urgent=False),
            "delivered": Mention("active", None, urgent=True),
        },
        NOW,
    )
    assert work.forensics_threats() == ["delivered", "blocked"]
    work.forensics_done("threat", "delivered", NOW)
    work.settle({"delivered": Mention("active", None, urgent=True)}, NOW + timedelta(days=2))
    assert work.forensics_threats() == ["blocked"], "read once, not again for 30 days"


def test_without_the_campaigns_stream_forensics_ask_by_campaign_directly():
    work = Work({}, Wanted(threats=False, campaigns=False, forensics=True, refresh=timedelta(1)))
    work.settle({"t": Mention("active", "c", urgent=False)}, NOW)
    assert work.forensics_campaigns() == ["c"]
    assert work.threats_pending() == [] and work.campaigns_pending() == []


def test_what_needs_no_remembering_is_forgotten():
    bookmarks: dict = {}
    work = Work(bookmarks, ALL)
    work.threat_done("old", "active", NOW - timedelta(hours=30))
    work.threat_done("new", "active", NOW - timedelta(hours=2))
    work.forensics_done("threat", "ancient", NOW - timedelta(days=31))
    work.forget(NOW)
    assert set(bookmarks["threats"]["known"]) == {"new"}
    assert bookmarks["forensics"]["done"] == {}


def test_a_pool_allows_its_share_per_rolling_24_hours_and_rests_after_a_429():
    entry: dict = {}
    log = QuotaLog(entry, {"vap": 2})
    assert log.refusal("vap", NOW) is None
    log.spend("vap", NOW - timedelta(hours=23))
    log.spend("vap", NOW - timedelta(hours=1))
    assert "2 requests in the last 24 hours" in (log.refusal("vap", NOW) or "")
    assert log.refusal("vap", NOW + timedelta(hours=1, seconds=1)) is None
    assert entry["requests"]["vap"] == [int((NOW - timedelta(hours=1)).timestamp())]
    log.throttled("vap", NOW)
    assert "429" in (log.refusal("vap", NOW + timedelta(minutes=59)) or "")
    assert log.refusal("vap", NOW + timedelta(minutes=61)) is None


SUMMARY = {
    "id": "t",
    "identifiedAt": "2020-07-21T15:30:10.000Z",
    "name": "n",
    "type": "attachment",
    "category": "malware",
    "status": "active",
    "attackSpread": 62,
    "notable": False,
    "actors": [{"id": "a", "name": "TA505"}],
}


def test_both_spellings_of_a_threat_summary_give_one_record():
    docs = {**SUMMARY, "severityScore": 20, "verticallyTargeted": True, "geoTargeted": False}
    xsoar = {**SUMMARY, "severity": 20, "verticals": True, "geographies": False}
    records = [intel_records.threat(s, "2026-12-07T00:00:00Z", []) for s in (docs, xsoar)]
    assert records[0] == records[1]
    assert records[0]["severityScore"] == 20 and records[0]["unknownFields"] is None


def test_evidence_of_both_published_shapes_lands_in_one_type_with_stable_ids():
    def answer(blacklisted, port) -> dict:
        return {
            "generated": "2026-12-07T00:00:00.000Z",
            "reports": [
                {
                    "scope": "THREAT",
                    "id": "t",
                    "name": "x",
                    "threatStatus": "active",
                    "forensics": [
                        {"type": "url", "what": {"url": "http://a", "blacklisted": blacklisted}},
                        {"type": "network", "what": {"ip": "1.2.3.4", "port": port}},
                    ],
                }
            ],
        }

    first = intel_records.forensics(
        answer(True, 443), ("threatId", "t"), "2026-12-07T01:00:00Z", []
    )
    again = intel_records.forensics(
        answer(1, "443"), ("campaignId", "c"), "2026-12-08T01:00:00Z", []
    )
    assert [r["what"] for r in first] == [r["what"] for r in again]
    assert first[0]["what"]["blacklisted"] is True and first[1]["what"]["port"] == 443
    assert [r["id"] for r in first] == [r["id"] for r in again], "how it was asked: not the id"
    assert first[0]["scope"] == "threat" and again[0]["queriedId"] == "c"


def test_a_ranked_user_without_a_guid_gets_one_from_the_identity():
    page = {"users": [{"identity": {"emails": ["a@x"]}, "clickStatistics": {"clickCount": 3}}]}
    (record,) = intel_records.people(page, "top_clicker", ("2026-12-07T00:00:00Z", 30), [])
    (again,) = intel_records.people(page, "top_clicker", ("2026-12-08T00:00:00Z", 30), [])
    assert record["guid"] == again["guid"] and record["clickCount"] == 3


@pytest.mark.parametrize(
    ("stream", "entry"),
    [
        ("threats", "x"),
        ("threats", {"pending": "t"}),
        ("threats", {"pending": [["t"]]}),
        ("threats", {"known": {"t": "active"}}),
        ("campaigns", {"requests": {"campaign_ids": ["yesterday"]}}),
        ("forensics", {"done": {"t": 3}}),
        ("very_attacked_people", {"snapshotAt": "soon"}),
        ("top_clickers", {"snapshotAt": "2099-01-01T00:00:00Z"}),
    ],
)
def test_a_work_bookmark_the_tap_did_not_write_is_refused_in_one_line(stream, entry):
    with pytest.raises(StateError, match=f"bookmark of {stream} cannot be used"):
        check_state({"bookmarks": {stream: entry}}, frozenset({stream}), NOW)


def test_threats_past_the_forensics_queue_cap_are_counted_not_kept(monkeypatch):
    monkeypatch.setattr("tap_proofpoint_tap.work.MAX_PENDING_FORENSICS", 2)
    work = Work({}, ALL)
    work.settle({t: Mention("active", None, urgent=False) for t in ("a", "b", "c", "d")}, NOW)
    assert work.forensics_threats() == ["a", "b"] and work.dropped == 2
    work.settle({"a": Mention("active", None, urgent=True)}, NOW)
    assert work.forensics_threats() == ["a", "b"] and work.dropped == 2, "one waiting: updated"
