"""The five streams that follow the SIEM ones through Meltano as users run it, on travelling
clocks, and at their limits (the forensics queue's cap, a ranking longer than a run may ask).
Each test names what a user sees."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from tap_proofpoint_tap.work import MAX_PENDING_FORENSICS, Mention, Wanted, Work
from tests.helpers import MELTANO, duckdb_connect, meltano_env
from tests.intel_runs import END, config, day_sandbox, sync

PIPELINE = ("tap-proofpoint-tap", "threatq", "target-duckdb-proofpoint")
STATE_ID = "sandbox:tap-proofpoint-tap-to-target-duckdb-proofpoint"
NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)


def _meltano(tmp_path, project, sandbox, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [MELTANO, *args],
        cwd=project,
        env=meltano_env(tmp_path, sandbox, END - timedelta(hours=24), END),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _state(tmp_path, project, sandbox) -> dict:
    out = _meltano(tmp_path, project, sandbox, "state", "get", STATE_ID).stdout
    return json.loads(out[out.index("{") :])


def _asked(sandbox, prefix: str) -> int:
    return len(sandbox.siem_requests(prefix))


# -- through Meltano --


def test_meltano_keeps_the_pool_logs_a_rerun_spends_nothing_and_duckdb_types_the_new_columns(
    tmp_path, project
):
    """What held or not, as users run it: the state Meltano stores, a second `meltano run` over
    the same hours, and the column types the five new tables get in DuckDB."""
    with day_sandbox() as sandbox:
        _meltano(tmp_path, project, sandbox, "run", *PIPELINE)
        state = _state(tmp_path, project, sandbox)["singer_state"]["bookmarks"]
        for stream, pools in (
            ("campaigns", ("campaign_ids",)),
            ("forensics", ("forensics_campaign", "forensics_threat")),
            ("very_attacked_people", ("vap",)),
            ("top_clickers", ("top_clickers",)),
        ):
            for pool in pools:
                assert len(state[stream]["requests"][pool]) == len(sandbox.pool_requests(pool)), (
                    stream,
                    pool,
                )
        before = {
            p: _asked(sandbox, p)
            for p in ("/v2/threat/summary/", "/v2/campaign/", "/v2/people/", "/v2/forensics")
        }
        _meltano(tmp_path, project, sandbox, "run", *PIPELINE)
        after = {p: _asked(sandbox, p) for p in before}
        assert after == before, "a second run over the same hours asks nothing of these APIs"
        con = duckdb_connect(tmp_path / "warehouse.duckdb", read_only=True)
        types = dict(
            ((t, c), d)
            for t, c, d in con.execute(
                "select table_name, column_name, data_type from information_schema.columns "
                "where table_schema = 'proofpoint'"
            ).fetchall()
        )
        con.close()
        expected = {
            ("threats", "identifiedAt"): "TIMESTAMP WITH TIME ZONE",
            ("threats", "fetchedAt"): "TIMESTAMP WITH TIME ZONE",
            ("threats", "actors"): "JSON",
            ("campaigns", "startDate"): "TIMESTAMP WITH TIME ZONE",
            ("campaigns", "campaignMembers"): "JSON",
            ("campaigns", "lastUpdatedAt"): "TIMESTAMP WITH TIME ZONE",
            ("forensics", "what"): "JSON",
            ("forensics", "platforms"): "JSON",
            ("very_attacked_people", "snapshotAt"): "TIMESTAMP WITH TIME ZONE",
            ("very_attacked_people", "families"): "JSON",
            ("top_clickers", "snapshotAt"): "TIMESTAMP WITH TIME ZONE",
            ("top_clickers", "families"): "JSON",
        }
        assert {k: types.get(k) for k in expected} == expected


# -- volume: the 5,000 threats that may wait for forensics --


@pytest.mark.fast
def test_a_permitted_clicks_threat_is_not_dropped_when_5000_others_wait_for_forensics():
    """README: forensics ask for "permitted clicks' and delivered messages' threats first", and
    "Threats waiting for forensics are capped at 5,000". With the queue full of threats that
    reached nobody (blocked clicks and messages), a threat someone clicked through is dropped
    on the floor: it never gets its forensics, though it is the one that matters most."""
    waiting = [[f"{n:064x}", 0] for n in range(MAX_PENDING_FORENSICS)]
    bookmarks = {"forensics": {"threats": [list(item) for item in waiting]}}
    work = Work(bookmarks, Wanted(True, True, True, timedelta(hours=24)))
    clicked = "c" * 64
    work.settle({clicked: Mention("active", None, urgent=True)}, NOW)
    queue = work.forensics_threats()
    assert clicked in queue and queue[0] == clicked
    assert len(queue) <= MAX_PENDING_FORENSICS


@pytest.mark.fast
@pytest.mark.usefixtures("no_retry_waits")
def test_threats_left_out_at_the_5000_cap_are_said(day_of_traffic, caplog):
    """A run whose SIEM events name threats while 5,000 already wait: the new ones are left out
    of the forensics queue without a word (no line, no count), so a user never learns that
    forensics for them will never be asked."""
    caplog.set_level("INFO")
    waiting = [[f"{n:064x}", 0] for n in range(MAX_PENDING_FORENSICS)]
    state = {"bookmarks": {"forensics": {"threats": waiting}}}
    run = sync(
        config(day_of_traffic, forensics_threat_requests_per_day=1),
        state=state,
        select=("clicks_permitted", "clicks_blocked", "forensics"),
        caplog=caplog,
    )
    assert run.error is None, repr(run.error)
    queued = {item[0] for item in run.state["bookmarks"]["forensics"]["threats"]}
    mentioned = {
        r["threatID"]
        for s in ("clicks_permitted", "clicks_blocked")
        for r in run.records(s)
        if r.get("threatID") and not r.get("campaignId")
    }
    dropped = mentioned - queued
    assert dropped, "the test needs threats the cap left out"
    said = [line for line in run.logs if "5,000" in line or "5000" in line]
    assert said, f"{len(dropped)} threats left out of the forensics queue without a line"


# -- max_requests_per_run with each new pool --


@pytest.mark.fast
@pytest.mark.usefixtures("no_retry_waits")
def test_a_ranking_longer_than_max_requests_per_run_is_not_asked_again_and_again_for_nothing(
    day_of_traffic, monkeypatch
):
    """README: "`max_requests_per_run` applies to every pool", and a stopped stream's work waits
    in the state. A ranking with more pages than max_requests_per_run is read up to the limit,
    thrown away (nothing of it is kept), and read again from page 1 on the next run: every
    10-minute run spends the 50-a-day pool, the share is gone within hours, and no snapshot
    ever lands."""
    from tap_proofpoint_tap.people_streams import TopClickersStream

    monkeypatch.setattr(TopClickersStream, "page_size", 7)  # 25 users: 4 pages
    cfg = config(day_of_traffic, max_requests_per_run=2)
    state, records = None, []
    for _ in range(6):
        run = sync(cfg, state=state, select=("top_clickers",))
        assert run.error is None, repr(run.error)
        records += run.records("top_clickers")
        state = run.state
    spent = len(day_of_traffic.pool_requests("top_clickers"))
    assert records or spent <= 2, (
        f"{spent} top_clickers requests over 6 runs and no snapshot: each run starts at page 1"
    )


# -- clocks --


@pytest.mark.usefixtures("no_retry_waits")
def test_on_a_travelling_clock_the_429_rest_and_people_interval_hours_hold_to_the_minute():
    """What held: a 429 rests the pool one hour (59 minutes later nothing is asked, 61 minutes
    later the snapshot is read), and the next snapshot comes exactly people_interval_hours
    after it (a minute before: nothing asked)."""
    import time_machine

    from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
    from tap_proofpoint_tap.sandboxes.siem.generator import Settings

    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=5)
    with (
        time_machine.travel(start, tick=True) as traveller,
        Sandbox(
            settings=Settings(seed=21, per_hour=()), clock=Clock(), pool_limits={"vap": 0}
        ) as sandbox,
    ):
        cfg = config(sandbox)
        select = ("very_attacked_people",)
        state = sync(cfg, select=select).state
        assert len(sandbox.pool_requests("vap")) == 1
        sandbox.pool_limits["vap"] = 50
        traveller.move_to(start + timedelta(minutes=59))
        state = sync(cfg, state=state, select=select).state
        assert len(sandbox.pool_requests("vap")) == 1, "resting"
        traveller.move_to(start + timedelta(minutes=61))
        run = sync(cfg, state=state, select=select)
        assert run.records("very_attacked_people")
        snapshot = datetime.fromisoformat(
            run.state["bookmarks"]["very_attacked_people"]["snapshotAt"].replace("Z", "+00:00")
        )
        asked = len(sandbox.pool_requests("vap"))
        traveller.move_to(snapshot + timedelta(hours=24) - timedelta(minutes=1))
        state = sync(cfg, state=run.state, select=select).state
        assert len(sandbox.pool_requests("vap")) == asked
        traveller.move_to(snapshot + timedelta(hours=24))
        again = sync(cfg, state=state, select=select)
        assert again.records("very_attacked_people")


def test_clearing_the_forensics_entry_as_the_readme_says_does_not_spend_its_pool_twice(
    tmp_path, project
):
    """What held: clearing the forensics entry with `meltano state set` (README: "clearing one
    stream's entry ... starts only that stream's work over") forgets its pool log, but the SIEM
    bookmarks are ahead, so the next run names no threat again and spends nothing (the threats
    that were waiting are lost instead: nothing "starts over")."""
    with day_sandbox() as sandbox:
        _meltano(tmp_path, project, sandbox, "run", *PIPELINE)
        first = len(sandbox.pool_requests("forensics_threat"))
        assert first > 0
        state = _state(tmp_path, project, sandbox)["singer_state"]
        del state["bookmarks"]["forensics"]
        file = tmp_path / "state.json"
        file.write_text(json.dumps({"singer_state": state}))
        _meltano(
            tmp_path,
            project,
            sandbox,
            "state",
            "set",
            "--force",
            STATE_ID,
            "--input-file",
            str(file),
        )
        _meltano(tmp_path, project, sandbox, "run", *PIPELINE)
        spent = len(sandbox.pool_requests("forensics_threat"))
        refused = [r for r in sandbox.requests if r.status == 429]
        assert (spent, refused) == (first, []), "forensics by threat spent twice in 24 hours"
