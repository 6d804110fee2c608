"""Faults (issue 7): kill -9 anywhere, 429 anywhere, transient faults, the request budget.

Every run is the CLI (or ``meltano run``) as a subprocess against the sandbox; ``run_tap`` also
checks that neither the secret nor the Basic auth header appears in anything a run printed.
Tests marked ``long`` add kill points and seeds; ``make test-long`` runs them.
"""

from __future__ import annotations

import collections
import json
import os
import random
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from tap_proofpoint_tap.sandboxes.siem import Fault
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS
from tap_proofpoint_tap.windows import fmt
from tests.helpers import (
    MELTANO,
    SANDBOX_CREDENTIALS,
    TAP,
    assert_entity_tables,
    assert_no_secret,
    backfill_sandbox,
    catalog_selecting,
    click,
    consume,
    duckdb_connect,
    finish,
    hour_floor,
    kill_meltano_at,
    meltano_env,
    pipeline_truth,
    run_tap,
    tap_config,
    truth,
)

CLICKS = "clicks_permitted"
ALL = "/v2/siem/all"
MODES = {"all": {}, "per-stream": {"use_all_endpoint": False}}
"""Each fault case runs with the streams read together through /v2/siem/all and one by one."""


def killed_run(tmp_path, config: dict, state: dict | None, lines: int) -> tuple[list[dict], bool]:
    """Run the tap and SIGKILL it once ``lines`` whole lines are read from its stdout.

    Returns the messages read (what a target would have consumed) and whether the kill came
    before the tap finished on its own.
    """
    (tmp_path / "config.json").write_text(json.dumps(config))
    argv = [TAP, "--config", str(tmp_path / "config.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        argv += ["--state", str(tmp_path / "state.json")]
    with open(tmp_path / "stderr.log", "w+") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True)
        messages = []
        while len(messages) < lines:
            line = proc.stdout.readline()
            if not line.endswith("\n"):
                break  # the tap finished (a partial last line is never consumed)
            messages.append(json.loads(line))
        killed = proc.poll() is None
        proc.kill()
        proc.communicate()
        stderr.seek(0)
        assert_no_secret(config, stderr.read(), json.dumps(messages))
    return messages, killed


KILL_SEEDS = [1, 2] + [pytest.param(seed, marks=pytest.mark.long) for seed in range(3, 10)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", KILL_SEEDS)
def test_kill_9_anywhere_in_a_backfill_loses_nothing(tmp_path, seed, mode):
    """Three kills at random lines of a two-day backfill, each resumed from the last STATE."""
    rng = random.Random(seed)
    with backfill_sandbox(seed) as sandbox:
        end = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=1)
        start = end - timedelta(days=2)
        expected = truth(sandbox, start, end)
        config = tap_config(sandbox, start, end, **MODES[mode])
        seen: dict[str, set[str]] = {stream: set() for stream in STREAMS}
        state, kills = None, 0
        for _ in range(3):
            messages, killed = killed_run(tmp_path, config, state, rng.randint(1, 350))
            assert killed, "the run ended before the kill point"
            kills += 1
            state = consume(messages, seen, state)
        finish(tmp_path, config, state, seen)
        assert kills == 3
        assert seen == expected
        assert sum(map(len, expected.values())) > 500


MELTANO_KILL_SEEDS = [21] + [pytest.param(seed, marks=pytest.mark.long) for seed in (22, 23, 24)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", MELTANO_KILL_SEEDS)
def test_kill_9_of_meltano_run_then_rerun_loads_every_row_once(tmp_path, seed, mode, project):
    """``meltano run`` killed with its whole process group at a random request, then rerun."""
    rng = random.Random(seed)
    with backfill_sandbox(seed, per_hour=40) as sandbox:
        end = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=1)
        start = end - timedelta(days=2)
        expected = truth(sandbox, start, end)
        expected_events = pipeline_truth(sandbox, start, end)
        env = meltano_env(
            tmp_path,
            sandbox,
            start,
            end,
            TARGET_DUCKDB_PROOFPOINT_BATCH_SIZE_ROWS="500",
            TAP_PROOFPOINT_TAP_USE_ALL_ENDPOINT=str(mode == "all").lower(),
        )
        argv = [MELTANO, "run", "tap-proofpoint-tap", "threatq", "target-duckdb-proofpoint"]
        kill_at = rng.randint(3, 45) if mode == "all" else rng.randint(10, 180)  # of 48 / 192
        kill_meltano_at(argv, env, tmp_path / "killed.log", sandbox.requests, kill_at, project)
        assert_no_secret(SANDBOX_CREDENTIALS, (tmp_path / "killed.log").read_text())
        # Meltano sees the killed run as still running for 5 minutes: users wait or --force.
        rerun = subprocess.run(
            [MELTANO, "run", "--force", *argv[2:]],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert_no_secret(SANDBOX_CREDENTIALS, rerun.stdout, rerun.stderr)
        with duckdb_connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
            for stream in STREAMS:
                rows = con.execute(f"select id from proofpoint.{stream}").fetchall()
                assert len(rows) == len(expected[stream]), stream
                assert {r for (r,) in rows} == expected[stream], stream
            assert_entity_tables(lambda sql: con.execute(sql).fetchall(), expected_events)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "seed",
    [31, 32, pytest.param(33, marks=pytest.mark.long), pytest.param(34, marks=pytest.mark.long)],
)
def test_429_at_a_random_request_stops_at_once_and_loses_nothing(tmp_path, seed, mode):
    rng = random.Random(seed)
    with backfill_sandbox(seed, days=2) as sandbox:
        end = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=1)
        start = end - timedelta(hours=30)
        expected = truth(sandbox, start, end)
        config = tap_config(sandbox, start, end, **MODES[mode])
        sandbox.rate_limit = rng.randint(1, 29)  # each pool's quota: the 429 comes mid-backfill
        started = time.monotonic()
        throttled = run_tap(tmp_path, config)
        elapsed = time.monotonic() - started
        assert throttled.returncode != 0
        assert "429" in throttled.stderr and "Traceback" not in throttled.stderr
        statuses = [r.status for r in sandbox.requests]
        assert statuses.count(429) == 1 and statuses[-1] == 429, "a request after the 429"
        assert elapsed < 15
        sandbox.rate_limit = 1800
        sandbox.clock.advance(timedelta(hours=24, minutes=1))  # the pool's day has passed
        rest = run_tap(tmp_path, config, state=throttled.states[-1] if throttled.states else None)
        assert rest.returncode == 0, rest.stderr
        for stream in STREAMS:
            assert set(throttled.ids(stream)) | set(rest.ids(stream)) == expected[stream]


def selecting(tmp_path, config: dict, mode: str) -> tuple[dict, str]:
    """A catalog for the clicks (with a second stream when they are read together), and the
    path their windows are asked at."""
    if mode == "all":
        return catalog_selecting(tmp_path, config, CLICKS, "clicks_blocked"), ALL
    return catalog_selecting(tmp_path, config, CLICKS), "/v2/siem/clicks/permitted"


@pytest.mark.parametrize("mode", MODES)
def test_a_cut_window_is_never_bookmarked(tmp_path, live_sandbox, mode):
    """Cut bodies then 502s until the tries run out: exit 1, state at the last whole window."""
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    config = tap_config(live_sandbox, base, base + timedelta(hours=3))
    live_sandbox.inject(Fault("cut", skip=1, count=2))
    live_sandbox.inject(Fault("status", status=502, skip=3, count=50))
    catalog, path = selecting(tmp_path, config, mode)
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode != 0
    assert "did not serve" in run.stderr and "Traceback" not in run.stderr
    assert len(live_sandbox.siem_requests(path)) == 1 + 5  # bounded: five tries of window 2
    assert {s["bookmarks"][CLICKS]["replication_key_value"] for s in run.states} == {
        fmt(base + timedelta(hours=1))
    }


@pytest.mark.parametrize("mode", MODES)
def test_bursts_of_faults_are_retried_within_the_bound(tmp_path, live_sandbox, mode):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    # A timeout far above a normal answer, even on a loaded machine, and stalls far above it.
    config = tap_config(live_sandbox, base, base + timedelta(hours=3), request_timeout=4)
    catalog, path = selecting(tmp_path, config, mode)
    live_sandbox.store.add(CLICKS, click(1, base + timedelta(minutes=70)))
    for fault in (
        Fault("status", status=503, count=2, skip=0, path=path),
        Fault("reset", count=2, skip=3, path=path),
        Fault("delay", seconds=6, count=1, skip=6, path=path),
        Fault("truncate", count=1, skip=7, path=path),
    ):
        live_sandbox.inject(fault)
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    asked = live_sandbox.siem_requests(path)
    assert len(asked) == 3 + 6  # three windows, six failed tries
    assert run.bookmark("clicks_permitted") == fmt(base + timedelta(hours=3))
    assert run.ids() == ["click-1"]


BUDGET_LINES = {  # what the SIEM streams spent (the others spend their own pools, each at most 7)
    "all": "shared 7, threat_summary 7 (SIEM: 28 with each stream at its own endpoint: "
    "clicks_permitted 7, shared 21).",
    "per-stream": "clicks_permitted 7, shared 7, threat_summary 7.",
}


@pytest.mark.parametrize("mode", MODES)
def test_request_budget_stops_cleanly_and_the_next_run_continues(tmp_path, mode):
    with backfill_sandbox(41, days=2) as sandbox:
        end = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=1)
        start = end - timedelta(hours=12)
        expected = truth(sandbox, start, end)
        config = tap_config(sandbox, start, end, max_requests_per_run=7, **MODES[mode])
        first = run_tap(tmp_path, config)
        assert first.returncode == 0, first.stderr
        paths = collections.Counter(r.path for r in sandbox.siem_requests())
        if mode == "all":
            assert paths == {ALL: 7}
        else:
            assert paths["/v2/siem/clicks/permitted"] == 7 and paths.total() == 14
        assert "max_requests_per_run (7) reached" in first.stderr
        assert BUDGET_LINES[mode] in first.stderr
        for stream in STREAMS if mode == "all" else (CLICKS,):
            assert first.bookmark(stream) == fmt(start + timedelta(hours=7))
        runs = [first]
        while any(run.bookmark(s) != fmt(end) for s in STREAMS for run in runs[-1:]):
            runs.append(run_tap(tmp_path, config, state=runs[-1].states[-1]))
            assert runs[-1].returncode == 0, runs[-1].stderr
            assert len(runs) < 10
        for stream in STREAMS:
            assert set().union(*(set(run.ids(stream)) for run in runs)) == expected[stream]


# -- bad input: one line naming the file or setting, exit 1, no traceback, no request --


def bad_input_run(tmp_path, sandbox, *args: str, debug: bool = False):
    now = datetime.now(timezone.utc)
    config = tap_config(sandbox, now - timedelta(hours=3), now - timedelta(hours=1))
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "TAP_PROOFPOINT_TAP_LOGLEVEL": "DEBUG"} if debug else None
    proc = subprocess.run(
        [TAP, "--config", str(tmp_path / "config.json"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode != 0
    assert not sandbox.requests
    assert_no_secret(config, proc.stdout, proc.stderr)
    return proc


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("state", "{not json", "The --state file {path} is not valid JSON"),
        ("state", "[]", "The --state file {path} does not hold a JSON object"),
        (
            "state",
            json.dumps({"bookmarks": {"issues": {"replication_key_value": "2026-01-01"}}}),
            "bookmarks of streams this tap does not have (issues): is it another tap's state?",
        ),
        ("state", json.dumps({"bookmarks": []}), "is not a Singer state"),
        ("state", "[" * 200_000 + "]" * 200_000, "The --state file {path} is nested too deep"),
        ("config", '{"lookback_minutes": NaN}', "is not valid JSON (NaN is not JSON)"),
        (
            "state",
            json.dumps(
                {
                    "bookmarks": {
                        "clicks_permitted": {"replication_key_value": "0001-01-01T00:00:00+01:00"}
                    }
                }
            ),
            "The --state bookmark of clicks_permitted ('0001-01-01T00:00:00+01:00') is not a time",
        ),
        ("catalog", json.dumps({"streams": [5, None]}), "stream 1 is not an object"),
        (
            "catalog",
            json.dumps({"streams": [{"tap_stream_id": ["x"], "selected": True}]}),
            "stream 1 has no 'tap_stream_id' text",
        ),
        (
            "catalog",
            json.dumps({"streams": [{"tap_stream_id": "clicks_permitted", "metadata": "x"}]}),
            "has 'metadata' that is not a list of breadcrumbs and metadata",
        ),
        (
            "catalog",
            json.dumps(
                {
                    "streams": [
                        {
                            "tap_stream_id": "clicks_permitted",
                            "metadata": [
                                {"breadcrumb": [], "metadata": {"replication-key": "nope"}}
                            ],
                        }
                    ]
                }
            ),
            "has replication-key 'nope'; it can only be queryEndTime",
        ),
        ("catalog", '{"streams": [', "The --catalog file {path} is not valid JSON"),
        (
            "catalog",
            json.dumps(
                {
                    "streams": [
                        {
                            "tap_stream_id": "clicks_permited",
                            "schema": {},
                            "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
                        }
                    ]
                }
            ),
            "selects clicks_permited, which this tap does not have",
        ),
        ("catalog", json.dumps({"items": []}), "has no 'streams' list"),
    ],
)
def test_bad_state_or_catalog_file_is_named(tmp_path, live_sandbox, name, content, message):
    path = tmp_path / f"{name}-given.json"
    path.write_text(content)
    proc = bad_input_run(tmp_path, live_sandbox, f"--{name}", str(path))
    assert message.format(path=path) in proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, errors


def test_broken_config_file_is_named(tmp_path, live_sandbox):
    broken = tmp_path / "broken.json"
    broken.write_text('{"principal": ')
    proc = bad_input_run(tmp_path, live_sandbox, "--config", str(broken))
    assert f"The --config file {broken} is not valid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("option", ["--state", "--config", "--catalog"])
def test_a_binary_file_is_named(tmp_path, live_sandbox, option):
    binary = tmp_path / "binary.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    proc = bad_input_run(tmp_path, live_sandbox, option, str(binary))
    assert f"The {option} file {binary} is not UTF-8 text (a binary file?)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_debug_logging_adds_the_traceback(tmp_path, live_sandbox):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"bookmarks": {"issues": {}}}))
    proc = bad_input_run(tmp_path, live_sandbox, "--state", str(path), debug=True)
    assert "another tap's state" in proc.stderr and "Traceback" in proc.stderr
