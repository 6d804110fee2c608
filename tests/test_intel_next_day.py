"""The five streams that follow the SIEM ones, the next day and beyond: the records against their
schemas, what is asked again a day later (and what is not), catalogs without a SIEM stream.
Each test names what a user saw before it held."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jsonschema
import pytest

from tap_proofpoint_tap.windows import fmt
from tests.intel_runs import EVERY, SIEM, config, day_sandbox, same_hours, sync

pytestmark = [pytest.mark.fast, pytest.mark.usefixtures("no_retry_waits")]

INTEL = ("threats", "campaigns", "forensics", "very_attacked_people", "top_clickers")


def a_day_later(state: dict) -> dict:
    """The state as the next day's run finds it: every campaign was fetched 25 hours ago
    (past threat_refresh_hours, well within the 30 days forensics are not asked again)."""
    state = same_hours(state)
    then = fmt(datetime.now(timezone.utc) - timedelta(hours=25))
    for known in state["bookmarks"]["campaigns"].get("known", {}).values():
        known[0] = then
    return state


# -- what held (guards) --


def test_every_record_of_the_five_streams_is_valid_and_carries_every_declared_property():
    """Draft 2020-12 with format checking, against the SCHEMA message the run sent."""
    with day_sandbox() as sandbox:
        run = sync(config(sandbox, discover_campaigns=True), select=EVERY)
    assert run.error is None, repr(run.error)
    schemas = {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}
    for stream in INTEL:
        records = run.records(stream)
        assert records, stream
        validator = jsonschema.Draft202012Validator(
            schemas[stream], format_checker=jsonschema.FormatChecker()
        )
        for record in records:
            validator.validate(record)
            assert set(record) == set(schemas[stream]["properties"]), stream


# -- findings --


def test_a_campaign_fetched_again_a_day_later_does_not_spend_its_forensics_again():
    """README: forensics asks for "the evidence of each campaign `campaigns` fetched ...;
    each at most once in 30 days". A campaign the events mention again after
    threat_refresh_hours (24 h) is fetched again, and every time it is, its forensics are asked
    for again from the forensics_campaign pool: every day, not once in 30 days."""
    with day_sandbox() as sandbox:
        cfg = config(sandbox, forensics_threat_requests_per_day=0)
        select = (*SIEM, "threats", "campaigns", "forensics")
        first = sync(cfg, select=select)
        assert first.error is None and first.records("forensics")
        asked = len(sandbox.pool_requests("forensics_campaign"))
        assert asked > 0
        second = sync(cfg, state=a_day_later(first.state), select=select)
        assert second.error is None
        assert second.records("campaigns"), "the campaigns are fetched again (as documented)"
        again = len(sandbox.pool_requests("forensics_campaign")) - asked
    assert again == 0, (
        f"{again} forensics_campaign requests a day later for campaigns whose forensics "
        f"were read 25 hours ago"
    )


def test_a_campaign_fetched_again_keeps_the_last_updated_at_discovery_listed():
    """README: `lastUpdatedAt` comes "from discovery, else null". A campaign discovery listed
    (lastUpdatedAt set) and fetched again the next day because events mention it is emitted
    with lastUpdatedAt null: the keyed target replaces the row, and the warehouse loses the
    value, though the state still holds it (campaigns.known)."""
    with day_sandbox() as sandbox:
        cfg = config(sandbox, discover_campaigns=True)
        first = sync(cfg)
        assert first.error is None
        listed = {
            r["id"]: r["lastUpdatedAt"] for r in first.records("campaigns") if r["lastUpdatedAt"]
        }
        assert listed, "discovery listed campaigns the events name"
        second = sync(cfg, state=a_day_later(first.state))
        assert second.error is None
    again = {r["id"]: r["lastUpdatedAt"] for r in second.records("campaigns") if r["id"] in listed}
    assert again, "fetched again after threat_refresh_hours"
    lost = sorted(ident for ident, updated in again.items() if updated is None)
    assert lost == [], f"{len(lost)} of {len(again)} campaigns lost their lastUpdatedAt"


@pytest.mark.parametrize("select", [("threats",), ("threats", "campaigns"), ("forensics",)])
def test_a_catalog_without_a_siem_stream_says_why_it_reads_nothing(select, caplog):
    """A user who selects only the intel streams (a second Meltano job for them, or
    `select: [threats.*, campaigns.*]`) gets exit 0, no record, no request and no line saying
    why, run after run: these streams read only the threats the SIEM windows name."""
    with day_sandbox() as sandbox:
        run = sync(config(sandbox), select=select, caplog=caplog)
        asked = len(sandbox.requests)
    assert run.error is None
    got = sum(len(run.records(stream)) for stream in select)
    told = [line for line in run.logs if "SIEM" in line or "clicks_" in line]
    assert got or told, (
        f"{select}: {got} records, {asked} requests, and no line says a SIEM stream is needed"
    )
