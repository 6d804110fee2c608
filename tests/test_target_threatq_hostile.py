"""target-threatq against hostile and broken servers (issue 24), run as users run it: the
mapper's lines piped into the console script, the config pointing at servers on 127.0.0.1
(tests/hostile.py: a front that relays to the ThreatQ stand-in and misbehaves where told).

Where a test must see the retries run out, the target runs as ``python -c`` with its waits
between tries cut to 0.05 s (``QUICK``); the schedule itself is
tests/test_target_threatq.py::test_the_waits_between_tries_outlast_a_30_second_maintenance_stretch's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import Settings
from tap_proofpoint_tap.sandboxes.threatq import Credentials, ThreatQSandbox
from tests.helpers import MAPPER, catalog_selecting, click, hour_floor, run_tap, tap_config
from tests.hostile import Hostile, down, flood, redirect, trickle

TARGET = str(Path(sys.executable).parent / "target-threatq")
QUICK = (
    "import atexit, resource, sys\n"
    "from tap_proofpoint_tap.targets.threatq import api\n"
    "api.WAITS = (0.05,) * 6\n"
    "atexit.register(lambda: print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
    " file=sys.stderr))\n"
    "from tap_proofpoint_tap.targets.threatq.target import TargetThreatQ\n"
    "TargetThreatQ.cli()\n"
)
CREDENTIALS = Credentials()
SECRETS = (CREDENTIALS.password, CREDENTIALS.client_secret, "tqa-", "tqr-")


@dataclass
class Clicks:
    """Three clicks an hour apart: the tap's and the mapper's lines, a STATE after each hour."""

    lines: list[str]
    clicks: list[dict]


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> Clicks:
    tmp = tmp_path_factory.mktemp("three")
    with Sandbox(settings=Settings(per_hour=()), clock=Clock(), history=timedelta(days=1)) as sb:
        base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
        for n in range(3):
            event = {**click(n, base), "threatStatus": "active"}
            sb.store.add("clicks_permitted", event, created=base + timedelta(minutes=60 * n + 10))
        config = tap_config(sb, base, base + timedelta(hours=3))
        tap = run_tap(tmp, config, catalog=catalog_selecting(tmp, config, "clicks_permitted"))
    assert tap.returncode == 0, tap.stderr[-2000:]
    mapped = subprocess.run(
        [MAPPER],
        input="".join(json.dumps(m) + "\n" for m in tap.messages),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return Clicks(mapped.stdout.splitlines(keepends=True), tap.records("clicks_permitted"))


@dataclass
class Run:
    returncode: int
    states: list[dict]
    stderr: str
    seconds: float

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]


def config_for(url: str, **extra) -> dict:
    return {
        "api_url": url,
        "client_id": CREDENTIALS.client_id,
        "email": CREDENTIALS.email,
        "password": CREDENTIALS.password,
        **extra,
    }


def run_target(
    tmp_path,
    lines: list[str],
    config: dict | None,
    *,
    quick: bool = False,
    env: dict | None = None,
    config_file: Path | None = None,
    timeout: float = 60,
) -> Run:
    if config_file is None:
        config_file = tmp_path / "target.json"
        config_file.write_text(json.dumps(config))
    argv = [sys.executable, "-c", QUICK] if quick else [TARGET]
    started = time.monotonic()
    proc = subprocess.run(
        [*argv, "--config", str(config_file)],
        input="".join(lines),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr, "a secret or token leaked"
    states = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return Run(proc.returncode, states, proc.stderr, time.monotonic() - started)


def assert_one_line(run: Run, message: str) -> None:
    """Exit 1, one ERROR line that says ``message``, no traceback."""
    assert run.returncode == 1, run.stderr[-3000:]
    assert len(run.errors) == 1 and message in run.errors[0], run.stderr[-3000:]
    assert "Traceback" not in run.stderr


def incidents(tq: ThreatQSandbox) -> set[str]:
    return {
        row["value"].rsplit("[click ", 1)[1].rstrip("]")
        for row in tq.store.dump()["objects"]["incident"]
    }


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
    assert f"set api_url to {elsewhere.url} if that is your ThreatQ host" in run.errors[0]
    assert "refused the credentials" not in run.stderr
    assert run.states == []


# -- verify_ssl and ca_bundle win over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (item 5) --


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
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
def certificates(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(folder, "threatq")
    other, _ = self_signed(folder, "unrelated")
    return {"cert": cert, "key": key, "unrelated": other}


@pytest.mark.parametrize(
    ("setting", "variable"),
    [("verify_ssl", "REQUESTS_CA_BUNDLE"), ("ca_bundle", "CURL_CA_BUNDLE")],
)
def test_tls_settings_win_over_the_environment(tmp_path, three, certificates, setting, variable):
    import ssl

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


def test_a_trickling_answer_is_given_up_at_request_timeout_and_retried(tmp_path, three):
    """The first two token answers come a byte every 0.2 s (240 s for the body): each try
    ends at request_timeout (1 s), and the third is answered."""
    with ThreatQSandbox() as tq, Hostile(tq.url) as front:
        front.on(trickle(0.2), path="/api/token", times=2)
        run = run_target(
            tmp_path, three.lines, config_for(front.url, request_timeout=1), quick=True, timeout=30
        )
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stderr.count("POST /api/token failed (no answer within request_timeout)") == 2
        assert run.seconds < 15
        assert incidents(tq) == {c["id"] for c in three.clicks}


# -- bodies are bounded (item 4 of this program's list: issue 24's "bodies are bounded") --


def test_a_huge_answer_is_cut_at_the_cap_and_memory_stays_bounded(tmp_path, three):
    """A 256 MiB page where a JSON list should be: one line, and the target's peak memory
    stays within what a run takes (about 75 MiB) plus the cap (32 MiB), with room to spare."""
    with ThreatQSandbox() as tq, Hostile(tq.url) as front:
        front.on(flood(256 * 1024 * 1024), path="/api/objects")
        run = run_target(tmp_path, three.lines, config_for(front.url), quick=True, timeout=60)
    assert_one_line(run, "ThreatQ's answer to GET /api/objects cannot be read (more than 32 MiB)")
    kib = int(re.search(r"maxrss (\d+)", run.stderr)[1])
    assert kib < 160 * 1024, f"{kib} KiB resident for a 256 MiB answer"


# -- a broken --config file (item 5 of this program's list) --


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"api_url": ', "is not valid JSON"),
        (bytes(range(256)), "is not text (not UTF-8)"),
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
