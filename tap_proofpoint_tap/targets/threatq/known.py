"""What the loader knows of a ThreatQ instance and of the objects a run loads or finds there.

Knowing what an object already holds is what lets a reload add nothing twice: an object this
run created (``fresh``) holds only what the run gave it; any other object's attributes and links
are read before anything is added to it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from tap_proofpoint_tap.mappers.threatq import entities as e

KINDS = {  # object streams → kinds, in the order a load creates them (events last: looked up)
    e.CORPORATE_EMAILS: "corporate_email",
    e.INDICATORS: "indicator",
    e.INCIDENTS: "incident",
    e.CAMPAIGNS: "campaign",
    e.ADVERSARIES: "adversary",
    e.MALWARE: "malware",
    e.TTPS: "ttp",
    e.EVENTS: "event",
}
STREAMS = {kind: stream for stream, kind in KINDS.items()}
NAMES = {"adversary": "name", "event": "title"}  # what names an object; "value" for the others


@dataclass
class Instance:
    """What the loader resolved by name at start: ids differ between ThreatQ instances."""

    collections: dict[str, str]  # object kind (corporate_email, indicator, …) → REST collection
    indicator_types: dict[str, int]  # name, case-folded → id
    statuses: dict[str, int]
    event_types: dict[str, int]
    marks: dict[str, int] = field(default_factory=dict)  # collection → its highest id before
    # this run first wrote into it


@dataclass
class Loaded:
    """A ThreatQ object this run loaded or found, and what it is known to hold."""

    stream: str
    collection: str
    tq_id: int
    # How the object is addressed: value, name or title (type_id), and our source, kept on
    # re-posts.
    item: dict[str, Any]
    new: bool  # created by this run: its status is ours to set
    keys: list[str] = field(default_factory=list)  # the mapper ids that name it
    status_set: bool = False
    ours: bool = False  # already carries an attribute of our source (read from ThreatQ)
    fresh: bool = field(init=False)  # holds only what this run gave it: nothing to read
    attributes: set[tuple[str, str]] | None = None  # None: not read yet
    links: dict[str, set[int]] = field(default_factory=dict)  # other collection → ids known
    stale: set[str] = field(default_factory=set)  # collections to read although fresh

    def __post_init__(self) -> None:
        self.fresh = self.new
        if self.fresh:
            self.attributes = set()

    def knows_links(self, other: str) -> bool:
        return (self.fresh and other not in self.stale) or other in self.links

    def needs_status(self) -> bool:
        """Its status is set when this run created it, or when it carries nothing of ours yet
        (a run that died between the two passes); an analyst's status on our indicator stays."""
        return not self.status_set and (self.new or not self.ours)

    def forget(self, other: str | None = None) -> None:
        """After a write of unknown outcome: what it holds (of ``other``) must be read again."""
        if other is None:
            self.fresh, self.attributes, self.links = False, None, {}
        else:
            self.links.pop(other, None)
            self.stale.add(other)

    def name(self) -> str:
        return f"{self.stream} {self.keys[0] if self.keys else self.tq_id}"


@dataclass
class Context:
    """What one object gets in the context pass."""

    obj: Loaded
    status_id: int | None = None
    attributes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    links: dict[str, set[int]] = field(default_factory=dict)  # other collection → ids

    def item(self) -> dict[str, Any]:
        """The ``consume`` item that adds it: the object by id, and only what it lacks."""
        out: dict[str, Any] = {"id": self.obj.tq_id, **self.obj.item}
        if self.status_id is not None:
            out["status_id"] = self.status_id
        if self.attributes:
            out["attributes"] = list(self.attributes.values())
        for collection, targets in self.links.items():
            out[collection] = [{"id": tq_id} for tq_id in sorted(targets)]
        return out


# Which end carries a link when both or neither are fresh: the one with fewer links to read
# (an incident has a handful, a hot URL indicator thousands). Either way, one pair has one
# carrier, whichever of its ends the mapper named first: the pair is posted once.
CARRIES_FIRST = ("incident", "event", "corporate_email", "adversary", "malware", "ttp", "campaign")


def carrier(source: Loaded, target: Loaded) -> tuple[Loaded, Loaded]:
    """Which end of a link carries it in the context pass, and the other: a fresh object (its
    links are known without a read), else the first by ``CARRIES_FIRST`` and id."""
    if source.fresh != target.fresh:
        return (source, target) if source.fresh else (target, source)
    first, second = sorted((source, target), key=_carries)
    return first, second


def _carries(obj: Loaded) -> tuple[int, str, int]:
    kind = KINDS[obj.stream]
    rank = CARRIES_FIRST.index(kind) if kind in CARRIES_FIRST else len(CARRIES_FIRST)
    return rank, obj.collection, obj.tq_id


def name_of(item: dict[str, Any]) -> str:
    """What names an item: its value, or an adversary's name, or an event's title."""
    return str(next((item[k] for k in ("value", "name", "title") if k in item), ""))


def identity(item: dict[str, Any]) -> tuple[Any, str]:
    """What ThreatQ tells objects apart by: type and value (name, title), in any case."""
    return item.get("type_id"), name_of(item).casefold()


@dataclass
class Held:
    """What one run loaded or found in ThreatQ, shared by its passes."""

    objects: dict[str, Loaded] = field(default_factory=dict)  # by mapper id
    found: dict[tuple[str, int], Loaded] = field(default_factory=dict)  # by collection, id
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def register(self, loaded: Loaded, keys: list[str]) -> Loaded:
        """The object ``loaded`` stands for (the one met before, if any), named by ``keys``."""
        obj = self.found.setdefault((loaded.collection, loaded.tq_id), loaded)
        for key in keys:
            obj.keys.append(key)
            self.objects[key] = obj
        return obj
