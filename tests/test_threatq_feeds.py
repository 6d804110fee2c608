"""ThreatQ's Emails and Campaigns feeds (issue 26), in process: a day of every stream the
mapper reads, through the mapper and target-threatq into the ThreatQ stand-in, against the
independent oracle (tests/threatq_truth.py); the local cache; the mapping's details.

The end-to-end tier (the console scripts and ``meltano run``, kill -9) is
tests/test_threatq_feeds_e2e.py.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from tap_proofpoint_tap.mappers.threatq import entities as e
from tap_proofpoint_tap.mappers.threatq import feeds
from tap_proofpoint_tap.sandboxes.threatq import Fault, ThreatQSandbox
from tap_proofpoint_tap.targets.threatq import bodies
from tap_proofpoint_tap.targets.threatq.errors import ThreatQError
from tests.intel_runs import config, day_sandbox, sync
from tests.threatq_feeds import (
    CAMPAIGN,
    HEAD,
    click,
    link_keys,
    load,
    mapped,
    message,
    record,
    state,
)
from tests.threatq_truth import expected, held

pytestmark = pytest.mark.fast

FEEDS = (
    "clicks_permitted",
    "clicks_blocked",
    "messages_delivered",
    "messages_blocked",
    "threats",
    "campaigns",
    "forensics",
)
OPTIONS = e.Options()


@dataclass
class Day:
    messages: list[dict]
    records: dict[str, list[dict]]

    @property
    def last_state(self) -> dict:
        return [m["value"] for m in self.messages if m["type"] == "STATE"][-1]


@pytest.fixture(scope="module")
def day() -> Day:
    """A day of the stand-in's traffic with threats, campaigns and forensic evidence."""
    with day_sandbox() as sb:
        run = sync(config(sb), select=FEEDS)
    assert run.error is None, run.error
    records = {stream: run.records(stream) for stream in FEEDS}
    assert all(records.values()), {s: len(r) for s, r in records.items()}
    return Day(run.messages, records)


# -- what lands --


@pytest.mark.parametrize("duplicate_reposts", [False, True])
def test_a_day_of_every_feed_lands_exactly_and_reloads_change_nothing(
    day, tmp_path, duplicate_reposts
):
    """What the oracle computes from the records lands, each once; a re-read (the cache)
    costs nothing; without the cache it costs reads and still changes nothing."""
    want = expected(day.records)
    assert want.events and want.campaigns and want.adversaries and want.malware and want.ttps
    lines = mapped(day.messages)
    with ThreatQSandbox(duplicate_reposts=duplicate_reposts) as tq:
        first = load(tq, lines, cache_dir=str(tmp_path / "cache"))
        assert held(tq.store) == want, held(tq.store).diff(want, "held", "expected")
        counts = tq.store.counts()
        assert first.states and first.states[-1] == day.last_state
        again = load(tq, lines, cache_dir=str(tmp_path / "cache"))
        assert again.requests == 0, again.summary
        assert tq.store.counts() == counts
        cold = load(tq, lines, cache_dir=str(tmp_path / "other"))
        assert cold.requests > 0
        assert held(tq.store) == want, held(tq.store).diff(want, "held", "expected")
        assert tq.store.counts() == counts


@pytest.mark.parametrize(
    ("settings", "oracle"),
    [
        ({"email_event_type": "Incident"}, {"event_type": "Incident"}),
        ({"forensics_indicators": "all"}, {"forensics_indicators": "all"}),
        ({"forensics_indicators": "none"}, {"forensics_indicators": "none"}),
    ],
)
def test_the_mappers_settings_choose_what_lands(day, settings, oracle):
    want = expected(day.records, **oracle)
    with ThreatQSandbox() as tq:
        load(tq, mapped(day.messages, **settings), cache_hours=0)
        assert held(tq.store) == want, held(tq.store).diff(want, "held", "expected")


# -- links to what another record maps: across loads, runs and the STATE --


def test_a_link_to_a_campaign_read_later_holds_the_state_until_it_is_made(tmp_path):
    """The tap reads campaigns after the SIEM streams: a STATE that came after a click whose
    campaign is not in ThreatQ yet waits for the campaign (a run stopped before it reads the
    click again), while the loads go on."""
    lines = mapped(
        [*HEAD, click(1, campaignId="camp-9"), state(1), click(2), state(2), CAMPAIGN, state(3)]
    )
    with ThreatQSandbox() as tq:
        run = load(tq, lines, batch_size=1, cache_dir=str(tmp_path))
        assert run.states == [{"n": 3}], run.summary
        assert frozenset({("incident", "click-1"), ("campaign", "invoice wave")}) in link_keys(tq)


def test_a_link_whose_campaign_never_comes_is_given_up_at_the_end(tmp_path):
    lines = mapped([*HEAD, click(1, campaignId="camp-404"), state(1), click(2), state(2)])
    with ThreatQSandbox() as tq:
        run = load(tq, lines, batch_size=1, cache_dir=str(tmp_path))
        assert run.states == [{"n": 2}]
        assert "Relationships not made: 1 " in run.summary
        assert tq.store.counts()["incident"] == 2


def test_a_click_before_its_message_in_one_window_is_linked_to_its_event(tmp_path):
    """/v2/siem/all sends a window's clicks before its messages; a load may fall between."""
    lines = mapped([*HEAD, click(1, GUID="g-1"), click(2), message("g-1"), state(1)])
    with ThreatQSandbox() as tq:
        run = load(tq, lines, batch_size=1, cache_dir=str(tmp_path))
        assert run.states == [{"n": 1}]
        assert frozenset({("incident", "click-1"), ("event", "g-1")}) in link_keys(tq)
        assert "not made" not in run.summary


def test_a_message_and_campaign_of_an_earlier_run_are_found_and_linked(tmp_path):
    """A click names its message's event by GUID and its campaign by id; both were loaded by
    earlier runs (and the cache of those runs is gone)."""
    with ThreatQSandbox() as tq:
        load(tq, mapped([*HEAD, message("g-7"), CAMPAIGN, state(1)]), cache_hours=0)
        later = mapped([*HEAD, click(3, GUID="g-7", campaignId="camp-9"), state(2)])
        run = load(tq, later, cache_hours=0)
        links = link_keys(tq)
        assert frozenset({("incident", "click-3"), ("event", "g-7")}) in links
        assert frozenset({("incident", "click-3"), ("campaign", "invoice wave")}) in links
        assert tq.store.counts()["events"] == 1, "the event was found, not made again"
        assert "not made" not in run.summary


def test_a_load_of_clicks_alone_looks_up_no_event_per_click(tmp_path):
    """Without any event of a message in ThreatQ, one request tells so for the whole run."""
    clicks = [click(n, GUID=f"g-{n}") for n in range(30)]
    with ThreatQSandbox() as tq:
        run = load(tq, mapped([*HEAD, *clicks, state(1)]), cache_hours=0)
        titles = [r for r in tq.requests if r.path.endswith("/events") and r.method == "GET"]
        assert len(titles) == 1, run.summary
        assert "Relationships not made: 30 " in run.summary


# -- the local cache --


def test_an_entity_an_analyst_deleted_comes_back_once_cache_hours_have_passed(day, tmp_path):
    want = expected(day.records)
    lines = mapped(day.messages)
    cache = {"cache_dir": str(tmp_path), "cache_hours": 24}
    with ThreatQSandbox() as tq:
        load(tq, lines, **cache)
        url = next(o for o in tq.store.objects("indicators") if o["type"]["name"] == "URL")
        tq.store.delete(tq.store.get("indicators", url["id"]))
        assert load(tq, lines, **cache).requests == 0  # within cache_hours: not checked
        assert held(tq.store) != want
        with time_machine.travel(datetime.now(timezone.utc) + timedelta(hours=25), tick=True):
            load(tq, lines, **cache)
        assert held(tq.store) == want, held(tq.store).diff(want, "held", "expected")


def test_one_new_click_among_known_rows_costs_a_few_requests(day, tmp_path):
    """Its incident and links are sent; the objects it names are sent again (ThreatQ answers
    their ids) and their links read; nothing else of the day."""
    old = day.records["clicks_permitted"][0]
    fresh = record("clicks_permitted", **{**old, "id": "click-new"})
    with ThreatQSandbox() as tq:
        load(tq, mapped(day.messages), cache_dir=str(tmp_path))
        run = load(tq, mapped([*day.messages, fresh, state(9)]), cache_dir=str(tmp_path))
        # The token, 4 lookups, the highest id of the 3 collections written, the look-ups of
        # its event and campaign, reads of what the 3 objects it names hold, 4 writes.
        assert 0 < run.requests <= 20, run.summary
        assert "click-new" in held(tq.store).incidents


def test_a_cache_that_cannot_be_read_costs_requests_not_data(day, tmp_path, caplog):
    want = expected(day.records)
    lines = mapped(day.messages)
    with ThreatQSandbox(duplicate_reposts=True) as tq:
        load(tq, lines, cache_dir=str(tmp_path))
        (broken,) = tmp_path.glob("*.sqlite3")
        for extra in tmp_path.glob("*.sqlite3-*"):
            extra.unlink()
        broken.write_bytes(b"not a database" * 100)
        run = load(tq, lines, cache_dir=str(tmp_path))
        assert run.requests > 0
        assert "cannot be used" in caplog.text and "delete the file" in caplog.text
        assert held(tq.store) == want, held(tq.store).diff(want, "held", "expected")
        with closing(sqlite3.connect(broken)) as db, pytest.raises(sqlite3.DatabaseError):
            db.execute("SELECT 1 FROM loaded")


# -- the mapping's details --


def rows_of(pairs) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for stream, row in pairs:
        out.setdefault(stream, []).append(row)
    return out


def test_a_message_read_for_two_recipients_maps_to_one_event_and_both_emails():
    first = message("g-2", recipient=["a@corp.example"])["record"]
    second = {**first, "id": "m-other", "recipient": ["B@Corp.example"]}
    written: set[str] = set()
    out: dict[str, list[dict]] = {}
    for record_ in (first, second):
        for stream, row in feeds.message_entities(
            record_, OPTIONS, written, disposition="delivered"
        ):
            written.add(row["id"])
            out.setdefault(stream, []).append(row)
    assert [r["title"] for r in out[e.EVENTS]] == ["Invoice g-2 [message g-2]"]
    assert {r["address"] for r in out[e.CORPORATE_EMAILS]} == {"a@corp.example", "b@corp.example"}
    event_links = [r for r in out[e.RELATIONSHIPS] if r["target_type"] == "corporate_email"]
    assert len(event_links) == 2


def test_a_long_subject_is_cut_in_the_title_not_in_the_indicator():
    subject = "x" * 300
    out = rows_of(
        feeds.message_entities(
            message("g-3", subject=subject)["record"], OPTIONS, set(), disposition="blocked"
        )
    )
    (event,) = out[e.EVENTS]
    assert event["title"] == "x" * 199 + "… [message g-3]"
    assert event["disposition"] == "blocked"
    assert (e.EMAIL_SUBJECT, subject) in {(r["type"], r["value"]) for r in out[e.INDICATORS]}


def test_only_attached_parts_and_url_or_attachment_threats_become_indicators():
    parts = [
        {"disposition": "attached", "md5": "AA" * 16, "sha256": "BB" * 32, "filename": "a.doc",
         "contentType": "application/msword"},
        {"disposition": "inline", "md5": "cc" * 16, "sha256": "dd" * 32, "filename": "body.txt"},
    ]  # fmt: skip
    threats = [
        {"threatType": "url", "threat": "https://bad.example/x", "threatID": "t1"},
        {"threatType": "attachment", "threat": "EE" * 32, "threatID": "t2"},
        {"threatType": "message", "threat": "impostor text", "threatID": "t3"},
    ]
    record_ = message("g-4", messageParts=parts, threatsInfoMap=threats)["record"]
    out = rows_of(feeds.message_entities(record_, OPTIONS, set(), disposition="delivered"))
    found = {(r["type"], r["value"]) for r in out[e.INDICATORS]}
    assert {(e.MD5, "aa" * 16), (e.SHA256, "bb" * 32), (e.FILENAME, "a.doc")} <= found
    assert {(e.URL, "https://bad.example/x"), (e.SHA256, "ee" * 32)} <= found
    assert not {v for _, v in found} & {"cc" * 16, "dd" * 32, "body.txt", "impostor text"}
    content = [r for r in out[e.ATTRIBUTES] if r["name"] == "Content Type"]
    assert len(content) == 3 and {r["value"] for r in content} == {"application/msword"}


def test_forensic_evidence_follows_forensics_indicators():
    item = {"type": "dns", "what": {"host": "C2.Example", "ips": ["198.51.100.7"]},
            "malicious": False, "scope": "campaign", "reportId": "camp-9"}  # fmt: skip

    def indicators(forensics: str, malicious: bool) -> set[tuple[str, str]]:
        options = e.Options(forensics=forensics)
        rows = rows_of(feeds.forensic_entities({**item, "malicious": malicious}, options, set()))
        return {(r["type"], r["value"]) for r in rows.get(e.INDICATORS, [])}

    both = {(e.FQDN, "c2.example"), (e.IP_ADDRESS, "198.51.100.7")}
    assert indicators("malicious", True) == both
    assert indicators("malicious", False) == set()
    assert indicators("all", False) == both
    assert indicators("none", True) == set()


def test_an_events_description_says_what_an_analyst_reads_first():
    row = {
        "title": "Invoice [message g]",
        "type": "Spearphish",
        "happened_at": "2026-03-04T09:00:00.123Z",
        "disposition": "delivered",
        "subject": "Invoice",
        "threats": ["phish url https://bad.example/x (active)"],
        "phish_score": 0,
        "source": "Proofpoint TAP",
    }
    item = bodies.event_item(row, 42)
    assert item["type_id"] == 42 and item["happened_at"] == "2026-03-04 09:00:00"
    assert item["description"].splitlines() == [
        "Disposition: delivered",
        "Subject: Invoice",
        "Threats: phish url https://bad.example/x (active)",
        "Phish score: 0",
    ]


# -- faults on the new collections --


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr("tap_proofpoint_tap.targets.threatq.api.WAITS", (0.01,) * 6)


@pytest.mark.parametrize(
    "fault",
    [
        # the events' creation applied, then a 500: a blind retry would add each event again
        Fault("status", route="/api/events/consume", after=True),
        # their links applied, then a 500, on an instance that would double a re-posted link
        Fault("status", route="/api/events/consume", skip=1, after=True),
        Fault("status", route="/api/campaign/consume", skip=1, after=True),
        Fault("status", route="/api/adversaries/consume", status=502),
        Fault("status", route="read", status=503, skip=5, count=3),
    ],
    ids=["events-created", "events-linked", "campaigns-linked", "adversaries-502", "reads-503"],
)
def test_a_fault_on_the_new_collections_loses_and_doubles_nothing(day, quick_retries, fault):
    want = expected(day.records)
    with ThreatQSandbox(duplicate_reposts=True) as tq:
        tq.inject(fault)
        load(tq, mapped(day.messages), cache_hours=0)
        assert fault.fired
        assert held(tq.store) == want, held(tq.store).diff(want, "held", "expected")


def test_an_event_threatq_refuses_is_named_in_one_line(day):
    lines = mapped(day.messages)
    title = next(
        m["record"]["title"] for m in lines if m.get("stream") == e.EVENTS and m["type"] == "RECORD"
    )
    with ThreatQSandbox() as tq:
        tq.inject(Fault("item-error", value=title, message="Title too long."))
        with pytest.raises(ThreatQError) as refused:
            load(tq, lines, cache_hours=0)
    message = str(refused.value)
    assert "\n" not in message
    assert "threatq_events" in message and f"title {title!r}" in message, message
    assert "Title too long." in message
