"""The tap against servers that misbehave: redirects, trickles, huge and broken bodies, events
nested hundreds of levels deep. Each ends in one line (or the data, whole), never a hang, a
traceback, unbounded memory or a credential sent to another host."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tap_proofpoint_tap import reader, windows
from tap_proofpoint_tap.budget import RequestBudget
from tap_proofpoint_tap.depth import MAX_DEPTH
from tap_proofpoint_tap.errors import WindowRefused
from tests.helpers import (
    MAPPER,
    SANDBOX_CREDENTIALS,
    TAP,
    catalog_selecting,
    hour_floor,
    run_tap,
    tap_config,
)
from tests.hostile import Hostile, answer, flood, redirect, trickle

EMPTY = json.dumps(
    {
        "queryEndTime": "2026-03-04T12:00:00Z",
        "clicksPermitted": [],
        "clicksBlocked": [],
        "messagesDelivered": [],
        "messagesBlocked": [],
    }
).encode()


def config_for(url: str, **extra) -> dict:
    now = datetime.now(timezone.utc)
    start = hour_floor(now) - timedelta(hours=3)
    return {
        **SANDBOX_CREDENTIALS,
        "api_url": url,
        "start_date": start.isoformat(),
        **extra,
        "end_date": (start + timedelta(hours=1)).isoformat(),
    }


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("args", [(), ("--test",)], ids=["sync", "test"])
def test_no_redirect_is_followed_so_the_credentials_reach_no_other_host(tmp_path, status, args):
    with (
        Hostile().on(answer(200, EMPTY)) as elsewhere,
        Hostile().on(redirect(status, f"{elsewhere.url}/v2/siem/all?format=json")) as front,
    ):
        run = run_tap(tmp_path, config_for(front.url), args=args, timeout=60)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    [line] = errors(run.stderr)
    assert f"redirected the request ({status}) to {elsewhere.url}/v2/siem/all" in line
    assert "set api_url" in line
    assert len(front.received) == 1 and not elsewhere.received


def test_a_body_trickled_a_byte_at_a_time_ends_at_request_timeout_and_is_retried(tmp_path):
    server = Hostile().on(trickle(0.2, EMPTY), times=1).on(answer(200, EMPTY))
    with server:
        started = time.monotonic()
        run = run_tap(tmp_path, config_for(server.url, request_timeout=2), timeout=60)
        took = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-2000:]
    assert "try 1 of 5 failed (not served whole within request_timeout (2 s))" in run.stderr
    assert len(server.received) == 2 and took < 15  # the whole body would take 40 s
    assert run.states


def test_headers_trickled_a_byte_at_a_time_end_at_request_timeout(tmp_path):
    with Hostile().on(trickle(0.2, EMPTY, headers_too=True)) as server:
        started = time.monotonic()
        run = run_tap(
            tmp_path, config_for(server.url, request_timeout=2), args=("--test",), timeout=60
        )
        took = time.monotonic() - started
    assert run.returncode == 1 and "Traceback" not in run.stderr
    [line] = errors(run.stderr)
    assert "after 1 try (not served whole within request_timeout (2 s))" in line
    assert len(server.received) == 1 and took < 10


def test_an_error_body_of_20_mb_is_quoted_in_one_short_line(tmp_path):
    with Hostile().on(flood(20 << 20, status=400)) as server:
        run = run_tap(tmp_path, config_for(server.url), timeout=60)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    [line] = errors(run.stderr)
    assert "(400): <p>x</p> <p>x</p> <p>x</p>" in line
    assert len(line) < 600 and line.endswith("…")


def max_rss_mb(argv: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``argv`` as the only child of a fresh Python: its peak RSS is the children's."""
    probe = (
        "import resource, subprocess, sys, json;"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "sys.stdout.write(json.dumps([p.returncode, p.stderr,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120
    )
    returncode, stderr, kib = json.loads(proc.stdout)
    return subprocess.CompletedProcess(argv, returncode, "", stderr), kib / 1024


def test_memory_stays_bounded_whatever_a_200_response_holds(tmp_path):
    """200 MB of HTML: the streaming parser refuses it at once, the whole read stops at its
    bound; max_requests_per_run ends the run after those two tries instead of five."""
    with Hostile().on(flood(200 << 20)) as server:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(config_for(server.url, max_requests_per_run=2)))
        proc, peak = max_rss_mb([TAP, "--config", str(config)])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "read whole" in proc.stderr and len(server.received) == 2
    assert peak < 250, f"peak RSS {peak:.0f} MB"


@pytest.mark.parametrize("levels", [600, 100_000])
def test_an_event_nested_deeper_than_recursion_goes_is_kept(tmp_path, levels):
    """600 levels: msgspec decodes it, the normaliser's recursion does not go that deep;
    100,000: msgspec's does not either, ijson's events are built without recursion."""
    nested = '[{"a":' * levels + '"bottom"' + "}]" * levels
    event = '{"id":"deep","threatStatus":"active","clickTime":"2026-03-04T10:00:00Z","nested":'
    envelope = EMPTY.decode().replace(
        '"clicksPermitted": []', f'"clicksPermitted": [{event}{nested}}}]'
    )
    with Hostile().on(answer(200, envelope.encode())) as server:
        run = run_tap(tmp_path, config_for(server.url), timeout=120)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-2000:]
    [record] = [r for r in run.records("clicks_permitted") if r["id"] == "deep"]
    kept, objects = record["unknownFields"]["nested"], 0
    while not isinstance(kept, str):  # list, object, list, …: down to the text
        kept, objects = (kept[0], objects) if isinstance(kept, list) else (kept["a"], objects + 1)
    assert objects + kept.count('{"a":') == levels and '"bottom"}]}]' in kept
    assert f"values nested deeper than {MAX_DEPTH} levels kept as JSON text" in run.stderr


@pytest.mark.parametrize("through_mapper", [False, True], ids=["tap", "tap-mapper"])
def test_a_reader_that_goes_away_ends_the_tap_with_one_line(tmp_path, live_sandbox, through_mapper):
    """A target that stops reading (ThreatQ unreachable, say) closes the pipe: each program
    before it ends with one line and exit 1, no traceback."""
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=20)
    for n in range(3000):
        live_sandbox.store.add(
            "clicks_permitted",
            {"id": f"c{n}", "threatStatus": "active"},
            created=base + timedelta(seconds=20 * n),
        )
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(live_sandbox, base, base + timedelta(hours=17))))
    tap = subprocess.Popen(
        [TAP, "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    programs = [tap]
    if through_mapper:
        programs.append(
            subprocess.Popen(
                [MAPPER], stdin=tap.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
        tap.stdout.close()
    programs[-1].stdout.read(4096)
    programs[-1].stdout.close()  # the reader goes away
    for program in programs:
        with program.stderr:
            stderr = program.stderr.read().decode()
        assert program.wait(timeout=60) == 1
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-3000:]
        [line] = errors(stderr)
        assert "The program reading this output (the target or mapper) stopped first" in line


# -- what a hostile server echoes, proxies, charsets, bookmarks in other forms (review) --

SECRET = SANDBOX_CREDENTIALS["secret"]


def echo_credentials(status: int, headers_too: dict | None = None):
    """An answer that quotes the request's Authorization header and the secret itself."""

    def act(handler, _server):
        said = f"Bad request. Your headers: {handler.headers.get('Authorization')}; {SECRET}"
        answer(status, said.encode(), "text/plain", headers=headers_too)(handler, None)

    return act


@pytest.mark.parametrize("args", [(), ("--test",)], ids=["sync", "test"])
def test_server_text_that_echoes_the_credentials_is_masked(tmp_path, args):
    with Hostile().on(echo_credentials(400)) as server:
        run = run_tap(tmp_path, config_for(server.url), args=args, timeout=60)
    [line] = errors(run.stderr)  # run_tap itself fails on the secret or the Basic header
    assert "Your headers: Basic <secret>; <secret>" in line
    with Hostile().on(redirect(302, f"http://elsewhere.example/?a={SECRET}")) as server:
        run = run_tap(tmp_path, config_for(server.url), args=args, timeout=60)
    assert "to http://elsewhere.example/?a=<secret>;" in errors(run.stderr)[0]


def test_an_http_api_url_never_goes_through_the_environments_proxy(tmp_path):
    with Hostile().on(answer(200, EMPTY)) as api, Hostile().on(answer(200, EMPTY)) as proxy:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(config_for(api.url)))
        env = {**os.environ, "http_proxy": proxy.url, "HTTP_PROXY": proxy.url, "NO_PROXY": ""}
        proc = subprocess.run(
            [TAP, "--config", str(config), "--test"], capture_output=True, text=True, env=env
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not proxy.received and len(api.received) == 1


def test_an_error_body_in_an_unknown_charset_is_one_line(tmp_path):
    page = answer(400, b"caf\xe9 ferm\xe9", "text/plain; charset=x-no-such-charset")
    with Hostile().on(page) as server:
        run = run_tap(tmp_path, config_for(server.url), timeout=60)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    [line] = errors(run.stderr)
    assert "(400): caf\ufffd ferm\ufffd" in line


@pytest.mark.parametrize("form", ["+05:00", "lower"])
def test_a_bookmark_with_an_offset_or_in_lower_case_moves_on(tmp_path, live_sandbox, form):
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    text = (base + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S+05:00")  # base, at +05:00
    if form == "lower":
        text = base.strftime("%Y-%m-%dt%H:%M:%Sz")
    state = {
        "bookmarks": {
            "clicks_permitted": {"replication_key": "queryEndTime", "replication_key_value": text}
        }
    }
    config = tap_config(live_sandbox, base - timedelta(hours=1), base + timedelta(hours=2))
    config["lookback_minutes"] = 0
    catalog = catalog_selecting(tmp_path, config, "clicks_permitted")
    run = run_tap(tmp_path, config, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.bookmark() == (base + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_window_with_more_events_than_the_tap_keeps_ids_of_is_one_line(monkeypatch):
    """In process, the bound made small: a window of 6 distinct events against a bound of 5."""
    monkeypatch.setattr(reader, "MAX_EVENTS", 5)
    body = json.loads(EMPTY)
    body["clicksPermitted"] = [{"id": f"c{n}"} for n in range(6)]
    member = reader.Member(
        "clicks_permitted",
        "clicksPermitted",
        "clicks",
        dict,
        lambda _: None,
        logging.getLogger("t"),
    )
    with Hostile().on(answer(200, json.dumps(body).encode())) as server:
        transport = reader.Transport(
            requests.Session(),
            server.url,
            {},
            requests.auth.HTTPBasicAuth("p", "s"),
            5,
            1,
            lambda: iter([0.0]),
            logging.getLogger("t"),
            sleep=lambda _: None,
        )
        window = windows.Window(
            datetime(2026, 3, 4, 11, tzinfo=timezone.utc),
            datetime(2026, 3, 4, 12, tzinfo=timezone.utc),
        )
        endpoint = reader.Endpoint.own(member, "/v2/siem/clicks/permitted", sends_threat_type=False)
        read = reader.WindowReader(
            endpoint, transport, RequestBudget(None), reader.Query(), lambda: "B"
        ).read(window, frozenset({"clicks_permitted"}))
        with pytest.raises(WindowRefused, match=r"holds more than 5 clicks_permitted events"):
            list(read)
        transport.session.close()
