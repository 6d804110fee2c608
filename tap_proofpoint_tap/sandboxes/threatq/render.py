"""Stored records as ThreatQ's JSON shows them (threatq-api.md §4.1, §5, §6, §7)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tap_proofpoint_tap.sandboxes.threatq.lookups import Lookups
    from tap_proofpoint_tap.sandboxes.threatq.records import AttributeRow, Pivot, Record, SourceLink

NAMED_BY_CODE = frozenset(
    {"indicators", "events", "adversaries", "attachments", "signatures", "tasks"}
)


def render_source(link: SourceLink) -> dict[str, Any]:
    return {
        "id": link.source_id,
        "name": link.name,
        "source_type": link.source_type,
        "pivot": {
            "id": link.id,
            "tlp_id": link.tlp_id,
            "published_at": link.published_at,
            "created_at": link.created_at,
        },
    }


def render_attribute(record: Record, row: AttributeRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "attribute_id": row.attribute_id,
        "name": row.name,
        "value": row.value,
        f"{record.otype.name}_id": record.id,
        "attribute": {"id": row.attribute_id, "name": row.name},
        "published_at": row.published_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "touched_at": row.touched_at,
        "sources": [render_source(link) for link in row.sources],
    }


def _name(lookups: Lookups, collection: str) -> str:
    otype = lookups.object_type(collection)
    return otype.name if otype else collection


def render_pivot(lookups: Lookups, pivot: Pivot) -> dict[str, Any]:
    return {
        "id": pivot.id,
        "src_object_id": pivot.src[1],
        "src_type": _name(lookups, pivot.src[0]),
        "dest_object_id": pivot.dest[1],
        "dest_type": _name(lookups, pivot.dest[0]),
        "created_at": pivot.created_at,
        "updated_at": pivot.updated_at,
    }


def render_record(
    lookups: Lookups,
    record: Record,
    embed: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The object's own fields; ``embed`` adds ``attributes``, ``sources`` and ``tags``."""
    otype = record.otype
    out: dict[str, Any] = {"id": record.id, **record.fields}
    if otype.collection == "indicators":
        kind = next(t for t in lookups.indicator_types if t["id"] == record.fields["type_id"])
        status = next(s for s in lookups.statuses if s["id"] == record.fields["status_id"])
        out.update(
            type={"id": kind["id"], "name": kind["name"], "class": kind["class"]},
            status={"id": status["id"], "name": status["name"]},
            **{"class": kind["class"]},
            hash=hashlib.md5(record.fields["value"].encode()).hexdigest(),
        )
    elif otype.collection == "events":
        kind = next(t for t in lookups.event_types if t["id"] == record.fields["type_id"])
        out["type"] = {"id": kind["id"], "name": kind["name"]}
        # §5 shows a hash on events without saying of what: here the title and happened_at,
        # so two events with one title have the same hash only if they happened together
        seed = f"{record.fields['title']}|{record.fields.get('happened_at')}"
        out["hash"] = hashlib.md5(seed.encode()).hexdigest()
    elif otype.collection not in NAMED_BY_CODE:
        out.update(
            object_code=otype.name,
            object_id=lookups.object_id(otype),
            object_name=otype.display_name,
            object_name_plural=otype.display_name_plural,
        )
    out.update(
        created_at=record.created_at, updated_at=record.updated_at, touched_at=record.touched_at
    )
    if "attributes" in embed:
        out["attributes"] = [render_attribute(record, row) for row in record.attributes]
    if "sources" in embed:
        out["sources"] = [render_source(link) for link in record.sources]
    if "tags" in embed:
        out["tags"] = [{"name": t} for t in record.tags]
    return out
