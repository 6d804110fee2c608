"""What tests inject and read back: faults for matching requests, and the request log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Container
    from datetime import datetime

FAULT_KINDS = ("status", "delay", "truncate", "cut", "text-plain", "reset")


@dataclass
class Fault:
    """A fault for matching requests: the ``count`` requests after the first ``skip``.

    Kinds: ``status`` (answer ``status``, e.g. 500), ``delay`` (stall ``seconds`` before
    answering), ``truncate`` (announce the whole body, send half, drop the connection),
    ``cut`` (a complete response whose JSON stops half way), ``text-plain`` (a correct body
    labelled ``text/plain``), ``reset`` (close the connection without an answer).
    ``path``: only requests to this path count; a path ending in "/" matches every path
    under it (``/v2/threat/summary/``); None (the default) matches the SIEM paths only.
    """

    kind: str
    count: int = 1
    skip: int = 0
    path: str | None = None
    status: int = 500
    seconds: float = 0.0
    seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")

    def matches(self, path: str, siem_paths: Container[str]) -> bool:
        if self.path is None:
            return path in siem_paths
        if self.path.endswith("/"):
            return path.startswith(self.path)
        return path == self.path

    def take(self, path: str, siem_paths: Container[str]) -> bool:
        """Count a request to ``path``; True when this fault applies to it."""
        if not self.matches(path, siem_paths):
            return False
        self.seen += 1
        return self.skip < self.seen <= self.skip + self.count


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it; ``pool``: the rate-limit pool that counted it (or
    refused it with 429), None for a request no pool saw."""

    path: str
    params: dict[str, list[str]]
    status: int
    at: datetime
    fault: str | None = None
    pool: str | None = None
