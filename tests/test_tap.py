"""The tap CLI against the sandbox: windows, state, resumption and errors (issue 3)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tap_proofpoint_tap.sandboxes.siem import Fault
from tap_proofpoint_tap.windows import fmt, parse
from tests.helpers import (
    MAPPER,
    ROOT,
    TAP,
    assert_no_secret,
    catalog_selecting,
    click,
    hour_floor,
    run_tap,
    tap_config,
)

CLICKS = "/v2/siem/clicks/permitted"


def add_clicks(sandbox, times: list[datetime]) -> None:
    """Serve ``click-0`` … ``click-N`` created at ``times``."""
    for n, created in enumerate(times):
        sandbox.store.add("clicks_permitted", click(n, created))


def only_clicks(tmp_path, config):
    return catalog_selecting(tmp_path, config, "clicks_permitted")


def intervals(sandbox):
    return [parse_qs_interval(r.params) for r in sandbox.siem_requests(CLICKS)]


def parse_qs_interval(params):
    start, end = params["interval"][0].split("/")
    return parse(start), parse(end)


def test_five_hours_with_two_empty_hours(tmp_path, live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=7)
    add_clicks(
        live_sandbox,
        [base + timedelta(hours=h, minutes=7 * n) for n, h in enumerate((0, 0, 2, 4, 4, 4))],
    )
    config = tap_config(live_sandbox, base, base + timedelta(hours=5))
    run = run_tap(tmp_path, config, catalog=only_clicks(tmp_path, config))
    assert run.returncode == 0, run.stderr
    assert sorted(run.ids()) == [f"click-{n}" for n in range(6)]
    bookmarks = [
        s["bookmarks"]["clicks_permitted"].get("replication_key_value") for s in run.states
    ]
    expected = [fmt(base + timedelta(hours=h)) for h in range(1, 6)]
    assert list(dict.fromkeys(b for b in bookmarks if b)) == expected  # a STATE per window
    assert run.bookmark() == fmt(base + timedelta(hours=5))
    for start, end in intervals(live_sandbox):
        assert timedelta(seconds=30) <= end - start <= timedelta(hours=1)
    request = live_sandbox.siem_requests(CLICKS)[0]
    assert request.params["threatStatus"] == ["active", "cleared"]
    assert request.params["format"] == ["json"]
    assert all(r["queryEndTime"] in expected for r in run.records())


def test_resume_from_a_mid_run_state_loses_nothing(tmp_path, live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=8)
    add_clicks(live_sandbox, [base + timedelta(minutes=7 * n + 1) for n in range(40)])
    config = tap_config(live_sandbox, base, base + timedelta(hours=5))
    catalog = only_clicks(tmp_path, config)
    full = run_tap(tmp_path, config, catalog=catalog)
    # What a kill right after the second window leaves: its records and its last STATE.
    cut = next(
        i
        for i, m in enumerate(full.messages)
        if m["type"] == "STATE"
        and m["value"]["bookmarks"]["clicks_permitted"].get("replication_key_value")
        == fmt(base + timedelta(hours=2))
    )
    before = [m["record"]["id"] for m in full.messages[:cut] if m["type"] == "RECORD"]
    first_requests = len(live_sandbox.siem_requests(CLICKS))
    resumed = run_tap(tmp_path, config, state=full.messages[cut]["value"], catalog=catalog)
    assert resumed.returncode == 0, resumed.stderr
    assert set(before) | set(resumed.ids()) == {f"click-{n}" for n in range(40)}
    first = parse_qs_interval(live_sandbox.siem_requests(CLICKS)[first_requests].params)
    assert first[0] == base + timedelta(hours=2) - timedelta(minutes=30)


def test_retroactive_and_late_indexed_clicks_arrive_in_later_runs(tmp_path, live_sandbox):
    now = datetime.now(timezone.utc)
    first_end = hour_floor(now) - timedelta(hours=3)
    config = tap_config(live_sandbox, first_end - timedelta(hours=1), first_end)
    catalog = only_clicks(tmp_path, config)
    # Created 10 minutes before the first run's end, but indexed only after that run.
    late = click(1, first_end - timedelta(minutes=10))
    live_sandbox.store.add("clicks_permitted", late, visible=now + timedelta(minutes=50))
    # Clicked three days ago, condemned after the first run's window.
    retro = click(2, first_end + timedelta(minutes=20), click_time=now - timedelta(days=3))
    live_sandbox.store.add("clicks_permitted", retro)
    first = run_tap(tmp_path, config, catalog=catalog)
    assert first.returncode == 0 and first.ids() == []
    live_sandbox.clock.advance(timedelta(hours=1))  # the late event is now indexed
    second = run_tap(
        tmp_path,
        {**config, "end_date": fmt(first_end + timedelta(hours=1))},
        state=first.states[-1],
        catalog=catalog,
    )
    assert second.returncode == 0, second.stderr
    assert sorted(second.ids()) == ["click-1", "click-2"]


def test_nine_day_old_bookmark_is_clamped_without_a_400_loop(tmp_path, live_sandbox):
    now = datetime.now(timezone.utc)
    old = fmt(now - timedelta(days=9))
    config = tap_config(live_sandbox, now - timedelta(days=9), now - timedelta(days=6, hours=22))
    del config["start_date"]
    state = {
        "bookmarks": {
            "clicks_permitted": {"replication_key": "queryEndTime", "replication_key_value": old}
        }
    }
    run = run_tap(tmp_path, config, state=state, catalog=only_clicks(tmp_path, config))
    assert run.returncode == 0, run.stderr
    assert "can no longer be fetched" in run.stderr and old in run.stderr
    statuses = [r.status for r in live_sandbox.siem_requests(CLICKS)]
    assert statuses and set(statuses) == {200}


def test_wrong_credentials_stop_at_once(tmp_path, live_sandbox):
    now = datetime.now(timezone.utc)
    config = tap_config(
        live_sandbox, now - timedelta(hours=3), now - timedelta(hours=1), secret="not-the-secret-42"
    )
    run = run_tap(tmp_path, config)
    assert run.returncode != 0
    assert "'principal'" in run.stderr and "'secret'" in run.stderr
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and "refused the credentials (401)" in errors[0]
    assert len(live_sandbox.requests) == 1
    everything = run.stderr + json.dumps(run.messages)
    assert "not-the-secret-42" not in everything


def test_429_mid_run_stops_cleanly_and_a_later_run_completes(tmp_path, live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=6)
    add_clicks(live_sandbox, [base + timedelta(minutes=25 * n + 3) for n in range(10)])
    config = tap_config(live_sandbox, base, base + timedelta(hours=4))
    catalog = only_clicks(tmp_path, config)
    live_sandbox.rate_limit = 2
    throttled = run_tap(tmp_path, config, catalog=catalog)
    assert throttled.returncode != 0
    assert "24 hours" in throttled.stderr and "Traceback" not in throttled.stderr
    assert [r.status for r in live_sandbox.requests] == [200, 200, 429]  # nothing after the 429
    assert throttled.bookmark() == fmt(base + timedelta(hours=2))
    live_sandbox.rate_limit = 1800
    live_sandbox.clock.advance(timedelta(hours=24, minutes=1))
    config["end_date"] = fmt(base + timedelta(hours=4))
    rest = run_tap(tmp_path, config, state=throttled.states[-1], catalog=catalog)
    assert rest.returncode == 0, rest.stderr
    assert set(throttled.ids()) | set(rest.ids()) == {f"click-{n}" for n in range(10)}


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=500),
        Fault("status", status=503),
        Fault("truncate"),
        Fault("cut"),
        Fault("reset"),
        Fault("text-plain"),
        Fault("delay", seconds=8),
    ],
)
def test_transient_faults_are_retried(tmp_path, live_sandbox, fault):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    add_clicks(live_sandbox, [base + timedelta(minutes=19 * n) for n in range(6)])
    # A timeout far above a normal answer, even on a loaded machine, and stalls far above it.
    config = tap_config(live_sandbox, base, base + timedelta(hours=2), request_timeout=4)
    fault.skip = 1
    live_sandbox.inject(fault)
    run = run_tap(tmp_path, config, catalog=only_clicks(tmp_path, config))
    assert run.returncode == 0, run.stderr
    assert sorted(run.ids()) == [f"click-{n}" for n in range(6)]
    asked = [r.params["interval"][0] for r in live_sandbox.siem_requests(CLICKS)]
    expected_retry = 0 if fault.kind == "text-plain" else 1
    assert len(asked) == 2 + expected_retry and len(set(asked)) == 2


def test_other_400_stops_with_the_api_text(tmp_path, live_sandbox):
    now = datetime.now(timezone.utc)
    config = tap_config(live_sandbox, now - timedelta(hours=3), now - timedelta(hours=2))
    live_sandbox.current_lag = timedelta(days=1)  # every window is now "still current"
    run = run_tap(tmp_path, config, catalog=only_clicks(tmp_path, config))
    assert run.returncode != 0
    assert "The requested interval is still current." in run.stderr
    assert len(live_sandbox.requests) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"principal": ""}, "principal is empty"),
        ({"secret": " "}, "secret is empty"),
        ({"threat_status": ["active", "bogus"]}, "threat_status: unknown value 'bogus'"),
        ({"threat_type": ["pdf"]}, "threat_type: unknown value 'pdf'"),
        ({"window_minutes": 0}, "window_minutes must be between 1 and 60"),
        ({"window_minutes": 61}, "window_minutes must be between 1 and 60"),
        (
            {"end_date": "2026-01-01T00:00:30Z", "start_date": "2026-01-01T00:00:00Z"},
            "end_date must be at least a minute after start_date",
        ),
        (
            {"start_date": "2999-01-01T00:00:00Z"},
            "start_date 2999-01-01T00:00:00Z is in the future",
        ),
        ({"api_url": "ftp://example.com"}, "api_url must start with https://"),
        ({"lookback_minutes": -5}, "lookback_minutes must be between 0 and 1440"),
        ({"lookback_minutes": 1441}, "lookback_minutes must be between 0 and 1440"),
        ({"request_timeout": 0}, "request_timeout must be between 1 and 3600"),
        ({"request_timeout": 3601}, "request_timeout must be between 1 and 3600"),
        ({"max_requests_per_run": 0}, "max_requests_per_run must be between 1 and 1800"),
        ({"threat_refresh_hours": 0}, "threat_refresh_hours must be between 1 and 720"),
        ({"people_interval_hours": 721}, "people_interval_hours must be between 1 and 720"),
        (
            {"forensics_threat_requests_per_day": 51},
            "forensics_threat_requests_per_day must be between 0 and 50",
        ),
        ({"people_window_days": 7}, "people_window_days must be 14, 30 or 90"),
        (
            {"window_minutes": "sixty"},
            "'sixty' is not of type 'integer', 'null' in config['window_minutes']",
        ),
        ({"max_requests_per_run": "ten"}, "config['max_requests_per_run']"),
        (
            {"threat_status": "active"},
            "'active' is not of type 'array', 'null' in config['threat_status']",
        ),
        ({"threat_type": [5]}, "config['threat_type'][0]"),
        ({"start_date": "yesterday"}, "start_date 'yesterday' is not an ISO 8601 date-time"),
        ({"end_date": "soon"}, "end_date 'soon' is not an ISO 8601 date-time"),
        ({"api_url": ""}, "api_url must start with https://"),
        ({"api_url": "http://"}, "api_url 'http://' names no host"),
        ({"api_url": "http://[::1"}, "api_url 'http://[::1' is not a URL (Invalid IPv6 URL)"),
        ({"api_url": "http://127.0.0.1:99999"}, "is not a URL (Port out of range 0-65535)"),
        ({"api_url": "http:// 127.0.0.1:1"}, "api_url 'http:// 127.0.0.1:1' holds white space"),
        ({"principal": 42}, "config['principal']"),
        ({"secret": 31337421}, "<secret> is not of type 'string' in config['secret']"),
    ],
)
@pytest.mark.parametrize("args", [(), ("--test",)], ids=["sync", "test"])
def test_bad_settings_get_one_clear_message(tmp_path, live_sandbox, change, message, args):
    now = datetime.now(timezone.utc)
    config = {
        **tap_config(live_sandbox, now - timedelta(hours=3), now - timedelta(hours=1)),
        **change,
    }
    run = run_tap(tmp_path, config, args=args)
    assert run.returncode == 1
    assert message in run.stderr
    assert "Traceback" not in run.stderr and not live_sandbox.requests


@pytest.mark.parametrize("args", [(), ("--test",)], ids=["sync", "test"])
def test_settings_from_an_empty_environment_are_named(live_sandbox, args):
    env = {"PATH": os.environ["PATH"], "TAP_PROOFPOINT_TAP_API_URL": live_sandbox.url}
    proc = subprocess.run(
        [TAP, "--config", "ENV", *args], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    for name in ("principal", "secret"):
        assert f"set it in the config or as TAP_PROOFPOINT_TAP_{name.upper()}" in proc.stderr
    assert not live_sandbox.requests


def test_an_unknown_setting_is_named_with_the_closest_one(tmp_path, live_sandbox):
    now = datetime.now(timezone.utc)
    config = tap_config(live_sandbox, now - timedelta(hours=2), now - timedelta(hours=1))
    config["window_minuts"] = 5
    run = run_tap(tmp_path, config, catalog=only_clicks(tmp_path, config))
    assert run.returncode == 0
    assert (
        "'window_minuts' is not a setting of this tap and is ignored: did you mean "
        "'window_minutes'?" in run.stderr
    )


def test_missing_secret_is_named(tmp_path, live_sandbox):
    now = datetime.now(timezone.utc)
    config = tap_config(live_sandbox, now - timedelta(hours=3), now - timedelta(hours=1))
    del config["secret"]
    run = run_tap(tmp_path, config)
    assert run.returncode != 0 and "'secret' is a required property" in run.stderr


def test_corrupt_state_is_named(tmp_path, live_sandbox):
    now = datetime.now(timezone.utc)
    config = tap_config(live_sandbox, now - timedelta(hours=3), now - timedelta(hours=1))
    state = {
        "bookmarks": {
            "clicks_permitted": {
                "replication_key": "queryEndTime",
                "replication_key_value": "yesterday-ish",
            }
        }
    }
    run = run_tap(tmp_path, config, state=state, catalog=only_clicks(tmp_path, config))
    assert run.returncode != 0
    assert "is not a time" in run.stderr and "Traceback" not in run.stderr


def test_a_bookmark_later_than_now_is_refused_with_how_to_reset_it(tmp_path, live_sandbox):
    now = datetime.now(timezone.utc)
    config = tap_config(live_sandbox, now - timedelta(hours=3), now - timedelta(hours=1))
    future = fmt(hour_floor(now) + timedelta(days=30))
    state = {
        "bookmarks": {
            "clicks_permitted": {"replication_key": "queryEndTime", "replication_key_value": future}
        }
    }
    run = run_tap(tmp_path, config, state=state, catalog=only_clicks(tmp_path, config))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"The --state bookmark of clicks_permitted ({future}) is later than now" in run.stderr
    assert "meltano state" in run.stderr and not live_sandbox.requests and not run.states


def test_no_id_twice_within_a_window(tmp_path, live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    event = click(1, base + timedelta(minutes=5))
    live_sandbox.store.add("clicks_permitted", event)
    live_sandbox.store.add("clicks_permitted", dict(event))  # the API repeating an event
    live_sandbox.store.add("clicks_permitted", click(2, base + timedelta(minutes=6)))
    config = tap_config(live_sandbox, base, base + timedelta(hours=1))
    run = run_tap(tmp_path, config, catalog=only_clicks(tmp_path, config))
    by_window: dict[str, list[str]] = {}
    for record in run.records():
        by_window.setdefault(record["queryEndTime"], []).append(record["id"])
    assert {end: sorted(ids) for end, ids in by_window.items()} == {
        fmt(base + timedelta(hours=1)): ["click-1", "click-2"]
    }


@pytest.mark.parametrize("program", [TAP, MAPPER])
def test_about_lists_the_pythons_the_project_is_tested_on(program):
    about = subprocess.run(
        [program, "--about", "--format", "json"], capture_output=True, text=True, check=True
    )
    tested = json.loads(about.stdout)["supported_python_versions"]
    assert tested == ["3.10", "3.11", "3.12", "3.13"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert tested[0] in ci and tested[-1] in ci  # CI runs the oldest and the newest


def test_readme_settings_table_equals_about():
    about = subprocess.run(
        [TAP, "--about", "--format", "markdown"], capture_output=True, text=True, check=True
    ).stdout
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    ours = [
        line
        for line in about.splitlines()
        if line.startswith("| ") and line.split("|")[1].strip() in SETTINGS
    ]
    assert [line.split("|")[1].strip() for line in ours] == list(SETTINGS)
    assert all(line in readme.splitlines() for line in ours)


SETTINGS = (
    "principal",
    "secret",
    "api_url",
    "start_date",
    "end_date",
    "threat_status",
    "threat_type",
    "window_minutes",
    "lookback_minutes",
    "request_timeout",
    "max_requests_per_run",
    "use_all_endpoint",
    "threat_refresh_hours",
    "discover_campaigns",
    "forensics_threat_requests_per_day",
    "people_interval_hours",
    "people_window_days",
)


def test_config_from_environment(tmp_path, live_sandbox):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    live_sandbox.store.add("clicks_permitted", click(1, base + timedelta(minutes=5)))
    config = tap_config(live_sandbox, base, base + timedelta(hours=1))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(only_clicks(tmp_path, config)))
    env = {**os.environ, **{f"TAP_PROOFPOINT_TAP_{k.upper()}": v for k, v in config.items()}}
    proc = subprocess.run(
        [TAP, "--config", "ENV", "--catalog", str(catalog)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"id":"click-1"' in proc.stdout.replace(" ", "")
    assert_no_secret(config, proc.stdout, proc.stderr)


@pytest.mark.skipif(not hasattr(__import__("fcntl"), "F_GETPIPE_SZ"), reason="Linux pipes only")
def test_stdout_pipe_is_widened(tmp_path, live_sandbox):
    """The tap asks for a 1 MiB pipe to its reader (Linux's default is 64 KiB)."""
    import fcntl

    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=2)
    config = tap_config(live_sandbox, start, start + timedelta(hours=1))
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [TAP, "--config", str(tmp_path / "config.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    proc.stdout.readline()  # the first line: the writer is set up
    size = fcntl.fcntl(proc.stdout.fileno(), fcntl.F_GETPIPE_SZ)
    proc.communicate()
    assert size == 1 << 20
