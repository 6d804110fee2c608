"""Shared fixtures: a sandbox on 127.0.0.1 with a frozen clock, and helpers to run the tap."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings
from tap_proofpoint_tap.sandboxes.siem.rules import DEFAULT_THREAT_STATUSES, Window
from tap_proofpoint_tap.windows import fmt

# `make test` tries the same examples on every run (derandomised, no example database), so a
# red suite means a change broke something; `make fuzz` (tests/fuzz.py) explores new ones.
hypothesis_settings.register_profile(
    "repeatable", derandomize=True, database=None, max_examples=400, print_blob=True
)
hypothesis_settings.register_profile("explore", max_examples=5000, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)
AUTH = ("sandbox-principal", "sandbox-secret")
SANDBOX_CREDENTIALS = {"principal": AUTH[0], "secret": AUTH[1]}


@pytest.fixture
def clock() -> Clock:
    return Clock(fixed=NOW)


@pytest.fixture
def quiet_sandbox(clock):
    """A sandbox with no generated events: tests add exactly the events they need."""
    settings = Settings(per_hour=())
    with Sandbox(settings=settings, clock=clock) as sandbox:
        yield sandbox


# -- running the tap as users do: the console script, as a subprocess --

TAP = str(Path(sys.executable).parent / "tap-proofpoint-tap")


@dataclass
class Run:
    """What one tap process printed."""

    returncode: int
    messages: list[dict]
    stderr: str

    def records(self, stream: str | None = None) -> list[dict]:
        return [
            m["record"]
            for m in self.messages
            if m["type"] == "RECORD" and (stream is None or m["stream"] == stream)
        ]

    def ids(self, stream: str | None = None) -> list[str]:
        return [r["id"] for r in self.records(stream)]

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    def bookmark(self, stream: str = "clicks_permitted") -> str | None:
        return self.states[-1]["bookmarks"].get(stream, {}).get("replication_key_value")


def run_tap(
    tmp_path,
    config: dict,
    state: dict | None = None,
    catalog: dict | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 300,
) -> Run:
    """Run ``tap-proofpoint-tap`` with files for config, state and catalog; parse its stdout."""
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(config))
    argv = [TAP, "--config", str(cfg), *args]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        argv += ["--state", str(tmp_path / "state.json")]
    if catalog is not None:
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        argv += ["--catalog", str(tmp_path / "catalog.json")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert_no_secret(config, proc.stdout, proc.stderr)
    # Singer lines end at "\n" only: str.splitlines() would also cut at U+0085 or U+2028, which
    # JSON encoders leave unescaped inside strings.
    messages = [json.loads(line) for line in proc.stdout.split("\n") if line.startswith("{")]
    return Run(proc.returncode, messages, proc.stderr)


def assert_no_secret(config: dict, *outputs: str) -> None:
    """Neither the secret nor the Basic auth header built from it appears in any output."""
    secret = str(config.get("secret") or "")
    if len(secret.strip()) < 6:  # a blank or tiny test value would match anything
        return
    token = base64.b64encode(f"{config.get('principal', '')}:{secret}".encode()).decode()
    for output in outputs:
        assert secret not in output, "the secret leaked into the output"
        assert token not in output, "the Basic auth header leaked into the output"


def tap_config(sandbox, start, end, **extra) -> dict:
    return {
        **SANDBOX_CREDENTIALS,
        "api_url": sandbox.url,
        "start_date": fmt(start),
        "end_date": fmt(end),
        **extra,
    }


def catalog_selecting(tmp_path, config: dict, *streams: str) -> dict:
    """The tap's discovered catalog with only ``streams`` selected."""
    cfg = tmp_path / "discover.json"
    cfg.write_text(json.dumps(config))
    catalog = json.loads(
        subprocess.run(
            [TAP, "--config", str(cfg), "--discover"], capture_output=True, text=True, check=True
        ).stdout
    )
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def deselect(catalog: dict, stream: str, prop: str) -> dict:
    """``catalog`` with property ``prop`` of ``stream`` deselected."""
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == stream)
    for meta in entry["metadata"]:
        if meta["breadcrumb"] == ["properties", prop]:
            meta["metadata"]["selected"] = False
    return catalog


def consume(messages: list[dict], seen: dict[str, set[str]], state: dict | None) -> dict | None:
    """What a target keeps of a (killed) run: each stream's ids into ``seen``; the last STATE."""
    for message in messages:
        if message["type"] == "RECORD":
            seen[message["stream"]].add(message["record"]["id"])
        elif message["type"] == "STATE":
            state = message["value"]
    return state


def finish(tmp_path, config: dict, state: dict | None, seen: dict[str, set[str]]) -> Run:
    """Run the tap to the end from ``state`` and add what it emitted to ``seen``."""
    final = run_tap(tmp_path, config, state=state)
    assert final.returncode == 0, final.stderr
    for stream in seen:
        seen[stream] |= set(final.ids(stream))
    return final


def click(n: int, created: datetime, *, click_time: datetime | None = None) -> dict:
    """A permitted click ``click-<n>`` whose threat was recognised at ``created``."""
    stamp = created.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "id": f"click-{n}",
        "GUID": f"guid-{n}",
        "url": f"https://bad.example/{n}",
        "classification": "phish",
        "clickTime": (click_time or created).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "threatTime": stamp,
        "threatStatus": "active",
        "threatID": f"t{n}",
        "threatURL": "https://threatinsight.example/t",
        "clickIP": "1.2.3.4",
        "userAgent": "ua",
        "sender": "s@bad.example",
        "recipient": f"user{n}@acme.example",
        "senderIP": "5.6.7.8",
        "messageID": f"<m{n}>",
    }


def traffic_sandbox(seed: int, per_hour: int, history: timedelta) -> Sandbox:
    """A sandbox on the real clock with seeded traffic on every stream, all indexed at once."""
    settings = Settings(seed=seed, per_hour=tuple((s, per_hour) for s in STREAMS), late_fraction=0)
    return Sandbox(settings=settings, clock=Clock(), history=history)


@pytest.fixture
def busy_live():
    """A real-time sandbox with about 60 events per stream and hour over the last 8 hours."""
    with traffic_sandbox(11, 60, timedelta(hours=8)) as sandbox:
        yield sandbox


@pytest.fixture
def live_sandbox():
    """A sandbox on a real-time clock (the tap plans windows from the real now); no events."""
    with Sandbox(settings=Settings(per_hour=()), clock=Clock(), history=timedelta(days=8)) as sb:
        yield sb


def hour_floor(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def expected_entities(clicks: list[dict]) -> dict[str, set]:
    """The ThreatQ entities of ``clicks`` by natural key, counted straight from the clicks.

    An independent reading of the mapping in the README, to check the mapper and the tables
    a pipeline loads against.
    """
    links, attributes = set(), set()
    for c in clicks:
        i, u = c["id"], c["url"]
        r, s = (c["recipient"] or "").strip().lower(), (c["sender"] or "").strip().lower()
        links |= {(i, r), (i, u), (r, u)} | ({(i, s), (u, s)} if s else set())
        attributes |= {
            (u, name, c[field])
            for name, field in (
                ("Classification", "classification"),
                ("Threat Status", "threatStatus"),
                ("Threat ID", "threatID"),
                ("Threat URL", "threatURL"),
                ("Campaign ID", "campaignId"),
            )
            if c.get(field)
        }
        if s:
            attributes |= {
                (s, name, c[field])
                for name, field in (("Sender IP", "senderIP"), ("Classification", "classification"))
                if c.get(field)
            }
    senders = {(c["sender"] or "").strip().lower() for c in clicks} - {""}
    return {
        "emails": {(c["recipient"] or "").strip().lower() for c in clicks} - {""},
        "indicators": {c["url"] for c in clicks} | senders,
        "attributes": attributes,
        "incidents": {c["id"] for c in clicks},
        "links": links,
    }


# -- the Meltano project as users run it --

ROOT = Path(__file__).resolve().parents[1]
MELTANO = str(Path(sys.executable).parent / "meltano")


@pytest.fixture(scope="session")
def meltano_installed() -> None:
    """``meltano install`` once: the plugins' virtual environments under .meltano/."""
    proc = subprocess.run(
        [MELTANO, "install"], cwd=ROOT, capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def meltano_env(tmp_path: Path, sandbox, start: datetime, end: datetime, **extra: str) -> dict:
    """Environment for a ``meltano run`` of this project with its own state and DuckDB file."""
    return {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        "TAP_PROOFPOINT_TAP_API_URL": sandbox.url,
        "TAP_PROOFPOINT_TAP_START_DATE": fmt(start),
        "TAP_PROOFPOINT_TAP_END_DATE": fmt(end),
        "TARGET_DUCKDB_PROOFPOINT_FILEPATH": str(tmp_path / "warehouse.duckdb"),
        **extra,
    }


def kill_meltano_at(argv: list[str], env: dict, log: Path, requests: list, count: int) -> None:
    """Run ``meltano run`` and SIGKILL its whole process group once the stand-in whose request
    log is ``requests`` has seen ``count`` requests."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
        while len(requests) < count and proc.poll() is None:
            time.sleep(0.002)
        assert proc.poll() is None, "meltano finished before the kill point"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def postgres():
    """A fresh schema on the PostgreSQL server of TEST_POSTGRES_URL (.ci/run starts one)."""
    try:
        con = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(
            f"no PostgreSQL server at {POSTGRES_URL} ({str(error).strip()[:80]}); "
            "set TEST_POSTGRES_URL or run .ci/run, which starts one"
        )
    schema = f"proofpoint_test_{uuid.uuid4().hex[:8]}"
    yield con, schema
    con.execute(f"drop schema if exists {schema} cascade")
    con.execute(f"drop schema if exists {schema}_analytics cascade")
    con.close()


def postgres_env(schema: str) -> dict[str, str]:
    """target-postgres and dbt-postgres settings for ``schema`` on the TEST_POSTGRES_URL server."""
    info = psycopg.conninfo.conninfo_to_dict(POSTGRES_URL)
    server = {
        "HOST": info.get("host", "127.0.0.1"),
        "PORT": str(info.get("port", 5432)),
        "USER": info.get("user", "postgres"),
        "PASSWORD": info.get("password", ""),
    }
    return {
        **{f"TARGET_POSTGRES_{k}": v for k, v in server.items()},
        "TARGET_POSTGRES_DATABASE": info.get("dbname", "postgres"),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        **{f"DBT_POSTGRES_{k}": v for k, v in server.items()},
        "DBT_POSTGRES_DBNAME": info.get("dbname", "postgres"),
        "DBT_POSTGRES_SCHEMA": f"{schema}_analytics",
        "DBT_SOURCE_SCHEMA": schema,
    }


@dataclass
class Warehouse:
    """A DuckDB file the pipeline loaded and dbt built, with the sandbox's ground truth."""

    path: Path
    report: Path
    truth: dict[str, list[dict]]
    runs: list[subprocess.CompletedProcess]


def pipeline_truth(sandbox: Sandbox, start: datetime, end: datetime) -> dict[str, list[dict]]:
    """Every event the sandbox serves for ``[start, end)``, per stream (the ground truth a
    pipeline's tables are checked against)."""
    return {
        stream: [
            s.event
            for s in sandbox.store.select(stream, Window(start, end), None, DEFAULT_THREAT_STATUSES)
        ]
        for stream in STREAMS
    }


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory, meltano_installed) -> Warehouse:
    """Five hours of traffic loaded append-only in two runs, the second re-reading the first's
    last 30 minutes (the tap's look-back), then dbt and the report, as a user runs them:
    ``meltano run tap-proofpoint-tap threatq target-duckdb-proofpoint dbt-duckdb:build report:render``.
    """
    tmp = tmp_path_factory.mktemp("warehouse")
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=6)
    with traffic_sandbox(17, 60, timedelta(hours=8)) as sandbox:
        extra = {
            "TARGET_DUCKDB_PROOFPOINT_LOAD_METHOD": "append-only",
            "DBT_DUCKDB_PATH": str(tmp / "warehouse.duckdb"),
            "PROOFPOINT_REPORT_DATABASE": str(tmp / "warehouse.duckdb"),
            "PROOFPOINT_REPORT_OUTPUT": str(tmp / "report"),
        }
        runs = []
        for end, chain in (
            (base + timedelta(hours=4), ()),
            (base + timedelta(hours=5), ("dbt-duckdb:build", "report:render")),
        ):
            proc = subprocess.run(
                [
                    MELTANO,
                    "run",
                    "tap-proofpoint-tap",
                    "threatq",
                    "target-duckdb-proofpoint",
                    *chain,
                ],
                cwd=ROOT,
                env=meltano_env(tmp, sandbox, base, end, **extra),
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert proc.returncode == 0, proc.stderr[-5000:]
            runs.append(proc)
        truth = pipeline_truth(sandbox, base, base + timedelta(hours=5))
    return Warehouse(tmp / "warehouse.duckdb", tmp / "report", truth, runs)
