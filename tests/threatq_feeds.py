"""target-threatq and mapper-proofpoint-threatq in process, as their CLIs run them, and the
hand-built tap messages the tests of the Emails and Campaigns feeds feed them
(tests/test_threatq_feeds.py, tests/test_threatq_review.py, tests/test_external_samples.py)."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from tap_proofpoint_tap.mappers.threatq.mapper import ThreatQMapper
from tap_proofpoint_tap.sandboxes.threatq import Credentials, ThreatQSandbox
from tap_proofpoint_tap.targets.threatq.target import TargetThreatQ
from tests.threatq_truth import held

CREDENTIALS = Credentials()


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


def schema(stream: str) -> dict:
    return {"type": "SCHEMA", "stream": stream, "schema": {"properties": {}}, "key_properties": []}


def record(stream: str, **fields) -> dict:
    return {"type": "RECORD", "stream": stream, "record": fields}


def state(n: int) -> dict:
    return {"type": "STATE", "value": {"n": n}}


def click(n: int, **fields) -> dict:
    return record(
        "clicks_permitted",
        id=f"click-{n}",
        recipient=f"user{n}@corp.example",
        url=f"https://bad.example/{n}",
        sender="mallory@bad.example",
        clickTime="2026-03-04T10:00:00Z",
        **fields,
    )


def message(guid: str, **fields) -> dict:
    defaults = {
        "id": f"m-{guid}",
        "GUID": guid,
        "subject": f"Invoice {guid}",
        "messageTime": "2026-03-04T09:00:00Z",
        "recipient": ["user1@corp.example"],
        "sender": "mallory@bad.example",
    }
    return record("messages_delivered", **{**defaults, **fields})


CAMPAIGN = record(
    "campaigns",
    id="camp-9",
    name="Invoice wave",
    startDate="2026-03-01T00:00:00Z",
    actors=[{"id": "a", "name": "TA505"}],
    malware=[{"id": "m", "name": "Dridex"}],
    techniques=[{"id": "t", "name": "Attachment"}],
    brands=[],
    families=[{"id": "f", "name": "Banking"}],
    campaignMembers=[],
)
HEAD = [schema(s) for s in ("clicks_permitted", "messages_delivered", "campaigns")]


def link_keys(tq: ThreatQSandbox) -> set[frozenset]:
    return held(tq.store).links
