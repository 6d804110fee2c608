"""The rankings of Proofpoint's People API: very attacked people and top clickers."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_proofpoint_tap import intel_records, windows
from tap_proofpoint_tap.intel_api import PoolStopped
from tap_proofpoint_tap.intel_client import IntelStream, Record, optional_time, schema_of
from tap_proofpoint_tap.wording import counted

MAX_PAGES = 10_000  # a server whose list never ends: the pool's share ends it first

if TYPE_CHECKING:
    from collections.abc import Iterator


class PeopleStream(IntelStream):
    """A ranking of Proofpoint's People API, read at most once per ``people_interval_hours``
    as a snapshot: every page, then its records (a snapshot is never half loaded)."""

    api_path: ClassVar[str]
    kind: ClassVar[str]
    total_key: ClassVar[str]
    """The envelope's count of the ranking's users."""
    page_size: ClassVar[int]
    primary_keys = ("snapshotAt", "guid")
    selected_by_default = False

    @override
    def needs_siem(self) -> bool:
        return False  # a ranking is Proofpoint's own

    @override
    def produce(self) -> Iterator[Record]:
        entry = self.stream_state
        last = optional_time(entry.get("snapshotAt"))
        hours = int(self.config.get("people_interval_hours", 24))
        now = self.now()
        if last is not None and now < last + timedelta(hours=hours):
            self.logger.info(
                "%s: the last snapshot is from %s; the next is due at %s (people_interval_hours).",
                self.name,
                windows.fmt(last),
                windows.fmt(last + timedelta(hours=hours)),
            )
            return
        if self._cannot_finish(entry.get("pagesNeeded")):
            return
        window = int(self.config.get("people_window_days", 30))
        snapshot = (windows.fmt(now), window)
        api = self.api()
        records: list[Record] = []
        problems: list[str] = []
        total: Any = None
        for page in range(1, MAX_PAGES):
            try:
                answer = api.get(
                    self.api_path,
                    {"window": window, "size": self.page_size, "page": page},
                    self.pools[0],
                )
            except PoolStopped:  # the pages read are lost: remember what a snapshot takes
                if isinstance(total, int) and total > 0:
                    entry["pagesNeeded"] = -(-total // self.page_size)
                raise
            users = intel_records.people(answer or {}, self.kind, snapshot, problems)
            records.extend(users)
            total = (answer or {}).get(self.total_key)
            if not users or not _more(len(users), len(records), total, self.page_size):
                break
        self.repaired(f"snapshot {snapshot[0]}", problems)
        yield from records
        entry["snapshotAt"] = snapshot[0]
        entry.pop("pagesNeeded", None)
        self.logger.info(
            "%s: snapshot %s of the last %d days: %s",
            self.name,
            snapshot[0],
            window,
            counted(len(records), "user"),
        )

    def _cannot_finish(self, needed: Any) -> bool:
        """Whether the last snapshot's page count exceeds what a run may spend: asking would
        spend the pool on pages that are never kept (a snapshot goes out whole)."""
        if not isinstance(needed, int):
            return False
        limits = {
            "max_requests_per_run": self.shared.budget.limit,
            "the tap's daily share": self.share(self.pools[0]),
        }
        name, most = min(((n, v) for n, v in limits.items() if v), key=lambda item: item[1])
        if needed <= most:
            return False
        self.logger.warning(
            "%s: a snapshot takes %d pages, more than %s allows (%d): not asked for, as no "
            "page of it would be kept; raise max_requests_per_run.",
            self.name,
            needed,
            name,
            most,
        )
        return True

    @override
    def waiting(self) -> str:
        return "the snapshot"


class VeryAttackedPeopleStream(PeopleStream):
    """Proofpoint's very attacked people (``/v2/people/vap``, 50 a day)."""

    name = "very_attacked_people"
    schema = schema_of("very_attacked_person")
    api_path = "/v2/people/vap"
    kind = "very_attacked_person"
    total_key = "totalVapUsers"
    page_size = 1000
    pools = ("vap",)


class TopClickersStream(PeopleStream):
    """Proofpoint's top clickers (``/v2/people/top-clickers``, 50 a day)."""

    name = "top_clickers"
    schema = schema_of("top_clicker")
    api_path = "/v2/people/top-clickers"
    kind = "top_clicker"
    total_key = "totalTopClickers"
    page_size = 200
    pools = ("top_clickers",)


def _more(page: int, read: int, total: Any, size: int) -> bool:
    """Whether another page is due: the answer's total says so when it gives one (a server
    may serve fewer rows than ``size`` asks); otherwise a full page does."""
    if isinstance(total, int) and not isinstance(total, bool):
        return read < total
    return page >= size
