"""Runs of the tap's streams that follow the SIEM ones, in process as the CLI makes them, against
a day of the stand-in's traffic: what tests/test_intel_*.py share."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import Settings
from tap_proofpoint_tap.tap import TapProofpointTap
from tap_proofpoint_tap.windows import fmt

SIEM = ("clicks_permitted", "clicks_blocked", "messages_delivered", "messages_blocked")
DEFAULT = (*SIEM, "threats", "campaigns")
EVERY = (*DEFAULT, "forensics", "very_attacked_people", "top_clickers")
SMALL_POOLS = ("campaign_ids", "vap", "top_clickers", "forensics_threat")


@dataclass
class Synced:
    messages: list[dict]
    error: Exception | None = None
    logs: list[str] = field(default_factory=list)

    def records(self, stream: str) -> list[dict]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def state(self) -> dict:
        return [m["value"] for m in self.messages if m["type"] == "STATE"][-1]


def day_sandbox(**settings) -> Sandbox:
    return Sandbox(
        settings=Settings(seed=21, per_hour=tuple((s, 4) for s in SIEM), **settings),
        clock=Clock(),
        history=timedelta(hours=27),
    )


END = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
"""The end of the day every run of this module reads (fixed once: runs compared with each
other read the same hours, whenever a new hour starts)."""


def config(sandbox: Sandbox, **extra) -> dict:
    """A whole day of windows."""
    end = END
    return {
        "principal": "sandbox-principal",
        "secret": "sandbox-secret",
        "api_url": sandbox.url,
        "start_date": fmt(end - timedelta(hours=24)),
        "end_date": fmt(end),
        **extra,
    }


def sync(
    cfg: dict, state: dict | None = None, select: tuple[str, ...] | None = DEFAULT, caplog=None
) -> Synced:
    """One run as the CLI makes it; ``select`` None: the tap's default catalog."""
    catalog = None
    if select is not None:
        catalog = TapProofpointTap(config=cfg, validate_config=False).catalog_dict
        for entry in catalog["streams"]:
            for meta in entry["metadata"]:
                if meta["breadcrumb"] == []:
                    meta["metadata"]["selected"] = entry["tap_stream_id"] in select
    tap = TapProofpointTap(config=cfg, state=state, catalog=catalog)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    error = None
    with redirect_stdout(out):
        try:
            tap.sync_all()
        except Exception as failed:
            error = failed
        tap.message_writer.flush()
    out.flush()
    messages = [json.loads(line) for line in out.buffer.getvalue().splitlines()]
    logs = [r.getMessage() for r in caplog.records] if caplog is not None else []
    return Synced(messages, error, logs)


def mentioned(run: Synced) -> tuple[set[str], set[str]]:
    """The threat and campaign ids the run's SIEM records name."""
    threats, campaigns = set(), set()
    for stream in SIEM:
        for record in run.records(stream):
            infos = record.get("threatsInfoMap") or [
                {"threatID": record.get("threatID"), "campaignID": record.get("campaignId")}
            ]
            threats |= {i["threatID"] for i in infos if i.get("threatID")}
            campaigns |= {i["campaignID"] for i in infos if i.get("campaignID")}
    return threats, campaigns


def statuses_shown(run: Synced) -> dict[str, set[str]]:
    """The statuses the run's SIEM records show of each threat id they name (events carry a
    threat's status when they were created: a threat that changed shows both)."""
    shown: dict[str, set[str]] = {}
    for stream in SIEM:
        for record in run.records(stream):
            for info in record.get("threatsInfoMap") or [record]:
                if info.get("threatID"):
                    shown.setdefault(info["threatID"], set()).add(info.get("threatStatus"))
    return shown


def keys(run: Synced, stream: str) -> list[str]:
    """The stream's records by key (the people rankings: by user, snapshots differ)."""
    return sorted(r.get("id") or r["guid"] for r in run.records(stream))


def requests_to(sandbox: Sandbox, prefix: str) -> int:
    return len(sandbox.siem_requests(prefix))


def same_hours(state: dict) -> dict:
    """The state without the SIEM bookmarks: the next run reads the same hours again."""
    return {"bookmarks": {k: v for k, v in state["bookmarks"].items() if k not in SIEM}}


PATHS = {
    "/v2/threat/summary/": "threats",
    "/v2/campaign/": "campaigns",
    "/v2/forensics": "forensics",
    "/v2/people/vap": "very_attacked_people",
    "/v2/people/top-clickers": "top_clickers",
}
