"""ThreatQ's Emails and Campaigns feeds (issue 26), in process: a day of every stream the
mapper reads, through the mapper and target-threatq into the ThreatQ stand-in, against the
independent oracle (tests/threatq_truth.py); the local cache; the mapping's details.

The end-to-end tier (the console scripts and ``meltano run``, kill -9) is
tests/test_threatq_feeds_e2e.py.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from tap_proofpoint_tap.mappers.threatq import entities as e
from tap_proofpoint_tap.mappers.threatq import feeds
from tap_proofpoint_tap.mappers.threatq.mapper import ThreatQMapper
from tap_proofpoint_tap.sandboxes.threatq import Credentials, ThreatQSandbox
from tap_proofpoint_tap.targets.threatq import bodies
from tap_proofpoint_tap.targets.threatq.target import TargetThreatQ
from tests.intel_runs import config, day_sandbox, sync
from tests.threatq_truth import expected, held

pytestmark = pytest.mark.fast

FEEDS = (
    "clicks_permitted",
    "clicks_blocked",
    "messages_delivered",
    "messages_blocked",
    "threats",
    "campaigns",
    "forensics",
)
CREDENTIALS = Credentials()
OPTIONS = e.Options()


@dataclass
class Day:
    messages: list[dict]
    records: dict[str, list[dict]]

    @property
    def last_state(self) -> dict:
        return [m["value"] for m in self.messages if m["type"] == "STATE"][-1]


@pytest.fixture(scope="module")
def day() -> Day:
    """A day of the stand-in's traffic with threats, campaigns and forensic evidence."""
    with day_sandbox() as sb:
        run = sync(config(sb), select=FEEDS)
    assert run.error is None, run.error
    records = {stream: run.records(stream) for stream in FEEDS}
    assert all(records.values()), {s: len(r) for s, r in records.items()}
    return Day(run.messages, records)


def mapped(messages: list[dict], **settings) -> list[dict]:
    """The mapper's output for the tap's ``messages``, in process as the CLI runs it."""
    mapper = ThreatQMapper(config=settings)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        mapper.listen(io.StringIO("".join(json.dumps(m) + "\n" for m in messages)))
        mapper.message_writer.flush()
    out.flush()
    return [json.loads(line) for line in out.buffer.getvalue().splitlines()]


@dataclass
class Load:
    states: list[dict]
    summary: str

    @property
    def requests(self) -> int:
        return int(re.search(r"Requests: (\d+)", self.summary)[1])


def load(tq: ThreatQSandbox, lines: list[dict], **settings) -> Load:
    """target-threatq on the mapper's ``lines``, in process as the CLI runs it."""
    target = TargetThreatQ(
        config={
            "api_url": tq.url,
            "client_id": CREDENTIALS.client_id,
            "email": CREDENTIALS.email,
            "password": CREDENTIALS.password,
            **settings,
        }
    )
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        target.listen(io.StringIO("".join(json.dumps(m) + "\n" for m in lines)))
    states = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return Load(states, err.getvalue())


# -- what lands --


@pytest.mark.parametrize("duplicate_reposts", [False, True])
def test_a_day_of_every_feed_lands_exactly_and_reloads_change_nothing(
    day, tmp_path, duplicate_reposts
):
    """What the oracle computes from the records lands, each once; a re-read (the cache)
    costs nothing; without the cache it costs reads and still changes nothing."""
    want = expected(day.records)
    assert want.events and want.campaigns and want.adversaries and want.malware and want.ttps
    lines = mapped(day.messages)
    with ThreatQSandbox(duplicate_reposts=duplicate_reposts) as tq:
        first = load(tq, lines, cache_dir=str(tmp_path / "cache"))
        assert held(tq.store) == want, held(tq.store).diff(want, "held", "expected")
        counts = tq.store.counts()
        assert first.states and first.states[-1] == day.last_state
        again = load(tq, lines, cache_dir=str(tmp_path / "cache"))
        assert again.requests == 0, again.summary
        assert tq.store.counts() == counts
        cold = load(tq, lines, cache_dir=str(tmp_path / "other"))
        assert cold.requests > 0
        assert held(tq.store) == want, held(tq.store).diff(want, "held", "expected")
        assert tq.store.counts() == counts


@pytest.mark.parametrize(
    ("settings", "oracle"),
    [
        ({"email_event_type": "Incident"}, {"event_type": "Incident"}),
        ({"forensics_indicators": "all"}, {"forensics_indicators": "all"}),
        ({"forensics_indicators": "none"}, {"forensics_indicators": "none"}),
    ],
)
def test_the_mappers_settings_choose_what_lands(day, settings, oracle):
    want = expected(day.records, **oracle)
    with ThreatQSandbox() as tq:
        load(tq, mapped(day.messages, **settings), cache_hours=0)
        assert held(tq.store) == want, held(tq.store).diff(want, "held", "expected")
