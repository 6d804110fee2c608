"""The base of the streams that follow the SIEM ones: threats, campaigns, forensics, people.

They read no windows: each run, a stream does the work its bookmark holds (ids the SIEM
windows mentioned, campaign-id days not yet discovered, a people snapshot that is due), one
request per id or page (:class:`~tap_proofpoint_tap.intel_api.IntelApi`), and writes a STATE
as the work shrinks. When a pool may not be asked (429, its daily share, the run's budget),
or the API keeps failing, the stream stops, its work waits in the state, and the streams after
it go on; such a failure ends the run with exit 1 once they are done.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.api_stream import ApiStream
from tap_proofpoint_tap.client import SCHEMA_DIR
from tap_proofpoint_tap.errors import (
    AuthError,
    ReaderGone,
    Redirected,
    TapError,
    UnavailableError,
)
from tap_proofpoint_tap.intel_api import IntelApi, IntelRefused, IntelUnreadable, PoolStopped
from tap_proofpoint_tap.quota import POOLS, QuotaLog

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_proofpoint_tap.client import Shared
    from tap_proofpoint_tap.work import Work

SCHEMAS = SchemaDirectory(SCHEMA_DIR)
Record = dict[str, Any]
SHOWN = 5
"""Ids named in a line (the rest are counted)."""
DOWN_AFTER = 3
"""Ids in a row whose requests failed after their tries: the API is down, the stream stops."""
GIVE_UP_AFTER = 3
"""Runs in a row in which one id's request failed while others were answered: it is given up
(one id Proofpoint cannot serve must not hold up the others, nor spend a pool run after run)."""
SAVE_EVERY = 200
"""Ids between two STATEs while ids that spend no daily share are fetched: a kill repeats at
most these, which cost no quota, and fewer STATEs keep the output small (each carries the
whole state: about 100 bytes per threat remembered)."""


class IntelStream(ApiStream):
    """A stream whose work is kept in its bookmark; subclasses say what the work is."""

    pools: ClassVar[tuple[str, ...]] = ()
    """The pools with a daily share it spends (logged in its bookmark)."""
    path = ""  # each request names its own path
    is_sorted = False
    STATE_MSG_FREQUENCY = sys.maxsize  # the stream writes STATE itself, as its work shrinks
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # intel_records conformed the records

    @override
    def __init__(self, tap: Tap, *, shared: Shared) -> None:
        super().__init__(tap=tap)
        self.shared = shared
        self._state_writer = tap.state_writer

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """Never: each run reads only what changed, so rows a run did not read must stay."""
        return False

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def work(self) -> Work:
        return self.shared.intel.work()

    def api(self) -> IntelApi:
        shares = {pool: self.share(pool) for pool in self.pools}
        quotas = QuotaLog(self.stream_state, shares) if shares else None
        return IntelApi(self.transport(), self.shared.budget, quotas, self.save, self.name)

    def share(self, pool: str) -> int:
        """The most of ``pool`` the tap spends in 24 hours."""
        return POOLS[pool].share

    def save(self) -> None:
        """Write a STATE now: every stream's bookmark, the pools' request logs included."""
        self._state_writer.write_state(self.tap_state)
        self.state_manager.is_flushed = True

    def needs_siem(self) -> bool:
        """Whether only the SIEM streams can give this stream new work."""
        return True

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        if self.needs_siem() and not self.shared.intel.wanted().siem:
            self.logger.warning(
                "%s: no SIEM stream is selected, so no threat or campaign is newly named: it "
                "does only the work the state holds (%s). Select clicks_permitted, "
                "clicks_blocked, messages_delivered or messages_blocked to feed it.",
                self.name,
                self.waiting(),
            )
        try:
            yield from self.produce()
        except PoolStopped as stop:
            self.logger.warning(
                "%s: the %s pool is not asked this run (%s); waiting in the state: %s.",
                self.name,
                stop.pool,
                stop.reason,
                self.waiting(),
            )
        except (AuthError, Redirected, ReaderGone):  # nothing after it can go on
            raise
        except TapError as error:
            self.logger.warning("%s The streams after it go on.", error)  # it names the stream
            self.shared.intel.failures.append(str(error))
        finally:
            self.save()

    def produce(self) -> Iterator[Record]:
        """The stream's records, its work shrinking as they go out."""
        raise NotImplementedError

    def waiting(self) -> str:
        """What is left to do, in words."""
        raise NotImplementedError

    def fetched_at(self) -> str:
        return windows.fmt(self.now())

    def ask(self, api: IntelApi, path: str, params: dict[str, Any], pool: str) -> Any:
        """The answer, or None for an id Proofpoint does not know (404) or refuses (a 400,
        said with its reason: one id must not hold up the others)."""
        try:
            return api.get(path, params, pool)
        except IntelRefused as error:
            self.logger.warning("%s Skipped.", error)
            return None

    def fetch_each(
        self,
        entry: dict[str, Any],
        ids: Sequence[str],
        one: Callable[[str], Iterator[Record]],
        give_up: Callable[[str], None],
    ) -> Iterator[Record]:
        """``one(id)``'s records for each id. An id whose request fails (its tries spent, an
        answer that is not the documented shape) is passed over this run and counted in the
        bookmark's ``failed``; after :data:`GIVE_UP_AFTER` runs it is given up. When
        :data:`DOWN_AFTER` ids in a row fail, the API is down: the stream stops."""
        failed_now: list[str] = []
        streak = 0
        for n, ident in enumerate(ids, 1):
            try:
                yield from one(ident)
            except (UnavailableError, IntelUnreadable) as error:
                streak += 1
                if streak >= DOWN_AFTER:
                    raise UnavailableError(
                        f"{error} {DOWN_AFTER} ids in a row failed: {self.name} stops; "
                        f"{self.waiting()} wait in the state for the next run."
                    ) from None
                self.logger.warning("%s Passed over this run.", error)
                failed_now.append(ident)
                continue
            streak = 0
            entry.get("failed", {}).pop(ident, None)
            if n % SAVE_EVERY == 0:
                self.save()
        counts = entry.setdefault("failed", {})
        for ident in failed_now:
            runs = int(counts.get(ident, 0)) + 1
            if runs < GIVE_UP_AFTER:
                counts[ident] = runs
                continue
            counts.pop(ident, None)
            give_up(ident)
            self.logger.warning(
                "%s: %s failed in %d runs in a row: given up until events mention it again "
                "after threat_refresh_hours.",
                self.name,
                ident,
                runs,
            )

    def repaired(self, what: str, problems: list[str]) -> None:
        """One line for what the normaliser repaired in ``what`` (values kept in unknownFields)."""
        if problems:
            self.logger.warning(
                "%s: %s kept with repairs (each value as sent is in unknownFields): %s",
                self.name,
                what,
                "; ".join(sorted(set(problems)))[:500],
            )

    def unknown(self, ids: list[str], kind: str) -> None:
        """One line for the ids Proofpoint answered 404 to."""
        if ids:
            more = f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
            self.logger.warning(
                "%s: Proofpoint knows no %s %s%s (404): skipped until events mention %s again "
                "after threat_refresh_hours.",
                self.name,
                kind,
                ", ".join(ids[:SHOWN]),
                more,
                "it" if len(ids) == 1 else "them",
            )

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Records never move the bookmark: the work done does (private SDK API, as for the
        SIEM streams; tests/test_sdk_private_tap.py checks the SDK still calls it)."""


def schema_of(key: str) -> StreamSchema:
    return StreamSchema(SCHEMAS, key=key)


def optional_time(value: Any) -> datetime | None:
    """A time the tap wrote in the state, or None (the state's shape was checked on load)."""
    try:
        return windows.parse(str(value)) if value else None
    except ValueError:
        return None
