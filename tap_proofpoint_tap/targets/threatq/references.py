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

What is not found is remembered as such for the run: the run itself may still create it. What
is found comes with what a later write naming it by id must repeat (an event's title, type and
time; a campaign's value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tap_proofpoint_tap.targets.threatq.api import ThreatQClient

CAMPAIGN_ID = "Campaign ID"
ADDRESS = ("value", "title", "type_id", "happened_at")
Found = tuple[int, dict[str, Any]]  # a ThreatQ id, and how a write names the object


def event_suffix(guid: str) -> str:
    return f"[message {guid}]"


class References:
    """Memoised look-ups, per run, of events by GUID and campaigns by Proofpoint id."""

    def __init__(self, client: ThreatQClient, collections: dict[str, str]) -> None:
        self.client = client
        self.collections = collections
        self.events: dict[str, Found | None] = {}
        self.campaigns: dict[str, Found] | None = None
        self.any_event: bool | None = None  # ThreatQ held an event of a message at start

    def find(self, kind: str, key: str) -> Found | None:
        """The ThreatQ id of the ``event`` with this GUID or the ``campaign`` with this id."""
        if kind == "event":
            return self.event(key)
        if self.campaigns is None:
            self.campaigns = self._campaigns()
        return self.campaigns.get(key)

    def event(self, guid: str) -> Found | None:
        if self.any_event is None:
            collection = self.collections["event"]
            newest = self.client.highest_id(collection, "read", title=f"%{event_suffix('%')}")
            self.any_event = newest > 0
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
            ours = [r for r in rows if r["title"].casefold().endswith(suffix.casefold())]
            first = min(ours, key=lambda r: r["id"], default=None)  # the oldest, if several
            self.events[guid] = None if first is None else _found(first)
        return self.events[guid]

    def _campaigns(self) -> dict[str, Found]:
        embed: dict[str, Any] = {"with": "attributes"}  # a keyword Python reserves
        rows = self.client.lookup(f"/api/{self.collections['campaign']}", kind="read", **embed)
        out: dict[str, Found] = {}
        for row in sorted(rows, key=lambda r: r["id"], reverse=True):  # the oldest wins
            for attribute in _attributes(row):
                if attribute.get("name") == CAMPAIGN_ID and attribute.get("value") is not None:
                    out[str(attribute["value"])] = _found(row)
        return out


def _found(row: dict[str, Any]) -> Found:
    return row["id"], {k: row[k] for k in ADDRESS if row.get(k) is not None}


def _attributes(row: dict[str, Any]) -> list[dict[str, Any]]:
    found = row.get("attributes")
    return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []
