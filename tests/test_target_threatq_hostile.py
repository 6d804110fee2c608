"""target-threatq against hostile and broken servers (issue 24), run as users run it: the
mapper's lines piped into the console script, the config pointing at servers on 127.0.0.1
(tests/hostile.py: a front that relays to the ThreatQ stand-in and misbehaves where told, and a
second server where a leaked credential would land). tests/threatq_runs.py runs the target.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess

import pytest

from tap_proofpoint_tap.sandboxes.threatq import ThreatQSandbox
from tests.hostile import Hostile, down, flood, redirect, trickle
from tests.threatq_runs import (
    assert_one_line,
    config_for,
    incidents,
    run_target,
    three_clicks,
)


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    return three_clicks(tmp_path_factory)


# -- a redirect to another host gets no credential (issue 24, item 4) --


@pytest.mark.parametrize(
    ("status", "path"),
    [(307, "/api/token"), (308, "/api/token"), (307, "/api/objects"), (302, "/api/objects")],
)
def test_a_redirect_to_another_host_gets_no_credential(tmp_path, three, status, path):
    """The front redirects one call to a second server, which records all it gets: nothing."""
    with ThreatQSandbox() as tq, Hostile() as elsewhere, Hostile(tq.url) as front:
        front.on(redirect(status, elsewhere.url + path), path=path)
        run = run_target(tmp_path, three.lines, config_for(front.url))
    assert elsewhere.received == []
    assert_one_line(
        run, f"ThreatQ answered {'POST' if path == '/api/token' else 'GET'} {path} with {status}"
    )
    assert f"redirected to {elsewhere.url}{path}" in run.errors[0]
    assert f"set api_url to {elsewhere.url} if that is your ThreatQ" in run.errors[0]
    assert "refused the credentials" not in run.stderr
    assert run.states == []


def test_a_proxy_from_the_environment_gets_no_credential_over_http(tmp_path, three):
    """http is for a test instance on 127.0.0.1; a proxy set in the environment would read the
    password in clear."""
    with ThreatQSandbox() as tq, Hostile() as proxy:
        env = {"http_proxy": proxy.url, "HTTP_PROXY": proxy.url, "no_proxy": "", "NO_PROXY": ""}
        run = run_target(tmp_path, three.lines, config_for(tq.url), env=env)
        assert run.returncode == 0, run.stderr[-3000:]
        assert incidents(tq) == {c["id"] for c in three.clicks}
    assert proxy.received == []


# -- verify_ssl and ca_bundle win over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (item 5) --


def self_signed(folder, name: str):
    """A certificate for 127.0.0.1 and its key, made by the openssl CLI."""
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(folder, "threatq")
    other, _ = self_signed(folder, "unrelated")
    return {"cert": cert, "key": key, "unrelated": other}


@pytest.mark.parametrize(
    ("setting", "variable"),
    [("verify_ssl", "REQUESTS_CA_BUNDLE"), ("ca_bundle", "CURL_CA_BUNDLE")],
)
def test_tls_settings_win_over_the_environment(tmp_path, three, certificates, setting, variable):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificates["cert"], certificates["key"])
    value = False if setting == "verify_ssl" else str(certificates["cert"])
    with ThreatQSandbox() as tq, Hostile(tq.url, tls=tls) as front:
        run = run_target(
            tmp_path,
            three.lines,
            config_for(front.url, **{setting: value}),
            env={variable: str(certificates["unrelated"])},
        )
        assert run.returncode == 0, run.stderr[-3000:]
        assert incidents(tq) == {c["id"] for c in three.clicks}


# -- every request has a deadline for its whole answer (item 6, target side) --


@pytest.mark.parametrize("headers_too", [False, True])
def test_a_trickling_answer_is_given_up_at_request_timeout_and_retried(
    tmp_path, three, headers_too
):
    """The first two token answers come a byte every 0.2 s (the body, or all of it: minutes):
    each try ends at request_timeout (1 s), and the third is answered."""
    with ThreatQSandbox() as tq, Hostile(tq.url) as front:
        front.on(trickle(0.2, headers_too=headers_too), path="/api/token", times=2)
        run = run_target(
            tmp_path, three.lines, config_for(front.url, request_timeout=1), quick=True, timeout=30
        )
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stderr.count("POST /api/token failed (no answer within request_timeout)") == 2
        assert run.seconds < 15
        assert incidents(tq) == {c["id"] for c in three.clicks}


# -- bodies are bounded (item 4 of this program's list: issue 24's "bodies are bounded") --


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (200, "ThreatQ's answer to GET /api/objects cannot be read (more than 32 MiB)"),
        (302, "ThreatQ answered GET /api/objects with 302, redirected to http://127.0.0.1:"),
    ],
)
def test_a_huge_answer_is_cut_at_the_cap_and_memory_stays_bounded(tmp_path, three, status, message):
    """A 256 MiB page where a JSON list should be (or with a redirect, whose body requests
    reads whole even when told not to follow it): one line, and the target's peak memory stays
    within what a run takes (about 75 MiB) plus the cap (32 MiB), with room to spare."""
    with ThreatQSandbox() as tq, Hostile(tq.url) as front:
        huge = flood(256 * 1024 * 1024, status, {"Location": "/elsewhere"})
        front.on(huge, path="/api/objects")
        run = run_target(tmp_path, three.lines, config_for(front.url), quick=True, timeout=60)
    assert_one_line(run, message)
    kib = int(re.search(r"maxrss (\d+)", run.stderr)[1])
    assert kib < 160 * 1024, f"{kib} KiB resident for a 256 MiB answer"


# -- a broken --config file (item 5 of this program's list) --


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"api_url": ', "is not valid JSON"),
        (bytes(range(256)), "is not UTF-8 text (a binary file?)"),
        (b"[1, 2]", "does not hold a JSON object"),
    ],
)
def test_a_broken_config_file_gets_one_line(tmp_path, three, content, message):
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    run = run_target(tmp_path, three.lines, None, config_file=path)
    assert_one_line(run, f"The --config file {path} {message}")


# -- ThreatQ unreachable: one line after the retries, no STATE ahead of ThreatQ (item 6) --


@pytest.mark.parametrize("at", [3, 15, 24])
def test_threatq_going_away_is_one_line_and_no_state_runs_ahead(tmp_path, three, at):
    """The front stops listening at its ``at``-th request (before the first write, in the
    second load, in the third: after a STATE); every STATE the target wrote covers only clicks
    ThreatQ holds, and the same lines again complete the load, each click once."""
    with ThreatQSandbox() as tq:
        with Hostile(tq.url) as front:
            front.on(down(), skip=at - 1, times=1)
            run = run_target(tmp_path, three.lines, config_for(front.url, batch_size=1), quick=True)
        assert_one_line(run, "after 7 tries (cannot connect or the connection dropped")
        held = incidents(tq)
        if at == 24:
            assert run.states, "this case must see a STATE before ThreatQ goes"
        for state in run.states:
            bookmark = state["bookmarks"]["clicks_permitted"]["replication_key_value"]
            assert {c["id"] for c in three.clicks if c["queryEndTime"] <= bookmark} <= held
        again = run_target(tmp_path, three.lines, config_for(tq.url, batch_size=1))
        assert again.returncode == 0, again.stderr[-3000:]
        assert incidents(tq) == {c["id"] for c in three.clicks}
        assert len(tq.store.dump()["objects"]["incident"]) == 3


# -- keys and names: what target-threatq does with a null key or a stream it does not know --

ENTITY = "threatq_corporate_emails"


def test_a_record_with_a_null_key_is_refused_and_an_unknown_stream_is_named(tmp_path, three):
    lines = [json.loads(line) for line in three.lines]
    schema = next(m for m in lines if m["type"] == "SCHEMA" and m["stream"] == ENTITY)
    record = next(m for m in lines if m["type"] == "RECORD" and m["stream"] == ENTITY)
    near = "threatq-corporate.emails"  # a name one character off: its own stream, ignored
    with ThreatQSandbox() as tq:
        ignored = run_target(
            tmp_path,
            [json.dumps({**m, "stream": near}) + "\n" for m in (schema, record)] + three.lines,
            config_for(tq.url),
        )
        refused = run_target(
            tmp_path,
            [
                json.dumps(m) + "\n"
                for m in (schema, {**record, "record": {**record["record"], "id": None}})
            ],
            config_for(tq.url),
        )
    assert ignored.returncode == 0 and near in ignored.stderr.split("Ignored streams")[1]
    assert_one_line(refused, f"A {ENTITY} record does not match its SCHEMA (None is not of type")
    assert not refused.states
