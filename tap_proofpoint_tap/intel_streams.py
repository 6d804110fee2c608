"""The streams of TAP's Threat, Campaign and Forensics APIs (the People API's are in
:mod:`people_streams`), and the five in the order they sync."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from typing_extensions import override

from tap_proofpoint_tap import intel_records, windows
from tap_proofpoint_tap import work as work_module
from tap_proofpoint_tap.errors import UnavailableError
from tap_proofpoint_tap.intel_api import IntelRefused, IntelUnreadable, PoolStopped
from tap_proofpoint_tap.intel_client import (
    IntelStream,
    Record,
    optional_time,
    schema_of,
)
from tap_proofpoint_tap.people_streams import TopClickersStream, VeryAttackedPeopleStream
from tap_proofpoint_tap.wording import counted

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_proofpoint_tap.intel_api import IntelApi
    from tap_proofpoint_tap.work import Work

DAY = timedelta(days=1)
DISCOVERY_DAYS = 7
IDS_PAGE = 200  # the most /v2/campaign/ids gives per page
MAX_PAGES = 10_000  # a server that never ends a list: the pool's share ends it first


class ThreatsStream(IntelStream):
    """Proofpoint's summary of each threat the SIEM events mention (no quota)."""

    name = "threats"
    primary_keys = ("id",)
    schema = schema_of("threat")

    @override
    def produce(self) -> Iterator[Record]:
        work, api = self.work(), self.api()
        work.forget(self.now())
        statuses = dict(work.threats_pending())
        unknown: list[str] = []
        fetched: list[str] = []

        def one(threat: str) -> Iterator[Record]:
            path = f"/v2/threat/summary/{quote(threat, safe='')}"
            answer = self.ask(api, path, {}, "threat_summary")
            if answer is None:
                unknown.append(threat)
            else:
                problems: list[str] = []
                record = intel_records.threat(answer, self.fetched_at(), problems)
                record["id"] = record["id"] or threat
                self.repaired(record["id"], problems)
                yield record
                fetched.append(threat)
                work.campaign_of_threat(_campaign_id(answer), self.now())
            work.threat_done(threat, statuses[threat], self.now())

        def give_up(threat: str) -> None:
            work.threat_done(threat, statuses[threat], self.now())

        yield from self.fetch_each(work.entry(self.name), list(statuses), one, give_up)
        self.unknown(unknown, "threat")
        self.logger.info(
            "%s: %s fetched",
            self.name,
            counted(len(fetched), "threat summary", "threat summaries"),
        )

    @override
    def waiting(self) -> str:
        return counted(len(self.work().threats_pending()), "threat")


class CampaignsStream(IntelStream):
    """Each campaign the events or threats name, and with ``discover_campaigns`` the ones
    Proofpoint lists as active (``/v2/campaign/ids``, 50 a day)."""

    name = "campaigns"
    primary_keys = ("id",)
    schema = schema_of("campaign")
    pools = ("campaign_ids",)

    @override
    def needs_siem(self) -> bool:
        return not self.config.get("discover_campaigns", False)

    @override
    def produce(self) -> Iterator[Record]:
        work, api = self.work(), self.api()
        work.forget(self.now())
        stopped: Exception | None = None
        if self.config.get("discover_campaigns", False):
            try:
                self._discover(work, api)
            except PoolStopped as stop:  # the campaigns already listed are fetched all the same
                stopped = stop
            except (UnavailableError, IntelUnreadable) as error:  # so are they here
                self.logger.warning("%s Discovery stops this run.", error)
                stopped = error
        updates = {c: u or work.known_update(c) for c, u in work.campaigns_pending()}
        unknown: list[str] = []
        fetched: list[str] = []

        def one(campaign: str) -> Iterator[Record]:
            answer = self.ask(api, f"/v2/campaign/{quote(campaign, safe='')}", {}, "campaign")
            if answer is None:
                unknown.append(campaign)
            else:
                problems: list[str] = []
                record = intel_records.campaign(
                    answer, self.fetched_at(), updates[campaign], problems
                )
                record["id"] = record["id"] or campaign
                self.repaired(record["id"], problems)
                yield record
                fetched.append(campaign)
            work.campaign_done(campaign, updates[campaign], self.now())

        def give_up(campaign: str) -> None:
            work.campaign_done(campaign, updates[campaign], self.now())

        yield from self.fetch_each(work.entry(self.name), list(updates), one, give_up)
        self.unknown(unknown, "campaign")
        self.logger.info("%s: %s fetched", self.name, counted(len(fetched), "campaign"))
        if stopped is not None:
            raise stopped

    def _discover(self, work: Work, api: IntelApi) -> None:
        """One ``/v2/campaign/ids`` day at a time (all its pages), each whole UTC day not yet
        discovered, at most 7 back; a 404 is a day without campaigns, a 400 a day Proofpoint
        will not list (said, and not asked again)."""
        entry = work.entry("campaigns")
        today = self.now().replace(hour=0, minute=0, second=0, microsecond=0)
        day = today - DISCOVERY_DAYS * DAY
        through = optional_time(entry.get("discoveredThrough"))
        if through is not None and through > day:
            day = through
        while day + DAY <= today:
            try:
                listed, unusable = self._list_day(work, api, day)
            except IntelRefused as error:
                self.logger.warning("%s That day is not asked again.", error)
            else:
                self.logger.info(
                    "%s: %s listed active on %s%s",
                    self.name,
                    counted(listed, "campaign"),
                    windows.fmt(day)[:10],
                    f" ({counted(unusable, 'row')} without a usable id left out)"
                    if unusable
                    else "",
                )
            day += DAY
            entry["discoveredThrough"] = windows.fmt(day)
            self.save()

    def _list_day(self, work: Work, api: IntelApi, day: datetime) -> tuple[int, int]:
        """Every page of one day; returns the campaigns listed and the rows left out."""
        listed = unusable = 0
        interval = f"{windows.fmt(day)}/{windows.fmt(day + DAY)}"
        for page in range(1, MAX_PAGES):
            answer = api.get(
                "/v2/campaign/ids",
                {"interval": interval, "size": IDS_PAGE, "page": page},
                "campaign_ids",
            )
            rows = [] if answer is None else answer.get("campaigns") or []
            if not isinstance(rows, list):
                rows = []
            for row in rows:
                ident = row.get("id") if isinstance(row, dict) else None
                updated = row.get("lastUpdatedAt") if isinstance(row, dict) else None
                if work.discovered(ident, updated if isinstance(updated, str) else None):
                    listed += 1
                else:
                    unusable += 1
            if len(rows) < IDS_PAGE:
                break
        return listed, unusable

    @override
    def waiting(self) -> str:
        return counted(len(self.work().campaigns_pending()), "campaign")


class ForensicsStream(IntelStream):
    """The forensic evidence of each campaign fetched (1,800 a day), and of threats in no
    campaign (50 a day, at most ``forensics_threat_requests_per_day``)."""

    name = "forensics"
    primary_keys = ("id",)
    schema = schema_of("forensic")
    pools = ("forensics_campaign", "forensics_threat")
    selected_by_default = False

    @override
    def share(self, pool: str) -> int:
        if pool == "forensics_threat":
            return int(self.config.get("forensics_threat_requests_per_day", 40))
        return super().share(pool)

    @override
    def produce(self) -> Iterator[Record]:
        work, api = self.work(), self.api()
        work.forget(self.now())
        if self.shared.intel.dropped:
            cap = work_module.MAX_PENDING_FORENSICS
            self.logger.warning(
                "%s: %s in no campaign not queued: %s already wait, the most the state keeps "
                "(%d days of forensics_threat_requests_per_day at its default 40); they are "
                "queued when events name them again once the queue is shorter.",
                self.name,
                counted(self.shared.intel.dropped, "threat"),
                f"{cap:,}",
                cap // 40,
            )
        stopped = []
        for scope, pool, ids in (
            ("campaign", "forensics_campaign", work.forensics_campaigns()),
            ("threat", "forensics_threat", work.forensics_threats()),
        ):
            try:
                yield from self._read(work, api, scope, pool, ids)
            except PoolStopped as stop:  # the other pool goes on
                stopped.append(stop)
        if stopped:
            raise stopped[0]

    def _read(
        self, work: Work, api: IntelApi, scope: str, pool: str, ids: list[str]
    ) -> Iterator[Record]:
        asked = f"{scope}Id"

        def one(ident: str) -> Iterator[Record]:
            answer = self.ask(api, "/v2/forensics", {asked: ident}, pool)
            problems: list[str] = []
            records = (
                []
                if answer is None
                else intel_records.forensics(answer, (asked, ident), self.fetched_at(), problems)
            )
            self.repaired(f"{scope} {ident}", problems)
            yield from records
            work.forensics_done(scope, ident, self.now())
            self.save()
            self.logger.info(
                "%s: %s %s: %s", self.name, scope, ident, counted(len(records), "evidence item")
            )

        def give_up(ident: str) -> None:
            work.forensics_done(scope, ident, self.now())

        yield from self.fetch_each(work.entry(self.name), ids, one, give_up)

    @override
    def waiting(self) -> str:
        work = self.work()
        return (
            f"{counted(len(work.forensics_campaigns()), 'campaign')} and "
            f"{counted(len(work.forensics_threats()), 'threat')}"
        )


INTEL_STREAM_TYPES: list[type[IntelStream]] = [
    ThreatsStream,
    CampaignsStream,
    ForensicsStream,
    VeryAttackedPeopleStream,
    TopClickersStream,
]


def _campaign_id(summary: dict[str, Any]) -> str | None:
    """A threat summary's campaign, if it names one (undocumented; some answers may)."""
    for key in ("campaignId", "campaignID"):
        value = summary.get(key)
        if isinstance(value, str) and value:
            return value
    return None
