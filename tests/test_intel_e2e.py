"""The streams that follow the SIEM ones through the CLI, killed with SIGKILL: in the middle of a
request to a 50-a-day pool (the rerun spends no more than the share), and right after the SIEM
streams (no threat they named is lost)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from tap_proofpoint_tap.sandboxes.siem import Fault
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS
from tests.helpers import (
    TAP,
    catalog_selecting,
    pipeline_truth,
    run_tap,
    tap_config,
    traffic_sandbox,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def killed_when(argv: list[str], out: Path, asked: Callable[[], bool]) -> list[dict]:
    """Run ``argv`` with stdout into ``out`` and SIGKILL it once ``asked()`` (the stand-in saw
    the request to stop at); the lines it wrote, as a target would have read them."""
    with open(out, "w") as stdout:
        proc = subprocess.Popen(
            argv, stdout=stdout, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while not asked() and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before the request to stop at"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return [json.loads(line) for line in out.read_text().splitlines() if line]


def test_a_kill_9_mid_request_and_a_rerun_do_not_overspend_a_pool(tmp_path):
    with traffic_sandbox(5, 6, timedelta(hours=6)) as sandbox:
        now = datetime.now(timezone.utc)
        truth = pipeline_truth(sandbox, now - timedelta(hours=5), now - timedelta(hours=1))
        threats = sorted({e["threatID"] for e in truth["clicks_blocked"]})[:8]
        assert len(threats) == 8
        config = tap_config(
            sandbox,
            now - timedelta(minutes=90),
            now - timedelta(minutes=30),
            forensics_threat_requests_per_day=3,
        )
        catalog = catalog_selecting(tmp_path, config, "forensics")
        state = {"bookmarks": {"forensics": {"threats": [[t, 1] for t in threats]}}}
        for name, value in (("config", config), ("catalog", catalog), ("state", state)):
            (tmp_path / f"{name}.json").write_text(json.dumps(value))
        # The second request stalls; the tap is killed while it waits for the answer.
        sandbox.inject(Fault("delay", skip=1, count=1, path="/v2/forensics", seconds=30))
        lines = killed_when(
            [TAP, *(f"--{n}={tmp_path / n}.json" for n in ("config", "catalog", "state"))],
            tmp_path / "out.jsonl",
            lambda: len(sandbox.pool_requests("forensics_threat")) >= 2,
        )
        last = [m["value"] for m in lines if m["type"] == "STATE"][-1]  # what a target kept
        logged = last["bookmarks"]["forensics"]["requests"]["forensics_threat"]
        assert len(logged) == 2, "the request in flight was logged before it went out"
        rerun = run_tap(tmp_path, config, state=last, catalog=catalog)
        assert rerun.returncode == 0, rerun.stderr
        assert len(sandbox.pool_requests("forensics_threat")) == 3, "the share, not more"
        assert "forensics_threat pool is not asked this run" in rerun.stderr
        waiting = rerun.states[-1]["bookmarks"]["forensics"]["threats"]
        assert len(waiting) == 8 - 2, "the threats not read wait for the next day"


def test_a_kill_9_after_the_siem_streams_loses_no_threat_they_named(tmp_path):
    """The threats a window's events name go into the state with its STATE: a run killed while
    the first summary is asked for leaves every one of them for the next run."""
    with traffic_sandbox(6, 6, timedelta(hours=6)) as sandbox:
        now = datetime.now(timezone.utc)
        end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        config = tap_config(sandbox, end - timedelta(hours=3), end)
        (tmp_path / "config.json").write_text(json.dumps(config))
        sandbox.inject(Fault("delay", count=1, path="/v2/threat/summary/", seconds=30))
        lines = killed_when(
            [TAP, f"--config={tmp_path / 'config.json'}"],
            tmp_path / "out.jsonl",
            lambda: bool(sandbox.requests_under("/v2/threat/summary/")),
        )
        named = {
            info.get("threatID")
            for m in lines
            if m["type"] == "RECORD" and m["stream"] in STREAMS
            for info in m["record"].get("threatsInfoMap") or [m["record"]]
        } - {None}
        last = [m["value"] for m in lines if m["type"] == "STATE"][-1]
        assert named and {t for t, _ in last["bookmarks"]["threats"]["pending"]} == named
        rerun = run_tap(tmp_path, config, state=last)
        assert rerun.returncode == 0, rerun.stderr
        assert {r["id"] for r in rerun.records("threats")} >= named, "every one fetched"


def test_a_kill_9_in_discovery_or_in_a_ranking_then_a_rerun_asks_only_what_is_left(tmp_path):
    """Killed while the third campaign-ids day, then the ranking, is asked for: the days
    already listed are not asked again, the day in flight is (its request stays logged), and
    the ranking's snapshot is taken whole by the rerun."""
    with traffic_sandbox(8, 4, timedelta(hours=3)) as sandbox:
        now = datetime.now(timezone.utc)
        config = tap_config(
            sandbox,
            now - timedelta(minutes=90),
            now - timedelta(minutes=30),
            discover_campaigns=True,
        )
        catalog = catalog_selecting(tmp_path, config, "campaigns", "very_attacked_people")
        for name, value in (("config", config), ("catalog", catalog)):
            (tmp_path / f"{name}.json").write_text(json.dumps(value))
        argv = [TAP, *(f"--{n}={tmp_path / n}.json" for n in ("config", "catalog"))]
        sandbox.inject(Fault("delay", skip=2, count=1, path="/v2/campaign/ids", seconds=30))
        lines = killed_when(
            argv, tmp_path / "out.jsonl", lambda: len(sandbox.pool_requests("campaign_ids")) >= 3
        )
        state = [m["value"] for m in lines if m["type"] == "STATE"][-1]
        assert len(state["bookmarks"]["campaigns"]["requests"]["campaign_ids"]) == 3
        (tmp_path / "state.json").write_text(json.dumps(state))
        sandbox.inject(Fault("delay", count=1, path="/v2/people/vap", seconds=30))
        lines = killed_when(
            [*argv, f"--state={tmp_path / 'state.json'}"],
            tmp_path / "out2.jsonl",
            lambda: bool(sandbox.pool_requests("vap")),
        )
        state = [m["value"] for m in lines if m["type"] == "STATE"][-1]
        assert "snapshotAt" not in state["bookmarks"]["very_attacked_people"]
        final = run_tap(tmp_path, config, state=state, catalog=catalog)
        assert final.returncode == 0, final.stderr
    assert len(sandbox.pool_requests("campaign_ids")) == 7 + 1, (
        "each day once, the one in flight twice"
    )
    days = [r.params["interval"][0] for r in sandbox.pool_requests("campaign_ids")]
    assert len(set(days)) == 7 and days.count(days[2]) == 2
    assert len(sandbox.pool_requests("vap")) == 2, (
        "the killed snapshot's request, then the whole one"
    )
    users = final.records("very_attacked_people")
    assert (
        len(users) == len(sandbox.vap(30)["users"]) and len({u["snapshotAt"] for u in users}) == 1
    )
