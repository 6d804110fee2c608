"""The second pass of a load: what each object lacks — an indicator's status, attributes, links.

One ``consume`` per collection carries, for each object, only what it lacks: the status of an
indicator this run created (an analyst's status on an existing one stays), the attributes and
the links (as relationship keys on one end of each pair). For an object this run created, what
it lacks is known. For one that was already there (a rerun, a look-back, ``--full-refresh``),
its attributes and links are read first, so nothing is posted twice, even to an instance that
would duplicate a re-posted attribute or link.

A link whose other end is an event or a campaign the run has not loaded is looked up in
ThreatQ (:mod:`.references`); one not found there waits for a later load of the run (the
campaign a message names is fetched after the messages), and at the end of the input is
given up and counted.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_proofpoint_tap.mappers.threatq import entities as e
from tap_proofpoint_tap.targets.threatq import bodies
from tap_proofpoint_tap.targets.threatq.errors import OutcomeUnknown, ThreatQError
from tap_proofpoint_tap.targets.threatq.known import STREAMS, Context, Loaded, carrier
from tap_proofpoint_tap.targets.threatq.objects import accepted, chunks, wait

if TYPE_CHECKING:
    from tap_proofpoint_tap.targets.threatq.known import Held, Instance
    from tap_proofpoint_tap.targets.threatq.objects import Objects
    from tap_proofpoint_tap.targets.threatq.references import References

Row = dict[str, Any]
NAMED_BY_KEY = ("event", "campaign")  # what a link may name by its Proofpoint key


class ContextPass:
    """Adds what the objects of a load lack; returns the links that must wait."""

    def __init__(self, objects: Objects, references: References) -> None:
        self.objects = objects
        self.client = objects.client
        self.instance: Instance = objects.instance
        self.held: Held = objects.held
        self.references = references

    def run(self, rows: dict[str, list[Row]]) -> list[Row]:
        """Add the context of ``rows``; the relationship rows whose other end is not in
        ThreatQ yet."""
        waits = iter(self.client.waits)
        while True:
            contexts, present, waiting = self._contexts(rows)
            try:
                self._post(contexts)
            except _Unsure as unsure:
                wait(self.client, self.objects.logger, waits, unsure.error, "a context write")
                for ctx in unsure.contexts:  # read again what they hold before writing
                    ctx.obj.forget()
                    for collection, targets in ctx.links.items():
                        for tq_id in targets:
                            other = self.held.found.get((collection, tq_id))
                            if other is not None:
                                other.forget(ctx.obj.collection)
                continue
            for stream, count in present.items():
                self.held.counts[stream]["already there"] += count
            return waiting

    def _contexts(
        self, rows: dict[str, list[Row]]
    ) -> tuple[list[Context], collections.Counter[str], list[Row]]:
        """What each object still lacks (reading what is not known yet), how many of the
        rows' attributes and links ThreatQ has already, and the links that must wait."""
        out: dict[int, Context] = {}
        present: collections.Counter[str] = collections.Counter()
        waiting: list[Row] = []

        def context(obj: Loaded) -> Context:
            return out.setdefault(id(obj), Context(obj))

        for row in rows[e.INDICATORS]:
            obj = self.held.objects[row["id"]]
            if obj.attributes is None:
                self._read_attributes(obj, row.get("source"))
            if row.get("status") and obj.needs_status():
                context(obj).status_id = self.instance.statuses[row["status"].casefold()]
        for row in rows[e.ATTRIBUTES]:
            obj = self._referred(row, "object_id")
            held = obj.attributes
            if held is None:
                held = self._read_attributes(obj, row.get("source"))
            attribute = (row["name"].casefold(), str(row["value"]).casefold())  # as ThreatQ
            if attribute in held:
                present[e.ATTRIBUTES] += 1
            else:
                context(obj).attributes[attribute] = bodies.attribute_item(row)
        for row in rows[e.RELATIONSHIPS]:
            target = self._target(row)
            if target is None:
                waiting.append(row)
                continue
            end, other = carrier(self._referred(row, "source_id"), target)
            if not end.knows_links(other.collection):
                end.links[other.collection] = {
                    o["id"]
                    for o in self.client.related(end.collection, end.tq_id, other.collection)
                }
            if other.tq_id in end.links.get(other.collection, ()):
                present[e.RELATIONSHIPS] += 1
            else:
                context(end).links.setdefault(other.collection, set()).add(other.tq_id)
        return list(out.values()), present, waiting

    def _target(self, row: Row) -> Loaded | None:
        """A link's target: loaded by this run, or (an event or campaign named by its key)
        found in ThreatQ; None when it is neither yet."""
        found = self.held.objects.get(row["target_id"])
        key, kind = row.get("target_key"), row["target_type"]
        if found is not None or not key or kind not in NAMED_BY_KEY:
            return found if found is not None else self._referred(row, "target_id")
        hit = self.references.find(kind, key)
        if hit is None:
            return None
        collection = self.instance.collections[kind]
        loaded = Loaded(STREAMS[kind], collection, hit[0], hit[1], new=False)
        return self.held.register(loaded, [row["target_id"]])

    def _read_attributes(self, obj: Loaded, source: str | None) -> set[tuple[str, str]]:
        """What the object holds in ThreatQ (kept on it, and returned)."""
        rows = self.client.attributes(obj.collection, obj.tq_id)
        held = {(a["name"].casefold(), str(a.get("value")).casefold()) for a in rows}
        obj.attributes = held
        obj.ours = any(
            isinstance(s, dict) and s.get("name") == source
            for a in rows
            for s in (a["sources"] if isinstance(a.get("sources"), list) else ())
        )
        return held

    def _referred(self, row: Row, key: str) -> Loaded:
        obj = self.held.objects.get(row[key])
        if obj is None:
            raise ThreatQError(
                f"{row['id']} refers to {key} {row[key]}, which no earlier row "
                "of this run created: feed target-threatq the whole output of "
                "mapper-proofpoint-threatq."
            )
        return obj

    def _post(self, contexts: list[Context]) -> None:
        by_collection: dict[str, list[Context]] = collections.defaultdict(list)
        for ctx in contexts:
            if ctx.status_id is not None or ctx.attributes or ctx.links:
                by_collection[ctx.obj.collection].append(ctx)
        for collection, group in by_collection.items():
            for chunk in chunks(group, self.objects.batch_size):
                items = [ctx.item() for ctx in chunk]
                objs = [ctx.obj for ctx in chunk]
                try:
                    answers = self.objects.consume(chunk[0].obj.stream, collection, items, objs)
                except OutcomeUnknown as error:
                    raise _Unsure(error, chunk) from None
                for ctx, item, answer in zip(chunk, items, answers, strict=True):
                    accepted(answer, ctx.obj.stream, {"id": ctx.obj.keys[0]}, item)
                    self._commit(ctx)

    def _commit(self, ctx: Context) -> None:
        """Remember what the object now holds, and that the other end of each link does."""
        obj = ctx.obj
        obj.status_set = obj.status_set or ctx.status_id is not None
        if obj.attributes is not None:
            obj.attributes |= set(ctx.attributes)
        self.held.counts[e.ATTRIBUTES]["created"] += len(ctx.attributes)
        for collection, targets in ctx.links.items():
            obj.links.setdefault(collection, set()).update(targets)
            self.held.counts[e.RELATIONSHIPS]["created"] += len(targets)
            for tq_id in targets:
                other = self.held.found.get((collection, tq_id))
                if other is not None and other.knows_links(obj.collection):
                    other.links.setdefault(obj.collection, set()).add(obj.tq_id)


class _Unsure(Exception):
    """A context write of unknown outcome, and the contexts it carried."""

    @override
    def __init__(self, error: OutcomeUnknown, contexts: list[Context]) -> None:
        super().__init__(str(error))
        self.error = error
        self.contexts = contexts
