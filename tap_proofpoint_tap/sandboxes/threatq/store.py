"""The in-memory Threat Library: objects, their context (attributes, sources, tags) and links.

Dedup follows threatq-api.md §4.5, §5 and §9; the ``Policy`` switches play the pessimistic
cases the document leaves open (§13).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.sandboxes.threatq.records import (
    AttributeRow,
    Pivot,
    Policy,
    Record,
    Ref,
    SourceLink,
    normalise_url,
)
from tap_proofpoint_tap.sandboxes.threatq.render import render_pivot, render_record
from tap_proofpoint_tap.sandboxes.threatq.validate import Attribute, Invalid, Item, Source

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from tap_proofpoint_tap.sandboxes.threatq.lookups import Lookups, ObjectType

UNDEDUPLICATED = frozenset({"events", "tasks", "attachments"})


class Store:
    """All stored objects; every public method is safe to call from the server's threads."""

    def __init__(
        self,
        lookups: Lookups,
        policy: Policy | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.lookups = lookups
        self.policy = policy or Policy()
        self.lock = threading.RLock()
        self.records: dict[str, dict[int, Record]] = {o.collection: {} for o in lookups.objects}
        self.pivots: dict[int, Pivot] = {}
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._keys: dict[tuple[Any, ...], int] = {}
        self._pairs: dict[frozenset[Ref], int] = {}
        self._adjacent: dict[Ref, set[int]] = defaultdict(set)
        self._names: dict[str, dict[str, int]] = defaultdict(dict)  # sources, attribute keys
        self._last: dict[str, int] = defaultdict(int)

    @property
    def collections(self) -> frozenset[str]:
        return frozenset(self.records)

    def stamp(self) -> str:
        return self._now().strftime("%Y-%m-%d %H:%M:%S")

    def _next(self, kind: str) -> int:
        self._last[kind] += 1
        return self._last[kind]

    def _name_id(self, table: str, name: str) -> int:
        """Sources and attribute keys are global tables keyed on the name, in any case."""
        ids = self._names[table]
        return ids.setdefault(name.casefold(), len(ids) + 1)

    def source_id(self, name: str) -> int:
        with self.lock:
            return self._name_id("sources", name)

    def _key(self, otype: ObjectType, fields: dict[str, Any]) -> tuple[Any, ...] | None:
        collection = otype.collection
        if collection in UNDEDUPLICATED or (
            collection == "incident" and not self.policy.incident_dedup
        ):
            return None
        value = fields[otype.key].casefold()
        if "type_id" in fields:
            return collection, fields["type_id"], value
        return collection, value

    def _normalise(self, otype: ObjectType, fields: dict[str, Any]) -> None:
        url = self.lookups.indicator_type("URL")
        if (
            self.policy.normalize_urls
            and otype.collection == "indicators"
            and url
            and fields["type_id"] == url["id"]
        ):
            fields["value"] = normalise_url(fields["value"])

    def existing(self, otype: ObjectType, fields: dict[str, Any]) -> Record | None:
        """The stored object an item with ``fields`` would merge into (None for events)."""
        with self.lock:
            fields = dict(fields)
            self._normalise(otype, fields)
            key = self._key(otype, fields)
            found = self._keys.get(key) if key is not None else None
            return self.get(otype.collection, found) if found is not None else None

    def get(self, collection: str, object_id: int) -> Record | None:
        with self.lock:
            return self.records.get(collection, {}).get(object_id)

    def unknown_refs(self, otype: ObjectType, item: Item) -> list[str]:
        """Ids the item names (its own ``id`` or link targets) that are not stored."""
        wanted = [(otype.collection, item.target_id)] if item.target_id is not None else []
        wanted += [(collection, i) for collection, ids in item.links.items() for i in ids]
        with self.lock:
            return [f"{c}/{i}" for c, i in wanted if self.get(c, i) is None]

    def upsert(self, otype: ObjectType, item: Item, default: Source) -> tuple[Record, bool]:
        """Create or merge an object with its context and links; True when it existed."""
        with self.lock:
            fields = dict(item.fields)
            self._normalise(otype, fields)
            key = self._key(otype, fields)
            now = self.stamp()
            found = item.target_id
            if found is None and key is not None:
                found = self._keys.get(key)
            record = self.get(otype.collection, found) if found is not None else None
            existed = record is not None
            if record is None:
                record = Record(
                    otype, self._next(otype.collection), {**item.defaults, **fields}, now, now, now
                )
                self.records[otype.collection][record.id] = record
                if key is not None:
                    self._keys[key] = record.id
            else:
                changes = {
                    k: v for k, v in fields.items() if k != otype.key and record.fields.get(k) != v
                }
                record.fields.update(changes)
                record.updated_at = now if changes else record.updated_at
                record.touched_at = now
            given = item.sources or [default]
            for source in given:
                self.add_source(record, source)
            for attribute in item.attributes:
                self.add_attribute(record, attribute, list(attribute.sources) or given)
            self.add_tags(record, item.tags)
            for collection, ids in item.links.items():
                for target in ids:
                    self.link(record, self.records[collection][target])
            return record, existed

    def update(self, record: Record, fields: dict[str, Any]) -> None:
        """PUT: replace fields; renaming onto another object's identity is refused."""
        with self.lock:
            fields = dict(fields)
            self._normalise(record.otype, fields)
            old, new = self._key(record.otype, record.fields), self._key(record.otype, fields)
            if new is not None and self._keys.get(new, record.id) != record.id:
                raise Invalid(record.otype.key, f"The {record.otype.key} has already been taken.")
            if old is not None:
                self._keys.pop(old, None)
            if new is not None:
                self._keys[new] = record.id
            record.fields.update(fields)
            record.updated_at = record.touched_at = self.stamp()

    def delete(self, record: Record) -> None:
        with self.lock:
            self.unlink(record, None, set(self._adjacent[record.ref]))
            key = self._key(record.otype, record.fields)
            if key is not None:
                self._keys.pop(key, None)
            del self.records[record.otype.collection][record.id]

    def _attach(
        self, links: list[SourceLink], source: Source, kind: str
    ) -> tuple[SourceLink, bool]:
        source_id = self._name_id("sources", source.name)
        for link in links:
            if link.source_id == source_id:
                return link, True
        link = SourceLink(
            self._next(kind),
            source_id,
            source.name,
            source.source_type,
            source.tlp_id,
            source.published_at,
            self.stamp(),
        )
        links.append(link)
        return link, False

    def add_source(self, record: Record, source: Source) -> tuple[SourceLink, bool]:
        """The object's link to ``source``, made if new; True when it existed."""
        with self.lock:
            return self._attach(record.sources, source, "source_link")

    def add_attribute(
        self, record: Record, attribute: Attribute, sources: Iterable[Source]
    ) -> tuple[AttributeRow, bool]:
        """A (name, value) row, merged with an equal one unless ``duplicate_reposts``."""
        with self.lock:
            key_id = self._name_id("attributes", attribute.name)
            now = self.stamp()
            row = (
                None
                if self.policy.duplicate_reposts
                else next(
                    (
                        r
                        for r in record.attributes
                        if r.attribute_id == key_id
                        and r.value.casefold() == attribute.value.casefold()
                    ),
                    None,
                )
            )
            existed = row is not None
            if row is None:
                row = AttributeRow(
                    self._next("attribute_row"),
                    key_id,
                    attribute.name,
                    attribute.value,
                    attribute.published_at,
                    now,
                    now,
                    now,
                )
                record.attributes.append(row)
            row.touched_at = now
            for source in sources:
                self._attach(row.sources, source, "attribute_source")
            return row, existed

    def edit_attribute(self, record: Record, row_id: int, value: str | None) -> AttributeRow:
        """PUT (a new ``value``) or DELETE (``value`` None) one row; KeyError if absent."""
        with self.lock:
            row = next((r for r in record.attributes if r.id == row_id), None)
            if row is None:
                raise KeyError(row_id)
            if value is None:
                record.attributes.remove(row)
            else:
                row.value, row.updated_at = value, self.stamp()
                row.touched_at = row.updated_at
            return row

    def remove_source(self, record: Record, link_id: int) -> None:
        """Drop one source link of ``record``; KeyError if absent."""
        with self.lock:
            link = next((s for s in record.sources if s.id == link_id), None)
            if link is None:
                raise KeyError(link_id)
            record.sources.remove(link)

    def add_tags(self, record: Record, names: Iterable[str]) -> list[dict[str, Any]]:
        """Tags are unique per object, any case; the object's tags after the call."""
        with self.lock:
            for name in names:
                if name.casefold() not in {t.casefold() for t in record.tags}:
                    record.tags.append(name)
            return [{"name": t} for t in record.tags]

    def link(self, a: Record, b: Record) -> Pivot | None:
        """One pivot per unordered pair (unless ``duplicate_reposts``); None past the limit."""
        with self.lock:
            pair = frozenset((a.ref, b.ref))
            if not self.policy.duplicate_reposts and pair in self._pairs:
                return self.pivots[self._pairs[pair]]
            for end in (a, b):
                if len(self._adjacent[end.ref]) >= self.policy.relationship_limit:
                    end.limit_reached = True
                    return None
            now = self.stamp()
            pivot = Pivot(self._next("pivot"), a.ref, b.ref, now, now)
            self.pivots[pivot.id] = pivot
            self._pairs.setdefault(pair, pivot.id)
            self._adjacent[a.ref].add(pivot.id)
            self._adjacent[b.ref].add(pivot.id)
            return pivot

    def related(self, record: Record, collection: str) -> list[tuple[Record, Pivot]]:
        """The objects of ``collection`` linked to ``record``, whichever end made the link."""
        with self.lock:
            out = []
            for pivot_id in sorted(self._adjacent[record.ref]):
                pivot = self.pivots[pivot_id]
                other = pivot.dest if pivot.src == record.ref else pivot.src
                if other[0] == collection:
                    out.append((self.records[other[0]][other[1]], pivot))
            return out

    def unlink(self, record: Record, collection: str | None, pivot_ids: Iterable[Any]) -> int:
        """Drop the given pivots of ``record`` (to ``collection``, or any); how many went."""
        with self.lock:
            gone = 0
            for pivot_id in pivot_ids:
                pivot = self.pivots.get(pivot_id) if isinstance(pivot_id, int) else None
                if pivot is None or record.ref not in (pivot.src, pivot.dest):
                    continue
                other = pivot.dest if pivot.src == record.ref else pivot.src
                if collection is not None and other[0] != collection:
                    continue
                del self.pivots[pivot_id]
                for end in (pivot.src, pivot.dest):
                    self._adjacent[end].discard(pivot_id)
                pair = frozenset((pivot.src, pivot.dest))
                if self._pairs.get(pair) == pivot_id:
                    del self._pairs[pair]
                gone += 1
            return gone

    # -- ground truth for tests (in process; ``dump`` is the same over HTTP) --

    def counts(self) -> dict[str, int]:
        """Objects per collection, plus ``attributes`` (rows on every object) and ``pivots``."""
        with self.lock:
            counts = {c: len(r) for c, r in self.records.items()}
            counts["attributes"] = sum(
                len(r.attributes) for rs in self.records.values() for r in rs.values()
            )
            counts["pivots"] = len(self.pivots)
            return counts

    def count(self, collection: str) -> int:
        """Objects stored in ``collection`` (KeyError for a collection the instance lacks)."""
        with self.lock:
            return len(self.records[collection])

    def objects(self, collection: str) -> list[dict[str, Any]]:
        """Every object of ``collection`` in id order, as ``GET …?with=attributes,sources,tags``
        renders it."""
        with self.lock:
            return [
                render_record(self.lookups, r, {"attributes", "sources", "tags"})
                for _, r in sorted(self.records[collection].items())
            ]

    def keys(self, collection: str) -> list[str]:
        """Each object's identifying field (``value``, ``name`` or ``title``) in id order; a
        title twice means two events."""
        with self.lock:
            return [r.fields[r.otype.key] for _, r in sorted(self.records[collection].items())]

    def attribute_rows(self, collection: str) -> dict[str, list[tuple[str, str]]]:
        """Identifying field → the object's attribute rows as (name, value), in row order (a
        key held by two events holds both events' rows)."""
        with self.lock:
            out: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for _, record in sorted(self.records[collection].items()):
                out[record.fields[record.otype.key]] += [
                    (row.name, row.value) for row in record.attributes
                ]
            return dict(out)

    def links(self, a: str, b: str) -> list[tuple[int, int]]:
        """Every pivot between collections ``a`` and ``b`` as (id in ``a``, id in ``b``),
        whichever end made it, sorted; a pair twice means two pivots (``duplicate_reposts``).
        For ``a == b`` each pivot is (src, dest)."""
        with self.lock:
            out = []
            for pivot in self.pivots.values():
                ends = (pivot.src, pivot.dest)
                if (pivot.src[0], pivot.dest[0]) == (a, b):
                    out.append((ends[0][1], ends[1][1]))
                elif (pivot.dest[0], pivot.src[0]) == (a, b):
                    out.append((ends[1][1], ends[0][1]))
            return sorted(out)

    def link_counts(self) -> dict[tuple[str, str], int]:
        """Pivots per unordered pair of collections, the pair's names sorted."""
        with self.lock:
            out: dict[tuple[str, str], int] = defaultdict(int)
            for pivot in self.pivots.values():
                first, second = sorted((pivot.src[0], pivot.dest[0]))
                out[first, second] += 1
            return dict(out)

    def dump(self) -> dict[str, Any]:
        """Everything stored: objects with attributes (and their sources), sources, tags; pivots."""
        with self.lock:
            objects: dict[str, list[dict[str, Any]]] = {}
            for collection, records in self.records.items():
                objects[collection] = []
                for record in records.values():
                    out = render_record(self.lookups, record, {"attributes", "sources", "tags"})
                    out["relationship_limit_reached"] = record.limit_reached
                    objects[collection].append(out)
            pivots = [render_pivot(self.lookups, p) for p in self.pivots.values()]
            return {"objects": objects, "pivots": pivots, "counts": self.counts()}
