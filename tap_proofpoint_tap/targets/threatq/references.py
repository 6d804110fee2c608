"""Finding in ThreatQ the events and campaigns a run's rows name but do not carry.

A click names the event of its message by GUID, a message and a piece of evidence name their
campaign by Proofpoint's id; the message or the campaign was often loaded by an earlier run.
ThreatQ does not deduplicate events, so an event is also looked up here before it is created.

- An event's title ends with ``[message <GUID>]`` (the mapper makes it so): one
  ``GET /api/events?title=%[message <GUID>]`` per GUID and run (``%`` is ThreatQ's LIKE
  wildcard; the answer is filtered exactly), after one request per run that asks whether
  ThreatQ holds any such event at all (a load of clicks alone then costs no look-up per click).
- A campaign carries our ``Campaign ID`` attribute, and ThreatQ cannot filter on attributes:
  the campaigns are listed once per run with their attributes, at the first campaign asked
  for that the run has not loaded.

What is not found is remembered as such for the run: the run itself may still create it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tap_proofpoint_tap.targets.threatq.api import ThreatQClient

CAMPAIGN_ID = "Campaign ID"


def event_suffix(guid: str) -> str:
    return f"[message {guid}]"


class References:
    """Memoised look-ups, per run, of events by GUID and campaigns by Proofpoint id."""

    def __init__(self, client: ThreatQClient, collections: dict[str, str]) -> None:
        self.client = client
        self.collections = collections
        self.events: dict[str, int | None] = {}
        self.campaigns: dict[str, int] | None = None
        self.any_event: bool | None = None  # ThreatQ held an event of a message at start

    def find(self, kind: str, key: str) -> int | None:
        """The ThreatQ id of the ``event`` with this GUID or the ``campaign`` with this id."""
        if kind == "event":
            return self.event(key)
        if self.campaigns is None:
            self.campaigns = self._campaigns()
        return self.campaigns.get(key)

    def event(self, guid: str) -> int | None:
        if self.any_event is None:
            collection = self.collections["event"]
            found = self.client.highest_id(collection, "read", title=f"%{event_suffix('%')}")
            self.any_event = found > 0
        if not self.any_event:
            return None  # this run's own events are known without a look-up
        if guid not in self.events:
            suffix = event_suffix(guid)
            rows = self.client.lookup(
                f"/api/{self.collections['event']}",
                kind="read",
                fields={"id": int, "title": str},
                title=f"%{suffix}",
            )
            ids = [r["id"] for r in rows if r["title"].casefold().endswith(suffix.casefold())]
            self.events[guid] = min(ids) if ids else None
        return self.events[guid]

    def _campaigns(self) -> dict[str, int]:
        embed: dict[str, Any] = {"with": "attributes"}  # a keyword Python reserves
        rows = self.client.lookup(f"/api/{self.collections['campaign']}", kind="read", **embed)
        out: dict[str, int] = {}
        for row in sorted(rows, key=lambda r: r["id"], reverse=True):  # the oldest wins
            for attribute in _attributes(row):
                if attribute.get("name") == CAMPAIGN_ID and attribute.get("value") is not None:
                    out[str(attribute["value"])] = row["id"]
        return out


def _attributes(row: dict[str, Any]) -> list[dict[str, Any]]:
    found = row.get("attributes")
    return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []
