"""The streams that follow the SIEM ones, in process against the TAP stand-in: a day of
traffic, every threat and campaign it names resolved once, the pools kept, each fault."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tap_proofpoint_tap.errors import UnavailableError
from tap_proofpoint_tap.people_streams import TopClickersStream, VeryAttackedPeopleStream
from tap_proofpoint_tap.sandboxes.siem import Clock, Fault, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import Settings
from tap_proofpoint_tap.windows import fmt
from tests.intel_runs import (
    DEFAULT,
    EVERY,
    PATHS,
    SIEM,
    SMALL_POOLS,
    Synced,
    config,
    day_sandbox,
    keys,
    mentioned,
    requests_to,
    same_hours,
    statuses_shown,
    sync,
)

pytestmark = [pytest.mark.fast, pytest.mark.usefixtures("no_retry_waits")]


def test_every_threat_and_campaign_of_a_day_resolves_to_one_record_with_the_sandboxes_values(
    day_of_traffic,
):
    run = sync(config(day_of_traffic))
    assert run.error is None
    threats, campaigns = mentioned(run)
    assert len(threats) > 20 and len(campaigns) > 3, "a day of traffic names many"
    records = run.records("threats")
    assert sorted(r["id"] for r in records) == sorted(threats), "each exactly once"
    for record in records:
        truth = day_of_traffic.summary(record["id"])
        assert truth is not None
        for column in ("name", "type", "category", "status", "attackSpread", "actors", "malware"):
            assert record[column] == truth[column], column
        assert record["severityScore"] == truth["severityScore"]
        assert record["verticallyTargeted"] == truth["verticallyTargeted"]
    records = run.records("campaigns")
    assert sorted(r["id"] for r in records) == sorted(campaigns)
    for record in records:
        truth = day_of_traffic.campaign(record["id"])
        assert record["name"] == truth["name"]
        assert [m["id"] for m in record["campaignMembers"]] == [
            m["id"] for m in truth["campaignMembers"]
        ]
        assert record["actors"] == truth["actors"] and record["techniques"] == truth["techniques"]
    assert requests_to(day_of_traffic, "/v2/threat/summary/") == len(threats)
    assert requests_to(day_of_traffic, "/v2/campaign/") == len(campaigns), "no discovery by default"


def test_a_second_run_over_the_same_hours_asks_again_only_for_a_changed_status(day_of_traffic):
    first = sync(config(day_of_traffic))
    summaries = requests_to(day_of_traffic, "/v2/threat/summary/")
    campaigns = requests_to(day_of_traffic, "/v2/campaign/")
    again = sync(config(day_of_traffic), state=same_hours(first.state))
    assert again.error is None
    assert keys(again, "clicks_permitted") == keys(first, "clicks_permitted"), "the same hours"
    # Events carry a threat's status when they were created: a threat that changed within the
    # day shows both, and its events from before the change differ from the status stored.
    shown = statuses_shown(first)
    changed_within = {t for t, seen in shown.items() if len(seen) > 1}
    asked = {r["id"] for r in again.records("threats")}
    assert asked <= changed_within and again.records("campaigns") == []
    assert requests_to(day_of_traffic, "/v2/threat/summary/") == summaries + len(asked)
    assert requests_to(day_of_traffic, "/v2/campaign/") == campaigns
    summaries += len(asked)
    changed = next(
        r["id"]
        for r in first.records("threats")
        if r["status"] == "active" and shown[r["id"]] == {"active"}
    )
    day_of_traffic.set_threat_status(changed, "cleared")
    third = sync(config(day_of_traffic), state=same_hours(again.state))
    asked = {r["id"] for r in third.records("threats")}
    assert changed in asked and asked - {changed} <= changed_within
    assert next(r for r in third.records("threats") if r["id"] == changed)["status"] == "cleared"
    assert requests_to(day_of_traffic, "/v2/threat/summary/") == summaries + len(asked)


def test_both_published_spellings_of_a_summary_give_the_same_records():
    def threats_of(spelling: str) -> list[dict]:
        with day_sandbox(threat_spelling=spelling) as running:
            run = sync(config(running), select=(*SIEM, "threats"))
        return sorted(
            ({k: v for k, v in r.items() if k != "fetchedAt"} for r in run.records("threats")),
            key=lambda r: r["id"],
        )

    docs, xsoar = threats_of("docs"), threats_of("xsoar")
    assert docs == xsoar and docs
    assert all(r["unknownFields"] is None for r in docs), "no spelling left over"


def test_ids_proofpoint_does_not_know_are_skipped_with_one_warning(day_of_traffic, caplog):
    state = {
        "bookmarks": {
            "threats": {"pending": [["f" * 64, "active"]]},
            "campaigns": {"pending": [["00000000-0000-0000-0000-000000000000", None]]},
        }
    }
    run = sync(config(day_of_traffic), state=state, select=("threats", "campaigns"), caplog=caplog)
    assert run.error is None
    assert run.records("threats") == [] and run.records("campaigns") == []
    assert run.state["bookmarks"]["threats"]["pending"] == []
    assert run.state["bookmarks"]["campaigns"]["pending"] == []
    assert any("knows no threat " + "f" * 64 in line for line in run.logs)
    assert any("knows no campaign 00000000" in line for line in run.logs)


def test_discovery_reads_each_whole_day_once_and_a_404_day_is_a_day_without_campaigns(
    day_of_traffic,
):
    run = sync(config(day_of_traffic, discover_campaigns=True))
    assert run.error is None
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    listed = set()
    for back in range(7, 0, -1):
        day = today - timedelta(days=back)
        listed |= {
            row["id"] for row in day_of_traffic.campaign_ids(day, day + timedelta(days=1)) or []
        }
    assert any(
        day_of_traffic.campaign_ids(today - timedelta(days=b), today - timedelta(days=b - 1))
        is None
        for b in range(7, 0, -1)
    ), "the week holds a day without campaigns (404)"
    _, named = mentioned(run)
    assert {r["id"] for r in run.records("campaigns")} == listed | named
    assert run.state["bookmarks"]["campaigns"]["discoveredThrough"] == fmt(today)
    assert len(day_of_traffic.pool_requests("campaign_ids")) == 7
    again = sync(config(day_of_traffic, discover_campaigns=True), state=run.state)
    assert len(day_of_traffic.pool_requests("campaign_ids")) == 7, "no day is listed twice"
    assert again.records("campaigns") == []


def test_the_default_catalog_spends_nothing_from_any_50_request_pool(day_of_traffic):
    run = sync(config(day_of_traffic, discover_campaigns=False), select=None)
    assert run.error is None
    assert {m["stream"] for m in run.messages if m["type"] == "RECORD"} <= set(DEFAULT)
    assert run.records("threats") and run.records("campaigns")
    assert all(day_of_traffic.pool_requests(pool) == [] for pool in SMALL_POOLS)


def test_ten_runs_in_a_row_spend_each_pool_within_what_the_settings_allow(day_of_traffic):
    cfg = config(day_of_traffic, discover_campaigns=True, forensics_threat_requests_per_day=5)
    state = None
    for _ in range(10):
        run = sync(cfg, state=state, select=EVERY)
        assert run.error is None
        state = run.state
    assert len(day_of_traffic.pool_requests("forensics_threat")) == 5
    assert (
        len(day_of_traffic.pool_requests("vap")) == 1
        and len(day_of_traffic.pool_requests("top_clickers")) == 1
    )
    assert len(day_of_traffic.pool_requests("campaign_ids")) == 7
    assert all(r.status != 429 for r in day_of_traffic.requests)
    waiting = state["bookmarks"]["forensics"]["threats"]
    assert waiting, "the threats left over wait for the next day"
    logged = state["bookmarks"]["forensics"]["requests"]["forensics_threat"]
    assert len(logged) == 5, "the state logs what was spent"


def test_a_429_stops_only_its_pool_and_a_later_run_finishes_its_work(caplog):
    with Sandbox(
        settings=Settings(seed=21, per_hour=tuple((s, 4) for s in SIEM)),
        clock=Clock(),
        history=timedelta(hours=27),
        pool_limits={"vap": 0},
    ) as running:
        run = sync(config(running), select=EVERY, caplog=caplog)
        assert run.error is None, "a 429 is not a failure of the run"
        assert all(run.records(stream) for stream in (*SIEM, "threats", "top_clickers"))
        assert run.records("very_attacked_people") == []
        assert "snapshotAt" not in run.state["bookmarks"]["very_attacked_people"]
        assert any("the vap pool is not asked" in line for line in run.logs)
        running.pool_limits["vap"] = 50
        soon = sync(config(running), state=run.state, select=EVERY)
        assert soon.records("very_attacked_people") == [], "the pool rests after a 429"
        state = soon.state
        throttled = state["bookmarks"]["very_attacked_people"]["throttled"]
        throttled["vap"] -= 2 * 3600  # two hours later
        later = sync(config(running), state=state, select=EVERY)
        assert later.records("very_attacked_people")
        assert len(later.records("very_attacked_people")) == len(running.vap(30)["users"])


@pytest.fixture(scope="module")
def clean() -> Synced:
    """A run of every stream with nothing going wrong, to compare with."""
    with day_sandbox() as running:
        return sync(config(running, discover_campaigns=True), select=EVERY)


@pytest.mark.parametrize("kind", ["cut", "status"])
@pytest.mark.parametrize("path", [*PATHS, "/v2/campaign/ids"])
def test_a_cut_body_or_a_500_on_each_new_path_is_tried_again(clean, path, kind):
    with day_sandbox() as faulty:
        faulty.inject(Fault(kind, count=1, path=path))
        run = sync(config(faulty, discover_campaigns=True), select=EVERY)
    assert run.error is None
    assert any(r.fault == kind for r in faulty.requests if r.path.startswith(path))
    for stream in PATHS.values():
        assert keys(run, stream) == keys(clean, stream), stream


def test_an_api_that_keeps_failing_stops_its_stream_the_others_go_on_and_the_run_fails(
    day_of_traffic, caplog
):
    day_of_traffic.inject(Fault("status", count=10_000, path="/v2/threat/summary/"))
    run = sync(config(day_of_traffic), select=DEFAULT, caplog=caplog)
    assert isinstance(run.error, UnavailableError)
    assert "/v2/threat/summary/" in str(run.error) and "waits in the state" in str(run.error)
    assert run.records("threats") == [] and run.records("campaigns"), "campaigns went on"
    threats, _ = mentioned(run)
    assert {t for t, _ in run.state["bookmarks"]["threats"]["pending"]} == threats


def test_a_campaign_discovery_lists_with_a_later_update_is_fetched_again_alone(day_of_traffic):
    first = sync(config(day_of_traffic, discover_campaigns=True))
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    day = next(
        today - timedelta(days=back)
        for back in range(1, 8)
        if day_of_traffic.campaign_ids(
            today - timedelta(days=back), today - timedelta(days=back - 1)
        )
    )
    listed = day_of_traffic.campaign_ids(day, day + timedelta(days=1))
    touched = listed[0]["id"]
    day_of_traffic.touch_campaign(touched, day + timedelta(hours=23, minutes=59))
    state = same_hours(first.state)
    state["bookmarks"]["campaigns"]["discoveredThrough"] = fmt(day)  # that day is listed again
    again = sync(config(day_of_traffic, discover_campaigns=True), state=state)
    assert [r["id"] for r in again.records("campaigns")] == [touched]
    (row,) = [
        r for r in day_of_traffic.campaign_ids(day, day + timedelta(days=1)) if r["id"] == touched
    ]
    assert again.records("campaigns")[0]["lastUpdatedAt"] == row["lastUpdatedAt"]


def test_every_page_of_a_ranking_is_read_and_the_snapshot_goes_out_whole(
    day_of_traffic, monkeypatch
):
    monkeypatch.setattr(VeryAttackedPeopleStream, "page_size", 7)
    monkeypatch.setattr(TopClickersStream, "page_size", 7)
    run = sync(config(day_of_traffic), select=("very_attacked_people", "top_clickers"))
    for stream, truth in (
        ("very_attacked_people", day_of_traffic.vap(30)),
        ("top_clickers", day_of_traffic.top_clickers(30)),
    ):
        records = run.records(stream)
        assert sorted(r["guid"] for r in records) == sorted(
            u["identity"]["guid"] for u in truth["users"]
        ), stream
        assert len({r["snapshotAt"] for r in records}) == 1 and len(records) > 14
    users = len(day_of_traffic.vap(30)["users"])
    assert len(day_of_traffic.pool_requests("vap")) == -(-users // 7), (
        "no page twice, none past the end"
    )
