"""The Threat, Campaign, Forensics and People APIs' data, derived from the pool the SIEM events
draw on, so every threat and campaign id an event carries resolves here.

Campaigns' times hang on ``epoch``, the day the sandbox's history starts: every campaign started
at least a week before it. A threat's identification time and status at a given time are its
timeline's (``timeline``), the same as in the events. A campaign is *active* in a window of
``/v2/campaign/ids`` when it was updated in it, up to now: on a weekday that is not quiet
(``QUIET_SHARE`` of them are), a started campaign is updated once with chance
``ACTIVE_SHARE``; never on Saturday or Sunday (OpenCTI saw those days answer 404); and
whenever a test touches it.
"""

from __future__ import annotations

import functools
import random
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.sandboxes.siem import evidence, people
from tap_proofpoint_tap.sandboxes.siem.generator import format_ms
from tap_proofpoint_tap.sandboxes.siem.intel_vocabulary import (
    ACTORS,
    BRANDS,
    DETECTION_TYPES,
    FAMILIES,
    GEOGRAPHIES,
    MALWARE,
    SUBTYPES,
    TECHNIQUES,
)
from tap_proofpoint_tap.sandboxes.siem.pool import (
    CAMPAIGNS,
    WIDER_CAMPAIGNS,
    campaign_id,
    pooled_threat,
)
from tap_proofpoint_tap.sandboxes.siem.timeline import status_at, threat_index, threat_time

if TYPE_CHECKING:
    from tap_proofpoint_tap.sandboxes.siem.generator import Settings
    from tap_proofpoint_tap.sandboxes.siem.pool import Statuses

ACTIVE_SHARE = 0.35
QUIET_SHARE = 0.1
_NOTABLE_CAMPAIGN_SHARE = 0.15
_NOTABLE_THREAT_SHARE = 0.05  # of threats outside campaigns
_VERTICAL_SHARE = 0.3  # threats targeted at verticals
_GEO_SHARE = 0.2  # threats targeted at geographies
SATURDAY = 5
LISTS = ("actors", "families", "malware", "techniques", "brands")
# The Threat API's three fields whose published names differ (Settings.threat_spelling).
SPELLINGS = {
    "docs": ("severityScore", "verticallyTargeted", "geoTargeted"),
    "xsoar": ("severity", "verticals", "geographies"),
}
_NAMES = uuid.UUID("5d1f3a52-7f0e-4c1b-9a57-3f2b8f0d6c11")  # namespace of actor, malware… ids


class Intel:
    """The seed's threats, campaigns, evidence and people, with the statuses and campaign
    updates tests change. Pure: nothing here logs or counts a request."""

    def __init__(self, settings: Settings, epoch: datetime, statuses: Statuses) -> None:
        self.settings = settings
        self.epoch = epoch.astimezone(timezone.utc).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self.statuses = statuses
        self._touched: dict[int, list[datetime]] = {}
        self._lock = threading.Lock()

    @functools.cached_property
    def threat_index(self) -> dict[str, int]:
        """Every threat id served → its pool index."""
        return threat_index(self.settings.seed)

    @functools.cached_property
    def campaign_index(self) -> dict[str, int]:
        """Every campaign id served → its index."""
        return {campaign_id(self.settings.seed, k): k for k in range(CAMPAIGNS + WIDER_CAMPAIGNS)}

    @functools.cached_property
    def members(self) -> dict[int, list[int]]:
        """Campaign index → its member threats' pool indexes."""
        out: dict[int, list[int]] = {k: [] for k in self.campaign_index.values()}
        for n in self.threat_index.values():
            k = pooled_threat(self.settings.seed, n)["campaign"]
            if k is not None:
                out[k].append(n)
        return out

    # -- Threat and Campaign APIs --

    def status(self, n: int, now: datetime) -> str:
        """Threat ``n``'s status at ``now``: a test's change, else its timeline's."""
        threat = pooled_threat(self.settings.seed, n)
        return self.statuses.of(threat, status_at(self.settings, n, now))

    def summary(self, threat_id: str, now: datetime) -> dict[str, Any] | None:
        """``/v2/threat/summary/{threat_id}``'s body at ``now``, or None (404)."""
        n = self.threat_index.get(threat_id)
        if n is None:
            return None
        threat = pooled_threat(self.settings.seed, n)
        facts = self._threat_facts(n)
        severity, verticals, geographies = SPELLINGS[self.settings.threat_spelling]
        return {
            "id": threat["threatID"],
            "identifiedAt": format_ms(threat_time(self.settings, n)),
            "name": threat["threat"],
            "type": threat["type"],
            "category": threat["classification"],
            "status": self.status(n, now),
            "detectionType": facts["detectionType"],
            severity: facts["severity"],
            "attackSpread": facts["attackSpread"],
            "notable": facts["notable"],
            verticals: facts["verticals"],
            geographies: facts["geographies"],
            **{key: _named(key, facts[key]) for key in LISTS},
        }

    def campaign(self, campaign_id: str, now: datetime) -> dict[str, Any] | None:
        """``/v2/campaign/{campaign_id}``'s body at ``now``, or None (404)."""
        k = self.campaign_index.get(campaign_id)
        if k is None:
            return None
        facts = self._campaign_facts(k)
        members = [self._member(n, now) for n in self.members[k]]
        return {
            "id": campaign_id,
            "name": facts["name"],
            "description": facts["description"],
            "startDate": format_ms(facts["start"]),
            "notable": facts["notable"],
            **{key: _named(key, facts[key]) for key in LISTS},
            "campaignMembers": sorted(members, key=lambda m: (m["threatTime"], m["id"])),
        }

    def campaign_ids(
        self, start: datetime, end: datetime, now: datetime
    ) -> list[dict[str, str]] | None:
        """The campaigns active in ``[start, end)`` up to ``now``, by their last update there
        (``/v2/campaign/ids`` before paging); None when there are none (a 404)."""
        rows = []
        for cid, k in self.campaign_index.items():
            times = [t for t in self._updates(k, start, end) if t <= now]
            if times:
                rows.append((max(times), cid))
        return [{"id": cid, "lastUpdatedAt": format_ms(t)} for t, cid in sorted(rows)] or None

    def touch(self, campaign_id: str, when: datetime) -> None:
        """Record an update of the campaign at ``when`` (discovery then lists it there)."""
        k = self.campaign_index.get(campaign_id)
        if k is None:
            raise KeyError(f"no campaign {campaign_id!r} in this sandbox")
        with self._lock:
            self._touched.setdefault(k, []).append(when.astimezone(timezone.utc))

    # -- Forensics and People APIs --

    def forensics(
        self,
        now: datetime,
        threat_id: str | None = None,
        campaign_id: str | None = None,
        include_campaign: bool = False,
    ) -> dict[str, Any] | None:
        """``/v2/forensics``'s body for one id, or None (404)."""
        seed, reports = self.settings.seed, []
        if threat_id is not None:
            n = self.threat_index.get(threat_id)
            if n is None:
                return None
            threat = pooled_threat(seed, n)
            report = evidence.threat_report(seed, threat, self.status(n, now))
            reports.append(report)
            if include_campaign and threat["campaignId"] is not None:
                campaign_id = threat["campaignId"]
        if campaign_id is not None:
            k = self.campaign_index.get(campaign_id)
            if k is None:
                return None
            members = [pooled_threat(seed, n) for n in self.members[k]]
            name = self._campaign_facts(k)["name"]
            reports.append(evidence.campaign_report(seed, campaign_id, name, members))
        return {"generated": format_ms(now), "reports": reports}

    def vap(self, window: int, now: datetime) -> dict[str, Any]:
        """``/v2/people/vap``'s body, every user on one page."""
        return people.vap(self.settings.seed, window, now)

    def top_clickers(self, window: int, now: datetime) -> dict[str, Any]:
        """``/v2/people/top-clickers``'s body, every user on one page."""
        return people.top_clickers(self.settings.seed, window, now)

    # -- the facts behind the answers --

    def _member(self, n: int, now: datetime) -> dict[str, Any]:
        threat = pooled_threat(self.settings.seed, n)
        return {
            "id": threat["threatID"],
            "threat": threat["threat"],
            "threatStatus": self.status(n, now),
            "type": threat["type"],
            "subType": SUBTYPES[threat["type"]],
            "threatTime": format_ms(threat_time(self.settings, n)),
        }

    def _updates(self, k: int, start: datetime, end: datetime) -> list[datetime]:
        """The campaign's updates in ``[start, end)``: its weekdays' and the tests' touches."""
        with self._lock:
            times = list(self._touched.get(k, ()))
        day = start.date()
        while datetime(day.year, day.month, day.day, tzinfo=timezone.utc) < end:
            scheduled = self._scheduled(k, day)
            if scheduled is not None:
                times.append(scheduled)
            day += timedelta(days=1)
        return [t for t in times if start <= t < end]

    def _scheduled(self, k: int, day: date) -> datetime | None:
        seed = self.settings.seed
        start: datetime = self._campaign_facts(k)["start"]
        if day.weekday() >= SATURDAY or day < start.date():
            return None
        if random.Random(f"{seed}|quiet|{day.isoformat()}").random() < QUIET_SHARE:
            return None
        rng = random.Random(f"{seed}|campaign|{k}|{day.isoformat()}")
        if rng.random() >= ACTIVE_SHARE:
            return None
        midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        at = midnight + timedelta(seconds=rng.randrange(6 * 3600, 20 * 3600))
        return max(at + timedelta(milliseconds=rng.randrange(1000)), start)

    def _campaign_facts(self, k: int) -> dict[str, Any]:
        return _campaign_facts(self.settings.seed, self.epoch, k)

    def _threat_facts(self, n: int) -> dict[str, Any]:
        return _threat_facts(self.settings.seed, self.epoch, n)


@functools.lru_cache(maxsize=256)
def _campaign_facts(seed: int, epoch: datetime, k: int) -> dict[str, Any]:
    """A campaign's fixed facts (shared: never mutate)."""
    rng = random.Random(f"{seed}|campaign|{k}|facts")
    start = epoch - timedelta(days=rng.randrange(7, 120), minutes=rng.randrange(24 * 60))
    malware = tuple(rng.sample(MALWARE, rng.choice((1, 1, 2))))
    brands = tuple(rng.sample(BRANDS, rng.choice((0, 1, 1))))
    geography = rng.choice(GEOGRAPHIES)
    carrier = rng.choice(("URLs", "Attachments", "URLs and Attachments"))
    theme = brands[0] if brands else "Invoice"
    return {
        "start": start,
        "name": f'{malware[0]} "{start:%y%m}_{rng.randrange(10000, 100000)}" | {geography} '
        f"Targeting | {carrier} | {start.day} {start:%B %Y}",
        "description": f"{theme} themed messages that contain {carrier.lower()} leading to "
        f"{' and '.join(malware)}.\n\nExample indicators are in the campaign's forensics.",
        "notable": rng.random() < _NOTABLE_CAMPAIGN_SHARE,
        "actors": tuple(rng.sample(ACTORS, rng.choice((0, 1, 1, 1, 2)))),
        "families": tuple(rng.sample(FAMILIES, rng.choice((1, 2)))),
        "malware": malware,
        "techniques": tuple(rng.sample(TECHNIQUES, rng.choice((1, 2, 3)))),
        "brands": brands,
    }


@functools.lru_cache(maxsize=1024)
def _threat_facts(seed: int, epoch: datetime, n: int) -> dict[str, Any]:
    """A threat's fixed facts beyond the pool's and its timeline's (shared: never mutate): a
    campaign's threat shares its campaign's lists."""
    threat = pooled_threat(seed, n)
    rng = random.Random(f"{seed}|threat|{n}|summary")
    facts: dict[str, Any] = {
        "detectionType": rng.choice(DETECTION_TYPES),
        "severity": rng.randrange(1001),
        "attackSpread": rng.randrange(1, 800),
        "verticals": rng.random() < _VERTICAL_SHARE,
        "geographies": rng.random() < _GEO_SHARE,
    }
    if threat["campaign"] is not None:
        campaign = _campaign_facts(seed, epoch, threat["campaign"])
        facts["notable"] = campaign["notable"]
        facts.update({key: campaign[key] for key in LISTS})
        return facts
    rng.randrange(60, 60 * 24 * 60)  # the former identification time's draw
    facts["notable"] = rng.random() < _NOTABLE_THREAT_SHARE
    facts["actors"] = ()
    facts["families"] = tuple(rng.sample(FAMILIES, rng.choice((0, 1))))
    facts["malware"] = tuple(rng.sample(MALWARE, rng.choice((0, 0, 1))))
    facts["techniques"] = tuple(rng.sample(TECHNIQUES, 1))
    facts["brands"] = tuple(rng.sample(BRANDS, rng.choice((0, 1))))
    return facts


def _named(kind: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """``{id, name}`` entries; an id depends on the name only, as one actor is one id in TAP."""
    return [{"id": str(uuid.uuid5(_NAMES, f"{kind}:{name}")), "name": name} for name in names]
