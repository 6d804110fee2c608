"""Rows of the entity streams: an indicator with its attributes, an attribute, a relationship,
and the builder that gathers one record's rows in the order a target needs them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tap_proofpoint_tap.mappers.threatq import entities as e
from tap_proofpoint_tap.mappers.threatq.entities import (
    ATTRIBUTES,
    INDICATORS,
    RELATIONSHIPS,
    End,
    Options,
    Row,
    address,
    entity_id,
    text,
)

if TYPE_CHECKING:
    from collections.abc import Container, Iterator, Mapping

_LOWER = {e.EMAIL_ADDRESS, e.MD5, e.SHA256, e.FQDN}  # types whose value ThreatQ holds in any case


def link(source: End, target: End, skip: Container[str]) -> Iterator[tuple[str, Row]]:
    """The relationship row between two entities (none for an entity and itself)."""
    if not source.id or not target.id or source.id == target.id:
        return
    link_id = entity_id("relationship", source.type, source.id, target.type, target.id)
    if link_id not in skip:
        yield (
            RELATIONSHIPS,
            {
                "id": link_id,
                "source_type": source.type,
                "source_id": source.id,
                "target_type": target.type,
                "target_id": target.id,
                "target_key": target.key,
            },
        )


def indicator(
    indicator_id: str,
    kind: str,
    value: str,
    status: str,
    published: str | None,
    options: Options,
    skip: Container[str],
    attributes: Mapping[str, str | None],
) -> Iterator[tuple[str, Row]]:
    if indicator_id not in skip:
        yield (
            INDICATORS,
            {
                "id": indicator_id,
                "type": kind,
                "value": value,
                "status": status,
                "published_at": published,
                "source": options.source,
            },
        )
    owner = ("indicator", indicator_id, kind, value)
    for name, attribute in attributes.items():
        if attribute:
            yield from attribute_row(owner, name, attribute, options, skip)


def attribute_row(
    owner: tuple[str, str, str | None, str | None],
    name: str,
    value: str,
    options: Options,
    skip: Container[str],
) -> Iterator[tuple[str, Row]]:
    """An attribute of an indicator or a campaign (``owner``: its type and id, and an
    indicator's type and value, which the stream carried before campaigns had attributes)."""
    attribute_id = entity_id("attribute", owner[1], name, value)
    if attribute_id not in skip:
        indicator = owner[0] == "indicator"
        yield (
            ATTRIBUTES,
            {
                "id": attribute_id,
                "object_type": owner[0],
                "object_id": owner[1],
                "indicator_id": owner[1] if indicator else None,
                "indicator_type": owner[2],
                "indicator_value": owner[3],
                "name": name,
                "value": value,
                "source": options.source,
            },
        )


class Rows:
    """One record's rows: entities as they come, relationships after them, each id once."""

    def __init__(self, options: Options, skip: Container[str]) -> None:
        self.options, self.skip = options, skip
        self.entities: list[tuple[str, Row]] = []
        self.links: list[tuple[str, Row]] = []
        self.seen: set[str] = set()

    def __iter__(self) -> Iterator[tuple[str, Row]]:
        yield from self.entities
        yield from self.links

    def add(self, stream: str, row: Row) -> None:
        if row["id"] not in self.skip and row["id"] not in self.seen:
            self.seen.add(row["id"])
            (self.links if stream == e.RELATIONSHIPS else self.entities).append((stream, row))

    def indicator(
        self,
        kind: str,
        raw: object,
        status: str,
        published: str | None,
        attributes: Mapping[str, object] | None = None,
    ) -> End:
        value = address(raw) if kind == e.EMAIL_ADDRESS else text(raw)
        if value and kind in _LOWER:
            value = value.lower()
        if not value:
            return End("indicator", None)
        indicator_id = entity_id("indicator", kind, value)
        named = {k: text(v) for k, v in (attributes or {}).items()}
        for stream, row in indicator(
            indicator_id, kind, value, status, published, self.options, (), named
        ):
            self.add(stream, row)
        return End("indicator", indicator_id)

    def attribute(self, owner: End, name: str, raw: object) -> None:
        """An attribute of a campaign (an indicator's come with it: :meth:`indicator`)."""
        value = text(raw)
        if owner.id and value:
            at = (owner.type, owner.id, None, None)
            for stream, row in attribute_row(at, name, value, self.options, ()):
                self.add(stream, row)

    def named(self, stream: str, kind: str, raw: object) -> End:
        """An adversary (by name), malware or TTP (by value): one per name in any case."""
        value = text(raw)
        if not value:
            return End(kind, None)
        row_id = entity_id(kind, value.casefold())
        field = "name" if stream == e.ADVERSARIES else "value"
        self.add(stream, {"id": row_id, field: value, "source": self.options.source})
        return End(kind, row_id)

    def link(self, source: End, target: End) -> None:
        for stream, row in link(source, target, ()):
            self.add(stream, row)
