"""The first pass of a load: each object created in ThreatQ, or found there, once.

Objects go through ``consume`` without context. ThreatQ finds an object it already has by its
value (indicators by type and value, adversaries by name) and answers its id; ``existing``
(or, when ThreatQ does not say, an id above the collection's highest id before this run first
wrote into it) tells which objects this run created. Events and campaigns are the exception:
ThreatQ does not deduplicate events, and a campaign Proofpoint renamed would be a second one, so
each is looked up first, by the GUID in its title or by its Campaign ID attribute
(:mod:`.references`), and only the ones not found are created.

A write whose outcome is unknown (a 500, a timeout, a cut answer) is never repeated blindly:
the objects are looked up by value first (after a timeout, not before twice
``request_timeout`` has passed).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.targets.threatq.answers import flatten, one_line
from tap_proofpoint_tap.targets.threatq.errors import OutcomeUnknown, ThreatQError, ThreatQRefused
from tap_proofpoint_tap.targets.threatq.known import KINDS, NAMES, Loaded, identity, name_of

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterator, Sequence

    from tap_proofpoint_tap.targets.threatq.api import ThreatQClient
    from tap_proofpoint_tap.targets.threatq.known import Held, Instance
    from tap_proofpoint_tap.targets.threatq.references import References

Row = dict[str, Any]  # one of the mapper's entity rows
Group = tuple[dict[str, Any], list[Row]]  # an item to post, and the rows that name it

_ITEM = re.compile(r"\(item (\d+)\)")
# Objects ThreatQ may hold under another name, or more than once: found by their Proofpoint key
# (:mod:`.references`) before they are created. ThreatQ does not deduplicate events; a campaign
# Proofpoint renamed would become a second one.
FOUND_BY = {"event": "guid", "campaign": "campaign_id"}
# What a context item repeats of its object: what names it, and what ThreatQ requires of it
# even when the item names the object by id (an event's type and time), and our source.
ADDRESS = ("value", "name", "title", "type_id", "happened_at", "sources")


class Objects:
    """Creates or finds the objects of a load's rows, registering each in ``held``."""

    def __init__(
        self,
        client: ThreatQClient,
        instance: Instance,
        held: Held,
        references: References,
        batch_size: int,
        logger: logging.Logger,
    ) -> None:
        self.client, self.instance, self.held = client, instance, held
        self.references, self.batch_size, self.logger = references, batch_size, logger

    def create(self, stream: str, rows: list[Row], build: Callable[[Row], dict[str, Any]]) -> None:
        if not rows:
            return
        kind = KINDS[stream]
        collection = self.instance.collections[kind]
        todo = list({r["id"]: r for r in rows if r["id"] not in self.held.objects}.values())
        self.held.counts[stream]["already there"] += len(rows) - len(todo)  # loaded this run
        built = [(row, build(row)) for row in todo]
        if kind in FOUND_BY:
            built = self._unless_found(stream, collection, built)
        if built and collection not in self.instance.marks:
            self.instance.marks[collection] = self.client.highest_id(collection)
        for chunk in chunks(built, self.batch_size):
            groups: dict[tuple[Any, str], Group] = {}  # two spellings, one object
            for row, item in chunk:
                groups.setdefault(identity(item), (item, []))[1].append(row)
            self._post(stream, collection, list(groups.values()))

    def _unless_found(
        self, stream: str, collection: str, built: list[tuple[Row, dict[str, Any]]]
    ) -> list[tuple[Row, dict[str, Any]]]:
        """The events and campaigns ThreatQ holds none of; the others are registered as
        found, as ThreatQ names them (a campaign Proofpoint renamed keeps its first name)."""
        kind, field = KINDS[stream], FOUND_BY[KINDS[stream]]
        out = []
        for row, item in built:
            found = self.references.find(kind, row[field]) if row.get(field) else None
            if found is None:
                out.append((row, item))
            else:
                self._record(stream, collection, [row], {**item, **found[1]}, found[0], False)
        return out

    def _post(self, stream: str, collection: str, groups: list[Group]) -> None:
        waits, unsure = iter(self.client.waits), False
        while groups:
            items = [item for item, _ in groups]
            try:
                answers = self.consume(stream, collection, items, [r for _, r in groups])
            except OutcomeUnknown as error:
                wait(self.client, self.logger, waits, error, f"a write of {len(items)} {stream}")
                stored = self._look_up(collection, items)
                mark = self.instance.marks.get(collection, 0)
                for (item, rows), tq_id in zip(groups, stored, strict=True):
                    if tq_id is not None:  # the failed write's, when above the mark
                        self._record(stream, collection, rows, item, tq_id, tq_id > mark)
                groups = [g for g, tq_id in zip(groups, stored, strict=True) if tq_id is None]
                unsure = True
                continue
            for (item, rows), answer in zip(groups, answers, strict=True):
                tq_id = accepted(answer, stream, rows[0], item)
                existing = None if unsure else answer.get("existing")
                new = (
                    existing == "N"
                    if existing in ("N", "Y")
                    else tq_id > self.instance.marks.get(collection, 0)
                )
                self._record(stream, collection, rows, item, tq_id, new)
            return

    def _look_up(self, collection: str, items: list[dict[str, Any]]) -> list[int | None]:
        """The id of each item ThreatQ holds already (looked up by what names it), else None."""
        out: list[int | None] = []
        for item in items:
            field: str = next(k for k in ("value", "name", "title") if k in item)
            filters: dict[str, Any] = {field: name_of(item)}
            if "type_id" in item:
                filters["type_id"] = item["type_id"]
            matches = [
                row["id"]
                for row in self.client.lookup(f"/api/{collection}", kind="read", **filters)
                if field in row and identity({**filters, field: str(row[field])}) == identity(item)
            ]
            out.append(min(matches) if matches else None)
        return out

    def _record(
        self,
        stream: str,
        collection: str,
        rows: list[Row],
        item: dict[str, Any],
        tq_id: int,
        new: bool,
    ) -> None:
        address = {k: v for k, v in item.items() if k in ADDRESS}
        self.held.register(Loaded(stream, collection, tq_id, address, new), [r["id"] for r in rows])
        self.held.counts[stream]["created" if new else "already there"] += len(rows)

    def consume(
        self,
        stream: str,
        collection: str,
        items: list[dict[str, Any]],
        rows: Sequence[list[Row] | Loaded],
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
                f"{NAMES.get(KINDS.get(stream, ''), 'value')} {name_of(items[at])!r})"
            ) from None


def wait(
    client: ThreatQClient,
    logger: logging.Logger,
    waits: Iterator[float],
    error: OutcomeUnknown,
    what: str,
) -> None:
    """Before reading what a write of unknown outcome left: the next wait, or the end."""
    pause = next(waits, None)
    if pause is None:
        raise ThreatQError(
            f"ThreatQ did not confirm {what} after {len(client.waits) + 1} tries "
            f"({error}); what was loaded stays, run again later."
        )
    if error.timeout:  # the write may still be running: let it end before reading
        pause = max(pause, 2 * client.timeout)
    logger.warning(
        "ThreatQ: %s failed (%s); reading what it may have written in %g s", what, error, pause
    )
    time.sleep(pause)


def accepted(answer: Any, stream: str, row: Row, item: dict[str, Any]) -> int:
    """The id ThreatQ gave an item; a per-item error stops the run, naming the entity."""
    if not isinstance(answer, dict):
        answer = {"error": answer}
    reason = answer.get("error") or answer.get("errors")
    if reason or not isinstance(answer.get("id"), int):
        raise ThreatQError(
            f"ThreatQ refused {stream} {row['id']} ({NAMES.get(KINDS.get(stream, ''), 'value')} "
            f"{name_of(item)!r}): "
            f"{one_line(flatten(reason)) if reason else 'no id in its answer'}; nothing after it "
            "is loaded."
        )
    tq_id: int = answer["id"]
    return tq_id


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
