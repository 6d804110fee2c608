"""Values nested deeper than any consumer can walk, kept as their JSON text.

Proofpoint's events are four levels deep at most, but a field it adds (or a broken server) may
nest a value hundreds of levels deep: valid JSON that Python's recursive functions, the JSON
encoders and most targets cannot walk. :func:`bounded` keeps such a value whole, as its JSON
text from :data:`MAX_DEPTH` levels down; both walk with a stack of their own, never recursion.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

MAX_DEPTH = 32
"""Levels of objects and arrays kept as they are; what is deeper becomes JSON text."""


def depth(value: Any) -> int:
    """How many levels of objects and arrays ``value`` holds (0 for a scalar); a
    :class:`DeepText` counts as deeper than kept."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, DeepText):
            deepest = max(deepest, level + MAX_DEPTH)
        children = _children(item)
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


def bounded(value: Any, max_depth: int = MAX_DEPTH) -> Any:
    """``value`` itself when it is at most ``max_depth`` deep; else a copy in which each
    object or array at that depth is replaced by its JSON text."""
    if depth(value) <= max_depth:
        return value
    return _cut(value, max_depth)


def _cut(value: Any, max_depth: int) -> Any:
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 1)]
    while stack:
        item, parent, slot, level = stack.pop()
        if _children(item) is None:
            parent[slot] = item
        elif level > max_depth:
            parent[slot] = deep_json(item)
        elif isinstance(item, dict):
            copy: dict[Any, Any] = dict.fromkeys(item)
            parent[slot] = copy
            stack.extend((child, copy, key, level + 1) for key, child in item.items())
        else:
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            stack.extend((child, items, index, level + 1) for index, child in enumerate(item))
    return root[0]


def deep_json(value: Any) -> str:
    """Compact JSON text of ``value``, however deep (the stdlib's encoder recurses)."""
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Text):
            out.append(item)
        elif isinstance(item, dict):
            stack.append(_Text("}"))
            for index, (key, child) in enumerate(reversed(item.items())):
                stack.append(child)
                stack.append(
                    _Text(("" if index == len(item) - 1 else ",") + json.dumps(str(key)) + ":")
                )
            stack.append(_Text("{"))
        elif isinstance(item, list):
            stack.append(_Text("]"))
            for index, child in enumerate(reversed(item)):
                stack.append(child)
                if index != len(item) - 1:
                    stack.append(_Text(","))
            stack.append(_Text("["))
        else:
            out.append(_scalar(item))
    return "".join(out)


def _scalar(item: Any) -> str:
    """A number as a JSON number when it is finite (Decimal from the streaming parser too)."""
    if isinstance(item, DeepText):
        return item
    if isinstance(item, Decimal) and item.is_finite():
        return str(item)
    if isinstance(item, float) and not math.isfinite(item):
        return json.dumps(str(item))
    return json.dumps(item if isinstance(item, (str, int, float)) or item is None else str(item))


def built(events: Iterator[tuple[str, Any]], max_depth: int) -> Iterator[Any]:
    """The items of the top-level array that parser ``events`` (ijson's ``basic_parse``)
    describe, each built as :func:`bounded` would keep it: objects and arrays more than
    ``max_depth`` levels down are written as JSON text straight from the events."""
    stack: list[list[Any]] = []  # [container, its current key] per open level below the array
    text: _TextWriter | None = None
    next(events, None)  # the array's start_array
    for kind, data in events:
        event, value = kind, data
        if text is not None:
            text.add(event, value)
            if text.open:
                continue
            event, value, text = "string", text.result(), None  # attached as the text it is
        if event in ("start_map", "start_array"):
            if len(stack) == max_depth:
                text = _TextWriter()
                text.add(event, value)
            else:
                stack.append([{} if event == "start_map" else [], None])
            continue
        if event == "map_key":
            stack[-1][1] = value
            continue
        if event in ("end_map", "end_array"):
            if not stack:  # the array's own end
                return
            value = stack.pop()[0]
        if not stack:
            yield value
        elif isinstance(stack[-1][0], list):
            stack[-1][0].append(value)
        else:
            stack[-1][0][stack[-1][1]] = value


class _TextWriter:
    """JSON text written from parser events, for a value below the depth kept as it is."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.first: list[bool] = []  # per open level: nothing written in it yet
        self.after_key = False

    @property
    def open(self) -> bool:
        return bool(self.first)

    def add(self, event: str, value: Any) -> None:
        if event in ("end_map", "end_array"):
            self.pieces.append("}" if event == "end_map" else "]")
            self.first.pop()
            return
        if event == "map_key":
            self._separate()
            self.pieces.append(json.dumps(value) + ":")
            self.after_key = True
            return
        if self.after_key:
            self.after_key = False
        else:
            self._separate()
        if event in ("start_map", "start_array"):
            self.pieces.append("{" if event == "start_map" else "[")
            self.first.append(True)
        else:
            self.pieces.append(_scalar(value))

    def _separate(self) -> None:
        if self.first:
            if not self.first[-1]:
                self.pieces.append(",")
            self.first[-1] = False

    def result(self) -> DeepText:
        return DeepText("".join(self.pieces))


class DeepText(str):
    """JSON text :func:`built` wrote for a value too deep to keep as it is; :func:`bounded`
    writes it into the text of the value around it as the JSON it is, so a value comes out
    the same whichever parser read it."""

    __slots__ = ()


class _Text(str):
    """A piece of JSON syntax already written, on the stack beside values still to write."""

    __slots__ = ()


def _children(item: Any) -> Any:
    if isinstance(item, dict):
        return item.values()
    if isinstance(item, list):
        return item
    return None
