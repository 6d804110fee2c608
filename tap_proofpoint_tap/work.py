"""What the threat, campaign and forensics streams have still to do, kept in the state.

The SIEM streams mention threats and campaigns; the streams that fetch them run after them.
Every id the SIEM streams' windows mention goes into the state with the window's STATE (as
``pending``), so a run stopped between the two loses nothing: the next run fetches it. What
was fetched is remembered (``known``) for as long as it needs no fetching again.

Lists, not maps, hold what shrinks: a state merged key by key (as ``meltano state merge``
does) then cannot bring back work that was done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from tap_proofpoint_tap import windows

MAX_ID = 128
"""The longest id noted (threat ids have 64 characters, campaign ids 36): a longer one is not
Proofpoint's, and would only grow the state."""
URGENT_STREAMS = frozenset({"clicks_permitted", "messages_delivered"})
"""Their threats reached someone: their forensics are asked for first."""
CAMPAIGN_MEMORY = timedelta(days=8)
"""How long a fetched campaign's ``lastUpdatedAt`` is kept: discovery reads 7 days back."""
FORENSICS_MEMORY = timedelta(days=30)
"""How long a threat or campaign whose forensics were read is not asked for again."""
MAX_PENDING_FORENSICS = 5000
"""Threats that may wait for forensics (125 days of the default share): the state stays small."""


@dataclass
class Mention:
    """What the SIEM events of a window said of one threat."""

    status: str | None
    campaign: str | None
    urgent: bool


def mentions_of(stream: str, record: dict[str, Any], into: dict[str, Mention]) -> None:
    """Add the threats a SIEM record names (a click's ``threatID``, a message's
    ``threatsInfoMap[].threatID``) to ``into``, keyed by threat id."""
    urgent = stream in URGENT_STREAMS
    if "threatsInfoMap" in record:
        infos = record["threatsInfoMap"] or ()
        found = [(i.get("threatID"), i.get("threatStatus"), i.get("campaignID")) for i in infos]
    else:
        found = [(record.get("threatID"), record.get("threatStatus"), record.get("campaignId"))]
    for threat, status, named in found:
        if not isinstance(threat, str) or not threat or len(threat) > MAX_ID:
            continue
        campaign = named if isinstance(named, str) and 0 < len(named) <= MAX_ID else None
        seen = into.get(threat)
        into[threat] = Mention(
            status if isinstance(status, str) else None,
            campaign,
            urgent or (seen is not None and seen.urgent),
        )


@dataclass(frozen=True)
class Wanted:
    """Which of the streams that follow the SIEM ones are selected, and their settings."""

    threats: bool
    campaigns: bool
    forensics: bool
    refresh: timedelta
    """``threat_refresh_hours``: a threat or campaign mentioned later than that is fetched again."""
    threat_forensics: bool = True
    """Whether forensics may ask by threat (``forensics_threat_requests_per_day`` above 0)."""
    siem: bool = True
    """Whether a SIEM stream is selected: without one, no threat is ever named."""

    @property
    def any(self) -> bool:
        return self.threats or self.campaigns or self.forensics


class Work:
    """The bookmarks of ``threats``, ``campaigns`` and ``forensics``, read and changed."""

    def __init__(self, bookmarks: dict[str, Any], wanted: Wanted) -> None:
        self.bookmarks = bookmarks
        self.wanted = wanted
        self.dropped = 0
        """Threats not queued for forensics this time: the queue was full."""
        # id(list) → (the list, its items by key); the list is held, so its id stays its own
        self._indexes: dict[int, tuple[list[list[Any]], dict[str, list[Any]]]] = {}

    def _find(self, items: list[list[Any]], key: str) -> list[Any] | None:
        """The ``[key, …]`` item of ``items``, looked up in an index built once per list (a
        window may name thousands of threats, and the lists hold thousands)."""
        cached = self._indexes.get(id(items))
        if cached is None:
            cached = self._indexes[id(items)] = (items, {item[0]: item for item in items})
        return cached[1].get(key)

    def _append(self, items: list[list[Any]], item: list[Any]) -> None:
        items.append(item)
        cached = self._indexes.get(id(items))
        if cached is not None:
            cached[1][item[0]] = item

    def entry(self, stream: str) -> dict[str, Any]:
        entry = self.bookmarks.setdefault(stream, {})
        return entry  # type: ignore[no-any-return]

    # -- from the SIEM windows --

    def settle(self, mentioned: dict[str, Mention], now: datetime) -> None:
        """The window's mentions become pending work, where due."""
        wanted = self.wanted
        if wanted.threats:
            for threat, mention in mentioned.items():
                if self._threat_due(threat, mention.status, now):
                    self._pend_threat(threat, mention.status)
        for threat, mention in mentioned.items():
            if mention.campaign is None:
                if wanted.forensics and wanted.threat_forensics:
                    self._pend_forensics(threat, mention.urgent, now)
            elif wanted.campaigns:
                if self._campaign_due(mention.campaign, now):
                    self.pend_campaign(mention.campaign, None)
            elif wanted.forensics:  # no campaign fetched to ask with: ask for its forensics
                self._pend_campaign_forensics(mention.campaign, now)

    def _threat_due(self, threat: str, status: str | None, now: datetime) -> bool:
        known = self.entry("threats").get("known", {}).get(threat)
        if not _pair(known):
            return True
        stored, fetched = known
        changed = status is not None and status != stored
        return changed or _older(fetched, now - self.wanted.refresh)

    def _pend_threat(self, threat: str, status: str | None) -> None:
        pending = self.entry("threats").setdefault("pending", [])
        item = self._find(pending, threat)
        if item is not None:
            item[1] = status
        else:
            self._append(pending, [threat, status])

    def _campaign_due(self, campaign: str, now: datetime) -> bool:
        known = self.entry("campaigns").get("known", {}).get(campaign)
        return not _pair(known) or _older(known[0], now - self.wanted.refresh)

    def pend_campaign(self, campaign: str, updated: str | None) -> None:
        """To fetch; ``updated``: the ``lastUpdatedAt`` discovery listed, if it did."""
        pending = self.entry("campaigns").setdefault("pending", [])
        item = self._find(pending, campaign)
        if item is not None:
            item[1] = updated or item[1]
        else:
            self._append(pending, [campaign, updated])

    def _pend_forensics(self, threat: str, urgent: bool, now: datetime) -> None:
        entry = self.entry("forensics")
        if self._forensics_read(threat, now):
            return
        queue = entry.setdefault("threats", [])
        item = self._find(queue, threat)
        if item is not None:
            item[1] = int(urgent or bool(item[1]))
        elif len(queue) < MAX_PENDING_FORENSICS:
            self._append(queue, [threat, int(urgent)])
        else:  # full: a threat that reached someone takes the place of the oldest that did not
            self.dropped += 1
            oldest = next((n for n, waiting in enumerate(queue) if not waiting[1]), None)
            if urgent and oldest is not None:
                del queue[oldest]
                self._indexes.pop(id(queue), None)  # rebuilt at the next lookup
                self._append(queue, [threat, 1])

    def _forensics_read(self, ident: str, now: datetime) -> bool:
        done = self.entry("forensics").get("done", {}).get(ident)
        return isinstance(done, str) and not _older(done, now - FORENSICS_MEMORY)

    def _pend_campaign_forensics(self, campaign: str, now: datetime) -> None:
        if not self._forensics_read(campaign, now):
            queue = self.entry("forensics").setdefault("campaigns", [])
            if campaign not in queue:
                queue.append(campaign)

    # -- threats --

    def threats_pending(self) -> list[tuple[str, str | None]]:
        return [(item[0], item[1]) for item in self.entry("threats").get("pending", [])]

    def threat_done(self, threat: str, status: str | None, now: datetime) -> None:
        """Fetched (or unknown to Proofpoint): not pending, and not due again for a while."""
        entry = self.entry("threats")
        entry["pending"] = [item for item in entry.get("pending", []) if item[0] != threat]
        entry.setdefault("known", {})[threat] = [status, windows.fmt(now)]

    def campaign_of_threat(self, campaign: str | None, now: datetime) -> None:
        """A threat summary named its campaign: fetch it too, if due."""
        if _usable(campaign) and self.wanted.campaigns and self._campaign_due(campaign, now):
            self.pend_campaign(campaign, None)

    # -- campaigns --

    def campaigns_pending(self) -> list[tuple[str, str | None]]:
        return [(item[0], item[1]) for item in self.entry("campaigns").get("pending", [])]

    def discovered(self, campaign: Any, updated: str | None) -> bool:
        """Discovery listed it: fetch it when new, or updated since it was fetched. False for
        a row whose id is no id (not text, empty, longer than :data:`MAX_ID`)."""
        if not _usable(campaign):
            return False
        known = self.entry("campaigns").get("known", {}).get(campaign)
        stored = known[1] if _pair(known) else None
        if not _pair(known) or (updated is not None and (stored is None or updated > stored)):
            self.pend_campaign(campaign, updated)
        return True

    def campaign_done(self, campaign: str, updated: str | None, now: datetime) -> None:
        """Fetched: not pending, remembered with its ``lastUpdatedAt``; its forensics are due
        when not read for 30 days, or when discovery shows the campaign updated since."""
        entry = self.entry("campaigns")
        entry["pending"] = [item for item in entry.get("pending", []) if item[0] != campaign]
        before = self.known_update(campaign)
        entry.setdefault("known", {})[campaign] = [windows.fmt(now), updated or before]
        changed = updated is not None and before is not None and updated > before
        if self.wanted.forensics and (changed or not self._forensics_read(campaign, now)):
            queue = self.entry("forensics").setdefault("campaigns", [])
            if campaign not in queue:
                queue.append(campaign)

    def known_update(self, campaign: str) -> str | None:
        """The ``lastUpdatedAt`` discovery last listed for ``campaign`` (None: never)."""
        known = self.entry("campaigns").get("known", {}).get(campaign)
        return known[1] if _pair(known) and isinstance(known[1], str) else None

    # -- forensics --

    def forensics_campaigns(self) -> list[str]:
        return list(self.entry("forensics").get("campaigns", []))

    def forensics_threats(self) -> list[str]:
        """Threats waiting for forensics: those that reached someone first, then in order."""
        queue = self.entry("forensics").get("threats", [])
        return [item[0] for item in sorted(queue, key=lambda item: -int(bool(item[1])))]

    def forensics_done(self, scope: str, ident: str, now: datetime) -> None:
        entry = self.entry("forensics")
        if scope == "campaign":
            entry["campaigns"] = [item for item in entry.get("campaigns", []) if item != ident]
        else:
            entry["threats"] = [item for item in entry.get("threats", []) if item[0] != ident]
        entry.setdefault("done", {})[ident] = windows.fmt(now)

    # -- upkeep --

    def forget(self, now: datetime) -> None:
        """Drop what needs no remembering any more: the state stays small."""
        refresh = now - self.wanted.refresh
        _prune(self.entry("threats").get("known"), lambda v: _pair(v) and not _older(v[1], refresh))
        memory = now - max(CAMPAIGN_MEMORY, self.wanted.refresh)
        _prune(
            self.entry("campaigns").get("known"), lambda v: _pair(v) and not _older(v[0], memory)
        )
        since = now - FORENSICS_MEMORY
        _prune(
            self.entry("forensics").get("done"),
            lambda v: isinstance(v, str) and not _older(v, since),
        )


def _usable(ident: Any) -> TypeGuard[str]:
    """Whether ``ident`` can be an id of Proofpoint's (ids only grow the state otherwise)."""
    return isinstance(ident, str) and 0 < len(ident) <= MAX_ID


def _pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2  # noqa: PLR2004 - [a, b]


def _older(text: Any, than: datetime) -> bool:
    """Whether the time ``text`` is before ``than`` (a value that is not a time is old)."""
    try:
        return windows.parse(str(text)) < than
    except ValueError:
        return True


def _prune(known: Any, keep: Any) -> None:
    if isinstance(known, dict):
        for key in [key for key, value in known.items() if not keep(value)]:
            del known[key]
