"""Fault injection: maintenance mode, 5xx, errors inside 2xx bodies, per-item errors, delays.

Deterministic: a fault counts the requests it matches, or draws from its own seeded RNG; only
a maintenance stretch given in seconds reads a (monotonic) clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

ROUTES = ("consume", "write", "read", "token", "any")
FAULT_KINDS = ("status", "errors", "item-error", "delay")


def route_matches(route: str, method: str, path: str) -> bool:
    """``route``: a class of requests (see ``ROUTES``) or one exact path such as ``/api/token``.

    ``consume``: ``POST …/consume`` and ``…/consume/new``; ``write``: every POST, PUT and
    DELETE except the token's; ``read``: every GET.
    """
    if route.startswith("/"):
        return path == route
    token = path == "/api/token"
    consume = method == "POST" and (path.endswith("/consume") or path.endswith("/consume/new"))
    return {
        "any": True,
        "token": token,
        "consume": consume,
        "read": method == "GET",
        "write": method in ("POST", "PUT", "DELETE") and not token,
    }[route]


@dataclass
class Maintenance:
    """ThreatQ during ``artisan down``: 503 on every route, /api/token included.

    The stretch is the ``requests`` requests after the first ``skip``, or, with ``seconds``,
    the time span starting at the first request after ``skip``.
    """

    requests: int | None = None
    seconds: float | None = None
    skip: int = 0
    seen: int = field(default=0, init=False)
    started: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if (self.requests is None) == (self.seconds is None):
            raise ValueError("Maintenance needs exactly one of requests or seconds")

    def take(self, now: float) -> bool:
        """Count a request arriving at ``now`` (monotonic seconds); True when it gets a 503."""
        self.seen += 1
        if self.seen <= self.skip:
            return False
        if self.requests is not None:
            return self.seen <= self.skip + self.requests
        if self.started is None:
            self.started = now
        return now - self.started < (self.seconds or 0.0)


@dataclass
class Fault:
    """A fault for the requests matching ``route``: the ``count`` after the first ``skip``
    (``count=None``: all of them), or with ``percent`` each one with that chance, drawn from an
    RNG seeded with ``seed``.

    Kinds:
    ``status``: answer ``status`` (500 JSON body, 502/503/504 an HTML proxy page); before the
    call touches the store, or with ``after=True`` once it has (the write happened, the client
    sees a failure). ``errors``: a 2xx whose body carries ``"errors": [message]``; the call is
    not applied (``data`` is empty) unless ``after=True``. ``item-error``: in a create or
    consume call the item whose value/name/title equals ``value`` (any case), or else the item at
    index ``item``, is not stored and comes back as ``{…, "error": message}``; with ``value``
    only calls carrying that value count. ``delay``: sleep ``seconds`` before answering.
    """

    kind: str
    route: str = "consume"
    count: int | None = 1
    skip: int = 0
    percent: float | None = None
    seed: int = 0
    status: int = 500
    after: bool = False
    message: str = "Injected fault (stand-in)."
    value: str | None = None
    item: int = 0
    seconds: float = 0.0
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if not self.route.startswith("/") and self.route not in ROUTES:
            raise ValueError(f"unknown route {self.route!r}; one of {', '.join(ROUTES)} or a path")
        self.rng = random.Random(self.seed)

    def take(self, method: str, path: str, values: list[str]) -> bool:
        """Count a request; True when the fault applies. ``values``: the items' names."""
        if not route_matches(self.route, method, path):
            return False
        if self.value is not None and self.value.casefold() not in values:
            return False
        self.seen += 1
        if self.percent is not None:
            hit = self.rng.random() * 100 < self.percent
        else:
            hit = self.seen > self.skip and (
                self.count is None or self.seen <= self.skip + self.count
            )
        self.fired += hit
        return hit

    def rejects(self, values: list[str]) -> list[int]:
        """The indexes of the items an ``item-error`` hit rejects (``values`` casefolded)."""
        if self.value is None:
            return [self.item] if self.item < len(values) else []
        return [i for i, v in enumerate(values) if v == self.value.casefold()]
