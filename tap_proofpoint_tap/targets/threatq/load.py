"""How the mapper's rows reach ThreatQ: in batches, in two bulk passes, never twice.

A flush loads what the entity streams gathered:

0. Rows the local cache (:mod:`.cache`) says were loaded with the same content within
   ``cache_hours`` are not sent; an object such a row stands for is sent again only when
   another row of the flush refers to it (ThreatQ then answers its id).
1. **Objects** (:mod:`.objects`): Corporate Emails, Indicators, Incidents, Campaigns,
   Adversaries, Malware, TTPs and Events, each created or found once.
2. **Context** (:mod:`.context`): statuses, attributes and links, only what each object lacks.

Nothing is written before every type, status, event type and object type the flush needs is
known to be on the instance: one missing stops the run with one line naming it.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.mappers.threatq import entities as e
from tap_proofpoint_tap.targets.threatq import bodies
from tap_proofpoint_tap.targets.threatq.context import ContextPass
from tap_proofpoint_tap.targets.threatq.errors import ThreatQError
from tap_proofpoint_tap.targets.threatq.known import KINDS, Held
from tap_proofpoint_tap.targets.threatq.objects import Objects
from tap_proofpoint_tap.targets.threatq.references import References

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    from tap_proofpoint_tap.targets.threatq.api import ThreatQClient
    from tap_proofpoint_tap.targets.threatq.cache import Cache
    from tap_proofpoint_tap.targets.threatq.known import Instance

Row = dict[str, Any]  # one of the mapper's entity rows

LABELS = {
    e.CORPORATE_EMAILS: "Corporate Emails",
    e.INDICATORS: "Indicators",
    e.ATTRIBUTES: "Attributes",
    e.INCIDENTS: "Incidents",
    e.EVENTS: "Events",
    e.CAMPAIGNS: "Campaigns",
    e.ADVERSARIES: "Adversaries",
    e.MALWARE: "Malware",
    e.TTPS: "TTPs",
    e.RELATIONSHIPS: "Relationships",
}
RECORDS = (e.INCIDENTS, e.EVENTS)  # a click's or a message's rows: what batch_size counts
REFERS = {e.ATTRIBUTES: ("object_id",), e.RELATIONSHIPS: ("source_id", "target_id")}


class Loader:
    """Gathers rows per stream and loads them into ThreatQ at :meth:`flush`.

    It connects (``connect`` returns the client and what it resolved) only when a flush has
    rows the cache does not know: a re-read of what was loaded costs no request.
    """

    def __init__(
        self,
        connect: Callable[[], tuple[ThreatQClient, Instance]],
        cache: Cache,
        batch_size: int,
        logger: logging.Logger,
    ) -> None:
        self.connect, self.cache = connect, cache
        self.batch_size, self.logger = batch_size, logger
        self.pending: dict[str, list[Row]] = {s: [] for s in e.ENTITY_STREAMS}
        self.waiting: list[Row] = []  # links whose other end is not in ThreatQ yet
        self.arrived: dict[str, int] = {}  # links that may wait: when they came (a count)
        self.count = 0  # links that may wait, so far
        self.mark = 0  # the count when the last STATE came
        self.skipped: dict[str, tuple[str, Row]] = {}  # rows the cache knew, by id
        self.parked: dict[str, Row] = {}  # links an earlier run gave up, by id
        self.held = Held()
        self.counts = self.held.counts
        self.cached: Counter[str] = Counter()
        self.read = 0  # clicks and messages
        self.client: ThreatQClient | None = None
        self._passes: tuple[Objects, ContextPass] | None = None

    def add(self, stream: str, row: Row) -> None:
        self.pending[stream].append(row)
        if stream in RECORDS:
            self.read += 1
        elif stream == e.RELATIONSHIPS and row.get("target_key"):
            self.count += 1
            self.arrived.setdefault(row["id"], self.count)

    def window_closed(self) -> None:
        """A STATE came: the links that came before it and still wait hold it."""
        self.mark = self.count

    @property
    def holds_state(self) -> bool:
        """Whether a link that came before the last STATE still waits (that STATE must wait
        with it: a run stopped now reads its record again)."""
        return any(self.arrived.get(r["id"], 0) <= self.mark for r in self.waiting)

    @property
    def records(self) -> int:
        """Clicks and messages pending."""
        return sum(len(self.pending[s]) for s in RECORDS)

    @property
    def size(self) -> int:
        return sum(map(len, self.pending.values()))

    def flush(self, *, final: bool = False) -> None:
        """Load every pending row; returns once ThreatQ has committed all of them (but the
        links that wait for a later row of the run, unless ``final``)."""
        rows, self.pending = self.pending, {s: [] for s in e.ENTITY_STREAMS}
        rows[e.RELATIONSHIPS] += self.waiting
        self.waiting = []
        sent = self._unknown(rows)
        if not any(sent.values()):
            return
        objects, context = self._connected()
        self._check(sent)
        type_ids = self.instance.indicator_types
        event_types = self.instance.event_types
        builds: dict[str, Callable[[Row], dict[str, Any]]] = {
            e.CORPORATE_EMAILS: bodies.corporate_email_item,
            e.INDICATORS: lambda r: bodies.indicator_item(r, type_ids[r["type"].casefold()]),
            e.INCIDENTS: bodies.incident_item,
            e.CAMPAIGNS: bodies.campaign_item,
            e.ADVERSARIES: bodies.adversary_item,
            e.MALWARE: bodies.value_item,
            e.TTPS: bodies.value_item,
            e.EVENTS: lambda r: bodies.event_item(r, event_types[r["type"].casefold()]),
        }
        for stream in KINDS:
            objects.create(stream, sent[stream], builds[stream])
        revived = self._revived(sent)
        for stream in KINDS:
            objects.create(stream, revived[stream], builds[stream])
            sent[stream] += revived[stream]
        for stream in REFERS:
            sent[stream] += revived[stream]
        waiting = context.run(sent)
        # At the end, what still waits is given up. Remembered as such: a re-read sends it
        # only with its other end's row (_unknown), or once cache_hours have passed.
        ended = waiting if final else []
        self.counts[e.RELATIONSHIPS]["not made"] += len(ended)
        self.waiting = [] if final else waiting
        self.arrived = {r["id"]: self.arrived.get(r["id"], 0) for r in self.waiting}
        unmade = {r["id"] for r in waiting}
        made = (row for rows_ in sent.values() for row in rows_ if row["id"] not in unmade)
        self.cache.remember(made, unmade=ended)

    def _unknown(self, rows: dict[str, list[Row]]) -> dict[str, list[Row]]:
        """``rows`` less those the cache knows, plus the known objects the others refer to.

        A link an earlier run gave up (its event or campaign was not in ThreatQ) is parked:
        sent only once its other end's row comes in this run (a re-read that now has it),
        else it costs nothing again."""
        loaded, unmade = self.cache.known(row for rows_ in rows.values() for row in rows_)
        sent: dict[str, list[Row]] = {s: [] for s in e.ENTITY_STREAMS}
        for stream, rows_ in rows.items():
            for row in rows_:
                if row["id"] in loaded:
                    self.skipped[row["id"]] = (stream, row)
                elif row["id"] in unmade:
                    self.parked[row["id"]] = row
                else:
                    sent[stream].append(row)
                    continue
                self.cached[stream] += 1
        present = {row["id"] for rows_ in sent.values() for row in rows_}
        for row in list(self.parked.values()):
            end = row["target_id"]
            if end in present or end in self.skipped or end in self.held.objects:
                del self.parked[row["id"]]
                sent[e.RELATIONSHIPS].append(row)
                self.cached[e.RELATIONSHIPS] -= 1
        for row_id in self._spared_ends(sent):
            stream, row = self.skipped[row_id]
            sent[stream].append(row)
            self.cached[stream] -= 1
        return sent

    def _revived(self, sent: dict[str, list[Row]]) -> dict[str, list[Row]]:
        """An object the cache knew that ThreatQ created again (an analyst deleted it) gets
        back what the cache knew of it: the rows naming it that this run read, and the
        objects at their other ends."""
        again = {r["id"] for s in KINDS for r in sent[s] if r["id"] in self.skipped}
        revived = {i for i in again if self.held.objects[i].new}
        out: dict[str, list[Row]] = {s: [] for s in e.ENTITY_STREAMS}
        if not revived:
            return out
        for stream, row in list(self.skipped.values()):
            if stream in REFERS and any(row[f] in revived for f in REFERS[stream]):
                out[stream].append(row)
        for row_id in self._spared_ends(out):
            stream, row = self.skipped[row_id]
            out[stream].append(row)
        for rows_ in out.values():
            for row in rows_:
                stream, _ = self.skipped.pop(row["id"])
                self.cached[stream] -= 1
        return out

    def _spared_ends(self, rows: dict[str, list[Row]]) -> set[str]:
        """The objects ``rows`` refer to that the cache spared and the run has not loaded:
        they are sent again, so that ThreatQ answers their ids."""
        return {
            row[field]
            for stream, fields in REFERS.items()
            for row in rows[stream]
            for field in fields
            if row[field] in self.skipped and row[field] not in self.held.objects
        }

    def _connected(self) -> tuple[Objects, ContextPass]:
        if self._passes is None:
            self.client, self.instance = self.connect()
            references = References(self.client, self.instance.collections)
            objects = Objects(
                self.client, self.instance, self.held, references, self.batch_size, self.logger
            )
            self._passes = objects, ContextPass(objects, references)
        return self._passes

    def _check(self, rows: dict[str, list[Row]]) -> None:
        """Every type and status the rows name exists on the instance, before anything of the
        load is written (the object types are checked once, before the first load)."""
        tables = (
            (e.INDICATORS, "type", "indicator type", self.instance.indicator_types,
             "add the indicator type in ThreatQ (Settings → Indicator Types)"),
            (e.INDICATORS, "status", "indicator status", self.instance.statuses,
             "set the mapper's url_indicator_status/sender_indicator_status to one of {}"),
            (e.EVENTS, "type", "event type", self.instance.event_types,
             "add it in ThreatQ (Settings → Event Types), or set the mapper's "
             "email_event_type to one of {}"),
        )  # fmt: skip
        for stream, field, what, table, hint in tables:
            for row in rows[stream]:
                name = row.get(field)
                if name and name.casefold() not in table:
                    names = ", ".join(sorted(table))
                    raise ThreatQError(
                        f"ThreatQ has no {what} named {name!r}: {hint.format(names)}."
                    )
