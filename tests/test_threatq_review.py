"""Review of issue 26 (ThreatQ's Emails and Campaigns feeds): each test showed a defect (or a
cost the README had to state) found by attacking the first version."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine

from tap_proofpoint_tap.sandboxes.threatq import ThreatQSandbox
from tap_proofpoint_tap.targets.threatq.cache import Cache
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

pytestmark = pytest.mark.fast
README = Path(__file__).resolve().parents[1] / "README.md"
CLICK_CAMPAIGN = frozenset({("incident", "click-1"), ("campaign", "invoice wave")})
CLICK_EVENT = frozenset({("incident", "click-1"), ("event", "g-1")})


def test_a_link_given_up_is_tried_again_once_cache_hours_have_passed(tmp_path):
    """The campaigns come from another job (or a run whose campaigns fetch failed): the SIEM
    job gives the click's campaign link up and the cache remembers that. A re-read within
    cache_hours costs nothing (the README says so); the first re-read after them asks
    ThreatQ again and makes the link."""
    siem = {"cache_dir": str(tmp_path / "siem")}
    clicks = mapped([*HEAD, click(1, campaignId="camp-9"), state(1)])
    with ThreatQSandbox() as tq:
        assert "Relationships not made: 1 " in load(tq, clicks, **siem).summary
        load(tq, mapped([*HEAD, CAMPAIGN, state(2)]), cache_dir=str(tmp_path / "campaigns"))
        assert load(tq, clicks, **siem).requests == 0  # the look-back, within cache_hours
        assert CLICK_CAMPAIGN not in link_keys(tq)
        with time_machine.travel(datetime.now(timezone.utc) + timedelta(hours=25), tick=True):
            load(tq, clicks, **siem)
        assert CLICK_CAMPAIGN in link_keys(tq)


def test_a_link_given_up_is_made_with_its_events_message_in_a_later_run(tmp_path):
    """A backfill of the messages read again with the clicks (a ``--full-refresh``): the
    click's link given up before is made at once, without waiting for cache_hours."""
    siem = {"cache_dir": str(tmp_path / "siem")}
    clicks = [*HEAD, click(1, GUID="g-1"), state(1)]
    with ThreatQSandbox() as tq:
        load(tq, mapped([*HEAD, message("g-0"), state(0)]), cache_hours=0)  # ThreatQ has events
        assert "Relationships not made: 1 " in load(tq, mapped(clicks), **siem).summary
        load(tq, mapped([*clicks, message("g-1"), state(2)]), **siem)
        assert CLICK_EVENT in link_keys(tq)


def test_a_cache_row_from_a_clock_that_ran_ahead_expires_within_cache_hours(tmp_path):
    """The cache promises that what an analyst deleted comes back within cache_hours. A row
    remembered while the clock was a week ahead (NTP correcting it) is trusted for a week."""
    log = logging.getLogger("review")
    now = [1_000_000_000.0]
    cache = Cache(tmp_path / "c.sqlite3", 24, log, clock=lambda: now[0])
    row = {"id": "x", "value": "v"}
    cache.remember([{**row}])
    cache.close()
    now[0] -= 7 * 24 * 3600  # the clock put back a week
    now[0] += 25 * 3600  # and more than cache_hours pass
    cache = Cache(tmp_path / "c.sqlite3", 24, log, clock=lambda: now[0])
    try:
        loaded, _ = cache.known([row])
    finally:
        cache.close()
    assert loaded == set(), "a row from the future stays known past cache_hours"


def test_two_tenants_sharing_the_cache_do_not_resend_each_others_rows(tmp_path):
    """Two tenants (one ``source`` each) into one ThreatQ share the default cache file (one
    per api_url). Their rows of a shared indicator have one id and two digests, and the
    cache keeps one digest per id: each tenant's re-read of unchanged rows is sent again."""
    cache = {"cache_dir": str(tmp_path)}
    feed = [*HEAD, click(1), message("g-1"), state(1)]
    tenant_a, tenant_b = mapped(feed, source="Tenant A"), mapped(feed, source="Tenant B")
    with ThreatQSandbox() as tq:
        load(tq, tenant_a, **cache)
        load(tq, tenant_b, **cache)
        again = load(tq, tenant_a, **cache)
        assert again.requests == 0, again.summary


def test_a_new_message_costs_one_event_look_up_once_threatq_holds_events(tmp_path):
    """Every run after the first loads new messages into an instance that holds events of
    earlier runs. ThreatQ does not deduplicate events, and no documented filter asks for
    several titles at once: each new message costs one ``GET /api/events?title=…`` before it
    is created (the README gives this cost); a message the run already loaded costs none."""
    with ThreatQSandbox() as tq:
        load(tq, mapped([*HEAD, message("g-0"), state(0)]), cache_dir=str(tmp_path))
        n = 200
        fresh = [message(f"g-{i}") for i in range(1, n + 1)]
        feed = [*HEAD, *fresh, *fresh, state(1)]  # each read twice (two recipients' records)
        before = len(tq.requests)
        run = load(tq, mapped(feed), cache_dir=str(tmp_path))
        titles = [r for r in tq.requests[before:] if r.method == "GET" and r.path == "/api/events"]
        # and one whether ThreatQ holds any event of a message, one for its highest event id
        assert len(titles) == n + 2, f"{len(titles)} event look-ups for {n} new messages"
        assert tq.store.counts()["events"] == n + 1, run.summary


def test_the_readme_gives_the_cache_figures_it_promises():
    """Issue 26: the README reports first-load and reload requests per 1,000 clicks with the
    new feeds, with the cache present and absent. It holds two unfilled placeholders."""
    text = README.read_text(encoding="utf-8")
    assert "BENCH_SUMMARY" not in text and "BENCH_COLD" not in text


def test_a_click_read_before_its_message_by_the_streams_own_endpoints_is_linked(tmp_path):
    """With ``use_all_endpoint: false`` (or ``threat_type`` set: the message streams then read
    their own endpoints) the tap sends every window of clicks, each with its STATE, and then
    the messages. A click's link to its event is given up at the first load after its
    window's STATE, before the message comes: on a real day (more than batch_size records)
    every click-event link is lost (checked through the tap: 0 of 37 with batch_size 10)."""
    lines = mapped([*HEAD, click(1, GUID="g-1"), state(1), click(2), state(2), message("g-1"),
                    state(3)])  # fmt: skip
    with ThreatQSandbox() as tq:
        run = load(tq, lines, batch_size=1, cache_dir=str(tmp_path))
        assert CLICK_EVENT in link_keys(tq), run.summary


def test_an_attribute_threatq_holds_in_another_case_is_not_posted_again(tmp_path):
    """ThreatQ compares attribute values without case (the contract; the oracle's rule 2).
    A click says the URL's Classification is ``phish``, a message's threat says ``PHISH``:
    the target compares with case and posts the second, which an instance that duplicates
    re-posts (``--duplicate-reposts``) stores twice."""
    url = "https://bad.example/1"
    threat = {"threatType": "url", "threat": url, "classification": "PHISH", "threatID": "t1"}
    lines = mapped([*HEAD, click(1, classification="phish"),
                    message("g-1", threatsInfoMap=[threat]), state(1)])  # fmt: skip
    with ThreatQSandbox(duplicate_reposts=True) as tq:
        load(tq, lines, cache_dir=str(tmp_path))
        (indicator,) = [o for o in tq.store.objects("indicators") if o["value"] == url]
        names = [a["value"] for a in indicator["attributes"] if a["name"] == "Classification"]
        assert len(names) == 1, names


def test_a_message_without_guid_gives_no_event(tmp_path):
    """The contract makes one event per GUID, and the tap's schema allows a null GUID: such a
    message gives no event (the oracle's rule 3). The mapper makes one of the record's own
    ``id`` instead, titled ``[message <that id>]``: one event per recipient's record."""
    lines = mapped([*HEAD, message("g-1", GUID=None, id="m-a"),
                    message("g-1", GUID=None, id="m-b", recipient=["b@corp.example"]),
                    state(1)])  # fmt: skip
    with ThreatQSandbox() as tq:
        load(tq, lines, cache_dir=str(tmp_path))
        titles = [o["title"] for o in tq.store.objects("events")]
        assert titles == [], titles


def _target_settings_table() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Loading into ThreatQ", 1)[1].split("\n## ", 1)[0]
    return section.split("| Setting |", 1)[1].split("\n\n", 1)[0]


def test_the_readmes_target_settings_table_lists_the_cache_settings():
    """README: "`cache_hours: 0` turns it off", "It lives in `cache_dir`": neither is in the
    settings table of "Loading into ThreatQ" (every other setting is)."""
    from tap_proofpoint_tap.targets.threatq.settings import OWN

    table = _target_settings_table()
    missing = [name for name in OWN if f"| {name} |" not in table]
    assert missing == [], missing


def test_the_run_table_names_the_cache_file(tmp_path):
    """README: "one SQLite file per `api_url` (a hash of it names the file; the run table
    prints its path)". The first run's table (what an admin reads to find it) does not."""
    with ThreatQSandbox() as tq:
        run = load(tq, mapped([*HEAD, click(1), state(1)]), cache_dir=str(tmp_path))
    (path,) = tmp_path.glob("*.sqlite3")
    assert str(path) in run.summary, run.summary


def test_an_indicator_an_analyst_deleted_comes_back_whole_when_a_new_click_names_it(tmp_path):
    """An analyst deletes a URL; a new click on it within cache_hours: the target sends the
    URL again (the new incident refers to it) and ThreatQ creates it anew, but the cache
    still knows its attribute rows (same ids, same content), so they are not sent: the URL
    is back without its Classification, which the new click itself carries."""
    url = "https://bad.example/1"
    cache = {"cache_dir": str(tmp_path)}
    with ThreatQSandbox() as tq:
        load(tq, mapped([*HEAD, click(1, classification="phish"), state(1)]), **cache)
        (gone,) = [o for o in tq.store.objects("indicators") if o["value"] == url]
        tq.store.delete(tq.store.get("indicators", gone["id"]))
        again = {**click(1, classification="phish")["record"], "id": "click-2"}
        load(tq, mapped([*HEAD, record("clicks_permitted", **again), state(2)]), **cache)
        (back,) = [o for o in tq.store.objects("indicators") if o["value"] == url]
        assert [a["value"] for a in back["attributes"] if a["name"] == "Classification"] == [
            "phish"
        ]


def test_a_campaign_proofpoint_renamed_stays_one_campaign(tmp_path):
    """README: "one Campaign per Proofpoint campaign". The tap fetches a campaign again after
    threat_refresh_hours; when Proofpoint renamed it, consume (unique on value) creates a
    second ThreatQ campaign with the same Campaign ID, and later clicks link to the old."""
    renamed = record("campaigns", **{**CAMPAIGN["record"], "name": "Invoice wave (TA505)"})
    with ThreatQSandbox() as tq:
        load(tq, mapped([*HEAD, CAMPAIGN, state(1)]), cache_dir=str(tmp_path))
        load(tq, mapped([*HEAD, renamed, state(2)]), cache_dir=str(tmp_path))
        values = [o["value"] for o in tq.store.objects("campaign")]
        assert len(values) == 1, values
