"""Running target-threatq as users do against servers on 127.0.0.1 (tests/hostile.py), for
the hostile-server tests (tests/test_target_threatq_hostile.py, tests/test_fuzz_threatq.py):
three clicks' worth of the mapper's lines, the target's run and its one error line.

Where a test must see the retries run out, the target runs as ``python -c`` with its waits
between tries cut to 0.05 s (``QUICK``; it also prints its peak memory at exit). The schedule
itself is checked by
tests/test_target_threatq.py::test_the_waits_between_tries_outlast_a_30_second_maintenance_stretch.
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

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import Settings
from tap_proofpoint_tap.sandboxes.threatq import Credentials, ThreatQSandbox
from tests.helpers import (
    MELTANO,
    catalog_selecting,
    click,
    hour_floor,
    mapper_lines,
    meltano_env,
    run_tap,
    tap_config,
)

TARGET = str(Path(sys.executable).parent / "target-threatq")
# Peak memory is the process's own high-water mark (VmHWM): getrusage's ru_maxrss would also
# count the RSS of the pytest worker that forked it (Linux keeps it across exec), 300 MB in
# the whole suite.
QUICK = (
    "import atexit, re, sys\n"
    "from pathlib import Path\n"
    "from tap_proofpoint_tap.targets.threatq import api\n"
    "api.WAITS = (0.05,) * 6\n"
    "atexit.register(lambda: print('maxrss', re.search(r'VmHWM:\\s+(\\d+)',"
    " Path('/proc/self/status').read_text())[1], file=sys.stderr))\n"
    "from tap_proofpoint_tap.targets.threatq.target import TargetThreatQ\n"
    "TargetThreatQ.cli()\n"
)
CREDENTIALS = Credentials()
OURS = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \| |\|[ -]|ThreatQ load summary|Requests: |maxrss "
    r"|Relationships not made: |Known \(cache\): "
)
SECRETS = (CREDENTIALS.password, CREDENTIALS.client_secret, "tqa-", "tqr-")


@dataclass
class Clicks:
    """Three clicks an hour apart: the tap's and the mapper's lines, a STATE after each hour."""

    lines: list[str]
    clicks: list[dict]


def three_clicks(tmp_path_factory) -> Clicks:
    """The tap's output for three clicks an hour apart, through the mapper."""
    tmp = tmp_path_factory.mktemp("three")
    with Sandbox(settings=Settings(per_hour=()), clock=Clock(), history=timedelta(days=1)) as sb:
        base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
        for n in range(3):
            # Clicks on their own: a link to a message's event or a campaign this input never
            # carries would hold every STATE to its end (tests/test_threatq_feeds.py).
            event = {**click(n, base), "threatStatus": "active", "GUID": None, "campaignId": None}
            sb.store.add("clicks_permitted", event, created=base + timedelta(minutes=60 * n + 10))
        config = tap_config(sb, base, base + timedelta(hours=3))
        tap = run_tap(tmp, config, catalog=catalog_selecting(tmp, config, "clicks_permitted"))
    assert tap.returncode == 0, tap.stderr[-2000:]
    return Clicks(mapper_lines(tap.messages), tap.records("clicks_permitted"))


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
    """Exit 1, one ERROR line that says ``message``, no traceback, no line that is neither a
    log line nor the load summary (a message that runs over lines)."""
    assert run.returncode == 1, run.stderr[-3000:]
    assert len(run.errors) == 1 and message in run.errors[0], run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    stray = [line for line in run.stderr.splitlines() if not OURS.match(line)]
    assert stray == [], stray


def incidents(tq: ThreatQSandbox) -> set[str]:
    return {
        row["value"].rsplit("[click ", 1)[1].rstrip("]")
        for row in tq.store.dump()["objects"]["incident"]
    }


def meltano_threatq(
    tmp_path, siem, tq, start, end, *args: str, select=("clicks_permitted",), **env: str
):
    """``meltano run [args] tap-proofpoint-tap threatq target-threatq`` from the sandbox
    ``siem`` into the stand-in ``tq`` over ``[start, end)``, the tap selecting ``select``:
    its argv and environment."""
    environment = meltano_env(
        tmp_path,
        siem,
        start,
        end,
        TARGET_THREATQ_API_URL=tq.url,
        TAP_PROOFPOINT_TAP__SELECT=json.dumps([f"{s}.*" for s in select]),
        **env,
    )
    argv = [MELTANO, "run", *args, "tap-proofpoint-tap", "threatq", "target-threatq"]
    return argv, environment
