"""How the mapper's rows reach ThreatQ: in batches, in two bulk passes, never twice.

A flush loads what the five streams gathered:

1. **Objects**: Corporate Emails, Indicators and Incidents through ``consume``, without context.
   ThreatQ finds an object it already has by its value (indicators by type and value) and
   answers its id; ``existing`` (or, when ThreatQ does not say, an id above the collection's
   highest id at start) tells which objects this run created.
2. **Context**: one more ``consume`` per collection carries, for each object, what it lacks:
   the status of an indicator this run created (an analyst's status on an existing one stays),
   the attributes and the links. For an object this run created, what it lacks is known. For one
   that was already there (a rerun, a look-back, ``--full-refresh``), its attributes and links
   are read first, so nothing is posted twice, even to an instance that would duplicate a
   re-posted attribute or link.

A write whose outcome is unknown (a 500, a timeout, a cut answer) is never repeated blindly: the
objects of a failed first pass are looked up by value, and those of a failed context write read
again, before the next try (after a timeout, not before twice ``request_timeout`` has passed:
a write ThreatQ takes longer than three times ``request_timeout`` to apply could still land
twice on an instance that duplicates re-posts).
"""

from __future__ import annotations

import collections
import re
import time
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import override

from tap_proofpoint_tap.mappers.threatq import entities as e
from tap_proofpoint_tap.targets.threatq import bodies
from tap_proofpoint_tap.targets.threatq.answers import flatten, one_line
from tap_proofpoint_tap.targets.threatq.errors import OutcomeUnknown, ThreatQError, ThreatQRefused
from tap_proofpoint_tap.targets.threatq.known import Context, Instance, Loaded, carrier, identity

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterator

    from tap_proofpoint_tap.targets.threatq.api import ThreatQClient

Row = dict[str, Any]  # one of the mapper's entity rows
Group = tuple[dict[str, Any], list[Row]]  # an item to post, and the rows that name it
_T = TypeVar("_T")

KINDS = {e.CORPORATE_EMAILS: "corporate_email", e.INDICATORS: "indicator", e.INCIDENTS: "incident"}
LABELS = {
    e.CORPORATE_EMAILS: "Corporate Emails",
    e.INDICATORS: "Indicators",
    e.ATTRIBUTES: "Indicator Attributes",
    e.INCIDENTS: "Incidents",
    e.RELATIONSHIPS: "Relationships",
}
_ITEM = re.compile(r"\(item (\d+)\)")


class Loader:
    """Gathers rows per stream and loads them into ThreatQ at :meth:`flush`."""

    def __init__(
        self, client: ThreatQClient, instance: Instance, batch_size: int, logger: logging.Logger
    ) -> None:
        self.client = client
        self.instance = instance
        self.batch_size = batch_size
        self.logger = logger
        self.pending: dict[str, list[Row]] = {s: [] for s in e.ENTITY_STREAMS}
        self.objects: dict[str, Loaded] = {}  # by mapper id
        self.found: dict[tuple[str, int], Loaded] = {}  # by ThreatQ collection and id
        self.counts: dict[str, collections.Counter[str]] = {
            s: collections.Counter() for s in e.ENTITY_STREAMS
        }
        self.clicks = 0

    def add(self, stream: str, row: Row) -> None:
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
        self._create(
            rows[e.INDICATORS],
            e.INDICATORS,
            lambda row: bodies.indicator_item(row, type_ids[row["type"]]),
        )
        self._create(rows[e.INCIDENTS], e.INCIDENTS, bodies.incident_item)
        waits = iter(self.client.waits)
        while True:
            contexts, present = self._contexts(rows)
            try:
                self._post_context(contexts)
            except _Unsure as unsure:
                self._wait(waits, unsure.error, "a context write")
                for ctx in unsure.contexts:  # read again what they hold before writing
                    ctx.obj.forget()
                    for collection, targets in ctx.links.items():
                        for tq_id in targets:
                            other = self.found.get((collection, tq_id))
                            if other is not None:
                                other.forget(ctx.obj.collection)
                continue
            for stream, count in present.items():
                self.counts[stream]["already there"] += count
            return

    def _wait(self, waits: Iterator[float], error: OutcomeUnknown, what: str) -> None:
        wait = next(waits, None)
        if wait is None:
            raise ThreatQError(
                f"ThreatQ did not confirm {what} after {len(self.client.waits) + 1} tries "
                f"({error}); what was loaded stays, run again later."
            )
        if error.timeout:  # the write may still be running: let it end before reading
            wait = max(wait, 2 * self.client.timeout)
        self.logger.warning(
            "ThreatQ: %s failed (%s); reading what it may have written in %g s", what, error, wait
        )
        time.sleep(wait)

    # -- pass 1: the objects --

    def _type_ids(self, indicators: list[Row]) -> dict[str, int]:
        """Indicator type names → ids; a type or status the instance lacks stops the run
        before anything of the batch is written."""
        out = {}
        for row in indicators:
            for kind, table in (
                ("type", self.instance.indicator_types),
                ("status", self.instance.statuses),
            ):
                name = row.get(kind)
                if name and name.casefold() not in table:
                    hint = (
                        "set the mapper's url_indicator_status/sender_indicator_status to "
                        f"one of {', '.join(sorted(table))}"
                        if kind == "status"
                        else "add the indicator type in ThreatQ (Settings → Indicator Types)"
                    )
                    raise ThreatQError(f"ThreatQ has no indicator {kind} named {name!r}: {hint}.")
            out[row["type"]] = self.instance.indicator_types[row["type"].casefold()]
        return out

    def _create(self, rows: list[Row], stream: str, build: Callable[[Row], dict[str, Any]]) -> None:
        collection = self.instance.collections[KINDS[stream]]
        todo = list({r["id"]: r for r in rows if r["id"] not in self.objects}.values())
        self.counts[stream]["already there"] += len(rows) - len(todo)  # loaded earlier this run
        for chunk in _chunks(todo, self.batch_size):
            groups: dict[tuple[Any, str], Group] = {}  # two spellings, one object
            for row in chunk:
                item = build(row)
                groups.setdefault(identity(item), (item, []))[1].append(row)
            self._post_objects(stream, collection, list(groups.values()))

    def _post_objects(self, stream: str, collection: str, groups: list[Group]) -> None:
        waits, unsure = iter(self.client.waits), False
        while groups:
            items = [item for item, _ in groups]
            try:
                answers = self._consume(stream, collection, items, [r for _, r in groups])
            except OutcomeUnknown as error:
                self._wait(waits, error, f"a write of {len(items)} {stream}")
                stored = self._look_up(collection, items)
                for (item, rows), tq_id in zip(groups, stored, strict=True):
                    if tq_id is not None:
                        self._record(stream, collection, rows, item, {"id": tq_id}, True)
                groups = [g for g, tq_id in zip(groups, stored, strict=True) if tq_id is None]
                unsure = True
                continue
            for (item, rows), answer in zip(groups, answers, strict=True):
                self._record(stream, collection, rows, item, answer, unsure)
            return

    def _look_up(self, collection: str, items: list[dict[str, Any]]) -> list[int | None]:
        """The id of each item ThreatQ holds already (looked up by value), else None."""
        out: list[int | None] = []
        for item in items:
            filters = {
                "value": item["value"],
                **({"type_id": item["type_id"]} if "type_id" in item else {}),
            }
            matches = [
                row["id"]
                for row in self.client.lookup(f"/api/{collection}", kind="read", **filters)
                if identity({**filters, "value": row.get("value", "")}) == identity(item)
            ]
            out.append(matches[0] if matches else None)
        return out

    def _record(
        self,
        stream: str,
        collection: str,
        rows: list[Row],
        item: dict[str, Any],
        answer: Any,
        unsure: bool,
    ) -> None:
        tq_id = _accepted(answer, stream, rows[0], item)
        existing = None if unsure else answer.get("existing")
        new = (
            existing == "N"
            if existing in ("N", "Y")
            else (tq_id > self.instance.marks.get(collection, 0))
        )
        obj = self.found.get((collection, tq_id))
        if obj is None:
            address = {k: v for k, v in item.items() if k in ("value", "type_id", "sources")}
            obj = self.found[collection, tq_id] = Loaded(stream, collection, tq_id, address, new)
        for row in rows:
            obj.keys.append(row["id"])
            self.objects[row["id"]] = obj
        self.counts[stream]["created" if new else "already there"] += len(rows)

    def _consume(
        self,
        stream: str,
        collection: str,
        items: list[dict[str, Any]],
        rows: list[list[Row]] | list[Loaded],
    ) -> list[Any]:
        """``consume``; a refusal names the entity it is about (ThreatQ says ``(item i)``)."""
        try:
            return self.client.consume(collection, items, idempotent=False)
        except ThreatQRefused as error:
            index = _ITEM.search(str(error))
            at = int(index[1]) if index and int(index[1]) < len(rows) else 0
            which = rows[at]
            name = which.name() if isinstance(which, Loaded) else f"{stream} {which[0]['id']}"
            role = "the item refused" if index else "the first"
            raise ThreatQRefused(
                f"{error} (loading {len(items)} {stream} rows; {role}: {name}, "
                f"value {items[at].get('value')!r})"
            ) from None

    # -- pass 2: status, attributes, links --

    def _contexts(
        self, rows: dict[str, list[Row]]
    ) -> tuple[list[Context], collections.Counter[str]]:
        """What each object still lacks (reading what is not known yet), and how many of the
        rows' attributes and links ThreatQ has already."""
        out: dict[int, Context] = {}
        present: collections.Counter[str] = collections.Counter()

        def context(obj: Loaded) -> Context:
            return out.setdefault(id(obj), Context(obj))

        for row in rows[e.INDICATORS]:
            obj = self.objects[row["id"]]
            if obj.attributes is None:
                self._read_attributes(obj, row.get("source"))
            if row.get("status") and obj.needs_status():
                context(obj).status_id = self.instance.statuses[row["status"].casefold()]
        for row in rows[e.ATTRIBUTES]:
            obj = self._referred(row, "indicator_id")
            held = obj.attributes
            if held is None:
                held = self._read_attributes(obj, row.get("source"))
            attribute = (row["name"].casefold(), str(row["value"]))
            if attribute in held:
                present[e.ATTRIBUTES] += 1
            else:
                context(obj).attributes[attribute] = bodies.attribute_item(row)
        for row in rows[e.RELATIONSHIPS]:
            end, other = carrier(self._referred(row, "source_id"), self._referred(row, "target_id"))
            if not end.knows_links(other.collection):
                end.links[other.collection] = {
                    o["id"]
                    for o in self.client.related(end.collection, end.tq_id, other.collection)
                }
            if other.tq_id in end.links.get(other.collection, ()):
                present[e.RELATIONSHIPS] += 1
            else:
                context(end).links.setdefault(other.collection, set()).add(other.tq_id)
        return list(out.values()), present

    def _read_attributes(self, obj: Loaded, source: str | None) -> set[tuple[str, str]]:
        """What the object holds in ThreatQ (kept on it, and returned)."""
        rows = self.client.attributes(obj.collection, obj.tq_id)
        held = {(a["name"].casefold(), str(a.get("value"))) for a in rows}
        obj.attributes = held
        obj.ours = any(
            isinstance(s, dict) and s.get("name") == source
            for a in rows
            for s in (a["sources"] if isinstance(a.get("sources"), list) else ())
        )
        return held

    def _referred(self, row: Row, key: str) -> Loaded:
        obj = self.objects.get(row[key])
        if obj is None:
            raise ThreatQError(
                f"{row['id']} refers to {key} {row[key]}, which no earlier row "
                "of this run created: feed target-threatq the whole output of "
                "mapper-proofpoint-threatq."
            )
        return obj

    def _post_context(self, contexts: list[Context]) -> None:
        by_collection: dict[str, list[Context]] = collections.defaultdict(list)
        for ctx in contexts:
            if ctx.status_id is not None or ctx.attributes or ctx.links:
                by_collection[ctx.obj.collection].append(ctx)
        for collection, group in by_collection.items():
            for chunk in _chunks(group, self.batch_size):
                items = [ctx.item() for ctx in chunk]
                objs = [ctx.obj for ctx in chunk]
                try:
                    answers = self._consume(chunk[0].obj.stream, collection, items, objs)
                except OutcomeUnknown as error:
                    raise _Unsure(error, chunk) from None
                for ctx, item, answer in zip(chunk, items, answers, strict=True):
                    _accepted(answer, ctx.obj.stream, {"id": ctx.obj.keys[0]}, item)
                    self._commit(ctx)

    def _commit(self, ctx: Context) -> None:
        """Remember what the object now holds, and that the other end of each link does."""
        obj = ctx.obj
        obj.status_set = obj.status_set or ctx.status_id is not None
        if obj.attributes is not None:
            obj.attributes |= set(ctx.attributes)
        self.counts[e.ATTRIBUTES]["created"] += len(ctx.attributes)
        for collection, targets in ctx.links.items():
            obj.links.setdefault(collection, set()).update(targets)
            self.counts[e.RELATIONSHIPS]["created"] += len(targets)
            for tq_id in targets:
                other = self.found.get((collection, tq_id))
                if other is not None and other.knows_links(obj.collection):
                    other.links.setdefault(obj.collection, set()).add(obj.tq_id)


class _Unsure(Exception):
    """A context write of unknown outcome, and the contexts it carried."""

    @override
    def __init__(self, error: OutcomeUnknown, contexts: list[Context]) -> None:
        super().__init__(str(error))
        self.error = error
        self.contexts = contexts


def _accepted(answer: Any, stream: str, row: Row, item: dict[str, Any]) -> int:
    """The id ThreatQ gave an item; a per-item error stops the run, naming the entity."""
    if not isinstance(answer, dict):
        answer = {"error": answer}
    reason = answer.get("error") or answer.get("errors")
    if reason or not isinstance(answer.get("id"), int):
        raise ThreatQError(
            f"ThreatQ refused {stream} {row['id']} (value {item.get('value')!r}): "
            f"{one_line(flatten(reason)) if reason else 'no id in its answer'}; nothing after it "
            "is loaded."
        )
    tq_id: int = answer["id"]
    return tq_id


def _chunks(items: list[_T], size: int) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
