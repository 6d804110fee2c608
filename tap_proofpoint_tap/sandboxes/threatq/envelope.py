"""ThreatQ's answer envelopes: ``{"data": …}``, the list envelope with paging and sorting,
filters on fields, ``with=`` embedding, and the error bodies raised by routes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tap_proofpoint_tap.sandboxes.threatq.validate import Invalid

PAGING = frozenset({"limit", "offset", "sort", "with", "normalize", "cursorMark"})
EMBEDDABLE = frozenset({"attributes", "sources", "tags"})
DEFAULT_LIMIT = 500


@dataclass
class Reply:
    """A JSON answer; ``body`` None sends an empty body (204)."""

    status: int
    body: Any = None


class HttpError(Exception):
    """A non-validation failure (404, 405, 413, a non-array consume): ``{"errors": [msg]}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"errors": [message]}


def _int(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit():
        raise Invalid(name, f"The {name} must be a non-negative integer.")
    return int(raw)


def _sort_key(value: Any) -> tuple[Any, ...]:
    if value is None:
        return (1, "", 0)
    if isinstance(value, int | float):
        return (0, "", value)
    return (0, str(value).casefold(), 0)


def page(items: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    """The list envelope: ``sort`` (a field, ``-`` for descending), then ``offset``/``limit``."""
    sort = params.get("sort") or "id"
    key = sort.lstrip("-")
    items = sorted(items, key=lambda d: _sort_key(d.get(key)), reverse=sort.startswith("-"))
    limit, offset = _int(params, "limit", DEFAULT_LIMIT), _int(params, "offset", 0)
    return {
        "total": len(items),
        "data": items[offset : offset + limit],
        "limit": limit,
        "offset": offset,
    }


def matches(row: dict[str, Any], params: dict[str, str]) -> bool:
    """Equality filters on any field, in any case; ``%`` is a SQL LIKE wildcard."""
    for name, wanted in params.items():
        if name in PAGING:
            continue
        value = row.get(name)
        if value is None:
            return False
        pattern = ".*".join(re.escape(part) for part in wanted.split("%"))
        if not re.fullmatch(pattern, str(value), re.IGNORECASE | re.DOTALL):
            return False
    return True


def embeds(params: dict[str, str]) -> set[str]:
    return set(params.get("with", "").split(",")) & EMBEDDABLE
