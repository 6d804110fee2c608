"""The authenticated ``/api`` routes: lookups, creates and consume, reads, context and links.

Shapes follow threatq-api.md §3 to §7. Every route returns a ``Reply``; failures raise
``HttpError`` (or ``Invalid`` for 400 validation errors) and ``dispatch`` turns them into replies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.sandboxes.threatq.envelope import HttpError, Reply, embeds, matches, page
from tap_proofpoint_tap.sandboxes.threatq.render import (
    render_attribute,
    render_pivot,
    render_record,
    render_source,
)
from tap_proofpoint_tap.sandboxes.threatq.validate import (
    Invalid,
    Item,
    Source,
    attributes,
    parse,
    sources,
    tags,
    text,
)

if TYPE_CHECKING:
    from tap_proofpoint_tap.sandboxes.threatq.lookups import Lookups, ObjectType
    from tap_proofpoint_tap.sandboxes.threatq.records import Record
    from tap_proofpoint_tap.sandboxes.threatq.store import Store


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise HttpError(405, "Method not allowed.")


def _entries(body: Any) -> list[Any]:
    return body if isinstance(body, list) else [body]


class Api:
    """``max_items``: consume items per call (413 past it); ``lean_consume``: consume answers
    only ``{id, value|name|title}`` per item, without ``type_id`` or ``existing``."""

    def __init__(
        self, lookups: Lookups, store: Store, *, max_items: int = 500, lean_consume: bool = False
    ) -> None:
        self.lookups = lookups
        self.store = store
        self.max_items = max_items
        self.lean_consume = lean_consume

    def dispatch(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: Any,
        caller: Source,
        rejections: dict[int, str],
    ) -> Reply:
        """Answer one request; ``rejections``: item index → per-item error (fault injection).

        Requests are served one at a time under the store's lock: simpler to reason about than
        ThreatQ's own concurrency, and a loader's retries still meet consistent state.
        """
        try:
            with self.store.lock:
                return self._route(
                    method, path.strip("/").split("/")[1:], params, body, caller, rejections
                )
        except Invalid as error:
            return Reply(400, {"data": {"errors": error.errors}})
        except HttpError as error:
            return Reply(error.status, error.body)

    def _route(  # noqa: PLR0911  (one return per route)
        self,
        method: str,
        parts: list[str],
        params: dict[str, str],
        body: Any,
        caller: Source,
        rejections: dict[int, str],
    ) -> Reply:
        if parts[:1] in (["indicator"], ["event"]) and len(parts) in (2, 3):
            return self._lookup(method, parts, params, body)
        if parts == ["objects"]:
            _allow(method, "GET")
            return Reply(200, page(self.lookups.objects_payload(), params))
        otype = self.lookups.object_type(parts[0]) if parts else None
        if otype is None:
            raise HttpError(404, "Not Found")
        rest = parts[1:]
        if not rest:
            return self._collection(method, otype, params, body, caller, rejections)
        if rest == ["consume"] or (rest == ["consume", "new"] and otype.collection == "indicators"):
            _allow(method, "POST")
            return self._consume(otype, body, caller, rejections)
        record = self.store.get(otype.collection, int(rest[0])) if rest[0].isdigit() else None
        if record is None:
            raise HttpError(404, f"No {otype.name} with id {rest[0]}.")
        sub, tail = (rest[1], rest[2:]) if len(rest) > 1 else (None, [])
        if sub is None:
            return self._object(method, record, params, body)
        if sub == "description" and not tail and otype.collection == "adversaries":
            return self._description(method, record, body)
        if sub == "attributes" and len(tail) <= 1:
            return self._attributes(method, record, tail, params, body, caller)
        if sub == "sources" and len(tail) <= 1:
            return self._sources(method, record, tail, params, body, caller)
        if sub == "tags" and not tail:
            _allow(method, "GET", "POST")
            names = tags(body) if method == "POST" else []
            return Reply(201 if names else 200, {"data": self.store.add_tags(record, names)})
        if sub in self.store.collections and not tail:
            return self._links(method, record, sub, params, body)
        raise HttpError(404, "Not Found")

    def _lookup(self, method: str, parts: list[str], params: dict[str, str], body: Any) -> Reply:
        tables: dict[tuple[str, str], list[dict[str, Any]]] = {
            ("indicator", "types"): self.lookups.indicator_types,
            ("indicator", "statuses"): self.lookups.statuses,
            ("event", "types"): self.lookups.event_types,
        }
        rows = tables.get((parts[0], parts[1]))
        if rows is None:
            raise HttpError(404, "Not Found")
        if len(parts) == 3:  # noqa: PLR2004  (<type>/<table>/<id>: one row)
            _allow(method, "GET")
            row = next((r for r in rows if str(r["id"]) == parts[2]), None)
            if row is None:
                raise HttpError(404, f"No {parts[0]} {parts[1]} with id {parts[2]}.")
            return Reply(200, {"data": row})
        if method == "POST" and parts[0] == "event":
            name = text("name", body.get("name") if isinstance(body, dict) else None) or ""
            return Reply(201, {"data": self.lookups.add_event_type(name)})
        _allow(method, "GET")
        return Reply(200, page([r for r in rows if matches(r, params)], params))

    def _collection(
        self,
        method: str,
        otype: ObjectType,
        params: dict[str, str],
        body: Any,
        caller: Source,
        rejections: dict[int, str],
    ) -> Reply:
        _allow(method, "GET", "POST")
        if method == "GET":
            rows = [
                render_record(self.lookups, r, embeds(params))
                for r in self.store.records[otype.collection].values()
            ]
            return Reply(200, page([r for r in rows if matches(r, params)], params))
        if otype.collection == "adversaries" and self.store.policy.adversary_name_taken:
            self._names_free(otype, _entries(body))
        results = self._create(otype, _entries(body), caller, rejections, consume=False)
        if isinstance(body, list) or otype.collection == "indicators":
            return Reply(201, {"total": len(results), "data": results})
        return Reply(201, {"data": results[0]})

    def _names_free(self, otype: ObjectType, entries: list[Any]) -> None:
        """``adversary_name_taken``: 400 when a posted name is stored already or sent twice."""
        seen: set[str] = set()
        for raw in entries:
            name = raw.get("name") if isinstance(raw, dict) else None
            if not isinstance(name, str):
                continue  # parse() answers the missing name
            taken = name.strip().casefold() in seen
            if taken or self.store.existing(otype, {"name": name.strip()}) is not None:
                raise Invalid("name", "The name has already been taken.")
            seen.add(name.strip().casefold())

    def _consume(
        self, otype: ObjectType, body: Any, caller: Source, rejections: dict[int, str]
    ) -> Reply:
        if not isinstance(body, list):
            raise HttpError(400, "The request body must be a JSON array of objects.")
        if len(body) > self.max_items:
            raise HttpError(
                413, f"Too many items: {len(body)} in one call (at most {self.max_items})."
            )
        return Reply(201, {"data": self._create(otype, body, caller, rejections, consume=True)})

    def _create(
        self,
        otype: ObjectType,
        entries: list[Any],
        caller: Source,
        rejections: dict[int, str],
        *,
        consume: bool,
    ) -> list[dict[str, Any]]:
        """Validate every item first (one bad item: 400, nothing stored), then store each."""
        parsed = []
        for i, raw in enumerate(entries):
            try:
                parsed.append(parse(raw, otype, self.lookups, self.store.collections))
            except Invalid as error:
                if len(entries) > 1:
                    error.errors = {
                        k: [f"{m} (item {i})" for m in v] for k, v in error.errors.items()
                    }
                raise
        out = []
        for i, item in enumerate(parsed):
            missing = self.store.unknown_refs(otype, item)
            reason = rejections.get(i) or (
                "Unknown related object(s): " + ", ".join(missing) if missing else None
            )
            if reason is not None:
                out.append(self._failed(otype, item, reason))
                continue
            record, existed = self.store.upsert(otype, item, caller)
            out.append(self._created(record, existed, consume))
        return out

    @staticmethod
    def _failed(otype: ObjectType, item: Item, reason: str) -> dict[str, Any]:
        out = {otype.key: item.fields[otype.key], "error": reason}
        if "type_id" in item.fields:
            out["type_id"] = item.fields["type_id"]
        return out

    def _created(self, record: Record, existed: bool, consume: bool) -> dict[str, Any]:
        if consume and self.lean_consume:
            key = record.otype.key
            return {"id": record.id, key: record.fields[key]}
        embed = set() if consume else {"attributes", "sources"}
        return {**render_record(self.lookups, record, embed), "existing": "Y" if existed else "N"}

    def _object(self, method: str, record: Record, params: dict[str, str], body: Any) -> Reply:
        _allow(method, "GET", "PUT", "DELETE")
        if method == "DELETE":
            self.store.delete(record)
            return Reply(204)
        if method == "PUT":
            if not isinstance(body, dict):
                raise HttpError(400, "The request body must be a JSON object.")
            base = dict(record.fields)
            for name in ("type", "status"):
                if name in body or f"{name}_id" in body:
                    base.pop(f"{name}_id", None)
            item = parse({**base, **body}, record.otype, self.lookups, frozenset())
            self.store.update(record, item.fields)
        return Reply(200, {"data": render_record(self.lookups, record, embeds(params))})

    def _description(self, method: str, record: Record, body: Any) -> Reply:
        """An adversary's description is its own sub-resource (§5): POST ``{value}`` replaces
        it (one description per adversary: the contract shows no list), GET reads it."""
        _allow(method, "GET", "POST")
        if method == "POST":
            value = text("value", body.get("value") if isinstance(body, dict) else None)
            self.store.update(record, {**record.fields, "description": value})
        row = {
            "adversary_id": record.id,
            "value": record.fields.get("description"),
            "updated_at": record.updated_at,
        }
        return Reply(201 if method == "POST" else 200, {"data": row})

    def _attributes(
        self,
        method: str,
        record: Record,
        tail: list[str],
        params: dict[str, str],
        body: Any,
        caller: Source,
    ) -> Reply:
        if not tail:
            _allow(method, "GET", "POST")
            if method == "POST":
                posted = [
                    self.store.add_attribute(record, a, list(a.sources) or [caller])[0]
                    for a in attributes(_entries(body))
                ]
                return Reply(
                    201,
                    {"total": len(posted), "data": [render_attribute(record, r) for r in posted]},
                )
            rows = [render_attribute(record, r) for r in record.attributes]
            return Reply(200, page(rows, params))
        _allow(method, "PUT", "DELETE")
        value = None
        if method == "PUT":
            value = text("value", body.get("value") if isinstance(body, dict) else None)
        try:
            row = self.store.edit_attribute(
                record, int(tail[0]) if tail[0].isdigit() else -1, value
            )
        except KeyError:
            raise HttpError(404, f"No attribute row {tail[0]}.") from None
        return Reply(204) if value is None else Reply(200, {"data": render_attribute(record, row)})

    def _sources(
        self,
        method: str,
        record: Record,
        tail: list[str],
        params: dict[str, str],
        body: Any,
        caller: Source,
    ) -> Reply:
        if tail:
            _allow(method, "DELETE")
            try:
                self.store.remove_source(record, int(tail[0]) if tail[0].isdigit() else -1)
            except KeyError:
                raise HttpError(404, f"No source link {tail[0]}.") from None
            return Reply(204)
        _allow(method, "GET", "POST")
        if method == "GET":
            return Reply(200, page([render_source(s) for s in record.sources], params))
        rows = []
        for source in sources("sources", _entries(body)):
            link, existed = self.store.add_source(record, source)
            rows.append(
                {
                    "id": link.id,
                    "name": link.name,
                    "source_id": link.source_id,
                    f"{record.otype.name}_id": record.id,
                    "creator_source_id": self.store.source_id(caller.name),
                    "existing": int(existed),
                    "tlp_id": link.tlp_id,
                    "published_at": link.published_at,
                    "created_at": link.created_at,
                }
            )
        return Reply(201, {"data": rows if isinstance(body, list) else rows[0]})

    def _links(
        self, method: str, record: Record, collection: str, params: dict[str, str], body: Any
    ) -> Reply:
        _allow(method, "GET", "POST", "DELETE")
        if method == "DELETE":
            self.store.unlink(record, collection, _entries(body))
            return Reply(204)
        if method == "POST":
            targets = []
            for entry in _entries(body):
                target_id = entry.get("id") if isinstance(entry, dict) else None
                target = (
                    self.store.get(collection, target_id) if isinstance(target_id, int) else None
                )
                if target is None:
                    raise Invalid("id", "The selected id is invalid.")
                targets.append(target)
            made = [(t, self.store.link(record, t)) for t in targets]
            pairs = [(t, p) for t, p in made if p is not None]
        else:
            pairs = self.store.related(record, collection)
        rows = [
            {
                **render_record(self.lookups, other, embeds(params)),
                "pivot": render_pivot(self.lookups, pivot),
            }
            for other, pivot in pairs
        ]
        if method == "POST":
            return Reply(201, {"total": len(rows), "data": rows})
        return Reply(200, page(rows, params))
