"""How the mapper's rows reach ThreatQ: in batches, in two bulk passes, never twice.

A flush loads what the five streams gathered:

1. **Objects**: Corporate Emails, Indicators and Incidents through ``consume``, without context.
   ThreatQ finds an object it already has by its value (indicators by type and value) and
   answers its id, so this pass is safe to repeat; the answers also say which objects are new.
2. **Context**: one more ``consume`` per collection carries, for each object, what it lacks:
   the status of a new indicator (an existing one keeps the status an analyst gave it), the
   attributes and the links. For an object this run created, what it lacks is known. For one
   that was already there (a rerun, a look-back, ``--full-refresh``), its attributes and links
   are read first, so nothing is posted twice, even to an instance that would duplicate a
   re-posted attribute or link. A write whose outcome is unknown (a 500, a timeout) is not
   repeated blindly: the objects it touched are read again before the next try.

Entity ids are the mapper's; ThreatQ's ids are learnt from the answers and kept for the run, so a
link or attribute may refer to an entity loaded in an earlier batch.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tap_proofpoint_tap.threatq import bodies
from tap_proofpoint_tap.threatq import entities as e
from tap_proofpoint_tap.threatq.api import WAITS, OutcomeUnknown, ThreatQClient, ThreatQError

KINDS = {e.CORPORATE_EMAILS: "corporate_email", e.INDICATORS: "indicator",
         e.INCIDENTS: "incident"}
LABELS = {e.CORPORATE_EMAILS: "Corporate Emails", e.INDICATORS: "Indicators",
          e.ATTRIBUTES: "Indicator Attributes", e.INCIDENTS: "Incidents",
          e.RELATIONSHIPS: "Relationships"}


@dataclass(frozen=True)
class Instance:
    """What the loader resolved by name at start: ids differ between ThreatQ instances."""

    collections: dict[str, str]  # corporate_email / indicator / incident → REST collection
    indicator_types: dict[str, int]  # name, case-folded → id
    statuses: dict[str, int]


@dataclass
class Loaded:
    """A ThreatQ object this run loaded or found, and what it is known to hold."""

    stream: str
    collection: str
    tq_id: int
    item: dict  # how the object is addressed: value (type_id), and our source, kept on re-posts
    new: bool | None  # created by this run (its status is ours to set); None: ThreatQ did not say
    status_set: bool = False
    fresh: bool = False  # holds only what this run gave it, so nothing needs reading
    attributes: set[tuple[str, str]] | None = None  # None: not read yet
    links: dict[str, set[int]] = field(default_factory=dict)  # other collection → ids read
    stale: set[str] = field(default_factory=set)  # collections to read although fresh

    def __post_init__(self) -> None:
        self.fresh = bool(self.new)
        if self.fresh:
            self.attributes = set()

    def knows_links(self, other: str) -> bool:
        return (self.fresh and other not in self.stale) or other in self.links

    def forget(self, other: str | None = None) -> None:
        """After a write of unknown outcome: what it holds (of ``other``) must be read again."""
        if other is None:
            self.fresh, self.attributes, self.links = False, None, {}
        else:
            self.links.pop(other, None)
            self.stale.add(other)


@dataclass
class Context:
    """What one object gets in the context pass."""

    obj: Loaded
    status_id: int | None = None
    attributes: dict[tuple[str, str], dict] = field(default_factory=dict)
    links: dict[str, set[int]] = field(default_factory=dict)  # other collection → ids


class Loader:
    """Gathers rows per stream and loads them into ThreatQ at :meth:`flush`."""

    def __init__(self, client: ThreatQClient, instance: Instance, batch_size: int,
                 logger: logging.Logger) -> None:
        self.client = client
        self.instance = instance
        self.batch_size = batch_size
        self.logger = logger
        self.pending: dict[str, list[dict]] = {s: [] for s in e.ENTITY_STREAMS}
        self.objects: dict[str, Loaded] = {}  # by mapper id
        self.found: dict[tuple[str, int], Loaded] = {}  # by ThreatQ collection and id
        self.counts = {s: collections.Counter() for s in e.ENTITY_STREAMS}
        self.clicks = 0

    def add(self, stream: str, row: dict) -> None:
        self.pending[stream].append(row)
        if stream == e.INCIDENTS:
            self.clicks += 1

    @property
    def size(self) -> int:
        return sum(map(len, self.pending.values()))

    def flush(self) -> None:
        """Load every pending row; returns once ThreatQ has committed all of them."""
        rows, self.pending = self.pending, {s: [] for s in e.ENTITY_STREAMS}
        if not any(rows.values()):
            return
        type_ids = self._type_ids(rows[e.INDICATORS])
        self._create(rows[e.CORPORATE_EMAILS], e.CORPORATE_EMAILS, bodies.corporate_email_item)
        self._create(rows[e.INDICATORS], e.INDICATORS,
                     lambda row: bodies.indicator_item(row, type_ids[row["type"]]))
        self._create(rows[e.INCIDENTS], e.INCIDENTS, bodies.incident_item)
        waits = iter(WAITS)
        while True:
            contexts, present = self._contexts(rows)
            try:
                self._post_context(contexts)
            except _Unsure as unsure:
                wait = next(waits, None)
                if wait is None:
                    raise ThreatQError(
                        f"ThreatQ did not confirm a write of context after {len(WAITS) + 1} "
                        f"tries ({unsure.failure}); what was loaded stays, run again later."
                    ) from None
                for ctx in unsure.contexts:  # read again what they hold before writing
                    ctx.obj.forget()
                    for collection, targets in ctx.links.items():
                        for tq_id in targets:
                            other = self.found.get((collection, tq_id))
                            if other is not None:
                                other.forget(ctx.obj.collection)
                self.logger.warning("ThreatQ: a context write failed (%s); reading the %d "
                                    "objects it touched again in %d s", unsure.failure,
                                    len(unsure.contexts), wait)
                time.sleep(wait)
                continue
            for stream, count in present.items():
                self.counts[stream]["already there"] += count
            return

    # -- pass 1: the objects --

    def _type_ids(self, indicators: list[dict]) -> dict[str, int]:
        """Indicator type names → ids; a type or status the instance lacks stops the run
        before anything of the batch is written."""
        out = {}
        for row in indicators:
            for kind, table in (("type", self.instance.indicator_types),
                                ("status", self.instance.statuses)):
                name = row.get(kind)
                if name and name.casefold() not in table:
                    hint = ("set the mapper's url_indicator_status/sender_indicator_status to "
                            f"one of {', '.join(sorted(table))}" if kind == "status" else
                            "add the indicator type in ThreatQ (Settings → Indicator Types)")
                    raise ThreatQError(f"ThreatQ has no indicator {kind} named {name!r}: "
                                       f"{hint}.")
            out[row["type"]] = self.instance.indicator_types[row["type"].casefold()]
        return out

    def _create(self, rows: list[dict], stream: str, build: Callable[[dict], dict]) -> None:
        collection = self.instance.collections[KINDS[stream]]
        todo = list({r["id"]: r for r in rows if r["id"] not in self.objects}.values())
        self.counts[stream]["already there"] += len(rows) - len(todo)  # loaded earlier this run
        for chunk in _chunks(todo, self.batch_size):
            items = [build(row) for row in chunk]
            answers = self.client.consume(collection, items, idempotent=True)
            for row, item, answer in zip(chunk, items, answers, strict=True):
                tq_id = _accepted(answer, stream, row, item)
                new = {"N": True, "Y": False}.get(answer.get("existing"))
                obj = self.found.get((collection, tq_id))
                if obj is None:  # two spellings of one value share one ThreatQ object
                    address = {k: item[k] for k in ("value", "type_id", "sources") if k in item}
                    obj = self.found[collection, tq_id] = Loaded(stream, collection, tq_id,
                                                                address, new)
                self.objects[row["id"]] = obj
                self.counts[stream]["already there" if new is False else "created"] += 1

    # -- pass 2: status, attributes, links --

    def _contexts(self, rows: dict[str, list[dict]]
                  ) -> tuple[list[Context], collections.Counter[str]]:
        """What each object still lacks (reading what is not known yet), and how many of the
        rows' attributes and links ThreatQ has already."""
        out: dict[int, Context] = {}
        present: collections.Counter[str] = collections.Counter()

        def context(obj: Loaded) -> Context:
            return out.setdefault(id(obj), Context(obj))

        for row in rows[e.INDICATORS]:
            obj = self.objects[row["id"]]
            if obj.new is not False and row.get("status") and not obj.status_set:
                context(obj).status_id = self.instance.statuses[row["status"].casefold()]
        for row in rows[e.ATTRIBUTES]:
            obj = self._referred(row, "indicator_id")
            if obj.attributes is None:
                obj.attributes = {(a["name"].casefold(), str(a["value"])) for a in
                                  self.client.attributes(obj.collection, obj.tq_id)}
            identity = (row["name"].casefold(), str(row["value"]))
            if identity in obj.attributes:
                present[e.ATTRIBUTES] += 1
            else:
                context(obj).attributes[identity] = bodies.attribute_item(row)
        for row in rows[e.RELATIONSHIPS]:
            carrier, other = _carrier(self._referred(row, "source_id"),
                                      self._referred(row, "target_id"))
            if not carrier.knows_links(other.collection):
                carrier.links[other.collection] = {o["id"] for o in self.client.related(
                    carrier.collection, carrier.tq_id, other.collection)}
            if other.tq_id in carrier.links.get(other.collection, ()):
                present[e.RELATIONSHIPS] += 1
            else:
                context(carrier).links.setdefault(other.collection, set()).add(other.tq_id)
        return list(out.values()), present

    def _referred(self, row: dict, key: str) -> Loaded:
        obj = self.objects.get(row[key])
        if obj is None:
            raise ThreatQError(f"{row['id']} refers to {key} {row[key]}, which no earlier row "
                               "of this run created: feed target-threatq the whole output of "
                               "mapper-proofpoint-threatq.")
        return obj

    def _post_context(self, contexts: list[Context]) -> None:
        by_collection: dict[str, list[Context]] = collections.defaultdict(list)
        for ctx in contexts:
            if ctx.status_id is not None or ctx.attributes or ctx.links:
                by_collection[ctx.obj.collection].append(ctx)
        for collection, group in by_collection.items():
            for chunk in _chunks(group, self.batch_size):
                items = [_context_item(ctx) for ctx in chunk]
                try:
                    answers = self.client.consume(collection, items, idempotent=False)
                except OutcomeUnknown as error:
                    raise _Unsure(str(error), chunk) from None
                for ctx, item, answer in zip(chunk, items, answers, strict=True):
                    _accepted(answer, ctx.obj.stream, {"id": ctx.obj.tq_id}, item)
                    self._commit(ctx)

    def _commit(self, ctx: Context) -> None:
        """Remember what the object now holds, and that the other end of each link does."""
        obj = ctx.obj
        obj.status_set = obj.status_set or ctx.status_id is not None
        obj.attributes = (obj.attributes or set()) | set(ctx.attributes)
        self.counts[e.ATTRIBUTES]["created"] += len(ctx.attributes)
        for collection, targets in ctx.links.items():
            obj.links.setdefault(collection, set()).update(targets)
            self.counts[e.RELATIONSHIPS]["created"] += len(targets)
            for tq_id in targets:
                other = self.found.get((collection, tq_id))
                if other is not None and other.knows_links(obj.collection):
                    other.links.setdefault(obj.collection, set()).add(obj.tq_id)


class _Unsure(Exception):
    def __init__(self, failure: str, contexts: list[Context]) -> None:
        super().__init__(failure)
        self.failure = failure
        self.contexts = contexts


def _carrier(source: Loaded, target: Loaded) -> tuple[Loaded, Loaded]:
    """Which end of a link carries it in the context pass: a new object (its links are known
    without a read), else an incident (few links to read), else the source."""
    for first, second in ((source, target), (target, source)):
        if first.fresh:
            return first, second
    if target.stream == e.INCIDENTS:
        return target, source
    return source, target


def _context_item(ctx: Context) -> dict[str, Any]:
    item: dict[str, Any] = {"id": ctx.obj.tq_id, **ctx.obj.item}
    if ctx.status_id is not None:
        item["status_id"] = ctx.status_id
    if ctx.attributes:
        item["attributes"] = list(ctx.attributes.values())
    for collection, targets in ctx.links.items():
        item[collection] = [{"id": tq_id} for tq_id in sorted(targets)]
    return item


def _accepted(answer: Any, stream: str, row: dict, item: dict) -> int:
    """The id ThreatQ gave an item; a per-item error stops the run, naming the entity."""
    if not isinstance(answer, dict) or answer.get("error") or not isinstance(
            answer.get("id"), int):
        reason = answer.get("error") if isinstance(answer, dict) else answer
        raise ThreatQError(f"ThreatQ refused {stream} {row['id']} (value {item.get('value')!r}): "
                           f"{reason or 'no id in its answer'}; nothing after it is loaded.")
    return answer["id"]


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
