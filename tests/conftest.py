"""Shared fixtures: a sandbox on 127.0.0.1 with a frozen clock, and helpers to run the tap."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tap_proofpoint_tap.sandbox import Clock, Sandbox
from tap_proofpoint_tap.sandbox.generator import Settings

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)
AUTH = ("sandbox-principal", "sandbox-secret")


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
        return [m["record"] for m in self.messages
                if m["type"] == "RECORD" and (stream is None or m["stream"] == stream)]

    def ids(self, stream: str | None = None) -> list[str]:
        return [r["id"] for r in self.records(stream)]

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    def bookmark(self, stream: str = "clicks_permitted") -> str | None:
        return self.states[-1]["bookmarks"].get(stream, {}).get("replication_key_value")


def run_tap(tmp_path, config: dict, state: dict | None = None, catalog: dict | None = None,
            args: tuple[str, ...] = (), timeout: float = 300) -> Run:
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
    messages = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return Run(proc.returncode, messages, proc.stderr)


def tap_config(sandbox, start, end, **extra) -> dict:
    from tap_proofpoint_tap.windows import fmt

    return {"principal": "sandbox-principal", "secret": "sandbox-secret", "api_url": sandbox.url,
            "start_date": fmt(start), "end_date": fmt(end), **extra}


def catalog_selecting(tmp_path, config: dict, *streams: str) -> dict:
    """The tap's discovered catalog with only ``streams`` selected."""
    cfg = tmp_path / "discover.json"
    cfg.write_text(json.dumps(config))
    catalog = json.loads(subprocess.run([TAP, "--config", str(cfg), "--discover"],
                                        capture_output=True, text=True, check=True).stdout)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


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
        attributes |= {(u, name, c[field]) for name, field in (
            ("Classification", "classification"), ("Threat Status", "threatStatus"),
            ("Threat ID", "threatID"), ("Threat URL", "threatURL"),
            ("Campaign ID", "campaignId")) if c.get(field)}
        if s:
            attributes |= {(s, name, c[field]) for name, field in (
                ("Sender IP", "senderIP"), ("Classification", "classification")) if c.get(field)}
    senders = {(c["sender"] or "").strip().lower() for c in clicks} - {""}
    return {
        "emails": {(c["recipient"] or "").strip().lower() for c in clicks} - {""},
        "indicators": {c["url"] for c in clicks} | senders,
        "attributes": attributes,
        "incidents": {c["id"] for c in clicks},
        "links": links,
    }
